package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/sonevakt/sonevakt/collector/internal/deviation"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
	"github.com/sonevakt/sonevakt/collector/internal/web"
)

// routing is who deviations go to, from the organisation register: the
// router (rebuilt after every change to units or people) and the hosts
// registered as shared-solution machines.
type routing struct {
	router atomic.Pointer[deviation.Router]
	shared atomic.Pointer[map[string]bool]
}

// officerFallback is the security officer of the collector's configuration,
// who is told when the organisation register names none.
func (e *Env) officerFallback() deviation.Recipient {
	o := e.Cfg.Notify.SecurityOfficer
	lang := o.Lang
	if lang == "" {
		lang = "nb"
	}
	return deviation.Recipient{Assignee: deviation.SecurityOfficer, Email: o.Email, Lang: lang}
}

// reloadRouting reads the organisation register and makes routing follow
// it. Until the first successful read the router knows only the configured
// security officer.
func (e *Env) reloadRouting(ctx context.Context) error {
	units, err := e.Store.Units(ctx)
	if err != nil {
		return fmt.Errorf("read units: %w", err)
	}
	people, err := e.Store.People(ctx)
	if err != nil {
		return fmt.Errorf("read people: %w", err)
	}
	ss, err := e.Store.SharedSolutions(ctx)
	if err != nil {
		return fmt.Errorf("read shared solutions: %w", err)
	}
	shared := map[string]bool{}
	for _, s := range ss {
		shared[s.Host] = true
	}
	e.routing.router.Store(deviation.NewRouter(units, people, e.officerFallback()))
	e.routing.shared.Store(&shared)
	return nil
}

// router returns the current router.
func (e *Env) router() *deviation.Router {
	if r := e.routing.router.Load(); r != nil {
		return r
	}
	return deviation.NewRouter(nil, nil, e.officerFallback())
}

// sharedSolutions returns the hosts registered as shared-solution machines.
func (e *Env) sharedSolutions() map[string]bool {
	if m := e.routing.shared.Load(); m != nil {
		return *m
	}
	return nil
}

// unitOf returns the unit a deviation was routed to by its assignees
// ("unit:<id>:leder"); "" when none.
func unitOf(assignees []string) string {
	for _, a := range assignees {
		if u, ok := deviation.ManagedUnit(a); ok {
			return u
		}
	}
	return ""
}

// webParseSoftwareCSV reads a software catalogue upload for web.Config's
// ParseSoftwareCSV. A file that is unusable as a whole is refused even when
// only the valid lines were asked for.
func webParseSoftwareCSV(r io.Reader, validOnly bool) ([]model.SoftwareEntry, []web.CSVProblem, error) {
	entries, rep, err := register.ParseSoftwareCSV(r, register.ParseOptions{ValidOnly: validOnly})
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
