// Package app is the agent's lifecycle: it loads identity and the last policy,
// opens the spool, starts every enabled sensor and the uplink, emits hello and
// health records, and stops them all within a deadline. Start returns at once,
// as a service manager expects.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/config"
	"github.com/sonevakt/sonevakt/agent/internal/guard"
	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/agent/internal/uplink"
	"github.com/sonevakt/sonevakt/pkg/buildinfo"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// DefaultPolicy is enforced until the collector sends one.
var DefaultPolicy = wire.Policy{Version: 0, HealthInterval: 60, InventoryInterval: 3600, RenewAfter: 2.0 / 3}

// App is a running agent.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	id      *identity.Identity
	spool   *spool.Spool
	up      *uplink.Client
	guard   *guard.Guard
	policy  atomic.Pointer[wire.Policy]
	lastAck atomic.Pointer[wire.Ack]
	started time.Time

	mu      sync.Mutex
	sensors map[string]*sensorState

	cancel context.CancelFunc
	done   chan struct{}
}

type sensorState struct {
	state   string
	err     string
	records atomic.Uint64
}

// New loads the identity, the last policy and the spool from the data dir.
func New(cfg config.Config, log *slog.Logger) (*App, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("no data dir")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	id, err := identity.Load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	sp, err := spool.Open(filepath.Join(cfg.DataDir, "spool"), spool.Options{MaxBytes: cfg.Spool.MaxBytes, Logger: log.With("part", "spool")})
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	a := &App{cfg: cfg, log: log, id: id, spool: sp, sensors: map[string]*sensorState{}, guard: newGuard(cfg, log)}
	p := DefaultPolicy
	if saved, err := loadPolicy(cfg.DataDir); err == nil {
		p = saved
	} else if !errors.Is(err, os.ErrNotExist) {
		log.Warn("last policy unreadable; using defaults until the collector sends one", "err", err)
	}
	a.policy.Store(&p)
	a.up = uplink.New(uplink.Config{
		Identity: id, Addr: cfg.Collector, Spool: sp, Logger: log.With("part", "uplink"),
		Hello: a.hello, OnPolicy: a.setPolicy,
		OnAck:     func(ack wire.Ack) { a.lastAck.Store(&ack) },
		Transport: cfg.Uplink.Transport, QUICTimeout: cfg.Uplink.QUICTimeout, ProbeInterval: cfg.Uplink.QUICProbe,
	})
	return a, nil
}

// newGuard returns the resource guard with the config's budgets and the
// process's real probes.
func newGuard(cfg config.Config, log *slog.Logger) *guard.Guard {
	g := cfg.Guard
	return guard.New(guard.Config{
		CPUPercent: g.CPUPercent, SensorCPUPercent: g.SensorCPUPercent, MemoryBytes: uint64(max(g.MemoryMB, 0)) << 20,
		Window: g.Window, MaxSlowdown: g.MaxSlowdown,
	}, guard.Probes{ProcessCPU: processCPU, RSS: processRSS, Heap: heapBytes}, log.With("part", "guard"))
}

// Policy returns the policy in force, with the config's interval overrides.
func (a *App) Policy() wire.Policy {
	p := *a.policy.Load()
	if d := a.cfg.Intervals.Health; d > 0 {
		p.HealthInterval = 0 // expressed through healthEvery
	}
	if d := a.cfg.Intervals.Inventory; d > 0 {
		p.InventoryInterval = int64(max(d/time.Second, 1))
	}
	return p
}

func (a *App) setPolicy(p wire.Policy) error {
	if cur := a.policy.Load(); cur != nil && p.Version < cur.Version {
		a.log.Warn("collector sent an older policy than the one held; keeping it", "held", cur.Version, "got", p.Version)
		return nil
	}
	b, err := wire.Marshal(p)
	if err != nil {
		return err
	}
	if err := pki.WriteFile(policyPath(a.cfg.DataDir), b, 0o600); err != nil {
		return fmt.Errorf("persist policy: %w", err)
	}
	a.policy.Store(&p)
	a.log.Info("policy applied", "version", p.Version)
	return nil
}

func policyPath(dir string) string { return filepath.Join(dir, "policy.cbor") }

func loadPolicy(dir string) (wire.Policy, error) {
	var p wire.Policy
	b, err := os.ReadFile(policyPath(dir))
	if err != nil {
		return p, err
	}
	err = wire.Unmarshal(b, &p)
	return p, err
}

func (a *App) hello() wire.Hello {
	host, _ := os.Hostname()
	return wire.Hello{
		Version: wire.Version, AgentVersion: buildinfo.Version, Hostname: host,
		OS: runtime.GOOS, Arch: runtime.GOARCH, PolicyVersion: a.policy.Load().Version,
	}
}

// Emit appends a record to the spool; a sensor's records go through here.
func (a *App) emit(name string, r wire.Record) {
	seq, err := a.spool.Append(r)
	if err != nil {
		a.log.Error("spool append failed; record lost", "sensor", name, "kind", r.Kind, "err", err)
		return
	}
	if urgent(r.Kind) {
		r.Seq = seq
		a.up.Express(r)
	}
	a.mu.Lock()
	st := a.sensors[name]
	a.mu.Unlock()
	if st != nil {
		st.records.Add(1)
	}
}

// urgent reports whether records of a kind skip the queue (uplink.Express):
// a removable medium must reach the collector within a second even while a
// large inventory is on its way.
func urgent(k wire.Kind) bool { return k == wire.KindMedia }

// Start starts sensors and the uplink and returns at once.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.done = make(chan struct{})
	a.started = time.Now()
	var wg sync.WaitGroup

	if r, err := wire.NewRecord(wire.KindHello, time.Now(), a.hello()); err == nil {
		a.emit("agent", r)
	}
	env := sensor.Env{
		Policy: a.Policy,
		LastAck: func() wire.Ack {
			if p := a.lastAck.Load(); p != nil {
				return *p
			}
			return wire.Ack{}
		},
		LastSeq:   func() uint64 { return a.spool.Stats().NextSeq - 1 },
		Collector: a.up.Addr(),
	}
	for _, reg := range sensor.All() {
		on := reg.DefaultEnabled
		if v, ok := a.cfg.Sensors[reg.Name]; ok {
			on = v
		}
		if on {
			a.startSensor(ctx, &wg, reg, env)
		}
	}
	if lim, ok := a.guard.LimitMemory(); ok {
		a.log.Debug("Go memory limit set from the memory budget", "limit_bytes", lim)
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.guard.Run(ctx.Done()) }()
	wg.Add(2)
	go func() { defer wg.Done(); a.healthLoop(ctx) }()
	go func() { defer wg.Done(); _ = a.up.Run(ctx) }()
	go func() { wg.Wait(); close(a.done) }()
	a.log.Info("agent started", "agent", a.id.AgentID, "version", buildinfo.String(), "collector", a.up.Addr())
	return nil
}

// startSensor creates one sensor with its own logger, state dir, options and
// pacer, and runs it on wg.
func (a *App) startSensor(ctx context.Context, wg *sync.WaitGroup, reg sensor.Registration, env sensor.Env) {
	st := &sensorState{state: "running"}
	a.mu.Lock()
	a.sensors[reg.Name] = st
	a.mu.Unlock()
	env.Logger = a.log.With("sensor", reg.Name)
	env.StateDir = filepath.Join(a.cfg.DataDir, "sensor", reg.Name)
	env.Options = a.cfg.SensorOptions[reg.Name]
	env.Pace = a.guard.Pacer(reg.Name)
	if err := os.MkdirAll(env.StateDir, 0o700); err != nil {
		a.setSensor(reg.Name, "failed", err)
		a.log.Error("sensor not started", "sensor", reg.Name, "err", err)
		return
	}
	s, err := reg.New(env)
	if err != nil {
		a.setSensor(reg.Name, "failed", err)
		a.log.Error("sensor not started", "sensor", reg.Name, "err", err)
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		name := s.Name()
		err := s.Run(ctx, func(r wire.Record) { a.emit(name, r) })
		if err != nil && ctx.Err() == nil {
			a.setSensor(name, "failed", err)
			a.log.Error("sensor stopped", "sensor", name, "err", err)
			return
		}
		a.setSensor(name, "stopped", nil)
	}()
}

func (a *App) setSensor(name, state string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.sensors[name]
	if st == nil {
		return
	}
	st.state = state
	if err != nil {
		st.err = err.Error()
	}
}

// Stop cancels everything and waits up to timeout; the spool is closed last, so
// every record appended before Stop is on disk.
func (a *App) Stop(timeout time.Duration) error {
	if a.cancel == nil {
		return a.spool.Close()
	}
	a.cancel()
	var err error
	select {
	case <-a.done:
	case <-time.After(timeout):
		err = fmt.Errorf("agent did not stop within %v", timeout)
	}
	if cerr := a.spool.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (a *App) healthEvery() time.Duration {
	if d := a.cfg.Intervals.Health; d > 0 {
		return d
	}
	if s := a.policy.Load().HealthInterval; s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Minute
}

func (a *App) healthLoop(ctx context.Context) {
	var lastCPU time.Duration
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.healthEvery()):
		}
		cpu := processCPU()
		now := time.Now()
		pct := 0.0
		if el := now.Sub(last); el > 0 && cpu >= lastCPU {
			pct = 100 * float64(cpu-lastCPU) / float64(el)
		}
		lastCPU, last = cpu, now
		r, err := wire.NewRecord(wire.KindHealth, now, a.Health(pct))
		if err != nil {
			a.log.Error("encode health", "err", err)
			continue
		}
		a.emit("agent", r)
	}
}

// Health returns the agent's own state, with the resource guard's view:
// budgets, and which sensors it slows.
func (a *App) Health(cpuPercent float64) wire.Health {
	ss := a.spool.Stats()
	h := wire.Health{
		AgentVersion: buildinfo.Version, RSSBytes: processRSS(), CPUPercent: cpuPercent,
		SpoolRecords: ss.Records, SpoolBytes: ss.Bytes, SpoolDropped: ss.Dropped,
		Uptime: int64(time.Since(a.started) / time.Second), PolicyVersion: a.policy.Load().Version,
	}
	if a.up != nil {
		h.Transport = a.up.Stats().Transport // quic, or tcp where UDP is blocked
	}
	a.mu.Lock()
	for name, st := range a.sensors {
		h.Sensors = append(h.Sensors, wire.SensorStatus{Name: name, State: st.state, Error: st.err, Records: st.records.Load()})
	}
	a.mu.Unlock()
	slices.SortFunc(h.Sensors, func(x, y wire.SensorStatus) int { return strings.Compare(x.Name, y.Name) })
	a.guard.Fill(&h)
	return h
}
