package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
)

// testParseSoftwareCSV adapts the register package's parser as the
// collector does.
var testParseSoftwareCSV = testCSVParser(register.ParseSoftwareCSV)

const softwareCSVHeader = "verdict,name,publisher,source,min_version,max_version,reason,owner_unit"

const softwareCSV = softwareCSVHeader + "\n" +
	"approved,Firefox*,Mozilla*,,115.0,,Standard browser,IT\n" +
	"denied,utorrent,,windows,,,=cmd|' /C calc'!A0,Helse og omsorg\n"

// softwareRouteID is the entry reseedSoftware keeps in the catalogue, for
// the route tests' DELETE.
const softwareRouteID = "denied:*miner*::"

// withSoftwareCSV gives e's server the catalogue's CSV form, as the
// collector wires it, and counts the change notices it sends.
func withSoftwareCSV(e *testEnv) *atomic.Int32 {
	var changed atomic.Int32
	e.srv.parseSoftwareCSV, e.srv.writeSoftwareCSV = testParseSoftwareCSV, register.WriteSoftwareCSV
	e.srv.onSoftwareChange = func(context.Context) { changed.Add(1) }
	return &changed
}

// reseedSoftware makes the catalogue one denied entry, softwareRouteID.
func reseedSoftware(t *testing.T, e *testEnv) {
	t.Helper()
	e2 := model.SoftwareEntry{Verdict: model.SoftwareDenied, NamePattern: "*miner*", Reason: "Crypto mining"}
	if _, err := e.store.ImportSoftwareCatalog(t.Context(), []model.SoftwareEntry{e2}, true, "test", e.clock.now()); err != nil {
		t.Fatal(err)
	}
}

// softwareRouteRequest builds a request a permitted role succeeds with for
// the software catalogue's routes, or nil for another route.
func softwareRouteRequest(pattern string) *http.Request {
	switch pattern {
	case "POST /software/catalog":
		return csvFormRequest("/software/catalog", nil, new(softwareCSV))
	case "POST /api/v1/software/catalog":
		req := httptest.NewRequest(http.MethodPost, "/api/v1/software/catalog", strings.NewReader(softwareCSV))
		req.Header.Set("Content-Type", "text/csv")
		return req
	case "DELETE /api/v1/software/catalog/{id}":
		return httptest.NewRequest(http.MethodDelete, "/api/v1/software/catalog/"+url.PathEscape(softwareRouteID), nil)
	}
	return nil
}

type softwareBody struct {
	Entries []struct {
		ID        string `json:"id"`
		Verdict   string `json:"verdict"`
		Name      string `json:"name"`
		Publisher string `json:"publisher"`
		Source    string `json:"source"`
		Min       string `json:"min_version"`
		Max       string `json:"max_version"`
		Reason    string `json:"reason"`
		UpdatedBy string `json:"updated_by"`
	} `json:"entries"`
}

func TestAPISoftwareCatalogImportAndRead(t *testing.T) {
	e := newEnv(t, false)
	changed := withSoftwareCSV(e)
	drift := e.token(t, model.RoleDrift)
	revisor := e.token(t, model.RoleRevisor)

	rec := e.apiSend(http.MethodPost, "/api/v1/software/catalog", "text/csv; charset=utf-8", softwareCSV, drift)
	if rec.Code != http.StatusOK {
		t.Fatalf("import = %d, want 200\n%s", rec.Code, rec.Body)
	}
	if b := decodeImport(t, rec); b.Mode != "merge" || b.Added != 2 {
		t.Errorf("import = %+v, want merge with 2 added", b)
	}
	if got := e.store.softwareEntries(); len(got) != 2 || got["denied:utorrent::windows"].Reason != "=cmd|' /C calc'!A0" {
		t.Errorf("store holds %+v", got)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "software.catalog.add"); !ok || !strings.HasPrefix(ev.Actor, "token:") {
		t.Errorf("audit = %v, want software.catalog.add by the token", auditActions(e.store.auditEvents()))
	}
	if n := changed.Load(); n != 1 {
		t.Errorf("%d change notices after an import, want 1", n)
	}

	// Every role reads.
	rec = e.apiGet("/api/v1/software/catalog", revisor)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET catalogue = %d\n%s", rec.Code, rec.Body)
	}
	var sb softwareBody
	if err := json.Unmarshal(rec.Body.Bytes(), &sb); err != nil {
		t.Fatal(err)
	}
	if len(sb.Entries) != 2 || sb.Entries[0].ID != "approved:firefox*:mozilla*:" || sb.Entries[0].Name != "Firefox*" ||
		sb.Entries[0].Min != "115.0" || sb.Entries[1].Verdict != "denied" || sb.Entries[1].Source != "windows" {
		t.Errorf("GET catalogue = %+v", sb)
	}

	// The export is an attachment, neutralised, and imports back unchanged.
	recs, export := checkCSVExport(t, e, "/api/v1/software/catalog.csv", revisor, 3)
	if reason := recs[2][6]; reason != "'=cmd|' /C calc'!A0" {
		t.Errorf("exported reason = %q, want the formula neutralised", reason)
	}
	checkUnchangedImport(t, e, "/api/v1/software/catalog", export, drift, 2)
	if n := changed.Load(); n != 1 {
		t.Errorf("%d change notices after an import that changed nothing, want still 1", n)
	}

	// Delete by ID (escaped in the path), then 404.
	path := "/api/v1/software/catalog/" + url.PathEscape("denied:utorrent::windows")
	if rec := e.apiSend(http.MethodDelete, path, "", "", drift); rec.Code != http.StatusOK {
		t.Fatalf("DELETE = %d\n%s", rec.Code, rec.Body)
	}
	if _, ok := e.store.softwareEntries()["denied:utorrent::windows"]; ok {
		t.Error("the entry is still in the catalogue")
	}
	if rec := e.apiSend(http.MethodDelete, path, "", "", drift); rec.Code != http.StatusNotFound {
		t.Errorf("second DELETE = %d, want 404", rec.Code)
	}
	if _, ok := findAudit(e.store.auditEvents(), "software.catalog.remove"); !ok || changed.Load() != 2 {
		t.Errorf("audit = %v, %d notices; want software.catalog.remove and 2", auditActions(e.store.auditEvents()), changed.Load())
	}

	// An ID with a slash, a question mark and a percent sign is one path segment, escaped.
	odd := softwareCSVHeader + "\ndenied,tools/x?100%,,,,,,\n"
	if b := decodeImport(t, e.apiSend(http.MethodPost, "/api/v1/software/catalog", "text/csv", odd, drift)); b.Added != 1 {
		t.Fatalf("import of an odd name = %+v", b)
	}
	if rec := e.apiSend(http.MethodDelete, "/api/v1/software/catalog/"+url.PathEscape("denied:tools/x?100%::"), "", "", drift); rec.Code != http.StatusOK {
		t.Errorf("DELETE of an odd ID = %d\n%s", rec.Code, rec.Body)
	}

	// The longest ID the register makes can be deleted; a longer one is refused.
	long := softwareCSVHeader + "\ndenied," + strings.Repeat("n", 256) + "," + strings.Repeat("p", 256) + ",windows,,,,\n"
	if b := decodeImport(t, e.apiSend(http.MethodPost, "/api/v1/software/catalog", "text/csv", long, drift)); b.Added != 1 {
		t.Fatalf("import of the longest patterns = %+v", b)
	}
	longID := "denied:" + strings.Repeat("n", 256) + ":" + strings.Repeat("p", 256) + ":windows"
	if rec := e.apiSend(http.MethodDelete, "/api/v1/software/catalog/"+longID, "", "", drift); rec.Code != http.StatusOK {
		t.Errorf("DELETE of the longest ID = %d\n%s", rec.Code, rec.Body)
	}
	if rec := e.apiSend(http.MethodDelete, "/api/v1/software/catalog/"+strings.Repeat("x", 1025), "", "", drift); rec.Code != http.StatusBadRequest {
		t.Errorf("DELETE of an overlong ID = %d, want 400", rec.Code)
	}

	// Replace leaves exactly the file.
	one := softwareCSVHeader + "\ndenied,*miner*,,,,,Crypto mining,\n"
	b := decodeImport(t, e.apiSend(http.MethodPost, "/api/v1/software/catalog?mode=replace", "text/csv", one, drift))
	if b.Mode != "replace" || b.Added != 1 || b.Removed != 1 || len(e.store.softwareEntries()) != 1 {
		t.Errorf("replace = %+v, catalogue %v", b, e.store.softwareEntries())
	}
}

func TestAPISoftwareCatalogRefused(t *testing.T) {
	e := newEnv(t, false)
	withSoftwareCSV(e)
	drift := e.token(t, model.RoleDrift)
	admin := e.token(t, model.RoleAdmin)
	if rec := e.apiSend(http.MethodPost, "/api/v1/software/catalog", "text/csv", softwareCSV, admin); rec.Code != http.StatusOK {
		t.Fatalf("admin import = %d\n%s", rec.Code, rec.Body)
	}

	// Writing needs admin or drift; reading does not.
	checkRegisterRoles(t, e, "/api/v1/software/catalog", "/api/v1/software/catalog/x", softwareCSV)

	// Problems: 422 with the lines, nothing imported.
	bad := softwareCSVHeader + "\n" +
		"maybe,x,,,,,,\n" +
		"denied,y[0-9],,,,,,\n" +
		"denied,z,,,,,,\n"
	refused := checkLineProblems(t, e, "/api/v1/software/catalog", bad, drift, func() int { return len(e.store.softwareEntries()) })
	if len(refused.Problems) > 0 && refused.Problems[0].Message != `verdict "maybe": want approved or denied` {
		t.Errorf("bad import = %+v, want line 2's verdict refused", refused)
	}

	checkImportOptionsRefused(t, e, "/api/v1/software/catalog", softwareCSV, drift)
}

// TestSoftwareCatalogStoreRefused: an entry the store refuses (here a
// parser that lets a repeated entry through) is a 409 with its message.
func TestSoftwareCatalogStoreRefused(t *testing.T) {
	e := newEnv(t, false)
	withSoftwareCSV(e)
	e.srv.parseSoftwareCSV = func(io.Reader, bool) ([]model.SoftwareEntry, []CSVProblem, error) {
		x := model.SoftwareEntry{Verdict: model.SoftwareDenied, NamePattern: "x"}
		return []model.SoftwareEntry{x, x}, nil, nil
	}
	rec := e.apiSend(http.MethodPost, "/api/v1/software/catalog", "text/csv", softwareCSV, e.token(t, model.RoleDrift))
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "denied:x::") {
		t.Errorf("import = %d\n%s", rec.Code, rec.Body)
	}
	if n := len(e.store.softwareEntries()); n != 0 {
		t.Errorf("%d entries written", n)
	}
}

func TestSoftwareCatalogNotConfigured(t *testing.T) {
	e := newEnv(t, false)
	e.srv.parseSoftwareCSV, e.srv.writeSoftwareCSV = nil, nil
	admin := e.token(t, model.RoleAdmin)
	if rec := e.apiGet("/api/v1/software/catalog.csv", admin); rec.Code < 500 {
		t.Errorf("export without a writer = %d, want a 5xx", rec.Code)
	}
	if rec := e.apiSend(http.MethodPost, "/api/v1/software/catalog", "text/csv", softwareCSV, admin); rec.Code < 500 {
		t.Errorf("import without a parser = %d, want a 5xx", rec.Code)
	}
	// New takes them from the Config.
	srv, err := New(Config{Store: newFakeStore(), ParseSoftwareCSV: testParseSoftwareCSV, WriteSoftwareCSV: register.WriteSoftwareCSV,
		SoftwareCatalogChanged: func(context.Context) {}})
	if err != nil || srv.parseSoftwareCSV == nil || srv.writeSoftwareCSV == nil || srv.onSoftwareChange == nil {
		t.Errorf("New did not keep the software catalogue's Config (%v)", err)
	}
}

func TestSoftwareCatalogPage(t *testing.T) {
	e := newEnv(t, false)
	withSoftwareCSV(e)
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "dag", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF

	body := e.get("/software/catalog", sc).Body.String()
	for _, w := range []string{`<a href="/software/catalog" aria-current="page">Programvarekatalog</a>`, translate("nb", "software_catalog.empty"),
		`action="/software/catalog"`, `enctype="multipart/form-data"`, `name="csrf" value="` + csrf + `"`,
		`type="radio" value="merge" checked`, `href="/api/v1/software/catalog.csv"`} {
		if !strings.Contains(body, w) {
			t.Errorf("empty catalogue page lacks %q", w)
		}
	}

	// No token, wrong token: refused, nothing imported.
	for _, tok := range []string{"", "wrong"} {
		if rec := e.csvUpload(t, sc, "/software/catalog", tok, "merge", false, new(softwareCSV)); rec.Code != http.StatusForbidden {
			t.Errorf("upload with token %q = %d, want 403", tok, rec.Code)
		}
	}
	if n := len(e.store.softwareEntries()); n != 0 {
		t.Fatalf("%d entries imported without a CSRF token", n)
	}

	rec := e.csvUpload(t, sc, "/software/catalog", csrf, "merge", false, new(softwareCSV))
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/software/catalog?") {
		t.Fatalf("upload = %d to %q, want 303 back to the page\n%s", rec.Code, loc, rec.Body)
	}
	body = e.get(loc, sc).Body.String()
	for _, w := range []string{"Programvarekatalogen er oppdatert.", "2 lagt til, 0 endret, 0 fjernet, 0 uendret.",
		"Firefox*", "Mozilla*", "fra 115.0", "Standard browser", `<span class="badge">forbudt</span>`, "godkjent",
		"utorrent", "windows", "Helse og omsorg", "2 oppføringer"} {
		if !strings.Contains(body, w) {
			t.Errorf("page after upload lacks %q", w)
		}
	}

	// Problems are listed line by line and nothing is imported.
	bad := softwareCSVHeader + "\nmaybe,x,,,,,,\n"
	rec = e.csvUpload(t, sc, "/software/catalog", csrf, "merge", false, new(bad))
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad upload = %d, want 422", rec.Code)
	}
	body = rec.Body.String()
	for _, w := range []string{translatef("nb", "register.refused", 1), translate("nb", "register.problems"), "maybe"} {
		if !strings.Contains(body, w) {
			t.Errorf("refused upload page lacks %q\n%s", w, body)
		}
	}
	// valid_only shows the skipped lines at once.
	rec = e.csvUpload(t, sc, "/software/catalog", csrf, "merge", true, new(softwareCSVHeader+"\nmaybe,x,,,,,,\ndenied,*miner*,,,1.0,2.0,,\n"))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "maybe") || !strings.Contains(rec.Body.String(), "fra 1.0, under 2.0") {
		t.Errorf("valid-only upload = %d\n%s", rec.Code, rec.Body)
	}
	if n := len(e.store.softwareEntries()); n != 3 {
		t.Errorf("catalogue has %d entries, want 3", n)
	}

	// A reader sees the catalogue in English but no upload form, and may not post.
	rut := e.login(t, "rut", "hemmelig-passord")
	body = e.get("/software/catalog?lang=en", rut).Body.String()
	if !strings.Contains(body, "Software catalogue") || !strings.Contains(body, "denied") || strings.Contains(body, `action="/software/catalog"`) {
		t.Errorf("reader's page: want the English catalogue without the form\n%s", body)
	}
	rutCSRF := sessionFromCookie(t, e, rut).CSRF
	if rec := e.csvUpload(t, rut, "/software/catalog", rutCSRF, "merge", false, new(softwareCSV)); rec.Code != http.StatusForbidden {
		t.Errorf("reader's upload = %d, want 403", rec.Code)
	}
}
