package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TestClockSkew: agents whose clocks are hours off connect over real QUIC
// and TLS (each verifying the collector at its own time), and what they
// send is filed sanely: a host's facts observed hours "in the future" are
// filed at receipt, so that after the agent's clock is corrected its newer
// facts replace them; the raw record keeps the observed_at the agent sent;
// the past is kept as the agent said.
func TestClockSkew(t *testing.T) {
	h := newHarness(t)
	inventory := func(seq uint64, at time.Time, hostname string) wire.Record {
		r, err := wire.NewRecord(wire.KindInventory, at, wire.Inventory{Host: &wire.Host{Hostname: hostname, OS: "linux"}})
		if err != nil {
			t.Fatal(err)
		}
		r.Seq = seq
		return r
	}
	for _, tc := range []struct {
		agent string
		clock time.Duration // the agent's clock minus the collector's
	}{{"ahead", 3 * time.Hour}, {"behind", -3 * time.Hour}} {
		conf := h.agentTLS(tc.agent)
		conf.Time = func() time.Time { return time.Now().Add(tc.clock) }
		c := h.dial(conf)
		var ack wire.Ack
		first := time.Now().Add(tc.clock)
		if err := exchange(c, wire.FrameBatch, wire.Batch{Records: []wire.Record{inventory(1, first, "old-"+tc.agent)}}, wire.FrameAck, &ack); err != nil {
			t.Fatalf("agent %v off: %v", tc.clock, err)
		}
		hs, err := h.st.GetHost(context.Background(), tc.agent)
		if err != nil || hs.Facts == nil {
			t.Fatalf("host %s: %+v, %v", tc.agent, hs, err)
		}
		now := time.Now()
		if tc.clock > 0 && hs.FactsAt.After(now.Add(maxAhead)) {
			t.Errorf("agent %v off: facts filed at %v, in the future of %v", tc.clock, hs.FactsAt, now)
		}
		if tc.clock < 0 && hs.FactsAt.UnixNano() != first.UnixNano() {
			t.Errorf("agent %v off: facts filed at %v, want the observed %v", tc.clock, hs.FactsAt, first)
		}
		// The agent's clock is corrected: its next facts replace the old.
		if err := exchange(c, wire.FrameBatch, wire.Batch{Records: []wire.Record{inventory(2, time.Now().Add(time.Second), "new-"+tc.agent)}}, wire.FrameAck, &ack); err != nil {
			t.Fatal(err)
		}
		hs, err = h.st.GetHost(context.Background(), tc.agent)
		if err != nil || hs.Facts == nil || hs.Facts.Hostname != "new-"+tc.agent {
			t.Errorf("agent %v off, then corrected: facts %+v, %v; want the corrected agent's", tc.clock, hs.Facts, err)
		}
		recs, err := h.st.Records(context.Background(), tc.agent, 0, 10)
		if err != nil || len(recs) != 2 || recs[0].ObservedAt != first.UnixNano() {
			t.Errorf("raw records %+v, %v: want observed_at %d kept", recs, err, first.UnixNano())
		}
	}
}

func TestObservedAt(t *testing.T) {
	recv := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		off  time.Duration
		want time.Time
	}{
		{0, recv},
		{-10 * 24 * time.Hour, recv.Add(-10 * 24 * time.Hour)}, // spooled offline, or a clock behind: kept
		{maxAhead, recv.Add(maxAhead)},
		{maxAhead + time.Nanosecond, recv},
		{3 * time.Hour, recv},
	} {
		r := wire.Record{ObservedAt: recv.Add(tc.off).UnixNano()}
		if got := observedAt(r, recv); !got.Equal(tc.want) {
			t.Errorf("observed %v after receipt: filed at %v, want %v", tc.off, got, tc.want)
		}
	}
}
