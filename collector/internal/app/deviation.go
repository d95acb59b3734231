package app

import (
	"context"
	"errors"
	"io"

	"github.com/sonevakt/sonevakt/collector/internal/deviation"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
	"github.com/sonevakt/sonevakt/collector/internal/web"
	"github.com/sonevakt/sonevakt/pkg/clock"
)

// SyncPolicy makes the policy pushed to agents carry the configured media
// policy with the media register as its allow-list, and the zones file's
// zones and firewall map, storing a new policy version when any changed.
// Serve calls it at start; call it again after the register changed.
func (e *Env) SyncPolicy(ctx context.Context) error {
	base := register.PolicyBase{Media: e.Cfg.MediaPolicy()}
	if e.Zones != nil {
		zp := e.Zones.Policy()
		base.Zones = &zp
	}
	changed, err := register.SyncPolicy(ctx, e.Store, base)
	if err != nil {
		return err
	}
	if changed {
		if p, err := e.Store.CurrentPolicy(ctx); err == nil {
			e.Log.InfoContext(ctx, "policy changed; agents get the new version", "version", p.Version)
		}
	}
	return nil
}

// newEngine builds the deviation engine from the configuration.
func (e *Env) newEngine(onChange func([]model.RecordResult)) (*deviation.Engine, error) {
	rc, err := e.Cfg.RuleConfig()
	if err != nil {
		return nil, err
	}
	due, err := e.Cfg.DeviationDue()
	if err != nil {
		return nil, err
	}
	return deviation.New(deviation.Config{
		Store: e.Store, Rules: rc, ZoneMap: e.Zones, Due: due, Now: clock.Now,
		Assignees:       func(unit string) []string { return e.router().Assignees(unit) },
		SharedSolutions: e.sharedSolutions,
		Suppliers:       e.Store.SupplierPeople,
		SoftwareMode:    e.Cfg.Software.Mode,
		SilentAfter:     e.Cfg.SilentAfter(),
		Logger:          e.Log.With("part", "deviation"), OnChange: onChange,
	}), nil
}

// startEngine runs the engine until the returned stop is called; stop waits
// for it to finish, so the store can close after.
func startEngine(ctx context.Context, eng *deviation.Engine) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		eng.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// webParseMediaCSV reads a media register upload for web.Config's
// ParseMediaCSV. A file that is unusable as a whole (empty, a bad header)
// is refused even when only the valid lines were asked for.
func webParseMediaCSV(r io.Reader, validOnly bool) ([]model.MediaEntry, []web.CSVProblem, error) {
	entries, rep, err := register.ParseMediaCSV(r, register.ParseOptions{ValidOnly: validOnly})
	if err != nil {
		return nil, nil, err
	}
	if rep.Fatal && validOnly {
		return nil, nil, errors.New(rep.Error())
	}
	var ps []web.CSVProblem
	for _, p := range rep.Problems {
		ps = append(ps, web.CSVProblem{Line: p.Line, Message: p.Message})
	}
	return entries, ps, nil
}
