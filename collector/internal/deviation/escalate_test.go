package deviation

import (
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// TestEscalateBreaches: with an injected clock, an undecided breach
// assessment escalates once, after its 72 hours and not before, and a
// decided one never.
func TestEscalateBreaches(t *testing.T) {
	db := sqliteStore(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	finding := func(subject string) model.NewDeviation {
		return model.NewDeviation{Finding: model.Finding{Rule: "unmarked-media", Subject: subject, Title: subject,
			Severity: model.SeverityHigh, PersonalData: true, At: t0}}
	}
	res, err := db.RecordFindings(ctx, []model.NewDeviation{finding("media:a"), finding("media:b")}, model.Judged{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	undecided, decided := res[0].ID, res[1].ID
	if err := db.DecideBreach(ctx, model.BreachDecision{DeviationID: decided, Decision: model.BreachNoNotify,
		Rationale: "kryptert", DecidedBy: "sikker", DecidedAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	now := t0
	var got []model.RecordResult
	e := New(Config{Store: db, Now: func() time.Time { return now }, OnChange: func(rs []model.RecordResult) { got = append(got, rs...) }})
	for _, tc := range []struct {
		after time.Duration
		want  []model.RecordResult
	}{
		{71 * time.Hour, nil},
		{72 * time.Hour, nil},
		{72*time.Hour + time.Minute, []model.RecordResult{{ID: undecided, Escalated: true}}},
		{80 * time.Hour, nil},
	} {
		now, got = t0.Add(tc.after), nil
		if err := e.EscalateBreaches(ctx); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("at T0 + %v: OnChange got %+v, want %+v", tc.after, got, tc.want)
		}
	}
	_, tl, err := db.GetDeviation(ctx, undecided)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, ev := range tl {
		if ev.Type == model.TimelineEscalated {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%s has %d escalated entries, want 1", undecided, n)
	}
}
