package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Audit actions of the yearly duties.
const (
	// AuditReview records that a management-review report was made
	// (subject "year <YYYY>").
	AuditReview = "evidence.review"
	// AuditReminder records that a task's reminder was mailed (subject the
	// task's key), so that it goes out once.
	AuditReminder = "evidence.reminder"
)

// Task kinds.
const (
	TaskReview = "review" // the management review of the past year, S11
	TaskAudit  = "audit"  // the yearly security audit, S8
)

// RemindBefore is how long before its due date a task is mailed.
const RemindBefore = 30 * 24 * time.Hour

// Task is a dated duty: the management review (of Year, due by 31 March of
// the next) or the yearly security audit (due 12 months after the last
// evidence export of a full year, else by 31 December of Year).
type Task struct {
	Kind string
	Year int       // the review's year under review; the audit's year
	Due  time.Time // end of the due day in Europe/Oslo (exclusive)
}

// Key names the task for reminders: "review:2026", "audit:2027".
func (t Task) Key() string { return fmt.Sprintf("%s:%d", t.Kind, t.Year) }

// DueDay is the last day of the task, for display.
func (t Task) DueDay() time.Time { return t.Due.Add(-time.Nanosecond) }

// Overdue reports whether now is past the due day.
func (t Task) Overdue(now time.Time) bool { return !now.Before(t.Due) }

// endOfDay is the start of the day after y-m-d in Europe/Oslo.
func endOfDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d+1, 0, 0, 0, 0, Oslo) }

// Due returns the next management review and the next yearly audit, given
// when the last audit (an evidence export of a full year) and the last
// management-review report were made; zero times mean never.
//
// The review of year Y-1 is due by 31 March of Y; one made since 1 January
// of Y counts as done, and the next is due by 31 March of Y+1. The audit is
// due 12 months after the last one, or by 31 December of this year when
// none was made.
func Due(now, lastAudit, lastReview time.Time) []Task {
	y := now.In(Oslo).Year()
	review := Task{Kind: TaskReview, Year: y - 1, Due: endOfDay(y, time.March, 31)}
	if !lastReview.IsZero() && !lastReview.Before(time.Date(y, 1, 1, 0, 0, 0, 0, Oslo)) {
		review = Task{Kind: TaskReview, Year: y, Due: endOfDay(y+1, time.March, 31)}
	}
	audit := Task{Kind: TaskAudit, Year: y, Due: endOfDay(y, time.December, 31)}
	if !lastAudit.IsZero() {
		l := lastAudit.In(Oslo).AddDate(1, 0, 0)
		audit = Task{Kind: TaskAudit, Year: l.Year(), Due: endOfDay(l.Year(), l.Month(), l.Day())}
	}
	return []Task{review, audit}
}

// Duties is what the audit log says about the yearly duties.
type Duties struct {
	LastAudit, LastReview time.Time
	Reminded              map[string]bool // task keys already mailed
}

// fullYear is the shortest period an export must cover to count as the
// yearly audit's evidence.
const fullYear = 365 * 24 * time.Hour

// ReadDuties reads the audit log from since on: the last evidence export
// of a full year, the last review report, and the reminders sent.
func ReadDuties(ctx context.Context, src model.AuditChainStore, since time.Time) (Duties, error) {
	d := Duties{Reminded: map[string]bool{}}
	first, err := src.FirstAuditSeqSince(ctx, since)
	if err != nil || first == 0 {
		return d, err
	}
	err = src.EachAuditEntry(ctx, first, 0, func(e model.AuditEntry) error {
		switch e.Action {
		case AuditExport:
			var p struct{ From, To time.Time }
			if json.Unmarshal([]byte(e.Detail), &p) == nil && p.To.Sub(p.From) >= fullYear {
				d.LastAudit = e.At
			}
		case AuditReview:
			d.LastReview = e.At
		case AuditReminder:
			d.Reminded[e.Subject] = true
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return d, fmt.Errorf("read the yearly duties from the audit log: %w", err)
	}
	return d, err
}

// ReminderMail is the e-mail reminding of t in lang ("nb" or "en"; other
// values give bokmål), with a link to the UI when uiURL is set.
func ReminderMail(t Task, lang, uiURL string) (subject, body string) {
	l := text(lang)
	if _, ok := reportText[lang]; !ok {
		l = "nb"
	}
	due := l.date(t.DueDay())
	subject = l.t("mail.subject", l.t("mail."+t.Kind, t.Year), due)
	if t.Kind == TaskReview {
		body = l.t("mail.body.review", t.Year, due, t.Year, t.Year)
	} else {
		body = l.t("mail.body.audit", due)
	}
	if uiURL != "" {
		body += l.t("mail.link", uiURL)
	}
	return subject, body + l.t("mail.footer")
}
