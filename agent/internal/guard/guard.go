// Package guard is the agent's resource guard. It watches the agent's own CPU
// and memory against the budgets of its config and slows a periodic sensor
// that costs more than its share, as osquery's watchdog does, but it never
// kills or restarts anything and never drops spooled data: a sensor that
// overruns waits longer between its rounds, and the health record says so.
//
// A periodic sensor brackets each round with Pacer.Begin and the function it
// returns, and asks Pacer.Interval for the wait before the next round. Begin
// pins the goroutine to its OS thread for the round, so the round is charged
// the thread's CPU time (its wall time where the OS has no thread clock).
// From a sensor's cost per round and the interval it asks for, the guard
// projects the share of one core the sensor takes at each slow-down factor.
//
// Once a window the guard compares:
//   - each sensor's projected share with the sensor budget: a sensor over it
//     is slowed, its interval stretched by a factor that doubles once a window
//     while it stays over, up to MaxSlowdown;
//   - the agent's measured CPU with the agent budget: while the agent is over,
//     the sensor that costs most (if it accounts for at least a quarter of the
//     agent's CPU) is slowed one step a window;
//   - a slowed sensor whose share at half its factor would stay under 80 % of
//     both budgets gets half its factor back, one step a window.
//
// Memory: SetMemoryLimit makes the Go runtime collect harder as it nears the
// budget; RSS over the budget is reported and memory returned to the OS once
// per transition. Every transition is logged once, never once per window.
package guard

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// StateThrottled is the state of a sensor that the guard slows, in
// wire.SensorStatus.
const StateThrottled = "throttled"

// Config holds the budgets.
type Config struct {
	// CPUPercent is the agent's CPU budget in percent of one core, averaged
	// over Window; 0 means no CPU budget (nothing is slowed).
	CPUPercent float64
	// SensorCPUPercent is one sensor's budget; 0 means CPUPercent.
	SensorCPUPercent float64
	// MemoryBytes is the agent's RSS budget; 0 means none.
	MemoryBytes uint64
	// Window is the time between two checks (default one minute).
	Window time.Duration
	// MaxSlowdown caps the factor a sensor's interval is stretched by
	// (default 16); 1 reports overruns without slowing anything.
	MaxSlowdown int
}

// Probes measure the process; nil fields measure nothing (0), except Now
// and ThreadCPU, which default to the real clocks. Tests pass fakes.
type Probes struct {
	Now        func() time.Time
	ProcessCPU func() time.Duration // user+system CPU time of the process so far
	RSS        func() uint64        // resident set size in bytes
	Heap       func() uint64        // bytes of live Go heap objects
	ThreadCPU  func() (time.Duration, bool)
}

// Guard watches budgets and paces sensors. Its methods are safe for
// concurrent use.
type Guard struct {
	cfg Config
	p   Probes
	log *slog.Logger

	mu       sync.Mutex
	sensors  map[string]*pace
	lastAt   time.Time
	lastCPU  time.Duration
	cpu      float64 // agent CPU in percent of one core over the last window
	rss      uint64
	heap     uint64
	cpuOver  bool
	memOver  bool
	freeNext bool // return memory to the OS after this check
}

type pace struct {
	name     string
	cost     time.Duration // moving average of one round's CPU time
	rounds   uint64
	charged  time.Duration // CPU charged since the last check
	base     time.Duration // the interval last asked for, unstretched
	factor   int
	reason   string
	measured float64 // percent of one core charged in the last window
}

// New returns a guard with cfg's budgets; Run or Check start the checks.
func New(cfg Config, p Probes, log *slog.Logger) *Guard {
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.MaxSlowdown < 1 {
		cfg.MaxSlowdown = 16
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.ThreadCPU == nil {
		p.ThreadCPU = threadCPU
	}
	zeroD := func() time.Duration { return 0 }
	zeroU := func() uint64 { return 0 }
	if p.ProcessCPU == nil {
		p.ProcessCPU = zeroD
	}
	if p.RSS == nil {
		p.RSS = zeroU
	}
	if p.Heap == nil {
		p.Heap = zeroU
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{cfg: cfg, p: p, log: log, sensors: map[string]*pace{}, lastAt: p.Now(), lastCPU: p.ProcessCPU()}
}

// Config returns the budgets in force, defaults filled in.
func (g *Guard) Config() Config { return g.cfg }

// LimitMemory sets the Go runtime's soft memory limit to 80 % of the memory
// budget (the rest of RSS is code, stacks and buffers outside the Go heap),
// so that the collector works harder before RSS reaches the budget. It does
// nothing without a budget or when GOMEMLIMIT is set, and returns the limit
// it set.
func (g *Guard) LimitMemory() (int64, bool) {
	if g.cfg.MemoryBytes == 0 || os.Getenv("GOMEMLIMIT") != "" {
		return 0, false
	}
	lim := int64(min(g.cfg.MemoryBytes/10*8, 1<<62))
	debug.SetMemoryLimit(lim)
	return lim, true
}

// Pacer is what one sensor holds of the guard.
type Pacer struct {
	g *Guard
	s *pace
}

// Pacer returns the pacer of the named sensor (the same one for the same name).
func (g *Guard) Pacer(name string) *Pacer {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sensors[name]
	if s == nil {
		s = &pace{name: name, factor: 1}
		g.sensors[name] = s
	}
	return &Pacer{g: g, s: s}
}

// Begin marks the start of a round and returns the function that marks its
// end; both must be called on the same goroutine, end exactly once.
func (p *Pacer) Begin() (end func()) {
	runtime.LockOSThread()
	w0 := p.g.p.Now()
	c0, ok0 := p.g.p.ThreadCPU()
	return func() {
		c1, ok1 := p.g.p.ThreadCPU()
		w1 := p.g.p.Now()
		runtime.UnlockOSThread()
		spent := w1.Sub(w0)
		if ok0 && ok1 && c1 >= c0 {
			spent = c1 - c0
		}
		p.g.charge(p.s, max(spent, 0))
	}
}

// Interval returns the wait before the sensor's next round: d, stretched by
// the sensor's slow-down factor.
func (p *Pacer) Interval(d time.Duration) time.Duration {
	p.g.mu.Lock()
	p.s.base = d
	f := p.s.factor
	p.g.mu.Unlock()
	if d <= 0 || f <= 1 {
		return d
	}
	if d > time.Duration(1<<62)/time.Duration(f) {
		return 1 << 62
	}
	return d * time.Duration(f)
}

func (g *Guard) charge(s *pace, spent time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s.charged += spent
	if s.rounds == 0 {
		s.cost = spent
	} else {
		s.cost = (s.cost + spent) / 2
	}
	s.rounds++
}

// load is the sensor's projected share of one core, in percent, at factor f:
// its cost per round over its stretched interval, or, before it asked for
// an interval, its measured share scaled to f.
func (s *pace) load(f int) float64 {
	if s.base > 0 && s.rounds > 0 {
		return 100 * s.cost.Seconds() / (s.base.Seconds() * float64(f))
	}
	return s.measured * float64(s.factor) / float64(f)
}

func (g *Guard) sensorBudget() float64 {
	if g.cfg.SensorCPUPercent > 0 {
		return g.cfg.SensorCPUPercent
	}
	return g.cfg.CPUPercent
}

// Run checks once a window until done is closed.
func (g *Guard) Run(done <-chan struct{}) {
	t := time.NewTicker(g.cfg.Window)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			g.Check()
		}
	}
}

// Check measures the window since the last check and slows or speeds up
// sensors; Run calls it once a window.
func (g *Guard) Check() {
	g.check()
	g.mu.Lock()
	free := g.freeNext
	g.freeNext = false
	g.mu.Unlock()
	if free {
		debug.FreeOSMemory()
	}
}

func (g *Guard) check() {
	g.mu.Lock()
	defer g.mu.Unlock()
	now, cpu := g.p.Now(), g.p.ProcessCPU()
	el := now.Sub(g.lastAt)
	if el <= 0 {
		return
	}
	g.cpu = 0
	if cpu >= g.lastCPU {
		g.cpu = 100 * (cpu - g.lastCPU).Seconds() / el.Seconds()
	}
	g.lastAt, g.lastCPU = now, cpu
	g.rss, g.heap = g.p.RSS(), g.p.Heap()

	names := make([]string, 0, len(g.sensors))
	for n, s := range g.sensors {
		names = append(names, n)
		s.measured = 100 * s.charged.Seconds() / el.Seconds()
		s.charged = 0
	}
	slices.Sort(names)

	if budget := g.cfg.CPUPercent; budget > 0 {
		sb := g.sensorBudget()
		stepped := map[string]bool{}
		for _, n := range names {
			s := g.sensors[n]
			if l := s.load(s.factor); l > sb {
				g.slow(s, fmt.Sprintf("sensor uses %.1f%% of a core, over its budget of %.1f%%", l, sb))
				stepped[n] = true
			}
		}
		if g.cpu > budget {
			var worst *pace
			for _, n := range names {
				s := g.sensors[n]
				if !stepped[n] && s.load(s.factor) >= g.cpu/4 && (worst == nil || s.load(s.factor) > worst.load(worst.factor)) {
					worst = s
				}
			}
			if worst != nil {
				g.slow(worst, fmt.Sprintf("agent uses %.1f%% of a core, over its budget of %.1f%%; this sensor %.1f%%",
					g.cpu, budget, worst.load(worst.factor)))
				stepped[worst.name] = true
			}
		}
		for _, n := range names {
			s := g.sensors[n]
			if s.factor <= 1 || stepped[n] {
				continue
			}
			half := max(s.factor/2, 1)
			if s.load(half) <= 0.8*sb && g.cpu-s.load(s.factor)+s.load(half) <= 0.8*budget {
				g.speed(s, half)
			}
		}
	}

	if over := g.cfg.CPUPercent > 0 && g.cpu > g.cfg.CPUPercent; over != g.cpuOver {
		g.cpuOver = over
		if over {
			g.log.Warn("agent over its CPU budget", "cpu_percent", round1(g.cpu), "budget_percent", g.cfg.CPUPercent)
		} else {
			g.log.Info("agent back under its CPU budget", "cpu_percent", round1(g.cpu), "budget_percent", g.cfg.CPUPercent)
		}
	}
	if over := g.cfg.MemoryBytes > 0 && g.rss > g.cfg.MemoryBytes; over != g.memOver {
		g.memOver = over
		if over {
			g.log.Warn("agent over its memory budget; returning free memory to the OS",
				"rss_bytes", g.rss, "heap_bytes", g.heap, "budget_bytes", g.cfg.MemoryBytes)
			g.freeNext = true
		} else {
			g.log.Info("agent back under its memory budget", "rss_bytes", g.rss, "budget_bytes", g.cfg.MemoryBytes)
		}
	}
}

// slow doubles s's factor up to the cap; the first step is logged.
func (g *Guard) slow(s *pace, reason string) {
	from := s.factor
	s.factor = min(s.factor*2, g.cfg.MaxSlowdown)
	if s.factor <= 1 {
		return
	}
	s.reason = reason
	switch {
	case from <= 1:
		g.log.Warn("sensor slowed by the resource guard", "sensor", s.name, "factor", s.factor, "reason", reason)
	case s.factor != from:
		g.log.Debug("sensor slowed further", "sensor", s.name, "factor", s.factor, "reason", reason)
	}
}

// speed sets s's factor to f; reaching 1 is logged.
func (g *Guard) speed(s *pace, f int) {
	s.factor = f
	if f <= 1 {
		s.factor, s.reason = 1, ""
		g.log.Info("sensor back at its own pace", "sensor", s.name)
		return
	}
	g.log.Debug("sensor sped up", "sensor", s.name, "factor", f)
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// SensorState is what the guard knows of one sensor.
type SensorState struct {
	Factor     int     // 1 when not slowed
	Reason     string  // why it is slowed
	CPUPercent float64 // charged in the last window, percent of one core
}

// Sensor returns the guard's state of the named sensor; ok is false for a
// sensor without a pacer.
func (g *Guard) Sensor(name string) (st SensorState, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.sensors[name]
	if s == nil {
		return SensorState{Factor: 1}, false
	}
	return SensorState{Factor: s.factor, Reason: s.reason, CPUPercent: s.measured}, true
}

// Fill adds the guard's view to a health record: budgets, heap, what is over
// budget, and for each sensor that runs under a pacer its CPU share and,
// when slowed, the state "throttled" with factor and reason.
func (g *Guard) Fill(h *wire.Health) {
	g.mu.Lock()
	defer g.mu.Unlock()
	h.CPUBudget = g.cfg.CPUPercent
	h.MemoryBudget = g.cfg.MemoryBytes
	h.HeapBytes = g.p.Heap()
	h.OverBudget = nil
	if g.cpuOver {
		h.OverBudget = append(h.OverBudget, "cpu")
	}
	if g.memOver {
		h.OverBudget = append(h.OverBudget, "memory")
	}
	for i := range h.Sensors {
		ss := &h.Sensors[i]
		s := g.sensors[ss.Name]
		if s == nil {
			continue
		}
		ss.CPUPercent = round1(s.measured)
		if s.factor > 1 && ss.State == "running" {
			ss.State, ss.Slowdown, ss.Reason = StateThrottled, s.factor, s.reason
		}
	}
}
