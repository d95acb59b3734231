package web

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// fakeExceptions is the fake store's exceptions and breach decisions
// (model.ExceptionStore and model.BreachStore, on fakeStore), checked like
// the real stores; storetest is the conformance reference.
type fakeExceptions struct {
	list      []model.Exception // oldest first
	n         int
	decisions map[string]model.BreachDecision
}

var (
	_ model.ExceptionStore = (*fakeStore)(nil)
	_ model.BreachStore    = (*fakeStore)(nil)
)

func (f *fakeStore) GrantException(_ context.Context, id, reason, actor string, expires, now time.Time) (model.Exception, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.devs[id]
	if !ok {
		return model.Exception{}, notFound("deviation", id)
	}
	if strings.TrimSpace(reason) == "" || !expires.After(now) || expires.After(now.AddDate(model.MaxExceptionYears, 0, 0)) || !model.StatusOpen(x.d.Status) {
		return model.Exception{}, fmt.Errorf("grant exception for %s: %w", id, model.ErrInvalid)
	}
	f.exc.n++
	ex := model.Exception{ID: fmt.Sprintf("UNNTAK-%d-%d", now.Year(), f.exc.n), Rule: x.d.Rule, Subject: x.d.Subject, Reason: reason,
		ApprovedBy: actor, CreatedAt: now, Expires: expires, DeviationID: id}
	f.exc.list = append(f.exc.list, ex)
	from := x.d.Status
	x.d.Status, x.d.UpdatedAt = model.StatusClosed, now
	f.tlSeq++
	x.timeline = append(x.timeline, model.TimelineEvent{Seq: f.tlSeq, At: now, Actor: actor, Type: model.TimelineStatus,
		Text: "exception " + ex.ID + ": " + reason, Detail: fmt.Sprintf(`{"from":%q,"to":%q}`, from, model.StatusClosed)})
	f.audit = append(f.audit,
		model.AuditEvent{Seq: int64(len(f.audit) + 1), At: now, Actor: actor, Action: "exception.grant", Subject: ex.ID},
		model.AuditEvent{Seq: int64(len(f.audit) + 2), At: now, Actor: actor, Action: "deviation.status", Subject: id})
	return ex, nil
}

func (f *fakeStore) ListExceptions(context.Context) ([]model.Exception, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.exc.list)
	slices.Reverse(out)
	return out, nil
}

func (f *fakeStore) ActiveExceptions(_ context.Context, now time.Time) ([]model.Exception, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.Exception
	for _, x := range f.exc.list {
		if x.Active(now) {
			out = append(out, x)
		}
	}
	return out, nil
}

func (f *fakeStore) RevokeException(_ context.Context, id, actor string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.exc.list {
		if x.ID != id {
			continue
		}
		if !x.RevokedAt.IsZero() {
			return fmt.Errorf("revoke %s: %w", id, model.ErrInvalid)
		}
		f.exc.list[i].RevokedAt, f.exc.list[i].RevokedBy = now, actor
		f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: now, Actor: actor, Action: "exception.revoke", Subject: id})
		return nil
	}
	return notFound("exception", id)
}

// addException stores x as it is (a fixture).
func (f *fakeStore) addException(x model.Exception) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exc.list = slices.DeleteFunc(f.exc.list, func(y model.Exception) bool { return y.ID == x.ID })
	f.exc.list = append(f.exc.list, x)
}

func (f *fakeStore) DecideBreach(_ context.Context, d model.BreachDecision) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.devs[d.DeviationID]
	if !ok {
		return notFound("deviation", d.DeviationID)
	}
	if !x.d.PersonalData || strings.TrimSpace(d.Rationale) == "" || (d.Decision != model.BreachNotify && d.Decision != model.BreachNoNotify) ||
		(d.Decision == model.BreachNotify && d.NotifiedAt.IsZero()) {
		return fmt.Errorf("decide breach %s: %w", d.DeviationID, model.ErrInvalid)
	}
	if f.exc.decisions == nil {
		f.exc.decisions = map[string]model.BreachDecision{}
	}
	f.exc.decisions[d.DeviationID] = d
	f.tlSeq++
	x.timeline = append(x.timeline, model.TimelineEvent{Seq: f.tlSeq, At: d.DecidedAt, Actor: d.DecidedBy, Type: model.TimelineBreachDecision, Text: d.Rationale})
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: d.DecidedAt, Actor: d.DecidedBy, Action: "breach.decide", Subject: d.DeviationID})
	return nil
}

func (f *fakeStore) GetBreachDecision(_ context.Context, id string) (*model.BreachDecision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.exc.decisions[id]; ok {
		return &d, nil
	}
	return nil, nil
}

func (f *fakeStore) BreachRegister(context.Context) ([]model.BreachEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []model.BreachEntry
	for _, x := range f.devs {
		if !x.d.PersonalData {
			continue
		}
		be := model.BreachEntry{Deviation: x.d}
		if d, ok := f.exc.decisions[x.d.ID]; ok {
			be.Decision = &d
		}
		out = append(out, be)
	}
	slices.SortFunc(out, func(a, b model.BreachEntry) int {
		return cmp.Or(a.Deviation.BreachT0.Compare(b.Deviation.BreachT0), cmp.Compare(a.Deviation.ID, b.Deviation.ID))
	})
	return out, nil
}

func (f *fakeStore) EscalateBreaches(context.Context, time.Time) ([]string, error) {
	return nil, nil // the engine's concern; tested against the real stores
}
