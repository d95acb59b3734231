package zone

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// ExternalZone is the name of the implicit zone of every address no zone
// lists. It always exists in a Map; a zones file may define it explicitly
// (kind external) to give it a purpose or prefixes of its own.
const ExternalZone = "external"

// IP protocol numbers the firewall map names.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// ProtoAny is the protocol of a rule that allows every protocol; a rule
// without proto means the same. The other names are wire.Proto….
const ProtoAny = "any"

// protoNumbers maps a protocol name to its IP protocol number.
var protoNumbers = map[string]uint8{
	wire.ProtoTCP:    protoTCP,
	wire.ProtoUDP:    protoUDP,
	wire.ProtoICMP:   protoICMP,
	wire.ProtoICMPv6: protoICMPv6,
}

// PortRange is an inclusive range of destination ports; a single port has
// Lo == Hi.
type PortRange struct {
	Lo, Hi uint16
}

// String returns "443" or "8000-8100".
func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// Contains reports whether port lies in the range.
func (r PortRange) Contains(port uint16) bool { return r.Lo <= port && port <= r.Hi }

// Rule is one allowed flow of the firewall map: from one zone to another,
// with a protocol and destination ports, and why and for whom it is open.
//
// A rule names exact zones: a rule to "intern" does not open "helse" even
// when helse's parent is intern. Sensitive sub-zones exist to be closed off
// from their surroundings, so every way into one must be opened, and
// justified, by a rule of its own.
type Rule struct {
	// ID names the rule: the file's id key, or "fw-<n>" for the n-th rule
	// (from 1) when it has none.
	ID       string
	From, To string // zone names
	// Proto is tcp, udp, icmp, icmpv6, or "any" (or "", as the file left it
	// out) for every protocol. ICMP and ICMPv6 are told apart.
	Proto string
	// Ports are the destination ports allowed; none means every port. With
	// proto any, ports restrict TCP and UDP and nothing else matches.
	Ports         []PortRange
	Justification string
	Owner         string
	// Line is the rule's line in the zones file; 0 for a rule from a policy.
	Line int
}

// Flow is a flow to judge against the firewall map: from the zone of the
// side that opened it to the zone of the side it was opened to.
type Flow struct {
	From, To string // zone names
	// Proto is "tcp", "udp", "icmp", "icmpv6", or the IP protocol number in
	// decimal ("47").
	Proto string
	Port  uint16 // destination port; ignored for protocols without ports
}

// compiledRule is a rule as AllowedIndex checks it.
type compiledRule struct {
	anyProto bool
	proto    uint8
	ports    []PortRange
	rule     int // index in Map.rules
}

// u128 is an address as a number, IPv4 in the low 32 bits.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) next() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

func (a u128) prev() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

// segment is a run of addresses [start, end] in one zone; a Map's segments
// of one family are sorted and disjoint, and addresses between them are in
// no listed zone.
type segment struct {
	start, end u128
	zone       int32
}

// segments4 are the IPv4 segments, split into columns so that the binary
// search reads only the start addresses, a few cache lines.
type segments4 struct {
	start, end []uint32
	zone       []int32
}

func newSegments4(segs []segment) segments4 {
	s := segments4{start: make([]uint32, len(segs)), end: make([]uint32, len(segs)), zone: make([]int32, len(segs))}
	for i, g := range segs {
		s.start[i], s.end[i], s.zone[i] = uint32(g.start.lo), uint32(g.end.lo), g.zone
	}
	return s
}

// find returns the zone of the segment holding k, or -1.
func (s *segments4) find(k uint32) int32 {
	n := len(s.start)
	if n == 0 || k < s.start[0] {
		return -1
	}
	// The last segment starting at or before k, without branches to
	// mispredict: the loop runs log2(n) times whatever k is.
	base := 0
	for n > 1 {
		half := n >> 1
		if s.start[base+half] <= k {
			base += half
		}
		n -= half
	}
	if k > s.end[base] {
		return -1
	}
	return s.zone[base]
}

// Map is a loaded zones file: the zone table and the firewall map. A nil
// *Map is valid and means "no zones": one zone, "external", holding every
// address, and nothing allowed. A Map is safe for concurrent use.
type Map struct {
	zones    []Zone // as given, then the implicit external zone if not given
	listed   int    // zones given by the file or policy
	external int    // index of the external zone
	index    map[string]int
	table    *Table
	v4       segments4
	v6       []segment
	rules    []Rule
	// compiled holds the rules by zone pair; those of the pair from, to are
	// compiled[pairs[k]:pairs[k+1]] with k = from*len(zones)+to.
	compiled []compiledRule
	pairs    []uint32
}

// nilExternal is the one zone of a nil Map.
var nilExternal = Zone{Name: ExternalZone, Level: External}

// NumZones returns how many zones the map has, the implicit "external" zone
// included; zone indexes run from 0 to NumZones()-1.
func (m *Map) NumZones() int {
	if m == nil {
		return 1
	}
	return len(m.zones)
}

// Zones returns the zones in the order the file gave them, followed by the
// implicit external zone when the file did not define it; the index of a
// zone in it is its index for ZoneByIndex.
func (m *Map) Zones() []Zone {
	if m == nil {
		return []Zone{nilExternal}
	}
	out := make([]Zone, len(m.zones))
	for i, z := range m.zones {
		z.CIDRs = slices.Clone(z.CIDRs)
		out[i] = z
	}
	return out
}

// ZoneByIndex returns zone i, or the zero Zone for an index out of range.
// Its CIDRs are shared with the map: do not modify them.
func (m *Map) ZoneByIndex(i int) Zone {
	if m == nil {
		if i == 0 {
			return nilExternal
		}
		return Zone{}
	}
	if i < 0 || i >= len(m.zones) {
		return Zone{}
	}
	return m.zones[i]
}

// ZoneName returns the name of zone i, "" for an index out of range.
func (m *Map) ZoneName(i int) string { return m.ZoneByIndex(i).Name }

// Index returns the index of the zone of that name.
func (m *Map) Index(name string) (int, bool) {
	if m == nil {
		return 0, name == ExternalZone
	}
	i, ok := m.index[name]
	return i, ok
}

// ExternalIndex returns the index of the zone "external".
func (m *Map) ExternalIndex() int {
	if m == nil {
		return 0
	}
	return m.external
}

// Table returns the map's zones as a Table, for judging hosts by their
// addresses (Table.HostZone). Addresses in no listed zone are in no zone
// of the table.
func (m *Map) Table() *Table {
	if m == nil {
		return nil
	}
	return m.table
}

// ZoneIndex returns the index of the zone holding a: the zone of the longest
// prefix that contains it, or the external zone for an address no zone
// lists (and for an invalid one). IPv4-mapped IPv6 addresses are looked up
// as IPv4. It never allocates.
func (m *Map) ZoneIndex(a netip.Addr) int {
	if m == nil {
		return 0
	}
	var k u128
	switch {
	case a.Is4():
		b := a.As4()
		return m.zone4(binary.BigEndian.Uint32(b[:]))
	case a.Is4In6():
		b := a.As16()
		return m.zone4(binary.BigEndian.Uint32(b[12:]))
	case a.Is6():
		b := a.As16()
		k = u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	default:
		return m.external
	}
	// The last segment starting at or before k.
	segs := m.v6
	lo, hi := 0, len(segs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if k.less(segs[mid].start) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo == 0 || segs[lo-1].end.less(k) {
		return m.external
	}
	return int(segs[lo-1].zone)
}

// zone4 returns the index of the zone of an IPv4 address as a number.
func (m *Map) zone4(k uint32) int {
	if z := m.v4.find(k); z >= 0 {
		return int(z)
	}
	return m.external
}

// ZoneOf returns the zone holding a, as ZoneIndex finds it.
func (m *Map) ZoneOf(a netip.Addr) Zone { return m.ZoneByIndex(m.ZoneIndex(a)) }

// AllowedIndex reports whether the firewall map allows a flow from zone
// index from to zone index to with IP protocol proto (6 for TCP, 17 for
// UDP, …) to destination port (ignored for protocols other than TCP and
// UDP), and the ID of the first rule, in file order, that allows it. Rules
// name exact zones; see Rule. It never allocates.
func (m *Map) AllowedIndex(from, to int, proto uint8, port uint16) (ruleID string, ok bool) {
	if i := m.match(from, to, proto, port); i >= 0 {
		return m.rules[i].ID, true
	}
	return "", false
}

// match returns the index of the first rule that allows the flow, or -1.
func (m *Map) match(from, to int, proto uint8, port uint16) int {
	if m == nil {
		return -1
	}
	n := len(m.zones)
	if from < 0 || from >= n || to < 0 || to >= n {
		return -1
	}
	k := from*n + to
	for i := m.pairs[k]; i < m.pairs[k+1]; i++ {
		r := &m.compiled[i]
		if !r.anyProto && r.proto != proto {
			continue
		}
		if len(r.ports) == 0 {
			return r.rule
		}
		if proto != protoTCP && proto != protoUDP {
			continue
		}
		for _, pr := range r.ports {
			if pr.Contains(port) {
				return r.rule
			}
		}
	}
	return -1
}

// Allowed reports whether the firewall map allows f, and the first rule
// that does. Unknown zones and protocols are allowed by nothing.
func (m *Map) Allowed(f Flow) (Rule, bool) {
	if m == nil {
		return Rule{}, false
	}
	from, ok := m.index[f.From]
	if !ok {
		return Rule{}, false
	}
	to, ok := m.index[f.To]
	if !ok {
		return Rule{}, false
	}
	proto, ok := protoNumbers[f.Proto]
	if !ok {
		n, err := strconv.ParseUint(f.Proto, 10, 8)
		if err != nil {
			return Rule{}, false
		}
		proto = uint8(n)
	}
	i := m.match(from, to, proto, f.Port)
	if i < 0 {
		return Rule{}, false
	}
	r := m.rules[i]
	r.Ports = slices.Clone(r.Ports)
	return r, true
}

// Rules returns the firewall map's rules in file order.
func (m *Map) Rules() []Rule {
	if m == nil {
		return nil
	}
	out := make([]Rule, len(m.rules))
	for i, r := range m.rules {
		r.Ports = slices.Clone(r.Ports)
		out[i] = r
	}
	return out
}
