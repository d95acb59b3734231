package web

import (
	"context"
	"time"
)

// Duty is a dated yearly duty the overview shows: the management review
// ("review", of Year) or the yearly security audit ("audit").
type Duty struct {
	Kind string
	Year int
	Due  time.Time // the last day (any time within it)
}

// dutySoon is how close a due date turns a task into a warning.
const dutySoon = 30 * 24 * time.Hour

// ovTask is one duty on the overview.
type ovTask struct {
	Label, DueText, LeftText string
	Overdue, Soon            bool
}

// dutyTasks lays the duties out for the overview in lang.
func (s *Server) dutyTasks(ctx context.Context, lang string) []ovTask {
	if s.duties == nil {
		return nil
	}
	now := s.now()
	today := now.In(uiZone)
	start := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, uiZone)
	var out []ovTask
	for _, d := range s.duties(ctx) {
		day := d.Due.In(uiZone)
		dueDay := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, uiZone)
		days := int(dueDay.Sub(start).Round(24*time.Hour) / (24 * time.Hour))
		t := ovTask{Label: translatef(lang, "overview.task."+d.Kind, d.Year), Overdue: days < 0, Soon: days >= 0 && dueDay.Sub(now) <= dutySoon}
		if lang == "en" {
			t.DueText = day.Format(dateLayout)
		} else {
			t.DueText = day.Format("02.01.2006")
		}
		switch {
		case days < 0:
			t.LeftText = translatef(lang, "overview.task.overdue", -days)
		case days == 0:
			t.LeftText = translate(lang, "overview.task.today")
		default:
			t.LeftText = translatef(lang, "overview.task.left", days)
		}
		out = append(out, t)
	}
	return out
}
