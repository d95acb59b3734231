package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Fixtures of the administration routes.
const (
	adminFixtureUser   = "kari"             // a line manager
	adminFixtureToken  = "00000000000000aa" // an API token
	adminFixtureEnroll = "e0e0e0e0e0e0e0e0" // an enrollment token
	adminNewUser       = "nyansatt"         // created by the route test
)

// fakeEnrollHook stands in for enroll.Authority.CreateToken: it stores the
// token and writes the audit entry, as the authority does.
func fakeEnrollHook(st *fakeStore, now func() time.Time) func(context.Context, time.Duration, int, string) (string, model.EnrollToken, error) {
	return func(ctx context.Context, ttl time.Duration, uses int, actor string) (string, model.EnrollToken, error) {
		rec := model.EnrollToken{ID: randomToken(8)[:10], SecretHash: []byte("h"), CreatedAt: now(), ExpiresAt: now().Add(ttl),
			MaxUses: uses, UsesLeft: uses, CreatedBy: actor}
		if err := st.CreateEnrollToken(ctx, rec); err != nil {
			return "", model.EnrollToken{}, err
		}
		if err := appendAudit(ctx, st, now(), actor, "enroll.token.create", rec.ID, nil); err != nil {
			return "", model.EnrollToken{}, err
		}
		return "svtenroll." + rec.ID + ".sekret", rec, nil
	}
}

// reseedAdmin puts back what the administration routes act on: the user
// kari, an API token, an enrollment token, the unrevoked agent invHost, no
// user nyansatt; and gives the server an enrollment-token maker.
func reseedAdmin(t *testing.T, e *testEnv) {
	t.Helper()
	now := e.clock.now()
	if e.srv.enrollToken == nil {
		e.srv.enrollToken = fakeEnrollHook(e.store, e.clock.now)
	}
	e.store.mu.Lock()
	delete(e.store.users, adminNewUser)
	e.store.users[adminFixtureUser] = model.User{Name: adminFixtureUser, PasswordHash: "x", Role: model.RoleLeder, CreatedAt: now}
	e.store.tokens[adminFixtureToken] = model.APIToken{ID: adminFixtureToken, Hash: []byte("x"), Role: model.RoleRevisor, Name: "fixture", CreatedAt: now}
	if e.store.enroll == nil {
		e.store.enroll = map[string]model.EnrollToken{}
	}
	e.store.enroll[adminFixtureEnroll] = model.EnrollToken{ID: adminFixtureEnroll, CreatedAt: now, ExpiresAt: now.Add(time.Hour), MaxUses: 1, UsesLeft: 1}
	if a, ok := e.store.agents[invHost]; ok {
		a.RevokedAt = time.Time{}
		e.store.agents[invHost] = a
	}
	e.store.mu.Unlock()
}

// adminRouteRequest builds a request a permitted role succeeds with for the
// administration, audit and assignment routes (after reseedAdmin and, for
// assignment, reseed's AVVIK-2026-2), or nil for another route.
func adminRouteRequest(pattern string) *http.Request {
	form := func(path string, v url.Values) *http.Request {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	switch pattern {
	case "POST /admin/users":
		return form("/admin/users", url.Values{"name": {adminNewUser}, "role": {"drift"}})
	case "POST /admin/users/{name}":
		return form("/admin/users/"+adminFixtureUser, url.Values{"action": {"unlock"}})
	case "POST /admin/users/{name}/password":
		return form("/admin/users/"+adminFixtureUser+"/password", url.Values{})
	case "POST /admin/tokens":
		return form("/admin/tokens", url.Values{"name": {"eksport"}, "role": {"revisor"}})
	case "POST /admin/tokens/{id}/revoke":
		return form("/admin/tokens/"+adminFixtureToken+"/revoke", url.Values{})
	case "POST /admin/enroll-tokens":
		return form("/admin/enroll-tokens", url.Values{"uses": {"2"}, "hours": {"24"}})
	case "POST /admin/enroll-tokens/{id}/revoke":
		return form("/admin/enroll-tokens/"+adminFixtureEnroll+"/revoke", url.Values{})
	case "POST /admin/agents/{id}/revoke":
		return form("/admin/agents/"+invHost+"/revoke", url.Values{})
	case "POST /deviations/{id}/assign":
		return form("/deviations/AVVIK-2026-2/assign", url.Values{"assignee": {"role:sikkerhet"}})
	case "POST /api/v1/deviations/{id}/assign":
		req := httptest.NewRequest(http.MethodPost, "/api/v1/deviations/AVVIK-2026-2/assign", strings.NewReader(`{"assignees":["role:sikkerhet"]}`))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	return nil
}

// adminEnv is an env with hosts, the enrollment-token maker, and the admin
// root logged in.
func adminEnv(t *testing.T) (*testEnv, *http.Cookie, string) {
	t.Helper()
	e := newEnv(t, false)
	e.sampleHosts()
	e.srv.enrollToken = fakeEnrollHook(e.store, e.clock.now)
	e.addUser(t, "root", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "root", "hemmelig-passord")
	return e, sc, sessionFromCookie(t, e, sc).CSRF
}

var secretOnceRE = regexp.MustCompile(`id="secret-once"[^>]*>([^<]+)<`)

// secretOf returns the secret a page shows once.
func secretOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	m := secretOnceRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no secret-once element in the %d response", rec.Code)
	}
	return m[1]
}

// followFlash follows a 303 to /admin with its flash cookie and returns the
// page.
func (e *testEnv) followFlash(t *testing.T, rec *httptest.ResponseRecorder, sc *http.Cookie) string {
	t.Helper()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin" {
		t.Fatalf("got %d to %q, want 303 to /admin\n%.400s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	fc := cookieNamed(rec, flashCookie)
	if fc == nil {
		t.Fatal("no flash cookie")
	}
	page := e.get("/admin", sc, fc)
	if page.Code != http.StatusOK {
		t.Fatalf("GET /admin = %d", page.Code)
	}
	if c := cookieNamed(page, flashCookie); c == nil || c.MaxAge >= 0 {
		t.Errorf("the flash cookie was not cleared after showing")
	}
	return page.Body.String()
}

func TestAdminPage(t *testing.T) {
	e, sc, _ := adminEnv(t)
	now := e.clock.now()
	e.store.addHost(model.HostSummary{Agent: model.Agent{ID: "5115115115115115", Hostname: "stille-pc", EnrolledAt: now.Add(-72 * time.Hour),
		LastSeen: now.Add(-25 * time.Hour), Version: "0.3.0", CertNotAfter: now.Add(48 * time.Hour)}})
	e.addUser(t, "ola", "hemmelig-passord", model.RoleLeder)
	u, _ := e.store.GetUser(t.Context(), "ola")
	u.Lang, u.LockedUntil = "en", now.Add(10*time.Minute)
	_ = e.store.UpdateUser(t.Context(), u)

	rec := e.get("/admin", sc)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /admin = %d", rec.Code)
	}
	for _, want := range []string{
		"<title>Administrasjon · Sonevakt</title>", `<a href="/admin" aria-current="page">Administrasjon</a>`,
		`<form id="user-create"`, `<input id="user-name" name="name"`, `<select id="user-role" name="role">`, `id="user-create-submit"`,
		"saksbeh-pc-017", "0.3.1", "rapporterer", "stille-pc", "taus", "utløper snart", "gammel-pc-001", "tilbakekalt",
		"låst til", "English", `action="/admin/users/ola?action=unlock"`, `id="enroll-create"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("admin page lacks %q", want)
		}
	}
	if inlineScript(body) || strings.Contains(body, "style=") {
		t.Error("admin page has inline script or style")
	}
	if strings.Contains(body, `action="/admin/agents/`+revokedID+`/revoke"`) {
		t.Error("a revoked agent is offered for revocation again")
	}
	if got := newAgentRow(model.Agent{LastSeen: now.Add(-23 * time.Hour)}, now).Health; got != "ok" {
		t.Errorf("agent seen 23 h ago: health %q, want ok", got)
	}
	if got := newAgentRow(model.Agent{}, now).Health; got != "never" {
		t.Errorf("agent never seen: health %q, want never", got)
	}
}

func TestAdminUserCreate(t *testing.T) {
	e, sc, csrf := adminEnv(t)
	rec := e.postForm("/admin/users", url.Values{"csrf": {csrf}, "name": {"siri"}, "role": {"sikkerhet"}}, sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("create user = %d\n%s", rec.Code, rec.Body)
	}
	pw := secretOf(t, rec)
	if len(pw) != generatedPassword || rec.Header().Get("Location") != "" || cookieNamed(rec, flashCookie) != nil {
		t.Errorf("password %q shown in a redirect or cookie, or of the wrong length", pw)
	}
	if !strings.Contains(rec.Body.String(), "Brukeren siri er opprettet.") {
		t.Error("no notice that the user was created")
	}
	u, err := e.store.GetUser(t.Context(), "siri")
	if err != nil || u.Role != model.RoleSikkerhet {
		t.Fatalf("GetUser(siri) = %+v, %v", u, err)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "user.create"); !ok || ev.Actor != "root" || ev.Subject != "siri" {
		t.Errorf("audit user.create = %+v, %v", ev, ok)
	}
	e.login(t, "siri", pw) // the password shown works

	for _, tc := range []struct {
		name string
		form url.Values
		code int
		msg  string
	}{
		{"empty name", url.Values{"name": {" "}, "role": {"drift"}}, http.StatusBadRequest, "Brukernavnet må ha 1 til 64 tegn"},
		{"bad characters", url.Values{"name": {"ola/../x"}, "role": {"drift"}}, http.StatusBadRequest, "Brukernavnet må ha"},
		{"unknown role", url.Values{"name": {"per"}, "role": {"root"}}, http.StatusBadRequest, "Ukjent rolle &#34;root&#34;"},
		{"taken", url.Values{"name": {"siri"}, "role": {"drift"}}, http.StatusConflict, "Det finnes alt en bruker som heter siri."},
	} {
		tc.form.Set("csrf", csrf)
		before := len(e.store.auditEvents())
		rec := e.postForm("/admin/users", tc.form, sc)
		body := rec.Body.String()
		if rec.Code != tc.code || !strings.Contains(body, tc.msg) || strings.Contains(body, "secret-once") {
			t.Errorf("%s: = %d, want %d with %q and no secret", tc.name, rec.Code, tc.code, tc.msg)
		}
		if len(e.store.auditEvents()) != before {
			t.Errorf("%s: the refusal changed the audit log", tc.name)
		}
	}
	// A refused form keeps what was typed.
	rec = e.postForm("/admin/users", url.Values{"csrf": {csrf}, "name": {"per"}, "role": {"root"}}, sc)
	if !strings.Contains(rec.Body.String(), `value="per"`) {
		t.Error("the refused form lost the typed name")
	}
}

func TestAdminLastAdmin(t *testing.T) {
	e, sc, csrf := adminEnv(t)
	for _, tc := range []struct {
		action string
		form   url.Values
	}{
		{"disable", url.Values{}},
		{"role", url.Values{"role": {"drift"}}},
	} {
		tc.form.Set("csrf", csrf)
		tc.form.Set("action", tc.action)
		rec := e.postForm("/admin/users/root", tc.form, sc)
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "root er den siste aktive administratoren") {
			t.Errorf("%s the last admin = %d, want 409 saying why\n%.300s", tc.action, rec.Code, rec.Body)
		}
	}
	if u, _ := e.store.GetUser(t.Context(), "root"); u.Disabled || u.Role != model.RoleAdmin {
		t.Fatalf("root after refusals = %+v", u)
	}
	// With a second admin, root may be demoted; the admin left cannot.
	e.addUser(t, "anne", "hemmelig-passord", model.RoleAdmin)
	anne := e.login(t, "anne", "hemmelig-passord")
	anneCSRF := sessionFromCookie(t, e, anne).CSRF
	rec := e.postForm("/admin/users/root", url.Values{"csrf": {anneCSRF}, "action": {"role"}, "role": {"drift"}}, anne)
	if body := e.followFlash(t, rec, anne); !strings.Contains(body, "Rollen til root er endret.") {
		t.Error("no notice of the role change")
	}
	if rec := e.get("/admin", sc); rec.Code != http.StatusSeeOther {
		t.Errorf("root's old session after the role change = %d, want 303 to login", rec.Code)
	}
	rec = e.postForm("/admin/users/anne?action=disable", url.Values{"csrf": {anneCSRF}}, anne)
	if rec.Code != http.StatusConflict {
		t.Errorf("disabling the one admin left = %d, want 409", rec.Code)
	}
}

func TestAdminUserActions(t *testing.T) {
	e, sc, csrf := adminEnv(t)
	e.addUser(t, "ola", "hemmelig-passord", model.RoleLeder)
	ola := e.login(t, "ola", "hemmelig-passord")

	// Disable: the sessions end, and login is refused like a wrong password.
	rec := e.postForm("/admin/users/ola?action=disable", url.Values{"csrf": {csrf}}, sc)
	if body := e.followFlash(t, rec, sc); !strings.Contains(body, "ola er deaktivert og logget ut.") || !strings.Contains(body, "deaktivert") {
		t.Error("no notice of disabling")
	}
	if rec := e.get("/hosts", ola); rec.Code != http.StatusSeeOther {
		t.Errorf("a disabled user's session = %d, want 303 to login", rec.Code)
	}
	c, tok := e.loginForm(t)
	disabled := e.postLogin(c, tok, "ola", "hemmelig-passord", "192.0.2.20")
	c, tok = e.loginForm(t)
	wrong := e.postLogin(c, tok, "root", "feil-passord", "192.0.2.20")
	if disabled.Code != http.StatusUnauthorized || cookieNamed(disabled, sessionCookie) != nil {
		t.Errorf("login of a disabled user = %d, want 401 without a session", disabled.Code)
	}
	msg := translate("nb", msgBadCredentials)
	if !strings.Contains(disabled.Body.String(), msg) || !strings.Contains(wrong.Body.String(), msg) {
		t.Error("a disabled user is not told the same as a wrong password")
	}
	if ev, ok := findAudit(e.store.auditEvents(), "user.disable"); !ok || ev.Actor != "root" || !strings.Contains(ev.Detail, `"sessions_ended":"1"`) {
		t.Errorf("audit user.disable = %+v", ev)
	}

	// Enable, then a lockout lifted by hand.
	rec = e.postForm("/admin/users/ola", url.Values{"csrf": {csrf}, "action": {"enable"}}, sc)
	e.followFlash(t, rec, sc)
	u, _ := e.store.GetUser(t.Context(), "ola")
	u.LockedUntil = e.clock.now().Add(time.Hour)
	_ = e.store.UpdateUser(t.Context(), u)
	rec = e.postForm("/admin/users/ola?action=unlock", url.Values{"csrf": {csrf}}, sc)
	e.followFlash(t, rec, sc)
	if u, _ := e.store.GetUser(t.Context(), "ola"); u.Disabled || !u.LockedUntil.IsZero() {
		t.Errorf("after enable and unlock: %+v", u)
	}
	e.login(t, "ola", "hemmelig-passord")

	// A new password, shown once; the old one and the sessions end.
	rec = e.postForm("/admin/users/ola/password", url.Values{"csrf": {csrf}}, sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("reset password = %d", rec.Code)
	}
	pw := secretOf(t, rec)
	if e.store.sessionsOf("ola") != 0 {
		t.Error("the sessions outlived the password reset")
	}
	e.login(t, "ola", pw)
	if ev, ok := findAudit(e.store.auditEvents(), "user.password.reset"); !ok || ev.Actor != "root" {
		t.Errorf("audit user.password.reset = %+v", ev)
	}

	for _, tc := range []struct {
		path string
		form url.Values
		code int
	}{
		{"/admin/users/ola", url.Values{"action": {"explode"}}, http.StatusBadRequest},
		{"/admin/users/ola", url.Values{}, http.StatusBadRequest},
		{"/admin/users/ola", url.Values{"action": {"role"}, "role": {"sjef"}}, http.StatusBadRequest},
		{"/admin/users/nobody?action=unlock", url.Values{}, http.StatusNotFound},
		{"/admin/users/nobody/password", url.Values{}, http.StatusNotFound},
	} {
		tc.form.Set("csrf", csrf)
		if rec := e.postForm(tc.path, tc.form, sc); rec.Code != tc.code {
			t.Errorf("POST %s %v = %d, want %d", tc.path, tc.form, rec.Code, tc.code)
		}
	}
}

func TestAdminAPITokens(t *testing.T) {
	e, sc, csrf := adminEnv(t)
	rec := e.postForm("/admin/tokens", url.Values{"csrf": {csrf}, "name": {"bevis"}, "role": {"revisor"}}, sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("create token = %d\n%s", rec.Code, rec.Body)
	}
	tok := secretOf(t, rec)
	authz := "Bearer " + tok
	if got := e.apiGet("/api/v1/audit", authz); got.Code != http.StatusOK {
		t.Fatalf("the new token on the API = %d", got.Code)
	}
	id, _, _ := parseAPIToken(tok)
	if body := e.get("/admin", sc).Body.String(); !strings.Contains(body, "bevis") || !strings.Contains(body, `action="/admin/tokens/`+id+`/revoke"`) {
		t.Error("the admin page does not list the new token with a revoke form")
	}
	rec = e.postForm("/admin/tokens/"+id+"/revoke", url.Values{"csrf": {csrf}}, sc)
	if body := e.followFlash(t, rec, sc); !strings.Contains(body, "API-nøkkelen "+id+" er tilbakekalt.") {
		t.Error("no notice of the revocation")
	}
	if got := e.apiGet("/api/v1/audit", authz); got.Code != http.StatusUnauthorized {
		t.Errorf("a revoked token on the API = %d, want 401", got.Code)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "api.token.revoke"); !ok || ev.Subject != "token:"+id || ev.Actor != "root" {
		t.Errorf("audit api.token.revoke = %+v", ev)
	}
	for _, form := range []url.Values{{"name": {""}, "role": {"drift"}}, {"name": {"x"}, "role": {"gud"}}} {
		form.Set("csrf", csrf)
		if rec := e.postForm("/admin/tokens", form, sc); rec.Code != http.StatusBadRequest {
			t.Errorf("create token %v = %d, want 400", form, rec.Code)
		}
	}
	if rec := e.postForm("/admin/tokens/ffffffffffffffff/revoke", url.Values{"csrf": {csrf}}, sc); rec.Code != http.StatusNotFound {
		t.Errorf("revoke an unknown token = %d, want 404", rec.Code)
	}
}

func TestAdminEnrollTokens(t *testing.T) {
	e, sc, csrf := adminEnv(t)
	rec := e.postForm("/admin/enroll-tokens", url.Values{"csrf": {csrf}, "uses": {"3"}, "hours": {"48"}}, sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("create enrollment token = %d\n%s", rec.Code, rec.Body)
	}
	if tok := secretOf(t, rec); !strings.HasPrefix(tok, "svtenroll.") {
		t.Errorf("secret shown = %q", tok)
	}
	ts, _ := e.store.ListEnrollTokens(t.Context())
	if len(ts) != 1 || ts[0].MaxUses != 3 || !ts[0].ExpiresAt.Equal(e.clock.now().Add(48*time.Hour)) || ts[0].CreatedBy != "root" {
		t.Fatalf("enrollment tokens = %+v", ts)
	}
	id := ts[0].ID
	rec = e.postForm("/admin/enroll-tokens/"+id+"/revoke", url.Values{"csrf": {csrf}}, sc)
	if body := e.followFlash(t, rec, sc); !strings.Contains(body, "Registreringsnøkkelen "+id+" er tilbakekalt.") {
		t.Error("no notice of the revocation")
	}
	if err := e.store.UseEnrollToken(t.Context(), id, e.clock.now()); err == nil {
		t.Error("a revoked enrollment token still enrolls")
	}
	if ev, ok := findAudit(e.store.auditEvents(), "enroll.token.revoke"); !ok || ev.Subject != id {
		t.Errorf("audit enroll.token.revoke = %+v", ev)
	}
	for _, form := range []url.Values{{"uses": {"0"}, "hours": {"1"}}, {"uses": {"1"}, "hours": {"721"}}, {"uses": {"x"}, "hours": {"1"}}} {
		form.Set("csrf", csrf)
		if rec := e.postForm("/admin/enroll-tokens", form, sc); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "et helt") {
			t.Errorf("create enrollment token %v = %d, want 400 saying what", form, rec.Code)
		}
	}
	e.srv.enrollToken = nil
	if rec := e.postForm("/admin/enroll-tokens", url.Values{"csrf": {csrf}, "uses": {"1"}, "hours": {"1"}}, sc); rec.Code != http.StatusNotFound ||
		!strings.Contains(rec.Body.String(), "token create") {
		t.Errorf("create without a token maker = %d, want 404 pointing to the command", rec.Code)
	}
}

func TestAdminAgentRevoke(t *testing.T) {
	e, sc, csrf := adminEnv(t)
	// Without Config.RevokeAgent the store revokes and the audit log says so.
	rec := e.postForm("/admin/agents/"+invHost+"/revoke", url.Values{"csrf": {csrf}}, sc)
	e.followFlash(t, rec, sc)
	if a, _ := e.store.GetAgent(t.Context(), invHost); !a.Revoked() {
		t.Error("the agent is not revoked")
	}
	if ev, ok := findAudit(e.store.auditEvents(), "agent.revoke"); !ok || ev.Subject != invHost || ev.Actor != "root" {
		t.Errorf("audit agent.revoke = %+v", ev)
	}
	// With it, the authority's path is taken.
	var got []string
	e.srv.revokeAgent = func(_ context.Context, id, actor string) error {
		got = append(got, id+" by "+actor)
		return nil
	}
	rec = e.postForm("/admin/agents/"+revokedID+"/revoke", url.Values{"csrf": {csrf}}, sc)
	e.followFlash(t, rec, sc)
	if len(got) != 1 || got[0] != revokedID+" by root" {
		t.Errorf("RevokeAgent calls = %q", got)
	}
	e.srv.revokeAgent = nil
	if rec := e.postForm("/admin/agents/0000000000000000/revoke", url.Values{"csrf": {csrf}}, sc); rec.Code != http.StatusNotFound {
		t.Errorf("revoke an unknown agent = %d, want 404", rec.Code)
	}
}

func TestFlashCookieOnlyOwnNotices(t *testing.T) {
	for _, tc := range []struct {
		a  adminAction
		ok bool
	}{
		{adminAction{"admin.done.user_unlock", "ola"}, true},
		{adminAction{"dev.title", "x"}, false},
		{adminAction{"admin.done.nonsense", "x"}, false},
	} {
		b, _ := json.Marshal(tc.a)
		if _, ok := decodeFlash(b64url.EncodeToString(b)); ok != tc.ok {
			t.Errorf("decodeFlash(%v) ok = %v, want %v", tc.a, ok, tc.ok)
		}
	}
	if _, ok := decodeFlash("%%%"); ok {
		t.Error("decodeFlash accepted garbage")
	}
}

// TestLanguageRememberedPerUser: switching the language while logged in
// stores it on the user; the next login, in a browser without the cookie,
// brings it back.
func TestLanguageRememberedPerUser(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "ola", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "ola", "hemmelig-passord")
	rec := e.get("/hosts?lang=en", sc)
	if rec.Code != http.StatusOK || cookieNamed(rec, langCookie) == nil {
		t.Fatalf("GET /hosts?lang=en = %d", rec.Code)
	}
	if u, _ := e.store.GetUser(t.Context(), "ola"); u.Lang != "en" {
		t.Fatalf("user's language = %q, want en", u.Lang)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "user.lang"); !ok || ev.Subject != "ola" {
		t.Errorf("audit user.lang = %+v", ev)
	}
	n := len(e.store.auditEvents())
	e.get("/hosts?lang=en", sc)
	if len(e.store.auditEvents()) != n {
		t.Error("choosing the same language again was audited again")
	}
	// Without a session nothing is stored, and nothing fails.
	if rec := e.get("/login?lang=nb"); rec.Code != http.StatusOK {
		t.Errorf("GET /login?lang=nb = %d", rec.Code)
	}

	// A fresh browser: the login sets the cookie, and pages come in English.
	c, tok := e.loginForm(t)
	rec = e.postLogin(c, tok, "ola", "hemmelig-passord", "192.0.2.30")
	lc := cookieNamed(rec, langCookie)
	if rec.Code != http.StatusSeeOther || lc == nil || lc.Value != "en" {
		t.Fatalf("login = %d with lang cookie %v, want en", rec.Code, lc)
	}
	page := e.get("/hosts", cookieNamed(rec, sessionCookie), lc)
	if !strings.Contains(page.Body.String(), `<html lang="en">`) {
		t.Error("the page after login is not in the user's language")
	}
	// A user who never chose keeps the browser's language.
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, tok = e.loginForm(t)
	if rec := e.postLogin(c, tok, "kari", "hemmelig-passord", "192.0.2.31"); cookieNamed(rec, langCookie) != nil {
		t.Error("login of a user without a language set a language cookie")
	}
}
