package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// peer is a minimal collector speaking pkg/wire over real QUIC with mTLS: it
// sends a policy, acks batches, and refuses for good any batch holding a
// poisoned sequence number.
type peer struct {
	addr   string
	poison uint64
	mu     sync.Mutex
	stored map[uint64]bool
	seen   map[uint64]int // times each seq arrived
	acks   int
	// hold, when set, blocks every batch holding an inventory record until
	// it is closed (a slow bulk batch).
	hold chan struct{}
}

func newPeer(t *testing.T, ca *pki.CA, poison uint64) *peer {
	t.Helper()
	der, key, err := ca.ServerCert([]string{wire.ServerName}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	conf := &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN},
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool,
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", conf, quicConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{addr: ln.Addr().String(), poison: poison, stored: map[uint64]bool{}, seen: map[uint64]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go p.serve(ctx, c)
		}
	}()
	return p
}

func (p *peer) serve(ctx context.Context, c *quic.Conn) {
	for {
		st, err := c.AcceptStream(ctx)
		if err != nil {
			return
		}
		go func() {
			t, payload, err := wire.ReadFrame(st)
			if err != nil {
				return
			}
			switch t {
			case wire.FrameHello:
				_ = wire.WriteFrame(st, wire.FramePolicy, wire.Policy{Version: 7})
				_, _ = io.Copy(io.Discard, st)
			case wire.FrameBatch:
				defer st.Close()
				var b wire.Batch
				if err := wire.DecodePayload(t, payload, &b); err != nil {
					_ = wire.WriteError(st, &wire.Error{Code: wire.CodeMalformed})
					return
				}
				for _, r := range b.Records {
					if r.Seq == p.poison {
						_ = wire.WriteError(st, wire.Errorf(wire.CodeMalformed, "record %d is poisoned", r.Seq))
						return
					}
				}
				for _, r := range b.Records {
					if r.Kind == wire.KindInventory && p.hold != nil {
						<-p.hold
						break
					}
				}
				p.mu.Lock()
				for _, r := range b.Records {
					p.stored[r.Seq] = true
					p.seen[r.Seq]++
				}
				p.acks++
				p.mu.Unlock()
				_ = wire.WriteFrame(st, wire.FrameAck, wire.Ack{MaxSeq: b.Records[len(b.Records)-1].Seq, InventoryHash: "h"})
			}
		}()
	}
}

func enrolled(t *testing.T, ca *pki.CA, addr string) *identity.Identity {
	t.Helper()
	key, _ := pki.NewKey()
	csr, _ := pki.CSR(key, "x")
	cert, err := ca.SignAgent(csr, "agent1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.New(t.TempDir(), addr, pki.Pin(ca.Cert), "agent1", key, cert, ca.Cert)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPoisonedRecordSkipped: a record the collector refuses for good is narrowed
// down and skipped; every other record is delivered and the spool drains.
func TestPoisonedRecordSkipped(t *testing.T) {
	ca, _ := pki.NewCA("test", time.Now())
	p := newPeer(t, ca, 7)
	sp, err := spool.Open(t.TempDir(), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i := 0; i < 20; i++ {
		r, _ := wire.NewRecord(wire.KindHealth, time.Now(), wire.Health{RSSBytes: uint64(i)})
		if _, err := sp.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var policy wire.Policy
	var lastAck wire.Ack
	c := New(Config{
		Identity: enrolled(t, ca, p.addr), Spool: sp, BatchRecords: 8, MinBackoff: 10 * time.Millisecond,
		OnPolicy: func(pol wire.Policy) error { mu.Lock(); policy = pol; mu.Unlock(); return nil },
		OnAck:    func(a wire.Ack) { mu.Lock(); lastAck = a; mu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for sp.Stats().Committed < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if st := sp.Stats(); st.Committed != 20 || st.Records != 0 {
		t.Fatalf("spool after run: %+v, want all 20 committed", st)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for seq := uint64(1); seq <= 20; seq++ {
		if p.stored[seq] == (seq == 7) {
			t.Errorf("seq %d stored=%v", seq, p.stored[seq])
		}
	}
	if got := c.Stats().Refused; got != 1 {
		t.Errorf("Refused = %d, want 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if policy.Version != 7 || lastAck.InventoryHash != "h" {
		t.Errorf("policy %+v, last ack %+v: want policy 7 and acks passed on", policy, lastAck)
	}
}

// TestDiscoverCAWrongPin: a collector whose CA does not match the token's pin
// is refused before anything is sent, naming both pins.
func TestDiscoverCAWrongPin(t *testing.T) {
	ca, _ := pki.NewCA("test", time.Now())
	p := newPeer(t, ca, 0)
	other, _ := pki.NewCA("other", time.Now())
	_, err := discoverCA(context.Background(), p.addr, pki.Pin(other.Cert))
	if err == nil || !strings.Contains(err.Error(), pki.Pin(other.Cert)) || !strings.Contains(err.Error(), pki.Pin(ca.Cert)) {
		t.Errorf("discoverCA with a foreign pin = %v, want an error naming both pins", err)
	}
	got, err := discoverCA(context.Background(), p.addr, pki.Pin(ca.Cert))
	if err != nil || !got.Equal(ca.Cert) {
		t.Errorf("discoverCA with the right pin = %v, %v", got, err)
	}
}

// TestExpressOvertakesBulk: a media record goes out at once on its own stream
// while a bulk batch is still waiting for its ack; the spool commits it only
// with the bulk lane, in order, so the collector sees it twice and loses
// nothing.
func TestExpressOvertakesBulk(t *testing.T) {
	ca, _ := pki.NewCA("test", time.Now())
	p := newPeer(t, ca, 0)
	p.hold = make(chan struct{})
	sp, err := spool.Open(t.TempDir(), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	inv, _ := wire.NewRecord(wire.KindInventory, time.Now(), wire.Inventory{Hash: "h"})
	if _, err := sp.Append(inv); err != nil {
		t.Fatal(err)
	}
	c := New(Config{Identity: enrolled(t, ca, p.addr), Spool: sp, MinBackoff: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the bulk batch to be leased", func() bool { return c.Stats().Connected && sp.Stats().Leased > 0 })
	media, _ := wire.NewRecord(wire.KindMedia, time.Now(), wire.MediaEvent{Action: wire.MediaAdd})
	seq, err := sp.Append(media)
	if err != nil {
		t.Fatal(err)
	}
	media.Seq = seq
	c.Express(media)
	waitFor("the express record to arrive", func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.stored[seq] })
	if st := sp.Stats(); st.Committed != 0 {
		t.Fatalf("spool committed %d while the bulk batch is unacked; express must commit nothing", st.Committed)
	}
	close(p.hold)
	waitFor("the spool to drain", func() bool { return sp.Stats().Committed == seq })
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seen[seq] != 2 || p.seen[1] != 1 {
		t.Errorf("arrivals: seq 1 %d times, media seq %d %d times; want 1 and 2", p.seen[1], seq, p.seen[seq])
	}
	if c.Stats().Expressed != 1 {
		t.Errorf("Expressed = %d, want 1", c.Stats().Expressed)
	}
}
