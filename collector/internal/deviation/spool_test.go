package deviation

import (
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TestSpoolDropped feeds health records to the engine as ingest does and
// checks the deviations spool-dropped leaves in a real store: one per agent
// while open, a new one for drops after it closed, none for drops already
// judged, also by an engine started afresh on the same store.
func TestSpoolDropped(t *testing.T) {
	db := sqliteStore(t, "pc", "ts")
	ctx := t.Context()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	newEngine := func() *Engine { return New(Config{Store: db, Now: func() time.Time { return now }}) }
	e := newEngine()
	var seq uint64
	health := func(e *Engine, agent string, dropped uint64) {
		t.Helper()
		seq++
		e.Health(agent, seq, now, wire.Health{SpoolDropped: dropped, SpoolRecords: 3, SpoolBytes: 1 << 20})
		if err := e.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	list := func(status string) []model.Deviation {
		t.Helper()
		ds, err := db.ListDeviations(ctx, model.DeviationQuery{Rule: rules.SpoolDrops, Status: status, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	check := func(step string, total, open, count int) {
		t.Helper()
		all, op := list(""), list("open")
		if len(all) != total || len(op) != open || (open > 0 && op[0].Count != count) {
			t.Fatalf("%s: %d deviations (%d open, %+v), want %d (%d open with %d occurrences)", step, len(all), len(op), op, total, open, count)
		}
	}

	health(e, "pc", 0)
	check("no drops", 0, 0, 0)
	health(e, "pc", 4)
	check("first drops", 1, 1, 1)
	d := list("open")[0]
	if d.Subject != "spool:pc" || d.AgentID != "pc" || d.Facts[rules.FactDropped] != "4" || d.Facts["hostname"] != "host-pc" ||
		len(d.Evidence) != 1 || d.Evidence[0].Kind != "health" {
		t.Errorf("deviation %+v", d)
	}
	health(e, "pc", 4)
	health(e, "pc", 4)
	check("the same count again", 1, 1, 1)
	health(e, "pc", 6)
	check("more drops while open", 1, 1, 2)
	health(e, "ts", 1)
	check("another agent", 2, 2, 1)

	// Several records of one agent before an evaluation: the newest counts.
	e.Health("ts", seq+2, now, wire.Health{SpoolDropped: 1})
	e.Health("ts", seq+1, now, wire.Health{SpoolDropped: 9}) // older, arrives late
	seq += 2
	if err := e.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	check("late older record", 2, 2, 1)

	closeAll := func() {
		t.Helper()
		for _, dv := range list("open") {
			if err := db.SetDeviationStatus(ctx, dv.ID, model.StatusHandling, "tester", "", now); err != nil {
				t.Fatal(err)
			}
			if err := db.SetDeviationStatus(ctx, dv.ID, model.StatusClosed, "tester", "spool resized", now); err != nil {
				t.Fatal(err)
			}
		}
	}
	closeAll()
	health(e, "pc", 6)
	check("closed, nothing new", 2, 0, 0)
	health(e, "pc", 7)
	check("new drops after close", 3, 1, 1)

	// A restarted collector: the engine learns the judged count from the
	// newest deviation instead of opening one for old drops.
	e2 := newEngine()
	closeAll()
	health(e2, "pc", 7)
	health(e2, "ts", 1)
	check("after restart, old drops", 3, 0, 0)
	health(e2, "pc", 8)
	check("after restart, new drops", 4, 1, 1)

	// A wiped spool counts from 0 again: its new drops are new.
	health(e2, "ts", 0)
	health(e2, "ts", 1)
	check("wiped spool, new drop", 5, 2, 1)

	// The rule off: nothing is recorded.
	off := New(Config{Store: db, Now: func() time.Time { return now }, Rules: rules.Config{rules.SpoolDrops: {Disabled: true}}})
	health(off, "pc", 100)
	check("rule disabled", 5, 2, 1)
}
