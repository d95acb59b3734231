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

// TestClockSkew: certificates issued by a collector whose clock is off by
// hours from an agent's still verify on both sides, as crypto/tls checks
// them (x509 verification at each side's own time): the agent checks the
// collector's CA and server certificate against its clock, the collector
// checks the agent's certificate against the clock that issued it.
func TestClockSkew(t *testing.T) {
	real := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	for _, skew := range []time.Duration{-30 * time.Hour, -3 * time.Hour, -time.Minute, 0, time.Minute, 3 * time.Hour, 30 * time.Hour} {
		// The collector's clock reads real+skew when it makes its CA and
		// starts; the agent's reads real.
		collector := real.Add(skew)
		ca, err := NewCA("skew", collector)
		if err != nil {
			t.Fatal(err)
		}
		der, _, err := ca.ServerCert([]string{"sonevakt"}, 365*24*time.Hour, collector)
		if err != nil {
			t.Fatal(err)
		}
		srv, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca.Cert)
		if _, err := srv.Verify(x509.VerifyOptions{DNSName: "sonevakt", Roots: roots, CurrentTime: real,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("collector clock %v off: the agent refuses the server certificate: %v", skew, err)
		}
		key, err := NewKey()
		if err != nil {
			t.Fatal(err)
		}
		csr, err := CSR(key, "pc")
		if err != nil {
			t.Fatal(err)
		}
		ac, err := ca.SignAgent(csr, "a1", 90*24*time.Hour, collector)
		if err != nil {
			t.Fatal(err)
		}
		// The collector verifies with its clock, minutes later.
		if _, err := ac.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: collector.Add(5 * time.Minute),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("collector clock %v off: it refuses the agent certificate it issued: %v", skew, err)
		}
		// ... and after its clock was corrected.
		if _, err := ac.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: real.Add(5 * time.Minute),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("collector clock %v off, then corrected: it refuses the agent certificate it issued: %v", skew, err)
		}
	}
	// Beyond the backdate the agent refuses, and says why: skew is bounded,
	// not ignored.
	ca, err := NewCA("skew", real.Add(Backdate+time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Cert.Verify(x509.VerifyOptions{Roots: func() *x509.CertPool { p := x509.NewCertPool(); p.AddCert(ca.Cert); return p }(),
		CurrentTime: real}); err == nil {
		t.Error("a CA made by a clock more than Backdate ahead verified")
	}
}
