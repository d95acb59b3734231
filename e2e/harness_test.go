// Package e2e runs the real binaries over real sockets: a collector on free
// ports with its data in t.TempDir(), agents enrolled into it, the HTTPS API
// read with the collector's CA. Processes are killed with SIGKILL where a test
// says so.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binDir string

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		// A helper run inside a network namespace by a test (netns_test.go).
		os.Exit(runHelper(mode, os.Args[len(os.Args)-1]))
	}
	dir, err := os.MkdirTemp("", "sonevakt-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "../agent/cmd/sonevakt-agent", "../collector/cmd/sonevakt-collector")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// logBuf is a concurrency-safe output sink that can be waited on.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a running binary.
type proc struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	out  *logBuf
	done chan struct{}
}

func start(t testing.TB, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: bin, out: &logBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, bin), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s %v:\n%s", bin, args, p.out.String())
		}
	})
	return p
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to 15 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.t.Errorf("%s did not stop within 15 s of SIGTERM", p.name)
		p.kill()
	}
}

// waitFor waits until the output contains s and returns the line holding it.
func (p *proc) waitFor(s string, d time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), s) {
				return sc.Text()
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("%s exited while waiting for %q:\n%s", p.name, s, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s: no %q within %v:\n%s", p.name, s, d, p.out.String())
	return ""
}

// runCmd runs a binary to completion and returns stdout, stderr and the exit code.
func runCmd(t testing.TB, bin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return out.String(), errb.String(), code
}

func mustRun(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, errs, code := runCmd(t, bin, args...)
	if code != 0 {
		t.Fatalf("%s %v: exit %d\n%s%s", bin, args, code, out, errs)
	}
	return strings.TrimSpace(out)
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// collector is a collector under test.
type collector struct {
	t      testing.TB
	data   string
	agents string
	web    string
	p      *proc
	api    string   // bearer token
	args   []string // extra serve arguments
	dsn    string   // the store, when not SQLite in the data dir (--store)
	client *http.Client
}

func newCollector(t testing.TB) *collector {
	c := &collector{t: t, data: filepath.Join(t.TempDir(), "collector")}
	c.agents = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.web = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return c
}

func (c *collector) start(env ...string) {
	c.t.Helper()
	args := append([]string{"serve", "--data", c.data, "--agents", c.agents, "--web", c.web}, c.storeArgs()...)
	args = append(args, c.args...)
	c.p = start(c.t, env, "sonevakt-collector", args...)
	c.p.waitFor("collector listening", 20*time.Second)
	if c.api == "" {
		c.api = mustRun(c.t, "sonevakt-collector", append([]string{"apitoken", "create", "--data", c.data, "--role", "revisor", "--name", "e2e"}, c.storeArgs()...)...)
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

func (c *collector) token(args ...string) string {
	c.t.Helper()
	return mustRun(c.t, "sonevakt-collector", append(append([]string{"token", "create", "--data", c.data}, c.storeArgs()...), args...)...)
}

// storeArgs is the --store flag for the collector's commands, if any.
func (c *collector) storeArgs() []string {
	if c.dsn == "" {
		return nil
	}
	return []string{"--store", c.dsn}
}

type apiHost struct {
	AgentID  string `json:"agent_id"`
	Hostname string `json:"hostname"`
	Revoked  bool   `json:"revoked"`
	Records  int64  `json:"records"`
	MinSeq   uint64 `json:"min_seq"`
	MaxSeq   uint64 `json:"max_seq"`
	Facts    *struct {
		Hostname   string `json:"hostname"`
		Interfaces []struct {
			Name string `json:"name"`
			MAC  string `json:"mac"`
		} `json:"interfaces"`
	} `json:"facts"`
}

func (c *collector) hosts() ([]apiHost, error) {
	req, _ := http.NewRequest("GET", "https://"+c.web+"/api/v1/hosts", nil)
	req.Header.Set("Authorization", "Bearer "+c.api)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET /api/v1/hosts: %s: %s", resp.Status, b)
	}
	var v struct {
		Hosts []apiHost `json:"hosts"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode hosts: %w: %s", err, b)
	}
	return v.Hosts, nil
}

// waitHost polls the API until cond holds for the agent's host.
func (c *collector) waitHost(agentID string, d time.Duration, what string, cond func(apiHost) bool) apiHost {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last []apiHost
	var lastErr error
	for time.Now().Before(deadline) {
		hs, err := c.hosts()
		last, lastErr = hs, err
		for _, h := range hs {
			if h.AgentID == agentID && cond(h) {
				return h
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("host %s: %s not reached within %v; last hosts %+v, err %v", agentID, what, d, last, lastErr)
	return apiHost{}
}

// agent is an agent under test.
type agent struct {
	t    testing.TB
	data string
	conf string
	id   string
	p    *proc
}

func newAgent(t testing.TB, c *collector, name string) *agent {
	t.Helper()
	a := &agent{t: t, data: filepath.Join(t.TempDir(), name)}
	out := mustRun(t, "sonevakt-agent", "enroll", "--collector", c.agents, "--token", c.token(), "--data", a.data)
	if _, err := fmt.Sscanf(out, "enrolled as agent %s", &a.id); err != nil {
		t.Fatalf("enroll output %q: %v", out, err)
	}
	a.conf = filepath.Join(t.TempDir(), name+".yaml")
	conf := "log_level: debug\nintervals:\n  health: 100ms\n"
	if err := os.WriteFile(a.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *agent) start() {
	a.p = start(a.t, nil, "sonevakt-agent", "run", "--data", a.data, "--config", a.conf)
	a.p.waitFor("agent started", 10*time.Second)
}

type spoolStatus struct {
	AgentID string `json:"agent_id"`
	Spool   struct {
		Records, NextSeq, Committed, Dropped uint64
	} `json:"spool"`
}

func (a *agent) status() spoolStatus {
	a.t.Helper()
	var s spoolStatus
	out := mustRun(a.t, "sonevakt-agent", "status", "--data", a.data, "--json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		a.t.Fatalf("status output %q: %v", out, err)
	}
	return s
}

// contiguous reports whether the host holds every seq from 1 to its max exactly once.
func contiguous(h apiHost) bool {
	return h.MinSeq == 1 && uint64(h.Records) == h.MaxSeq
}

var _ = context.Background
