// Package inventory is the inventory sensor: it reports what a machine is. Each
// round it takes a full snapshot — today the host facts (host.go); hardware,
// software and accounts join as files of their own — hashes it, and emits it as
// one KindInventory record. The facts come from gopsutil behind the source
// interface, plus a few the OS files (host_linux.go, host_windows.go) read
// themselves; tests feed a fake source.
package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

const (
	name = "inventory"
	// defaultInterval applies while the policy sets no inventory interval.
	defaultInterval = time.Hour
	// minInterval bounds a policy's interval from below, so a typo in the
	// policy cannot make every agent walk its inventory in a tight loop.
	minInterval = time.Minute
	// maxInterval bounds it from above, well before time.Duration overflows.
	maxInterval = 30 * 24 * time.Hour
	// collectTimeout bounds one round; WMI on Windows can hang.
	collectTimeout = 2 * time.Minute
)

func init() {
	sensor.Register(name, true, New)
}

var _ sensor.Sensor = (*Sensor)(nil)

// Sensor emits a full inventory snapshot at start and then every policy
// InventoryInterval seconds.
type Sensor struct {
	log    *slog.Logger
	policy func() wire.Policy
	src    source
}

// New creates the inventory sensor.
func New(env sensor.Env) (sensor.Sensor, error) {
	return newSensor(env, system{root: "/"}), nil
}

func newSensor(env sensor.Env, src source) *Sensor {
	s := &Sensor{log: env.Logger, policy: env.Policy, src: src}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.policy == nil {
		s.policy = func() wire.Policy { return wire.Policy{} }
	}
	return s
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return name }

// Run implements sensor.Sensor. A round that fails is logged and retried at the
// next interval; Run returns nil when ctx is done.
func (s *Sensor) Run(ctx context.Context, emit func(wire.Record)) error {
	for {
		if ctx.Err() != nil {
			return nil
		}
		s.round(ctx, emit)
		t := time.NewTimer(interval(s.policy()))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// round takes one snapshot and emits it.
func (s *Sensor) round(ctx context.Context, emit func(wire.Record)) {
	cctx, cancel := context.WithTimeout(ctx, collectTimeout)
	inv, err := collect(cctx, s.src, nil)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.log.Warn("collect inventory", "err", err)
		return
	}
	rec, err := wire.NewRecord(wire.KindInventory, time.Now(), inv)
	if err != nil {
		s.log.Error("encode inventory", "err", err)
		return
	}
	s.log.Debug("inventory", "hash", inv.Hash)
	emit(rec)
}

// interval returns the time between two rounds under policy p.
func interval(p wire.Policy) time.Duration {
	switch sec := p.InventoryInterval; {
	case sec <= 0:
		return defaultInterval
	case sec < int64(minInterval/time.Second):
		return minInterval
	case sec > int64(maxInterval/time.Second):
		return maxInterval
	default:
		return time.Duration(sec) * time.Second
	}
}

// part fills one section of a snapshot. warn records a problem that did not
// stop the part — a corrupt stanza, named with its file and line — so that the
// rest of the inventory still arrives. An error means the section is missing.
type part struct {
	section string
	fill    func(ctx context.Context, inv *wire.Inventory, warn func(format string, args ...any)) error
}

// parts are the sections besides host, registered by their files' init.
var parts []part

// addPart registers a section filler; each part's file calls it from init.
func addPart(section string, fill func(ctx context.Context, inv *wire.Inventory, warn func(format string, args ...any)) error) {
	parts = append(parts, part{section: section, fill: fill})
}

// Collect takes a full inventory snapshot of this machine. With sections, only
// those are filled (the host facts always are); the hash then covers only what
// was collected.
func Collect(ctx context.Context, sections ...string) (wire.Inventory, error) {
	return collect(ctx, system{root: "/"}, sections)
}

// collect takes a snapshot from src and the registered parts and hashes it.
func collect(ctx context.Context, src source, sections []string) (wire.Inventory, error) {
	h, err := collectHost(ctx, src)
	if err != nil {
		return wire.Inventory{}, err
	}
	inv := wire.Inventory{Full: true, Host: h}
	for _, p := range parts {
		if len(sections) > 0 && !slices.Contains(sections, p.section) {
			continue
		}
		warn := func(format string, args ...any) {
			inv.Warnings = append(inv.Warnings, p.section+": "+fmt.Sprintf(format, args...))
		}
		if err := p.fill(ctx, &inv, warn); err != nil {
			if ctx.Err() != nil {
				return wire.Inventory{}, ctx.Err()
			}
			warn("%v", err)
		}
	}
	inv.Normalize()
	inv.Hash, err = wire.InventoryHash(inv)
	if err != nil {
		return wire.Inventory{}, err
	}
	return inv, nil
}
