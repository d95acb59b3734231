package app

import (
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/config"
	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestDutyReminders(t *testing.T) {
	env, db, _ := notifyEnv(t, config.Notify{
		SMTP:            config.SMTP{Addr: "mail.example:587", From: "s@k.example"},
		SecurityOfficer: config.Recipient{Email: "isa@k.example"},
	})
	w := &dutyWatch{env: env, n: &notifier{env: env, outbox: db.Outbox()}}
	ctx := t.Context()
	reminders := func() []model.AuditEntry {
		var out []model.AuditEntry
		if err := db.EachAuditEntry(ctx, 1, 0, func(e model.AuditEntry) error {
			if e.Action == evidence.AuditReminder {
				out = append(out, e)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}

	// February: nothing is due within 30 days yet, but both show.
	if err := w.check(ctx, time.Date(2026, 2, 20, 9, 0, 0, 0, evidence.Oslo)); err != nil {
		t.Fatal(err)
	}
	if got := w.Duties(ctx); len(got) != 2 || got[0].Kind != evidence.TaskReview || got[0].Year != 2025 {
		t.Errorf("duties = %+v", got)
	}
	if r := reminders(); len(r) != 0 {
		t.Errorf("reminded too early: %v", r)
	}
	// March: the review is due by the 31st; mailed once, however often checked.
	for range 3 {
		if err := w.check(ctx, time.Date(2026, 3, 10, 9, 0, 0, 0, evidence.Oslo)); err != nil {
			t.Fatal(err)
		}
	}
	r := reminders()
	if len(r) != 1 || r[0].Subject != "review:2025" || r[0].Actor != "system" {
		t.Fatalf("reminders = %+v, want one for review:2025", r)
	}
	m, err := db.Outbox().Entry(ctx, "duty/review:2025/mail:isa@k.example")
	if err != nil {
		t.Fatalf("the reminder mail is not in the outbox: %v", err)
	}
	if m.To != "isa@k.example" || m.Subject != "Påminnelse: Ledelsens gjennomgang av 2025, frist 31.03.2026" {
		t.Errorf("reminder mail = %+v", m)
	}
	// A review made in March: the next is a year away.
	if _, err := db.AppendAudit(ctx, model.AuditEvent{At: time.Date(2026, 3, 20, 9, 0, 0, 0, evidence.Oslo), Actor: "cli:kari",
		Action: evidence.AuditReview, Subject: "year 2025"}); err != nil {
		t.Fatal(err)
	}
	if err := w.check(ctx, time.Date(2026, 3, 21, 9, 0, 0, 0, evidence.Oslo)); err != nil {
		t.Fatal(err)
	}
	if got := w.Duties(ctx); got[0].Year != 2026 || got[0].Due.Year() != 2027 {
		t.Errorf("after the review, duties = %+v", got)
	}
}
