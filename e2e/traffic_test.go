package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// trafficZones is the zones file of the traffic test: the test's side of the
// veth pair is a sensitive health zone, the namespace's side the internal
// office network, and the firewall map lets the office reach the journal
// system on 443 only.
const trafficZones = `zones:
  - name: intern
    kind: internal
    purpose: Kontornett
    prefixes: [10.231.2.0/24]
  - name: helse
    kind: sensitive
    purpose: Helse og omsorg, journalsystem
    prefixes: [10.231.1.0/24]
firewall:
  - id: journal
    from: intern
    to: helse
    proto: tcp
    ports: [443]
    justification: Journalklient mot journalserver
    owner: drift
`

type apiFlow struct {
	AgentID string `json:"agent_id"`
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Proto   string `json:"proto"`
	DPort   uint16 `json:"dport"`
	SrcZone string `json:"src_zone"`
	DstZone string `json:"dst_zone"`
	Process string `json:"process"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Verdict string `json:"verdict"`
	Rule    string `json:"rule"`
}

// flows returns the agent's hourly flows.
func (c *collector) flows(agentID string) ([]apiFlow, error) {
	var v struct {
		Flows []apiFlow `json:"flows"`
	}
	_, err := c.getJSON("/api/v1/flows?limit=1000&agent="+agentID, &v)
	return v.Flows, err
}

// waitFlow polls until the agent reported a flow that cond accepts.
func (c *collector) waitFlow(agentID, what string, d time.Duration, cond func(apiFlow) bool) apiFlow {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last []apiFlow
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = c.flows(agentID)
		for _, f := range last {
			if cond(f) {
				return f
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("no flow %s within %v; have %+v (err %v)", what, d, last, lastErr)
	return apiFlow{}
}

// TestCrossZoneTrafficOpensDeviation: real TCP across a veth pair between
// the test's namespace (zone helse) and another (zone intern), captured live
// by the agent. The flow the firewall map allows is stored as allowed and
// opens nothing; the one it does not allow is stored with the process that
// opened it and opens one cross-zone-flow deviation with a breach clock (the
// health zone holds personal data); the peer is discovered by its ARP reply.
func TestCrossZoneTrafficOpensDeviation(t *testing.T) {
	seg := newSegment(t, "10.231.1.1", "10.231.2.2")

	c := newCollector(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "zones.yaml"), []byte(trafficZones), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("data_dir: %s\nzones_file: zones.yaml\n", c.data)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = append(c.args, "--config", conf)
	c.start()

	a := newAgent(t, c, "agent")
	agentConf := fmt.Sprintf("log_level: debug\nsensors:\n  inventory: false\n  media: false\n"+
		"sensor_options:\n  traffic:\n    interfaces: %s\n    interval: 1s\n", seg.Link)
	if err := os.WriteFile(a.conf, []byte(agentConf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.start()
	// Send once the agent captures on the link and holds the policy with
	// the zones (a flow is classified when it is first seen).
	a.p.waitFor("capturing", 10*time.Second)
	a.p.waitFor("policy applied", 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // the sensor reads the policy at its next interval

	// Allowed: intern -> helse tcp/443, to a listener of this process.
	ln, err := net.Listen("tcp", "10.231.1.1:443")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 8192)
				for {
					if _, err := conn.Read(buf); err != nil {
						conn.Close()
						return
					}
				}
			}()
		}
	}()
	seg.run("dial", "10.231.1.1:443")

	// Not allowed: helse -> intern tcp/8080, opened by this process and
	// kept open so that the agent can name its owner.
	seg.serve("10.231.2.2:8080")
	conn, err := net.DialTimeout("tcp", "10.231.2.2:8080", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(make([]byte, 16384)); err != nil {
		t.Fatal(err)
	}

	denied := c.waitFlow(a.id, "helse -> intern tcp/8080", 20*time.Second, func(f apiFlow) bool {
		return f.Src == "10.231.1.1" && f.Dst == "10.231.2.2" && f.Proto == "tcp" && f.DPort == 8080
	})
	if denied.SrcZone != "helse" || denied.DstZone != "intern" || denied.Verdict != "denied" || denied.Packets < 4 || denied.Bytes < 16384 {
		t.Errorf("denied flow %+v: want helse -> intern, denied, at least the 16 KiB sent", denied)
	}
	self := filepath.Base(os.Args[0])
	if len(self) > 15 {
		self = self[:15] // the kernel's command name
	}
	if denied.Process != self {
		t.Errorf("denied flow's process %q, want this test binary %q", denied.Process, self)
	}
	allowed := c.waitFlow(a.id, "intern -> helse tcp/443", 10*time.Second, func(f apiFlow) bool {
		return f.Src == "10.231.2.2" && f.Dst == "10.231.1.1" && f.DPort == 443
	})
	if allowed.Verdict != "allowed" || allowed.Rule != "journal" {
		t.Errorf("allowed flow %+v: want allowed by rule journal", allowed)
	}

	dv := c.waitDeviation("cross-zone-flow", "helse>intern:tcp/8080", 10*time.Second)
	if dv.AgentID != a.id || dv.Count != 1 || !dv.PersonalData || dv.BreachDue.IsZero() {
		t.Errorf("cross-zone-flow deviation %+v: want this agent, one occurrence, a breach clock", dv)
	}
	if !slices.Contains(dv.Refs, "S5.3") {
		t.Errorf("deviation refs %v lack S5.3", dv.Refs)
	}
	// Give the engine a moment more: the allowed flow must open nothing.
	time.Sleep(2 * time.Second)
	devs, err := c.deviations("cross-zone-flow")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if strings.Contains(d.Subject, ":443") {
			t.Errorf("the allowed flow opened deviation %+v", d)
		}
	}
	if len(devs) != 1 {
		t.Errorf("%d cross-zone-flow deviations, want 1: %+v", len(devs), devs)
	}

	// The peer answered ARP on the segment: a discovered device.
	var nb struct {
		Neighbours []struct {
			MAC    string   `json:"mac"`
			IPs    []string `json:"ips"`
			SeenBy []string `json:"seen_by"`
		} `json:"neighbours"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := c.getJSON("/api/v1/neighbours", &nb); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(nb.Neighbours, func(n struct {
			MAC    string   `json:"mac"`
			IPs    []string `json:"ips"`
			SeenBy []string `json:"seen_by"`
		}) bool {
			return n.MAC == seg.PeerMAC
		})
		if i >= 0 {
			if n := nb.Neighbours[i]; !slices.Contains(n.IPs, "10.231.2.2") || !slices.Contains(n.SeenBy, "arp") {
				t.Errorf("neighbour %+v: want 10.231.2.2 seen by arp", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer %s not among the neighbours %+v", seg.PeerMAC, nb.Neighbours)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The zone matrix sets what was observed against the firewall map.
	var m struct {
		Pairs []struct {
			From    string `json:"from"`
			To      string `json:"to"`
			Allowed bool   `json:"allowed"`
			Denied  int    `json:"denied"`
		} `json:"pairs"`
	}
	if _, err := c.getJSON("/api/v1/zones/matrix", &m); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range m.Pairs {
		got[p.From+">"+p.To] = p.Allowed
	}
	if allowed, ok := got["helse>intern"]; !ok || allowed {
		t.Errorf("matrix %+v: want helse>intern observed and not allowed", m.Pairs)
	}
	if allowed, ok := got["intern>helse"]; !ok || !allowed {
		t.Errorf("matrix %+v: want intern>helse observed and allowed", m.Pairs)
	}
}
