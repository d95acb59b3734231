package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantErr    string
	}{
		{"empty", "", ""},
		{"full", "log_level: debug\nspool:\n  max_bytes: 2097152\nsensors:\n  inventory: false\nintervals:\n  health: 200ms\n", ""},
		{"unknown key", "log_level: info\nspool:\n  maxbytes: 5\n", "line 3"},
		{"bad level", "log_level: loud\n", "log_level"},
		{"bad type", "spool:\n  max_bytes: lots\n", "line 2"},
		{"tiny spool", "spool:\n  max_bytes: 10\n", "spool.max_bytes"},
		{"bad interval", "intervals:\n  health: 1ms\n", "intervals.health"},
	}
	for _, tt := range tests {
		p := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(p, []byte(tt.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: Load = %v, want no error", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p)):
			t.Errorf("%s: Load = %v, want error naming the file and %q", tt.name, err, tt.wantErr)
		}
		if tt.name == "full" && (c.Intervals.Health != 200*time.Millisecond || c.Sensors["inventory"]) {
			t.Errorf("full: got %+v", c)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../../configs/agent.yaml")
	if err != nil {
		t.Fatalf("configs/agent.yaml: %v", err)
	}
	if d := Default(); c.Spool.MaxBytes != d.Spool.MaxBytes || c.LogLevel != d.LogLevel {
		t.Errorf("example config %+v does not show the defaults %+v", c, d)
	}
}
