// Package sockets is the sockets sensor: the host's TCP and UDP connection
// table, each socket with the process that owns it (pid, name, executable,
// user), classified by the zones of its local and remote address. It reads
// what the operating system already keeps (through gopsutil), so it needs no
// capture privilege; it sees the connections open at the moment of a round,
// where the traffic sensor sees every packet.
//
// Each round emits one KindSockets record with the connections that cross
// zones and the sockets that listen on a non-loopback address, but only when
// that set changed (and at least hourly). The package also attributes the
// traffic sensor's captured flows to processes (resolver.go).
//
// The connection table and the processes come from gopsutil behind the
// connSource interface (source.go); table.go reads and normalises it.
package sockets

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

const (
	name = "sockets"
	// defaultInterval is the time between two rounds.
	defaultInterval = time.Minute
	// minInterval keeps a typo from reading the table in a tight loop.
	minInterval = 5 * time.Second
	// heartbeat is the longest time without a record: an unchanged set is
	// sent again after it, so the collector knows it still holds.
	heartbeat = time.Hour
	// roundTimeout bounds one round.
	roundTimeout = 30 * time.Second
)

func init() {
	sensor.Register(name, true, New)
}

var _ sensor.Sensor = (*Sensor)(nil)

// Options are the sensor's settings (sensor_options.sockets in the agent
// config), with their meaning.
var Options = map[string]string{
	"interval":       `time between two reads of the connection table; default "60s", at least "5s", at most "1h"`,
	"include_listen": `"true" reports sockets listening on a non-loopback address (what the host offers); default "true"`,
}

// options are the parsed Options.
type options struct {
	interval      time.Duration
	includeListen bool
}

// parseOptions reads the sensor options; it refuses unknown keys and values
// it cannot parse, naming them.
func parseOptions(o map[string]string) (options, error) {
	opts := options{interval: defaultInterval, includeListen: true}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		v := strings.TrimSpace(o[k])
		switch k {
		case "interval":
			d, err := time.ParseDuration(v)
			if err != nil || d < minInterval || d > heartbeat {
				return opts, fmt.Errorf("sockets option interval %q: want a duration from %s to %s, such as 60s", o[k], minInterval, heartbeat)
			}
			opts.interval = d
		case "include_listen":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return opts, fmt.Errorf("sockets option include_listen %q: want true or false", o[k])
			}
			opts.includeListen = b
		default:
			return opts, fmt.Errorf("sockets option %q unknown: want one of %s", k, strings.Join(slices.Sorted(maps.Keys(Options)), ", "))
		}
	}
	return opts, nil
}

// Sensor reads the connection table every interval and reports the
// connections that cross zones.
type Sensor struct {
	log    *slog.Logger
	policy func() wire.Policy
	src    connSource
	procs  *procCache
	opts   options
	now    func() time.Time

	// zones classifies addresses; nil when the policy has none (or an
	// invalid one). zonesFor is the policy version it was built from.
	zones    *zone.Map
	zonesFor uint64
	zonesSet bool

	// sent says a record went out; hash and sentAt describe the last one.
	sent   bool
	hash   uint64
	sentAt time.Time

	// pace is the agent's resource guard: it measures rounds and stretches
	// the interval while the sensor is slowed.
	pace sensor.Pace
}

// New creates the sockets sensor from env; it refuses option keys it does
// not know and values it cannot parse.
func New(env sensor.Env) (sensor.Sensor, error) {
	opts, err := parseOptions(env.Options)
	if err != nil {
		return nil, err
	}
	return newSensor(env, system{}, opts), nil
}

func newSensor(env sensor.Env, src connSource, opts options) *Sensor {
	s := &Sensor{log: env.Logger, policy: env.Policy, src: src, procs: newProcCache(src), opts: opts, now: time.Now, pace: env.Pacer()}
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

// Run implements sensor.Sensor: a round at start and one every interval
// after the last ended (longer while the resource guard slows the sensor).
// A round that fails is logged and tried again at the next; Run returns nil
// when ctx is done.
func (s *Sensor) Run(ctx context.Context, emit func(wire.Record)) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		end := s.pace.Begin()
		s.round(ctx, emit)
		end()
		t.Reset(s.pace.Interval(s.opts.interval))
	}
}

// round reads the table once and emits a record when the reported set
// changed since the last one, or the last one is an hour old.
func (s *Sensor) round(ctx context.Context, emit func(wire.Record)) {
	m := s.zoneMap()
	rctx, cancel := context.WithTimeout(ctx, roundTimeout)
	entries, total, err := readTable(rctx, s.src, s.procs)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.log.Warn("read sockets", "err", err)
		return
	}
	body := classify(entries, total, m, s.opts.includeListen)
	h := hashSockets(body.Conns)
	now := s.now()
	if s.sent && h == s.hash && now.Sub(s.sentAt) < heartbeat {
		s.log.Debug("sockets unchanged", "conns", len(body.Conns), "total", total)
		return
	}
	rec, err := wire.NewRecord(wire.KindSockets, now, body)
	if err != nil {
		s.log.Error("encode sockets", "err", err)
		return
	}
	emit(rec)
	s.sent, s.hash, s.sentAt = true, h, now
	s.log.Debug("sockets sent", "conns", len(body.Conns), "total", total)
}

// zoneMap returns the zone map of the policy in force, rebuilt when the
// policy's version changed.
func (s *Sensor) zoneMap() *zone.Map {
	p := s.policy()
	if s.zonesSet && p.Version == s.zonesFor {
		return s.zones
	}
	s.zones, s.zonesFor, s.zonesSet = nil, p.Version, true
	if p.Zones != nil {
		m, err := zone.FromPolicy(*p.Zones)
		if err != nil {
			s.log.Warn("policy zones unusable; sockets are reported without zones", "policy", p.Version, "err", err)
			return nil
		}
		s.zones = m
	}
	return s.zones
}

// classify builds the record body from a table: the connections whose local
// and remote zones differ and, with includeListen, the sockets listening on
// a non-loopback address, sorted. With a nil map no zone is named and
// nothing crosses.
func classify(entries []entry, total int, m *zone.Map, includeListen bool) wire.Sockets {
	body := wire.Sockets{Conns: []wire.Socket{}, Total: total}
	for _, e := range entries {
		var sock wire.Socket
		switch {
		case e.listening():
			if !includeListen || e.local.Addr().IsLoopback() {
				continue
			}
			sock.LocalZone = zoneName(m, e.local)
		case e.remote.IsValid() && connected[e.state]:
			if m == nil {
				continue
			}
			li, ri := m.ZoneIndex(e.local.Addr()), m.ZoneIndex(e.remote.Addr())
			if li == ri {
				continue
			}
			sock.LocalZone, sock.RemoteZone = m.ZoneByIndex(li).Name, m.ZoneByIndex(ri).Name
			sock.Remote = e.remote.String()
		default:
			continue
		}
		sock.Proto = protoName(e.proto)
		sock.Local = e.local.String()
		sock.State = e.state
		sock.Process = e.proc
		body.Conns = append(body.Conns, sock)
	}
	slices.SortFunc(body.Conns, compareSockets)
	return body
}

// zoneName names the zone of a listening socket's address: none for the
// unspecified address (it listens in every zone the host has an address in)
// or without a map.
func zoneName(m *zone.Map, ap netip.AddrPort) string {
	if m == nil || ap.Addr().IsUnspecified() {
		return ""
	}
	return m.ZoneOf(ap.Addr()).Name
}

// protoName names an IP protocol as wire.Socket does.
func protoName(p uint8) string {
	if p == protoTCP {
		return wire.ProtoTCP
	}
	return wire.ProtoUDP
}

// compareSockets orders sockets by protocol, local, remote and pid.
func compareSockets(a, b wire.Socket) int {
	if c := strings.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	if c := strings.Compare(a.Local, b.Local); c != 0 {
		return c
	}
	if c := strings.Compare(a.Remote, b.Remote); c != 0 {
		return c
	}
	return int(pidOf(a.Process)) - int(pidOf(b.Process))
}

func pidOf(p *wire.FlowProcess) int32 {
	if p == nil {
		return 0
	}
	return p.PID
}

// hashSockets hashes what a record reports, so that an unchanged set is
// not sent again. The TCP state is left out: a connection that starts to
// close is the same connection.
func hashSockets(conns []wire.Socket) uint64 {
	h := fnv.New64a()
	var n [4]byte
	put := func(s string) {
		binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	for _, c := range conns {
		put(c.Proto)
		put(c.Local)
		put(c.Remote)
		put(c.LocalZone)
		put(c.RemoteZone)
		if p := c.Process; p != nil {
			put(strconv.Itoa(int(p.PID)))
			put(p.Name)
			put(p.Exe)
			put(p.User)
		} else {
			put("")
		}
	}
	return h.Sum64()
}
