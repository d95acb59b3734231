package rules

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// zonesFile is a municipality in small: offices, schools, and three
// sensitive zones, two of them serving one purpose.
const zonesFile = `
zones:
  - name: kontor
    kind: internal
    prefixes: [10.1.0.0/16]
  - name: skole
    kind: internal
    prefixes: [172.16.0.0/12]
  - name: helse
    kind: sensitive
    purpose: Helse og omsorg, journalsystem
    prefixes: [10.20.0.0/16]
  - name: helse-b
    kind: sensitive
    purpose: Helse og omsorg, journalsystem
    prefixes: [10.21.0.0/16]
  - name: barnevern
    kind: sensitive
    purpose: Barnevern, fagsystem
    prefixes: [10.30.0.0/16]
firewall:
  - id: web
    from: kontor
    to: external
    proto: tcp
    ports: [80, 443]
    justification: Nettlesing via proxy
    owner: drift
  - id: journal
    from: kontor
    to: helse
    proto: tcp
    ports: [443]
    justification: Journalsystemet i nettleser
    owner: helse
  - id: syslog
    from: helse
    to: kontor
    proto: udp
    ports: [514]
    justification: Logg til driftens syslog
    owner: drift
`

func testMap(t *testing.T) *zone.Map {
	t.Helper()
	m, err := zone.Parse("zones.yaml", []byte(zonesFile))
	if err != nil {
		t.Fatalf("zone.Parse: %v", err)
	}
	return m
}

var hour = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// hourly is an hourly flow on agent "ag" whose zones the agent named as
// srcZone and dstZone, judged denied by the agent.
func hourly(src, dst, proto string, dport uint16, srcZone, dstZone string) model.FlowHour {
	return model.FlowHour{ID: 1, Hour: hour, AgentID: "ag", Hostname: "pc-01", Seq: 7, Src: src, Dst: dst, Proto: proto, DPort: dport,
		SrcZone: srcZone, DstZone: dstZone, Process: "curl", User: "kari", Packets: 12, Bytes: 3400,
		First: hour.Add(time.Minute), Last: hour.Add(5 * time.Minute), Verdict: wire.VerdictDenied}
}

func TestFlow(t *testing.T) {
	m := testMap(t)
	agentAllowed := hourly("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 22, "kontor", "helse")
	agentAllowed.Verdict, agentAllowed.Rule = wire.VerdictAllowed, "old-rule"
	for _, c := range []struct {
		name    string
		f       model.FlowHour
		m       *zone.Map
		cfg     Config
		subject string // "" for no finding
		pd      bool
	}{
		{"allowed to external", hourly("10.1.0.5", "192.0.2.1", wire.ProtoTCP, 443, "kontor", "external"), m, nil, "", false},
		{"ssh to external", hourly("10.1.0.5", "192.0.2.1", wire.ProtoTCP, 22, "kontor", "external"), m, nil,
			"flow:ag:kontor>external:tcp/22", false},
		{"allowed into helse, though the agent said denied", hourly("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse"), m, nil, "", false},
		{"http into helse", hourly("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 80, "kontor", "helse"), m, nil,
			"flow:ag:kontor>helse:tcp/80", true},
		{"syslog out of helse", hourly("10.20.0.9", "10.1.0.5", wire.ProtoUDP, 514, "helse", "kontor"), m, nil, "", false},
		{"syslog the other way", hourly("10.1.0.5", "10.20.0.9", wire.ProtoUDP, 514, "kontor", "helse"), m, nil,
			"flow:ag:kontor>helse:udp/514", true},
		{"one zone by the collector's map, two by the agent's", hourly("10.1.0.5", "10.1.0.9", wire.ProtoTCP, 80, "kontor", "helse"), m, nil, "", false},
		{"two unlisted addresses are both external", hourly("192.0.2.1", "198.51.100.7", wire.ProtoTCP, 22, "external", "external"), m, nil, "", false},
		{"the agent's old map allowed it", agentAllowed, m, nil, "flow:ag:kontor>helse:tcp/22", true},
		{"zones by the collector's map, not the agent's", hourly("10.1.0.5", "10.30.0.2", wire.ProtoTCP, 443, "kontor", "helse"), m, nil,
			"flow:ag:kontor>barnevern:tcp/443", true},
		{"no address: the agent's zone names, allowed", hourly("", "", wire.ProtoTCP, 443, "kontor", "helse"), m, nil, "", false},
		{"no address: a zone the map lacks", hourly("", "", wire.ProtoTCP, 443, "kontor", "mystery"), m, nil,
			"flow:ag:kontor>mystery:tcp/443", false},
		{"icmp is allowed by no rule", hourly("10.1.0.5", "10.20.0.9", wire.ProtoICMP, 8<<8, "kontor", "helse"), m, nil,
			"flow:ag:kontor>helse:icmp/2048", true},
		{"no map", hourly("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 80, "kontor", "helse"), nil, nil, "", false},
		{"rule disabled", hourly("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 80, "kontor", "helse"), m,
			Config{CrossZoneFlow: {Disabled: true}}, "", false},
	} {
		f, ok := Flow(c.f, c.m, c.cfg)
		if ok != (c.subject != "") || f.Subject != c.subject {
			t.Errorf("%s: Flow = %q, %v; want %q", c.name, f.Subject, ok, c.subject)
			continue
		}
		if !ok {
			continue
		}
		if f.Rule != CrossZoneFlow || f.AgentID != "ag" || f.PersonalData != c.pd || f.Severity != model.SeverityHigh ||
			!f.At.Equal(c.f.Last) || !reflect.DeepEqual(f.Refs, []string{"S5.1", "S5.3"}) {
			t.Errorf("%s: finding %+v; want rule %s, agent ag, personal data %v, severity high, at %v", c.name, f, CrossZoneFlow, c.pd, c.f.Last)
		}
		if want := []model.EvidenceRef{{AgentID: "ag", Seq: 7, Kind: "flows"}}; !reflect.DeepEqual(f.Evidence, want) {
			t.Errorf("%s: evidence %v, want %v", c.name, f.Evidence, want)
		}
	}

	f, _ := Flow(hourly("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 80, "kontor", "helse"), m, Config{CrossZoneFlow: {Severity: model.SeverityCritical}})
	want := map[string]string{
		"src": "10.1.0.5", "dst": "10.20.0.9", "src_zone": "kontor (internal)", "dst_zone": "helse (sensitive)",
		"zones": "kontor > helse", "proto": "tcp", "port": "80", "process": "curl", "user": "kari",
		"packets": "12", "bytes": "3400", "hour": "2026-03-02T09:00:00Z", "agent_verdict": "denied",
	}
	if !reflect.DeepEqual(f.Facts, want) {
		t.Errorf("facts =\n%v\nwant\n%v", f.Facts, want)
	}
	if f.Severity != model.SeverityCritical {
		t.Errorf("severity %q, want the configured critical", f.Severity)
	}
	if wantTitle := "Flow from zone kontor to zone helse (tcp/80) that the firewall map does not allow: 10.1.0.5 > 10.20.0.9 on pc-01"; f.Title != wantTitle {
		t.Errorf("title %q, want %q", f.Title, wantTitle)
	}
	f, _ = Flow(agentAllowed, m, nil)
	if f.Facts["agent_verdict"] != "allowed by old-rule" || f.Facts["agent_zones"] != "" {
		t.Errorf("facts of a flow the agent allowed: %v", f.Facts)
	}
	f, _ = Flow(hourly("10.1.0.5", "10.30.0.2", wire.ProtoTCP, 443, "kontor", "helse"), m, nil)
	if f.Facts["agent_zones"] != "kontor > helse" || f.Facts["dst_zone"] != "barnevern (sensitive)" {
		t.Errorf("facts where the agent's zones differ: %v", f.Facts)
	}
}

func TestShared(t *testing.T) {
	m := testMap(t)
	own := func(addr string) zone.Zone { return m.ZoneOf(netip.MustParseAddr(addr)) }
	to := func(dst string) model.FlowHour { return hourly("10.1.0.5", dst, wire.ProtoTCP, 443, "", "") }
	from := func(src, dst string) model.FlowHour { return hourly(src, dst, wire.ProtoTCP, 443, "", "") }
	helseHost := func(dst string) model.FlowHour { return hourly("10.20.0.9", dst, wire.ProtoTCP, 443, "", "") }
	for _, c := range []struct {
		name    string
		in      SharedInput
		m       *zone.Map
		reached string // want the reached_zones fact; "" for no finding
	}{
		{"office host reaches helse and skole",
			SharedInput{Own: own("10.1.0.5"), Flows: []model.FlowHour{to("10.20.0.9"), to("172.16.0.1")}}, m,
			"helse (sensitive), skole (internal)"},
		{"reached as the destination of an incoming flow too",
			SharedInput{Own: own("10.1.0.5"), Flows: []model.FlowHour{to("10.20.0.9"), from("172.16.0.1", "10.1.0.5")}}, m,
			"helse (sensitive), skole (internal)"},
		{"office host reaches helse and the internet",
			SharedInput{Own: own("10.1.0.5"), Flows: []model.FlowHour{to("10.20.0.9"), to("192.0.2.1")}}, m, ""},
		{"office host reaches helse, many times",
			SharedInput{Own: own("10.1.0.5"), Flows: []model.FlowHour{to("10.20.0.9"), to("10.20.0.10"), to("10.20.1.1")}}, m, ""},
		{"office host reaches two internal zones only",
			SharedInput{Own: own("10.1.0.5"), Flows: []model.FlowHour{from("10.1.0.5", "172.16.0.1"), to("192.0.2.1")}}, m, ""},
		{"registered shared solution",
			SharedInput{Own: own("10.1.0.5"), Registered: true, Flows: []model.FlowHour{to("10.20.0.9"), to("172.16.0.1")}}, m, ""},
		{"own zone unknown, two zones: one may be its own",
			SharedInput{Flows: []model.FlowHour{to("10.20.0.9")}}, m, ""},
		{"own zone unknown, three zones",
			SharedInput{Flows: []model.FlowHour{to("10.20.0.9"), to("172.16.0.1")}}, m,
			"helse (sensitive), kontor (internal), skole (internal)"},
		{"health host reaches child welfare",
			SharedInput{Own: own("10.20.0.9"), Flows: []model.FlowHour{helseHost("10.30.0.2")}}, m, "barnevern (sensitive)"},
		{"health host reaches another zone of its purpose",
			SharedInput{Own: own("10.20.0.9"), Flows: []model.FlowHour{helseHost("10.21.0.2"), helseHost("192.0.2.1")}}, m, ""},
		{"health host reaches the office",
			SharedInput{Own: own("10.20.0.9"), Flows: []model.FlowHour{helseHost("10.1.0.2")}}, m, ""},
		{"no map", SharedInput{Own: own("10.1.0.5"), Flows: []model.FlowHour{to("10.20.0.9"), to("172.16.0.1")}}, nil, ""},
		{"no flows", SharedInput{Own: own("10.1.0.5")}, m, ""},
	} {
		c.in.AgentID, c.in.Hostname = "ag", "pc-01"
		f, ok := Shared(c.in, c.m, nil)
		if ok != (c.reached != "") || f.Facts[FactReachedZones] != c.reached {
			t.Errorf("%s: Shared = %v, reached %q; want reached %q", c.name, ok, f.Facts[FactReachedZones], c.reached)
			continue
		}
		if !ok {
			continue
		}
		if f.Rule != SharedSolution || f.Subject != "shared:ag" || !f.PersonalData || f.AgentID != "ag" ||
			!reflect.DeepEqual(f.Refs, []string{"S5.2"}) || !f.At.Equal(hour.Add(5*time.Minute)) {
			t.Errorf("%s: finding %+v", c.name, f)
		}
		if !strings.HasPrefix(f.Title, "Host pc-01 reaches zones ") || len(f.Evidence) != 1 || f.Evidence[0].Seq != 7 {
			t.Errorf("%s: title %q, evidence %v", c.name, f.Title, f.Evidence)
		}
	}
	in := SharedInput{AgentID: "ag", Own: own("10.1.0.5"), Flows: []model.FlowHour{to("10.20.0.9"), to("172.16.0.1")}}
	if _, ok := Shared(in, m, Config{SharedSolution: {Disabled: true}}); ok {
		t.Error("Shared fired with the rule disabled")
	}
	f, _ := Shared(in, m, nil)
	if f.Facts["own_zone"] != "kontor (internal)" || f.Facts[FactSensitiveZones] != "helse" || f.Facts["flows"] != "2" {
		t.Errorf("facts %v", f.Facts)
	}
}
