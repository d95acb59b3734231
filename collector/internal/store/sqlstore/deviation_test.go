package sqlstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestDeviationTimelineAppendOnly(t *testing.T) { eachDialect(t, testDeviationTimelineAppendOnly) }

func testDeviationTimelineAppendOnly(t *testing.T, db *DB) {
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f := model.NewDeviation{Finding: model.Finding{Rule: "unknown-media", Subject: "media:0781:5583:X", Title: "t", Severity: model.SeverityHigh, At: now}}
	res, err := db.RecordFindings(ctx, []model.NewDeviation{f}, model.Judged{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CommentDeviation(ctx, res[0].ID, "kari", "original", now); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE deviation_timeline SET text = 'forged' WHERE type = 'comment'`,
		`UPDATE deviation_timeline SET seq = seq + 100`,
		`DELETE FROM deviation_timeline WHERE type = 'comment'`,
		`DELETE FROM deviation_timeline`,
	} {
		_, err := db.w.Exec(q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v, want an append-only refusal", q, err)
		}
	}
	_, tl, err := db.GetDeviation(ctx, res[0].ID)
	if err != nil || len(tl) != 2 || tl[1].Text != "original" {
		t.Errorf("timeline after refused changes = %+v, %v; want created and the comment untouched", tl, err)
	}
}

// TestDeviationOpenUnique checks the constraint behind dedupe: one open
// deviation per rule and subject, whoever writes, and room for a new one
// once it is closed.
func TestDeviationOpenUnique(t *testing.T) { eachDialect(t, testDeviationOpenUnique) }

func testDeviationOpenUnique(t *testing.T, db *DB) {
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f := model.NewDeviation{Finding: model.Finding{Rule: "unknown-media", Subject: "media:0781:5583:X", Title: "t", Severity: model.SeverityHigh, At: now}}
	res, err := db.RecordFindings(ctx, []model.NewDeviation{f}, model.Judged{}, now)
	if err != nil {
		t.Fatal(err)
	}
	insert := func(n int, status string) error {
		_, err := db.w.Exec(`INSERT INTO deviations (id, year, n, rule, subject, title, severity, status, created_at, updated_at, first_seen, last_seen)
			VALUES (?, 2026, ?, 'unknown-media', 'media:0781:5583:X', 't', 'high', ?, 1, 1, 1, 1)`,
			fmt.Sprintf("AVVIK-2026-%d", n), n, status)
		return err
	}
	for _, status := range []string{model.StatusNew, model.StatusHandling} {
		if err := insert(5, status); !isDuplicate(err) {
			t.Errorf("a second open deviation (%s) for one rule and subject = %v, want a unique violation", status, err)
		}
	}
	if err := insert(6, model.StatusClosed); err != nil {
		t.Errorf("a closed deviation beside the open one = %v, want it stored", err)
	}
	if err := db.SetDeviationStatus(ctx, res[0].ID, model.StatusRejected, "kari", "test", now); err != nil {
		t.Fatal(err)
	}
	if err := insert(7, model.StatusNew); err != nil {
		t.Errorf("an open deviation once the other is rejected = %v, want it stored", err)
	}
}
