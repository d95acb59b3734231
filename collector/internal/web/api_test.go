package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func (e *testEnv) apiGet(path, authz string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return e.do(req)
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, rec.Body)
	}
	return m
}

func TestAPIAuth(t *testing.T) {
	e := newEnv(t, true)
	e.sampleHosts()
	tok, err := CreateAPIToken(t.Context(), e.store, model.RoleRevisor, "rapport", "admin", e.clock.now())
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	id, _, _ := parseAPIToken(tok)
	otherSecret := b64url.EncodeToString(make([]byte, 32))

	for _, tc := range []struct {
		name, authz string
	}{
		{"no token", ""},
		{"garbage", "Bearer garbage"},
		{"basic auth", "Basic a2FyaTpwdw=="},
		{"no scheme", tok},
		{"unknown id", "Bearer svtapi.0000000000000000." + otherSecret},
		{"wrong secret", "Bearer svtapi." + id + "." + otherSecret},
		{"truncated", "Bearer " + tok[:len(tok)-2]},
		{"upper-case id", "Bearer svtapi." + strings.ToUpper(id) + tok[len("svtapi.")+16:]},
		{"enrollment token prefix", "Bearer svt1." + id + "." + otherSecret},
	} {
		rec := e.apiGet("/api/v1/hosts", tc.authz)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: GET /api/v1/hosts = %d, want 401", tc.name, rec.Code)
			continue
		}
		if got := decodeJSON(t, rec)["error"]; got != "Authentication required." {
			t.Errorf("%s: error = %q, want %q", tc.name, got, "Authentication required.")
		}
		if rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}

	e.clock.advance(time.Minute)
	rec := e.apiGet("/api/v1/hosts", "Bearer "+tok)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/hosts with a good token = %d, want 200\n%s", rec.Code, rec.Body)
	}
	if hosts, _ := decodeJSON(t, rec)["hosts"].([]any); len(hosts) != 2 {
		t.Errorf("hosts = %d entries, want 2", len(hosts))
	}
	if got, _ := e.store.GetAPIToken(t.Context(), id); !got.LastUsed.Equal(e.clock.now()) {
		t.Errorf("token LastUsed = %v, want %v (TouchAPIToken)", got.LastUsed, e.clock.now())
	}
	if rec := e.apiGet("/api/v1/hosts", "bearer  "+tok); rec.Code != http.StatusOK {
		t.Errorf("lower-case scheme, extra space = %d, want 200", rec.Code)
	}
}

func TestAPIHostsJSON(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	tok, err := CreateAPIToken(t.Context(), e.store, model.RoleLeder, "", "admin", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	rec := e.apiGet("/api/v1/hosts", "Bearer "+tok)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/hosts = %d\n%s", rec.Code, rec.Body)
	}
	var body struct {
		Hosts []map[string]any `json:"hosts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Hosts) != 2 {
		t.Fatalf("hosts = %d, want 2", len(body.Hosts))
	}
	byID := map[string]map[string]any{}
	for _, h := range body.Hosts {
		id, _ := h["agent_id"].(string)
		byID[id] = h
	}

	h := byID["a1b2c3d4e5f60718"]
	for key, want := range map[string]any{
		"agent_id": "a1b2c3d4e5f60718", "hostname": "saksbeh-pc-017", "os": "linux", "platform": "debian",
		"platform_version": "13.1", "kernel": "6.12.48-amd64", "arch": "amd64", "version": "0.3.1",
		"enrolled_at": "2026-02-28T09:30:00Z", "last_seen": "2026-03-02T09:29:48Z",
		"revoked": false, "records": float64(12345), "min_seq": float64(1), "max_seq": float64(12345),
	} {
		if h[key] != want {
			t.Errorf("host[%q] = %#v, want %#v", key, h[key], want)
		}
	}
	facts, _ := h["facts"].(map[string]any)
	ifaces, _ := facts["interfaces"].([]any)
	if len(ifaces) != 2 {
		t.Fatalf("facts.interfaces = %v, want 2 interfaces", facts["interfaces"])
	}
	if mac := ifaces[1].(map[string]any)["mac"]; mac != "3c:52:82:aa:bb:cc" {
		t.Errorf("facts.interfaces[1].mac = %v", mac)
	}
	if cpu, _ := facts["cpu"].(map[string]any); cpu["threads"] != float64(12) {
		t.Errorf("facts.cpu = %v", facts["cpu"])
	}

	old := byID["ffeeddccbbaa9988"]
	if old["revoked"] != true {
		t.Errorf("revoked host: revoked = %v, want true", old["revoked"])
	}
	for _, key := range []string{"last_seen", "facts", "facts_at"} {
		if v, ok := old[key]; ok {
			t.Errorf("revoked host without data has %q = %v; zero values must be left out", key, v)
		}
	}

	rec = e.apiGet("/api/v1/hosts/a1b2c3d4e5f60718", "Bearer "+tok)
	if rec.Code != http.StatusOK || decodeJSON(t, rec)["hostname"] != "saksbeh-pc-017" {
		t.Errorf("GET /api/v1/hosts/{id} = %d %s", rec.Code, rec.Body)
	}
	rec = e.apiGet("/api/v1/hosts/finnesikke", "Bearer "+tok)
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET unknown host = %d, want 404", rec.Code)
	}
	if got := decodeJSON(t, rec)["error"]; got != "Not found." {
		t.Errorf("unknown host error = %q", got)
	}
	if rec := e.apiGet("/api/v1/nothing", "Bearer "+tok); rec.Code != http.StatusNotFound || decodeJSON(t, rec)["error"] == nil {
		t.Errorf("GET unknown API path = %d %s, want a JSON 404", rec.Code, rec.Body)
	}
}

func TestAPISessionCookie(t *testing.T) {
	e := newEnv(t, true)
	e.sampleHosts()
	e.addUser(t, "kari", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "kari", "hemmelig-passord")

	if rec := e.get("/api/v1/hosts", sc); rec.Code != http.StatusOK {
		t.Errorf("GET /api/v1/hosts with session cookie = %d, want 200", rec.Code)
	}

	// Unsafe methods with a cookie need the session's CSRF token in a header.
	sum := sessionFromCookie(t, e, sc)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := e.srv.api(ok)
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"no header", "", http.StatusForbidden},
		{"wrong header", "nope", http.StatusForbidden},
		{"right header", sum.CSRF, http.StatusNoContent},
	} {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/anything", nil)
		req.AddCookie(sc)
		if tc.header != "" {
			req.Header.Set("X-CSRF-Token", tc.header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: cookie POST = %d, want %d", tc.name, rec.Code, tc.want)
		}
	}
}

func sessionFromCookie(t *testing.T, e *testEnv, c *http.Cookie) model.Session {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(c)
	p, err := e.srv.sessionPrincipal(req)
	if err != nil || p == nil {
		t.Fatalf("sessionPrincipal = %v, %v", p, err)
	}
	return *p.Session
}

func TestRequireRole(t *testing.T) {
	e := newEnv(t, false)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := e.srv.requireRole(model.RoleAdmin, model.RoleSikkerhet)(ok)
	for _, tc := range []struct {
		p    *principal
		want int
	}{
		{nil, http.StatusUnauthorized},
		{&principal{Name: "a", Role: model.RoleAdmin}, http.StatusNoContent},
		{&principal{Name: "s", Role: model.RoleSikkerhet}, http.StatusNoContent},
		{&principal{Name: "r", Role: model.RoleRevisor}, http.StatusForbidden},
		{&principal{Name: "x", Role: "root"}, http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/x", nil)
		if tc.p != nil {
			req = req.WithContext(withPrincipal(req.Context(), tc.p))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("requireRole(admin, sikkerhet) for %+v = %d, want %d", tc.p, rec.Code, tc.want)
		}
	}
}

func TestParseAPIToken(t *testing.T) {
	secret := b64url.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	for _, tc := range []struct {
		tok string
		ok  bool
	}{
		{"svtapi.0123456789abcdef." + secret, true},
		{"svtapi.0123456789ABCDEF." + secret, false},
		{"svtapi.0123456789abcde." + secret, false},
		{"svtapi.0123456789abcdef." + secret + "A", false},
		{"svtapi.0123456789abcdef." + secret[:40], false},
		{"svtapi.0123456789abcdef", false},
		{"svtapi..", false},
		{"svt1.0123456789abcdef." + secret, false},
		{"", false},
	} {
		if _, _, ok := parseAPIToken(tc.tok); ok != tc.ok {
			t.Errorf("parseAPIToken(%q) ok = %v, want %v", tc.tok, ok, tc.ok)
		}
	}
}

func TestErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{model.ErrNotFound, 404},
		{errWrap(model.ErrNotFound), 404},
		{model.ErrInvalid, 400},
		{model.ErrForbidden, 403},
		{errCSRF, 403},
		{model.ErrConflict, 409},
		{model.ErrRateLimited, 429},
		{errUnauthorized, 401},
		{errWrap(errDisk), 500},
	} {
		if got, _ := errorStatus(tc.err); got != tc.want {
			t.Errorf("errorStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func errWrap(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "get thing: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestInternalErrorHidden(t *testing.T) {
	e := newEnv(t, false)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/hosts", nil)
	e.srv.fail(rec, req, errWrap(errDisk))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "disk") {
		t.Errorf("fail(internal) = %d %s; want 500 with a generic message", rec.Code, rec.Body)
	}
}
