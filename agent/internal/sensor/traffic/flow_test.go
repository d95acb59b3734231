package traffic

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// flowPkt is a TCP or UDP packet at decT0 plus ms milliseconds.
func flowPkt(proto uint8, src string, sport uint16, dst string, dport uint16, flags uint8, length int, ms int) *Packet {
	return &Packet{
		At:  decT0.Add(time.Duration(ms) * time.Millisecond),
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		Proto: proto, SPort: sport, DPort: dport, TCPFlags: flags, Length: length,
	}
}

const flowZonesYAML = `
zones:
  - name: intern
    kind: internal
    prefixes: [192.168.0.0/16, "fd00:1::/48"]
  - name: helse
    kind: sensitive
    purpose: Helse og omsorg, journalsystem
    prefixes: [10.9.0.0/16]
firewall:
  - from: intern
    to: external
    proto: tcp
    ports: [80, 443]
    justification: Nettlesing via proxy
    owner: drift
`

func flowZones(t testing.TB) *zone.Map {
	t.Helper()
	m, err := zone.Parse("zones.yaml", []byte(flowZonesYAML))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTableHandshake(t *testing.T) {
	tab := NewTable(TableConfig{AllFlows: true})
	tab.Add(flowPkt(6, "192.168.1.10", 50000, "93.184.216.34", 443, FlagSYN, 60, 0))
	tab.Add(flowPkt(6, "93.184.216.34", 443, "192.168.1.10", 50000, FlagSYN|FlagACK, 60, 1))
	tab.Add(flowPkt(6, "192.168.1.10", 50000, "93.184.216.34", 443, FlagACK, 52, 2))
	tab.Add(flowPkt(6, "93.184.216.34", 443, "192.168.1.10", 50000, FlagACK|FlagPSH, 1500, 3))
	rep := tab.Report(decT0.Add(time.Second), "test")
	if len(rep.Flows) != 1 {
		t.Fatalf("Report: %d flows, want 1: %+v", len(rep.Flows), rep.Flows)
	}
	f := rep.Flows[0]
	want := wire.Flow{Proto: "tcp", Src: "192.168.1.10", Dst: "93.184.216.34", SPort: 50000, DPort: 443,
		SrcZone: "external", DstZone: "external", Packets: 4, Bytes: 1672, RevPackets: 2, RevBytes: 1560,
		First: decT0.UnixNano(), Last: decT0.Add(3 * time.Millisecond).UnixNano(), Verdict: wire.VerdictNoMap}
	if f != want {
		t.Errorf("flow\n%+v, want\n%+v", f, want)
	}
	if rep.Source != "test" || rep.Start != decT0.UnixNano() || rep.End != decT0.Add(time.Second).UnixNano() || rep.Stats.ActiveFlows != 1 {
		t.Errorf("report header %+v", rep)
	}
}

// TestTableInitiator checks who opens flows first seen mid-stream.
func TestTableInitiator(t *testing.T) {
	tests := []struct {
		name         string
		proto        uint8
		sport, dport uint16
		flags        uint8
		wantSrcIsA   bool // the first packet's sender (a) opened the flow
	}{
		{"client to https", 6, 50000, 443, FlagACK, true},
		{"https to client", 6, 443, 50000, FlagACK, false},
		{"syn-ack from server", 6, 50000, 8080, FlagSYN | FlagACK, false},
		{"dhcp server reply", 17, 67, 68, 0, false},
		{"dhcp client request", 17, 68, 67, 0, true},
		{"both privileged, lower is the service", 17, 137, 53, 0, true},
		{"windows ephemeral to 8443", 6, 8443, 52000, FlagACK, false},
		{"linux client to 8080 seen from the server side", 6, 8080, 40000, FlagACK, true},
		{"both registered: first sender", 6, 2430, 44818, FlagACK, true},
		{"reply of 44818 first", 6, 44818, 2430, FlagACK, true},
		{"same ports", 17, 5353, 5353, 0, true},
	}
	for _, tt := range tests {
		tab := NewTable(TableConfig{AllFlows: true})
		tab.Add(flowPkt(tt.proto, "10.0.0.1", tt.sport, "10.0.0.2", tt.dport, tt.flags, 40, 0))
		tab.Add(flowPkt(tt.proto, "10.0.0.2", tt.dport, "10.0.0.1", tt.sport, FlagACK, 40, 1))
		f := tab.Report(decT0.Add(time.Second), "t").Flows[0]
		if got := f.Src == "10.0.0.1"; got != tt.wantSrcIsA {
			t.Errorf("%s: flow opened by %s:%d, want the other side", tt.name, f.Src, f.SPort)
		}
		if f.Packets != 2 || f.RevPackets != 1 {
			t.Errorf("%s: packets %d, rev %d; want 2 and 1", tt.name, f.Packets, f.RevPackets)
		}
	}
	// A later SYN corrects a guess.
	tab := NewTable(TableConfig{AllFlows: true})
	tab.Add(flowPkt(6, "10.0.0.1", 443, "10.0.0.2", 50000, FlagACK, 40, 0))
	tab.Add(flowPkt(6, "10.0.0.1", 443, "10.0.0.2", 50000, FlagSYN, 40, 1))
	if f := tab.Report(decT0.Add(time.Second), "t").Flows[0]; f.Src != "10.0.0.1" || f.DPort != 50000 {
		t.Errorf("after a SYN from 10.0.0.1:443: flow %s:%d -> %s:%d, want it opened by 10.0.0.1", f.Src, f.SPort, f.Dst, f.DPort)
	}
}

func TestTableICMP(t *testing.T) {
	tab := NewTable(TableConfig{AllFlows: true})
	// Echo reply seen first, then the next request.
	tab.Add(&Packet{At: decT0, Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Proto: 1, DPort: 0, Length: 84})
	tab.Add(&Packet{At: decT0, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 1, DPort: 8 << 8, Length: 84})
	tab.Add(&Packet{At: decT0, Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("fe80::2"), Proto: 58, DPort: 128 << 8, Length: 104})
	tab.Add(&Packet{At: decT0, Src: netip.MustParseAddr("fe80::2"), Dst: netip.MustParseAddr("fe80::1"), Proto: 58, DPort: 129 << 8, Length: 104})
	flows := tab.Report(decT0, "t").Flows
	if len(flows) != 2 {
		t.Fatalf("%d flows, want 2: %+v", len(flows), flows)
	}
	for _, f := range flows {
		if f.Packets != 2 || f.RevPackets != 1 || (f.Src != "10.0.0.1" && f.Src != "fe80::1") {
			t.Errorf("echo flow %+v: want opened by the requester, 2 packets, 1 back", f)
		}
	}
}

func TestTableZones(t *testing.T) {
	m := flowZones(t)
	tab := NewTable(TableConfig{Zones: m})
	tab.Add(flowPkt(6, "192.168.1.10", 50000, "93.184.216.34", 443, FlagSYN, 60, 0)) // allowed
	tab.Add(flowPkt(6, "192.168.1.10", 50001, "10.9.0.5", 1433, FlagSYN, 60, 0))     // denied
	tab.Add(flowPkt(17, "192.168.1.10", 5353, "192.168.1.11", 5353, 0, 100, 0))      // inside intern
	tab.Add(flowPkt(17, "192.168.1.11", 5353, "192.168.1.10", 5353, 0, 100, 1))      // same flow
	tab.Add(flowPkt(6, "fd00:1::1", 40000, "fd00:1::2", 22, FlagSYN, 80, 0))         // inside intern
	tab.Add(flowPkt(17, "93.184.216.34", 123, "8.8.8.8", 123, 0, 76, 0))             // inside external
	var attributed []string
	tab.Attribute = func(f *wire.Flow) {
		attributed = append(attributed, f.Dst)
		f.Process = &wire.FlowProcess{PID: 42}
	}
	rep := tab.Report(decT0.Add(time.Minute), "capture:eth0")
	want := []struct{ dst, srcZone, dstZone, verdict, rule string }{
		{"10.9.0.5", "intern", "helse", wire.VerdictDenied, ""},
		{"93.184.216.34", "intern", "external", wire.VerdictAllowed, "fw-1"},
	}
	if len(rep.Flows) != len(want) {
		t.Fatalf("%d flows, want %d cross-zone ones: %+v", len(rep.Flows), len(want), rep.Flows)
	}
	for i, w := range want {
		f := rep.Flows[i]
		if f.Dst != w.dst || f.SrcZone != w.srcZone || f.DstZone != w.dstZone || f.Verdict != w.verdict || f.Rule != w.rule || f.Process == nil {
			t.Errorf("flow %d: %+v, want %+v and a process", i, f, w)
		}
	}
	if len(attributed) != 2 {
		t.Errorf("Attribute called for %v, want the 2 cross-zone flows", attributed)
	}
	wantZones := []wire.ZoneCount{{Zone: "intern", Flows: 2, Packets: 3, Bytes: 280}, {Zone: "external", Flows: 1, Packets: 1, Bytes: 76}}
	if len(rep.Zones) != len(wantZones) {
		t.Fatalf("zones %+v, want %+v", rep.Zones, wantZones)
	}
	for i := range wantZones {
		if rep.Zones[i] != wantZones[i] {
			t.Errorf("zone count %+v, want %+v", rep.Zones[i], wantZones[i])
		}
	}
	// Without a map everything is external: only counted.
	tab.SetZones(nil)
	tab.Add(flowPkt(6, "192.168.1.10", 50001, "10.9.0.5", 1433, FlagACK, 60, 2))
	rep = tab.Report(decT0.Add(2*time.Minute), "capture:eth0")
	if len(rep.Flows) != 0 || len(rep.Zones) != 1 || rep.Zones[0].Zone != "external" {
		t.Errorf("without zones: flows %+v, zones %+v; want none and external", rep.Flows, rep.Zones)
	}
	// With the map back, the flow is classified again.
	tab.SetZones(m)
	tab.Add(flowPkt(6, "192.168.1.10", 50001, "10.9.0.5", 1433, FlagACK, 60, 3))
	rep = tab.Report(decT0.Add(3*time.Minute), "capture:eth0")
	if len(rep.Flows) != 1 || rep.Flows[0].DstZone != "helse" {
		t.Errorf("after SetZones: flows %+v, want the flow to helse", rep.Flows)
	}
}

func TestTableIntervals(t *testing.T) {
	tab := NewTable(TableConfig{AllFlows: true})
	tab.Add(flowPkt(6, "10.0.0.1", 40000, "10.0.0.2", 80, FlagSYN, 60, 0))
	tab.Add(flowPkt(17, "10.0.0.1", 40000, "10.0.0.3", 53, 0, 60, 0))
	r1 := tab.Report(decT0.Add(time.Minute), "t")
	tab.Add(flowPkt(6, "10.0.0.2", 80, "10.0.0.1", 40000, FlagACK, 1000, 61_000))
	r2 := tab.Report(decT0.Add(2*time.Minute), "t")
	if len(r1.Flows) != 2 || len(r2.Flows) != 1 {
		t.Fatalf("flows %d then %d, want 2 then 1 (only the active one)", len(r1.Flows), len(r2.Flows))
	}
	f := r2.Flows[0]
	if f.Packets != 1 || f.Bytes != 1000 || f.RevPackets != 1 || f.Src != "10.0.0.1" || f.First != decT0.UnixNano() {
		t.Errorf("second interval: %+v, want the interval's one packet back, the flow's first time kept", f)
	}
	if r2.Start != r1.End {
		t.Errorf("second interval starts %d, want %d", r2.Start, r1.End)
	}
	if r3 := tab.Report(decT0.Add(3*time.Minute), "t"); len(r3.Flows) != 0 {
		t.Errorf("quiet interval: %+v, want no flows", r3.Flows)
	}
}

func TestTableExpire(t *testing.T) {
	tab := NewTable(TableConfig{AllFlows: true, IdleTimeout: time.Minute, ActiveTimeout: 10 * time.Minute})
	tab.Add(flowPkt(17, "10.0.0.1", 40000, "10.0.0.3", 53, 0, 60, 0))
	tab.Add(flowPkt(6, "10.0.0.1", 40001, "10.0.0.2", 80, FlagSYN, 60, 0))
	tab.Add(flowPkt(6, "10.0.0.1", 40001, "10.0.0.2", 80, FlagACK, 60, 90_000))
	// Unreported packets keep idle flows.
	tab.Expire(decT0.Add(2 * time.Minute))
	if tab.Len() != 2 {
		t.Fatalf("after Expire before Report: %d flows, want 2", tab.Len())
	}
	tab.Report(decT0.Add(2*time.Minute), "t")
	tab.Expire(decT0.Add(2 * time.Minute))
	if tab.Len() != 1 {
		t.Fatalf("after Report and Expire: %d flows, want 1 (the DNS one idle)", tab.Len())
	}
	// The TCP flow keeps going past the active timeout: a new record.
	for ms := 120_000; ms <= 11*60_000; ms += 30_000 {
		tab.Add(flowPkt(6, "10.0.0.2", 80, "10.0.0.1", 40001, FlagACK, 60, ms))
	}
	tab.Report(decT0.Add(11*time.Minute), "t")
	tab.Expire(decT0.Add(11 * time.Minute))
	tab.Add(flowPkt(6, "10.0.0.2", 80, "10.0.0.1", 40001, FlagACK, 60, 11*60_000+1))
	f := tab.Report(decT0.Add(12*time.Minute), "t").Flows[0]
	if f.First != decT0.Add(11*time.Minute+time.Millisecond).UnixNano() || f.Src != "10.0.0.1" {
		t.Errorf("after the active timeout: first %v, src %s; want a new record from the next packet, same opener",
			time.Unix(0, f.First).UTC(), f.Src)
	}
}

func TestTableEvicts(t *testing.T) {
	tab := NewTable(TableConfig{MaxFlows: 3, AllFlows: true})
	// Seconds apart: recency is followed to the second.
	for i := range 3 {
		tab.Add(flowPkt(17, "10.0.0.1", uint16(1000+i), "10.0.0.2", 53, 0, 60, 2000*i))
	}
	tab.Add(flowPkt(17, "10.0.0.1", 1000, "10.0.0.2", 53, 0, 60, 6000)) // 1000 is now the most recent
	tab.Add(flowPkt(17, "10.0.0.1", 2000, "10.0.0.2", 53, 0, 60, 8000)) // evicts 1001
	tab.Add(flowPkt(17, "10.0.0.1", 2001, "10.0.0.2", 53, 0, 60, 8500)) // evicts 1002
	rep := tab.Report(decT0.Add(10*time.Second), "t")
	var ports []uint16
	for _, f := range rep.Flows {
		ports = append(ports, f.SPort)
	}
	if tab.Len() != 3 || rep.Stats.Evicted != 2 || rep.Stats.ActiveFlows != 3 || len(ports) != 3 || ports[0] != 1000 || ports[1] != 2000 || ports[2] != 2001 {
		t.Errorf("len %d, evicted %d, active %d, flows from ports %v; want 3, 2, 3, [1000 2000 2001]",
			tab.Len(), rep.Stats.Evicted, rep.Stats.ActiveFlows, ports)
	}
	if rep := tab.Report(decT0.Add(20*time.Second), "t"); rep.Stats.Evicted != 0 {
		t.Errorf("evictions of a quiet interval: %d, want 0", rep.Stats.Evicted)
	}
}

func TestTableAddNoAlloc(t *testing.T) {
	tab := NewTable(TableConfig{Zones: flowZones(t)})
	p := flowPkt(6, "192.168.1.10", 50000, "93.184.216.34", 443, FlagACK, 1500, 0)
	q := flowPkt(6, "93.184.216.34", 443, "192.168.1.10", 50000, FlagACK, 52, 0)
	tab.Add(p)
	if allocs := testing.AllocsPerRun(1000, func() { tab.Add(p); tab.Add(q) }); allocs != 0 {
		t.Errorf("Add of an existing flow allocates %.1f times, want 0", allocs)
	}
}

// flowPackets makes n packets spread over flows flows, both directions, to
// addresses in and out of flowZonesYAML's zones.
func flowPackets(n, flows int) []Packet {
	ps := make([]Packet, n)
	for i := range ps {
		f := i % flows
		var a, b [4]byte
		binary.BigEndian.PutUint32(a[:], 0xc0a80000|uint32(f%65536)) // 192.168.x.y
		binary.BigEndian.PutUint32(b[:], 0x0a090000|uint32(f/65536)) // 10.9.0.z
		src, dst := netip.AddrFrom4(a), netip.AddrFrom4(b)
		sport, dport := uint16(40000+f%20000), uint16(443)
		if i/flows%2 == 1 {
			src, dst, sport, dport = dst, src, dport, sport
		}
		ps[i] = Packet{At: decT0.Add(time.Duration(i) * time.Microsecond), Src: src, Dst: dst, Proto: 6, SPort: sport, DPort: dport, TCPFlags: FlagACK, Length: 100}
	}
	return ps
}

// TestTableMemory bounds the memory a full table holds. Measured on
// linux/amd64 with Go 1.26 (HeapAlloc before and after, garbage collected):
// 154 bytes per flow at 2^18 flows: the 120-byte entry, 8-byte index slots
// at most half full, the recency queue (16 bytes a place, up to twice as
// many places as flows) and the free list.
func TestTableMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a quarter million flows")
	}
	const n = 1 << 18
	ps := flowPackets(n, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab := NewTable(TableConfig{MaxFlows: n, Zones: flowZones(t)})
	for i := range ps {
		tab.Add(&ps[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perFlow := float64(after.HeapAlloc-before.HeapAlloc) / float64(tab.Len())
	t.Logf("%d flows: %.0f bytes per flow", tab.Len(), perFlow)
	if tab.Len() != n || perFlow > 192 {
		t.Errorf("%d flows taking %.0f bytes each, want %d flows within 192 bytes each", tab.Len(), perFlow, n)
	}
	runtime.KeepAlive(tab)
	runtime.KeepAlive(ps)
}

func BenchmarkTableAdd(b *testing.B) {
	for _, bc := range []struct {
		name  string
		flows int
	}{{"1k-flows", 1000}, {"100k-flows", 100_000}} {
		b.Run(bc.name, func(b *testing.B) {
			ps := flowPackets(1<<20, bc.flows)
			tab := NewTable(TableConfig{MaxFlows: 1 << 20, Zones: flowZones(b)})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tab.Add(&ps[i&(1<<20-1)])
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

// TestFlowIndex checks the index against a Go map through random inserts
// and removals in a small table, where chains collide and wrap.
func TestFlowIndex(t *testing.T) {
	const max = 48
	keys := make([]flowKey, 4*max)
	for i := range keys {
		keys[i].a[15], keys[i].b[15], keys[i].pa, keys[i].proto = byte(i), byte(i>>8), uint16(i), 17
	}
	x := newFlowIndex(max)
	slot := map[int32]int{} // entry index -> key
	keyOf := func(idx int32) *flowKey { return &keys[slot[idx]] }
	in := map[int]int32{} // key -> entry index
	free := []int32{}
	for i := range int32(max) {
		free = append(free, i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 20000 {
		k := rng.IntN(len(keys))
		h := x.hash(&keys[k])
		if idx, ok := in[k]; ok {
			x.remove(h, idx)
			delete(in, k)
			delete(slot, idx)
			free = append(free, idx)
		} else if len(free) > 0 {
			idx := free[len(free)-1]
			free = free[:len(free)-1]
			slot[idx] = k
			x.insert(h, idx)
			in[k] = idx
		}
		for j := range keys {
			idx, ok := x.find(&keys[j], x.hash(&keys[j]), keyOf)
			want, wok := in[j]
			if ok != wok || ok && idx != want {
				t.Fatalf("step %d: find(key %d) = %d, %v; want %d, %v", step, j, idx, ok, want, wok)
			}
		}
		if x.n != len(in) || len(x.slots) > 2*max*2 {
			t.Fatalf("step %d: %d held in %d slots, want %d in at most %d", step, x.n, len(x.slots), len(in), 4*max)
		}
	}
}

// TestTableAddBatch feeds the same packets (mixed protocols, both
// directions, SYNs, ICMP requests and replies, packets without IP) to one
// table through Add and to another through AddBatch, in batches of odd
// sizes, with a bound that evicts: both report the same flows, zone counts
// and evictions.
func TestTableAddBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ps := make([]Packet, 20_000)
	for i := range ps {
		f := rng.IntN(3000)
		a := netip.AddrFrom4([4]byte{192, 168, byte(f >> 8), byte(f)})
		b := netip.AddrFrom4([4]byte{10, 9, 0, byte(f % 7)})
		if f%5 == 0 {
			a = netip.AddrFrom16([16]byte{0xfd, 0, 1, 15: byte(f)})
			b = netip.AddrFrom16([16]byte{0x20, 0x01, 0xd, 0xb8, 15: byte(f % 3)})
		}
		p := Packet{At: decT0.Add(time.Duration(i) * 3 * time.Millisecond), Src: a, Dst: b, Length: 40 + f%1400}
		switch f % 4 {
		case 0, 1:
			p.Proto, p.SPort, p.DPort = 6, uint16(40000+f), 443
			p.TCPFlags = [...]uint8{FlagSYN, FlagSYN | FlagACK, FlagACK, FlagACK | FlagFIN}[rng.IntN(4)]
		case 2:
			p.Proto, p.SPort, p.DPort = 17, uint16(50000+f), uint16(53+f%3)
		case 3:
			p.Proto, p.DPort = 1, uint16([...]int{8, 0, 3}[rng.IntN(3)])<<8
			if a.Is6() {
				p.Proto, p.DPort = 58, uint16([...]int{128, 129, 135, 136}[rng.IntN(4)])<<8
			}
		}
		if rng.IntN(2) == 0 {
			p.Src, p.Dst, p.SPort, p.DPort = p.Dst, p.Src, p.DPort, p.SPort
			if p.Proto == 1 || p.Proto == 58 {
				p.SPort, p.DPort = 0, p.SPort
			}
		}
		if rng.IntN(50) == 0 {
			p = Packet{At: p.At, L2Proto: "arp"}
		}
		ps[i] = p
	}
	zones := flowZones(t)
	for _, maxFlows := range []int{100_000, 1000} {
		one := NewTable(TableConfig{MaxFlows: maxFlows, Zones: zones, AllFlows: true})
		batched := NewTable(TableConfig{MaxFlows: maxFlows, Zones: zones, AllFlows: true})
		for i := range ps {
			one.Add(&ps[i])
		}
		for rest := ps; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(2*addBatchMax+5))
			batched.AddBatch(rest[:n])
			rest = rest[n:]
		}
		end := decT0.Add(time.Minute)
		want, got := one.Report(end, "t"), batched.Report(end, "t")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("max %d flows: AddBatch reports %d flows, %+v, %+v; Add %d flows, %+v, %+v",
				maxFlows, len(got.Flows), got.Zones, got.Stats, len(want.Flows), want.Zones, want.Stats)
		}
		if maxFlows == 1000 && want.Stats.Evicted == 0 {
			t.Errorf("max %d flows: nothing evicted; the test wants evictions", maxFlows)
		}
	}
}

func TestTableAddBatchNoAlloc(t *testing.T) {
	tab := NewTable(TableConfig{Zones: flowZones(t)})
	ps := flowPackets(200, 50)
	tab.AddBatch(ps)
	if allocs := testing.AllocsPerRun(100, func() { tab.AddBatch(ps) }); allocs != 0 {
		t.Errorf("AddBatch of existing flows allocates %.1f times, want 0", allocs)
	}
}

// TestTableRecency checks eviction against a model of a recency list:
// with every packet a second after the last, each one moves its flow, so
// the flows held are always the MaxFlows most recently seen, through many
// compactions of the recency queue.
func TestTableRecency(t *testing.T) {
	const max, flows = 8, 20
	tab := NewTable(TableConfig{MaxFlows: max})
	rng := rand.New(rand.NewPCG(3, 4))
	var recent []int // the model: most recent last
	for step := range 5000 {
		f := rng.IntN(flows)
		p := flowPkt(17, "10.0.0.1", uint16(1000+f), "10.0.0.2", 53, 0, 100, step*1000)
		tab.Add(p)
		recent = slices.DeleteFunc(recent, func(g int) bool { return g == f })
		recent = append(recent, f)
		if len(recent) > max {
			recent = recent[1:]
		}
		for g := range flows {
			var pk packetKey
			pk.set(flowPkt(17, "10.0.0.1", uint16(1000+g), "10.0.0.2", 53, 0, 100, 0))
			_, held := tab.index.find(&pk.k, tab.index.hash(&pk.k), tab.key)
			if want := slices.Contains(recent, g); held != want {
				t.Fatalf("step %d: flow %d held = %v, want %v (recent %v)", step, g, held, want, recent)
			}
		}
	}
	if len(tab.recent) > 2*max+64 {
		t.Errorf("recency queue holds %d places for %d flows, want at most %d", len(tab.recent), tab.Len(), 2*max+64)
	}
}
