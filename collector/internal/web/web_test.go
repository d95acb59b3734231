package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// testArgon2 keeps login tests fast; the stored PHC string carries its
// parameters, so CheckPassword uses them as it would any hash.
var testArgon2 = argon2Params{Memory: 64, Time: 1, Threads: 1}

// clock is a test clock handed to the server through Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testEnv struct {
	srv   *Server
	h     http.Handler
	store *fakeStore
	clock *clock
	sync  *syncRecorder
	// traffic and zones are what Config.Traffic and Config.Zones give.
	traffic *fakeTraffic
	zones   *zoneHolder
}

// syncRecorder counts SyncPolicy calls and fails them on request.
type syncRecorder struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (s *syncRecorder) sync(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.err
}

func (s *syncRecorder) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *syncRecorder) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func newEnv(t *testing.T, secure bool) *testEnv {
	t.Helper()
	st := newFakeStore()
	c := &clock{t: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	sr := &syncRecorder{}
	tr, zh := newFakeTraffic(), &zoneHolder{}
	srv, err := New(Config{Store: st, Now: c.now, Secure: secure,
		ParseMediaCSV: fakeParseCSV, WriteMediaCSV: fakeWriteCSV, SyncPolicy: sr.sync,
		ParseAssetsCSV: testParseAssetsCSV, WriteAssetsCSV: register.WriteAssetsCSV,
		Traffic: tr, Zones: zh.get, ExportEvidence: fakeExportEvidence(st)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testEnv{srv: srv, h: srv.Handler(), store: st, clock: c, sync: sr, traffic: tr, zones: zh}
}

func (e *testEnv) addUser(t *testing.T, name, pw string, role model.Role) {
	t.Helper()
	hash, err := hashPassword(pw, testArgon2)
	if err != nil {
		t.Fatalf("hashPassword: %v", err)
	}
	if err := e.store.CreateUser(t.Context(), model.User{Name: name, PasswordHash: hash, Role: role, CreatedAt: e.clock.now()}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
}

func (e *testEnv) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *testEnv) get(path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	return e.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// loginForm fetches the login page and returns its pre-login cookie and the
// form's CSRF token.
func (e *testEnv) loginForm(t *testing.T) (*http.Cookie, string) {
	t.Helper()
	rec := e.get("/login")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /login = %d, want 200", rec.Code)
	}
	c := cookieNamed(rec, preloginCookie)
	if c == nil {
		t.Fatalf("GET /login set no %s cookie", preloginCookie)
	}
	m := csrfInput.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("GET /login has no csrf field:\n%s", rec.Body)
	}
	return c, m[1]
}

// postLogin posts the login form from ip; a nil cookie sends none.
func (e *testEnv) postLogin(cookie *http.Cookie, csrf, user, pw, ip string) *httptest.ResponseRecorder {
	form := url.Values{"username": {user}, "password": {pw}}
	if csrf != "" {
		form.Set("csrf", csrf)
	}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = ip + ":40000"
	if cookie != nil {
		req.AddCookie(cookie)
	}
	return e.do(req)
}

// login logs user in and returns the session cookie.
func (e *testEnv) login(t *testing.T, user, pw string) *http.Cookie {
	t.Helper()
	c, csrf := e.loginForm(t)
	rec := e.postLogin(c, csrf, user, pw, "192.0.2.10")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /login as %s = %d, want 303\n%s", user, rec.Code, rec.Body)
	}
	sc := cookieNamed(rec, sessionCookie)
	if sc == nil {
		t.Fatalf("POST /login set no %s cookie", sessionCookie)
	}
	return sc
}

func cookieNamed(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func auditActions(events []model.AuditEvent) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Action)
	}
	return out
}

func findAudit(events []model.AuditEvent, action string) (model.AuditEvent, bool) {
	for _, e := range events {
		if e.Action == action {
			return e, true
		}
	}
	return model.AuditEvent{}, false
}

// sampleHosts stores two hosts: one reporting with facts, seen 12 s before
// the clock; one revoked, without facts.
func (e *testEnv) sampleHosts() {
	now := e.clock.now()
	e.store.addHost(model.HostSummary{
		Agent: model.Agent{
			ID: "a1b2c3d4e5f60718", Hostname: "saksbeh-pc-017", Fingerprint: "f00d",
			EnrolledAt: now.Add(-48 * time.Hour), LastSeen: now.Add(-12 * time.Second), Version: "0.3.1",
			Addr: "10.20.30.40:51234",
		},
		Facts: &wire.Host{
			Hostname: "saksbeh-pc-017", Domain: "kommune.local", OS: "linux", Platform: "debian",
			PlatformVersion: "13.1", Kernel: "6.12.48-amd64", Arch: "amd64",
			CPU:         wire.CPU{Model: "Intel(R) Core(TM) i5-1245U", Cores: 10, Threads: 12},
			MemoryBytes: 16 << 30,
			Interfaces: []wire.Interface{
				{Name: "lo", Addrs: []string{"127.0.0.1/8", "::1/128"}, Up: true},
				{Name: "enp0s31f6", MAC: "3c:52:82:aa:bb:cc", Addrs: []string{"10.20.30.40/24"}, Up: true, MTU: 1500},
			},
		},
		FactsAt: now.Add(-time.Minute),
		Records: 12345, MinSeq: 1, MaxSeq: 12345,
	})
	e.store.addHost(model.HostSummary{
		Agent: model.Agent{
			ID: "ffeeddccbbaa9988", Hostname: "gammel-pc-001",
			EnrolledAt: now.Add(-400 * 24 * time.Hour), RevokedAt: now.Add(-24 * time.Hour),
		},
	})
}

func httptestRequest(method, path string) *http.Request {
	return httptest.NewRequest(method, path, nil)
}

// inlineScript reports whether an HTML page has a script element without a
// src, which the Content-Security-Policy would refuse to run.
func inlineScript(body string) bool {
	for rest := body; ; {
		i := strings.Index(rest, "<script")
		if i < 0 {
			return false
		}
		rest = rest[i:]
		end := strings.IndexByte(rest, '>')
		if end < 0 || !strings.Contains(rest[:end], " src=") {
			return true
		}
		rest = rest[end:]
	}
}
