package app

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/web"
)

// DutyEvery is how often the yearly duties are worked out anew.
const DutyEvery = time.Hour

// dutyLookBack is how far back the audit log is read for the duties: the
// last full-year export and review fall within it.
const dutyLookBack = 2

// dutyWatch works out the yearly duties (the management review, S11, and
// the security audit, S8) from the audit log, keeps them for the overview,
// and mails each to the security officer(s) once, when it comes due within
// evidence.RemindBefore. The reminder is recorded in the audit log
// (evidence.reminder), which is what makes it go out once.
type dutyWatch struct {
	env *Env
	n   *notifier // nil: no mail

	mu    sync.Mutex
	tasks []evidence.Task
}

// Duties returns the duties for the web overview.
func (w *dutyWatch) Duties(context.Context) []web.Duty {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]web.Duty, 0, len(w.tasks))
	for _, t := range w.tasks {
		out = append(out, web.Duty{Kind: t.Kind, Year: t.Year, Due: t.DueDay()})
	}
	return out
}

// check works the duties out at now and mails the reminders that are due.
func (w *dutyWatch) check(ctx context.Context, now time.Time) error {
	src, err := w.env.evidenceSource()
	if err != nil {
		return err
	}
	d, err := evidence.ReadDuties(ctx, src, now.AddDate(-dutyLookBack, 0, 0))
	if err != nil {
		return err
	}
	tasks := evidence.Due(now, d.LastAudit, d.LastReview)
	w.mu.Lock()
	w.tasks = tasks
	w.mu.Unlock()
	cfg := w.env.Cfg.Notify
	if w.n == nil || cfg.SMTP.Addr == "" {
		return nil
	}
	for _, t := range tasks {
		if d.Reminded[t.Key()] || t.Due.Sub(now) > evidence.RemindBefore {
			continue
		}
		var msgs []model.OutboxMessage
		var to []string
		for _, rc := range w.env.router().Route("") { // the security officer(s)
			if rc.Email == "" {
				continue
			}
			subject, body := evidence.ReminderMail(t, rc.Lang, cfg.UIURL)
			msgs = append(msgs, model.OutboxMessage{ID: "duty/" + t.Key() + "/mail:" + rc.Email, Channel: model.ChannelEmail,
				To: rc.Email, Lang: rc.Lang, Subject: subject, Text: body})
			to = append(to, rc.Email)
		}
		if len(msgs) == 0 {
			w.env.Log.Warn("a yearly duty comes due, but no security officer has an e-mail address", "task", t.Key(), "due", t.DueDay())
			continue
		}
		if err := w.n.outbox.Enqueue(ctx, msgs, now); err != nil {
			return err
		}
		if w.n.disp != nil {
			w.n.disp.Wake()
		}
		detail, _ := json.Marshal(map[string]any{"due": t.DueDay().In(evidence.Oslo).Format(time.DateOnly), "to": to})
		if _, err := src.AppendAudit(ctx, model.AuditEvent{At: now, Actor: "system", Action: evidence.AuditReminder,
			Subject: t.Key(), Detail: string(detail)}); err != nil {
			return err
		}
	}
	return nil
}

// startDuties checks the duties now and every DutyEvery until ctx ends;
// stop waits for it.
func (e *Env) startDuties(ctx context.Context, n *notifier) (w *dutyWatch, stop func()) {
	w = &dutyWatch{env: e, n: n}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(DutyEvery)
		defer t.Stop()
		for {
			if err := w.check(ctx, time.Now()); err != nil && ctx.Err() == nil {
				e.Log.Error("yearly duties", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return w, func() {
		cancel()
		<-done
	}
}
