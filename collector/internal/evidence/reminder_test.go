package evidence_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func osloDay(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 12, 0, 0, 0, evidence.Oslo)
}

func TestDue(t *testing.T) {
	type want struct {
		key string
		day string // the last day, Europe/Oslo
	}
	for _, tc := range []struct {
		name                    string
		now, lastAudit, lastRev time.Time
		want                    []want
	}{
		{"never done", osloDay(2026, 2, 10), time.Time{}, time.Time{},
			[]want{{"review:2025", "2026-03-31"}, {"audit:2026", "2026-12-31"}}},
		{"review done this year, audit a year after the last", osloDay(2026, 5, 1), osloDay(2025, 11, 20), osloDay(2026, 3, 2),
			[]want{{"review:2026", "2027-03-31"}, {"audit:2026", "2026-11-20"}}},
		{"review of last year made last year does not count", osloDay(2026, 1, 5), time.Time{}, osloDay(2025, 12, 30),
			[]want{{"review:2025", "2026-03-31"}, {"audit:2026", "2026-12-31"}}},
		{"overdue audit stays due", osloDay(2027, 2, 1), osloDay(2025, 6, 30), osloDay(2027, 1, 20),
			[]want{{"review:2027", "2028-03-31"}, {"audit:2026", "2026-06-30"}}},
	} {
		got := evidence.Due(tc.now, tc.lastAudit, tc.lastRev)
		if len(got) != len(tc.want) {
			t.Fatalf("%s: %v", tc.name, got)
		}
		for i, w := range tc.want {
			if got[i].Key() != w.key || got[i].DueDay().In(evidence.Oslo).Format(time.DateOnly) != w.day {
				t.Errorf("%s: task %d = %s due %s, want %s due %s", tc.name, i, got[i].Key(), got[i].DueDay().In(evidence.Oslo).Format(time.DateOnly), w.key, w.day)
			}
		}
	}
	// Due by the end of the day in Oslo.
	tk := evidence.Due(osloDay(2026, 1, 1), time.Time{}, time.Time{})[0]
	if tk.Overdue(time.Date(2026, 3, 31, 23, 59, 0, 0, evidence.Oslo)) || !tk.Overdue(time.Date(2026, 4, 1, 0, 0, 0, 0, evidence.Oslo)) {
		t.Errorf("review due %v: overdue at the wrong time", tk.Due)
	}
}

func TestReadDuties(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	ctx := t.Context()
	for _, e := range []model.AuditEvent{
		{At: osloDay(2025, 3, 1), Actor: "cli:kari", Action: evidence.AuditReview, Subject: "year 2024"},
		{At: osloDay(2025, 6, 1), Actor: "root", Action: "user.login"},
		{At: osloDay(2026, 1, 2), Actor: "cli:kari", Action: evidence.AuditReminder, Subject: "review:2025"},
	} {
		if _, err := db.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	key := newKey(t, dir)
	// A full year's export counts as the audit; a month's does not.
	for _, p := range [][2]time.Time{{yearFrom, yearTo}, {yearFrom, yearFrom.AddDate(0, 1, 0)}} {
		if _, err := evidence.Export(ctx, &bytes.Buffer{}, db, evidence.Options{From: p[0], To: p[1], Key: key, Actor: "rut",
			Now: func() time.Time { return osloDay(2026, 1, 10).Add(time.Duration(p[1].Month()) * time.Minute) }}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := evidence.ReadDuties(ctx, db, osloDay(2024, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !d.LastReview.Equal(osloDay(2025, 3, 1)) || !d.Reminded["review:2025"] || len(d.Reminded) != 1 {
		t.Errorf("duties = %+v", d)
	}
	if want := osloDay(2026, 1, 10).Add(time.Minute); !d.LastAudit.Equal(want) {
		t.Errorf("last audit = %v, want the full year's export at %v", d.LastAudit, want)
	}
}

func TestReminderMail(t *testing.T) {
	tasks := evidence.Due(osloDay(2026, 3, 10), time.Time{}, time.Time{})
	subject, body := evidence.ReminderMail(tasks[0], "nb", "https://sonevakt.kommune.no")
	if subject != "Påminnelse: Ledelsens gjennomgang av 2025, frist 31.03.2026" || !strings.Contains(body, "--year 2025") || !strings.Contains(body, "https://sonevakt.kommune.no") {
		t.Errorf("review mail = %q\n%s", subject, body)
	}
	subject, body = evidence.ReminderMail(tasks[1], "en", "")
	if subject != "Reminder: Yearly security audit 2026, due 2026-12-31" || !strings.Contains(body, "evidence export") {
		t.Errorf("audit mail = %q\n%s", subject, body)
	}
}
