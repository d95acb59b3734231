package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/collector/internal/enroll"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// harness is a collector's agent listener on a real UDP socket with a real
// SQLite store.
type harness struct {
	tb    testing.TB
	ca    *pki.CA
	st    *sqlstore.DB
	auth  *enroll.Authority
	srv   *Server
	addr  string
	dbDir string
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	dir := tb.TempDir()
	ca, err := pki.NewCA("test CA", time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "c.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	auth := enroll.New(ca, st, enroll.Options{})
	conf, err := auth.ServerTLS(nil)
	if err != nil {
		tb.Fatal(err)
	}
	srv := New(Config{Store: st, Authority: auth, TLS: conf})
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	return &harness{tb: tb, ca: ca, st: st, auth: auth, srv: srv, addr: srv.Addr().String(), dbDir: dir}
}

// agentTLS enrolls an agent directly in the store and returns its client config.
func (h *harness) agentTLS(id string) *tls.Config {
	h.tb.Helper()
	key, _ := pki.NewKey()
	csr, _ := pki.CSR(key, id)
	cert, err := h.ca.SignAgent(csr, id, time.Hour, time.Now())
	if err != nil {
		h.tb.Fatal(err)
	}
	if err := h.st.CreateAgent(context.Background(), model.Agent{ID: id, Fingerprint: fmt.Sprintf("%064x", len(id)), Hostname: id, EnrolledAt: time.Now()}); err != nil {
		h.tb.Fatal(err)
	}
	conf := h.serverTLS()
	conf.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
	return conf
}

// serverTLS verifies the collector, presents no client certificate.
func (h *harness) serverTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(h.ca.Cert)
	return &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, ServerName: wire.ServerName, RootCAs: pool}
}

func (h *harness) dial(conf *tls.Config) *quic.Conn {
	h.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, h.addr, conf, QUICConfig())
	if err != nil {
		h.tb.Fatal(err)
	}
	h.tb.Cleanup(func() { c.CloseWithError(0, "") })
	return c
}

// exchange writes one frame on a new stream and reads the answer into v.
func exchange(c *quic.Conn, t wire.FrameType, req any, want wire.FrameType, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	if err := wire.WriteFrame(st, t, req); err != nil {
		return err
	}
	st.Close()
	return wire.ReadExpect(st, want, v)
}

func records(first, n int) []wire.Record {
	out := make([]wire.Record, n)
	for i := range out {
		r, _ := wire.NewRecord(wire.KindHealth, time.Unix(1700000000, int64(i)), wire.Health{AgentVersion: "t", RSSBytes: uint64(i)})
		r.Seq = uint64(first + i)
		out[i] = r
	}
	return out
}

func TestBatchAckedAndIdempotent(t *testing.T) {
	h := newHarness(t)
	c := h.dial(h.agentTLS("agent1"))
	var ack wire.Ack
	if err := exchange(c, wire.FrameBatch, wire.Batch{Records: records(1, 10)}, wire.FrameAck, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.MaxSeq != 10 || ack.Stored != 10 {
		t.Errorf("first ack = %+v, want max 10 stored 10", ack)
	}
	// Resent with an overlap: acked to the end, only the new ones stored.
	if err := exchange(c, wire.FrameBatch, wire.Batch{Records: records(6, 10)}, wire.FrameAck, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.MaxSeq != 15 || ack.Stored != 5 {
		t.Errorf("overlapping ack = %+v, want max 15 stored 5", ack)
	}
	hs, err := h.st.GetHost(context.Background(), "agent1")
	if err != nil || hs.Records != 15 || hs.MaxSeq != 15 {
		t.Errorf("host = %+v, %v; want 15 records", hs, err)
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t)
	good := h.dial(h.agentTLS("agent1"))

	// A batch frame that announces more than the limit: refused before reading.
	st, err := good.OpenStreamSync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{byte(wire.FrameBatch), 0x01, 0x00, 0x00, 0x01} // 16 MiB + 1
	if _, err := st.Write(hdr); err != nil {
		t.Fatal(err)
	}
	var ack wire.Ack
	if err := wire.ReadExpect(st, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeBatchTooLarge {
		t.Errorf("oversized batch: %v, want batch too large", err)
	}

	// Garbage payload.
	st, _ = good.OpenStreamSync(context.Background())
	_, _ = st.Write([]byte{byte(wire.FrameBatch), 0, 0, 0, 3, 0xff, 0xff, 0xff})
	st.Close()
	if err := wire.ReadExpect(st, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeMalformed {
		t.Errorf("garbage batch: %v, want malformed", err)
	}

	// Not increasing.
	bad := records(1, 3)
	bad[2].Seq = 1
	if err := exchange(good, wire.FrameBatch, wire.Batch{Records: bad}, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeMalformed {
		t.Errorf("non-increasing batch: %v, want malformed", err)
	}

	// No client certificate: only enrollment is served.
	anon := h.dial(h.serverTLS())
	if err := exchange(anon, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeUnauthenticated {
		t.Errorf("batch without certificate: %v, want unauthenticated", err)
	}

	// Nothing refused reached the store; the connection still works.
	if err := exchange(good, wire.FrameBatch, wire.Batch{Records: records(1, 2)}, wire.FrameAck, &ack); err != nil || ack.Stored != 2 {
		t.Errorf("good batch after refusals: %+v, %v", ack, err)
	}
}

func TestRevokedRefusedWithCode(t *testing.T) {
	h := newHarness(t)
	conf := h.agentTLS("agent1")
	if err := h.auth.Revoke(context.Background(), "agent1", "test"); err != nil {
		t.Fatal(err)
	}
	c := h.dial(conf)
	var ack wire.Ack
	err := exchange(c, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack)
	var ae *quic.ApplicationError
	if !errors.As(err, &ae) || wire.Code(ae.ErrorCode) != wire.CodeRevoked {
		t.Errorf("revoked agent: %v, want connection closed with code %#x", err, uint64(wire.CodeRevoked))
	}
}

func TestForeignCertificateRefused(t *testing.T) {
	h := newHarness(t)
	other, _ := pki.NewCA("other", time.Now())
	key, _ := pki.NewKey()
	csr, _ := pki.CSR(key, "x")
	cert, _ := other.SignAgent(csr, "agent1", time.Hour, time.Now())
	conf := h.serverTLS()
	// Force the certificate onto the wire: with Certificates, crypto/tls would
	// not send one that the server's CA list does not name.
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := quic.DialAddr(ctx, h.addr, conf, QUICConfig())
	if err == nil {
		// TLS 1.3: the client may finish before the server rejects its certificate.
		var ack wire.Ack
		err = exchange(c, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack)
	}
	var te *quic.TransportError
	if !errors.As(err, &te) {
		t.Errorf("foreign certificate: %v, want a TLS refusal", err)
	}
}

func TestEnrollOverQUIC(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	tok, _, err := h.auth.CreateToken(ctx, time.Hour, 1, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.CSR(key, "x")
	c := h.dial(h.serverTLS())
	req := wire.EnrollRequest{Version: wire.Version, TokenID: tok.ID, Secret: tok.Secret, CSR: csr, Fingerprint: fmt.Sprintf("%064d", 1), Hostname: "h1"}
	var resp wire.EnrollResponse
	if err := exchange(c, wire.FrameEnrollRequest, req, wire.FrameEnrollResponse, &resp); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(resp.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := pki.AgentID(cert); id != resp.AgentID {
		t.Errorf("certificate names %q, response %q", id, resp.AgentID)
	}
	if err := exchange(c, wire.FrameEnrollRequest, req, wire.FrameEnrollResponse, &resp); wire.CodeOf(err) != wire.CodeTokenUsedUp {
		t.Errorf("second use: %v, want token used up", err)
	}
	// The new identity can send batches, and renew.
	conf := h.serverTLS()
	conf.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
	mc := h.dial(conf)
	var ack wire.Ack
	if err := exchange(mc, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack); err != nil {
		t.Fatal(err)
	}
	key2, _ := pki.NewKey()
	csr2, _ := pki.CSR(key2, "x")
	var rr wire.RenewResponse
	if err := exchange(mc, wire.FrameRenewRequest, wire.RenewRequest{CSR: csr2}, wire.FrameRenewResponse, &rr); err != nil {
		t.Fatal(err)
	}
	nc, _ := x509.ParseCertificate(rr.Cert)
	if nc == nil || !pki.PublicKeysEqual(nc.PublicKey, key2.Public()) {
		t.Error("renewed certificate is not for the new key")
	}
}

func TestEnrollRateLimited(t *testing.T) {
	h := newHarness(t)
	c := h.dial(h.serverTLS())
	var resp wire.EnrollResponse
	var last error
	for i := 0; i < 30; i++ {
		req := wire.EnrollRequest{Version: wire.Version, TokenID: "0123456789abcdef", Secret: "nope", Fingerprint: fmt.Sprintf("%064d", 1)}
		last = exchange(c, wire.FrameEnrollRequest, req, wire.FrameEnrollResponse, &resp)
		if wire.CodeOf(last) == wire.CodeRateLimited {
			if i < 5 {
				t.Errorf("rate limited after only %d failures", i)
			}
			return
		}
		if wire.CodeOf(last) != wire.CodeTokenInvalid {
			t.Fatalf("attempt %d: %v, want token invalid", i, last)
		}
	}
	t.Errorf("30 failed attempts from one address never rate limited; last %v", last)
}
