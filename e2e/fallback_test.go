package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startInNS starts a binary inside a network namespace (ip netns exec execs
// it, so the process is the binary itself and SIGKILL reaches it).
func startInNS(t testing.TB, ns, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: bin, out: &logBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(binDir, bin)}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", bin, ns, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s %v in %s:\n%s", bin, args, ns, p.out.String())
		}
	})
	return p
}

// nftInNS applies an nftables script inside the namespace.
func nftInNS(t testing.TB, ns, script string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in %s: %v: %s\n%s", ns, err, out, script)
	}
}

var nftPackets = regexp.MustCompile(`counter packets (\d+)`)

// TestUDPBlockedFallsBackToTCP: with UDP to the collector dropped by
// nftables in the agent's network namespace, enrollment and delivery go over
// TLS on TCP on the same port; once the block is lifted the agent's probe
// finds QUIC again and it moves back, and records keep arriving. At the end
// every record the agent committed is stored exactly once.
func TestUDPBlockedFallsBackToTCP(t *testing.T) {
	seg := newSegment(t, "10.241.1.1", "10.241.2.2")
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if _, err := exec.LookPath("nft"); err != nil {
		fail("nft not installed (nftables; scripts/test-deps.sh installs it)")
	}
	c := newCollector(t)
	port := freePort(t)
	c.agents = fmt.Sprintf("%s:%d", seg.Host, port)
	c.start()

	// Drop every UDP datagram from the collector's port, counting them: the
	// agent's QUIC handshakes get no answer, as behind a firewall on the path
	// that drops UDP silently.
	const table = "sonevakt_e2e_fallback"
	block := func(hook, match string) {
		nftInNS(t, seg.NS, fmt.Sprintf(`table inet %s {
	chain c {
		type filter hook %s priority 0; policy accept;
		%s counter drop
	}
}
`, table, hook, match))
	}
	unblock := func() { nftInNS(t, seg.NS, "delete table inet "+table+"\n") }
	dropped := func() int {
		out, err := exec.Command("ip", "netns", "exec", seg.NS, "nft", "list", "table", "inet", table).CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v: %s", err, out)
		}
		m := nftPackets.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("no counter in %s", out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	block("input", fmt.Sprintf("ip saddr %s udp sport %d", seg.Host, port))

	// Enrollment, CA discovery included, over TCP.
	data := filepath.Join(t.TempDir(), "agent")
	t0 := time.Now()
	out, err := exec.Command("ip", "netns", "exec", seg.NS, filepath.Join(binDir, "sonevakt-agent"),
		"enroll", "--collector", c.agents, "--token", c.token(), "--data", data).CombinedOutput()
	if err != nil {
		t.Fatalf("enroll with UDP blocked: %v\n%s", err, out)
	}
	a := &agent{t: t, data: data}
	if _, err := fmt.Sscanf(string(out), "enrolled as agent %s", &a.id); err != nil {
		t.Fatalf("enroll output %q: %v", out, err)
	}
	if n := dropped(); n == 0 {
		t.Fatal("enrollment dropped no UDP packet: it did not try QUIC, or the block is not in effect")
	}
	t.Logf("enrolled over TLS/TCP with UDP blocked in %v (%d UDP packets dropped)", time.Since(t0).Round(time.Millisecond), dropped())

	a.conf = filepath.Join(t.TempDir(), "agent.yaml")
	conf := "log_level: debug\nintervals:\n  health: 100ms\nuplink:\n  quic_timeout: 1s\n  quic_probe: 3s\n"
	if err := os.WriteFile(a.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	a.p = startInNS(t, seg.NS, "sonevakt-agent", "run", "--data", a.data, "--config", a.conf)
	a.p.waitFor("agent started", 10*time.Second)
	if l := a.p.waitFor("connected to collector", 30*time.Second); !strings.Contains(l, "transport=tcp") {
		t.Fatalf("first connection %q, want over tcp", l)
	}
	a.p.waitFor("using TLS over TCP", time.Second)
	h := c.waitHost(a.id, 30*time.Second, "records over TCP", func(h apiHost) bool { return h.MaxSeq >= 10 })
	if l := c.p.waitFor("agent connected", 10*time.Second); !strings.Contains(l, "transport=tcp") {
		t.Errorf("collector saw the agent connect as %q, want over tcp", l)
	}
	t.Logf("over TCP: %d records stored", h.Records)

	// Lift the block: the next probe (every 3 s, jittered) finds QUIC.
	unblock()
	backOnQUIC := func(n int) {
		t.Helper()
		lifted := time.Now()
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(a.p.out.String(), "collector answers over QUIC again") < n ||
			strings.Count(a.p.out.String(), "transport=quic") < n {
			if time.Now().After(deadline) {
				t.Fatalf("agent did not move back to QUIC after the block was lifted:\n%s", a.p.out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("back on QUIC %v after the block was lifted", time.Since(lifted).Round(time.Millisecond))
		before := c.waitHost(a.id, 10*time.Second, "host", func(apiHost) bool { return true }).MaxSeq
		c.waitHost(a.id, 30*time.Second, "records over QUIC", func(h apiHost) bool { return h.MaxSeq >= before+10 })
	}
	backOnQUIC(1)

	// Block UDP again while connected, now on the agent's own output (a local
	// firewall: sending fails with EPERM): the agent loses QUIC, falls back
	// to TCP, and returns once the block is lifted.
	block("output", fmt.Sprintf("ip daddr %s udp dport %d", seg.Host, port))
	t1 := time.Now()
	deadline := time.Now().Add(40 * time.Second)
	for strings.Count(a.p.out.String(), "using TLS over TCP") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("agent did not fall back to TCP when UDP was blocked while connected:\n%s", a.p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("on TCP again %v after UDP was blocked mid-session", time.Since(t1).Round(time.Millisecond))
	before := c.waitHost(a.id, 10*time.Second, "host", func(apiHost) bool { return true }).MaxSeq
	c.waitHost(a.id, 30*time.Second, "records over TCP again", func(h apiHost) bool { return h.MaxSeq >= before+10 })
	unblock()
	backOnQUIC(2)

	a.p.stop()
	st := a.status()
	h = c.waitHost(a.id, 15*time.Second, "every committed record, each once", func(h apiHost) bool {
		return h.MaxSeq >= st.Spool.Committed && contiguous(h)
	})
	t.Logf("agent committed %d of %d records; collector holds %d, seq %d..%d", st.Spool.Committed, st.Spool.NextSeq-1, h.Records, h.MinSeq, h.MaxSeq)
	if strings.Contains(a.p.out.String(), "level=ERROR") {
		t.Errorf("agent logged errors:\n%s", a.p.out.String())
	}
}
