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

		{"zones file missing", "data_dir: /x\nzones_file: /nonexistent/zones.yaml\n", "zones_file"},
		{"software mode", "data_dir: /x\nsoftware:\n  mode: allowlist\n", ""},
		{"software mode bad", "data_dir: /x\nsoftware:\n  mode: strict\n", `software.mode "strict": want denylist or allowlist`},
		{"silent after", "data_dir: /x\nconfigmap:\n  silent_after: 6h\n", ""},
		{"silent after short", "data_dir: /x\nconfigmap:\n  silent_after: 5s\n", "configmap.silent_after"},
		{"inline zones are gone", "data_dir: /x\nzones:\n  - {name: a, level: internal}\n", "line 2"},

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
zones_file: zones.yaml
rules:
  unknown-media: {enabled: false}
  unmarked-media: {enabled: true, severity: critical}
deviations:
  due: {high: 48h, low: 60d}
`
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	zones := "zones:\n  - {name: kontor, kind: internal, prefixes: [10.0.0.0/8]}\n  - {name: helse, kind: sensitive, parent: kontor, prefixes: [10.20.0.0/16]}\n" +
		"firewall:\n  - {from: kontor, to: helse, proto: tcp, ports: [443], justification: Journal, owner: drift}\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(p), "zones.yaml"), []byte(zones), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := Load(p, &c); err != nil {
		t.Fatal(err)
	}
	if m := c.MediaPolicy(); m.Mode != "block" || m.LabelPattern != "NK-*" || m.MarkerFile != "SONEVAKT.TXT" || !m.EnforceOptical || m.Allowed != nil {
		t.Errorf("MediaPolicy() = %+v", m)
	}
	zm, err := c.ZoneMap()
	if err != nil {
		t.Fatal(err)
	}
	if z := zm.ZoneOf(netip.MustParseAddr("10.20.1.1")); z.Name != "helse" {
		t.Errorf("zone of 10.20.1.1 = %v", z)
	}
	if id, ok := zm.AllowedIndex(zm.ZoneIndex(netip.MustParseAddr("10.1.1.1")), zm.ZoneIndex(netip.MustParseAddr("10.20.1.1")), 6, 443); !ok || id == "" {
		t.Errorf("kontor -> helse tcp/443 not allowed by the map: %q, %v", id, ok)
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
	if zm, err := d.ZoneMap(); err != nil || zm != nil {
		t.Errorf("ZoneMap() without a zones file = %v, %v", zm, err)
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

func TestWebhooks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	key := write("hook.key", "0123456789abcdef0123\n", 0o600)
	open := write("open.key", "0123456789abcdef0123\n", 0o644)
	short := write("short.key", "kort\n", 0o600)
	notPEM := write("ca.pem", "not a certificate", 0o600)
	hook := func(fields string) string {
		return "data_dir: /x\nnotify:\n  webhooks:\n    - {" + fields + "}\n"
	}
	tests := []struct{ name, yaml, wantErr string }{
		{"ok", hook("url: https://hooks.example/s, secret_file: " + key + ", events: [deviation.created], lang: en"), ""},
		{"default events", hook("url: https://hooks.example/s, secret_file: " + key), ""},
		{"http loopback", hook("url: http://127.0.0.1:9000/s, secret_file: " + key), ""},
		{"http localhost", hook("url: http://localhost:9000/s, secret_file: " + key), ""},
		{"http ipv6 loopback", hook("url: \"http://[::1]:9000/s\", secret_file: " + key), ""},
		{"http remote", hook("url: http://hooks.example/s, secret_file: " + key), "notify.webhooks[0].url \"http://hooks.example/s\": plain http is allowed to a loopback host only"},
		{"scheme", hook("url: ftp://hooks.example/s, secret_file: " + key), "want an https:// URL"},
		{"no host", hook("url: /s, secret_file: " + key), "want an https:// URL"},
		{"user in url", hook("url: https://u:p@hooks.example/s, secret_file: " + key), "put no user or password in the URL"},
		{"no secret", hook("url: https://hooks.example/s"), "notify.webhooks[0].secret_file is empty"},
		{"missing secret", hook("url: https://hooks.example/s, secret_file: " + filepath.Join(dir, "none.key")), "notify.webhooks[0].secret_file: "},
		{"readable secret", hook("url: https://hooks.example/s, secret_file: " + open), "lets group or others read the key; chmod 600 it"},
		{"short secret", hook("url: https://hooks.example/s, secret_file: " + short), "the key has 4 bytes, want at least 16"},
		{"event", hook("url: https://hooks.example/s, secret_file: " + key + ", events: [deviation.closed]"), `notify.webhooks[0].events: unknown event "deviation.closed"; known events are deviation.created`},
		{"ca file", hook("url: https://hooks.example/s, secret_file: " + key + ", ca_file: " + notPEM), "notify.webhooks[0].ca_file " + notPEM + ": no PEM certificate"},
		{"lang", hook("url: https://hooks.example/s, secret_file: " + key + ", lang: sv"), `notify.webhooks[0].lang "sv": want nb or en`},
		{"unknown key", hook("url: https://hooks.example/s, secret: x"), "line 4"},
		{"duplicate", "data_dir: /x\nnotify:\n  webhooks:\n    - {url: https://h.example/s, secret_file: " + key + "}\n    - {url: https://h.example/s, secret_file: " + key + "}\n",
			`notify.webhooks[1].url "https://h.example/s": the same as notify.webhooks[0]`},
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
		if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: Load = %v, want error with %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestWebhookSecretAndEvents(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hook.key")
	if err := os.WriteFile(p, []byte("0123456789abcdef\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := Webhook{URL: "https://hooks.example/s", SecretFile: p}
	if b, err := w.Secret(); err != nil || string(b) != "0123456789abcdef" {
		t.Errorf("Secret() = %q, %v; want the key without its line break", b, err)
	}
	if !w.Wants("deviation.created") || !w.Wants("anything") {
		t.Error("a webhook without events does not want every event")
	}
	w.Events = []string{"deviation.created"}
	if !w.Wants("deviation.created") || w.Wants("deviation.closed") {
		t.Errorf("Wants with events %v is wrong", w.Events)
	}
	for url, want := range map[string]bool{"http://127.0.0.1:1/x": true, "http://localhost/x": true,
		"https://127.0.0.1/x": false, "http://10.0.0.1/x": false, "http://127.0.0.1.example/x": false} {
		if got := (Webhook{URL: url}).LoopbackHTTP(); got != want {
			t.Errorf("LoopbackHTTP(%s) = %v, want %v", url, got, want)
		}
	}
}
