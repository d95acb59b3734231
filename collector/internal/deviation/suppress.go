package deviation

import (
	"context"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// ExceptionStore is what suppression needs of the store: the exceptions
// active at a moment (model.ExceptionStore's ActiveExceptions). The engine
// finds it in Config.Store (or, for the host rules, the HostStore); a store
// without it suppresses nothing.
type ExceptionStore interface {
	ActiveExceptions(ctx context.Context, now time.Time) ([]model.Exception, error)
}

// Every store driver is an ExceptionStore.
var _ ExceptionStore = model.Store(nil)

// exceptionSet is the (rule, subject) pairs with an active exception at one
// evaluation; a nil set suppresses nothing.
type exceptionSet map[model.ExceptionKey]bool

// activeExceptions reads the exceptions active at now from st, in one
// query; nil when st keeps none.
func activeExceptions(ctx context.Context, st any, now time.Time) (exceptionSet, error) {
	xs, ok := st.(ExceptionStore)
	if !ok {
		return nil, nil
	}
	list, err := xs.ActiveExceptions(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("read active exceptions: %w", err)
	}
	set := make(exceptionSet, len(list))
	for _, x := range list {
		if x.Active(now) {
			set[model.ExceptionKey{Rule: x.Rule, Subject: x.Subject}] = true
		}
	}
	return set, nil
}

// filter drops the findings that have an active exception, in place. For
// standing conditions a dropped finding counts as not firing, so its
// condition clears; when the exception expires the finding returns and
// opens a new deviation.
func (s exceptionSet) filter(fs []model.NewDeviation) []model.NewDeviation {
	if len(s) == 0 {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if !s[model.ExceptionKey{Rule: f.Rule, Subject: f.Subject}] {
			out = append(out, f)
		}
	}
	return out
}
