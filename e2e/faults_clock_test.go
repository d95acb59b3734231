package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClockCollector builds, once, the collector with -tags sonevakt_faketime: the
// only build in which SONEVAKT_FAKE_CLOCK_OFFSET shifts its clock (see
// pkg/clock for why a hook in the process, not libfaketime or a time
// namespace).
func fakeClockCollector(t *testing.T) string {
	t.Helper()
	const name = "sonevakt-collector-faketime"
	path := filepath.Join(binDir, name)
	if _, ok := tools.Load(name); !ok {
		if out, err := exec.Command("go", "build", "-tags", "sonevakt_faketime", "-o", path, "../collector/cmd/sonevakt-collector").CombinedOutput(); err != nil {
			t.Fatalf("build the faketime collector: %v: %s", err, out)
		}
		tools.Store(name, path)
	}
	return name
}

// startWith starts the collector from another binary of binDir with env,
// as collector.start does.
func (c *collector) startWith(bin string, env ...string) {
	c.t.Helper()
	args := append([]string{"serve", "--data", c.data, "--agents", c.agents, "--web", c.web}, c.args...)
	c.p = start(c.t, env, bin, args...)
	c.p.waitFor("collector listening", 20*time.Second)
	if c.api == "" {
		c.api = mustRun(c.t, "sonevakt-collector", "apitoken", "create", "--data", c.data, "--role", "revisor", "--name", "e2e")
		pem, err := os.ReadFile(filepath.Join(c.data, "ca", "ca.crt"))
		if err != nil {
			c.t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			c.t.Fatal("ca.crt holds no certificate")
		}
		c.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
}

// TestFakeClockNotInRelease: the clock hook is only in faketime builds.
func TestFakeClockNotInRelease(t *testing.T) {
	for _, bin := range []string{"sonevakt-collector", "sonevakt-agent"} {
		b, err := os.ReadFile(filepath.Join(binDir, bin))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("SONEVAKT_FAKE_CLOCK_OFFSET")) {
			t.Errorf("%s reads SONEVAKT_FAKE_CLOCK_OFFSET: the clock hook is in a release build", bin)
		}
	}
}

// TestFaultCollectorClockOff: a collector whose clock is 3 hours ahead of
// (or behind) its agents makes its CA, enrolls an agent and takes its
// records; then its clock is corrected (restart with the real clock). The
// agent enrolls and keeps connecting throughout (certificates are backdated
// enough: pkg/pki.Backdate); received_at follows the collector's clock,
// observed_at the agent's; facts observed "in the future" of receipt are
// filed at receipt; every acked record is stored once; the standing
// deviations recorded under both clocks are not duplicated.
func TestFaultCollectorClockOff(t *testing.T) {
	bin := fakeClockCollector(t)
	for _, off := range []time.Duration{3 * time.Hour, -3 * time.Hour} {
		t.Run(fmt.Sprint(off), func(t *testing.T) {
			c := newCollector(t)
			c.startWith(bin, "SONEVAKT_FAKE_CLOCK_OFFSET="+off.String())
			c.p.waitFor("FAKE CLOCK", 5*time.Second)

			a := newAgentIn(t, c, filepath.Join(t.TempDir(), "agent"), agentConf(50*time.Millisecond, 0, 0))
			a.start()
			h := c.waitHost(a.id, 30*time.Second, "records and facts", func(h apiHost) bool { return h.MaxSeq >= 10 && h.Facts != nil })
			db := c.store()
			var recv, obs, factsAt int64
			if err := db.QueryRow(`SELECT MAX(received_at), MAX(observed_at) FROM records WHERE agent_id = ?`, a.id).Scan(&recv, &obs); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(`SELECT facts_at FROM hosts WHERE agent_id = ?`, a.id).Scan(&factsAt); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if d := time.Unix(0, recv).Sub(now.Add(off)).Abs(); d > time.Minute {
				t.Errorf("received_at %v: want the collector's clock %v", time.Unix(0, recv), now.Add(off))
			}
			if d := time.Unix(0, obs).Sub(now).Abs(); d > time.Minute {
				t.Errorf("observed_at %v: want the agent's clock %v", time.Unix(0, obs), now)
			}
			if factsAt > recv+int64(5*time.Minute) {
				t.Errorf("facts filed at %v, after their receipt %v", time.Unix(0, factsAt), time.Unix(0, recv))
			}
			c.p.waitFor("agent and collector clocks differ", 10*time.Second)

			// The collector's clock is corrected.
			c.p.kill()
			c.start()
			c.waitHost(a.id, 45*time.Second, "records after the clock was corrected", func(x apiHost) bool {
				return x.MaxSeq > h.MaxSeq+10 && contiguous(x)
			})
			if out := c.p.out.String(); strings.Contains(out, "agent certificate refused") {
				t.Errorf("the corrected collector refused the agent's certificate:\n%s", out)
			}
			c.finalCheck(db, a)
			if by := c.checkNoDuplicateDeviations(db); by["unregistered-host"] != 1 {
				t.Errorf("deviations by rule %v: want one unregistered-host", by)
			}
		})
	}
}
