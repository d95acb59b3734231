package zone

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// testFile is a municipality in small, with nested zones in both families,
// a single-address zone member and rules of every shape.
const testFile = `zones:
  - name: intern
    kind: internal
    prefixes: [10.0.0.0/8, "fd00:10::/32"]
  - name: helse
    kind: sensitive
    parent: intern
    purpose: Helse og omsorg, journalsystem
    prefixes: [10.20.0.0/16, 10.30.1.128/25, "fd00:10:20::/48", 10.99.0.7]
  - name: epj
    kind: sensitive
    parent: helse
    prefixes: [10.20.5.0/24]
  - name: skole
    kind: internal
    prefixes: [172.16.0.0/12]
  - name: top
    kind: internal
    prefixes: [255.255.255.0/24, "ffff::/16"]
  - name: top6
    kind: internal
    parent: top
    prefixes: ["ffff:ffff::/32"]
firewall:
  - {id: web, from: intern, to: external, proto: tcp, ports: [80, 443, "8000-8100"], justification: Nettlesing}
  - {id: dns, from: intern, to: external, proto: any, ports: [53], justification: DNS}
  - {id: ntp, from: intern, to: external, proto: udp, ports: [123], justification: Tid}
  - {id: ping, from: intern, to: helse, proto: icmp, justification: Feilsøking}
  - {id: epj, from: intern, to: epj, proto: tcp, ports: [443], justification: Journal}
  - {id: gre, from: skole, to: intern, justification: Alt, owner: drift}
  - {id: web-wide, from: intern, to: external, proto: tcp, ports: ["1-65535"], justification: Senere regel}
`

func testMap(t testing.TB) *Map {
	t.Helper()
	m, err := Parse("zones.yaml", []byte(testFile))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestZoneIndex(t *testing.T) {
	m := testMap(t)
	for _, c := range []struct {
		addr string
		want string
	}{
		{"10.1.2.3", "intern"},
		{"10.0.0.0", "intern"},
		{"10.255.255.255", "intern"},
		{"10.20.0.0", "helse"},
		{"10.20.4.255", "helse"},
		{"10.20.5.0", "epj"}, // the child beats its parent
		{"10.20.5.255", "epj"},
		{"10.20.6.0", "helse"},
		{"10.20.255.255", "helse"},
		{"10.21.0.0", "intern"},
		{"10.30.1.127", "intern"},
		{"10.30.1.128", "helse"},
		{"10.99.0.6", "intern"},
		{"10.99.0.7", "helse"}, // a plain address is its /32
		{"10.99.0.8", "intern"},
		{"11.0.0.0", "external"},
		{"9.255.255.255", "external"},
		{"0.0.0.0", "external"},
		{"172.16.0.1", "skole"},
		{"172.31.255.255", "skole"},
		{"172.32.0.0", "external"},
		{"255.255.255.255", "top"},
		{"255.255.254.255", "external"},
		{"fd00:10::1", "intern"},
		{"fd00:10:20::1", "helse"},
		{"fd00:10:20:ffff:ffff:ffff:ffff:ffff", "helse"},
		{"fd00:10:21::", "intern"},
		{"fd00:11::", "external"},
		{"fd00:10:20::1%eth0", "helse"}, // the scope zone does not matter
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "top6"},
		{"ffff:fffe:ffff:ffff:ffff:ffff:ffff:ffff", "top"},
		{"ffff::", "top"},
		{"fffe::1", "external"},
		{"::", "external"},
		{"::ffff:10.20.5.9", "epj"}, // IPv4-mapped: looked up as IPv4
		{"::ffff:8.8.8.8", "external"},
		{"::10.20.5.9", "external"}, // IPv4-compatible is plain IPv6
		{"2001:db8::1", "external"},
	} {
		a := netip.MustParseAddr(c.addr)
		if got := m.ZoneByIndex(m.ZoneIndex(a)).Name; got != c.want {
			t.Errorf("ZoneIndex(%s) = zone %q, want %q", c.addr, got, c.want)
		}
		if got := m.ZoneOf(a).Name; got != c.want {
			t.Errorf("ZoneOf(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
	if i := m.ZoneIndex(netip.Addr{}); i != m.ExternalIndex() {
		t.Errorf("ZoneIndex(invalid) = %d, want the external zone %d", i, m.ExternalIndex())
	}
}

// TestZoneIndexAgreesWithTable checks the flattened lookup against the
// table's prefix-by-prefix one on random addresses near the prefixes' edges.
func TestZoneIndexAgreesWithTable(t *testing.T) {
	m := testMap(t)
	tab := m.Table()
	rng := rand.New(rand.NewPCG(1, 2))
	var probes []netip.Addr
	for _, z := range m.Zones() {
		for _, p := range z.CIDRs {
			first, last := rangeOf(p)
			for _, k := range []u128{first, last, first.prev(), last.next()} {
				probes = append(probes, fromU128(k, p.Addr().Is4()))
			}
			for range 50 {
				b := p.Addr().AsSlice()
				for i := p.Bits() / 8; i < len(b); i++ {
					b[i] = byte(rng.Uint32())
				}
				a, _ := netip.AddrFromSlice(b)
				probes = append(probes, a)
			}
		}
	}
	for range 2000 {
		probes = append(probes, netip.AddrFrom4([4]byte{10, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}))
	}
	for _, a := range probes {
		want := ExternalZone
		if z, ok := tab.Lookup(a); ok {
			want = z.Name
		}
		if got := m.ZoneOf(a).Name; got != want {
			t.Errorf("ZoneOf(%s) = %q, Table.Lookup says %q", a, got, want)
		}
	}
}

// fromU128 turns a number back into an address, for the edges of prefixes;
// IPv4 numbers past the end wrap.
func fromU128(k u128, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{byte(k.lo >> 24), byte(k.lo >> 16), byte(k.lo >> 8), byte(k.lo)})
	}
	var b [16]byte
	for i := range 8 {
		b[i] = byte(k.hi >> (56 - 8*i))
		b[8+i] = byte(k.lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

func TestAllowed(t *testing.T) {
	m := testMap(t)
	for _, c := range []struct {
		f    Flow
		rule string // "" for not allowed
	}{
		{Flow{"intern", "external", "tcp", 80}, "web"},
		{Flow{"intern", "external", "tcp", 443}, "web"},
		{Flow{"intern", "external", "tcp", 8000}, "web"},
		{Flow{"intern", "external", "tcp", 8050}, "web"},
		{Flow{"intern", "external", "tcp", 8100}, "web"},
		{Flow{"intern", "external", "tcp", 8101}, "web-wide"}, // the first rule that fits
		{Flow{"intern", "external", "tcp", 53}, "dns"},
		{Flow{"intern", "external", "udp", 53}, "dns"}, // any with ports: TCP and UDP
		{Flow{"intern", "external", "udp", 123}, "ntp"},
		{Flow{"intern", "external", "udp", 124}, ""},
		{Flow{"intern", "external", "icmp", 53}, ""}, // any with ports is not ICMP
		{Flow{"intern", "external", "47", 53}, ""},
		{Flow{"intern", "helse", "icmp", 0x0800}, "ping"},
		{Flow{"intern", "helse", "icmpv6", 0x8000}, ""}, // icmp is not icmpv6
		{Flow{"intern", "helse", "tcp", 443}, ""},
		{Flow{"intern", "epj", "tcp", 443}, "epj"},
		{Flow{"intern", "epj", "icmp", 0}, ""}, // a rule to helse does not open epj
		{Flow{"skole", "intern", "tcp", 22}, "gre"},
		{Flow{"skole", "intern", "47", 0}, "gre"},
		{Flow{"skole", "intern", "icmpv6", 0}, "gre"},
		{Flow{"skole", "helse", "tcp", 22}, ""}, // nor does a rule to intern open helse
		{Flow{"external", "intern", "tcp", 443}, ""},
		{Flow{"nowhere", "intern", "tcp", 443}, ""},
		{Flow{"intern", "nowhere", "tcp", 443}, ""},
		{Flow{"skole", "intern", "bogus", 443}, ""},
		{Flow{"skole", "intern", "256", 443}, ""},
	} {
		r, ok := m.Allowed(c.f)
		if ok != (c.rule != "") || r.ID != c.rule {
			t.Errorf("Allowed(%+v) = %q, %v; want %q", c.f, r.ID, ok, c.rule)
		}
		if ok && (r.From != c.f.From || r.To != c.f.To || r.Line == 0) {
			t.Errorf("Allowed(%+v) = %+v: not the rule for this pair", c.f, r)
		}
	}
	r, _ := m.Allowed(Flow{"skole", "intern", "tcp", 1})
	if r.Owner != "drift" || r.Justification != "Alt" || r.Proto != "" || r.Line != 30 {
		t.Errorf("rule gre = %+v", r)
	}
}

func TestAllowedIndex(t *testing.T) {
	m := testMap(t)
	idx := func(name string) int {
		i, ok := m.Index(name)
		if !ok {
			t.Fatalf("Index(%q): no such zone", name)
		}
		return i
	}
	intern, ext, helse := idx("intern"), idx("external"), idx("helse")
	for _, c := range []struct {
		from, to int
		proto    uint8
		port     uint16
		rule     string
	}{
		{intern, ext, 6, 443, "web"},
		{intern, ext, 17, 53, "dns"},
		{intern, ext, 132, 53, ""}, // SCTP: any with ports means TCP and UDP
		{intern, helse, 1, 0, "ping"},
		{intern, helse, 58, 0, ""},
		{helse, intern, 1, 0, ""},
		{-1, ext, 6, 443, ""},
		{intern, m.NumZones(), 6, 443, ""},
	} {
		id, ok := m.AllowedIndex(c.from, c.to, c.proto, c.port)
		if ok != (c.rule != "") || id != c.rule {
			t.Errorf("AllowedIndex(%s, %s, %d, %d) = %q, %v; want %q",
				m.ZoneName(c.from), m.ZoneName(c.to), c.proto, c.port, id, ok, c.rule)
		}
	}
}

func TestNilMap(t *testing.T) {
	var m *Map
	if m.NumZones() != 1 || m.ZoneIndex(netip.MustParseAddr("10.0.0.1")) != 0 || m.ExternalIndex() != 0 {
		t.Errorf("nil map: NumZones %d, ZoneIndex %d", m.NumZones(), m.ZoneIndex(netip.MustParseAddr("10.0.0.1")))
	}
	if z := m.ZoneOf(netip.MustParseAddr("10.0.0.1")); z.Name != ExternalZone || z.Level != External {
		t.Errorf("nil map: ZoneOf = %+v, want external", z)
	}
	if z := m.ZoneByIndex(1); z.Name != "" {
		t.Errorf("nil map: ZoneByIndex(1) = %+v, want none", z)
	}
	if id, ok := m.AllowedIndex(0, 0, 6, 443); ok {
		t.Errorf("nil map: AllowedIndex = %q, true; want nothing allowed", id)
	}
	if r, ok := m.Allowed(Flow{ExternalZone, ExternalZone, "tcp", 443}); ok {
		t.Errorf("nil map: Allowed = %+v, true; want nothing allowed", r)
	}
	if m.Rules() != nil || m.Table() != nil || len(m.Zones()) != 1 {
		t.Errorf("nil map: Rules %v, Zones %v", m.Rules(), m.Zones())
	}
	if p := m.Policy(); len(p.Zones) != 0 || len(p.Firewall) != 0 {
		t.Errorf("nil map: Policy() = %+v", p)
	}
}

func TestMapAccessors(t *testing.T) {
	m := testMap(t)
	zs := m.Zones()
	if len(zs) != m.NumZones() || len(zs) != 7 || zs[6].Name != ExternalZone || zs[1].Parent != "intern" || zs[1].Purpose == "" {
		t.Fatalf("Zones() = %+v", zs)
	}
	for i, z := range zs {
		if j, ok := m.Index(z.Name); !ok || j != i || m.ZoneName(i) != z.Name {
			t.Errorf("Index(%q) = %d, %v; want %d", z.Name, j, ok, i)
		}
	}
	zs[0].CIDRs[0] = netip.MustParsePrefix("1.0.0.0/8")
	if m.ZoneByIndex(0).CIDRs[0].String() != "10.0.0.0/8" {
		t.Error("Zones() shares its prefixes with the map")
	}
	rs := m.Rules()
	rs[0].Ports[0] = PortRange{1, 1}
	if m.Rules()[0].Ports[0] != (PortRange{80, 80}) {
		t.Error("Rules() shares its ports with the map")
	}
	if z := m.ZoneByIndex(-1); z.Name != "" {
		t.Errorf("ZoneByIndex(-1) = %+v", z)
	}
	if tab := m.Table(); tab.Len() != 6 {
		t.Errorf("Table().Len() = %d, want the 6 listed zones", tab.Len())
	}
	if z, ok := m.Table().HostZone([]netip.Addr{netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("10.20.1.1")}); !ok || z.Name != "helse" || z.Parent != "intern" {
		t.Errorf("Table().HostZone = %+v, %v; want helse", z, ok)
	}
}

func TestPortRangeString(t *testing.T) {
	for _, c := range []struct {
		r    PortRange
		want string
	}{{PortRange{443, 443}, "443"}, {PortRange{8000, 8100}, "8000-8100"}} {
		if got := c.r.String(); got != c.want {
			t.Errorf("%+v.String() = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestZoneIndexAllocs(t *testing.T) {
	m := testMap(t)
	addrs := []netip.Addr{
		netip.MustParseAddr("10.20.5.1"), netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("fd00:10:20::1"), netip.MustParseAddr("::ffff:10.1.1.1"),
		netip.MustParseAddr("fe80::1%eth0"),
	}
	sum := 0
	if n := testing.AllocsPerRun(1000, func() {
		for _, a := range addrs {
			sum += m.ZoneIndex(a)
		}
	}); n != 0 {
		t.Errorf("ZoneIndex allocates %v times per run, want 0", n)
	}
	if sum == 0 {
		t.Error("no zone found at all")
	}
}

func TestAllowedIndexAllocs(t *testing.T) {
	m := testMap(t)
	intern, _ := m.Index("intern")
	allowed := 0
	if n := testing.AllocsPerRun(1000, func() {
		for _, port := range []uint16{443, 8050, 53, 9} {
			if _, ok := m.AllowedIndex(intern, m.ExternalIndex(), 6, port); ok {
				allowed++
			}
			if _, ok := m.AllowedIndex(intern, m.ExternalIndex(), 1, port); ok {
				allowed++
			}
		}
	}); n != 0 {
		t.Errorf("AllowedIndex allocates %v times per run, want 0", n)
	}
	if allowed == 0 {
		t.Error("nothing allowed at all")
	}
}

// benchMap is a larger map: 200 zones of /24s (one in ten with a child /26)
// with an IPv6 /64 each, and four rules per zone.
func benchMap(b *testing.B) *Map {
	b.Helper()
	y := "zones:\n"
	fw := "firewall:\n"
	for i := range 200 {
		y += fmt.Sprintf("  - {name: z%d, kind: internal, prefixes: [10.%d.%d.0/24, \"fd00:%x::/64\"]}\n", i, i/100, i%100, i)
		if i%10 == 0 {
			y += fmt.Sprintf("  - {name: c%d, kind: sensitive, parent: z%d, prefixes: [10.%d.%d.64/26]}\n", i, i, i/100, i%100)
		}
		fw += fmt.Sprintf("  - {from: z%d, to: external, proto: tcp, ports: [80, 443], justification: web}\n", i)
		fw += fmt.Sprintf("  - {from: z%d, to: external, proto: udp, ports: [53, 123], justification: dns}\n", i)
		fw += fmt.Sprintf("  - {from: z%d, to: z%d, proto: tcp, ports: [\"8000-8100\"], justification: app}\n", i, (i+1)%200)
		fw += fmt.Sprintf("  - {from: z%d, to: external, proto: icmp, justification: ping}\n", i)
	}
	m, err := Parse("bench.yaml", []byte(y+fw))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func BenchmarkZoneIndex(b *testing.B) {
	m := benchMap(b)
	rng := rand.New(rand.NewPCG(3, 4))
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		switch i % 4 {
		case 0: // outside every zone
			addrs[i] = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		case 3:
			addrs[i] = netip.AddrFrom16([16]byte{0xfd, 0, 0, byte(rng.IntN(200)), 15: byte(rng.Uint32())})
		default:
			addrs[i] = netip.AddrFrom4([4]byte{10, byte(rng.IntN(2)), byte(rng.IntN(100)), byte(rng.Uint32())})
		}
	}
	b.ReportAllocs()
	sum := 0
	i := 0
	for b.Loop() {
		sum += m.ZoneIndex(addrs[i&1023])
		i++
	}
	if sum == 0 {
		b.Fatal("no zone found")
	}
}

func BenchmarkAllowedIndex(b *testing.B) {
	m := benchMap(b)
	rng := rand.New(rand.NewPCG(5, 6))
	type q struct {
		from, to int
		proto    uint8
		port     uint16
	}
	qs := make([]q, 1024)
	protos := []uint8{6, 17, 1}
	for i := range qs {
		from := rng.IntN(m.NumZones())
		to := m.ExternalIndex()
		if i%3 == 0 {
			to = rng.IntN(m.NumZones())
		}
		qs[i] = q{from, to, protos[rng.IntN(3)], uint16(rng.IntN(9000))}
	}
	b.ReportAllocs()
	n := 0
	i := 0
	for b.Loop() {
		c := qs[i&1023]
		if _, ok := m.AllowedIndex(c.from, c.to, c.proto, c.port); ok {
			n++
		}
		i++
	}
	_ = n
}
