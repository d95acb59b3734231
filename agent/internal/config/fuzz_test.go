package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzLoad loads arbitrary bytes as the agent's YAML configuration: a
// failure names the file, a success is valid and survives being written out
// as YAML and loaded again unchanged.
func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile("../../../configs/agent.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("log_level: debug\nspool:\n  max_bytes: 1048576\nintervals:\n  health: 50ms\n  inventory: 1s\n"))
	f.Add([]byte("collector: \"c:7443\"\nsensors: {media: false}\n"))
	f.Add([]byte("unknown_key: 1\n"))
	f.Add([]byte("spool: {max_bytes: -1}\n"))
	f.Add([]byte("log_level: [a, b]\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "agent.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
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
		c2 := Default()
		if err := Parse(out, &c2); err != nil {
			t.Fatalf("written config does not load: %v\n%s", err, out)
		}
		// Compared as YAML: an empty map and a missing one are the same.
		out2, err := yaml.Marshal(c2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("config changed through YAML (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}
