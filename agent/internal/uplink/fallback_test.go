package uplink

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func appendHealth(t *testing.T, sp *spool.Spool, n int) uint64 {
	t.Helper()
	var last uint64
	for i := 0; i < n; i++ {
		r, _ := wire.NewRecord(wire.KindHealth, time.Now(), wire.Health{RSSBytes: uint64(i)})
		seq, err := sp.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	return last
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFallbackToTCPAndBack: with the collector's UDP port swallowing every
// datagram the client falls back to TLS over TCP and delivers; once UDP
// answers again a probe finds QUIC and the client moves back between
// batches. Every record arrives exactly once: the move resends nothing.
func TestFallbackToTCPAndBack(t *testing.T) {
	ca, _ := pki.NewCA("test", time.Now())
	p := newPeer(t, ca, 0, blockUDP)
	sp, err := spool.Open(t.TempDir(), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	c := New(Config{
		Identity: enrolled(t, ca, p.addr), Spool: sp, BatchRecords: 5, MinBackoff: 10 * time.Millisecond,
		QUICTimeout: 300 * time.Millisecond, ProbeInterval: 400 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	last := appendHealth(t, sp, 23)
	waitFor(t, "delivery over TCP", func() bool { return sp.Stats().Committed == last })
	if st := c.Stats(); st.Transport != TransportTCP || st.Fallbacks != 1 || !st.Connected {
		t.Fatalf("stats while UDP is blocked: %+v, want connected over tcp after one fallback", st)
	}
	if p.batches(TransportQUIC) != 0 || p.batches(TransportTCP) == 0 {
		t.Fatalf("batches quic %d tcp %d, want all over tcp", p.batches(TransportQUIC), p.batches(TransportTCP))
	}
	// Probes fail while UDP stays blocked; the client stays on TCP.
	waitFor(t, "a failed probe", func() bool { return c.Stats().Probes >= 1 })
	if st := c.Stats(); st.Transport != TransportTCP {
		t.Fatalf("after a failed probe: %+v, want still on tcp", st)
	}

	p.unblockUDP()
	waitFor(t, "the move back to QUIC", func() bool { return c.Stats().Transport == TransportQUIC })
	last = appendHealth(t, sp, 17)
	waitFor(t, "delivery over QUIC", func() bool { return sp.Stats().Committed == last })
	if p.batches(TransportQUIC) == 0 {
		t.Fatal("no batch arrived over QUIC after the move")
	}
	waitFor(t, "the TCP connection to close", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, tr := range p.conns {
			if tr == TransportTCP {
				return false
			}
		}
		return true
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	for seq := uint64(1); seq <= last; seq++ {
		if p.seen[seq] != 1 {
			t.Errorf("seq %d arrived %d times, want once", seq, p.seen[seq])
		}
	}
	if st := c.Stats(); st.Fallbacks != 1 || st.Reconnect != 0 {
		t.Errorf("stats %+v: want one fallback and no reconnect for the move", st)
	}
}

// TestEnrollOverTCPWhenUDPBlocked: enrollment, CA discovery included, falls
// back to TLS over TCP too.
func TestEnrollOverTCPWhenUDPBlocked(t *testing.T) {
	ca, _ := pki.NewCA("test", time.Now())
	p := newPeer(t, ca, 0, blockUDP)
	tok := wire.Token{ID: "0123456789abcdef", Secret: "s", Pin: pki.Pin(ca.Cert)}
	id, err := Enroll(context.Background(), EnrollRequest{
		Collector: p.addr, Token: tok, DataDir: t.TempDir(), Fingerprint: strings.Repeat("a", 64), Hostname: "h",
		QUICTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if id.AgentID != "agent-tcp" {
		t.Errorf("enrolled as %q, want the id the peer gives over tcp", id.AgentID)
	}
}

// TestRefusalSameOverBothTransports: a connection the collector closes with a
// code (revoked) reaches the client as that code over QUIC and over TCP.
func TestRefusalSameOverBothTransports(t *testing.T) {
	ca, _ := pki.NewCA("test", time.Now())
	p := newPeer(t, ca, 0)
	p.mu.Lock() // the peer already serves: a stray connection may read it
	p.refuse = wire.CodeRevoked
	p.mu.Unlock()
	sp, err := spool.Open(t.TempDir(), spool.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	appendHealth(t, sp, 3)
	for _, tr := range transports {
		c := New(Config{Identity: enrolled(t, ca, p.addr), Spool: sp, Transport: tr})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := c.session(ctx, nil)
		cancel()
		if codeOf(err) != wire.CodeRevoked || !strings.Contains(err.Error(), "refused by the test") {
			t.Errorf("%s: session = %v, want revoked with the collector's message", tr, err)
		}
	}
	if sp.Stats().Committed != 0 {
		t.Errorf("records committed although the collector refused the agent")
	}
}
