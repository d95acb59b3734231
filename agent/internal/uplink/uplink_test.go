package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/transport"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// peer is a minimal collector speaking pkg/wire with mTLS over QUIC and over
// TLS on TCP on the same port: it sends a policy, acks batches, and refuses
// for good any batch holding a poisoned sequence number. With blockUDP its
// UDP port swallows every datagram, as a firewall that drops UDP does, until
// unblockUDP starts QUIC there.
type peer struct {
	t      *testing.T
	ca     *pki.CA
	addr   string
	conf   *tls.Config
	ctx    context.Context
	poison uint64
	// refuse, when set, closes every connection with this code at once.
	refuse wire.Code
	mu     sync.Mutex
	stored map[uint64]bool
	seen   map[uint64]int            // times each seq arrived
	via    map[string]int            // batches per transport
	conns  map[transport.Conn]string // live connections and their transport
	acks   int
	// hold, when set, blocks every batch holding an inventory record until
	// it is closed (a slow bulk batch).
	hold    chan struct{}
	blocked bool
	hole    net.PacketConn // the UDP black hole while blocked
}

type peerOpt func(*peer)

func blockUDP(p *peer) { p.blocked = true }

func newPeer(t *testing.T, ca *pki.CA, poison uint64, opts ...peerOpt) *peer {
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
		ClientAuth:   tls.VerifyClientCertIfGiven, ClientCAs: pool,
	}
	p := &peer{t: t, ca: ca, conf: conf, poison: poison, stored: map[uint64]bool{}, seen: map[uint64]int{}, via: map[string]int{}, conns: map[transport.Conn]string{}}
	for _, o := range opts {
		o(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.ctx = ctx
	t.Cleanup(cancel)
	// TCP first on a free port, then UDP on the same one; again when another
	// process holds that UDP port.
	var tl *transport.TCPListener
	for try := 0; ; try++ {
		if tl, err = transport.ListenTCP("127.0.0.1:0", conf, transport.MuxOptions{}, nil); err != nil {
			t.Fatal(err)
		}
		p.addr = tl.Addr().String()
		if p.blocked {
			p.hole, err = net.ListenPacket("udp", p.addr)
		} else {
			err = p.listenQUIC()
		}
		if err == nil {
			break
		}
		tl.Close()
		if try == 20 {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { tl.Close() })
	go func() {
		for {
			c, err := tl.Accept(ctx)
			if err != nil {
				return
			}
			go p.serve(ctx, c)
		}
	}()
	if p.blocked {
		hole := p.hole
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := hole.ReadFrom(buf); err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() { hole.Close() })
	}
	return p
}

// unblockUDP closes the black hole and serves QUIC on the port.
func (p *peer) unblockUDP() {
	p.hole.Close()
	if err := p.listenQUIC(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) listenQUIC() error {
	ln, err := quic.ListenAddr(p.addr, p.conf, transport.QUICConfig())
	if err != nil {
		return err
	}
	p.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept(p.ctx)
			if err != nil {
				return
			}
			go p.serve(p.ctx, transport.WrapQUIC(c))
		}
	}()
	return nil
}

func (p *peer) batches(tr string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.via[tr]
}

func (p *peer) serve(ctx context.Context, c transport.Conn) {
	p.mu.Lock()
	refuse := p.refuse
	p.mu.Unlock()
	if refuse != 0 {
		c.CloseWithError(refuse, "refused by the test")
		return
	}
	p.mu.Lock()
	p.conns[c] = c.Transport()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
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
			if t != wire.FrameEnrollRequest && len(c.PeerCertificates()) == 0 {
				_ = wire.WriteError(st, wire.Errorf(wire.CodeUnauthenticated, "no certificate"))
				st.Close()
				return
			}
			switch t {
			case wire.FrameEnrollRequest:
				defer st.Close()
				var req wire.EnrollRequest
				if err := wire.DecodePayload(t, payload, &req); err != nil {
					_ = wire.WriteError(st, &wire.Error{Code: wire.CodeMalformed})
					return
				}
				cert, err := p.ca.SignAgent(req.CSR, "agent-"+c.Transport(), time.Hour, time.Now())
				if err != nil {
					_ = wire.WriteError(st, wire.Errorf(wire.CodeBadRequest, "%v", err))
					return
				}
				_ = wire.WriteFrame(st, wire.FrameEnrollResponse, wire.EnrollResponse{AgentID: "agent-" + c.Transport(), Cert: cert.Raw, CA: p.ca.Cert.Raw})
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
						st.CancelRead(wire.CodeMalformed)
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
				p.via[c.Transport()]++
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
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) { testPoisonedRecordSkipped(t, tr) })
	}
}

// transports are the two an agent can be forced onto.
var transports = []string{TransportQUIC, TransportTCP}

func testPoisonedRecordSkipped(t *testing.T, tr string) {
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
		Identity: enrolled(t, ca, p.addr), Spool: sp, BatchRecords: 8, MinBackoff: 10 * time.Millisecond, Transport: tr,
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
	if p.via[tr] == 0 || len(p.via) != 1 {
		t.Errorf("batches per transport %v, want all over %s", p.via, tr)
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
	for _, tr := range transports {
		d := dialer{mode: tr, quicTimeout: DefaultQUICTimeout}
		_, _, err := discoverCA(context.Background(), d, p.addr, pki.Pin(other.Cert))
		if err == nil || !strings.Contains(err.Error(), pki.Pin(other.Cert)) || !strings.Contains(err.Error(), pki.Pin(ca.Cert)) {
			t.Errorf("%s: discoverCA with a foreign pin = %v, want an error naming both pins", tr, err)
		}
		got, used, err := discoverCA(context.Background(), d, p.addr, pki.Pin(ca.Cert))
		if err != nil || !got.Equal(ca.Cert) || used != tr {
			t.Errorf("%s: discoverCA with the right pin = %v, %q, %v", tr, got, used, err)
		}
	}
}

// TestExpressOvertakesBulk: a media record goes out at once on its own stream
// while a bulk batch is still waiting for its ack; the spool commits it only
// with the bulk lane, in order, so the collector sees it twice and loses
// nothing.
func TestExpressOvertakesBulk(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) { testExpressOvertakesBulk(t, tr) })
	}
}

func testExpressOvertakesBulk(t *testing.T, tr string) {
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
	c := New(Config{Identity: enrolled(t, ca, p.addr), Spool: sp, MinBackoff: 10 * time.Millisecond, Transport: tr})
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
