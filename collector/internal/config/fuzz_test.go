package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzLoad loads arbitrary bytes as the collector's YAML configuration: a
// failure names the file, a success is valid and survives being written out
// as YAML and loaded again unchanged.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile("../../../configs/collector.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("data_dir: /x\nzones_file: zones.yaml\nmedia:\n  mode: block\n"))
	f.Add([]byte("data_dir: /x\nenroll_burst: 5\nenroll_rate: 0.5\nagent_cert_ttl: 10s\n"))
	f.Add([]byte("data_dir: /x\nrules:\n  unknown-media: {severity: high}\ndeviations:\n  due: {high: 14d, low: 72h}\n"))
	f.Add([]byte("data_dir: /x\nnotify:\n  smtp: {addr: \"mail:25\", from: s@k.no}\n  security_officer: {email: isa@k.no, lang: en}\n"))
	f.Add([]byte("data_dir: /x\nsoftware:\n  mode: allowlist\nconfigmap:\n  silent_after: 2h\n"))
	f.Add([]byte("data_dir: /x\nagents_addr: nonsense\n"))
	dir := f.TempDir()
	zones, err := os.ReadFile("../../../configs/zones.yaml")
	if err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zones.yaml"), zones, 0o600); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Files the configuration names are read as they are: keep the
		// fuzzer away from devices that never end.
		for _, s := range []string{"dev", "proc", "sys"} {
			if bytes.Contains(data, []byte(s)) {
				return
			}
		}
		path := filepath.Join(dir, "collector.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c := Default()
		if err := Load(path, &c); err != nil {
			if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "data_dir") {
				// Validate's messages name the key; Load's name the file.
				if !strings.ContainsAny(err.Error(), "_.") {
					t.Fatalf("error names neither the file nor a key: %v", err)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("loaded config does not validate: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("marshal a loaded config: %v", err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		c2 := Default()
		if err := Load(path, &c2); err != nil {
			t.Fatalf("written config does not load: %v\n%s", err, out)
		}
		// Compared as YAML: an empty map and a missing one are the same.
		out2, err := yaml.Marshal(c2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("config changed through YAML (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}
