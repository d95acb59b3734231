package sqlstore

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func standingFinding(subject string, at time.Time) model.NewDeviation {
	return model.NewDeviation{Finding: model.Finding{Rule: "unregistered-host", Subject: subject, Title: "unregistered " + subject,
		Severity: model.SeverityHigh, Refs: []string{"S1.3"}, At: at}, Assignees: []string{"role:sikkerhet"}}
}

func standingFindings(at time.Time, subjects ...string) []model.NewDeviation {
	var fs []model.NewDeviation
	for _, s := range subjects {
		fs = append(fs, standingFinding(s, at))
	}
	return fs
}

func resultRows(rs []model.RecordResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %v", r.ID, r.Created))
	}
	return out
}

// TestStandingRestart checks that the state of standing conditions survives
// closing and reopening the file: a restated condition stays one deviation
// with one occurrence, and one that cleared before the restart comes back as
// an occurrence of its open deviation.
func TestStandingRestart(t *testing.T) { eachDialectHandles(t, testStandingRestart) }

func testStandingRestart(t *testing.T, open func() *DB) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const rule = "unregistered-host"
	step := func(now time.Time, subjects []string, want []string) {
		t.Helper()
		db := open()
		res, err := db.RecordStanding(t.Context(), rule, nil, standingFindings(now, subjects...), now)
		if err != nil {
			t.Fatalf("RecordStanding(%q) = %v", subjects, err)
		}
		if got := resultRows(res); !slices.Equal(got, want) {
			t.Errorf("RecordStanding(%q) at %v = %q, want %q", subjects, now, got, want)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
	}
	step(t0, []string{"host:a", "host:b"}, []string{"AVVIK-2026-1 true", "AVVIK-2026-2 true"})
	step(t0.Add(time.Minute), []string{"host:a", "host:b"}, nil)
	step(t0.Add(2*time.Minute), []string{"host:a"}, []string{"AVVIK-2026-2 false"})
	step(t0.Add(3*time.Minute), []string{"host:a", "host:b"}, []string{"AVVIK-2026-2 false"})

	db := open()
	ds, err := db.ListDeviations(t.Context(), model.DeviationQuery{Limit: 10})
	if err != nil {
		t.Fatalf("ListDeviations = %v", err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, fmt.Sprintf("%s %s %d", d.ID, d.Subject, d.Count))
	}
	if want := []string{"AVVIK-2026-2 host:b 2", "AVVIK-2026-1 host:a 1"}; !slices.Equal(got, want) {
		t.Errorf("deviations after restarts = %q, want %q", got, want)
	}
	cs, err := db.StandingConditions(t.Context(), rule)
	if err != nil || len(cs) != 2 || !cs[0].Active || !cs[1].Active || !cs[0].LastSeen.Equal(t0.Add(3*time.Minute)) ||
		!cs[1].Since.Equal(t0.Add(3*time.Minute)) || !cs[1].ClearedAt.IsZero() {
		t.Errorf("StandingConditions = %+v, %v; want both active, a since t0, b since it came back", cs, err)
	}
}

// BenchmarkRecordStanding measures one evaluation of 5 000 standing
// conditions that all still hold (the steady state of a whole-map
// evaluation): one transaction, no occurrences.
func BenchmarkRecordStanding(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "s.db"))
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	subjects := make([]string, 5000)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("host:agent-%05d", i)
	}
	fs := standingFindings(t0, subjects...)
	if _, err := db.RecordStanding(b.Context(), "unregistered-host", nil, fs, t0); err != nil {
		b.Fatal(err)
	}
	now := t0
	for b.Loop() {
		now = now.Add(time.Minute)
		res, err := db.RecordStanding(b.Context(), "unregistered-host", nil, fs, now)
		if err != nil || len(res) != 0 {
			b.Fatalf("RecordStanding = %d results, %v; want none", len(res), err)
		}
	}
}
