package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TestEnrollRefusals: each bad token is refused with a message naming the cause.
func TestEnrollRefusals(t *testing.T) {
	c := newCollector(t)
	c.start()

	enroll := func(token string) (string, int) {
		_, errs, code := runCmd(t, "sonevakt-agent", "enroll", "--collector", c.agents, "--token", token, "--data", filepath.Join(t.TempDir(), "a"))
		return errs, code
	}

	// A wrong CA pin: a token of this collector with another pin.
	tok, err := wire.ParseToken(c.token())
	if err != nil {
		t.Fatal(err)
	}
	wrong := tok
	wrong.Pin = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if errs, code := enroll(wrong.String()); code != 1 || !strings.Contains(errs, "pin") {
		t.Errorf("wrong pin: exit %d, %q; want exit 1 naming the pin", code, errs)
	}
	// The token was not used by the refused attempt above.
	if errs, code := enroll(tok.String()); code != 0 {
		t.Errorf("good token after a wrong-pin attempt: exit %d, %q", code, errs)
	}
	// Used up: single-use token, second use.
	if errs, code := enroll(tok.String()); code != 1 || !strings.Contains(errs, "no uses left") {
		t.Errorf("used-up token: exit %d, %q; want 'no uses left'", code, errs)
	}
	// Expired.
	short := c.token("--ttl", "1ms")
	time.Sleep(20 * time.Millisecond)
	if errs, code := enroll(short); code != 1 || !strings.Contains(errs, "expired") {
		t.Errorf("expired token: exit %d, %q; want 'expired'", code, errs)
	}
	// Wrong secret.
	bad := tok
	bad.Secret = strings.Repeat("B", 43)
	if errs, code := enroll(bad.String()); code != 1 || !strings.Contains(errs, "wrong secret") {
		t.Errorf("wrong secret: exit %d, %q", code, errs)
	}
	// Malformed token: a usage error.
	if errs, code := enroll("svt1.nope"); code != 2 || !strings.Contains(errs, "token") {
		t.Errorf("malformed token: exit %d, %q; want exit 2", code, errs)
	}
}

// TestRevokedAgent: a revoked agent is refused at its next connection with its
// own code and says so.
func TestRevokedAgent(t *testing.T) {
	c := newCollector(t)
	c.start()
	a := newAgent(t, c, "agent")
	mustRun(t, "sonevakt-collector", "agent", "revoke", "--data", c.data, a.id)
	a.start()
	a.p.waitFor("revoked", 15*time.Second)
	c.p.waitFor("agent refused", 5*time.Second)
	if h, err := c.hosts(); err != nil || len(h) != 1 || !h[0].Revoked {
		t.Errorf("hosts = %+v, %v; want one revoked host", h, err)
	}
}

// TestUsage: usage errors exit 2 with a message, --help exits 0.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		bin  string
		args []string
		code int
	}{
		{"sonevakt-agent", nil, 2},
		{"sonevakt-agent", []string{"enroll"}, 2},
		{"sonevakt-agent", []string{"run", "--bogus"}, 2},
		{"sonevakt-agent", []string{"--help"}, 0},
		{"sonevakt-agent", []string{"run", "--help"}, 0},
		{"sonevakt-collector", []string{"serve"}, 2},
		{"sonevakt-collector", []string{"apitoken", "create", "--data", t.TempDir(), "--role", "king"}, 2},
		{"sonevakt-collector", []string{"frobnicate"}, 2},
		{"sonevakt-collector", []string{"token", "create", "--help"}, 0},
		{"sonevakt-agent", []string{"run", "--data", filepath.Join(t.TempDir(), "none")}, 1},
	} {
		out, errs, code := runCmd(t, tc.bin, tc.args...)
		if code != tc.code {
			t.Errorf("%s %v: exit %d, want %d\n%s%s", tc.bin, tc.args, code, tc.code, out, errs)
		}
		if code == 2 && strings.TrimSpace(errs) == "" {
			t.Errorf("%s %v: usage error without a message", tc.bin, tc.args)
		}
	}
	// A broken agent config is refused naming file and line.
	conf := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(conf, []byte("log_level: info\nspool:\n  bytes: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCmd(t, "sonevakt-agent", "run", "--data", t.TempDir(), "--config", conf)
	if code != 1 || !strings.Contains(errs, conf) || !strings.Contains(errs, "line 3") {
		t.Errorf("bad config: exit %d, %q; want the file and line 3", code, errs)
	}
}
