// Package deviation turns findings into deviations (avvik): it runs the rules
// over what ingest stored, routes each finding to the information security
// officer and the unit's line manager (S1.2), sets its due date by severity
// and, where personal data may be involved, the 72-hour breach deadline, and
// hands the lot to the store, which dedupes them into one open deviation per
// rule and subject.
//
// The Engine is the loop that does this for media events and hourly flows:
// woken by ingest after a commit, and on a timer to retry and to pick up
// what a crash left. Beside it runs the evaluation of hosts (hosts.go): the
// host rules judge standing conditions of the configuration map (an
// unregistered host stays unregistered until it is registered), so they run
// over the whole map on a timer and when woken, and the store records their
// findings as conditions that become active, are restated and clear, rather
// than as an occurrence per evaluation.
// What the rules decide lives in package rules; how a deviation moves through
// its lifecycle is the store's (and the web's, for people's actions).
package deviation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// Defaults of the engine's loop.
const (
	DefaultInterval = 5 * time.Second
	DefaultBatch    = 500
)

// Store is what the engine needs of the store.
type Store interface {
	PendingMedia(ctx context.Context, limit int) ([]model.MediaEvent, error)
	PendingFlows(ctx context.Context, limit int) ([]model.FlowHour, error)
	MediaRegister(ctx context.Context) ([]model.MediaEntry, error)
	RecordFindings(ctx context.Context, fs []model.NewDeviation, judged model.Judged, now time.Time) ([]model.RecordResult, error)
	CurrentPolicy(ctx context.Context) (wire.Policy, error)
	GetHost(ctx context.Context, agentID string) (model.HostSummary, error)
}

// Config configures an Engine.
type Config struct {
	Store Store
	Rules rules.Config
	// ZoneMap is the zones file: the zones and the firewall map that
	// cross-zone-flow and shared-solution judge flows by; nil when none is
	// configured (then neither fires, and pending flows are marked judged
	// with no findings).
	ZoneMap *zone.Map
	// Zones places hosts in zones by the addresses of their interfaces; nil
	// for ZoneMap's zones (and with neither, every host's zone is unknown).
	Zones *zone.Table
	// SharedSolutions returns the hosts registered as shared-solution
	// machines (S5.2), by agent id or hostname: shared-solution spares them.
	// Nil: none is registered.
	SharedSolutions func() map[string]bool
	// Due is the time to handle a deviation by severity, over DefaultDue.
	Due    map[string]time.Duration
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards logs
	// OnChange, if set, is called with what each stored chunk of findings
	// did (new deviations and occurrences), for live updates.
	OnChange func([]model.RecordResult)
	// Interval is how often the engine looks for pending events without
	// being woken; DefaultInterval when zero.
	Interval time.Duration
	// Batch is how many events are judged and stored in one transaction;
	// DefaultBatch when zero.
	Batch int

	// Hosts is what the host rules read and record (see EvaluateHosts);
	// nil for Store when it implements HostStore. Without one the host
	// rules do not run.
	Hosts HostStore
	// HostInterval is how often the host rules run without being woken;
	// DefaultHostInterval when zero.
	HostInterval time.Duration
	// HostWakeGap is the least time from one host evaluation to the next
	// that WakeHosts starts; DefaultHostWakeGap when zero.
	HostWakeGap time.Duration
	// Assignees, if set, says who a finding about a subject of the unit goes
	// to (the organisation register's Router.Assignees); nil keeps Route's
	// security officer and unit manager by role.
	Assignees func(unit string) []string
	// SoftwareMode is how the software catalogue judges packages:
	// rules.SoftwareDenylist ("" too) or rules.SoftwareAllowlist.
	SoftwareMode string
	// SilentAfter is how long an agent may stay quiet before its asset
	// counts as silent (agent-silent); configmap.DefaultSilentAfter when
	// zero.
	SilentAfter time.Duration
	// Suppliers returns the supplier personnel of the organisation register
	// for supplier-access; nil leaves that rule unevaluated.
	Suppliers func(ctx context.Context) ([]model.SupplierPerson, error)
}

// Engine judges pending media events and hourly flows and records what the
// rules find.
type Engine struct {
	cfg  Config
	sla  SLA
	log  *slog.Logger
	now  func() time.Time
	wake chan struct{}
	mu   sync.Mutex // one evaluation at a time

	hosts     HostStore
	wakeHosts chan struct{}
	hostMu    sync.Mutex // one host evaluation at a time
	// units is, by agent id, the owner unit of the asset each agent matched
	// at the last host evaluation: the unit an event on that host is routed
	// to when the event's own subject names none.
	units atomic.Pointer[map[string]string]
	// swDirty asks the next host evaluation to judge software; swLast is
	// when it last did (guarded by hostMu).
	swDirty atomic.Bool
	swLast  time.Time
	// spool holds the health records spool-dropped judges (spool.go).
	spool spoolState
}

// agentUnit returns the owner unit of the agent's asset, as the last host
// evaluation reconciled it; "" when unknown.
func (e *Engine) agentUnit(agentID string) string {
	if m := e.units.Load(); m != nil {
		return (*m)[agentID]
	}
	return ""
}

// New returns an engine; Run starts it.
func New(cfg Config) *Engine {
	e := &Engine{cfg: cfg, sla: NewSLA(cfg.Due), log: cfg.Logger, now: cfg.Now, wake: make(chan struct{}, 1)}
	e.swDirty.Store(true) // judged at the first host evaluation
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.cfg.Interval <= 0 {
		e.cfg.Interval = DefaultInterval
	}
	if e.cfg.Batch <= 0 {
		e.cfg.Batch = DefaultBatch
	}
	e.wakeHosts = make(chan struct{}, 1)
	e.hosts = cfg.Hosts
	if hs, ok := cfg.Store.(HostStore); ok && e.hosts == nil {
		e.hosts = hs
	}
	if e.cfg.HostInterval <= 0 {
		e.cfg.HostInterval = DefaultHostInterval
	}
	if e.cfg.HostWakeGap <= 0 {
		e.cfg.HostWakeGap = DefaultHostWakeGap
	}
	return e
}

// Wake asks the engine to look for pending events now. It never blocks;
// wakes that arrive while one is pending are merged.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run evaluates pending events at once (what a crash left), then whenever
// woken and every Interval, until ctx is done. An evaluation that fails is
// logged and retried at the next tick (wakes wait until then); since events
// are marked judged only in the transaction that stores their findings,
// nothing is lost or counted twice. On every tick it also escalates overdue
// breach assessments (EscalateBreaches). Beside it, with a HostStore, the host
// rules run at once, whenever woken by WakeHosts and every HostInterval;
// Run returns when both loops have stopped.
func (e *Engine) Run(ctx context.Context) {
	if e.hosts != nil {
		var wg sync.WaitGroup
		wg.Go(func() { e.runHosts(ctx) })
		defer wg.Wait()
	}
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		wake := e.wake
		if err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
			e.log.ErrorContext(ctx, "evaluate pending events; retrying", "err", err, "in", e.cfg.Interval)
			wake = nil // a failing store is not hammered on every commit
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
			if err := e.EscalateBreaches(ctx); err != nil && ctx.Err() == nil {
				e.log.ErrorContext(ctx, "escalate breach assessments; retrying", "err", err, "in", e.cfg.Interval)
			}
		}
	}
}

// Evaluate judges every pending media event, then every pending hourly
// flow, now, in chunks of Batch, each chunk's findings stored with its rows
// marked judged in one transaction, and then the health records handed to
// Health (spool-dropped). Each kind stops at its first error (the chunks
// before it stay stored); the errors of all are returned.
func (e *Engine) Evaluate(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var r *round
	round := func() (*round, error) {
		if r == nil {
			// The register and the policy, once per evaluation: a change
			// applies from the next one.
			var err error
			if r, err = e.newRound(ctx); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
	errMedia := e.evaluateMedia(ctx, round)
	errFlows := e.evaluateFlows(ctx, round)
	errSpool := e.evaluateSpool(ctx)
	return errors.Join(errMedia, errFlows, errSpool)
}

// evaluateMedia judges the pending media events, chunk by chunk.
func (e *Engine) evaluateMedia(ctx context.Context, round func() (*round, error)) error {
	var last int64
	for {
		evs, err := e.cfg.Store.PendingMedia(ctx, e.cfg.Batch)
		if err != nil {
			return fmt.Errorf("read pending media events: %w", err)
		}
		if len(evs) == 0 {
			return nil
		}
		if evs[0].ID <= last {
			// The store did not mark the chunk judged: stop rather than
			// record the same findings again and again.
			return fmt.Errorf("media event %d is still pending after it was judged", evs[0].ID)
		}
		r, err := round()
		if err != nil {
			return err
		}
		if err := e.judge(ctx, r, evs); err != nil {
			return err
		}
		last = evs[len(evs)-1].ID
		if len(evs) < e.cfg.Batch {
			return nil
		}
	}
}

// evaluateFlows judges the pending hourly flows, chunk by chunk.
func (e *Engine) evaluateFlows(ctx context.Context, round func() (*round, error)) error {
	var last int64
	for {
		fs, err := e.cfg.Store.PendingFlows(ctx, e.cfg.Batch)
		if err != nil {
			return fmt.Errorf("read pending hourly flows: %w", err)
		}
		if len(fs) == 0 {
			return nil
		}
		if fs[0].ID <= last {
			return fmt.Errorf("hourly flow %d is still pending after it was judged", fs[0].ID)
		}
		r, err := round()
		if err != nil {
			return err
		}
		if err := e.judgeFlows(ctx, r, fs); err != nil {
			return err
		}
		last = fs[len(fs)-1].ID
		if len(fs) < e.cfg.Batch {
			return nil
		}
	}
}

// round is what one evaluation judges against.
type round struct {
	register rules.MediaIndex
	policy   wire.MediaPolicy
	zones    map[string]zone.Zone // by agent id, filled as hosts appear
	// exceptions are the (rule, subject) pairs whose findings are dropped:
	// the exceptions active when the round began.
	exceptions exceptionSet
}

func (e *Engine) newRound(ctx context.Context) (*round, error) {
	reg, err := e.cfg.Store.MediaRegister(ctx)
	if err != nil {
		return nil, fmt.Errorf("read media register: %w", err)
	}
	p, err := e.cfg.Store.CurrentPolicy(ctx)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	xs, err := activeExceptions(ctx, e.cfg.Store, e.now())
	if err != nil {
		return nil, err
	}
	r := &round{register: rules.NewMediaIndex(reg), zones: map[string]zone.Zone{}, exceptions: xs}
	if p.Media != nil {
		r.policy = *p.Media
	}
	return r, nil
}

// judge evaluates one chunk of media events and stores its findings.
func (e *Engine) judge(ctx context.Context, r *round, evs []model.MediaEvent) error {
	now := e.now()
	var news []model.NewDeviation
	ids := make([]int64, 0, len(evs))
	for _, ev := range evs {
		z, err := e.hostZone(ctx, r, ev.AgentID)
		if err != nil {
			return err
		}
		entry := r.register.Find(ev.Event.Device)
		in := rules.MediaInput{
			AgentID: ev.AgentID, Hostname: ev.Hostname, Seq: ev.Seq, At: ev.At, Event: ev.Event,
			Entry: entry, Policy: r.policy, Zone: z,
		}
		unit := e.agentUnit(ev.AgentID) // the host's unit, unless the medium is registered to one
		if entry != nil && entry.OwnerUnit != "" {
			unit = entry.OwnerUnit
		}
		for _, f := range rules.Media(in, e.cfg.Rules) {
			news = append(news, e.open(f, unit, now))
		}
		ids = append(ids, ev.ID)
	}
	news = r.exceptions.filter(news)
	return e.record(ctx, news, model.Judged{Media: ids}, now,
		fmt.Sprintf("media events %d to %d", ids[0], ids[len(ids)-1]))
}

// judgeFlows evaluates one chunk of hourly flows with cross-zone-flow, row
// by row, and with shared-solution, host by host over the chunk, and stores
// their findings. The unit of a flow is not known yet (the organisation
// register will tell a host's unit), so flows go to the security officer.
func (e *Engine) judgeFlows(ctx context.Context, r *round, fs []model.FlowHour) error {
	now := e.now()
	zm := e.cfg.ZoneMap
	var news []model.NewDeviation
	ids := make([]int64, 0, len(fs))
	var agents []string
	byAgent := map[string][]model.FlowHour{}
	for _, f := range fs {
		if fd, ok := rules.Flow(f, zm, e.cfg.Rules); ok {
			news = append(news, e.open(fd, e.agentUnit(f.AgentID), now))
		}
		if _, ok := byAgent[f.AgentID]; !ok {
			agents = append(agents, f.AgentID)
		}
		byAgent[f.AgentID] = append(byAgent[f.AgentID], f)
		ids = append(ids, f.ID)
	}
	if zm != nil {
		var shared map[string]bool
		if e.cfg.SharedSolutions != nil {
			shared = e.cfg.SharedSolutions()
		}
		for _, ag := range agents {
			own, err := e.hostZone(ctx, r, ag)
			if err != nil {
				return err
			}
			hf := byAgent[ag]
			host := hf[0].Hostname
			in := rules.SharedInput{AgentID: ag, Hostname: host, Own: own, Flows: hf,
				Registered: shared[ag] || (host != "" && shared[host])}
			if fd, ok := rules.Shared(in, zm, e.cfg.Rules); ok {
				news = append(news, e.open(fd, e.agentUnit(ag), now))
			}
		}
	}
	news = r.exceptions.filter(news)
	return e.record(ctx, news, model.Judged{Flows: ids}, now,
		fmt.Sprintf("hourly flows %d to %d", ids[0], ids[len(ids)-1]))
}

// record stores one chunk's findings with its rows marked judged, logs the
// deviations opened and reports the change; what names the chunk in errors.
func (e *Engine) record(ctx context.Context, news []model.NewDeviation, judged model.Judged, now time.Time, what string) error {
	res, err := e.cfg.Store.RecordFindings(ctx, news, judged, now)
	if err != nil {
		return fmt.Errorf("record findings of %s: %w", what, err)
	}
	for i, rr := range res {
		if rr.Created && i < len(news) {
			e.log.InfoContext(ctx, "deviation opened", "id", rr.ID, "rule", news[i].Rule, "subject", news[i].Subject,
				"agent", news[i].AgentID, "severity", news[i].Severity)
		}
	}
	if len(res) > 0 && e.cfg.OnChange != nil {
		e.cfg.OnChange(res)
	}
	return nil
}

// hostZone returns the zone of an agent's host, from the addresses of its
// interfaces by Zones, else by ZoneMap's zones; the zero Zone when no zones
// are configured, the host has sent no facts, or no address is in a listed
// zone.
func (e *Engine) hostZone(ctx context.Context, r *round, agentID string) (zone.Zone, error) {
	zones := e.cfg.Zones
	if zones == nil {
		zones = e.cfg.ZoneMap.Table()
	}
	if zones.Len() == 0 {
		return zone.Zone{}, nil
	}
	if z, ok := r.zones[agentID]; ok {
		return z, nil
	}
	h, err := e.cfg.Store.GetHost(ctx, agentID)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return zone.Zone{}, fmt.Errorf("read host %s: %w", agentID, err)
	}
	z, _ := zones.HostZone(HostAddrs(h.Facts))
	r.zones[agentID] = z
	return z, nil
}

// HostAddrs returns the addresses of a host's interfaces, as the zone table
// takes them; nil for a host without facts.
func HostAddrs(h *wire.Host) []netip.Addr {
	if h == nil {
		return nil
	}
	var out []netip.Addr
	for _, ifc := range h.Interfaces {
		for _, s := range ifc.Addrs {
			if a, ok := zone.ParseAddr(s); ok {
				out = append(out, a)
			}
		}
	}
	return out
}
