package zone

import (
	"net/netip"
	"strings"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// testTable is a municipality in small: the internet outside, an internal
// network with a health-service island, a school network and a dual-stack
// sensitive range.
func testTable(t *testing.T) *Table {
	t.Helper()
	tab, err := NewTable([]Zone{
		{Name: "internett", Level: External, CIDRs: prefixes("0.0.0.0/0", "::/0")},
		{Name: "kontor", Level: Internal, CIDRs: prefixes("10.0.0.0/8", "fd00:10::/32")},
		{Name: "helse", Level: Sensitive, CIDRs: prefixes("10.20.0.0/16", "10.30.1.128/25", "fd00:10:20::/48")},
		{Name: "skole", Level: Internal, CIDRs: prefixes("172.16.0.0/12")},
		{Name: "skole-adm", Level: Internal, CIDRs: prefixes("172.16.5.0/24")},
		{Name: "drift", Level: Internal, CIDRs: prefixes("100.64.0.0/12")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestLookup(t *testing.T) {
	tab := testTable(t)
	for _, c := range []struct {
		addr string
		want string // zone name, "" for none
	}{
		{"10.1.2.3", "kontor"},
		{"10.20.0.1", "helse"}, // the longer prefix wins
		{"10.20.255.255", "helse"},
		{"10.21.0.1", "kontor"},
		{"10.30.1.127", "kontor"},
		{"10.30.1.128", "helse"},
		{"172.16.5.9", "skole-adm"},
		{"172.31.0.1", "skole"},
		{"8.8.8.8", "internett"},
		{"::ffff:10.20.3.4", "helse"}, // IPv4-mapped is looked up as IPv4
		{"fd00:10:20::5", "helse"},
		{"fd00:10:21::5", "kontor"},
		{"fe80::1%eth0", "internett"},
		{"2001:db8::1", "internett"},
	} {
		z, ok := tab.Lookup(netip.MustParseAddr(c.addr))
		if got := z.Name; got != c.want || ok != (c.want != "") {
			t.Errorf("Lookup(%s) = %q, %v; want %q", c.addr, got, ok, c.want)
		}
	}
	if _, ok := tab.Lookup(netip.Addr{}); ok {
		t.Error("Lookup(invalid address) found a zone")
	}
}

func TestLookupWithoutDefault(t *testing.T) {
	tab, err := NewTable([]Zone{{Name: "kontor", Level: Internal, CIDRs: prefixes("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"192.168.1.1", "::1", "11.0.0.0"} {
		if z, ok := tab.Lookup(netip.MustParseAddr(a)); ok {
			t.Errorf("Lookup(%s) = %v, want no zone", a, z)
		}
	}
	var nilTable *Table
	if _, ok := nilTable.Lookup(netip.MustParseAddr("10.0.0.1")); ok {
		t.Error("a nil table found a zone")
	}
	if _, ok := nilTable.HostZone([]netip.Addr{netip.MustParseAddr("10.0.0.1")}); ok {
		t.Error("a nil table found a host zone")
	}
	if nilTable.Len() != 0 || nilTable.Zones() != nil {
		t.Error("a nil table has zones")
	}
}

func TestHostZone(t *testing.T) {
	tab := testTable(t)
	for _, c := range []struct {
		name  string
		addrs []string
		want  string
	}{
		{"one address", []string{"10.1.1.1"}, "kontor"},
		{"internal and sensitive", []string{"10.1.1.1", "10.20.1.1"}, "helse"},
		{"sensitive first", []string{"10.20.1.1", "10.1.1.1", "8.8.8.8"}, "helse"},
		{"sensitive by IPv6 only", []string{"10.1.1.1", "fd00:10:20::9"}, "helse"},
		{"external and internal", []string{"8.8.8.8", "172.20.0.1"}, "skole"},
		{"same level: longer prefix", []string{"172.20.0.1", "172.16.5.1"}, "skole-adm"},
		{"same level: longer prefix, reversed", []string{"172.16.5.1", "172.20.0.1"}, "skole-adm"},
		{"same level: longer prefix across zones", []string{"10.1.1.1", "172.20.0.1"}, "skole"},
		{"same level and length: earlier zone", []string{"100.64.0.1", "172.20.0.1"}, "skole"},
		{"same level and length: earlier zone, reversed", []string{"172.20.0.1", "100.64.0.1"}, "skole"},
		{"none", nil, ""},
		{"invalid only", []string{""}, ""},
	} {
		var addrs []netip.Addr
		for _, s := range c.addrs {
			a, _ := netip.ParseAddr(s)
			addrs = append(addrs, a)
		}
		z, ok := tab.HostZone(addrs)
		if z.Name != c.want || ok != (c.want != "") {
			t.Errorf("%s: HostZone(%v) = %q, %v; want %q", c.name, c.addrs, z.Name, ok, c.want)
		}
	}
}

func TestNewTableRefuses(t *testing.T) {
	ok := Zone{Name: "kontor", Level: Internal, CIDRs: prefixes("10.0.0.0/8")}
	for _, c := range []struct {
		name  string
		zones []Zone
		want  string
	}{
		{"empty name", []Zone{{Level: Internal}}, "zone 1: name is empty"},
		{"space in name", []Zone{{Name: "helse tjeneste", Level: Sensitive}}, "no spaces"},
		{"long name", []Zone{{Name: strings.Repeat("x", 65), Level: Sensitive}}, "longer than 64"},
		{"repeated name", []Zone{ok, {Name: "kontor", Level: Sensitive}}, `zone "kontor": name repeats`},
		{"unknown level", []Zone{{Name: "x", Level: "secret"}}, `level "secret": want external, internal, sensitive`},
		{"empty level", []Zone{{Name: "x"}}, `level ""`},
		{"invalid prefix", []Zone{{Name: "x", Level: Internal, CIDRs: []netip.Prefix{{}}}}, "invalid prefix"},
		{"host bits", []Zone{{Name: "x", Level: Internal, CIDRs: prefixes("10.0.0.1/8")}}, "host bits set; want 10.0.0.0/8"},
		{"4in6", []Zone{{Name: "x", Level: Internal, CIDRs: prefixes("::ffff:10.0.0.0/104")}}, "IPv4 form"},
		{"same prefix twice", []Zone{{Name: "x", Level: Internal, CIDRs: prefixes("10.0.0.0/8", "10.0.0.0/8")}}, "10.0.0.0/8 repeats"},
		{"same prefix in two zones", []Zone{ok, {Name: "helse", Level: Sensitive, CIDRs: prefixes("10.0.0.0/8")}}, `also in zone "kontor"`},
	} {
		_, err := NewTable(c.zones)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: NewTable = %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func TestTableKeepsItsOwnCopy(t *testing.T) {
	cidrs := prefixes("10.0.0.0/8")
	tab, err := NewTable([]Zone{{Name: "kontor", Level: Internal, CIDRs: cidrs}, {Name: "tom", Level: External}})
	if err != nil {
		t.Fatal(err)
	}
	cidrs[0] = netip.MustParsePrefix("192.168.0.0/16")
	zs := tab.Zones()
	zs[0].CIDRs[0] = netip.MustParsePrefix("172.16.0.0/12")
	z, ok := tab.Zone("kontor")
	if !ok || z.CIDRs[0].String() != "10.0.0.0/8" || tab.Len() != 2 {
		t.Errorf("Zone(kontor) = %v, %v after the caller changed its slices", z, ok)
	}
	if z.String() != "kontor (internal)" || (Zone{}).String() != "" {
		t.Errorf("String() = %q", z.String())
	}
	if _, ok := tab.Zone("nope"); ok {
		t.Error("Zone(nope) found a zone")
	}
}

func TestRank(t *testing.T) {
	if !(Rank(External) < Rank(Internal) && Rank(Internal) < Rank(Sensitive)) || Rank("") != 0 || Rank("x") != 0 {
		t.Errorf("Rank: external %d, internal %d, sensitive %d, empty %d", Rank(External), Rank(Internal), Rank(Sensitive), Rank(""))
	}
	if !(Zone{Level: Sensitive}).Sensitive() || (Zone{Level: Internal}).Sensitive() {
		t.Error("Sensitive() is wrong")
	}
}

func TestParseAddr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"10.1.2.3", "10.1.2.3"},
		{"10.1.2.3/24", "10.1.2.3"},
		{"fd00::5/64", "fd00::5"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"fe80::1%eth0/64", "fe80::1"},
		{"", ""},
		{"host.example", ""},
		{"10.1.2.3/99", ""},
	} {
		a, ok := ParseAddr(c.in)
		got := ""
		if ok {
			got = a.String()
		}
		if got != c.want {
			t.Errorf("ParseAddr(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	tab := testTable(t)
	a := netip.MustParseAddr("10.20.3.4")
	if n := testing.AllocsPerRun(100, func() { tab.Lookup(a) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

func BenchmarkLookup(b *testing.B) {
	tab, err := NewTable([]Zone{
		{Name: "internett", Level: External, CIDRs: prefixes("0.0.0.0/0")},
		{Name: "kontor", Level: Internal, CIDRs: prefixes("10.0.0.0/8")},
		{Name: "helse", Level: Sensitive, CIDRs: prefixes("10.20.0.0/16", "10.30.1.128/25")},
	})
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("10.20.3.4"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("10.1.1.1")}
	for i := 0; b.Loop(); i++ {
		tab.Lookup(addrs[i%len(addrs)])
	}
}
