package traffic

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// The sensor "traffic" captures live on the host's interfaces. Each
// interface has a goroutine of its own that owns everything its packets
// touch: the capture, a Decoder, a Table and a Discoverer, so the packet
// path takes no lock. Once an interval the sensor's goroutine asks every
// interface for its report; the interface goroutine answers between two
// packets (or after its poll timeout) with the flows of the interval, and
// the sensor emits one flows record per interface and a neighbours record
// when devices changed.

const name = "traffic"

// Defaults and bounds of the options.
const (
	defaultInterval      = 60 * time.Second
	defaultMaxFlows      = 262144
	maxMaxFlows          = 1 << 20
	minMaxFlows          = 1024
	defaultIdleTimeout   = 30 * time.Second
	defaultActiveTimeout = 300 * time.Second
	// expireEvery is how often an interface's table drops idle flows
	// between reports (Table.Expire scans the table).
	expireEvery = 5 * time.Second
	// chunk bounds the flows (or devices) of one record, keeping records
	// well below wire.MaxRecordSize.
	chunk = 8192
	// resolveTimeout bounds the lookup of excluded host names.
	resolveTimeout = 5 * time.Second
)

func init() {
	sensor.Register(name, true, New)
}

var _ sensor.Sensor = (*Sensor)(nil)

// Attribute, when set, names the local process that owns a flow's socket:
// proto is the IP protocol (6, 17), local this host's end, remote the
// other. The sockets sensor sets it in its init; nil means no attribution.
// It is called for cross-zone flows when a report is made, and must be
// safe for concurrent use.
var Attribute func(proto uint8, local, remote netip.AddrPort) *wire.FlowProcess

// Options are the sensor's settings (sensor_options.traffic in the agent
// config), with their meaning.
var Options = map[string]string{
	"interfaces":     `comma-separated interfaces to capture on; default every interface that is up and not loopback`,
	"interval":       `time between two reports; default "60s", at least "1s", at most "1h"`,
	"max_flows":      `flows kept at once, all interfaces together; default "262144", at most "1048576"`,
	"idle_timeout":   `a flow without packets for this long ends; default "30s"`,
	"active_timeout": `a flow longer than this is cut and starts anew; default "300s"`,
	"snaplen":        `bytes kept of each frame; default "256", 64 to 65535`,
	"exclude":        `comma-separated host:port whose TCP and UDP traffic is not captured; default the collector's address (the agent's own uplink)`,
	"promisc":        `"true" puts the interfaces in promiscuous mode (mirror ports); default "false"`,
	"ring_mb":        `size of each interface's capture ring in MiB; default "4", 1 to 256`,
}

// options are the parsed sensor options.
type options struct {
	Interfaces    []string // nil: every up, non-loopback interface
	Interval      time.Duration
	MaxFlows      int
	IdleTimeout   time.Duration
	ActiveTimeout time.Duration
	Snaplen       int
	Exclude       []hostPort
	Promisc       bool
	RingBytes     int
}

// hostPort is an excluded endpoint: an address, or a name resolved when a
// capture opens.
type hostPort struct {
	Host string
	Port uint16
}

func defaultOptions() options {
	return options{Interval: defaultInterval, MaxFlows: defaultMaxFlows, IdleTimeout: defaultIdleTimeout,
		ActiveTimeout: defaultActiveTimeout, Snaplen: defaultSnaplen, RingBytes: defaultRingBytes}
}

// parseOptions reads the sensor options; it refuses unknown keys and values
// out of range.
func parseOptions(o map[string]string) (options, error) {
	opts := defaultOptions()
	dur := func(k, v string, lo, hi time.Duration) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < lo || d > hi {
			return 0, fmt.Errorf("traffic option %s %q: want a duration from %v to %v", k, v, lo, hi)
		}
		return d, nil
	}
	num := func(k, v string, lo, hi int) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("traffic option %s %q: want a number from %d to %d", k, v, lo, hi)
		}
		return n, nil
	}
	var err error
	for _, k := range slices.Sorted(maps.Keys(o)) {
		v := o[k]
		switch k {
		case "interfaces":
			for f := range strings.SplitSeq(v, ",") {
				if f = strings.TrimSpace(f); f != "" && !slices.Contains(opts.Interfaces, f) {
					opts.Interfaces = append(opts.Interfaces, f)
				}
			}
			if len(opts.Interfaces) == 0 {
				return opts, fmt.Errorf("traffic option interfaces %q: want interface names separated by commas", v)
			}
		case "interval":
			opts.Interval, err = dur(k, v, time.Second, time.Hour)
		case "max_flows":
			opts.MaxFlows, err = num(k, v, minMaxFlows, maxMaxFlows)
		case "idle_timeout":
			opts.IdleTimeout, err = dur(k, v, time.Second, time.Hour)
		case "active_timeout":
			opts.ActiveTimeout, err = dur(k, v, time.Second, 24*time.Hour)
		case "snaplen":
			opts.Snaplen, err = num(k, v, 64, 65535)
		case "exclude":
			opts.Exclude, err = parseExclude(v)
		case "promisc":
			opts.Promisc, err = strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				err = fmt.Errorf("traffic option promisc %q: want true or false", v)
			}
		case "ring_mb":
			var mb int
			mb, err = num(k, v, 1, 256)
			opts.RingBytes = mb << 20
		default:
			return opts, fmt.Errorf("traffic option %q unknown: want one of %s", k, strings.Join(slices.Sorted(maps.Keys(Options)), ", "))
		}
		if err != nil {
			return opts, err
		}
	}
	if opts.ActiveTimeout < opts.IdleTimeout {
		return opts, fmt.Errorf("traffic option active_timeout %v is shorter than idle_timeout %v", opts.ActiveTimeout, opts.IdleTimeout)
	}
	return opts, nil
}

// parseExclude reads a comma-separated list of host:port.
func parseExclude(v string) ([]hostPort, error) {
	var out []hostPort
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		host, port, err := net.SplitHostPort(f)
		if err != nil || host == "" {
			return nil, fmt.Errorf("traffic option exclude %q: want host:port", f)
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("traffic option exclude %q: port %q is not 1-65535", f, port)
		}
		out = append(out, hostPort{Host: host, Port: uint16(p)})
	}
	if len(out) > maxExclude {
		return nil, fmt.Errorf("traffic option exclude: %d entries, at most %d", len(out), maxExclude)
	}
	return out, nil
}

// Sensor captures traffic live and reports flows and neighbours.
type Sensor struct {
	log    *slog.Logger
	policy func() wire.Policy
	opts   options
	oui    *OUI

	// open opens a capture (openLive; tests put a fake in).
	open func(iface string, cfg captureConfig) (source, error)
	// now and ticker are the clock (tests drive them).
	now    func() time.Time
	ticker func(time.Duration) (<-chan time.Time, func())
	// lookup resolves an excluded host name.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// listInterfaces lists the interfaces to capture on when none are
	// configured.
	listInterfaces func() ([]string, error)
	// localAddrs lists this host's addresses (for attribution).
	localAddrs func() []netip.Addr

	zones    *zone.Map
	zonesVer uint64 // version of the policy zones came from
	zonesFor uint64 // version last looked at
	zonesSet bool
}

// New creates the traffic sensor from env; it refuses option keys it does
// not know and values it cannot parse.
func New(env sensor.Env) (sensor.Sensor, error) {
	opts, err := parseOptions(env.Options)
	if err != nil {
		return nil, err
	}
	if _, set := env.Options["exclude"]; !set && env.Collector != "" {
		// The agent's own uplink is not what the sensor is for.
		if opts.Exclude, err = parseExclude(env.Collector); err != nil {
			return nil, fmt.Errorf("exclude the collector's address: %w", err)
		}
	}
	return newSensor(env, opts, openLive), nil
}

func newSensor(env sensor.Env, opts options, open func(string, captureConfig) (source, error)) *Sensor {
	s := &Sensor{log: env.Logger, policy: env.Policy, opts: opts, open: open, now: time.Now,
		ticker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		listInterfaces: upInterfaces,
		localAddrs:     hostAddrs,
	}
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

// Run implements sensor.Sensor. It captures on every interface until ctx
// ends and reports every interval. Capture errors do not end it: they are
// reported in the interface's flows record and the capture is opened
// again at the next interval.
func (s *Sensor) Run(ctx context.Context, emit func(wire.Record)) error {
	if s.oui == nil {
		s.oui = DefaultOUI()
	}
	workers := map[string]*worker{}
	var wg sync.WaitGroup
	defer func() {
		for _, w := range workers {
			w.stop()
		}
		wg.Wait()
	}()
	follow := func() {
		ifaces := s.opts.Interfaces
		if ifaces == nil {
			var err error
			if ifaces, err = s.listInterfaces(); err != nil {
				s.log.Warn("list interfaces", "err", err)
				return
			}
		}
		for n, w := range workers {
			if !slices.Contains(ifaces, n) {
				w.stop()
				delete(workers, n)
			}
		}
		per := max(minMaxFlows, s.opts.MaxFlows/max(1, len(ifaces)))
		m, _ := s.zoneMap()
		for _, n := range ifaces {
			if workers[n] == nil {
				w := s.newWorker(ctx, n, per, m)
				workers[n] = w
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.run()
				}()
			}
		}
	}
	follow()
	tick, stop := s.ticker(s.opts.Interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
		now := s.now()
		m, ver := s.zoneMap()
		req := request{now: now, zones: m, version: ver}
		var local map[netip.Addr]bool
		if attr := Attribute; m != nil && attr != nil {
			local = map[netip.Addr]bool{}
			for _, a := range s.localAddrs() {
				local[a] = true
			}
		}
		names := slices.Sorted(maps.Keys(workers))
		for _, n := range names {
			workers[n].ask(req)
		}
		for _, n := range names {
			var res result
			select {
			case res = <-workers[n].results:
			case <-ctx.Done():
				return nil
			}
			attribute(res.flows.Flows, local)
			s.emit(emit, now, res)
		}
		if s.opts.Interfaces == nil {
			follow()
		}
	}
}

// emit sends an interface's report: its flows, in chunks of at most chunk
// flows (the first carries the stats and zone counts), and its changed
// devices.
func (s *Sensor) emit(emit func(wire.Record), now time.Time, res result) {
	flows := res.flows
	rest := flows.Flows
	for first := true; first || len(rest) > 0; first = false {
		body := flows
		if !first {
			body = wire.Flows{Start: flows.Start, End: flows.End, Source: flows.Source, ZonesVersion: flows.ZonesVersion}
		}
		body.Flows = rest[:min(len(rest), chunk)]
		rest = rest[len(body.Flows):]
		if len(body.Flows) == 0 {
			body.Flows = nil
		}
		rec, err := wire.NewRecord(wire.KindFlows, now, body)
		if err != nil {
			s.log.Error("encode flows", "source", flows.Source, "err", err)
			continue
		}
		emit(rec)
	}
	for devs := res.devices; len(devs) > 0; {
		n := min(len(devs), chunk)
		rec, err := wire.NewRecord(wire.KindNeighbours, now, wire.Neighbours{Source: flows.Source, Devices: devs[:n]})
		devs = devs[n:]
		if err != nil {
			s.log.Error("encode neighbours", "source", flows.Source, "err", err)
			continue
		}
		emit(rec)
	}
}

// zoneMap returns the zone map of the policy in force and its version,
// rebuilt when the policy's version changed. A zone policy that does not
// load is logged and the map held before stays in force.
func (s *Sensor) zoneMap() (*zone.Map, uint64) {
	p := s.policy()
	if s.zonesSet && p.Version == s.zonesFor {
		return s.zones, s.zonesVer
	}
	s.zonesFor, s.zonesSet = p.Version, true
	if p.Zones == nil {
		s.zones, s.zonesVer = nil, 0
		return nil, 0
	}
	m, err := zone.FromPolicy(*p.Zones)
	if err != nil {
		s.log.Warn("policy zones unusable; the zones held before stay in force", "policy", p.Version, "held", s.zonesVer, "err", err)
		return s.zones, s.zonesVer
	}
	s.zones, s.zonesVer = m, p.Version
	return m, p.Version
}

// attribute names the local process of each TCP and UDP flow that has
// one end on this host (local), through Attribute. It runs on the
// sensor's goroutine, so a slow lookup never holds a capture up.
func attribute(flows []wire.Flow, local map[netip.Addr]bool) {
	fn := Attribute
	if fn == nil || len(local) == 0 {
		return
	}
	for i := range flows {
		f := &flows[i]
		var proto uint8
		switch f.Proto {
		case wire.ProtoTCP:
			proto = 6
		case wire.ProtoUDP:
			proto = 17
		default:
			continue
		}
		src, err1 := netip.ParseAddr(f.Src)
		dst, err2 := netip.ParseAddr(f.Dst)
		if f.Process != nil || err1 != nil || err2 != nil {
			continue
		}
		s, d := netip.AddrPortFrom(src.Unmap(), f.SPort), netip.AddrPortFrom(dst.Unmap(), f.DPort)
		switch {
		case local[s.Addr()]:
			f.Process = fn(proto, s, d)
		case local[d.Addr()]:
			f.Process = fn(proto, d, s)
		}
	}
}

// upInterfaces lists the interfaces that are up and not loopback.
func upInterfaces() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			out = append(out, i.Name)
		}
	}
	return out, nil
}

// hostAddrs lists this host's addresses.
func hostAddrs() []netip.Addr {
	as, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(as))
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// resolveExclude turns the excluded endpoints into addresses; a name that
// does not resolve is logged and left out.
func (s *Sensor) resolveExclude(ctx context.Context) []netip.AddrPort {
	var out []netip.AddrPort
	for _, hp := range s.opts.Exclude {
		if a, err := netip.ParseAddr(hp.Host); err == nil {
			out = append(out, netip.AddrPortFrom(a.Unmap().WithZone(""), hp.Port))
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		addrs, err := s.lookup(rctx, hp.Host)
		cancel()
		if err != nil {
			s.log.Warn("resolve excluded host; its traffic is captured", "host", hp.Host, "err", err)
			continue
		}
		for _, a := range addrs {
			ap := netip.AddrPortFrom(a.Unmap().WithZone(""), hp.Port)
			if !slices.Contains(out, ap) && len(out) < maxExclude {
				out = append(out, ap)
			}
		}
	}
	return out
}
