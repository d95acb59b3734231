package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
)

var orgSHA = strings.Repeat("ab", 32)

// The organisation register's test files, in the order they can be
// imported into an empty register.
const (
	orgUnitsCSV     = "id,name,parent,manager\nkd,Kommunedirektøren,,\nhelse,Helse og omsorg,kd,\n"
	orgPeopleCSV    = "id,name,email,unit,roles,username,lang\nsiri,Siri Sikker,siri@kommune.no,kd,sikkerhet,siri,nb\nola,Ola Hansen,ola@kommune.no,helse,leder,ola,en\n"
	orgManagersCSV  = "id,name,parent,manager\nhelse,Helse og omsorg,kd,ola\n"
	orgSuppliersCSV = "id,name,supplier,accounts,declaration_signed,declaration_sha256\nacme-ola,Ola Acme,=Acme Drift AS,acme-svc|DOMAIN\\acme.ola,2026-01-15,"
	orgSharedCSV    = "host,zones,risk_accepted_by,risk_accepted_at,document_sha256\nsrv-delt,admin skole,siri,2026-02-01,"
)

// reseedOrg puts back what the route walk's organisation routes act on: an
// officer, and the shared solution DELETE removes.
func reseedOrg(t *testing.T, e *testEnv) {
	t.Helper()
	ctx, at := t.Context(), e.clock.now()
	if _, err := e.store.ImportUnits(ctx, []model.Unit{{ID: "kd", Name: "KD"}}, false, "test", at); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportPeople(ctx, []model.Person{{ID: "siri", Name: "Siri", Unit: "kd", Roles: []string{"sikkerhet"}}}, false, "test", at); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportSharedSolutions(ctx, []model.SharedSolution{{Host: "srv-delt", Zones: []string{"admin", "skole"},
		RiskAcceptedBy: "siri", RiskAcceptedAt: at, DocumentSHA256: orgSHA}}, false, "test", at); err != nil {
		t.Fatal(err)
	}
}

// orgRouteRequest builds a request a permitted role succeeds with for the
// organisation register's routes, or nil for another route.
func orgRouteRequest(pattern string) *http.Request {
	csvFor := map[string]string{
		"units": orgUnitsCSV, "people": orgPeopleCSV, "suppliers": orgSuppliersCSV + orgSHA + "\n",
		"shared-solutions": orgSharedCSV + orgSHA + "\n",
	}
	switch {
	case pattern == "POST /org":
		return csvFormRequest("/org", url.Values{"kind": {"suppliers"}}, new(csvFor["suppliers"]))
	case pattern == "DELETE /api/v1/org/{kind}/{id}":
		return httptest.NewRequest(http.MethodDelete, "/api/v1/org/shared-solutions/srv-delt", nil)
	case strings.HasPrefix(pattern, "POST /api/v1/org/"):
		path := strings.TrimPrefix(pattern, "POST ")
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(csvFor[strings.TrimPrefix(path, "/api/v1/org/")]))
		req.Header.Set("Content-Type", "text/csv")
		return req
	}
	return nil
}

// orgUpload posts the organisation page's form.
func (e *testEnv) orgUpload(t *testing.T, sc *http.Cookie, csrf, kind, mode, file string) *httptest.ResponseRecorder {
	t.Helper()
	req := csvFormRequest("/org", url.Values{"csrf": {csrf}, "kind": {kind}, "mode": {mode}}, &file)
	req.AddCookie(sc)
	return e.do(req)
}

func TestOrgAPIImportReadExport(t *testing.T) {
	e := newEnv(t, false)
	drift := e.token(t, model.RoleDrift)
	leder := e.token(t, model.RoleLeder)
	revisor := e.token(t, model.RoleRevisor)
	for _, step := range []struct{ path, body string }{
		{"/api/v1/org/units", orgUnitsCSV},
		{"/api/v1/org/people", orgPeopleCSV},
		{"/api/v1/org/units", orgManagersCSV},
		{"/api/v1/org/suppliers", orgSuppliersCSV + orgSHA + "\n"},
		{"/api/v1/org/shared-solutions", orgSharedCSV + orgSHA + "\n"},
	} {
		if rec := e.apiSend(http.MethodPost, step.path, "text/csv", step.body, drift); rec.Code != http.StatusOK {
			t.Fatalf("POST %s = %d\n%s", step.path, rec.Code, rec.Body)
		}
	}
	wantAudit := []string{"org.unit.add kd", "org.unit.add helse", "org.person.add siri", "org.person.add ola",
		"org.unit.update helse", "org.supplier.add acme-ola", "org.shared.add srv-delt"}
	if got := e.store.orgAuditActions(); !reflect.DeepEqual(got, wantAudit) {
		t.Errorf("audit %v, want %v", got, wantAudit)
	}

	// A line manager reads units and people, not suppliers.
	rec := e.apiGet("/api/v1/org/people", leder)
	var pb struct{ People []apiPerson }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &pb) != nil || len(pb.People) != 2 ||
		pb.People[0].ID != "ola" || pb.People[0].Lang != "en" || !reflect.DeepEqual(pb.People[1].Roles, []string{"sikkerhet"}) {
		t.Errorf("GET people as leder = %d %s", rec.Code, rec.Body)
	}
	if rec := e.apiGet("/api/v1/org/suppliers", leder); rec.Code != http.StatusForbidden {
		t.Errorf("GET suppliers as leder = %d, want 403", rec.Code)
	}
	rec = e.apiGet("/api/v1/org/suppliers", revisor)
	var sb struct{ Suppliers []apiSupplierPerson }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &sb) != nil || len(sb.Suppliers) != 1 ||
		sb.Suppliers[0].Supplier != "=Acme Drift AS" || sb.Suppliers[0].DeclarationSigned != "2026-01-15" ||
		!sb.Suppliers[0].DeclarationValid || !reflect.DeepEqual(sb.Suppliers[0].Accounts, []string{"acme-svc", `DOMAIN\acme.ola`}) {
		t.Errorf("GET suppliers as revisor = %d %s", rec.Code, rec.Body)
	}

	// The export neutralises the formula and reads back to the same register.
	rec = e.apiGet("/api/v1/org/suppliers.csv", revisor)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "'=Acme Drift AS") ||
		!strings.HasPrefix(rec.Header().Get("Content-Disposition"), `attachment; filename="org-suppliers-`) {
		t.Fatalf("GET suppliers.csv = %d %q\n%s", rec.Code, rec.Header(), rec.Body)
	}
	back, rep, err := register.ParseSupplierPeopleCSV(rec.Body, register.ParseOptions{})
	held, _ := e.store.SupplierPeople(t.Context())
	if err != nil || !rep.OK() || len(back) != 1 || back[0].Supplier != held[0].Supplier || !reflect.DeepEqual(back[0].Accounts, held[0].Accounts) {
		t.Errorf("suppliers.csv reads back as %+v (%v, %s)", back, err, rep.Error())
	}
	rec = e.apiGet("/api/v1/org/units.csv", leder)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "helse,Helse og omsorg,kd,ola") {
		t.Errorf("GET units.csv = %d\n%s", rec.Code, rec.Body)
	}
}

func TestOrgAPIRefusals(t *testing.T) {
	e := newEnv(t, false)
	drift := e.token(t, model.RoleDrift)
	for _, step := range []struct{ kind, body string }{{"units", orgUnitsCSV}, {"people", orgPeopleCSV}, {"units", orgManagersCSV}} {
		if rec := e.apiSend(http.MethodPost, "/api/v1/org/"+step.kind, "text/csv", step.body, drift); rec.Code != http.StatusOK {
			t.Fatalf("setup import of %s = %d\n%s", step.kind, rec.Code, rec.Body)
		}
	}
	auditBefore := len(e.store.auditEvents())
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"bad line", http.MethodPost, "/api/v1/org/people", "id,name,email\nper,Per,per@\n", http.StatusUnprocessableEntity, `"line":2`},
		{"unknown unit", http.MethodPost, "/api/v1/org/people", "id,name,unit\nper,Per,skole\n", http.StatusUnprocessableEntity, `unit \"skole\" is not a registered unit`},
		{"unknown manager", http.MethodPost, "/api/v1/org/units", "id,name,manager\nskole,Skole,rektor\n", http.StatusUnprocessableEntity, "rektor"},
		{"last officer", http.MethodPost, "/api/v1/org/people?mode=replace", "id,name,unit\nola,Ola,helse\n", http.StatusConflict, "last information security officer (sikkerhet): siri"},
		{"manager deleted", http.MethodDelete, "/api/v1/org/people/ola", "", http.StatusConflict, "manager ola"},
		{"unknown kind", http.MethodDelete, "/api/v1/org/robots/x", "", http.StatusNotFound, ""},
		{"absent id", http.MethodDelete, "/api/v1/org/suppliers/nobody", "", http.StatusNotFound, ""},
		{"wrong content type", http.MethodPost, "/api/v1/org/units", orgUnitsCSV, http.StatusUnsupportedMediaType, ""},
	}
	for _, tc := range tests {
		ct := "text/csv"
		if tc.name == "wrong content type" {
			ct = "application/json"
		}
		rec := e.apiSend(tc.method, tc.path, ct, tc.body, drift)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %s %s = %d %s; want %d with %q", tc.name, tc.method, tc.path, rec.Code, rec.Body, tc.status, tc.want)
		}
	}
	if n := len(e.store.auditEvents()); n != auditBefore {
		t.Errorf("refused changes audited: %v", e.store.orgAuditActions())
	}
	// A delete that leaves the organisation whole goes through.
	if rec := e.apiSend(http.MethodPost, "/api/v1/org/units", "text/csv", "id,name,parent\nhelse,Helse og omsorg,kd\n", drift); rec.Code != http.StatusOK {
		t.Fatalf("unmanage helse = %d %s", rec.Code, rec.Body)
	}
	if rec := e.apiSend(http.MethodDelete, "/api/v1/org/people/ola", "", "", drift); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"deleted":"ola"`) {
		t.Errorf("DELETE ola = %d %s", rec.Code, rec.Body)
	}
}

func TestOrgPage(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	e.addUser(t, "liv", "hemmelig-passord", model.RoleLeder)
	sc := e.login(t, "dag", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF

	body := e.get("/org", sc).Body.String()
	for _, w := range []string{`<a href="/org" aria-current="page">Organisasjon</a>`, translate("nb", "org.units.empty"),
		translate("nb", "org.suppliers.empty"), `action="/org"`, `name="csrf" value="` + csrf + `"`, `<option value="units" selected>`,
		`href="/api/v1/org/shared-solutions.csv"`} {
		if !strings.Contains(body, w) {
			t.Errorf("empty org page lacks %q", w)
		}
	}

	steps := []struct{ kind, file string }{{"units", orgUnitsCSV}, {"people", orgPeopleCSV}, {"units", orgManagersCSV},
		{"suppliers", orgSuppliersCSV + orgSHA + "\n"}}
	for _, s := range steps {
		rec := e.orgUpload(t, sc, csrf, s.kind, "merge", s.file)
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/org?") {
			t.Fatalf("upload %s = %d %s\n%s", s.kind, rec.Code, rec.Header().Get("Location"), rec.Body)
		}
	}
	body = e.get("/org?imported=1&kind=units&added=0&updated=1&removed=0&unchanged=1", sc).Body.String()
	for _, w := range []string{translate("nb", "org.imported"), "Helse og omsorg", `href="mailto:ola@kommune.no"`, "acme-svc", "2026-01-15"} {
		if !strings.Contains(body, w) {
			t.Errorf("org page lacks %q", w)
		}
	}

	// A refused file shows its problems and imports nothing.
	rec := e.orgUpload(t, sc, csrf, "people", "merge", "id,name,email\nper,Per,per@\n")
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "is not an e-mail address") {
		t.Errorf("bad upload = %d\n%s", rec.Code, rec.Body)
	}
	rec = e.orgUpload(t, sc, csrf, "people", "replace", "id,name\nola,Ola\n")
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "siri") {
		t.Errorf("upload removing the officer = %d\n%s", rec.Code, rec.Body)
	}
	if rec := e.orgUpload(t, sc, csrf, "robots", "merge", orgUnitsCSV); rec.Code != http.StatusBadRequest {
		t.Errorf("upload of an unknown kind = %d", rec.Code)
	}

	// A line manager sees units and people, not suppliers, and no form.
	lc := e.login(t, "liv", "hemmelig-passord")
	body = e.get("/org", lc).Body.String()
	if !strings.Contains(body, "Helse og omsorg") || strings.Contains(body, "acme-svc") || strings.Contains(body, `action="/org"`) {
		t.Errorf("org page as leder shows suppliers or the form:\n%s", body)
	}
}

func TestOrgCatalogue(t *testing.T) {
	for _, lang := range languages {
		for _, k := range model.OrgKinds {
			if _, ok := catalogs[lang]["org.kind."+k]; !ok {
				t.Errorf("catalogue %s lacks org.kind.%s", lang, k)
			}
		}
		for _, m := range []string{"merge", "replace"} {
			if _, ok := catalogs[lang]["org.mode."+m+".hint"]; !ok {
				t.Errorf("catalogue %s lacks org.mode.%s.hint", lang, m)
			}
		}
	}
}

func TestLeaderScope(t *testing.T) {
	e := newEnv(t, false)
	ctx, at := t.Context(), e.clock.now()
	units := []model.Unit{{ID: "kd", Name: "KD"}, {ID: "helse", Name: "Helse", Parent: "kd"}, {ID: "sykehjem", Name: "Sykehjem", Parent: "helse"}, {ID: "skole", Name: "Skole", Parent: "kd"}}
	people := []model.Person{
		{ID: "siri", Name: "Siri", Roles: []string{"sikkerhet"}, Username: "siri"},
		{ID: "ola", Name: "Ola", Unit: "helse", Roles: []string{"leder"}, Username: "ola"},
	}
	if _, err := e.store.ImportUnits(ctx, units, false, "t", at); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportPeople(ctx, people, false, "t", at); err != nil {
		t.Fatal(err)
	}
	units[1].Manager = "ola"
	if _, err := e.store.ImportUnits(ctx, units, false, "t", at); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user      string
		assignees []string
		want      bool
	}{
		{"ola", []string{"person:siri", "person:ola"}, true},
		{"ola", []string{"person:siri", "unit:helse:leder"}, true},
		{"ola", []string{"person:siri", "unit:sykehjem:leder"}, true}, // below helse
		{"ola", []string{"person:siri", "unit:skole:leder"}, false},
		{"ola", []string{"role:sikkerhet"}, false},
		{"ukjent", []string{"unit:helse:leder"}, false},
		{"", []string{"person:"}, false},
	}
	for _, tc := range tests {
		sc, err := e.srv.leaderScopeOf(ctx, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		if got := sc.sees(tc.assignees); got != tc.want {
			t.Errorf("leaderScopeOf(%q).sees(%v) = %v, want %v", tc.user, tc.assignees, got, tc.want)
		}
	}
}

// TestOrgChangedHook: OrgChanged hears of imports and deletes that changed
// the register, and of nothing else.
func TestOrgChangedHook(t *testing.T) {
	e := newEnv(t, false)
	calls := 0
	srv, err := New(Config{Store: e.store, Now: e.clock.now, OrgChanged: func(context.Context) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.h = srv, srv.Handler()
	drift := e.token(t, model.RoleDrift)
	steps := []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPost, "/api/v1/org/units", orgUnitsCSV, 1},
		{http.MethodPost, "/api/v1/org/units", orgUnitsCSV, 1},        // unchanged
		{http.MethodPost, "/api/v1/org/units", "id,name\nx y,X\n", 1}, // refused
		{http.MethodDelete, "/api/v1/org/units/helse", "", 2},
		{http.MethodDelete, "/api/v1/org/units/helse", "", 2}, // gone already
	}
	for _, s := range steps {
		e.apiSend(s.method, s.path, "text/csv", s.body, drift)
		if calls != s.want {
			t.Errorf("after %s %s: %d calls, want %d", s.method, s.path, calls, s.want)
		}
	}
}
