package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/transport"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// dialT connects to the harness over the named transport.
func (h *harness) dialT(conf *tls.Config, tr string) (transport.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var c transport.Conn
	var err error
	if tr == transport.QUIC {
		c, err = transport.DialQUIC(ctx, h.addr, conf, QUICConfig())
	} else {
		c, err = transport.DialTCP(ctx, h.addr, conf, transport.MuxOptions{})
	}
	if err == nil {
		h.tb.Cleanup(func() { c.CloseWithError(0, "") })
	}
	return c, err
}

func (h *harness) mustDialT(conf *tls.Config, tr string) transport.Conn {
	h.tb.Helper()
	c, err := h.dialT(conf, tr)
	if err != nil {
		h.tb.Fatal(err)
	}
	return c
}

// exchangeT writes one frame on a new stream and reads the answer into v.
func exchangeT(c transport.Conn, t wire.FrameType, req any, want wire.FrameType, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.OpenStream(ctx)
	if err != nil {
		return err
	}
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.WriteFrame(st, t, req); err != nil {
		return err
	}
	st.Close()
	return wire.ReadExpect(st, want, v)
}

func eachTransport(t *testing.T, f func(t *testing.T, tr string)) {
	for _, tr := range []string{transport.QUIC, transport.TCP} {
		t.Run(tr, func(t *testing.T) { f(t, tr) })
	}
}

// TestSamePortBothTransports: the listener binds one port number on UDP and
// TCP.
func TestSamePortBothTransports(t *testing.T) {
	h := newHarness(t)
	u, tc := h.srv.Addr().(*net.UDPAddr), h.srv.TCPAddr().(*net.TCPAddr)
	if u.Port != tc.Port || u.Port == 0 {
		t.Errorf("udp %v, tcp %v: want one port", u, tc)
	}
}

// TestIngestEitherTransport: batches are acked and stored once, refusals carry
// the same codes, enrollment and renewal work, over QUIC and over TCP alike.
func TestIngestEitherTransport(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr string) {
		h := newHarness(t)
		good := h.mustDialT(h.agentTLS("agent1"), tr)
		var ack wire.Ack
		if err := exchangeT(good, wire.FrameBatch, wire.Batch{Records: records(1, 10)}, wire.FrameAck, &ack); err != nil || ack.MaxSeq != 10 || ack.Stored != 10 {
			t.Fatalf("first batch: %+v, %v", ack, err)
		}
		if err := exchangeT(good, wire.FrameBatch, wire.Batch{Records: records(6, 10)}, wire.FrameAck, &ack); err != nil || ack.MaxSeq != 15 || ack.Stored != 5 {
			t.Errorf("overlapping batch: %+v, %v; want max 15 stored 5", ack, err)
		}

		// Oversized announcement: refused before the payload is read.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := good.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_ = st.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = st.Write([]byte{byte(wire.FrameBatch), 0x01, 0x00, 0x00, 0x01})
		if err := wire.ReadExpect(st, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeBatchTooLarge {
			t.Errorf("oversized batch: %v, want batch too large", err)
		}
		// Garbage and non-increasing.
		st, _ = good.OpenStream(ctx)
		_ = st.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = st.Write([]byte{byte(wire.FrameBatch), 0, 0, 0, 3, 0xff, 0xff, 0xff})
		st.Close()
		if err := wire.ReadExpect(st, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeMalformed {
			t.Errorf("garbage batch: %v, want malformed", err)
		}
		bad := records(20, 3)
		bad[2].Seq = 20
		if err := exchangeT(good, wire.FrameBatch, wire.Batch{Records: bad}, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeMalformed {
			t.Errorf("non-increasing batch: %v, want malformed", err)
		}
		// No certificate: only enrollment.
		anon := h.mustDialT(h.serverTLS(), tr)
		if err := exchangeT(anon, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeUnauthenticated {
			t.Errorf("batch without certificate: %v, want unauthenticated", err)
		}
		tok, _, err := h.auth.CreateToken(ctx, time.Hour, 1, "test")
		if err != nil {
			t.Fatal(err)
		}
		key, _ := pki.NewKey()
		csr, _ := pki.CSR(key, "x")
		req := wire.EnrollRequest{Version: wire.Version, TokenID: tok.ID, Secret: tok.Secret, CSR: csr, Fingerprint: fmt.Sprintf("%064d", 1), Hostname: "h1"}
		var resp wire.EnrollResponse
		if err := exchangeT(anon, wire.FrameEnrollRequest, req, wire.FrameEnrollResponse, &resp); err != nil {
			t.Fatalf("enroll: %v", err)
		}
		if err := exchangeT(anon, wire.FrameEnrollRequest, req, wire.FrameEnrollResponse, &resp); wire.CodeOf(err) != wire.CodeTokenUsedUp {
			t.Errorf("second use: %v, want token used up", err)
		}
		cert, _ := x509.ParseCertificate(resp.Cert)
		conf := h.serverTLS()
		conf.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
		mc := h.mustDialT(conf, tr)
		if err := exchangeT(mc, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack); err != nil || ack.Stored != 1 {
			t.Errorf("batch of the new agent: %+v, %v", ack, err)
		}
		key2, _ := pki.NewKey()
		csr2, _ := pki.CSR(key2, "x")
		var rr wire.RenewResponse
		if err := exchangeT(mc, wire.FrameRenewRequest, wire.RenewRequest{CSR: csr2}, wire.FrameRenewResponse, &rr); err != nil {
			t.Errorf("renew: %v", err)
		}

		hs, err := h.st.GetHost(context.Background(), "agent1")
		if err != nil || hs.Records != 15 || hs.MaxSeq != 15 {
			t.Errorf("host = %+v, %v; want 15 records", hs, err)
		}

		// Revocation ends the live connection with its code.
		if err := h.auth.Revoke(ctx, "agent1", "test"); err != nil {
			t.Fatal(err)
		}
		err = exchangeT(good, wire.FrameBatch, wire.Batch{Records: records(30, 1)}, wire.FrameAck, &ack)
		if anyCode(err) != wire.CodeRevoked {
			t.Errorf("batch after revocation: %v, want revoked", err)
		}
		select {
		case <-good.Context().Done():
		case <-time.After(10 * time.Second):
			t.Fatal("connection of a revoked agent still open")
		}
		if code, _, conn, ok := transport.RemoteCode(context.Cause(good.Context())); !ok || !conn || code != wire.CodeRevoked {
			t.Errorf("connection end %v, want closed with revoked", context.Cause(good.Context()))
		}
		// A new connection of the revoked agent is closed at once with the code.
		again := h.mustDialT(h.agentTLSFor("agent1", tr), tr)
		err = exchangeT(again, wire.FrameBatch, wire.Batch{Records: records(30, 1)}, wire.FrameAck, &ack)
		if code, _, conn, ok := transport.RemoteCode(err); !ok || !conn || code != wire.CodeRevoked {
			t.Errorf("revoked agent reconnecting: %v, want the connection closed with revoked", err)
		}
	})
}

// anyCode is the code of an error frame, or else of a connection close or
// stream reset, whichever reached the client first.
func anyCode(err error) wire.Code {
	if code, _, _, ok := transport.RemoteCode(err); ok {
		return code
	}
	return wire.CodeOf(err)
}

// agentTLSFor is a client configuration with a fresh certificate for an agent
// already in the store.
func (h *harness) agentTLSFor(id, _ string) *tls.Config {
	h.tb.Helper()
	key, _ := pki.NewKey()
	csr, _ := pki.CSR(key, id)
	cert, err := h.ca.SignAgent(csr, id, time.Hour, time.Now())
	if err != nil {
		h.tb.Fatal(err)
	}
	conf := h.serverTLS()
	conf.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}}
	return conf
}

// TestForeignCertificateEitherTransport: a certificate from another CA is
// refused in the TLS handshake over both transports.
func TestForeignCertificateEitherTransport(t *testing.T) {
	eachTransport(t, func(t *testing.T, tr string) {
		h := newHarness(t)
		other, _ := pki.NewCA("other", time.Now())
		key, _ := pki.NewKey()
		csr, _ := pki.CSR(key, "x")
		cert, _ := other.SignAgent(csr, "agent1", time.Hour, time.Now())
		conf := h.serverTLS()
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}, nil
		}
		c, err := h.dialT(conf, tr)
		if err == nil {
			// TLS 1.3: the client may finish before the server rejects it.
			var ack wire.Ack
			err = exchangeT(c, wire.FrameBatch, wire.Batch{Records: records(1, 1)}, wire.FrameAck, &ack)
		}
		if err == nil || wire.CodeOf(err) == wire.CodeOK {
			t.Fatalf("foreign certificate accepted")
		}
		if hs, herr := h.st.GetHost(context.Background(), "agent1"); herr == nil && hs.Records > 0 {
			t.Errorf("foreign certificate stored records: %+v", hs)
		}
		t.Logf("refused: %v", err)
	})
}

// TestMaxConnsPerAgent: an agent's connections beyond the limit close its
// oldest, over either transport.
func TestMaxConnsPerAgent(t *testing.T) {
	h := newHarness(t)
	conf := h.agentTLS("agent1")
	var conns []transport.Conn
	for i := 0; i < 5; i++ {
		tr := transport.QUIC
		if i%2 == 1 {
			tr = transport.TCP
		}
		c := h.mustDialT(conf, tr)
		var ack wire.Ack
		// A batch makes sure the collector registered the connection.
		if err := exchangeT(c, wire.FrameBatch, wire.Batch{Records: records(i+1, 1)}, wire.FrameAck, &ack); err != nil {
			t.Fatalf("connection %d (%s): %v", i, tr, err)
		}
		conns = append(conns, c)
	}
	select {
	case <-conns[0].Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the oldest of 5 connections of one agent is still open; the limit is 4")
	}
	for i, c := range conns[1:] {
		if c.Context().Err() != nil {
			t.Errorf("connection %d closed: %v", i+1, context.Cause(c.Context()))
		}
	}
}

// BenchmarkIngestTransports sends batches of 100 health records with mTLS
// into SQLite from 10 concurrent agent connections over QUIC and over the
// TLS/TCP fallback, and reports records/s and the p99 time to the ack.
func BenchmarkIngestTransports(b *testing.B) {
	for _, tr := range []string{transport.QUIC, transport.TCP} {
		b.Run(tr, func(b *testing.B) {
			h := newHarness(b)
			const batch, conns = 100, 10
			clients := make([]transport.Conn, conns)
			for i := range clients {
				clients[i] = h.mustDialT(h.agentTLS(fmt.Sprintf("bench%03d", i)), tr)
			}
			var next atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var seq int
					var mine []time.Duration
					for next.Add(1) <= int64(b.N) {
						recs := records(seq+1, batch)
						seq += batch
						t0 := time.Now()
						var ack wire.Ack
						if err := exchangeT(c, wire.FrameBatch, wire.Batch{Records: recs}, wire.FrameAck, &ack); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(len(lat)*batch)/el.Seconds(), "records/s")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ack_ms")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}
