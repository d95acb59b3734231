package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	tests := []struct{ name, yaml, wantErr string }{
		{"ok", "data_dir: /x\nweb_addr: 127.0.0.1:9443\nnames: [c.example]\n", ""},
		{"unknown key", "data_dir: /x\nweb_adr: :1\n", "line 2"},
		{"bad addr", "data_dir: /x\nagents_addr: 7443\n", "agents_addr"},
		{"half cert", "data_dir: /x\nweb_cert: a.pem\n", "web_cert"},
		{"no data", "log_level: info\n", "data_dir"},
		{"half rate", "data_dir: /x\nenroll_burst: 100\n", "enroll_rate"},

		{"media", "data_dir: /x\nmedia:\n  mode: block\n  label_pattern: \"NK-*\"\n  marker_file: SONEVAKT.TXT\n  enforce_optical: true\n", ""},
		{"media mode", "data_dir: /x\nmedia:\n  mode: deny\n", `media.mode: media mode "deny"`},
		{"media pattern", "data_dir: /x\nmedia:\n  label_pattern: \"NK-[\"\n", "media.label_pattern"},
		{"media marker", "data_dir: /x\nmedia:\n  marker_file: ../x\n", "media.marker_file"},
		{"media unknown key", "data_dir: /x\nmedia:\n  mod: block\n", "line 3"},

		{"zones", "data_dir: /x\nzones:\n  - {name: kontor, level: internal, cidrs: [10.0.0.0/8, \"fd00::/8\"]}\n  - {name: helse, level: sensitive, cidrs: [10.20.0.0/16, 10.30.0.5]}\n", ""},
		{"zone cidr", "data_dir: /x\nzones:\n  - {name: kontor, level: internal, cidrs: [10.0.0.0/8]}\n  - {name: helse, level: sensitive, cidrs: [10.20.0/16]}\n", `zones[1].cidrs[0] "10.20.0/16"`},
		{"zone level", "data_dir: /x\nzones:\n  - {name: kontor, level: secret}\n", `zones: zone "kontor": level "secret"`},
		{"zone host bits", "data_dir: /x\nzones:\n  - {name: kontor, level: internal, cidrs: [10.0.0.1/8]}\n", "want 10.0.0.0/8"},
		{"zone twice", "data_dir: /x\nzones:\n  - {name: a, level: internal}\n  - {name: a, level: external}\n", `zones: zone "a": name repeats`},
		{"zone overlap", "data_dir: /x\nzones:\n  - {name: a, level: internal, cidrs: [10.0.0.0/8]}\n  - {name: b, level: sensitive, cidrs: [10.0.0.0/8]}\n", `also in zone "a"`},
		{"zone unknown key", "data_dir: /x\nzones:\n  - {name: a, level: internal, cidr: [10.0.0.0/8]}\n", "line 3"},

		{"rules", "data_dir: /x\nrules:\n  unknown-media: {enabled: false}\n  unmarked-media: {severity: critical}\n", ""},
		{"rule name", "data_dir: /x\nrules:\n  unknown-usb: {enabled: false}\n", "rules.unknown-usb: unknown rule; known rules are unregistered-host, unknown-device, unknown-media, unmarked-media"},
		{"rule severity", "data_dir: /x\nrules:\n  unknown-media: {severity: urgent}\n", `rules.unknown-media.severity "urgent": want low, medium, high, critical`},
		{"rule enabled", "data_dir: /x\nrules:\n  unknown-media: {enabled: maybe}\n", "line 3"},

		{"due", "data_dir: /x\ndeviations:\n  due: {critical: 12h, medium: 10d}\n", ""},
		{"due severity", "data_dir: /x\ndeviations:\n  due: {urgent: 12h}\n", "deviations.due.urgent: unknown severity"},
		{"due value", "data_dir: /x\ndeviations:\n  due: {high: 3 days}\n", `deviations.due.high "3 days": want a positive duration`},
		{"due negative", "data_dir: /x\ndeviations:\n  due: {high: -1h}\n", `deviations.due.high "-1h"`},

		{"notify", "data_dir: /x\nnotify:\n  smtp: {addr: \"mail:587\", from: \"Sonevakt <s@k.no>\"}\n  security_officer: {email: isa@k.no, lang: en}\n", ""},
		{"notify addr", "data_dir: /x\nnotify:\n  smtp: {addr: mail, from: s@k.no}\n", `notify.smtp.addr "mail": want HOST:PORT`},
		{"notify from", "data_dir: /x\nnotify:\n  smtp: {addr: \"mail:25\"}\n", "notify.smtp.from is empty"},
		{"notify officer", "data_dir: /x\nnotify:\n  smtp: {addr: \"mail:25\", from: s@k.no}\n  security_officer: {email: not-an-address}\n", `notify.security_officer.email "not-an-address"`},
		{"notify no smtp", "data_dir: /x\nnotify:\n  security_officer: {email: isa@k.no}\n", "notify.smtp.addr is not"},
		{"notify lang", "data_dir: /x\nnotify:\n  smtp: {addr: \"mail:25\", from: s@k.no}\n  security_officer: {email: isa@k.no, lang: de}\n", `lang "de": want nb or en`},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "collector.yaml")
		if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		err := Load(p, &c)
		if tt.wantErr == "" && err != nil {
			t.Errorf("%s: Load = %v", tt.name, err)
		}
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p)) {
			t.Errorf("%s: Load = %v, want error naming the file and %q", tt.name, err, tt.wantErr)
		}
	}
	c := Default()
	c.DataDir = "/d"
	if got := c.StoreDSN(); got != "sqlite:/d/sonevakt.db" {
		t.Errorf("StoreDSN() = %q", got)
	}
}

func TestSections(t *testing.T) {
	p := filepath.Join(t.TempDir(), "collector.yaml")
	body := `data_dir: /x
media: {mode: block, label_pattern: "NK-*", marker_file: SONEVAKT.TXT, enforce_optical: true}
zones:
  - {name: kontor, level: internal, cidrs: [10.0.0.0/8]}
  - {name: helse, level: sensitive, cidrs: [10.20.0.0/16]}
rules:
  unknown-media: {enabled: false}
  unmarked-media: {enabled: true, severity: critical}
deviations:
  due: {high: 48h, low: 60d}
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := Load(p, &c); err != nil {
		t.Fatal(err)
	}
	if m := c.MediaPolicy(); m.Mode != "block" || m.LabelPattern != "NK-*" || m.MarkerFile != "SONEVAKT.TXT" || !m.EnforceOptical || m.Allowed != nil {
		t.Errorf("MediaPolicy() = %+v", m)
	}
	tab, err := c.ZoneTable()
	if err != nil {
		t.Fatal(err)
	}
	if z, ok := tab.Lookup(netip.MustParseAddr("10.20.1.1")); !ok || z.Name != "helse" || tab.Len() != 2 {
		t.Errorf("zone of 10.20.1.1 = %v, %v", z, ok)
	}
	rc, err := c.RuleConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rc.Enabled("unknown-media") || !rc.Enabled("unmarked-media") || rc.Severity("unmarked-media") != "critical" || !rc.Enabled("agent-silent") {
		t.Errorf("RuleConfig() = %v", rc)
	}
	due, err := c.DeviationDue()
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || due["high"] != 48*time.Hour || due["low"] != 60*24*time.Hour {
		t.Errorf("DeviationDue() = %v", due)
	}

	// Without the sections: nothing configured.
	d := Default()
	d.DataDir = "/x"
	if tab, err := d.ZoneTable(); err != nil || tab.Len() != 0 {
		t.Errorf("ZoneTable() without zones = %v, %v", tab, err)
	}
	if rc, err := d.RuleConfig(); err != nil || len(rc) != 0 {
		t.Errorf("RuleConfig() without rules = %v, %v", rc, err)
	}
	if due, err := d.DeviationDue(); err != nil || len(due) != 0 {
		t.Errorf("DeviationDue() without deviations = %v, %v", due, err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c := Default()
	if err := Load("../../../configs/collector.yaml", &c); err != nil {
		t.Fatalf("configs/collector.yaml: %v", err)
	}
	if d := Default(); c.AgentsAddr != d.AgentsAddr || c.WebAddr != d.WebAddr {
		t.Errorf("example config %+v does not show the defaults", c)
	}
}
