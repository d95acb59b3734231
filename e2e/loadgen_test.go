package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	loadgenOnce sync.Once
	loadgenErr  error
)

// buildLoadgen builds sonevakt-loadgen next to the other binaries.
func buildLoadgen(t *testing.T) string {
	t.Helper()
	loadgenOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "../agent/cmd/sonevakt-loadgen").CombinedOutput()
		if err != nil {
			loadgenErr = err
			t.Logf("%s", out)
		}
	})
	if loadgenErr != nil {
		t.Fatalf("build sonevakt-loadgen: %v", loadgenErr)
	}
	return "sonevakt-loadgen"
}

type loadgenSummary struct {
	Enrolled, EnrolledNew, EnrollFailed int
	Sent, Acked, Lost, SpoolLeft        uint64
	Dropped, Refused, Restarts          uint64
	AckP99                              float64
	OK                                  bool
	Problems                            []string
}

func (s *loadgenSummary) UnmarshalJSON(b []byte) error {
	var m struct {
		Enrolled     int      `json:"enrolled"`
		EnrolledNew  int      `json:"enrolled_new"`
		EnrollFailed int      `json:"enroll_failed"`
		Sent         uint64   `json:"sent"`
		Acked        uint64   `json:"acked"`
		Lost         uint64   `json:"lost"`
		SpoolLeft    uint64   `json:"spool_left"`
		Dropped      uint64   `json:"dropped"`
		Refused      uint64   `json:"refused"`
		Restarts     uint64   `json:"restarts"`
		AckP99       float64  `json:"ack_p99_ms"`
		OK           bool     `json:"ok"`
		Problems     []string `json:"problems"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*s = loadgenSummary{m.Enrolled, m.EnrolledNew, m.EnrollFailed, m.Sent, m.Acked, m.Lost, m.SpoolLeft, m.Dropped, m.Refused, m.Restarts, m.AckP99, m.OK, m.Problems}
	return nil
}

// ackedLine is one agent of --acked-out.
type ackedLine struct {
	agent                  string
	first, last, committed uint64
}

func readAcked(t *testing.T, path string) []ackedLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ackedLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if len(p) != 4 {
			t.Fatalf("%s: line %q: want 4 fields", path, sc.Text())
		}
		var l ackedLine
		l.agent = p[0]
		for i, dst := range []*uint64{&l.first, &l.last, &l.committed} {
			if *dst, err = strconv.ParseUint(p[i+1], 10, 64); err != nil {
				t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
			}
		}
		out = append(out, l)
	}
	return out
}

// TestLoadgen runs a small real load: 50 simulated agents (real identity,
// spool and uplink) enroll with one token, report for a few seconds, then
// restart in turns (churn, reopening identity and spool from disk). Every
// record the loadgen spooled must be acked and stored exactly once, and the
// agents must look like distinct machines.
func TestLoadgen(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	bin := buildLoadgen(t)
	const n = 50
	c := newCollector(t)
	conf := filepath.Join(t.TempDir(), "collector.yaml")
	// All simulated agents enroll from 127.0.0.1: lift the per-address limit.
	if err := os.WriteFile(conf, []byte("enroll_burst: 1000\nenroll_rate: 100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.args = []string{"--config", conf}
	c.start()
	tok := c.token("--uses", strconv.Itoa(n))
	dir := t.TempDir()

	runLoad := func(mode string, extra ...string) loadgenSummary {
		t.Helper()
		acked := filepath.Join(t.TempDir(), "acked.tsv")
		args := append([]string{"--collector", c.agents, "--token", tok, "--agents", strconv.Itoa(n), "--mode", mode,
			"--duration", "8s", "--rate", "3", "--dir", dir, "--json", "--acked-out", acked, "--drain", "60s"}, extra...)
		out, errs, code := runCmd(t, bin, args...)
		var s loadgenSummary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("loadgen %s: summary %q: %v\nstderr: %s", mode, out, err, errs)
		}
		t.Logf("loadgen %s: %+v", mode, s)
		if code != 0 || !s.OK {
			t.Fatalf("loadgen %s: exit %d, ok %v, problems %v\nstderr: %s", mode, code, s.OK, s.Problems, errs)
		}
		if s.Enrolled != n || s.EnrollFailed != 0 {
			t.Errorf("loadgen %s: enrolled %d, failed %d; want %d, 0", mode, s.Enrolled, s.EnrollFailed, n)
		}
		if s.Sent == 0 || s.Acked != s.Sent || s.Lost != 0 || s.SpoolLeft != 0 || s.Dropped != 0 || s.Refused != 0 {
			t.Errorf("loadgen %s: sent %d acked %d lost %d left %d dropped %d refused %d", mode, s.Sent, s.Acked, s.Lost, s.SpoolLeft, s.Dropped, s.Refused)
		}
		// Compare with what the collector stored.
		lines := readAcked(t, acked)
		if len(lines) != n {
			t.Fatalf("acked-out has %d agents, want %d", len(lines), n)
		}
		hs, err := c.hosts()
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]apiHost{}
		for _, h := range hs {
			byID[h.AgentID] = h
		}
		for _, l := range lines {
			h, ok := byID[l.agent]
			switch {
			case !ok:
				t.Errorf("agent %s: not on the collector", l.agent)
			case l.committed != l.last || l.last == 0:
				t.Errorf("agent %s: committed %d of %d", l.agent, l.committed, l.last)
			case !contiguous(h) || h.MaxSeq != l.last:
				t.Errorf("agent %s: collector holds %d records, seq %d..%d; loadgen spooled up to %d", l.agent, h.Records, h.MinSeq, h.MaxSeq, l.last)
			}
		}
		return s
	}

	s := runLoad("steady")
	if s.EnrolledNew != n {
		t.Errorf("first run enrolled %d new agents, want %d", s.EnrolledNew, n)
	}
	hs, err := c.hosts()
	if err != nil {
		t.Fatal(err)
	}
	names, macs := map[string]bool{}, map[string]bool{}
	for _, h := range hs {
		if h.Facts == nil {
			t.Errorf("agent %s: no host facts", h.AgentID)
			continue
		}
		names[h.Facts.Hostname] = true
		for _, i := range h.Facts.Interfaces {
			if i.MAC != "" {
				macs[i.MAC] = true
			}
		}
	}
	if len(names) != n || len(macs) < n {
		t.Errorf("%d distinct hostnames and %d MACs over %d agents", len(names), len(macs), n)
	}

	// Churn reuses the identities on disk: nobody enrolls again.
	s = runLoad("churn", "--churn", "0.2", "--churn-every", "2s", "--churn-down", "500ms")
	if s.EnrolledNew != 0 || s.Restarts == 0 {
		t.Errorf("churn: %d new enrollments, %d restarts; want 0 and some", s.EnrolledNew, s.Restarts)
	}
}
