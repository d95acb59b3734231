package zone

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestPolicyRoundTrip(t *testing.T) {
	example, err := Load(filepath.Join("..", "..", "configs", "zones.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	contractMap, err := Parse("zones.yaml", []byte(contract))
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Map{"example": example, "contract": contractMap, "test": testMap(t)} {
		t.Run(name, func(t *testing.T) {
			p := m.Policy()
			back, err := FromPolicy(p)
			if err != nil {
				t.Fatalf("FromPolicy(Policy()): %v", err)
			}
			if got := back.Policy(); !reflect.DeepEqual(got, p) {
				t.Errorf("Policy() after FromPolicy:\n%+v\nwant\n%+v", got, p)
			}
			if !reflect.DeepEqual(back.Zones(), m.Zones()) {
				t.Errorf("Zones() after FromPolicy:\n%+v\nwant\n%+v", back.Zones(), m.Zones())
			}
			// The rules are the same but for their lines, which a policy has not.
			want := m.Rules()
			for i := range want {
				want[i].Line = 0
			}
			if got := back.Rules(); !reflect.DeepEqual(got, want) {
				t.Errorf("Rules() after FromPolicy:\n%+v\nwant\n%+v", got, want)
			}
			if back.NumZones() != m.NumZones() || back.ExternalIndex() != m.ExternalIndex() {
				t.Errorf("after FromPolicy: %d zones, external %d; want %d, %d",
					back.NumZones(), back.ExternalIndex(), m.NumZones(), m.ExternalIndex())
			}
		})
	}
}

// TestPolicyExact checks that a policy in the canonical form comes back
// from FromPolicy and Policy as it was, field for field.
func TestPolicyExact(t *testing.T) {
	p := wire.ZonePolicy{
		Zones: []wire.ZoneDef{
			{Name: "intern", Kind: "internal", Purpose: "Kontor", Prefixes: []string{"10.0.0.0/8", "fd00:1::/48"}},
			{Name: "helse", Kind: "sensitive", Purpose: "Helse og omsorg, journalsystem", Parent: "intern",
				Prefixes: []string{"10.9.0.0/16", "10.99.0.7/32"}},
			{Name: "tom", Kind: "internal"},
		},
		Firewall: []wire.FirewallRule{
			{ID: "fw-1", From: "intern", To: "external", Proto: "tcp", Ports: []string{"80", "443", "8000-8100"},
				Justification: "Nettlesing via proxy", Owner: "drift"},
			{ID: "alt", From: "intern", To: "helse", Justification: "Alt"},
			{ID: "ping", From: "intern", To: "helse", Proto: "any", Justification: "Ping", Owner: "drift"},
		},
	}
	m, err := FromPolicy(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Policy(); !reflect.DeepEqual(got, p) {
		t.Errorf("Policy():\n%+v\nwant\n%+v", got, p)
	}
	if r, ok := m.Allowed(Flow{"intern", "helse", "udp", 9}); !ok || r.ID != "alt" || r.Line != 0 {
		t.Errorf("Allowed(intern->helse udp/9) = %+v, %v; want rule alt", r, ok)
	}
}

func TestFromPolicyErrors(t *testing.T) {
	zones := []wire.ZoneDef{
		{Name: "intern", Kind: "internal", Prefixes: []string{"10.0.0.0/8"}},
	}
	for _, c := range []struct {
		name string
		p    wire.ZonePolicy
		want string
	}{
		{"overlap", wire.ZonePolicy{Zones: append(zones, wire.ZoneDef{Name: "helse", Kind: "sensitive", Prefixes: []string{"192.168.0.0/16", "10.9.0.0/16"}})},
			`policy: zones[1].prefixes[1]: zone "helse": prefix 10.9.0.0/16 overlaps 10.0.0.0/8 of zone "intern"`},
		{"kind", wire.ZonePolicy{Zones: []wire.ZoneDef{{Name: "a", Kind: "public"}}},
			`policy: zones[0]: zone "a": kind "public": want external, internal, sensitive`},
		{"parent", wire.ZonePolicy{Zones: []wire.ZoneDef{{Name: "a", Kind: "internal", Parent: "b"}}},
			`policy: zones[0]: zone "a": parent "b" is not a zone`},
		{"duplicate", wire.ZonePolicy{Zones: append(zones, wire.ZoneDef{Name: "intern", Kind: "internal"})},
			`policy: zones[1]: zone "intern": defined twice (first at zones[0])`},
		{"unknown zone", wire.ZonePolicy{Zones: zones, Firewall: []wire.FirewallRule{{ID: "r", From: "intern", To: "helse", Justification: "x"}}},
			`policy: firewall[0]: rule "r": to: unknown zone "helse"`},
		{"justification", wire.ZonePolicy{Zones: zones, Firewall: []wire.FirewallRule{{From: "intern", To: "external"}}},
			`policy: firewall[0]: rule "fw-1": justification is empty: say why the flow is allowed`},
		{"port", wire.ZonePolicy{Zones: zones, Firewall: []wire.FirewallRule{{From: "intern", To: "external", Proto: "tcp", Ports: []string{"443", "0"}, Justification: "x"}}},
			`policy: firewall[0].ports[1]: rule "fw-1": port 0: want 1-65535`},
		{"icmp ports", wire.ZonePolicy{Zones: zones, Firewall: []wire.FirewallRule{{From: "intern", To: "external", Proto: "icmpv6", Ports: []string{"128"}, Justification: "x"}}},
			`policy: firewall[0].ports[0]: rule "fw-1": ports with proto icmpv6: ICMP has no ports`},
		{"duplicate id", wire.ZonePolicy{Zones: zones, Firewall: []wire.FirewallRule{
			{ID: "fw-2", From: "intern", To: "external", Justification: "x"},
			{From: "intern", To: "external", Justification: "y"}}},
			`policy: firewall[1]: rule "fw-2": id repeats (first at firewall[0])`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromPolicy(c.p)
			if err == nil || err.Error() != c.want {
				t.Errorf("FromPolicy error:\n%v\nwant:\n%s", err, c.want)
			}
		})
	}
}

// FuzzParse feeds Parse damaged zones files: it must refuse or accept them
// without panicking, and what it accepts must survive the trip through a
// policy.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "configs", "zones.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{contract, testFile, string(example), "zones:\n  - {name: a, kind: internal, parent: a}\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := Parse("zones.yaml", []byte(s))
		if err != nil {
			return
		}
		back, err := FromPolicy(m.Policy())
		if err != nil {
			t.Fatalf("FromPolicy(Policy()) of an accepted file: %v", err)
		}
		if !reflect.DeepEqual(back.Policy(), m.Policy()) {
			t.Errorf("Policy() changed on the way through FromPolicy")
		}
		for _, z := range m.Zones() {
			for _, p := range z.CIDRs {
				if got := m.ZoneOf(p.Addr()).Name; got == "" {
					t.Errorf("ZoneOf(%s) = no zone", p.Addr())
				}
			}
		}
	})
}
