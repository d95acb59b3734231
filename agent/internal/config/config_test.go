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
		{"guard", "guard:\n  cpu_percent: 2.5\n  sensor_cpu_percent: 1\n  memory_mb: 0\n  window: 10s\n  max_slowdown: 1\n", ""},
		{"guard negative cpu", "guard:\n  cpu_percent: -1\n", "guard.cpu_percent"},
		{"guard negative sensor cpu", "guard:\n  sensor_cpu_percent: -1\n", "guard.sensor_cpu_percent"},
		{"guard tiny memory", "guard:\n  memory_mb: 4\n", "guard.memory_mb"},
		{"guard short window", "guard:\n  window: 10ms\n", "guard.window"},
		{"guard no slowdown", "guard:\n  max_slowdown: 0\n", "guard.max_slowdown"},
		{"guard unknown key", "guard:\n  cpu: 5\n", "line 2"},
		{"guard bad type", "guard:\n  memory_mb: much\n", "line 2"},
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
		if want := (Guard{CPUPercent: 2.5, SensorCPUPercent: 1, Window: 10 * time.Second, MaxSlowdown: 1}); tt.name == "guard" && c.Guard != want {
			t.Errorf("guard: got %+v, want %+v", c.Guard, want)
		}
		if tt.name == "empty" && c.Guard != Default().Guard {
			t.Errorf("empty: guard %+v, want the defaults %+v", c.Guard, Default().Guard)
		}
	}
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../../configs/agent.yaml")
	if err != nil {
		t.Fatalf("configs/agent.yaml: %v", err)
	}
	if d := Default(); c.Spool.MaxBytes != d.Spool.MaxBytes || c.LogLevel != d.LogLevel || c.Guard != d.Guard {
		t.Errorf("example config %+v does not show the defaults %+v", c, d)
	}
}
