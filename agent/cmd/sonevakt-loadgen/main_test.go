package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestHistQuantiles(t *testing.T) {
	h := &hist{}
	if h.quantile(0.99) != 0 {
		t.Fatal("empty histogram has a quantile")
	}
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if d := got - tc.want; d < 0 || d > histWidth {
			t.Errorf("quantile(%v) = %v, want %v (within one bucket above)", tc.q, got, tc.want)
		}
	}
	h.add(2 * time.Minute) // beyond the last bucket: the maximum still tells it
	if got := h.quantile(1); got != 2*time.Minute {
		t.Errorf("max quantile = %v, want 2m", got)
	}
}

func TestParse(t *testing.T) {
	o, err := parse([]string{"--collector", "h:1", "--agents", "5", "--mode", "burst"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.enrollConc != 5 || o.workers == 0 {
		t.Errorf("burst: enroll concurrency %d (want all 5), workers %d", o.enrollConc, o.workers)
	}
	for _, bad := range [][]string{
		{"--agents", "5"},
		{"--collector", "h:1", "--agents", "0"},
		{"--collector", "h:1", "--mode", "storm"},
		{"--collector", "h:1", "--churn", "2"},
		{"--collector", "h:1", "extra"},
	} {
		if _, err := parse(bad, io.Discard); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

// The simulated machines differ from one another and drift over time, and
// their bodies are what the collector accepts.
func TestMachinesVary(t *testing.T) {
	hosts, macs, serials := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range 300 {
		m := newMachine(i, 7)
		hosts[m.hostname] = true
		macs[m.host.Interfaces[1].MAC] = true
		serials[m.hw.System.Serial] = true
	}
	if len(hosts) != 300 || len(macs) != 300 || len(serials) < 290 {
		t.Errorf("300 machines: %d hostnames, %d MACs, %d serials", len(hosts), len(macs), len(serials))
	}
	if a, b := newMachine(3, 7), newMachine(3, 7); a.hostname != b.hostname || a.fp != b.fp {
		t.Error("same seed and index give different machines")
	}

	m := newMachine(1, 7)
	first, err := m.inventory()
	if err != nil {
		t.Fatal(err)
	}
	changed := false
	for range 20 {
		m.drift()
		cur, err := m.inventory()
		if err != nil {
			t.Fatal(err)
		}
		if cur.Hash == first.Hash {
			continue
		}
		changed = true
		d, err := wire.Diff(first, cur)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.SoftwareAdded)+len(d.SoftwareRemoved) == 0 || len(d.SoftwareAdded) > 20 {
			t.Errorf("drift delta: %d added, %d removed", len(d.SoftwareAdded), len(d.SoftwareRemoved))
		}
		break
	}
	if !changed {
		t.Error("inventory never drifted")
	}

	now := time.Now()
	for _, body := range []struct {
		kind wire.Kind
		v    any
	}{
		{wire.KindHello, m.hello()}, {wire.KindInventory, first}, {wire.KindMedia, m.media()}, {wire.KindMedia, m.media()},
		{wire.KindFlows, m.flows(now, time.Minute)}, {wire.KindNeighbours, m.neighbours(now)},
		{wire.KindHealth, m.health(time.Minute, spoolStats{})},
	} {
		r, err := wire.NewRecord(body.kind, now, body.v)
		if err != nil {
			t.Fatalf("%s: %v", body.kind, err)
		}
		r.Seq = 1
		if err := r.Check(); err != nil {
			t.Errorf("%s: %v", body.kind, err)
		}
	}
	in, out := m.media(), m.media()
	if in.Action != wire.MediaAdd || out.Action != wire.MediaRemove || in.Device.Serial != out.Device.Serial {
		t.Errorf("media: %s %s then %s %s, want the same stick in and out", in.Action, in.Device.Serial, out.Action, out.Device.Serial)
	}
	if nb := m.neighbours(now); len(nb.Devices) == 0 || !strings.HasPrefix(nb.Devices[0].MAC, "02:5e:") {
		t.Errorf("neighbours: %+v", nb.Devices)
	}
}
