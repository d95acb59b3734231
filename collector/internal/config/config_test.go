package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct{ name, yaml, wantErr string }{
		{"ok", "data_dir: /x\nweb_addr: 127.0.0.1:9443\nnames: [c.example]\n", ""},
		{"unknown key", "data_dir: /x\nweb_adr: :1\n", "line 2"},
		{"bad addr", "data_dir: /x\nagents_addr: 7443\n", "agents_addr"},
		{"half cert", "data_dir: /x\nweb_cert: a.pem\n", "web_cert"},
		{"no data", "log_level: info\n", "data_dir"},
		{"half rate", "data_dir: /x\nenroll_burst: 100\n", "enroll_rate"},
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

func TestExampleConfigLoads(t *testing.T) {
	c := Default()
	if err := Load("../../../configs/collector.yaml", &c); err != nil {
		t.Fatalf("configs/collector.yaml: %v", err)
	}
	if d := Default(); c.AgentsAddr != d.AgentsAddr || c.WebAddr != d.WebAddr {
		t.Errorf("example config %+v does not show the defaults", c)
	}
}
