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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/pki"
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

// Sensor takes an inventory snapshot at start, every policy InventoryInterval
// seconds, and soon after a software database changes. It sends a full snapshot
// the first time and whenever the collector asks for one, and otherwise only
// the delta against the snapshot the collector confirmed in its acks; an
// unchanged machine sends nothing.
type Sensor struct {
	log     *slog.Logger
	policy  func() wire.Policy
	lastAck func() wire.Ack
	lastSeq func() uint64
	src     source
	state   string // file holding the last snapshot sent; "" keeps it in memory only
	// sections limits the snapshot (tests); nil takes every section.
	sections []string

	prev *wire.Inventory // last snapshot sent
	mark uint64          // an ack with MaxSeq >= mark has seen prev
	// watch lists the files whose change starts a round (software databases).
	watch []string
	// poll is how often acks and watched files are looked at.
	poll time.Duration
	// pace is the agent's resource guard: it measures rounds and stretches
	// the interval while the sensor is slowed.
	pace sensor.Pace
}

// New creates the inventory sensor.
func New(env sensor.Env) (sensor.Sensor, error) {
	return newSensor(env, system{root: "/"}), nil
}

func newSensor(env sensor.Env, src source) *Sensor {
	s := &Sensor{log: env.Logger, policy: env.Policy, lastAck: env.LastAck, lastSeq: env.LastSeq, src: src,
		watch: softwareDatabases, poll: 5 * time.Second, pace: env.Pacer()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.policy == nil {
		s.policy = func() wire.Policy { return wire.Policy{} }
	}
	if s.lastAck == nil {
		s.lastAck = func() wire.Ack { return wire.Ack{} }
	}
	if s.lastSeq == nil {
		s.lastSeq = func() uint64 { return 0 }
	}
	if env.StateDir != "" {
		s.state = filepath.Join(env.StateDir, "last.cbor")
		if b, err := os.ReadFile(s.state); err == nil {
			var inv wire.Inventory
			if err := wire.Unmarshal(b, &inv); err == nil && inv.Hash != "" {
				s.prev = &inv
			} else {
				s.log.Warn("last inventory unreadable; the next one is sent in full", "file", s.state, "err", err)
			}
		}
	}
	return s
}

// Name implements sensor.Sensor.
func (s *Sensor) Name() string { return name }

// softwareDatabases are the files whose change means software came or went.
var softwareDatabases = []string{
	"/var/lib/dpkg/status",
	"/var/lib/rpm/rpmdb.sqlite", "/var/lib/rpm/Packages.db", "/var/lib/rpm/Packages",
	"/usr/lib/sysimage/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/Packages.db", "/usr/lib/sysimage/rpm/Packages",
}

// Run implements sensor.Sensor. A round that fails is logged and retried at the
// next interval; Run returns nil when ctx is done.
func (s *Sensor) Run(ctx context.Context, emit func(wire.Record)) error {
	// Give the collector a moment to answer the agent's hello, so that the
	// first round knows which snapshot the collector holds.
	for start := time.Now(); s.lastAck().MaxSeq == 0 && time.Since(start) < 10*time.Second; {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
	stamps := s.stamps()
	for {
		if ctx.Err() != nil {
			return nil
		}
		end := s.pace.Begin()
		s.round(ctx, emit)
		end()
		next := time.Now().Add(s.pace.Interval(interval(s.policy())))
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(s.poll, max(time.Until(next), time.Millisecond))):
			}
			switch now := s.stamps(); {
			case !time.Now().Before(next):
				wait = false
			case now != stamps:
				s.log.Info("software database changed; taking inventory")
				stamps, wait = now, false
			case s.wantsFull():
				s.log.Info("collector asks for a full inventory")
				s.prev, wait = nil, false
			}
		}
	}
}

// stamps returns the size and modification times of the watched files.
func (s *Sensor) stamps() string {
	var b strings.Builder
	for _, f := range s.watch {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s %d %d;", f, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// wantsFull reports whether an ack that has seen the last snapshot says the
// collector does not hold it.
func (s *Sensor) wantsFull() bool {
	if s.prev == nil {
		return false
	}
	ack := s.lastAck()
	if ack.MaxSeq == 0 || ack.MaxSeq < s.mark {
		return false
	}
	return ack.InventoryFull || ack.InventoryHash != s.prev.Hash
}

// round takes one snapshot and emits what the collector lacks of it.
func (s *Sensor) round(ctx context.Context, emit func(wire.Record)) {
	cctx, cancel := context.WithTimeout(ctx, collectTimeout)
	inv, err := collect(cctx, s.src, s.sections)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.log.Warn("collect inventory", "err", err)
		return
	}
	for _, w := range inv.Warnings {
		s.log.Warn("inventory", "warning", w)
	}
	out := inv
	ack := s.lastAck()
	switch {
	case s.prev != nil && inv.Hash == s.prev.Hash && !s.wantsFull():
		s.log.Debug("inventory unchanged", "hash", inv.Hash)
		return
	case s.prev != nil && !ack.InventoryFull && ack.InventoryHash == s.prev.Hash:
		d, err := wire.Diff(*s.prev, inv)
		if err != nil {
			s.log.Error("inventory delta", "err", err)
			break
		}
		out = d
	}
	rec, err := wire.NewRecord(wire.KindInventory, time.Now(), out)
	if err != nil {
		s.log.Error("encode inventory", "err", err)
		return
	}
	emit(rec)
	s.mark = s.lastSeq()
	s.prev = &inv
	s.log.Info("inventory sent", "hash", inv.Hash, "delta", out.Base != "", "changed", out.Changed,
		"software_added", len(out.SoftwareAdded), "software_removed", len(out.SoftwareRemoved), "bytes", len(rec.Body))
	if s.state != "" {
		b, err := wire.Marshal(inv)
		if err == nil {
			err = pki.WriteFile(s.state, b, 0o600)
		}
		if err != nil {
			s.log.Warn("keep last inventory", "file", s.state, "err", err)
		}
	}
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
