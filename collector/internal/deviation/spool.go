package deviation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// healthObs is the newest health record of an agent not judged yet.
type healthObs struct {
	seq    uint64
	at     time.Time
	health wire.Health
}

// spoolState is what the engine knows of the agents' spool drops: the health
// records waiting to be judged, and the drop count already judged per agent.
type spoolState struct {
	mu      sync.Mutex
	pending map[string]healthObs
	known   map[string]uint64 // guarded by Engine.mu (Evaluate)
}

// DeviationLister is the part of the store spool-dropped reads to learn,
// after a restart, the drop count an agent's newest deviation was opened
// with. Every store driver has it; without it, a restarted collector judges
// drops against 0 (an open deviation then only gains an occurrence).
type DeviationLister interface {
	ListDeviations(ctx context.Context, q model.DeviationQuery) ([]model.Deviation, error)
}

// Health hands the engine an agent's health record after ingest committed
// it; spool-dropped judges it at the next evaluation, which it wakes. Only
// the newest record of each agent waits (the drop count only grows), so a
// flood of health records costs a map entry per agent. It never blocks on
// the store.
func (e *Engine) Health(agentID string, seq uint64, at time.Time, h wire.Health) {
	s := &e.spool
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[string]healthObs{}
	}
	if old, ok := s.pending[agentID]; !ok || seq >= old.seq {
		s.pending[agentID] = healthObs{seq: seq, at: at, health: h}
	}
	wake := h.SpoolDropped > 0
	s.mu.Unlock()
	if wake {
		e.Wake()
	}
}

// evaluateSpool judges the waiting health records with spool-dropped and
// stores the findings in one transaction. On error the records wait again
// (unless a newer one came meanwhile). Called with e.mu held.
func (e *Engine) evaluateSpool(ctx context.Context) error {
	s := &e.spool
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if s.known == nil {
		s.known = map[string]uint64{}
	}
	requeue := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pending == nil {
			s.pending = map[string]healthObs{}
		}
		for id, o := range pending {
			if cur, ok := s.pending[id]; !ok || cur.seq < o.seq {
				s.pending[id] = o
			}
		}
	}
	now := e.now()
	var news []model.NewDeviation
	counts := map[string]uint64{}
	for _, id := range slices.Sorted(maps.Keys(pending)) {
		o := pending[id]
		counts[id] = o.health.SpoolDropped
		known, ok := s.known[id]
		if !ok && o.health.SpoolDropped > 0 {
			var err error
			if known, err = e.spoolJudged(ctx, id); err != nil {
				requeue()
				return err
			}
		}
		in := rules.SpoolInput{AgentID: id, Seq: o.seq, At: o.at, Health: o.health, Known: known}
		if _, fires := rules.SpoolDropped(in, e.cfg.Rules); !fires {
			continue
		}
		if h, err := e.cfg.Store.GetHost(ctx, id); err == nil {
			in.Hostname = h.Hostname
		} else if !errors.Is(err, model.ErrNotFound) {
			requeue()
			return fmt.Errorf("read host %s: %w", id, err)
		}
		f, _ := rules.SpoolDropped(in, e.cfg.Rules)
		news = append(news, e.open(f, e.agentUnit(id), now))
	}
	if len(news) > 0 {
		xs, err := activeExceptions(ctx, e.cfg.Store, now)
		if err != nil {
			requeue()
			return err
		}
		news = xs.filter(news)
		if err := e.record(ctx, news, model.Judged{}, now, "health records (spool drops)"); err != nil {
			requeue()
			return err
		}
	}
	maps.Copy(s.known, counts) // a lower count (a wiped spool) is the new base
	return nil
}

// spoolJudged returns the drop count the agent's newest spool-dropped
// deviation (open or closed) was opened with; 0 when it has none.
func (e *Engine) spoolJudged(ctx context.Context, agentID string) (uint64, error) {
	dl, ok := e.cfg.Store.(DeviationLister)
	if !ok {
		return 0, nil
	}
	ds, err := dl.ListDeviations(ctx, model.DeviationQuery{Rule: rules.SpoolDrops, Subject: rules.SpoolSubject(agentID), Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("read spool-dropped deviations of %s: %w", agentID, err)
	}
	if len(ds) == 0 {
		return 0, nil
	}
	n, _ := strconv.ParseUint(ds[0].Facts[rules.FactDropped], 10, 64)
	return n, nil
}
