package traffic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestParseOptions(t *testing.T) {
	def := defaultOptions()
	all := def
	all.Interfaces = []string{"eth0", "eth1"}
	all.Interval = 10 * time.Second
	all.MaxFlows = 1048576
	all.IdleTimeout = 15 * time.Second
	all.ActiveTimeout = 120 * time.Second
	all.Snaplen = 128
	all.Exclude = []hostPort{{"10.0.0.5", 7443}, {"collector.example", 7443}, {"fd00::5", 443}}
	all.Promisc = true
	all.RingBytes = 16 << 20
	for _, c := range []struct {
		name string
		in   map[string]string
		want options
		err  string // part of the error; "" for none
	}{
		{"defaults", nil, def, ""},
		{"all", map[string]string{"interfaces": " eth0, eth1,eth0 ", "interval": "10s", "max_flows": "1048576",
			"idle_timeout": "15s", "active_timeout": "2m", "snaplen": "128",
			"exclude": "10.0.0.5:7443, collector.example:7443,[fd00::5]:443", "promisc": "true", "ring_mb": "16"}, all, ""},
		{"unknown key", map[string]string{"interfce": "eth0"}, def, `traffic option "interfce" unknown: want one of active_timeout, exclude`},
		{"empty interfaces", map[string]string{"interfaces": " , "}, def, "traffic option interfaces"},
		{"interval not a duration", map[string]string{"interval": "60"}, def, `traffic option interval "60"`},
		{"interval too short", map[string]string{"interval": "10ms"}, def, "from 1s to 1h0m0s"},
		{"max_flows too many", map[string]string{"max_flows": "2000000"}, def, "from 1024 to 1048576"},
		{"max_flows not a number", map[string]string{"max_flows": "many"}, def, "traffic option max_flows"},
		{"snaplen too small", map[string]string{"snaplen": "10"}, def, "traffic option snaplen"},
		{"exclude without port", map[string]string{"exclude": "10.0.0.5"}, def, "want host:port"},
		{"exclude port zero", map[string]string{"exclude": "10.0.0.5:0"}, def, "not 1-65535"},
		{"exclude port name", map[string]string{"exclude": "10.0.0.5:https"}, def, "not 1-65535"},
		{"promisc", map[string]string{"promisc": "maybe"}, def, "want true or false"},
		{"ring too big", map[string]string{"ring_mb": "1024"}, def, "traffic option ring_mb"},
		{"active shorter than idle", map[string]string{"idle_timeout": "60s", "active_timeout": "30s"}, def, "shorter than idle_timeout"},
	} {
		got, err := parseOptions(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: parseOptions: %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: parseOptions error = %v, want one with %q", c.name, err, c.err)
		case c.err == "" && !reflect.DeepEqual(got, c.want):
			t.Errorf("%s: parseOptions = %+v, want %+v", c.name, got, c.want)
		}
	}
	if _, err := New(sensor.Env{Options: map[string]string{"bogus": "1"}}); err == nil {
		t.Error("New with an unknown option succeeded")
	}
}

func TestRegistered(t *testing.T) {
	r, ok := sensor.Lookup("traffic")
	if !ok || !r.DefaultEnabled {
		t.Fatalf("sensor traffic registered %v, enabled by default %v; want both", ok, r.DefaultEnabled)
	}
}

// testZones is the zone policy of the tests: 192.168.0.0/16 internal,
// 10.9.0.0/16 sensitive, intern may reach helse on TCP 443.
func testZones() *wire.ZonePolicy {
	return &wire.ZonePolicy{
		Zones: []wire.ZoneDef{
			{Name: "intern", Kind: "internal", Prefixes: []string{"192.168.0.0/16"}},
			{Name: "helse", Kind: "sensitive", Purpose: "journal", Prefixes: []string{"10.9.0.0/16"}},
		},
		Firewall: []wire.FirewallRule{{ID: "web", From: "intern", To: "helse", Proto: "tcp", Ports: []string{"443"}, Justification: "journal web"}},
	}
}

// policyBox is a policy a test changes while the sensor reads it.
type policyBox struct {
	mu sync.Mutex
	p  wire.Policy
}

func (b *policyBox) get() wire.Policy {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.p
}

func (b *policyBox) set(p wire.Policy) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p = p
}

func TestZoneMapFollowsPolicy(t *testing.T) {
	box := &policyBox{}
	s := newSensor(sensor.Env{Policy: box.get}, defaultOptions(), nil)
	if m, v := s.zoneMap(); m != nil || v != 0 {
		t.Fatalf("zoneMap without zones = %v, %d; want nil, 0", m, v)
	}
	box.set(wire.Policy{Version: 1, Zones: testZones()})
	m1, v := s.zoneMap()
	if m1 == nil || v != 1 {
		t.Fatalf("zoneMap of policy 1 = %v, %d; want a map, 1", m1, v)
	}
	if z := m1.ZoneOf(netip.MustParseAddr("10.9.1.1")); z.Name != "helse" {
		t.Errorf("10.9.1.1 in zone %q, want helse", z.Name)
	}
	if m, _ := s.zoneMap(); m != m1 {
		t.Error("zoneMap rebuilt the map of an unchanged policy version")
	}
	bad := testZones()
	bad.Zones[1].Prefixes = []string{"192.168.1.0/24"} // overlaps intern in a zone that is not its child
	bad.Zones = append(bad.Zones, wire.ZoneDef{Name: "x", Kind: "nonsense"})
	box.set(wire.Policy{Version: 2, Zones: bad})
	if m, v := s.zoneMap(); m != m1 || v != 1 {
		t.Errorf("zoneMap of a bad policy = %p, %d; want the previous map %p, 1", m, v, m1)
	}
	changed := testZones()
	changed.Zones[1].Prefixes = []string{"10.10.0.0/16"}
	box.set(wire.Policy{Version: 3, Zones: changed})
	m3, v := s.zoneMap()
	if m3 == nil || m3 == m1 || v != 3 {
		t.Fatalf("zoneMap of policy 3 = %p, %d; want a new map, 3", m3, v)
	}
	if z := m3.ZoneOf(netip.MustParseAddr("10.9.1.1")); z.Name == "helse" {
		t.Error("10.9.1.1 still in helse after the policy moved it")
	}
	box.set(wire.Policy{Version: 4})
	if m, v := s.zoneMap(); m != nil || v != 0 {
		t.Errorf("zoneMap of a policy without zones = %v, %d; want nil, 0", m, v)
	}
}

// fakeSource replays frames, then times out (or fails with failWith).
type fakeSource struct {
	frames   [][]byte
	at       time.Time
	i        int
	failWith error
	drained  chan struct{} // closed when every frame was read
	once     sync.Once
	closed   atomic.Bool
	closedCh chan struct{}
	dropped  uint64
}

func newFakeSource(at time.Time, frames ...[]byte) *fakeSource {
	return &fakeSource{frames: frames, at: at, drained: make(chan struct{}), closedCh: make(chan struct{})}
}

func (f *fakeSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	if f.i < len(f.frames) {
		d := f.frames[f.i]
		f.i++
		return d, gopacket.CaptureInfo{Timestamp: f.at, CaptureLength: len(d), Length: len(d)}, nil
	}
	f.once.Do(func() { close(f.drained) })
	if f.failWith != nil {
		return nil, gopacket.CaptureInfo{}, f.failWith
	}
	time.Sleep(time.Millisecond)
	return nil, gopacket.CaptureInfo{}, errTimeout
}

func (f *fakeSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (f *fakeSource) Stats() (uint64, uint64)   { return uint64(f.i), f.dropped }
func (f *fakeSource) Close() error {
	if !f.closed.Swap(true) {
		close(f.closedCh)
	}
	return nil
}

// harness runs a sensor on fake sources with a clock and ticks the test
// drives.
type harness struct {
	t       *testing.T
	s       *Sensor
	box     *policyBox
	clock   atomic.Int64
	tick    chan time.Time
	records chan wire.Record
	done    chan error
	cancel  context.CancelFunc
}

func newHarness(t *testing.T, opts options, open func(string, captureConfig) (source, error)) *harness {
	h := &harness{t: t, box: &policyBox{}, tick: make(chan time.Time), records: make(chan wire.Record, 64), done: make(chan error, 1)}
	h.clock.Store(time.Unix(1_700_000_000, 0).UnixNano())
	h.s = newSensor(sensor.Env{Policy: h.box.get}, opts, open)
	h.s.now = func() time.Time { return time.Unix(0, h.clock.Load()) }
	h.s.ticker = func(time.Duration) (<-chan time.Time, func()) { return h.tick, func() {} }
	h.s.localAddrs = func() []netip.Addr { return []netip.Addr{netip.MustParseAddr("10.9.0.1")} }
	h.s.oui = &OUI{}
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.s.Run(ctx, func(r wire.Record) { h.records <- r }) }()
	h.t.Cleanup(h.stop)
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("Run = %v, want nil", err)
	}
}

// round advances the clock by d, ticks, and returns the records of the
// round: n of them.
func (h *harness) round(d time.Duration, n int) []wire.Record {
	h.t.Helper()
	h.clock.Add(int64(d))
	h.tick <- time.Unix(0, h.clock.Load())
	var out []wire.Record
	for len(out) < n {
		select {
		case r := <-h.records:
			out = append(out, r)
		case <-time.After(10 * time.Second):
			h.t.Fatalf("got %d records of %d", len(out), n)
		}
	}
	select {
	case r := <-h.records:
		h.t.Fatalf("record beyond the %d expected: %s", n, r.Kind)
	default:
	}
	return out
}

func decodeFlows(t *testing.T, r wire.Record) wire.Flows {
	t.Helper()
	if r.Kind != wire.KindFlows {
		t.Fatalf("record kind %s, want flows", r.Kind)
	}
	var f wire.Flows
	if err := r.DecodeBody(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

var (
	macClient = net.HardwareAddr{0x02, 0x42, 0, 0, 0, 2}
	macServer = net.HardwareAddr{0x02, 0x42, 0, 0, 0, 1}
)

// tcpFrame builds an Ethernet frame of a TCP segment.
func tcpFrame(t testing.TB, srcMAC, dstMAC net.HardwareAddr, src, dst string, sport, dport uint16, syn, ack bool, payload int) []byte {
	tcp := bpfTCP(sport, dport)
	tcp.SYN, tcp.ACK = syn, ack
	return bpfFrame(t, &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeIPv4},
		bpfIPv4(src, dst, layers.IPProtocolTCP), tcp, bpfPayload(payload))
}

func udpFrame(t testing.TB, src, dst string, sport, dport uint16, payload int) []byte {
	return bpfFrame(t, &layers.Ethernet{SrcMAC: macClient, DstMAC: macServer, EthernetType: layers.EthernetTypeIPv4},
		bpfIPv4(src, dst, layers.IPProtocolUDP), bpfUDP(sport, dport), bpfPayload(payload))
}

func arpFrame(t testing.TB) []byte {
	return bpfFrame(t, &layers.Ethernet{SrcMAC: macClient, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: macClient, SourceProtAddress: []byte{192, 168, 50, 2},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{192, 168, 50, 1}})
}

// testFrames are a cross-zone TCP connection (intern 192.168.50.2 to helse
// 10.9.0.1:22, three packets), an intra-zone UDP exchange (two packets),
// an ARP request and a frame that is not IP.
func testFrames(t testing.TB) [][]byte {
	return [][]byte{
		tcpFrame(t, macClient, macServer, "192.168.50.2", "10.9.0.1", 40000, 22, true, false, 0),
		tcpFrame(t, macServer, macClient, "10.9.0.1", "192.168.50.2", 22, 40000, true, true, 0),
		tcpFrame(t, macClient, macServer, "192.168.50.2", "10.9.0.1", 40000, 22, false, true, 100),
		udpFrame(t, "192.168.1.10", "192.168.1.20", 5000, 53, 30),
		udpFrame(t, "192.168.1.20", "192.168.1.10", 53, 5000, 60),
		arpFrame(t),
		bpfFrame(t, &layers.Ethernet{SrcMAC: macClient, DstMAC: macServer, EthernetType: 0x88b5}, bpfPayload(46)),
	}
}

func TestSensorEmitsFlowsAndNeighbours(t *testing.T) {
	opts := defaultOptions()
	opts.Interfaces = []string{"fake0"}
	var src *fakeSource
	opened := make(chan struct{})
	h := newHarness(t, opts, func(iface string, cfg captureConfig) (source, error) {
		if iface != "fake0" || cfg.Snaplen != defaultSnaplen {
			return nil, fmt.Errorf("open %q with %+v", iface, cfg)
		}
		close(opened)
		return src, nil
	})
	src = newFakeSource(time.Unix(0, h.clock.Load()).Add(-time.Second), testFrames(t)...)
	src.dropped = 3
	h.box.set(wire.Policy{Version: 7, Zones: testZones()})
	var attributed atomic.Int32
	Attribute = func(proto uint8, local, remote netip.AddrPort) *wire.FlowProcess {
		attributed.Add(1)
		if proto == 6 && local == netip.MustParseAddrPort("10.9.0.1:22") && remote == netip.MustParseAddrPort("192.168.50.2:40000") {
			return &wire.FlowProcess{PID: 42, Name: "sshd"}
		}
		return nil
	}
	t.Cleanup(func() { Attribute = nil })
	h.start()
	<-opened
	<-src.drained

	recs := h.round(time.Minute, 2)
	f := decodeFlows(t, recs[0])
	if f.Source != "capture:fake0" || f.ZonesVersion != 7 {
		t.Errorf("flows source %q zones version %d, want capture:fake0, 7", f.Source, f.ZonesVersion)
	}
	if f.Stats.Packets != 7 || f.Stats.Dropped != 3 || f.Stats.Error != "" {
		t.Errorf("stats = %+v, want 7 packets, 3 dropped, no error", f.Stats)
	}
	var skipped uint64
	for _, n := range f.Stats.Skipped {
		skipped += n
	}
	if skipped != 1 {
		t.Errorf("skipped = %v, want one frame", f.Stats.Skipped)
	}
	if len(f.Flows) != 1 {
		t.Fatalf("flows = %+v, want the one cross-zone flow", f.Flows)
	}
	fl := f.Flows[0]
	if fl.Proto != wire.ProtoTCP || fl.Src != "192.168.50.2" || fl.Dst != "10.9.0.1" || fl.SPort != 40000 || fl.DPort != 22 ||
		fl.SrcZone != "intern" || fl.DstZone != "helse" || fl.Packets != 3 || fl.Verdict != wire.VerdictDenied {
		t.Errorf("flow = %+v, want tcp 192.168.50.2:40000 (intern) -> 10.9.0.1:22 (helse), 3 packets, denied", fl)
	}
	if fl.Process == nil || fl.Process.PID != 42 {
		t.Errorf("flow process = %+v, want pid 42 (attributed to the local end)", fl.Process)
	}
	var intern *wire.ZoneCount
	for i, z := range f.Zones {
		if z.Zone == "intern" {
			intern = &f.Zones[i]
		}
	}
	if intern == nil || intern.Packets != 2 || intern.Flows != 1 {
		t.Errorf("zone counts = %+v, want intern with 1 flow of 2 packets", f.Zones)
	}
	if recs[1].Kind != wire.KindNeighbours {
		t.Fatalf("second record kind %s, want neighbours", recs[1].Kind)
	}
	var nb wire.Neighbours
	if err := recs[1].DecodeBody(&nb); err != nil {
		t.Fatal(err)
	}
	if nb.Source != "capture:fake0" || len(nb.Devices) == 0 || nb.Devices[0].MAC != macClient.String() {
		t.Errorf("neighbours = %+v, want %s from capture:fake0", nb, macClient)
	}

	// A quiet interval: one flows record with nothing new, no neighbours.
	f = decodeFlows(t, h.round(time.Minute, 1)[0])
	if f.Stats.Packets != 0 || f.Stats.Dropped != 0 || len(f.Stats.Skipped) != 0 {
		t.Errorf("quiet interval stats = %+v, want zeros", f.Stats)
	}
	if f.Start != time.Unix(0, h.clock.Load()).Add(-time.Minute).UnixNano() || f.End != h.clock.Load() {
		t.Errorf("quiet interval %d-%d, want the minute before %d", f.Start, f.End, h.clock.Load())
	}
}

func TestSensorWithoutZonesSendsNoFlowDetails(t *testing.T) {
	opts := defaultOptions()
	opts.Interfaces = []string{"fake0"}
	src := newFakeSource(time.Unix(1_700_000_000, 0), testFrames(t)...)
	h := newHarness(t, opts, func(string, captureConfig) (source, error) { return src, nil })
	h.start()
	<-src.drained
	recs := h.round(time.Minute, 2)
	f := decodeFlows(t, recs[0])
	if len(f.Flows) != 0 || f.ZonesVersion != 0 {
		t.Errorf("flows without zones = %+v (version %d), want none", f.Flows, f.ZonesVersion)
	}
	if f.Stats.Packets != 7 {
		t.Errorf("stats without zones = %+v, want 7 packets", f.Stats)
	}
}

func TestSensorReportsCaptureErrorsAndRetries(t *testing.T) {
	opts := defaultOptions()
	opts.Interfaces = []string{"fake0"}
	var opens atomic.Int32
	src := newFakeSource(time.Unix(1_700_000_000, 0), testFrames(t)[:3]...)
	src.failWith = errors.New("read capture: packet poll failed (interface down or removed)")
	var second *fakeSource
	h := newHarness(t, opts, func(string, captureConfig) (source, error) {
		switch opens.Add(1) {
		case 1, 2:
			return nil, fmt.Errorf("open capture fake0: %w", ErrNoPrivilege)
		case 3:
			return src, nil
		}
		return second, nil
	})
	second = newFakeSource(time.Unix(1_700_000_000, 0))
	h.start()

	for range 2 {
		f := decodeFlows(t, h.round(time.Minute, 1)[0])
		if !strings.Contains(f.Stats.Error, "CAP_NET_RAW") {
			t.Errorf("stats error = %q, want the missing capability", f.Stats.Error)
		}
	}
	// The third open succeeds; the capture then fails after three frames
	// and is closed.
	<-src.closedCh
	f := decodeFlows(t, h.round(time.Minute, 1)[0])
	if !strings.Contains(f.Stats.Error, "interface down") || f.Stats.Packets != 3 {
		t.Errorf("stats after a failed capture = %+v, want 3 packets and the read error", f.Stats)
	}
	// Opened again after the report.
	<-second.drained
	f = decodeFlows(t, h.round(time.Minute, 1)[0])
	if f.Stats.Error != "" {
		t.Errorf("stats error after reopening = %q, want none", f.Stats.Error)
	}
	if n := opens.Load(); n != 4 {
		t.Errorf("opened %d times, want 4", n)
	}
	h.stop()
	if !second.closed.Load() {
		t.Error("capture not closed when the sensor stopped")
	}
}

func TestEmitSplitsLargeReports(t *testing.T) {
	s := newSensor(sensor.Env{}, defaultOptions(), nil)
	res := result{flows: wire.Flows{Source: "capture:x", Start: 1, End: 2, ZonesVersion: 3,
		Stats: wire.CaptureStats{Packets: 99}, Zones: []wire.ZoneCount{{Zone: "a", Packets: 5}}}}
	for i := range 2*chunk + 10 {
		res.flows.Flows = append(res.flows.Flows, wire.Flow{Proto: "tcp", Src: "10.0.0.1", Dst: "10.0.0.2", SPort: uint16(i)})
	}
	for i := range chunk + 1 {
		res.devices = append(res.devices, wire.Neighbour{MAC: fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)})
	}
	var recs []wire.Record
	s.emit(func(r wire.Record) { recs = append(recs, r) }, time.Unix(2, 0), res)
	if len(recs) != 5 {
		t.Fatalf("emitted %d records, want 3 flows and 2 neighbours", len(recs))
	}
	var total int
	for i, r := range recs[:3] {
		f := decodeFlows(t, r)
		total += len(f.Flows)
		if f.Source != "capture:x" || f.ZonesVersion != 3 || f.Start != 1 || f.End != 2 {
			t.Errorf("chunk %d header = %+v", i, f)
		}
		if (i == 0) != (f.Stats.Packets == 99 && len(f.Zones) == 1) {
			t.Errorf("chunk %d stats %+v zones %+v; want them in the first chunk only", i, f.Stats, f.Zones)
		}
	}
	if total != 2*chunk+10 {
		t.Errorf("flows across chunks = %d, want %d", total, 2*chunk+10)
	}
	for _, r := range recs[3:] {
		if r.Kind != wire.KindNeighbours {
			t.Errorf("record kind %s, want neighbours", r.Kind)
		}
	}
}

func TestResolveExclude(t *testing.T) {
	opts := defaultOptions()
	opts.Exclude = []hostPort{{"10.0.0.5", 7443}, {"collector.test", 7443}, {"gone.test", 1}}
	s := newSensor(sensor.Env{}, opts, nil)
	s.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		if host == "collector.test" {
			return []netip.Addr{netip.MustParseAddr("::ffff:10.0.0.6"), netip.MustParseAddr("fd00::6")}, nil
		}
		return nil, errors.New("no such host")
	}
	got := s.resolveExclude(context.Background())
	want := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.5:7443"), netip.MustParseAddrPort("10.0.0.6:7443"), netip.MustParseAddrPort("[fd00::6]:7443")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolveExclude = %v, want %v", got, want)
	}
}

// BenchmarkWorkerPacket measures the per-packet path of a capture: decode,
// flow table, discovery, on one goroutine that owns them all (no lock).
func BenchmarkWorkerPacket(b *testing.B) {
	s := newSensor(sensor.Env{}, defaultOptions(), nil)
	s.oui = &OUI{}
	w := s.newWorker(context.Background(), "bench0", defaultMaxFlows, nil)
	frames := testFrames(b)[:5]
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000, 0)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d := frames[i%len(frames)]
		ci.CaptureLength, ci.Length = len(d), len(d)
		w.packet(layers.LinkTypeEthernet, d, &ci)
	}
}

// TestWorkerPacketAllocatesNothing: once its flows exist, a capture's
// packet path allocates nothing.
func TestWorkerPacketAllocatesNothing(t *testing.T) {
	s := newSensor(sensor.Env{}, defaultOptions(), nil)
	s.oui = &OUI{}
	m, _ := (&Sensor{policy: func() wire.Policy { return wire.Policy{Version: 1, Zones: testZones()} },
		log: s.log}).zoneMap()
	w := s.newWorker(context.Background(), "test0", defaultMaxFlows, m)
	frames := testFrames(t)[:5]
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000, 0)}
	for _, d := range frames {
		w.packet(layers.LinkTypeEthernet, d, &ci)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		d := frames[i%len(frames)]
		i++
		ci.CaptureLength, ci.Length = len(d), len(d)
		w.packet(layers.LinkTypeEthernet, d, &ci)
	})
	if allocs != 0 {
		t.Errorf("worker.packet allocates %.1f times a packet, want 0", allocs)
	}
	if w.table.Len() != 2 {
		t.Errorf("table holds %d flows, want 2", w.table.Len())
	}
}

// BenchmarkTableSharing compares the sensor's design, a table per
// interface owned by its capture goroutine, with one table shared by all
// captures behind a mutex, with every core capturing at once.
func BenchmarkTableSharing(b *testing.B) {
	frames := testFrames(b)[:5]
	b.Run("owned", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dec, table := NewDecoder(), NewTable(TableConfig{})
			var p Packet
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000, 0)}
			for i := 0; pb.Next(); i++ {
				if dec.Decode(layers.LinkTypeEthernet, frames[i%len(frames)], ci, &p) == "" {
					table.Add(&p)
				}
			}
		})
	})
	b.Run("shared-mutex", func(b *testing.B) {
		var mu sync.Mutex
		table := NewTable(TableConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			dec := NewDecoder()
			var p Packet
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000, 0)}
			for i := 0; pb.Next(); i++ {
				if dec.Decode(layers.LinkTypeEthernet, frames[i%len(frames)], ci, &p) == "" {
					mu.Lock()
					table.Add(&p)
					mu.Unlock()
				}
			}
		})
	})
}

// TestCollectorExcludedByDefault: the agent's own uplink is left out of the
// capture unless the exclude option says otherwise (an empty value captures
// everything).
func TestCollectorExcludedByDefault(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts map[string]string
		want []hostPort
	}{
		{"default", nil, []hostPort{{Host: "collector.kommune.no", Port: 7443}}},
		{"own list", map[string]string{"exclude": "10.1.1.1:53"}, []hostPort{{Host: "10.1.1.1", Port: 53}}},
		{"explicitly none", map[string]string{"exclude": ""}, nil},
	} {
		s, err := New(sensor.Env{Collector: "collector.kommune.no:7443", Options: tt.opts})
		if err != nil {
			t.Fatalf("%s: New: %v", tt.name, err)
		}
		if got := s.(*Sensor).opts.Exclude; !slices.Equal(got, tt.want) {
			t.Errorf("%s: exclude = %v, want %v", tt.name, got, tt.want)
		}
	}
}
