// Package zone owns the municipality's network zones (S5.1): which address
// ranges belong to which zone, and how sensitive each zone is. A Table maps an
// address to its zone by the longest matching prefix, and a host with
// addresses in several zones to the most sensitive of them.
//
// A Map is a zones file loaded (Parse, Load) or a zone policy received
// (FromPolicy): the zones with their purposes and parents, where every
// address not listed falls in the implicit zone "external", and the firewall
// map (S5.3): the allowed zone-to-zone flows, each with its justification and
// owner, so that an observed flow can be judged (Map.Allowed).
//
// It is shared by the collector (judging hosts and flows) and the agent
// (classifying traffic), so it does no I/O beyond Load and keeps lookups
// free of allocation.
package zone

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"
)

// Zone levels, least sensitive first: the strategy separates external
// information, internal information and sensitive personal data (S5.1).
const (
	External  = "external"
	Internal  = "internal"
	Sensitive = "sensitive"
)

// Levels lists the zone levels, least sensitive first.
var Levels = []string{External, Internal, Sensitive}

// Rank orders levels by sensitivity: 1 for external up to 3 for sensitive,
// 0 for an unknown level (and for "", a zone not known).
func Rank(level string) int {
	return slices.Index(Levels, level) + 1
}

// maxNameLen bounds a zone's name.
const maxNameLen = 64

// Zone is one network zone: a name, its level and its address ranges.
type Zone struct {
	Name  string
	Level string // External, Internal or Sensitive; "" only for "no zone"
	// Purpose says what the zone holds, as the strategy subdivides sensitive
	// personal data by purpose (S5.1): "Helse og omsorg, journalsystem".
	Purpose string
	// Parent names the zone this one is part of; its prefixes may lie inside
	// the parent's ("" for a top-level zone).
	Parent string
	CIDRs  []netip.Prefix
}

// Sensitive reports whether the zone holds sensitive personal data.
func (z Zone) Sensitive() bool { return z.Level == Sensitive }

// String returns the zone's name and level, "skole (internal)", or "" for
// the zero Zone.
func (z Zone) String() string {
	if z.Name == "" {
		return ""
	}
	return z.Name + " (" + z.Level + ")"
}

// prefixSet is the table's prefixes of one length, for one address family.
type prefixSet struct {
	bits  int
	zones map[netip.Prefix]int // masked prefix -> index in Table.zones
}

// Table maps addresses to zones. The zero Table and a nil *Table hold no
// zones; a Table is safe for concurrent use once built.
type Table struct {
	zones []Zone
	// v4 and v6 hold the prefixes by length, longest first, so the first
	// hit of a lookup is the longest match.
	v4, v6 []prefixSet
}

// NewTable builds a table from zones, checking that every zone has a unique
// name and a known level and that its prefixes are valid and canonical
// (no host bits set). Prefixes may nest, in one zone or across zones: the
// longest match wins, so "10.0.0.0/8 internal" with "10.20.0.0/16
// sensitive" is a sensitive island in an internal sea. The same prefix in
// two places is refused as ambiguous. An IPv4 range is given in IPv4 form;
// IPv4-mapped IPv6 addresses are looked up as IPv4.
func NewTable(zones []Zone) (*Table, error) {
	t := &Table{zones: make([]Zone, len(zones))}
	names := make(map[string]bool, len(zones))
	owner := make(map[netip.Prefix]string)
	for i, z := range zones {
		if err := checkName(z.Name); err != nil {
			return nil, fmt.Errorf("zone %d: %w", i+1, err)
		}
		if names[z.Name] {
			return nil, fmt.Errorf("zone %q: name repeats", z.Name)
		}
		names[z.Name] = true
		if Rank(z.Level) == 0 {
			return nil, fmt.Errorf("zone %q: level %q: want %s", z.Name, z.Level, strings.Join(Levels, ", "))
		}
		for _, p := range z.CIDRs {
			if !p.IsValid() {
				return nil, fmt.Errorf("zone %q: invalid prefix %s", z.Name, p)
			}
			if p.Addr().Zone() != "" {
				return nil, fmt.Errorf("zone %q: prefix %s: an IPv6 scope zone has no place in a range", z.Name, p)
			}
			if p.Addr().Is4In6() {
				return nil, fmt.Errorf("zone %q: prefix %s: give IPv4 ranges in IPv4 form", z.Name, p)
			}
			if m := p.Masked(); m != p {
				return nil, fmt.Errorf("zone %q: prefix %s has host bits set; want %s", z.Name, p, m)
			}
			if prev, ok := owner[p]; ok {
				if prev == z.Name {
					return nil, fmt.Errorf("zone %q: prefix %s repeats", z.Name, p)
				}
				return nil, fmt.Errorf("zone %q: prefix %s is also in zone %q; which zone it is would be ambiguous", z.Name, p, prev)
			}
			owner[p] = z.Name
			if p.Addr().Is4() {
				t.v4 = addPrefix(t.v4, p, i)
			} else {
				t.v6 = addPrefix(t.v6, p, i)
			}
		}
		z.CIDRs = slices.Clone(z.CIDRs)
		t.zones[i] = z
	}
	return t, nil
}

// checkName accepts a short name without spaces or control characters.
func checkName(name string) error {
	if name == "" {
		return errors.New("name is empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("name %.20q…: longer than %d bytes", name, maxNameLen)
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("name %q: no spaces or control characters, please", name)
	}
	return nil
}

func addPrefix(sets []prefixSet, p netip.Prefix, zone int) []prefixSet {
	i, found := slices.BinarySearchFunc(sets, p.Bits(), func(s prefixSet, bits int) int { return cmp.Compare(bits, s.bits) })
	if !found {
		sets = slices.Insert(sets, i, prefixSet{bits: p.Bits(), zones: make(map[netip.Prefix]int)})
	}
	sets[i].zones[p] = zone
	return sets
}

// Zones returns the table's zones in the order they were given.
func (t *Table) Zones() []Zone {
	if t == nil {
		return nil
	}
	out := make([]Zone, len(t.zones))
	for i, z := range t.zones {
		z.CIDRs = slices.Clone(z.CIDRs)
		out[i] = z
	}
	return out
}

// Len returns how many zones the table holds.
func (t *Table) Len() int {
	if t == nil {
		return 0
	}
	return len(t.zones)
}

// Zone returns the zone of that name.
func (t *Table) Zone(name string) (Zone, bool) {
	if t == nil {
		return Zone{}, false
	}
	for _, z := range t.zones {
		if z.Name == name {
			return z, true
		}
	}
	return Zone{}, false
}

// Lookup returns the zone whose longest prefix holds addr. It reports false
// for an address in no zone, or an invalid one.
func (t *Table) Lookup(addr netip.Addr) (Zone, bool) {
	i, _ := t.lookup(addr)
	if i < 0 {
		return Zone{}, false
	}
	return t.zones[i], true
}

// lookup returns the index of addr's zone and the length of the prefix that
// matched; -1 when none did.
func (t *Table) lookup(addr netip.Addr) (zone, bits int) {
	if t == nil || !addr.IsValid() {
		return -1, 0
	}
	addr = addr.Unmap().WithZone("")
	sets := t.v6
	if addr.Is4() {
		sets = t.v4
	}
	for _, s := range sets {
		p, err := addr.Prefix(s.bits)
		if err != nil {
			continue
		}
		if i, ok := s.zones[p]; ok {
			return i, s.bits
		}
	}
	return -1, 0
}

// HostZone returns the zone a host with these addresses is judged by: the
// most sensitive zone any of them falls in, since a host that reaches a
// sensitive zone must be handled as part of it. Between zones of the same
// level, the one matched by the longer prefix wins, then the one given first.
// It reports false when no address is in any zone.
func (t *Table) HostZone(addrs []netip.Addr) (Zone, bool) {
	best, bestBits := -1, 0
	for _, a := range addrs {
		i, bits := t.lookup(a)
		if i < 0 {
			continue
		}
		if best < 0 {
			best, bestBits = i, bits
			continue
		}
		c := cmp.Or(
			cmp.Compare(Rank(t.zones[i].Level), Rank(t.zones[best].Level)),
			cmp.Compare(bits, bestBits),
			cmp.Compare(best, i), // earlier zone wins
		)
		if c > 0 {
			best, bestBits = i, bits
		}
	}
	if best < 0 {
		return Zone{}, false
	}
	return t.zones[best], true
}

// ParseAddr reads an address as hosts report them: a bare address
// ("10.1.2.3", "fe80::1%eth0") or an address with its prefix length
// ("10.1.2.3/24", as interface listings give them). It reports false for
// anything else.
func ParseAddr(s string) (netip.Addr, bool) {
	j := strings.LastIndexByte(s, '/')
	if j < 0 {
		a, err := netip.ParseAddr(s)
		return a, err == nil
	}
	// ParsePrefix refuses a scope zone ("fe80::1%eth0/64"): drop it.
	if i := strings.IndexByte(s[:j], '%'); i >= 0 {
		s = s[:i] + s[j:]
	}
	p, err := netip.ParsePrefix(s)
	return p.Addr(), err == nil
}
