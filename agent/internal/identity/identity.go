// Package identity owns the agent's identity on disk: its private key, its
// certificate whose URI SAN names the agent id, the collector's CA and the pin
// it was enrolled with, and the hardware fingerprint sent at enrollment. Key and
// identity files are 0600 in a 0700 folder.
package identity

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// ErrNotEnrolled is returned by Load when the data dir holds no identity.
var ErrNotEnrolled = errors.New("agent is not enrolled; run 'sonevakt-agent enroll' first")

const (
	dirName  = "identity"
	keyFile  = "agent.key"
	certFile = "agent.crt"
	caFile   = "ca.crt"
	metaFile = "identity.json"
)

// Identity is an enrolled agent's identity. Its certificate may be replaced at
// run time by renewal; TLSConfig always presents the current one.
type Identity struct {
	AgentID   string
	Collector string // HOST:PORT the agent enrolled with
	Pin       string // CA pin from the enrollment token
	CA        *x509.Certificate
	dir       string

	mu   sync.RWMutex
	key  crypto.Signer
	cert *x509.Certificate
}

type meta struct {
	AgentID    string    `json:"agent_id"`
	Collector  string    `json:"collector"`
	Pin        string    `json:"ca_pin"`
	EnrolledAt time.Time `json:"enrolled_at"`
}

// Dir returns the identity folder inside a data dir.
func Dir(dataDir string) string { return filepath.Join(dataDir, dirName) }

// New assembles an identity from an enrollment's results and checks that they
// belong together: the certificate is for key, chains to ca, names agentID, and
// ca matches the pin.
func New(dataDir, collector, pin, agentID string, key crypto.Signer, cert, ca *x509.Certificate) (*Identity, error) {
	if got := pki.Pin(ca); got != pin {
		return nil, fmt.Errorf("collector CA pin is %s, token pins %s", got, pin)
	}
	if !pki.PublicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("certificate is not for this agent's key")
	}
	if id, err := pki.AgentID(cert); err != nil || id != agentID {
		return nil, fmt.Errorf("certificate names agent %q, response says %q", id, agentID)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("certificate does not chain to the collector CA: %w", err)
	}
	return &Identity{AgentID: agentID, Collector: collector, Pin: pin, CA: ca, dir: Dir(dataDir), key: key, cert: cert}, nil
}

// Save writes the identity to its folder, key and metadata 0600.
func (id *Identity) Save() error {
	if err := os.MkdirAll(id.dir, 0o700); err != nil {
		return err
	}
	id.mu.RLock()
	key, cert := id.key, id.cert
	id.mu.RUnlock()
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	m, _ := json.MarshalIndent(meta{AgentID: id.AgentID, Collector: id.Collector, Pin: id.Pin, EnrolledAt: time.Now().UTC()}, "", "  ")
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{caFile, pki.EncodeCert(id.CA.Raw), 0o644},
		{keyFile, keyPEM, 0o600},
		{certFile, pki.EncodeCert(cert.Raw), 0o644},
		{metaFile, append(m, '\n'), 0o600},
	} {
		if err := pki.WriteFile(filepath.Join(id.dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("save identity: %w", err)
		}
	}
	return nil
}

// Load reads the identity from a data dir.
func Load(dataDir string) (*Identity, error) {
	dir := Dir(dataDir)
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, metaFile), err)
	}
	key, err := pki.LoadKey(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	cert, err := pki.LoadCert(filepath.Join(dir, certFile))
	if err != nil {
		return nil, err
	}
	ca, err := pki.LoadCert(filepath.Join(dir, caFile))
	if err != nil {
		return nil, err
	}
	id, err := New(dataDir, m.Collector, m.Pin, m.AgentID, key, cert, ca)
	if err != nil {
		return nil, fmt.Errorf("identity in %s: %w", dir, err)
	}
	return id, nil
}

// Certificate returns the current certificate.
func (id *Identity) Certificate() *x509.Certificate {
	id.mu.RLock()
	defer id.mu.RUnlock()
	return id.cert
}

// Replace swaps in a renewed key and certificate and saves them.
func (id *Identity) Replace(key crypto.Signer, cert *x509.Certificate) error {
	if !pki.PublicKeysEqual(cert.PublicKey, key.Public()) {
		return errors.New("renewed certificate is not for the new key")
	}
	if got, err := pki.AgentID(cert); err != nil || got != id.AgentID {
		return fmt.Errorf("renewed certificate names agent %q, want %q", got, id.AgentID)
	}
	id.mu.Lock()
	id.key, id.cert = key, cert
	id.mu.Unlock()
	return id.Save()
}

// NeedsRenewal reports whether the certificate has lived past the given fraction
// of its life (DESIGN: two thirds).
func (id *Identity) NeedsRenewal(now time.Time, fraction float64) bool {
	c := id.Certificate()
	life := c.NotAfter.Sub(c.NotBefore)
	return now.After(c.NotBefore.Add(time.Duration(float64(life) * fraction)))
}

// TLSConfig returns the client configuration for the collector: TLS 1.3, the
// collector verified against the enrolled CA and wire.ServerName, the agent's
// current certificate presented.
func (id *Identity) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(id.CA)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{wire.ALPN},
		ServerName: wire.ServerName,
		RootCAs:    pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			id.mu.RLock()
			defer id.mu.RUnlock()
			return &tls.Certificate{Certificate: [][]byte{id.cert.Raw}, PrivateKey: id.key, Leaf: id.cert}, nil
		},
	}
}
