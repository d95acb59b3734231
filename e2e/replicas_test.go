package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/internal/pgtest"
)

// TestReplicasShareOnePostgreSQL: two collectors on one PostgreSQL database
// behave as one. Each has an agent of its own; both hosts show on both; the
// unregistered-host deviation of each machine opens once although both
// replicas' engines look at it, and is mailed once although both replicas
// dispatch notifications; a browser's event stream on one replica hears of a
// change ingested by the other.
func TestReplicasShareOnePostgreSQL(t *testing.T) {
	dsn := pgtest.DSN(t)
	dir := t.TempDir()
	box, addr, caFile, pwFile := startMailbox(t, dir)

	replica := func(name string) *collector {
		c := newCollector(t)
		c.dsn = dsn
		conf := filepath.Join(dir, name+".yaml")
		body := fmt.Sprintf(`data_dir: %s
notify:
  smtp: {addr: %s, from: sonevakt@kommune.example, username: sonevakt, password_file: %s, ca_file: %s}
  security_officer: {email: isa@kommune.example}
`, c.data, addr, pwFile, caFile)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c.args = append(c.args, "--config", conf)
		return c
	}
	c1 := replica("one")
	c1.start()
	// The second replica shares the first one's CA and evidence key: agents
	// trust either, and the audit checkpoints of both verify with one key.
	c2 := replica("two")
	if out, err := exec.Command("cp", "-a", c1.data, c2.data).CombinedOutput(); err != nil {
		t.Fatalf("copy the data dir: %v: %s", err, out)
	}
	c2.start()

	a1 := newAgent(t, c1, "agent-one")
	a2 := newAgent(t, c2, "agent-two")
	quiet := "log_level: debug\nintervals:\n  health: 200ms\nsensors:\n  media: false\n  traffic: false\n  sockets: false\n"
	for _, a := range []*agent{a1, a2} {
		if err := os.WriteFile(a.conf, []byte(quiet), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// A browser session on replica two, listening for changes.
	events := c2.eventStream(t, c1.adminPassword())

	// Agent one reports to replica one only, and nothing reports to replica
	// two yet: its browser hears of the new host all the same.
	a1.start()
	heard := time.After(30 * time.Second)
	for got := false; !got; {
		select {
		case topics := <-events:
			got = slices.Contains(topics, "hosts")
		case <-heard:
			t.Fatal("replica two's event stream heard nothing of replica one's new host within 30 s")
		}
	}
	a2.start()
	for _, c := range []*collector{c1, c2} {
		for _, a := range []*agent{a1, a2} {
			c.waitHost(a.id, 30*time.Second, "reported, seen on every replica", func(h apiHost) bool { return h.Records > 0 })
		}
	}

	for _, a := range []*agent{a1, a2} {
		dv := c1.waitDeviation("unregistered-host", "host:"+a.id, 40*time.Second)
		mailsAbout(t, box, dv.ID, 1, 20*time.Second)
	}
	// Let both engines and both dispatchers go round a few more times.
	time.Sleep(3 * time.Second)
	for _, c := range []*collector{c1, c2} {
		devs, err := c.deviations("unregistered-host")
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, dv := range devs {
			per[dv.Subject]++
		}
		for _, a := range []*agent{a1, a2} {
			if n := per["host:"+a.id]; n != 1 {
				t.Errorf("replica %s lists %d unregistered-host deviations for %s, want 1: %+v", c.agents, n, a.id, devs)
			}
		}
		for _, dv := range devs {
			mailsAbout(t, box, dv.ID, 1, time.Second)
		}
	}

	// Both replicas appended to one audit chain (enrollments, deviations,
	// deliveries): an evidence bundle taken through one verifies with the
	// other's public key, chain segment and all.
	day := time.Now().In(oslo(t)).Format("2006-01-02")
	bundle := filepath.Join(dir, "evidence.zip")
	mustRun(t, "sonevakt-collector", append([]string{"evidence", "export", "--data", c1.data, "--from", day, "--to", day, "--out", bundle}, c1.storeArgs()...)...)
	pub := filepath.Join(dir, "pub.pem")
	mustRun(t, "sonevakt-collector", append([]string{"evidence", "pubkey", "--data", c2.data, "--out", pub}, c2.storeArgs()...)...)
	if out, errOut, code := runCmd(t, "sonevakt-collector", "evidence", "verify", "--pubkey", pub, bundle); code != 0 {
		t.Errorf("evidence verify = exit %d:\n%s\n%s", code, out, errOut)
	}
}

func oslo(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// eventStream logs in as admin and opens GET /events; it returns the topics
// of each change event (events the reader is too slow for are dropped).
func (c *collector) eventStream(t *testing.T, password string) <-chan []string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Transport: c.client.Transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "https://" + c.web
	resp, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	u, _ := url.Parse(base + "/login") // the pre-login cookie's path
	var csrf string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "sv_login" { // the login form's CSRF token, bound to this cookie
			csrf = ck.Value
		}
	}
	if csrf == "" {
		t.Fatalf("GET /login set no pre-login cookie: %v", jar.Cookies(u))
	}
	resp, err = hc.PostForm(base+"/login", url.Values{"username": {"admin"}, "password": {password}, "csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("POST /login: %s, want a redirect", resp.Status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
	stream := &http.Client{Jar: jar, Transport: c.client.Transport}
	resp, err = stream.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET /events: %s", resp.Status)
	}
	out := make(chan []string, 16)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "change":
				var topics []string
				for _, f := range strings.FieldsFunc(strings.TrimPrefix(line, "data: "), func(r rune) bool {
					return r == ',' || r == '"' || r == '[' || r == ']' || r == ' ' || r == '{' || r == '}' || r == ':'
				}) {
					topics = append(topics, f)
				}
				select {
				case out <- topics:
				default:
				}
			case line == "":
				event = ""
			}
		}
	}()
	return out
}
