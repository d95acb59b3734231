package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// startIn starts a binary inside a network namespace (ip netns exec execs
// it, so the process is the binary itself and SIGKILL reaches it).
func startIn(t testing.TB, ns, bin string, args ...string) *proc {
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
			t.Logf("--- output of %s %v (netns %s):\n%s", bin, args, ns, p.out.String())
		}
	})
	return p
}

// newAgentInNS enrolls an agent from inside the namespace.
func newAgentInNS(t testing.TB, c *collector, ns string, conf string) *agent {
	t.Helper()
	a := &agent{t: t, data: filepath.Join(t.TempDir(), "agent")}
	out, err := exec.Command("ip", "netns", "exec", ns, filepath.Join(binDir, "sonevakt-agent"), "enroll",
		"--collector", c.agents, "--token", c.token(), "--data", a.data).CombinedOutput()
	if err != nil {
		t.Fatalf("enroll in %s: %v: %s", ns, err, out)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "enrolled as agent %s", &a.id); err != nil {
		t.Fatalf("enroll output %q: %v", out, err)
	}
	a.conf = filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(a.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// impairer degrades the link of a segment: with tc netem where the kernel
// has sch_netem (loss and delay, both directions), else with nftables in
// the namespace (loss only: nftables cannot delay).
type impairer struct {
	t     testing.TB
	s     *segment
	netem bool
}

// newImpairer finds out whether netem works here. A kernel without
// sch_netem leaves only nftables; when the module exists (loaded or on
// disk) but netem cannot be set up, the test fails under CI=true.
func newImpairer(t testing.TB, s *segment) *impairer {
	t.Helper()
	im := &impairer{t: t, s: s}
	if _, err := exec.LookPath("tc"); err != nil {
		fail := t.Skipf
		if os.Getenv("CI") == "true" {
			fail = t.Fatalf
		}
		fail("tc not installed (iproute2; scripts/test-deps.sh installs it)")
	}
	if _, err := exec.LookPath("modprobe"); err == nil {
		_ = exec.Command("modprobe", "sch_netem").Run()
	}
	out, err := exec.Command("tc", "qdisc", "add", "dev", s.Link, "root", "netem", "delay", "0ms").CombinedOutput()
	if err == nil {
		_ = exec.Command("tc", "qdisc", "del", "dev", s.Link, "root").Run()
		im.netem = true
		return im
	}
	if netemModule() && os.Getenv("CI") == "true" {
		t.Fatalf("the kernel has sch_netem but tc netem fails: %v: %s", err, out)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skipf("no tc netem (%s) and no nft: cannot impair the link", strings.TrimSpace(string(out)))
	}
	t.Logf("tc netem unavailable (%s; kernel without sch_netem): impairing with nftables, loss only, no delay", strings.TrimSpace(string(out)))
	return im
}

// netemModule reports whether the running kernel has sch_netem, loaded or
// as a module file.
func netemModule() bool {
	if _, err := os.Stat("/sys/module/sch_netem"); err == nil {
		return true
	}
	rel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return false
	}
	found := false
	_ = filepath.WalkDir(filepath.Join("/lib/modules", strings.TrimSpace(string(rel)), "kernel", "net", "sched"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "sch_netem.ko") {
			found = true
		}
		return nil
	})
	return found
}

// set applies loss (percent) and delay on both directions of the link;
// loss 0 and delay 0 clear it.
func (im *impairer) set(loss int, delay time.Duration) {
	im.t.Helper()
	im.clear()
	if loss == 0 && delay == 0 {
		return
	}
	if im.netem {
		args := []string{"delay", fmt.Sprintf("%dms", delay.Milliseconds())}
		if loss > 0 {
			args = append(args, "loss", fmt.Sprintf("%d%%", loss))
		}
		for _, pre := range [][]string{{"qdisc", "add", "dev", im.s.Link}, {"-n", im.s.NS, "qdisc", "add", "dev", im.s.PeerLink}} {
			cmd := slices.Concat(pre, []string{"root", "netem"}, args)
			if out, err := exec.Command("tc", cmd...).CombinedOutput(); err != nil {
				im.t.Fatalf("tc %v: %v: %s", cmd, err, out)
			}
		}
		return
	}
	if delay > 0 {
		im.t.Logf("no netem: the %v delay is not applied", delay)
	}
	rule := "drop"
	if loss < 100 {
		rule = fmt.Sprintf("numgen random mod 100 < %d drop", loss)
	}
	script := fmt.Sprintf(`table inet svfault {
	chain in { type filter hook input priority -10; policy accept; iifname %q %s; }
	chain out { type filter hook output priority -10; policy accept; oifname %q %s; }
}
`, im.s.PeerLink, rule, im.s.PeerLink, rule)
	cmd := exec.Command("ip", "netns", "exec", im.s.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		im.t.Fatalf("nft in %s: %v: %s\n%s", im.s.NS, err, out, script)
	}
}

// clear removes every impairment.
func (im *impairer) clear() {
	_ = exec.Command("tc", "qdisc", "del", "dev", im.s.Link, "root").Run()
	_ = exec.Command("tc", "-n", im.s.NS, "qdisc", "del", "dev", im.s.PeerLink, "root").Run()
	_ = exec.Command("ip", "netns", "exec", im.s.NS, "nft", "delete", "table", "inet", "svfault").Run()
}

// TestFaultNetworkPartitionAndLoss: an agent in a network namespace reports
// to a collector across a veth link. A partition (100 % loss both ways)
// stops delivery; the agent keeps spooling and delivers everything once the
// link heals. Then, under 200 ms delay and 10 % loss (loss only where the
// kernel lacks netem), records still arrive. Every acked record is stored
// once; no duplicate deviations.
func TestFaultNetworkPartitionAndLoss(t *testing.T) {
	seg := newSegment(t, "10.251.1.1", "10.251.2.1")
	im := newImpairer(t, seg)
	t.Cleanup(im.clear)
	c := newCollector(t)
	c.agents = fmt.Sprintf("%s:%d", seg.Host, freePort(t))
	c.start()
	a := newAgentInNS(t, c, seg.NS, agentConf(50*time.Millisecond, 0, 0))
	a.p = startIn(t, seg.NS, "sonevakt-agent", "run", "--data", a.data, "--config", a.conf)
	a.p.waitFor("agent started", 15*time.Second)
	h := c.waitHost(a.id, 30*time.Second, "first records", func(h apiHost) bool { return h.MaxSeq >= 5 })

	// Partition: after what was in flight, nothing more arrives.
	im.set(100, 0)
	start := time.Now()
	time.Sleep(time.Second)
	cut := c.waitHost(a.id, 10*time.Second, "any", func(apiHost) bool { return true }).MaxSeq
	time.Sleep(3 * time.Second)
	if h2 := c.waitHost(a.id, 10*time.Second, "any", func(apiHost) bool { return true }); h2.MaxSeq != cut {
		t.Fatalf("records arrived through the partition: max seq %d, then %d", cut, h2.MaxSeq)
	}
	spooled := uint64(time.Since(start) / (50 * time.Millisecond) / 2) // at least half the health records of the partition
	im.set(0, 0)
	healed := c.waitHost(a.id, 50*time.Second, "the records spooled through the partition", func(h apiHost) bool {
		return h.MaxSeq > cut+spooled && contiguous(h)
	})
	t.Logf("partition: store stopped at seq %d (first records up to %d), after healing %d in %v", cut, h.MaxSeq, healed.MaxSeq, time.Since(start).Round(time.Millisecond))

	// Latency and loss: records keep arriving, all of them.
	im.set(10, 200*time.Millisecond)
	start = time.Now()
	lossy := c.waitHost(a.id, 50*time.Second, "records under delay and loss", func(h apiHost) bool {
		return h.MaxSeq > healed.MaxSeq+40 && contiguous(h)
	})
	t.Logf("delay 200ms + loss 10%% (netem %v): %d more records in %v", im.netem, lossy.MaxSeq-healed.MaxSeq, time.Since(start).Round(time.Millisecond))
	im.set(0, 0)

	db := c.store()
	c.finalCheck(db, a)
	c.checkNoDuplicateDeviations(db)
}
