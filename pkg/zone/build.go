package zone

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// where is the place of a definition: a file and line, or an element of a
// policy ("zones[2]").
type where struct {
	src  string // file name, or "policy"
	line int    // 1-based; 0 in a policy
	elem string // in a policy: the element
}

// String returns "zones.yaml:12" or "policy: zones[2]".
func (w where) String() string {
	if w.line > 0 {
		return w.src + ":" + strconv.Itoa(w.line)
	}
	if w.elem != "" {
		return w.src + ": " + w.elem
	}
	return w.src
}

// ref refers to the place from another message: "line 12" or "zones[2]".
func (w where) ref() string {
	if w.line > 0 {
		return "line " + strconv.Itoa(w.line)
	}
	return w.elem
}

// zoneDef is a zone as a file or policy defines it, before validation.
type zoneDef struct {
	name, kind, purpose, parent  string
	at, nameAt, kindAt, parentAt where
	prefixes                     []prefixDef
}

type prefixDef struct {
	text string
	at   where
}

// ruleDef is a firewall rule as a file or policy defines it.
type ruleDef struct {
	id, from, to, proto  string
	justification, owner string
	ports                []portDef
	at, idAt, fromAt     where
	toAt, protoAt        where
	justAt               where
}

type portDef struct {
	text string
	at   where
}

// maxErrors bounds how many problems one error lists.
const maxErrors = 20

// problems collects validation errors, each prefixed with its place.
type problems struct {
	errs []error
	more int
}

func (p *problems) add(at where, format string, args ...any) {
	if len(p.errs) == maxErrors {
		p.more++
		return
	}
	p.errs = append(p.errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error {
	if p.more > 0 {
		p.errs = append(p.errs, fmt.Errorf("and %d more problems", p.more))
	}
	return errors.Join(p.errs...)
}

// span is one prefix of a zone as the lookup sweeps it.
type span struct {
	prefix     netip.Prefix
	start, end u128
	zone       int
	order      int // position among all prefixes, file order
	at         where
}

// build validates definitions and makes a Map of them; every problem found
// is in the error, each with its place.
func build(zdefs []zoneDef, rdefs []ruleDef) (*Map, error) {
	var probs problems
	m := &Map{index: make(map[string]int, len(zdefs)+1)}

	// Zones: names, kinds, prefixes.
	first := make(map[string]where, len(zdefs))
	var spans []span
	for i, d := range zdefs {
		z := Zone{Name: d.name, Level: d.kind, Purpose: d.purpose, Parent: d.parent}
		label := fmt.Sprintf("zone %q", d.name)
		if err := checkName(d.name); err != nil {
			label = fmt.Sprintf("zone %d", i+1)
			probs.add(d.nameAt, "%s: %v", label, err)
		} else if prev, ok := first[d.name]; ok {
			probs.add(d.nameAt, "%s: defined twice (first at %s)", label, prev.ref())
		} else {
			first[d.name] = d.nameAt
			m.index[d.name] = i
		}
		switch {
		case d.kind == "":
			probs.add(d.at, "%s: kind is missing: want %s", label, strings.Join(Levels, ", "))
		case Rank(d.kind) == 0:
			probs.add(d.kindAt, "%s: kind %q: want %s", label, d.kind, strings.Join(Levels, ", "))
		case d.name == ExternalZone && d.kind != External:
			probs.add(d.kindAt, "%s: kind %q: the zone of unlisted addresses is kind %s", label, d.kind, External)
		}
		for _, pd := range d.prefixes {
			p, err := parsePrefix(pd.text)
			if err != nil {
				probs.add(pd.at, "%s: %v", label, err)
				continue
			}
			z.CIDRs = append(z.CIDRs, p)
			start, end := rangeOf(p)
			spans = append(spans, span{prefix: p, start: start, end: end, zone: i, order: len(spans), at: pd.at})
		}
		m.zones = append(m.zones, z)
	}
	m.listed = len(m.zones)

	// Parents: known zones, no cycles.
	for i, d := range zdefs {
		if d.parent == "" {
			continue
		}
		if d.parent == d.name {
			probs.add(d.parentAt, "zone %q: parent is the zone itself", d.name)
			continue
		}
		if _, ok := m.index[d.parent]; !ok {
			probs.add(d.parentAt, "zone %q: parent %q is not a zone", d.name, d.parent)
			continue
		}
		if cycle := m.parentCycle(i); cycle != nil {
			// Report each cycle once, at the zone that comes first.
			if slices.Min(cycle) == i {
				names := make([]string, len(cycle)+1)
				for k, j := range cycle {
					names[k] = m.zones[j].Name
				}
				names[len(cycle)] = d.name
				probs.add(d.parentAt, "zone %q: parents form a cycle: %s", d.name, strings.Join(names, " -> "))
			}
		}
	}

	// Prefixes: no repeats, overlaps only down the parent line.
	seen := make(map[netip.Prefix]*span, len(spans))
	uniq := spans[:0:0]
	for k := range spans {
		s := &spans[k]
		if prev, ok := seen[s.prefix]; ok {
			if prev.zone == s.zone {
				probs.add(s.at, "zone %q: prefix %s repeats (first at %s)", m.zones[s.zone].Name, s.prefix, prev.at.ref())
			} else {
				probs.add(s.at, "zone %q: prefix %s is also in zone %q (%s)", m.zones[s.zone].Name, s.prefix, m.zones[prev.zone].Name, prev.at.ref())
			}
			continue
		}
		seen[s.prefix] = s
		uniq = append(uniq, *s)
	}
	var v4, v6 []span
	for _, s := range uniq {
		if s.prefix.Addr().Is4() {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	m.v4 = newSegments4(m.sweep(v4, &probs))
	m.v6 = m.sweep(v6, &probs)

	// The implicit zone of unlisted addresses.
	if i, ok := m.index[ExternalZone]; ok {
		m.external = i
	} else {
		m.external = len(m.zones)
		m.index[ExternalZone] = m.external
		m.zones = append(m.zones, Zone{Name: ExternalZone, Level: External})
	}

	// Firewall rules.
	ids := make(map[string]where, len(rdefs))
	for i, d := range rdefs {
		r := Rule{ID: d.id, From: d.from, To: d.to, Proto: strings.ToLower(d.proto),
			Justification: d.justification, Owner: d.owner, Line: d.at.line}
		if r.ID == "" {
			r.ID = "fw-" + strconv.Itoa(i+1)
		} else if err := checkName(r.ID); err != nil {
			probs.add(d.idAt, "rule %d: id: %v", i+1, err)
		}
		label := fmt.Sprintf("rule %q", r.ID)
		idAt := d.idAt
		if d.id == "" {
			idAt = d.at
		}
		if prev, ok := ids[r.ID]; ok {
			probs.add(idAt, "%s: id repeats (first at %s)", label, prev.ref())
		} else {
			ids[r.ID] = idAt
		}
		for _, side := range []struct {
			key, name string
			at        where
		}{{"from", d.from, d.fromAt}, {"to", d.to, d.toAt}} {
			if side.name == "" {
				probs.add(d.at, "%s: %s is missing: name a zone", label, side.key)
			} else if _, ok := m.index[side.name]; !ok {
				probs.add(side.at, "%s: %s: unknown zone %q", label, side.key, side.name)
			}
		}
		proto, known := protoNumbers[r.Proto]
		if r.Proto != "" && r.Proto != ProtoAny && !known {
			probs.add(d.protoAt, "%s: proto %q: want tcp, udp, icmp, icmpv6 or any", label, d.proto)
		}
		for _, pd := range d.ports {
			pr, err := parsePortRange(pd.text)
			if err != nil {
				probs.add(pd.at, "%s: %v", label, err)
				continue
			}
			r.Ports = append(r.Ports, pr)
		}
		if len(d.ports) > 0 && (proto == protoICMP || proto == protoICMPv6) {
			probs.add(d.ports[0].at, "%s: ports with proto %s: ICMP has no ports", label, r.Proto)
		}
		if strings.TrimSpace(d.justification) == "" {
			probs.add(d.justAt, "%s: justification is empty: say why the flow is allowed", label)
		}
		m.rules = append(m.rules, r)
	}
	if err := probs.err(); err != nil {
		return nil, err
	}

	t, err := NewTable(m.zones[:m.listed])
	if err != nil {
		return nil, err // validated above; a failure here is a bug
	}
	m.table = t
	n := len(m.zones)
	// The rules of each zone pair, in file order, side by side: pair k's
	// are compiled[pairs[k]:pairs[k+1]].
	m.compiled = make([]compiledRule, len(m.rules))
	m.pairs = make([]uint32, n*n+1)
	for _, r := range m.rules {
		m.pairs[m.index[r.From]*n+m.index[r.To]+1]++
	}
	for k := 1; k < len(m.pairs); k++ {
		m.pairs[k] += m.pairs[k-1]
	}
	fill := slices.Clone(m.pairs[:n*n])
	for i, r := range m.rules {
		k := m.index[r.From]*n + m.index[r.To]
		m.compiled[fill[k]] = compiledRule{anyProto: r.Proto == "" || r.Proto == ProtoAny,
			proto: protoNumbers[r.Proto], ports: r.Ports, rule: i}
		fill[k]++
	}
	return m, nil
}

// parentCycle returns the zones on the parent cycle that zone i is on, from
// i upwards, or nil when its parent line ends.
func (m *Map) parentCycle(i int) []int {
	var line []int
	for j := i; ; {
		line = append(line, j)
		p, ok := m.index[m.zones[j].Parent]
		if m.zones[j].Parent == "" || !ok {
			return nil
		}
		if p == i {
			return line
		}
		if slices.Contains(line, p) || len(line) > len(m.zones) {
			return nil // a cycle above i, reported at its own zones
		}
		j = p
	}
}

// within reports whether zone inner is zone outer or lies below it on its
// parent line.
func (m *Map) within(inner, outer int) bool {
	for j, steps := inner, 0; steps <= len(m.zones); steps++ {
		if j == outer {
			return true
		}
		p, ok := m.index[m.zones[j].Parent]
		if m.zones[j].Parent == "" || !ok {
			return false
		}
		j = p
	}
	return false
}

// sweep checks the nesting of one family's prefixes and flattens them into
// sorted, disjoint segments, each in the zone of the longest prefix that
// covers it. A prefix may lie inside another only when its zone is that
// zone or below it on the parent line.
func (m *Map) sweep(spans []span, probs *problems) []segment {
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			if a.start.less(b.start) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.prefix.Bits(), b.prefix.Bits())
	})
	var (
		segs   []segment
		stack  []span
		cursor u128
		done   bool // the cursor went past the last address
	)
	emit := func(from, to u128, zone int) {
		if done || to.less(from) {
			return
		}
		if k := len(segs) - 1; k >= 0 && int(segs[k].zone) == zone && segs[k].end.next() == from {
			segs[k].end = to
			return
		}
		segs = append(segs, segment{start: from, end: to, zone: int32(zone)})
	}
	pop := func() {
		top := stack[len(stack)-1]
		emit(cursor, top.end, top.zone)
		if top.end == (u128{^uint64(0), ^uint64(0)}) {
			done = true
		}
		cursor = top.end.next()
		stack = stack[:len(stack)-1]
	}
	for _, s := range spans {
		for len(stack) > 0 && stack[len(stack)-1].end.less(s.start) {
			pop()
		}
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if cursor.less(s.start) {
				emit(cursor, s.start.prev(), top.zone)
			}
			if !m.within(s.zone, top.zone) {
				inner, outer := s, top
				if outer.order > inner.order {
					probs.add(outer.at, "zone %q: prefix %s overlaps %s of zone %q", m.zones[outer.zone].Name, outer.prefix, inner.prefix, m.zones[inner.zone].Name)
				} else {
					probs.add(inner.at, "zone %q: prefix %s overlaps %s of zone %q", m.zones[inner.zone].Name, inner.prefix, outer.prefix, m.zones[outer.zone].Name)
				}
			}
		}
		stack = append(stack, s)
		cursor = s.start
	}
	for len(stack) > 0 {
		pop()
	}
	return segs
}

// rangeOf returns the first and last address of p as numbers.
func rangeOf(p netip.Prefix) (start, end u128) {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		s := uint64(binary.BigEndian.Uint32(b[:]))
		return u128{lo: s}, u128{lo: s | (uint64(1)<<(32-p.Bits()) - 1)}
	}
	b := a.As16()
	start = u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	end = start
	host := 128 - p.Bits()
	if host >= 64 {
		end.lo = ^uint64(0)
		end.hi |= uint64(1)<<(host-64) - 1
	} else {
		end.lo |= uint64(1)<<host - 1
	}
	return start, end
}

// parsePrefix reads a prefix of a zone: "10.0.0.0/8", "fd00:1::/48", or a
// plain address for that one address.
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			if strings.Contains(s, "%") {
				return netip.Prefix{}, fmt.Errorf("prefix %s: an IPv6 scope zone has no place in a range", s)
			}
			return netip.Prefix{}, fmt.Errorf("prefix %q: not an address or prefix", s)
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("prefix %q: not an address or prefix", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("prefix %s: an IPv6 scope zone has no place in a range", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("prefix %s: give IPv4 ranges in IPv4 form", s)
	}
	if mp := p.Masked(); mp != p {
		return netip.Prefix{}, fmt.Errorf("prefix %s has host bits set; want %s", s, mp)
	}
	return p, nil
}

// parsePortRange reads "443" or "8000-8100".
func parsePortRange(s string) (PortRange, error) {
	s = strings.TrimSpace(s)
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := parsePort(lo, s)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{l, l}, nil
	}
	h, err := parsePort(hi, s)
	if err != nil {
		return PortRange{}, err
	}
	if l > h {
		return PortRange{}, fmt.Errorf("ports %s: low end above high end", s)
	}
	return PortRange{l, h}, nil
}

// parsePort reads one port of whole, a port or range.
func parsePort(s, whole string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("port %q: want a number 1-65535 or a range lo-hi", whole)
	}
	if n == 0 || n > 65535 {
		return 0, fmt.Errorf("port %d: want 1-65535", n)
	}
	return uint16(n), nil
}
