package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestHostsPage(t *testing.T) {
	e := newEnv(t, true)
	e.sampleHosts()
	e.addUser(t, "kari", "hemmelig-passord", model.RoleLeder)
	sc := e.login(t, "kari", "hemmelig-passord")

	common := []string{"saksbeh-pc-017", "3c:52:82:aa:bb:cc", "10.20.30.40/24", "6.12.48-amd64", "debian 13.1",
		"Intel(R) Core(TM) i5-1245U", "0.3.1", "gammel-pc-001", `href="/hosts/a1b2c3d4e5f60718"`}
	for _, tc := range []struct {
		name    string
		path    string
		header  map[string]string
		cookies []*http.Cookie
		want    []string
		lang    string
	}{
		{"default", "/hosts", nil, nil,
			[]string{"<h1 id=\"hosts-title\">Verter</h1>", "for 12 s siden", "16,0\u00a0GiB", "12\u00a0345", "Tilbakekalt", "Aktiv", "2 verter", "Logg ut"}, "nb"},
		{"query", "/hosts?lang=en", nil, nil,
			[]string{"<h1 id=\"hosts-title\">Hosts</h1>", "12 s ago", "16.0\u00a0GiB", "12,345", "Revoked", "Active", "2 hosts", "Log out"}, "en"},
		{"accept-language", "/hosts", map[string]string{"Accept-Language": "en-GB,en;q=0.9,nb;q=0.5"}, nil,
			[]string{"Hosts", "12 s ago"}, "en"},
		{"cookie beats header", "/hosts", map[string]string{"Accept-Language": "en"}, []*http.Cookie{{Name: "lang", Value: "nb"}},
			[]string{"Verter", "for 12 s siden"}, "nb"},
	} {
		req := httptestRequest(http.MethodGet, tc.path)
		req.AddCookie(sc)
		for _, c := range tc.cookies {
			req.AddCookie(c)
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		rec := e.do(req)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: GET %s = %d", tc.name, tc.path, rec.Code)
		}
		body := rec.Body.String()
		for _, w := range append(tc.want, common...) {
			if !strings.Contains(body, w) {
				t.Errorf("%s: page lacks %q", tc.name, w)
			}
		}
		if !strings.Contains(body, `<html lang="`+tc.lang+`">`) {
			t.Errorf("%s: page is not marked lang=%s", tc.name, tc.lang)
		}
		if strings.Contains(body, "127.0.0.1/8") {
			t.Errorf("%s: hosts table lists the loopback interface", tc.name)
		}
		if strings.Contains(body, "⟦") {
			t.Errorf("%s: page has a key missing from the catalogue", tc.name)
		}
	}

	rec := e.get("/hosts?lang=en", sc)
	if c := cookieNamed(rec, "lang"); c == nil || c.Value != "en" {
		t.Errorf("?lang=en did not set the lang cookie: %+v", c)
	}
	if c := cookieNamed(e.get("/hosts?lang=xx", sc), "lang"); c != nil {
		t.Errorf("?lang=xx set a lang cookie: %+v", c)
	}
}

func TestPagesNeedLogin(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	for _, path := range []string{"/", "/hosts", "/hosts/a1b2c3d4e5f60718"} {
		rec := e.get(path)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
			t.Errorf("GET %s without session = %d to %q, want 303 to /login", path, rec.Code, rec.Header().Get("Location"))
		}
		if strings.Contains(rec.Body.String(), "saksbeh-pc-017") {
			t.Errorf("GET %s without session shows host data", path)
		}
	}
}

func TestHostPage(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.addUser(t, "kari", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "kari", "hemmelig-passord")

	if rec := e.get("/", sc); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="overview-title"`) {
		t.Errorf("GET / = %d, want 200 with the overview", rec.Code)
	}

	rec := e.get("/hosts/a1b2c3d4e5f60718", sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /hosts/{id} = %d", rec.Code)
	}
	for _, w := range []string{"saksbeh-pc-017", "kommune.local", "3c:52:82:aa:bb:cc", "enp0s31f6", "Oppe", "1500", "f00d", "1–12345", "Nettverksgrensesnitt"} {
		if !strings.Contains(rec.Body.String(), w) {
			t.Errorf("host page lacks %q", w)
		}
	}
	rec = e.get("/hosts/ffeeddccbbaa9988?lang=en", sc)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "No hardware facts received yet.") || !strings.Contains(rec.Body.String(), "Revoked") {
		t.Errorf("GET revoked host without facts = %d, want 200 saying so", rec.Code)
	}
	rec = e.get("/hosts/finnesikke", sc)
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), translate("nb", "error.not_found.title")) {
		t.Errorf("GET unknown host = %d, want a 404 page", rec.Code)
	}
}

func TestHostsPageEmpty(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "kari", "hemmelig-passord")
	body := e.get("/hosts", sc).Body.String()
	if !strings.Contains(body, translate("nb", "hosts.empty")) || strings.Contains(body, "<table") {
		t.Errorf("empty hosts page does not say so")
	}
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t, false)
	for _, lang := range []string{"nb", "en"} {
		rec := e.get("/login?lang=" + lang)
		body := rec.Body.String()
		for _, key := range []string{"login.title", "login.username", "login.password", "login.submit"} {
			if !strings.Contains(body, translate(lang, key)) {
				t.Errorf("login page (%s) lacks %q", lang, translate(lang, key))
			}
		}
		if inlineScript(body) || strings.Contains(body, "style=") {
			t.Errorf("login page (%s) has inline script or style, which the CSP forbids", lang)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, secure := range []bool{true, false} {
		e := newEnv(t, secure)
		for _, path := range []string{"/healthz", "/login", "/hosts", "/api/v1/hosts", "/nothing", "/static/style.css"} {
			rec := e.get(path)
			h := rec.Header()
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("secure=%v %s: CSP = %q", secure, path, csp)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "same-origin",
				"X-Frame-Options":        "DENY",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("secure=%v %s: %s = %q, want %q", secure, path, k, got, want)
				}
			}
			if hsts := h.Get("Strict-Transport-Security"); (hsts != "") != secure {
				t.Errorf("secure=%v %s: Strict-Transport-Security = %q", secure, path, hsts)
			}
		}
	}
}

func TestHealthzAndCSS(t *testing.T) {
	e := newEnv(t, false)
	rec := e.get("/healthz")
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != "ok" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", rec.Code, rec.Body)
	}
	rec = e.get("/static/style.css")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") || rec.Body.Len() == 0 {
		t.Errorf("GET /static/style.css = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
