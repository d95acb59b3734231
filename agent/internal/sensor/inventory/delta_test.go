package inventory

import (
	"context"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func decode(t *testing.T, rec wire.Record) wire.Inventory {
	t.Helper()
	var inv wire.Inventory
	if err := rec.DecodeBody(&inv); err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestRoundProtocol: full first, nothing while unchanged, a delta after a
// change, a full one when the collector asks, and the last snapshot survives a
// restart through the state dir.
func TestRoundProtocol(t *testing.T) {
	var r recorder
	env := r.env()
	env.StateDir = t.TempDir()
	src := laptop()
	s := newSensor(env, src)
	s.sections = hostOnly
	ctx := context.Background()

	s.round(ctx, r.emit)
	if len(r.recs) != 1 || !decode(t, r.recs[0]).Full {
		t.Fatalf("first round: %d records, want one full snapshot", len(r.recs))
	}
	s.round(ctx, r.emit)
	if len(r.recs) != 1 {
		t.Fatalf("unchanged machine sent %d records, want none", len(r.recs)-1)
	}
	src.memory += 1 << 30
	s.round(ctx, r.emit)
	if len(r.recs) != 2 {
		t.Fatalf("after a change: %d records, want 2", len(r.recs))
	}
	if d := decode(t, r.recs[1]); d.Full || d.Base == "" || d.Host == nil {
		t.Errorf("after a change: %+v, want a delta carrying the host", d)
	}

	// A restarted sensor picks up where it was: unchanged sends nothing.
	s2 := newSensor(env, src)
	s2.sections = hostOnly
	s2.round(ctx, r.emit)
	if len(r.recs) != 2 {
		t.Errorf("restarted sensor on an unchanged machine sent a record")
	}

	// The collector lost it: a full snapshot goes out again.
	r.mu.Lock()
	r.wantFull = true
	r.mu.Unlock()
	if !s2.wantsFull() {
		t.Fatal("wantsFull() = false with the collector asking")
	}
	s2.round(ctx, r.emit)
	if len(r.recs) != 3 || !decode(t, r.recs[2]).Full {
		t.Errorf("collector asked for a full snapshot: %d records, last full=%v", len(r.recs), len(r.recs) == 3 && decode(t, r.recs[2]).Full)
	}
}
