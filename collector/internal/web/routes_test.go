package web

import (
	"bytes"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// wantRoles is who may use each route, written out independently of
// routeTable so that a change to either shows here.
var wantRoles = func() map[string][]model.Role {
	all := model.Roles
	editors := []model.Role{model.RoleAdmin, model.RoleDrift}
	readers := []model.Role{model.RoleAdmin, model.RoleSikkerhet, model.RoleLeder, model.RoleRevisor}
	handlers := []model.Role{model.RoleAdmin, model.RoleSikkerhet, model.RoleLeder}
	return map[string][]model.Role{
		"GET /{$}":                       all,
		"GET /api/v1/overview":           all,
		"GET /events":                    all,
		"GET /configmap.svg":             all,
		"GET /configmap.dot":             all,
		"GET /hosts":                     all,
		"GET /hosts/{id}":                all,
		"GET /software":                  all,
		"GET /media":                     all,
		"GET /media/register":            all,
		"POST /media/register":           editors,
		"POST /media/register/delete":    editors,
		"GET /assets":                    all,
		"POST /assets":                   editors,
		"GET /org":                       all,
		"POST /org":                      editors,
		"GET /software/catalog":          all,
		"POST /software/catalog":         editors,
		"GET /zones":                     all,
		"GET /flows":                     all,
		"GET /neighbours":                all,
		"GET /deviations":                readers,
		"GET /deviations/{id}":           readers,
		"POST /deviations/{id}/status":   handlers,
		"POST /deviations/{id}/comments": handlers,

		"GET /api/v1/hosts":                        all,
		"GET /api/v1/hosts/{id}":                   all,
		"GET /api/v1/hosts/{id}/inventory":         all,
		"GET /api/v1/hosts/{id}/inventory/history": all,
		"GET /api/v1/hosts/{id}/media":             all,
		"GET /api/v1/software":                     all,
		"GET /api/v1/media":                        all,
		"GET /api/v1/media/register":               all,
		"GET /api/v1/media/register.csv":           all,
		"POST /api/v1/media/register":              editors,
		"DELETE /api/v1/media/register/{key}":      editors,
		"GET /api/v1/assets":                       all,
		"GET /api/v1/assets.csv":                   all,
		"POST /api/v1/assets":                      editors,
		"DELETE /api/v1/assets/{tag}":              editors,
		"GET /api/v1/org/units":                    all,
		"GET /api/v1/org/units.csv":                all,
		"POST /api/v1/org/units":                   editors,
		"GET /api/v1/org/people":                   all,
		"GET /api/v1/org/people.csv":               all,
		"POST /api/v1/org/people":                  editors,
		"GET /api/v1/org/suppliers":                {model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet, model.RoleRevisor},
		"GET /api/v1/org/suppliers.csv":            {model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet, model.RoleRevisor},
		"POST /api/v1/org/suppliers":               editors,
		"GET /api/v1/org/shared-solutions":         {model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet, model.RoleRevisor},
		"GET /api/v1/org/shared-solutions.csv":     {model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet, model.RoleRevisor},
		"POST /api/v1/org/shared-solutions":        editors,
		"DELETE /api/v1/org/{kind}/{id}":           editors,
		"GET /api/v1/software/catalog":             all,
		"GET /api/v1/software/catalog.csv":         all,
		"POST /api/v1/software/catalog":            editors,
		"DELETE /api/v1/software/catalog/{id}":     editors,
		"GET /api/v1/zones":                        all,
		"GET /api/v1/zones/matrix":                 all,
		"GET /api/v1/flows":                        all,
		"GET /api/v1/neighbours":                   all,
		"GET /configmap":                           all,
		"POST /configmap/snapshots":                {model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet},
		"GET /api/v1/configmap":                    all,
		"GET /api/v1/configmap/snapshots":          all,
		"POST /api/v1/configmap/snapshots":         {model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet},
		"GET /api/v1/configmap/snapshots/{id}":     all,
		"GET /api/v1/configmap/diff":               all,
		"GET /api/v1/deviations":                   readers,
		"GET /api/v1/deviations/{id}":              readers,
		"POST /api/v1/deviations/{id}/status":      handlers,
		"POST /api/v1/deviations/{id}/comments":    handlers,
		"POST /api/v1/deviations/{id}/exception":   {model.RoleAdmin, model.RoleSikkerhet},
		"POST /api/v1/deviations/{id}/breach":      {model.RoleAdmin, model.RoleSikkerhet},
		"GET /api/v1/exceptions":                   readers,
		"DELETE /api/v1/exceptions/{id}":           {model.RoleAdmin, model.RoleSikkerhet},
		"GET /api/v1/breaches":                     readers,
		"GET /api/v1/breaches.csv":                 readers,
		"POST /deviations/{id}/exception":          {model.RoleAdmin, model.RoleSikkerhet},
		"POST /deviations/{id}/breach":             {model.RoleAdmin, model.RoleSikkerhet},

		// Administration, the audit log and assignment (admin_test.go).
		"GET /admin":                            {model.RoleAdmin},
		"POST /admin/users":                     {model.RoleAdmin},
		"POST /admin/users/{name}":              {model.RoleAdmin},
		"POST /admin/users/{name}/password":     {model.RoleAdmin},
		"POST /admin/tokens":                    {model.RoleAdmin},
		"POST /admin/tokens/{id}/revoke":        {model.RoleAdmin},
		"POST /admin/enroll-tokens":             {model.RoleAdmin},
		"POST /admin/enroll-tokens/{id}/revoke": {model.RoleAdmin},
		"POST /admin/agents/{id}/revoke":        {model.RoleAdmin},
		"GET /audit":                            {model.RoleAdmin, model.RoleSikkerhet, model.RoleRevisor},
		"GET /api/v1/audit":                     {model.RoleAdmin, model.RoleSikkerhet, model.RoleRevisor},
		"POST /audit/export":                    {model.RoleAdmin, model.RoleSikkerhet, model.RoleRevisor},
		"POST /deviations/{id}/assign":          handlers,
		"POST /api/v1/deviations/{id}/assign":   handlers,
	}
}()

// routeRequest builds a request for a route pattern that its handler would
// accept from a permitted role: real ids, a well-formed body.
func routeRequest(t *testing.T, pattern string) *http.Request {
	t.Helper()
	if req := softwareRouteRequest(pattern); req != nil {
		return req
	}
	if req := orgRouteRequest(pattern); req != nil {
		return req
	}
	if req := exceptionRouteRequest(pattern); req != nil {
		return req
	}
	if req := adminRouteRequest(pattern); req != nil {
		return req
	}
	if req := auditExportRouteRequest(pattern); req != nil {
		return req
	}
	method, path, _ := strings.Cut(pattern, " ")
	path = strings.TrimSuffix(path, "{$}")
	path = strings.NewReplacer("{id}", invHost, "{key}", url.PathEscape(stickKey), "{tag}", "K-0001").Replace(path)
	if strings.HasPrefix(path, "/deviations/") || strings.HasPrefix(path, "/api/v1/deviations/") {
		path = strings.Replace(path, invHost, "AVVIK-2026-2", 1)
	}
	path = strings.Replace(path, "/configmap/snapshots/"+invHost, "/configmap/snapshots/1", 1) // sampleConfigMap's
	var body string
	ct := "application/x-www-form-urlencoded"
	switch pattern {
	case "GET /api/v1/software":
		path += "?name=ssl"
	case "POST /media/register":
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("file", "r.csv")
		_, _ = fw.Write([]byte(registerCSV))
		_ = mw.Close()
		body, ct = b.String(), mw.FormDataContentType()
	case "POST /assets":
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("file", "a.csv")
		_, _ = fw.Write([]byte(assetsCSV))
		_ = mw.Close()
		body, ct = b.String(), mw.FormDataContentType()
	case "POST /media/register/delete":
		body = url.Values{"key": {stickKey}}.Encode()
	case "POST /deviations/{id}/status":
		body = url.Values{"status": {"avvist"}, "reason": {"feil regel"}}.Encode()
	case "POST /deviations/{id}/comments":
		body = url.Values{"text": {"sett"}}.Encode()
	case "POST /api/v1/media/register":
		body, ct = registerCSV, "text/csv"
	case "POST /api/v1/assets":
		body, ct = assetsCSV, "text/csv"
	case "POST /api/v1/deviations/{id}/status":
		body, ct = `{"status":"avvist","reason":"feil regel"}`, "application/json"
	case "POST /api/v1/deviations/{id}/comments":
		body, ct = `{"text":"sett"}`, "application/json"
	}
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if method != http.MethodGet {
		req.Header.Set("Content-Type", ct)
	}
	return req
}

// withCSRF adds the session's CSRF token the way the route's kind expects:
// a form field for pages, the header for the API.
func withCSRF(t *testing.T, req *http.Request, kind routeKind, csrf string) *http.Request {
	t.Helper()
	if kind == apiRoute || req.Method == http.MethodGet {
		req.Header.Set(csrfHeader, csrf)
		return req
	}
	ct := req.Header.Get("Content-Type")
	b := new(bytes.Buffer)
	_, _ = b.ReadFrom(req.Body)
	if strings.HasPrefix(ct, "multipart/") {
		// Put the token first as its own part.
		_, params, _ := strings.Cut(ct, "boundary=")
		b = bytes.NewBufferString("--" + params + "\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + csrf + "\r\n" + b.String())
	} else {
		b = bytes.NewBufferString("csrf=" + url.QueryEscape(csrf) + "&" + b.String())
	}
	out := httptest.NewRequest(req.Method, req.URL.String(), b)
	out.Header = req.Header.Clone()
	return out
}

// routeEnv is an env with hosts, media, deviations and a register, so that
// every route has something to act on.
func routeEnv(t *testing.T) *testEnv {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleInventory()
	e.sampleMedia()
	e.sampleDeviations()
	withSoftwareCSV(e)
	e.sampleConfigMap(t)
	return e
}

func reseed(t *testing.T, e *testEnv) {
	t.Helper()
	reseedSoftware(t, e)
	reseedOrg(t, e)
	reseedExceptions(e)
	reseedAdmin(t, e)
	if _, err := e.store.ImportMediaRegister(t.Context(), []model.MediaEntry{{VID: "0951", PID: "1666", Serial: "E0D55EA57486"}}, true, "test", e.clock.now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportAssets(t.Context(), []model.Asset{{Tag: "K-0001", Type: model.AssetPC, MACs: []string{"aa:bb:cc:dd:ee:01"}}}, true, "test", e.clock.now()); err != nil {
		t.Fatal(err)
	}
	// The line managers of the role test, by token name and by user name,
	// handle AVVIK-2026-2: one manages its unit, the other has it in person.
	ctx, at := t.Context(), e.clock.now()
	if _, err := e.store.ImportPeople(ctx, []model.Person{
		{ID: "leder-token", Name: "Leder (token)", Unit: "kd", Username: string(model.RoleLeder), Roles: []string{"leder"}},
		{ID: "leder-user", Name: "Leder (user)", Unit: "kd", Username: "u-" + string(model.RoleLeder), Roles: []string{"leder"}},
	}, false, "test", at); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportUnits(ctx, []model.Unit{{ID: "kd", Name: "KD", Manager: "leder-token"}}, false, "test", at); err != nil {
		t.Fatal(err)
	}
	e.store.mu.Lock()
	if x := e.store.devs["AVVIK-2026-2"]; x != nil {
		x.d.Status = model.StatusHandling
		x.d.Assignees = []string{"role:sikkerhet", "unit:kd:leder", "person:leder-user"}
	}
	e.store.mu.Unlock()
}

func TestRouteTableMatchesRoles(t *testing.T) {
	e := newEnv(t, false)
	got := map[string][]model.Role{}
	for _, rt := range e.srv.routeTable() {
		if _, dup := got[rt.pattern]; dup {
			t.Errorf("route %s listed twice", rt.pattern)
		}
		got[rt.pattern] = rt.roles
	}
	for _, p := range slices.Sorted(maps.Keys(wantRoles)) {
		if !slices.Equal(got[p], wantRoles[p]) {
			t.Errorf("route %s roles = %v, want %v", p, got[p], wantRoles[p])
		}
	}
	for p := range got {
		if _, ok := wantRoles[p]; !ok {
			t.Errorf("route %s is not in this test's table; add who may use it", p)
		}
	}
}

// TestRoutesRefuseOtherRoles calls every route as every role, by token and
// (for pages) by session with a valid CSRF token: permitted roles get
// through, the others get 403 and change nothing.
func TestRoutesRefuseOtherRoles(t *testing.T) {
	e := routeEnv(t)
	tokens := map[model.Role]string{}
	sessions := map[model.Role]*http.Cookie{}
	for _, role := range model.Roles {
		tokens[role] = e.token(t, role)
		name := "u-" + string(role)
		e.addUser(t, name, "hemmelig-passord", role)
		sessions[role] = e.login(t, name, "hemmelig-passord")
	}
	for _, rt := range e.srv.routeTable() {
		for _, role := range model.Roles {
			reseed(t, e)
			auditBefore := len(e.store.auditEvents())
			req := routeRequest(t, rt.pattern)
			if rt.kind == apiRoute {
				req.Header.Set("Authorization", tokens[role])
			} else {
				req.AddCookie(sessions[role])
				req = withCSRF(t, req, rt.kind, sessionFromCookie(t, e, sessions[role]).CSRF)
			}
			rec := e.do(req)
			allowed := slices.Contains(wantRoles[rt.pattern], role)
			switch {
			case allowed && rec.Code >= 400:
				t.Errorf("%s as %s = %d, want success\n%.300s", rt.pattern, role, rec.Code, rec.Body)
			case !allowed && rec.Code != http.StatusForbidden:
				t.Errorf("%s as %s = %d, want 403", rt.pattern, role, rec.Code)
			case !allowed && len(e.store.auditEvents()) != auditBefore:
				t.Errorf("%s as %s was refused but changed the audit log", rt.pattern, role)
			}
		}
	}
}

// TestUnsafeRoutesNeedCSRF: every state-changing route, used with a session,
// is refused without the session's CSRF token or with a wrong one, and
// changes nothing; with the right one it goes through. A bearer token needs
// none.
func TestUnsafeRoutesNeedCSRF(t *testing.T) {
	e := routeEnv(t)
	e.addUser(t, "root", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "root", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF
	admin := e.token(t, model.RoleAdmin)
	unsafe := 0
	for _, rt := range e.srv.routeTable() {
		if safeMethod(methodOf(rt.pattern)) {
			continue
		}
		unsafe++
		for _, tc := range []struct {
			name  string
			token string
			want  bool
		}{
			{"no token", "", false},
			{"wrong token", randomToken(csrfBytes), false},
			{"right token", csrf, true},
		} {
			reseed(t, e)
			auditBefore := len(e.store.auditEvents())
			req := routeRequest(t, rt.pattern)
			req.AddCookie(sc)
			if tc.token != "" {
				req = withCSRF(t, req, rt.kind, tc.token)
			}
			rec := e.do(req)
			switch {
			case tc.want && rec.Code >= 400:
				t.Errorf("%s with session and %s = %d, want success\n%.300s", rt.pattern, tc.name, rec.Code, rec.Body)
			case !tc.want && rec.Code != http.StatusForbidden:
				t.Errorf("%s with session and %s = %d, want 403", rt.pattern, tc.name, rec.Code)
			case !tc.want && len(e.store.auditEvents()) != auditBefore:
				t.Errorf("%s with session and %s changed the audit log", rt.pattern, tc.name)
			}
		}
		if rt.kind == apiRoute {
			reseed(t, e)
			req := routeRequest(t, rt.pattern)
			req.Header.Set("Authorization", admin)
			if rec := e.do(req); rec.Code >= 400 {
				t.Errorf("%s with a bearer token and no CSRF = %d, want success", rt.pattern, rec.Code)
			}
		}
	}
	if unsafe < 8 {
		t.Fatalf("found %d state-changing routes; the table walk is broken", unsafe)
	}

	// Without any login: pages refuse with 401 (not a redirect), the API with 401.
	for _, rt := range e.srv.routeTable() {
		if safeMethod(methodOf(rt.pattern)) {
			continue
		}
		if rec := e.do(routeRequest(t, rt.pattern)); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without login = %d, want 401", rt.pattern, rec.Code)
		}
	}
}

func TestCrossOriginFormRefused(t *testing.T) {
	e := routeEnv(t)
	e.addUser(t, "root", "hemmelig-passord", model.RoleAdmin)
	sc := e.login(t, "root", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF
	req := withCSRF(t, routeRequest(t, "POST /deviations/{id}/comments"), pageRoute, csrf)
	req.AddCookie(sc)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if rec := e.do(req); rec.Code != http.StatusForbidden {
		t.Errorf("cross-site form post with a valid token = %d, want 403", rec.Code)
	}
}
