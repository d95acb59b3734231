package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/config"
	"github.com/sonevakt/sonevakt/agent/internal/guard"
	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// hungry is a periodic sensor whose rounds spin the CPU for spin (a real
// busy loop) while busy is set, and every round emits a record.
type hungry struct {
	pace      sensor.Pace
	busy      atomic.Bool
	spin      time.Duration
	interval  time.Duration
	stretched atomic.Int64 // the longest interval the pace gave
	rounds    atomic.Int64
}

func (h *hungry) Name() string { return "hungry" }

func (h *hungry) Run(ctx context.Context, emit func(wire.Record)) error {
	n := 0
	for {
		end := h.pace.Begin()
		if h.busy.Load() {
			for start := time.Now(); time.Since(start) < h.spin; {
				n++
			}
		}
		end()
		h.rounds.Add(1)
		if r, err := wire.NewRecord(wire.KindSockets, time.Now(), wire.Sockets{Total: n % 1000}); err == nil {
			emit(r)
		}
		d := h.pace.Interval(h.interval)
		if int64(d) > h.stretched.Load() {
			h.stretched.Store(int64(d))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
	}
}

// TestGuardThrottlesHungrySensor runs a CPU-hungry sensor in this process
// under the real guard (process and thread CPU clocks, the app's sensor
// start and health record): the sensor is throttled, its interval
// stretched, the health record says so; once its rounds are cheap it is back
// at its own pace. It asserts on state transitions, not on timings.
func TestGuardThrottlesHungrySensor(t *testing.T) {
	dir := t.TempDir()
	sp, err := spool.Open(filepath.Join(dir, "spool"), spool.Options{MaxBytes: 4 << 20, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	// 20 ms of CPU every 10 ms is far over 10 % of a core however slow
	// the machine; a cheap round is far under it.
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Guard = config.Guard{CPUPercent: 50, SensorCPUPercent: 10, MemoryMB: 0, Window: 100 * time.Millisecond, MaxSlowdown: 8}
	log := slog.New(slog.DiscardHandler)
	a := &App{cfg: cfg, log: log, spool: sp, sensors: map[string]*sensorState{}, guard: newGuard(cfg, log), started: time.Now()}
	p := DefaultPolicy
	a.policy.Store(&p)

	h := &hungry{spin: 20 * time.Millisecond, interval: 10 * time.Millisecond}
	h.busy.Store(true)
	reg := sensor.Registration{Name: "hungry", DefaultEnabled: true, New: func(env sensor.Env) (sensor.Sensor, error) {
		h.pace = env.Pacer()
		return h, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	a.startSensor(ctx, &wg, reg, sensor.Env{Policy: a.Policy})
	wg.Add(1)
	go func() { defer wg.Done(); a.guard.Run(ctx.Done()) }()

	status := func() wire.SensorStatus {
		for _, s := range a.Health(0).Sensors {
			if s.Name == "hungry" {
				return s
			}
		}
		t.Fatal("no hungry sensor in the health record")
		return wire.SensorStatus{}
	}
	waitFor := func(what string, ok func(wire.SensorStatus) bool) wire.SensorStatus {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			s := status()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("hungry sensor never %s; last status %+v after %d rounds", what, s, h.rounds.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	if s := status(); s.State != "running" {
		t.Fatalf("at start: %+v, want running", s)
	}
	s := waitFor("throttled", func(s wire.SensorStatus) bool { return s.State == guard.StateThrottled })
	if s.Slowdown < 2 || s.Slowdown > 8 || s.Reason == "" {
		t.Errorf("throttled status %+v: want a factor of 2 to 8 and a reason", s)
	}
	waitFor("stretched to the cap", func(s wire.SensorStatus) bool { return s.Slowdown == 8 })
	// The sensor itself was handed a stretched interval.
	waitFor("handed a stretched interval", func(wire.SensorStatus) bool {
		return time.Duration(h.stretched.Load()) > h.interval
	})
	a.mu.Lock()
	rec := a.sensors["hungry"].records.Load()
	a.mu.Unlock()
	if rec == 0 {
		t.Errorf("no records counted for the hungry sensor")
	}

	h.busy.Store(false)
	s = waitFor("back at its own pace", func(s wire.SensorStatus) bool { return s.State == "running" })
	if s.Slowdown != 0 || s.Reason != "" {
		t.Errorf("after recovery: %+v, want no factor and no reason", s)
	}
	// Nothing the sensor emitted was dropped by the guard.
	if st := sp.Stats(); st.Dropped != 0 || st.Records == 0 {
		t.Errorf("spool %+v: want records and none dropped", st)
	}
}
