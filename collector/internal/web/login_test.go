package web

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestLoginSetsSessionCookie(t *testing.T) {
	for _, secure := range []bool{true, false} {
		e := newEnv(t, secure)
		e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
		c, csrf := e.loginForm(t)
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure {
			t.Errorf("secure=%v: pre-login cookie = %+v, want HttpOnly, SameSite=Strict, Secure=%v", secure, c, secure)
		}

		rec := e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
			t.Fatalf("secure=%v: POST /login = %d to %q, want 303 to /", secure, rec.Code, rec.Header().Get("Location"))
		}
		sc := cookieNamed(rec, sessionCookie)
		if sc == nil {
			t.Fatalf("secure=%v: no %s cookie", secure, sessionCookie)
		}
		if !sc.HttpOnly || sc.Secure != secure || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" {
			t.Errorf("secure=%v: session cookie = %+v; want HttpOnly, Secure=%v, SameSite=Strict, Path=/", secure, sc, secure)
		}
		if sc.MaxAge != int((12 * time.Hour).Seconds()) {
			t.Errorf("secure=%v: session cookie MaxAge = %d, want 12 h", secure, sc.MaxAge)
		}
		if pc := cookieNamed(rec, preloginCookie); pc == nil || pc.MaxAge >= 0 {
			t.Errorf("secure=%v: pre-login cookie not cleared after login: %+v", secure, pc)
		}

		// The store holds the SHA-256 of the id, never the id itself.
		raw, err := b64url.DecodeString(sc.Value)
		if err != nil || len(raw) != 32 {
			t.Fatalf("secure=%v: session cookie value %q is not 32 bytes of base64url", secure, sc.Value)
		}
		sum := sha256.Sum256(raw)
		sess, err := e.store.GetSession(t.Context(), sum[:])
		if err != nil {
			t.Fatalf("secure=%v: session not stored under the SHA-256 of its id: %v", secure, err)
		}
		if _, err := e.store.GetSession(t.Context(), raw); err == nil {
			t.Errorf("secure=%v: session stored under its raw id", secure)
		}
		if sess.User != "kari" || sess.CSRF == "" || !sess.ExpiresAt.Equal(e.clock.now().Add(12*time.Hour)) {
			t.Errorf("secure=%v: session = %+v; want user kari, a CSRF token, expiry in 12 h", secure, sess)
		}

		if rec := e.get("/hosts", sc); rec.Code != http.StatusOK {
			t.Errorf("secure=%v: GET /hosts with session = %d, want 200", secure, rec.Code)
		}
		e.clock.advance(12 * time.Hour)
		if rec := e.get("/hosts", sc); rec.Code != http.StatusSeeOther {
			t.Errorf("secure=%v: GET /hosts with expired session = %d, want 303 to login", secure, rec.Code)
		}
	}
}

func TestLoginCSRF(t *testing.T) {
	e := newEnv(t, true)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, csrf := e.loginForm(t)
	other, _ := e.loginForm(t)
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		csrf   string
	}{
		{"no token", c, ""},
		{"wrong token", c, randomToken(32)},
		{"no cookie", nil, csrf},
		{"token of another cookie", other, csrf},
	} {
		rec := e.postLogin(tc.cookie, tc.csrf, "kari", "hemmelig-passord", "192.0.2.1")
		if rec.Code != http.StatusForbidden {
			t.Errorf("%s: POST /login = %d, want 403", tc.name, rec.Code)
		}
		if want := html.EscapeString(translate("nb", "login.csrf")); !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: 403 page lacks the message %q", tc.name, want)
		}
		if cookieNamed(rec, sessionCookie) != nil {
			t.Errorf("%s: refused login set a session cookie", tc.name)
		}
	}
	if n := e.store.sessionCount(); n != 0 {
		t.Errorf("sessions after refused logins = %d, want 0", n)
	}
	if _, ok := findAudit(e.store.auditEvents(), "user.login"); ok {
		t.Errorf("a refused login was audited as user.login")
	}
	// The right pair still works: the refusals above were about the token.
	if rec := e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1"); rec.Code != http.StatusSeeOther {
		t.Errorf("POST /login with the right token = %d, want 303", rec.Code)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, csrf := e.loginForm(t)
	for _, tc := range []struct{ user, pw string }{
		{"kari", "feil"},
		{"kari", ""},
		{"KARI", "hemmelig-passord"},
		{"ukjent", "hemmelig-passord"}, // unknown user: same answer
	} {
		rec := e.postLogin(c, csrf, tc.user, tc.pw, "192.0.2.1")
		if rec.Code != http.StatusUnauthorized || cookieNamed(rec, sessionCookie) != nil {
			t.Errorf("login %s/%q = %d (session cookie %v), want 401 without session", tc.user, tc.pw, rec.Code, cookieNamed(rec, sessionCookie) != nil)
		}
		if want := html.EscapeString(translate("nb", msgBadCredentials)); !strings.Contains(rec.Body.String(), want) {
			t.Errorf("login %s/%q: page lacks %q", tc.user, tc.pw, want)
		}
	}
	// An unknown user costs a password check too, so timing does not tell
	// which names exist.
	if e.srv.dummyHash == "" {
		t.Errorf("unknown user answered without a password check")
	}
}

func TestLoginLockout(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, csrf := e.loginForm(t)
	try := func(pw string) int { return e.postLogin(c, csrf, "kari", pw, "192.0.2.1").Code }

	// Four failures, then a success, resets the count.
	for range 4 {
		try("feil")
	}
	if got := try("hemmelig-passord"); got != http.StatusSeeOther {
		t.Fatalf("login after 4 failures = %d, want 303", got)
	}
	if u, _ := e.store.GetUser(t.Context(), "kari"); u.FailedLogins != 0 {
		t.Errorf("FailedLogins after success = %d, want 0", u.FailedLogins)
	}

	e.clock.advance(time.Minute) // out of the rate-limit window
	for i := range 5 {
		if got := try("feil"); got != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, got)
		}
		if u, _ := e.store.GetUser(t.Context(), "kari"); i < 4 && u.FailedLogins != i+1 {
			t.Errorf("FailedLogins after %d failures = %d", i+1, u.FailedLogins)
		}
	}
	u, err := e.store.GetUser(t.Context(), "kari")
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clock.now().Add(15 * time.Minute); !u.LockedUntil.Equal(want) {
		t.Errorf("LockedUntil after 5 failures = %v, want %v", u.LockedUntil, want)
	}
	if lock, ok := findAudit(e.store.auditEvents(), "user.lock"); !ok || lock.Subject != "kari" {
		t.Errorf("audit has no user.lock for kari: %v", auditActions(e.store.auditEvents()))
	}

	e.clock.advance(14 * time.Minute)
	if got := try("hemmelig-passord"); got != http.StatusUnauthorized {
		t.Errorf("right password while locked = %d, want 401", got)
	}
	last := e.store.auditEvents()[len(e.store.auditEvents())-1]
	if last.Action != "user.login.failed" || !strings.Contains(last.Detail, "locked") {
		t.Errorf("last audit event = %+v, want user.login.failed for a locked user", last)
	}

	e.clock.advance(time.Minute + time.Second)
	if got := try("hemmelig-passord"); got != http.StatusSeeOther {
		t.Errorf("right password after the lock = %d, want 303", got)
	}
	if u, _ := e.store.GetUser(t.Context(), "kari"); !u.LockedUntil.IsZero() || u.FailedLogins != 0 {
		t.Errorf("user after login = %+v, want lock and count cleared", u)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, csrf := e.loginForm(t)
	for i := range 10 {
		if got := e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1").Code; got != http.StatusSeeOther {
			t.Fatalf("attempt %d from one IP = %d, want 303", i+1, got)
		}
		e.clock.advance(time.Second)
	}
	rec := e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1")
	if rec.Code != http.StatusTooManyRequests || cookieNamed(rec, sessionCookie) != nil {
		t.Errorf("attempt 11 within a minute = %d, want 429 without session", rec.Code)
	}
	if want := html.EscapeString(translate("nb", msgRateLimited)); !strings.Contains(rec.Body.String(), want) {
		t.Errorf("429 page lacks %q", want)
	}
	if got := e.postLogin(c, csrf, "kari", "hemmelig-passord", "198.51.100.7").Code; got != http.StatusSeeOther {
		t.Errorf("attempt from another IP = %d, want 303", got)
	}
	e.clock.advance(50*time.Second + 500*time.Millisecond) // only the first attempt leaves the window
	if got := e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1").Code; got != http.StatusSeeOther {
		t.Errorf("attempt after the window = %d, want 303", got)
	}
	if got := e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1").Code; got != http.StatusTooManyRequests {
		t.Errorf("next attempt = %d, want 429 again", got)
	}
}

func TestLoginAudit(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, csrf := e.loginForm(t)
	e.postLogin(c, csrf, "kari", "feil", "192.0.2.1")
	e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1")

	got := auditActions(e.store.auditEvents())
	if want := []string{"user.login.failed", "user.login"}; !slices.Equal(got, want) {
		t.Fatalf("audit actions = %q, want %q", got, want)
	}
	ev := e.store.auditEvents()
	if f := ev[0]; f.Subject != "kari" || f.Actor != "anonymous" || !strings.Contains(f.Detail, "192.0.2.1") || !f.At.Equal(e.clock.now()) {
		t.Errorf("failed login event = %+v", f)
	}
	if ok := ev[1]; ok.Actor != "kari" || ok.Subject != "kari" || !strings.Contains(ok.Detail, "192.0.2.1") {
		t.Errorf("login event = %+v", ok)
	}
}

var errDisk = errors.New("disk I/O error at /var/lib/sonevakt")

func TestLoginRefusedWhenAuditFails(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, csrf := e.loginForm(t)
	e.store.failAudit = errDisk
	rec := e.postLogin(c, csrf, "kari", "hemmelig-passord", "192.0.2.1")
	if rec.Code != http.StatusInternalServerError || cookieNamed(rec, sessionCookie) != nil {
		t.Errorf("login with a broken audit log = %d, want 500 without session", rec.Code)
	}
	if strings.Contains(rec.Body.String(), errDisk.Error()) {
		t.Errorf("500 page shows the internal error %q", errDisk)
	}
	if n := e.store.sessionCount(); n != 0 {
		t.Errorf("sessions = %d, want 0: an unaudited session was left behind", n)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, true)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "kari", "hemmelig-passord")
	page := e.get("/hosts", sc).Body.String()
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("/hosts has no logout form with a csrf field")
	}

	post := func(csrf string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/logout", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(sc)
		return req
	}
	rec := e.do(post("feil"))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), html.EscapeString(translate("nb", "error.csrf"))) {
		t.Errorf("logout with a wrong csrf = %d, want 403 with the CSRF message", rec.Code)
	}
	if e.store.sessionCount() != 1 {
		t.Fatalf("refused logout ended the session")
	}

	rec = e.do(post(html.UnescapeString(m[1])))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Errorf("logout = %d to %q, want 303 to /login", rec.Code, rec.Header().Get("Location"))
	}
	if c := cookieNamed(rec, sessionCookie); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout did not clear the session cookie: %+v", c)
	}
	if e.store.sessionCount() != 0 {
		t.Errorf("session still stored after logout")
	}
	if _, ok := findAudit(e.store.auditEvents(), "user.logout"); !ok {
		t.Errorf("audit has no user.logout: %v", auditActions(e.store.auditEvents()))
	}
	if rec := e.get("/hosts", sc); rec.Code != http.StatusSeeOther {
		t.Errorf("GET /hosts with the old cookie = %d, want 303 to login", rec.Code)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t, true)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	c, csrf := e.loginForm(t)
	form := url.Values{"username": {"kari"}, "password": {"hemmelig-passord"}, "csrf": {csrf}}
	req := httptest.NewRequest(http.MethodPost, "/login", bytes.NewBufferString(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(c)
	if rec := e.do(req); rec.Code != http.StatusForbidden || cookieNamed(rec, sessionCookie) != nil {
		t.Errorf("cross-site POST /login = %d, want 403 without session", rec.Code)
	}
}
