package zone

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// contract is the zones file of the issue, the user-facing contract: it
// must load as it stands.
const contract = `zones:
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

func TestParseContract(t *testing.T) {
	m, err := Parse("zones.yaml", []byte(contract))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := m.NumZones(); got != 3 {
		t.Errorf("NumZones() = %d, want 3 (intern, helse, external)", got)
	}
	helse := m.ZoneOf(mustAddr("10.9.3.4"))
	if helse.Name != "helse" || helse.Level != Sensitive || helse.Purpose != "Helse og omsorg, journalsystem" ||
		len(helse.CIDRs) != 1 || helse.CIDRs[0].String() != "10.9.0.0/16" {
		t.Errorf("ZoneOf(10.9.3.4) = %+v", helse)
	}
	if z := m.ZoneOf(mustAddr("fd00:1::5")); z.Name != "intern" {
		t.Errorf("ZoneOf(fd00:1::5) = %q, want intern", z.Name)
	}
	if z := m.ZoneOf(mustAddr("8.8.8.8")); z.Name != ExternalZone || z.Level != External {
		t.Errorf("ZoneOf(8.8.8.8) = %+v, want the external zone", z)
	}
	rules := m.Rules()
	want := Rule{ID: "fw-1", From: "intern", To: "external", Proto: "tcp",
		Ports: []PortRange{{80, 80}, {443, 443}}, Justification: "Nettlesing via proxy", Owner: "drift", Line: 10}
	if len(rules) != 1 || !equalRule(rules[0], want) {
		t.Errorf("Rules() = %+v, want [%+v]", rules, want)
	}
	r, ok := m.Allowed(Flow{From: "intern", To: "external", Proto: "tcp", Port: 443})
	if !ok || r.ID != "fw-1" {
		t.Errorf("Allowed(intern->external tcp/443) = %+v, %v; want fw-1", r, ok)
	}
	if r, ok := m.Allowed(Flow{From: "intern", To: "helse", Proto: "tcp", Port: 443}); ok {
		t.Errorf("Allowed(intern->helse tcp/443) = %+v, want no rule", r)
	}
}

func equalRule(a, b Rule) bool { return reflect.DeepEqual(a, b) }

// TestExampleConfig loads the documented example for Namsos kommune.
func TestExampleConfig(t *testing.T) {
	m, err := Load(filepath.Join("..", "..", "configs", "zones.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, c := range []struct {
		addr, zone string
	}{
		{"10.40.1.10", "intern"},
		{"10.40.21.7", "helse"},
		{"10.40.99.15", "helse"}, // a single address inside intern
		{"10.40.99.16", "intern"},
		{"10.40.30.200", "barnevern"},
		{"10.40.250.5", "drift"},
		{"fd4e:4e53:10:20::9", "helse"},
		{"fd4e:4e53:10:21::9", "intern"},
		{"10.60.200.3", "skole-adm"},
		{"10.60.3.3", "skole"},
		{"172.20.4.4", "extern"},
		{"193.69.0.1", "external"},
	} {
		if got := m.ZoneOf(mustAddr(c.addr)).Name; got != c.zone {
			t.Errorf("ZoneOf(%s) = %q, want %q", c.addr, got, c.zone)
		}
	}
	if z := m.ZoneByIndex(m.ExternalIndex()); z.Purpose == "" {
		t.Errorf("external zone %+v: the example gives it a purpose", z)
	}
	for _, r := range m.Rules() {
		if r.Owner == "" || r.Justification == "" || r.Line == 0 || strings.HasPrefix(r.ID, "fw-") {
			t.Errorf("rule %+v: the example names, justifies and owns every rule", r)
		}
	}
	for _, c := range []struct {
		f    Flow
		rule string // "" for denied
	}{
		{Flow{From: "intern", To: "helse", Proto: "tcp", Port: 443}, "helse-epj"},
		{Flow{From: "intern", To: "barnevern", Proto: "tcp", Port: 443}, ""},
		{Flow{From: "intern", To: "external", Proto: "udp", Port: 53}, "intern-dns"},
		{Flow{From: "intern", To: "external", Proto: "icmpv6"}, "intern-icmpv6"},
		{Flow{From: "drift", To: "helse", Proto: "tcp", Port: 5986}, "drift-helse"},
		{Flow{From: "helse", To: "external", Proto: "tcp", Port: 80}, ""},
		{Flow{From: "extern", To: "external", Proto: "47"}, "gjest-internett"},
		{Flow{From: "extern", To: "intern", Proto: "tcp", Port: 443}, ""},
	} {
		r, ok := m.Allowed(c.f)
		if ok != (c.rule != "") || r.ID != c.rule {
			t.Errorf("Allowed(%+v) = %q, %v; want %q", c.f, r.ID, ok, c.rule)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zones.yaml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load(missing) = %v, want an error naming %s", err, path)
	}
	if err := os.WriteFile(path, []byte(contract), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load: %v", err)
	}
	if err := os.WriteFile(path, []byte("zones:\n  - name: a\n    kind: nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+":3: ") {
		t.Errorf("Load(bad kind) = %v, want an error starting %s:3:", err, path)
	}
}

// TestParseErrors checks every validation: the message, with file and line.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		yaml string
		want string // the whole error
	}{
		{"overlap", `zones:
  - name: intern
    kind: internal
    prefixes: [10.0.0.0/8]
  - name: helse
    kind: sensitive
    prefixes: [10.9.0.0/16]
`, `zones.yaml:7: zone "helse": prefix 10.9.0.0/16 overlaps 10.0.0.0/8 of zone "intern"`},
		{"overlap, outer later", `zones:
  - name: helse
    kind: sensitive
    prefixes: [10.9.0.0/16]
  - name: intern
    kind: internal
    prefixes:
      - 192.168.0.0/16
      - 10.0.0.0/8
`, `zones.yaml:9: zone "intern": prefix 10.0.0.0/8 overlaps 10.9.0.0/16 of zone "helse"`},
		{"overlap v6", `zones:
  - {name: a, kind: internal, prefixes: ["fd00::/16"]}
  - {name: b, kind: internal, prefixes: ["fd00:1::/32"]}
`, `zones.yaml:3: zone "b": prefix fd00:1::/32 overlaps fd00::/16 of zone "a"`},
		{"parent inside child", `zones:
  - {name: a, kind: internal, prefixes: [10.1.0.0/16]}
  - {name: b, kind: internal, parent: a, prefixes: [10.0.0.0/8]}
`, `zones.yaml:3: zone "b": prefix 10.0.0.0/8 overlaps 10.1.0.0/16 of zone "a"`},
		{"siblings", `zones:
  - {name: a, kind: internal, prefixes: [10.0.0.0/8]}
  - {name: b, kind: sensitive, parent: a, prefixes: [10.1.0.0/16]}
  - {name: c, kind: sensitive, parent: a, prefixes: [10.1.2.0/24]}
`, `zones.yaml:4: zone "c": prefix 10.1.2.0/24 overlaps 10.1.0.0/16 of zone "b"`},
		{"same prefix, two zones", `zones:
  - {name: a, kind: internal, prefixes: [10.0.0.0/8]}
  - {name: b, kind: internal, prefixes: [10.0.0.0/8]}
`, `zones.yaml:3: zone "b": prefix 10.0.0.0/8 is also in zone "a" (line 2)`},
		{"same prefix, one zone", `zones:
  - name: a
    kind: internal
    prefixes:
      - 10.0.0.0/8
      - 10.0.0.0/8
`, `zones.yaml:6: zone "a": prefix 10.0.0.0/8 repeats (first at line 5)`},
		{"plain address repeats its /32", `zones:
  - {name: a, kind: internal, prefixes: [10.0.0.1/32, 10.0.0.1]}
`, `zones.yaml:2: zone "a": prefix 10.0.0.1/32 repeats (first at line 2)`},
		{"host bits", `zones:
  - name: a
    kind: internal
    prefixes: [10.1.2.3/16]
`, `zones.yaml:4: zone "a": prefix 10.1.2.3/16 has host bits set; want 10.1.0.0/16`},
		{"not a prefix", `zones:
  - {name: a, kind: internal, prefixes: [10.1.2/16]}
`, `zones.yaml:2: zone "a": prefix "10.1.2/16": not an address or prefix`},
		{"mapped prefix", `zones:
  - {name: a, kind: internal, prefixes: ["::ffff:10.0.0.0/104"]}
`, `zones.yaml:2: zone "a": prefix ::ffff:10.0.0.0/104: give IPv4 ranges in IPv4 form`},
		{"scope zone", `zones:
  - {name: a, kind: internal, prefixes: ["fe80::1%eth0"]}
`, `zones.yaml:2: zone "a": prefix fe80::1%eth0: an IPv6 scope zone has no place in a range`},
		{"duplicate zone", `zones:
  - {name: a, kind: internal}
  - {name: b, kind: internal}
  - name: a
    kind: sensitive
`, `zones.yaml:4: zone "a": defined twice (first at line 2)`},
		{"empty name", `zones:
  - {name: "", kind: internal}
`, `zones.yaml:2: zone 1: name is empty`},
		{"name with space", `zones:
  - {kind: internal, name: helse og omsorg}
`, `zones.yaml:2: zone 1: name "helse og omsorg": no spaces or control characters, please`},
		{"unknown kind", `zones:
  - name: a
    kind: secret
`, `zones.yaml:3: zone "a": kind "secret": want external, internal, sensitive`},
		{"missing kind", `zones:
  - name: a
    prefixes: [10.0.0.0/8]
`, `zones.yaml:2: zone "a": kind is missing: want external, internal, sensitive`},
		{"external not external", `zones:
  - name: external
    kind: internal
`, `zones.yaml:3: zone "external": kind "internal": the zone of unlisted addresses is kind external`},
		{"unknown parent", `zones:
  - name: a
    kind: internal
    parent: b
`, `zones.yaml:4: zone "a": parent "b" is not a zone`},
		{"own parent", `zones:
  - {name: a, kind: internal, parent: a}
`, `zones.yaml:2: zone "a": parent is the zone itself`},
		{"parent cycle", `zones:
  - {name: top, kind: internal}
  - name: a
    kind: internal
    parent: c
  - {name: b, kind: internal, parent: a}
  - {name: c, kind: internal, parent: b}
  - {name: d, kind: internal, parent: c}
`, `zones.yaml:5: zone "a": parents form a cycle: a -> c -> b -> a`},
		{"unknown zone in rule", `zones:
  - {name: a, kind: internal}
firewall:
  - from: a
    to: helsa
    justification: x
`, `zones.yaml:5: rule "fw-1": to: unknown zone "helsa"`},
		{"unknown from", `zones:
  - {name: a, kind: internal}
firewall:
  - {from: a, to: a, justification: x}
  - {id: r2, from: b, to: a, justification: x}
`, `zones.yaml:5: rule "r2": from: unknown zone "b"`},
		{"missing to", `zones:
  - {name: a, kind: internal}
firewall:
  - from: a
    justification: x
`, `zones.yaml:4: rule "fw-1": to is missing: name a zone`},
		{"empty justification", `zones:
  - {name: a, kind: internal}
firewall:
  - from: a
    to: external
    justification: "  "
`, `zones.yaml:6: rule "fw-1": justification is empty: say why the flow is allowed`},
		{"no justification", `zones:
  - {name: a, kind: internal}
firewall:
  - from: a
    to: external
`, `zones.yaml:4: rule "fw-1": justification is empty: say why the flow is allowed`},
		{"duplicate id", `zones:
  - {name: a, kind: internal}
firewall:
  - {from: a, to: external, justification: x}
  - {id: fw-1, from: a, to: external, justification: y}
`, `zones.yaml:5: rule "fw-1": id repeats (first at line 4)`},
		{"bad id", `zones:
  - {name: a, kind: internal}
firewall:
  - {id: web rule, from: a, to: external, justification: x}
`, `zones.yaml:4: rule 1: id: name "web rule": no spaces or control characters, please`},
		{"bad proto", `zones:
  - {name: a, kind: internal}
firewall:
  - from: a
    to: external
    proto: sctp
    justification: x
`, `zones.yaml:6: rule "fw-1": proto "sctp": want tcp, udp, icmp, icmpv6 or any`},
		{"port 0", `zones:
  - {name: a, kind: internal}
firewall:
  - from: a
    to: external
    proto: tcp
    ports:
      - 80
      - 0
    justification: x
`, `zones.yaml:9: rule "fw-1": port 0: want 1-65535`},
		{"port too big", `zones:
  - {name: a, kind: internal}
firewall:
  - {from: a, to: external, proto: udp, ports: [65536], justification: x}
`, `zones.yaml:4: rule "fw-1": port 65536: want 1-65535`},
		{"range upside down", `zones:
  - {name: a, kind: internal}
firewall:
  - {from: a, to: external, proto: tcp, ports: ["9000-8000"], justification: x}
`, `zones.yaml:4: rule "fw-1": ports 9000-8000: low end above high end`},
		{"range end 0", `zones:
  - {name: a, kind: internal}
firewall:
  - {from: a, to: external, proto: tcp, ports: ["1-70000"], justification: x}
`, `zones.yaml:4: rule "fw-1": port 70000: want 1-65535`},
		{"port not a number", `zones:
  - {name: a, kind: internal}
firewall:
  - {from: a, to: external, proto: tcp, ports: [https], justification: x}
`, `zones.yaml:4: rule "fw-1": port "https": want a number 1-65535 or a range lo-hi`},
		{"ports with icmp", `zones:
  - {name: a, kind: internal}
firewall:
  - from: a
    to: external
    proto: icmp
    ports: [8]
    justification: x
`, `zones.yaml:7: rule "fw-1": ports with proto icmp: ICMP has no ports`},
		{"no zones", "firewall: []\n", `zones.yaml:1: no zones: list them under the key zones`},
		{"empty file", "", `zones.yaml: no zones: list them under the key zones`},
		{"not a mapping", "- a\n- b\n", `zones.yaml:1: want a mapping with the keys zones and firewall`},
		{"zone not a mapping", "zones:\n  - intern\n", `zones.yaml:2: zone 1: want a mapping with name, kind and prefixes`},
		{"name not a string", "zones:\n  - name: [a]\n    kind: internal\n", "zones.yaml:2: zone 1: name: want a string"},
		{"prefixes not a list", "zones:\n  - name: a\n    kind: internal\n    prefixes: {a: b}\n", `zones.yaml:4: zone 1: prefixes: want a list`},
		{"firewall not a list", "zones:\n  - {name: a, kind: internal}\nfirewall: yes\n", `zones.yaml:3: firewall: want a list of rules`},
		{"several problems", `zones:
  - {name: a, kind: internal, prefixes: [10.0.0.0/8]}
  - {name: b, kind: internal, prefixes: [10.1.0.0/16]}
firewall:
  - {from: a, to: c, justification: ""}
`, `zones.yaml:3: zone "b": prefix 10.1.0.0/16 overlaps 10.0.0.0/8 of zone "a"
zones.yaml:5: rule "fw-1": to: unknown zone "c"
zones.yaml:5: rule "fw-1": justification is empty: say why the flow is allowed`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse("zones.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("Parse = %+v, want error %q", m.Policy(), c.want)
			}
			if err.Error() != c.want {
				t.Errorf("Parse error:\n%s\nwant:\n%s", err, c.want)
			}
		})
	}
}

// TestParseManyProblems checks that a file with very many problems gives a
// bounded error that says how many more there are.
func TestParseManyProblems(t *testing.T) {
	y := "zones:\n"
	for i := range maxErrors + 5 {
		y += fmt.Sprintf("  - {name: z%d, kind: bogus}\n", i)
	}
	_, err := Parse("zones.yaml", []byte(y))
	if err == nil {
		t.Fatal("Parse accepted 25 zones of kind bogus")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[0] != `zones.yaml:2: zone "z0": kind "bogus": want external, internal, sensitive` ||
		lines[maxErrors] != "and 5 more problems" {
		t.Errorf("Parse error has %d lines:\n%v", len(lines), err)
	}
}

// TestParseSyntaxError checks that a YAML syntax error names the file and a
// line in the file's format; the line is the YAML parser's (for some errors
// the start of the enclosing construct).
func TestParseSyntaxError(t *testing.T) {
	_, err := Parse("zones.yaml", []byte("zones:\n  - {name: a, kind: internal, prefixes: [10.0.0.0/8}\n"))
	if err == nil || !regexp.MustCompile(`^zones\.yaml:\d+: did not find expected ',' or ']'$`).MatchString(err.Error()) {
		t.Errorf("Parse(bad YAML) = %v, want zones.yaml:LINE: did not find expected ',' or ']'", err)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
	}{
		{"child inside parent", `zones:
  - {name: intern, kind: internal, prefixes: [10.0.0.0/8]}
  - {name: helse, kind: sensitive, parent: intern, prefixes: [10.9.0.0/16]}
`},
		{"grandchild inside grandparent", `zones:
  - {name: a, kind: internal, prefixes: [10.0.0.0/8]}
  - {name: b, kind: sensitive, parent: a, prefixes: [10.1.0.0/16]}
  - {name: c, kind: sensitive, parent: b, prefixes: [10.2.0.0/24]}
`},
		{"nesting inside one zone", `zones:
  - {name: a, kind: internal, prefixes: [10.0.0.0/8, 10.1.0.0/16]}
`},
		{"parent given later", `zones:
  - {name: helse, kind: sensitive, parent: intern, prefixes: [10.9.0.0/16]}
  - {name: intern, kind: internal, prefixes: [10.0.0.0/8]}
`},
		{"external defined", `zones:
  - {name: external, kind: external, purpose: Internett, prefixes: [203.0.113.0/24]}
  - {name: a, kind: internal}
firewall:
  - {from: a, to: external, justification: x}
`},
		{"unquoted IPv6 in a block list", `zones:
  - name: a
    kind: internal
    prefixes:
      - fd00:1::/48
      - 2001:db8::1
`},
		{"extra keys", `version: 3
zones:
  - {name: a, kind: internal, vlan: 40, notes: [x, y]}
firewall:
  - {from: a, to: external, justification: x, ticket: ENDR-1, expires: 2027-01-01}
`},
		{"null firewall and prefixes", `zones:
  - name: a
    kind: internal
    prefixes:
firewall:
`},
		{"anchors and aliases", `zones:
  - name: a
    kind: &k internal
    prefixes: &p [10.0.0.0/8]
  - {name: b, kind: *k, parent: a, prefixes: [10.1.0.0/16]}
firewall:
  - {from: a, to: b, ports: &web [80, 443], proto: tcp, justification: x}
  - {from: b, to: a, ports: *web, proto: tcp, justification: x}
`},
		{"single port and proto in capitals", `zones:
  - {name: a, kind: internal}
firewall:
  - {from: a, to: external, proto: TCP, ports: 443, justification: x}
`},
		{"everything", `zones:
  - {name: all, kind: internal, prefixes: [0.0.0.0/0, "::/0"]}
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse("zones.yaml", []byte(c.yaml)); err != nil {
				t.Errorf("Parse: %v", err)
			}
		})
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
