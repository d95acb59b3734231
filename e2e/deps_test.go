package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryDependencies keeps the binaries' rooms apart: the agent links no SQL
// driver and no web code; the collector links no packet capture or host probing.
func TestBinaryDependencies(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"../agent/cmd/sonevakt-agent", []string{"database/sql", "modernc.org/sqlite", "github.com/jackc/pgx", "net/http", "html/template", "github.com/sonevakt/sonevakt/collector/"}},
		{"../collector/cmd/sonevakt-collector", []string{"github.com/gopacket/gopacket", "github.com/google/gopacket", "github.com/shirou/gopsutil", "github.com/sonevakt/sonevakt/agent/"}},
	} {
		for _, goos := range []string{"linux", "windows"} {
			cmd := exec.Command("go", "list", "-deps", tc.pkg)
			cmd.Env = append(cmd.Environ(), "GOOS="+goos)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", tc.pkg, err)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 20 {
				t.Fatalf("go list -deps %s listed only %d packages", tc.pkg, len(deps))
			}
			for _, d := range deps {
				for _, f := range tc.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) {
						t.Errorf("%s (GOOS=%s) links %s", tc.pkg, goos, d)
					}
				}
			}
		}
	}
}
