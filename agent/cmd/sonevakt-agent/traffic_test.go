package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/traffic"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// trafficPcapDir holds the real captures shared by the project's tests.
const trafficPcapDir = "../../../../shared/testdata/pcap"

const trafficZones = "../../internal/sensor/traffic/testdata/zones.yaml"

func trafficCapture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(trafficPcapDir, name)
	if _, err := os.Stat(p); err != nil {
		need(t, "real captures missing: "+err.Error())
	}
	return p
}

func TestTrafficJSON(t *testing.T) {
	out, stderr, err := agent("traffic", "--pcap", trafficCapture(t, "gopacket_cip.pcap"), "--zones", trafficZones, "--json")
	if err != nil {
		t.Fatalf("traffic --json: %v\n%s", err, stderr)
	}
	var rep struct {
		Packets    uint64            `json:"packets"`
		Skipped    map[string]uint64 `json:"skipped"`
		Flows      []map[string]any  `json:"flows"`
		ZoneMatrix []map[string]any  `json:"zone_matrix"`
		Devices    []wire.Neighbour  `json:"devices"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%.500s", err, out)
	}
	if rep.Packets != 26068 || len(rep.Flows) != 3017 || len(rep.ZoneMatrix) != 3 || rep.Skipped == nil || rep.Devices == nil {
		t.Errorf("packets %d, %d flows, %d matrix cells, skipped %v, devices %v; want 26068, 3017, 3, {}, []",
			rep.Packets, len(rep.Flows), len(rep.ZoneMatrix), rep.Skipped, rep.Devices)
	}
	for _, key := range []string{"src", "dst", "proto", "sport", "dport", "packets", "bytes", "src_zone", "dst_zone", "verdict"} {
		if _, ok := rep.Flows[0][key]; !ok {
			t.Errorf("flow %v lacks %q", rep.Flows[0], key)
		}
	}
}

func TestTrafficDevices(t *testing.T) {
	out, stderr, err := agent("traffic", "--pcap", trafficCapture(t, "zeek_dhcp.pcap"), "--json")
	if err != nil {
		t.Fatalf("traffic --json: %v\n%s", err, stderr)
	}
	var rep traffic.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, d := range rep.Devices {
		names[d.MAC] = d.Name
		if len(d.SeenBy) == 0 || d.SeenBy[0] != wire.ViaDHCP {
			t.Errorf("device %+v: want seen by dhcp", d)
		}
	}
	if names["90:b1:1c:99:49:29"] != "btest.is.cool" {
		t.Errorf("devices %+v: want 90:b1:1c:99:49:29 named btest.is.cool by DHCP", rep.Devices)
	}
	for _, f := range rep.Flows {
		if f.Verdict != wire.VerdictNoMap {
			t.Errorf("flow %+v without --zones: verdict %q, want %q", f, f.Verdict, wire.VerdictNoMap)
		}
	}
}

func TestTrafficText(t *testing.T) {
	out, stderr, err := agent("traffic", "--pcap", trafficCapture(t, "gopacket_cip.pcap"), "--zones", trafficZones)
	if err != nil {
		t.Fatalf("traffic: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"26068 packets read",
		"Zone matrix",
		"Cross-zone flows: 4",
		"10.200.1.18:2430  10.50.1.54:44818  intern -> scada",
		"allowed  fw-3",
		"Devices:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Odd link types: counted, not fatal.
	out, stderr, err = agent("traffic", "--pcap", trafficCapture(t, "tcpdump_brcm-tag.pcap"))
	if err != nil || !strings.Contains(out, "skipped 23: link type 281") {
		t.Errorf("brcm-tag capture: %v %s\n%s", err, stderr, out)
	}
}

func TestTrafficErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a capture\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badZones := filepath.Join(dir, "zones.yaml")
	if err := os.WriteFile(badZones, []byte("zones:\n  - name: a\n    kind: galaxy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"traffic"}, true, "--pcap"},
		{[]string{"traffic", "--pcap", filepath.Join(dir, "missing.pcap")}, true, "missing.pcap"},
		{[]string{"traffic", "--pcap", text}, true, "not a pcap or pcapng capture"},
		{[]string{"traffic", "--pcap", text, "--zones", badZones}, false, "zones.yaml"},
		{[]string{"traffic", "--pcap", text, "extra"}, true, "extra"},
	}
	for _, tt := range tests {
		_, _, err := agent(tt.args...)
		if err == nil || errors.Is(err, errUsage) != tt.usage || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("agent %v = %v; want an error naming %q (usage error: %v)", tt.args, err, tt.want, tt.usage)
		}
	}
}
