package guard

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fake is a clock and a process whose CPU, memory and thread clock the test
// sets; the controller logic runs on it without timing.
type fake struct {
	mu      sync.Mutex
	now     time.Time
	cpu     time.Duration // process CPU
	thread  time.Duration // the thread clock Begin and end read
	rss     uint64
	noClock bool // the OS has no thread clock
}

func (f *fake) probes() Probes {
	return Probes{
		Now:        func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now },
		ProcessCPU: func() time.Duration { f.mu.Lock(); defer f.mu.Unlock(); return f.cpu },
		RSS:        func() uint64 { f.mu.Lock(); defer f.mu.Unlock(); return f.rss },
		Heap:       func() uint64 { return 1 << 20 },
		ThreadCPU: func() (time.Duration, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.thread, !f.noClock
		},
	}
}

// round runs one round of p that costs cost CPU (and as much wall time).
func (f *fake) round(p *Pacer, cost time.Duration) {
	end := p.Begin()
	f.mu.Lock()
	f.thread += cost
	f.now = f.now.Add(cost)
	f.mu.Unlock()
	end()
}

// window lets a window pass in which the process used cpu in total.
func (f *fake) window(g *Guard, d, cpu time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.cpu += cpu
	f.mu.Unlock()
	g.Check()
}

// logRec collects log messages with their level.
type logRec struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRec) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRec) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logRec) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRec) WithGroup(string) slog.Handler      { return l }

func (l *logRec) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func newFake(t *testing.T, cfg Config) (*fake, *Guard, *logRec) {
	t.Helper()
	f := &fake{now: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	lr := &logRec{}
	return f, New(cfg, f.probes(), slog.New(lr)), lr
}

func factor(t *testing.T, g *Guard, name string) int {
	t.Helper()
	st, ok := g.Sensor(name)
	if !ok {
		t.Fatalf("no state for sensor %q", name)
	}
	return st.Factor
}

// A sensor whose rounds cost 2 s of CPU every 10 s (20 % of a core) under a
// 5 % budget is slowed to 4x (5 %), stays there while it costs as much,
// and speeds up one step a window once its rounds get cheap; each
// transition is logged once.
func TestSlowsAndRecovers(t *testing.T) {
	f, g, lr := newFake(t, Config{CPUPercent: 5, Window: time.Minute, MaxSlowdown: 16})
	p := g.Pacer("inventory")
	var got []int
	for range 4 {
		f.round(p, 2*time.Second)
		if d := p.Interval(10 * time.Second); d != 10*time.Second*time.Duration(factor(t, g, "inventory")) {
			t.Fatalf("Interval(10s) = %v at factor %d", d, factor(t, g, "inventory"))
		}
		f.window(g, time.Minute, 2*time.Second)
		got = append(got, factor(t, g, "inventory"))
	}
	if want := []int{2, 4, 4, 4}; !equal(got, want) {
		t.Fatalf("factors while costly = %v, want %v", got, want)
	}
	st, _ := g.Sensor("inventory")
	if !strings.Contains(st.Reason, "over its budget of 5.0%") {
		t.Errorf("reason = %q, want the sensor budget named", st.Reason)
	}
	if d := p.Interval(10 * time.Second); d != 40*time.Second {
		t.Errorf("Interval(10s) while slowed 4x = %v, want 40s", d)
	}

	got = got[:0]
	for range 12 {
		f.round(p, time.Millisecond)
		f.window(g, time.Minute, time.Millisecond)
		got = append(got, factor(t, g, "inventory"))
		if got[len(got)-1] == 1 {
			break
		}
	}
	if got[len(got)-1] != 1 {
		t.Fatalf("factors after rounds got cheap = %v, want it back at 1", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1]/2 || got[i] > got[i-1] {
			t.Fatalf("factors after rounds got cheap = %v: want at most one halving a window", got)
		}
	}
	if st, _ := g.Sensor("inventory"); st.Reason != "" {
		t.Errorf("reason after recovery = %q, want none", st.Reason)
	}
	if n := lr.count("sensor slowed by the resource guard"); n != 1 {
		t.Errorf("logged 'slowed' %d times, want once: %v", n, lr.msgs)
	}
	if n := lr.count("sensor back at its own pace"); n != 1 {
		t.Errorf("logged 'back at its own pace' %d times, want once: %v", n, lr.msgs)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The factor doubles while over and stops at MaxSlowdown.
func TestCapsAtMaxSlowdown(t *testing.T) {
	f, g, _ := newFake(t, Config{CPUPercent: 5, MaxSlowdown: 8})
	p := g.Pacer("sockets")
	var got []int
	for range 5 {
		f.round(p, 10*time.Second)
		p.Interval(5 * time.Second)
		f.window(g, time.Minute, 10*time.Second)
		got = append(got, factor(t, g, "sockets"))
	}
	if want := []int{2, 4, 8, 8, 8}; !equal(got, want) {
		t.Errorf("factors = %v, want %v", got, want)
	}
}

// MaxSlowdown 1 reports an overrunning agent without slowing anything.
func TestReportOnly(t *testing.T) {
	f, g, _ := newFake(t, Config{CPUPercent: 5, MaxSlowdown: 1})
	p := g.Pacer("sockets")
	f.round(p, 30*time.Second)
	p.Interval(5 * time.Second)
	f.window(g, time.Minute, 30*time.Second)
	if n := factor(t, g, "sockets"); n != 1 {
		t.Errorf("factor = %d, want 1", n)
	}
	h := wire.Health{Sensors: []wire.SensorStatus{{Name: "sockets", State: "running"}}}
	g.Fill(&h)
	if h.Sensors[0].State != "running" || h.Sensors[0].Slowdown != 0 || len(h.OverBudget) != 1 || h.OverBudget[0] != "cpu" {
		t.Errorf("health = %+v, want sockets running and the agent over its CPU budget", h)
	}
}

// While the agent is over its budget, the sensor that costs most is slowed
// (one step a window), not one that costs little; the agent's overrun is
// reported even when no sensor explains it.
func TestAgentOverBudget(t *testing.T) {
	f, g, lr := newFake(t, Config{CPUPercent: 5, SensorCPUPercent: 50})
	big, small := g.Pacer("big"), g.Pacer("small")
	f.round(big, 2400*time.Millisecond) // 4 % at a 60 s interval
	big.Interval(time.Minute)
	f.round(small, 600*time.Millisecond) // 1 %
	small.Interval(time.Minute)
	f.window(g, time.Minute, 6*time.Second) // the agent: 6 s in 63 s, 9.5 %
	if b, s := factor(t, g, "big"), factor(t, g, "small"); b != 2 || s != 1 {
		t.Fatalf("factors big %d, small %d; want 2 and 1", b, s)
	}
	if st, _ := g.Sensor("big"); !strings.Contains(st.Reason, "agent uses 9.5% of a core, over its budget of 5.0%") {
		t.Errorf("reason = %q, want the agent's overrun named", st.Reason)
	}

	// Now the CPU goes elsewhere (uplink, capture): no sensor accounts for a
	// quarter of it, so none is slowed further, but the overrun is reported.
	f.window(g, time.Minute, 30*time.Second)
	if b, s := factor(t, g, "big"), factor(t, g, "small"); b != 2 || s != 1 {
		t.Errorf("factors big %d, small %d after CPU went elsewhere; want 2 and 1", b, s)
	}
	h := wire.Health{}
	g.Fill(&h)
	if len(h.OverBudget) != 1 || h.OverBudget[0] != "cpu" || h.CPUBudget != 5 {
		t.Errorf("health = %+v, want over the CPU budget of 5", h)
	}
	f.window(g, time.Minute, 30*time.Second)
	if n := lr.count("agent over its CPU budget"); n != 1 {
		t.Errorf("logged 'over its CPU budget' %d times over three windows, want once", n)
	}
	f.window(g, time.Minute, 0)
	if n := lr.count("agent back under its CPU budget"); n != 1 {
		t.Errorf("logged 'back under' %d times, want once", n)
	}
}

// Without a CPU budget nothing is slowed.
func TestNoBudget(t *testing.T) {
	f, g, _ := newFake(t, Config{})
	p := g.Pacer("inventory")
	f.round(p, time.Minute)
	p.Interval(time.Second)
	f.window(g, time.Minute, time.Minute)
	if n := factor(t, g, "inventory"); n != 1 {
		t.Errorf("factor = %d, want 1", n)
	}
	h := wire.Health{}
	g.Fill(&h)
	if len(h.OverBudget) != 0 {
		t.Errorf("over budget %v without budgets", h.OverBudget)
	}
}

// A sensor that has not run a round yet, or has not asked for an interval,
// is judged by what it was charged in the window; a sensor that did nothing
// is never slowed.
func TestWithoutInterval(t *testing.T) {
	f, g, _ := newFake(t, Config{CPUPercent: 5})
	idle := g.Pacer("idle")
	busy := g.Pacer("busy")
	f.round(busy, 12*time.Second) // 20 % of the window, no interval asked
	f.window(g, time.Minute, 12*time.Second)
	if b, i := factor(t, g, "busy"), factor(t, g, "idle"); b != 2 || i != 1 {
		t.Errorf("factors busy %d, idle %d; want 2 and 1", b, i)
	}
	_ = idle
}

// Without a thread clock a round is charged its wall time.
func TestWallTimeFallback(t *testing.T) {
	f, g, _ := newFake(t, Config{CPUPercent: 5})
	f.noClock = true
	p := g.Pacer("inventory")
	end := p.Begin()
	f.mu.Lock()
	f.now = f.now.Add(3 * time.Second)
	f.mu.Unlock()
	end()
	p.Interval(10 * time.Second)
	f.window(g, time.Minute, 0)
	if st, _ := g.Sensor("inventory"); st.Factor != 2 || st.CPUPercent < 4.7 || st.CPUPercent > 4.8 {
		t.Errorf("state = %+v, want slowed 2x with 4.76%% (3 s of 63 s) charged", st)
	}
}

// RSS over the memory budget is reported and logged once per transition.
func TestMemoryBudget(t *testing.T) {
	f, g, lr := newFake(t, Config{MemoryBytes: 100 << 20})
	f.rss = 200 << 20
	f.window(g, time.Minute, 0)
	f.window(g, time.Minute, 0)
	h := wire.Health{}
	g.Fill(&h)
	if len(h.OverBudget) != 1 || h.OverBudget[0] != "memory" || h.MemoryBudget != 100<<20 || h.HeapBytes != 1<<20 {
		t.Errorf("health = %+v, want over the memory budget", h)
	}
	f.rss = 50 << 20
	f.window(g, time.Minute, 0)
	g.Fill(&h)
	if len(h.OverBudget) != 0 {
		t.Errorf("over budget %v after RSS fell", h.OverBudget)
	}
	if a, b := lr.count("over its memory budget"), lr.count("back under its memory budget"); a != 1 || b != 1 {
		t.Errorf("logged over %d, back %d times; want once each", a, b)
	}
}

// Fill marks a slowed running sensor throttled with factor and reason, and
// leaves a failed sensor and one without a pacer as they are.
func TestFill(t *testing.T) {
	f, g, _ := newFake(t, Config{CPUPercent: 5})
	for _, n := range []string{"slow", "failed"} {
		p := g.Pacer(n)
		f.round(p, 10*time.Second)
		p.Interval(10 * time.Second)
	}
	f.window(g, time.Minute, 20*time.Second)
	h := wire.Health{Sensors: []wire.SensorStatus{
		{Name: "failed", State: "failed", Error: "boom"},
		{Name: "media", State: "running"},
		{Name: "slow", State: "running"},
	}}
	g.Fill(&h)
	if s := h.Sensors[2]; s.State != StateThrottled || s.Slowdown != 2 || s.Reason == "" || s.CPUPercent == 0 {
		t.Errorf("slow = %+v, want throttled 2x with a reason and its CPU", s)
	}
	if s := h.Sensors[0]; s.State != "failed" || s.Slowdown != 0 {
		t.Errorf("failed = %+v, want failed", s)
	}
	if s := h.Sensors[1]; s != (wire.SensorStatus{Name: "media", State: "running"}) {
		t.Errorf("media = %+v, want untouched", s)
	}
	// The record round-trips with the new fields.
	r, err := wire.NewRecord(wire.KindHealth, f.now, h)
	if err != nil {
		t.Fatal(err)
	}
	var back wire.Health
	if err := r.DecodeBody(&back); err != nil {
		t.Fatal(err)
	}
	if back.Sensors[2].Slowdown != 2 || back.Sensors[2].Reason != h.Sensors[2].Reason || back.CPUBudget != 5 {
		t.Errorf("decoded %+v, want %+v", back, h)
	}
}

// A stretched interval never overflows.
func TestIntervalOverflow(t *testing.T) {
	f, g, _ := newFake(t, Config{CPUPercent: 5, MaxSlowdown: 1024})
	p := g.Pacer("x")
	for range 12 {
		f.round(p, time.Hour)
		p.Interval(time.Second)
		f.window(g, time.Minute, time.Hour)
	}
	if d := p.Interval(1 << 60); d <= 0 {
		t.Errorf("Interval(2^60) at factor %d = %v", factor(t, g, "x"), d)
	}
}
