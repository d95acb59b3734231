package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEnrollAtStart is the silent install's path: "run" with --collector and
// --token (or SONEVAKT_COLLECTOR/SONEVAKT_TOKEN, from agent.env or the MSI's
// properties) enrolls an empty data dir first, then runs; with an identity it
// ignores them. The token is never logged.
func TestEnrollAtStart(t *testing.T) {
	c := newCollector(t)
	c.start()
	conf := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(conf, []byte("log_level: debug\nintervals:\n  health: 100ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agentID := regexp.MustCompile(`msg=enrolled agent=(\S+)`)

	// Flags.
	data := filepath.Join(t.TempDir(), "flags")
	tok := c.token()
	p := start(t, nil, "sonevakt-agent", "run", "--data", data, "--config", conf, "--collector", c.agents, "--token", tok)
	m := agentID.FindStringSubmatch(p.waitFor("msg=enrolled", 30*time.Second))
	if m == nil {
		t.Fatalf("no agent id in the log:\n%s", p.out.String())
	}
	p.waitFor("agent started", 10*time.Second)
	c.waitHost(m[1], 20*time.Second, "host arrives", func(h apiHost) bool { return h.Records > 0 })
	p.stop()
	if out := p.out.String(); strings.Contains(out, tok) || strings.Contains(out, strings.Split(tok, ".")[2]) {
		t.Errorf("the agent logged its token:\n%s", out)
	}

	// With an identity, a (spent, here bogus) token is ignored.
	p = start(t, []string{"SONEVAKT_COLLECTOR=" + c.agents, "SONEVAKT_TOKEN=not-a-token"}, "sonevakt-agent", "run", "--data", data, "--config", conf)
	p.waitFor("agent started", 10*time.Second)
	p.stop()
	if strings.Contains(p.out.String(), "enrolling") {
		t.Errorf("an enrolled agent enrolled again:\n%s", p.out.String())
	}

	// The environment, as /etc/sonevakt/agent.env gives it under systemd.
	data2 := filepath.Join(t.TempDir(), "env")
	tok2 := c.token()
	p = start(t, []string{"SONEVAKT_COLLECTOR=" + c.agents, "SONEVAKT_TOKEN=" + tok2}, "sonevakt-agent", "run", "--data", data2, "--config", conf)
	m = agentID.FindStringSubmatch(p.waitFor("msg=enrolled", 30*time.Second))
	if m == nil {
		t.Fatalf("no agent id in the log:\n%s", p.out.String())
	}
	c.waitHost(m[1], 20*time.Second, "host arrives", func(h apiHost) bool { return h.Records > 0 })
	p.stop()
	if strings.Contains(p.out.String(), strings.Split(tok2, ".")[2]) {
		t.Errorf("the agent logged its token:\n%s", p.out.String())
	}

	// Half the settings is a usage error naming both.
	_, errs, code := runCmd(t, "sonevakt-agent", "run", "--data", filepath.Join(t.TempDir(), "half"), "--collector", c.agents)
	if code != 2 || !strings.Contains(errs, "needs both --collector") {
		t.Errorf("run with --collector alone: exit %d\n%s", code, errs)
	}
}
