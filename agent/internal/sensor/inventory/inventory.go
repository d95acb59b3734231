// Package inventory is the inventory sensor: it reports what a machine is. Each
// round it takes a full snapshot — today the host facts (host.go); hardware,
// software and accounts join as files of their own — hashes it, and emits it as
// one KindInventory record. The facts come from gopsutil behind the source
// interface, plus a few the OS files (host_linux.go, host_windows.go) read
// themselves; tests feed a fake source.
package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
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
	inv, err := collect(cctx, s.src)
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

// Collect takes a full inventory snapshot of this machine.
func Collect(ctx context.Context) (wire.Inventory, error) {
	return collect(ctx, system{root: "/"})
}

// collect takes a full snapshot from src. Each part of the inventory is read
// by a function of its own file and fills its own field; the hash covers them
// all.
func collect(ctx context.Context, src source) (wire.Inventory, error) {
	h, err := collectHost(ctx, src)
	if err != nil {
		return wire.Inventory{}, err
	}
	inv := wire.Inventory{Full: true, Host: h}
	inv.Hash, err = hash(inv)
	if err != nil {
		return wire.Inventory{}, err
	}
	return inv, nil
}

// hash returns the hex SHA-256 of the deterministic CBOR of a snapshot, with
// the envelope (Hash, Base) and volatile facts left out, so that an unchanged
// machine keeps its hash from round to round and across agent restarts.
//
// Volatile and left out: Host.BootTime, which changes at every boot and,
// where it is derived from the uptime (Windows, containers), jitters by a
// second between two readings. A reboot is reported by the hello record.
func hash(inv wire.Inventory) (string, error) {
	inv.Hash, inv.Base = "", ""
	if inv.Host != nil {
		h := *inv.Host
		h.BootTime = 0
		inv.Host = &h
	}
	b, err := wire.Marshal(inv)
	if err != nil {
		return "", fmt.Errorf("hash inventory: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
