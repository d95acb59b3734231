package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCAAndAgentCert(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	ca, created, err := LoadOrCreateCA(dir, "test CA", now)
	if err != nil || !created {
		t.Fatalf("LoadOrCreateCA = %v, %v; want created", created, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	again, created, err := LoadOrCreateCA(dir, "test CA", now)
	if err != nil || created || Pin(again.Cert) != Pin(ca.Cert) {
		t.Fatalf("reload: created=%v err=%v pin %s vs %s", created, err, Pin(again.Cert), Pin(ca.Cert))
	}

	key, _ := NewKey()
	csr, err := CSR(key, "ignored")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.SignAgent(csr, "a1b2", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := AgentID(cert); err != nil || id != "a1b2" {
		t.Errorf("AgentID = %q, %v; want a1b2", id, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("agent cert does not verify as client: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("agent cert verifies as a server certificate; it must not")
	}
	// A tampered CSR is refused.
	bad := append([]byte(nil), csr...)
	bad[len(bad)-3] ^= 0xff
	if _, err := ca.SignAgent(bad, "x", time.Hour, now); err == nil {
		t.Error("SignAgent accepted a CSR with a broken signature")
	}
}

func TestLoadOrCreateCAHalf(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateCA(dir, "x", time.Now()); err == nil {
		t.Error("LoadOrCreateCA with ca.crt but no ca.key succeeded")
	}
}
