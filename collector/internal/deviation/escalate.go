package deviation

import (
	"context"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// BreachEscalator is what escalation needs of the store
// (model.BreachStore's EscalateBreaches). The engine finds it in
// Config.Store; a store without it escalates nothing.
type BreachEscalator interface {
	EscalateBreaches(ctx context.Context, now time.Time) ([]string, error)
}

// Every store driver is a BreachEscalator.
var _ BreachEscalator = model.Store(nil)

// EscalateBreaches escalates, once each, the open deviations with personal
// data whose 72-hour breach deadline passed without a decision: the store
// gives each an "escalated" timeline entry and an audit entry, and each is
// reported to OnChange as a result with Escalated set, so that the officer
// is told again. Run calls it on every tick of its timer.
func (e *Engine) EscalateBreaches(ctx context.Context) error {
	st, ok := e.cfg.Store.(BreachEscalator)
	if !ok {
		return nil
	}
	ids, err := st.EscalateBreaches(ctx, e.now())
	if err != nil {
		return fmt.Errorf("escalate overdue breach assessments: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	res := make([]model.RecordResult, len(ids))
	for i, id := range ids {
		e.log.WarnContext(ctx, "breach assessment overdue; escalated", "id", id)
		res[i] = model.RecordResult{ID: id, Escalated: true}
	}
	if e.cfg.OnChange != nil {
		e.cfg.OnChange(res)
	}
	return nil
}
