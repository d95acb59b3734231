// Package evidence makes the collector's audit evidence trustworthy for an
// auditor (S8, S11): the hash-chained audit log and its signed checkpoints,
// the evidence bundle for a period (one zip with a signed manifest), and its
// offline verification, which needs only the bundle and the collector's
// public key.
package evidence

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeyFile is the evidence signing key's file name in the collector's data
// dir: an Ed25519 private key, PKCS#8 in PEM ("PRIVATE KEY"), mode 0600.
const KeyFile = "evidence.key"

// Fingerprint names a public key: SHA-256 of its 32 raw bytes, lower-case hex.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// LoadOrCreateKey reads the evidence key from dir, creating it (mode 0600)
// on first use; created says whether this call made it. Two processes
// creating it at once end up with one key: the file appears whole or not at
// all (a hard link of a finished temporary file), and the loser reads the
// winner's.
func LoadOrCreateKey(dir string) (key ed25519.PrivateKey, created bool, err error) {
	path := filepath.Join(dir, KeyFile)
	if k, err := readKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("evidence key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("evidence key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".evidence-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("evidence key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		tmp.Close()
		return nil, false, fmt.Errorf("evidence key: %w", err)
	}
	werr := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := errors.Join(werr, tmp.Sync(), tmp.Close()); err != nil {
		return nil, false, fmt.Errorf("evidence key %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process was first
			k, err := readKey(path)
			return k, false, err
		}
		return nil, false, fmt.Errorf("evidence key %s: %w", path, err)
	}
	return priv, true, nil
}

// readKey reads a PKCS#8 PEM Ed25519 private key.
func readKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evidence key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("evidence key %s: not a PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("evidence key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("evidence key %s: %T, want an Ed25519 key", path, k)
	}
	return ek, nil
}

// PublicKeyPEM encodes a public key as PEM "PUBLIC KEY" (PKIX), the form
// `sonevakt-collector evidence pubkey` prints and `evidence verify --pubkey`
// reads.
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil { // cannot happen for a 32-byte Ed25519 key
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKeyPEM reads what PublicKeyPEM writes.
func ParsePublicKeyPEM(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM \"PUBLIC KEY\" block")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T, want an Ed25519 public key", k)
	}
	return pub, nil
}
