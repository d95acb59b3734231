package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
)

// testParseAssetsCSV adapts the register package's parser as the collector
// does.
var testParseAssetsCSV = testCSVParser(register.ParseAssetsCSV)

const assetsHeader = "asset_tag,type,serial,macs,hostname,owner_unit,responsible,operated_by,building,room,zone,status,note"

const assetsCSV = assetsHeader + "\n" +
	"K-0001,laptop,SN123,AA-BB-CC-DD-EE-01 aabb.ccdd.ee02,pc-kari,IT,Kari Nordmann,kommunen,Rådhuset,2.14,admin,active,\n" +
	"K-0002,printer,,aa:bb:cc:dd:ee:03,,Oppvekst,Ola,Leverandør AS,Skolen,101,klient,retired,=cmd|' /C calc'!A0\n"

type assetsBody struct {
	Assets []struct {
		Tag       string   `json:"asset_tag"`
		Type      string   `json:"type"`
		MACs      []string `json:"macs"`
		Status    string   `json:"status"`
		Note      string   `json:"note"`
		UpdatedBy string   `json:"updated_by"`
	} `json:"assets"`
}

func TestAPIAssetsImportAndRead(t *testing.T) {
	e := newEnv(t, false)
	drift := e.token(t, model.RoleDrift)
	revisor := e.token(t, model.RoleRevisor)

	rec := e.apiSend(http.MethodPost, "/api/v1/assets", "text/csv; charset=utf-8", assetsCSV, drift)
	if rec.Code != http.StatusOK {
		t.Fatalf("import = %d, want 200\n%s", rec.Code, rec.Body)
	}
	if b := decodeImport(t, rec); b.Mode != "merge" || b.Added != 2 {
		t.Errorf("import = %+v, want merge with 2 added", b)
	}
	if got := e.store.assetEntries(); len(got) != 2 || got["K-0002"].Note != "=cmd|' /C calc'!A0" {
		t.Errorf("store holds %+v", got)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "asset.add"); !ok || !strings.HasPrefix(ev.Actor, "token:") {
		t.Errorf("audit = %v, want asset.add by the token", auditActions(e.store.auditEvents()))
	}

	// Every role reads.
	rec = e.apiGet("/api/v1/assets", revisor)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET assets = %d\n%s", rec.Code, rec.Body)
	}
	var ab assetsBody
	if err := json.Unmarshal(rec.Body.Bytes(), &ab); err != nil {
		t.Fatal(err)
	}
	if len(ab.Assets) != 2 || ab.Assets[0].Tag != "K-0001" || ab.Assets[0].Type != "laptop" ||
		strings.Join(ab.Assets[0].MACs, " ") != "aa:bb:cc:dd:ee:01 aa:bb:cc:dd:ee:02" || ab.Assets[1].Status != "retired" {
		t.Errorf("GET assets = %+v", ab)
	}

	// The export is an attachment, neutralised, and imports back unchanged.
	recs, export := checkCSVExport(t, e, "/api/v1/assets.csv", revisor, 3)
	if note := recs[2][12]; note != "'=cmd|' /C calc'!A0" {
		t.Errorf("exported note = %q, want the formula neutralised", note)
	}
	checkUnchangedImport(t, e, "/api/v1/assets", export, drift, 2)
	if got := e.store.assetEntries()["K-0002"].Note; got != "=cmd|' /C calc'!A0" {
		t.Errorf("note after round trip = %q", got)
	}

	// Delete, then 404.
	rec = e.apiSend(http.MethodDelete, "/api/v1/assets/K-0001", "", "", drift)
	if rec.Code != http.StatusOK {
		t.Fatalf("DELETE = %d\n%s", rec.Code, rec.Body)
	}
	if _, ok := e.store.assetEntries()["K-0001"]; ok {
		t.Error("K-0001 still in the register")
	}
	if rec := e.apiSend(http.MethodDelete, "/api/v1/assets/K-0001", "", "", drift); rec.Code != http.StatusNotFound {
		t.Errorf("second DELETE = %d, want 404", rec.Code)
	}
	if _, ok := findAudit(e.store.auditEvents(), "asset.remove"); !ok {
		t.Errorf("audit = %v, want asset.remove", auditActions(e.store.auditEvents()))
	}

	// Replace leaves exactly the file.
	one := assetsHeader + "\nK-0003,switch,,aa:bb:cc:dd:ee:01,,,,,,,,,\n"
	b := decodeImport(t, e.apiSend(http.MethodPost, "/api/v1/assets?mode=replace", "text/csv", one, drift))
	if b.Mode != "replace" || b.Added != 1 || b.Removed != 1 || len(e.store.assetEntries()) != 1 {
		t.Errorf("replace = %+v, register %v", b, e.store.assetEntries())
	}
}

func TestAPIAssetsRefused(t *testing.T) {
	e := newEnv(t, false)
	drift := e.token(t, model.RoleDrift)
	admin := e.token(t, model.RoleAdmin)
	if rec := e.apiSend(http.MethodPost, "/api/v1/assets", "text/csv", assetsCSV, admin); rec.Code != http.StatusOK {
		t.Fatalf("admin import = %d\n%s", rec.Code, rec.Body)
	}

	// Writing needs admin or drift; reading does not.
	checkRegisterRoles(t, e, "/api/v1/assets", "/api/v1/assets/K-0001", assetsCSV)

	// Problems: 422 with the lines, nothing imported.
	bad := assetsHeader + "\n" +
		"K-0009,toaster,,,,,,,,,,,\n" +
		"K-0010,pc,,zz:zz,,,,,,,,,\n" +
		"K-0011,pc,,,,,,,,,,,\n"
	checkLineProblems(t, e, "/api/v1/assets", bad, drift, func() int { return len(e.store.assetEntries()) })

	// A MAC another asset holds: 409 with the store's message, nothing written.
	clash := assetsHeader + "\nK-0020,pc,,aa:bb:cc:dd:ee:03,,,,,,,,,\n"
	rec := e.apiSend(http.MethodPost, "/api/v1/assets", "text/csv", clash, drift)
	if rec.Code != http.StatusConflict {
		t.Fatalf("clashing import = %d, want 409\n%s", rec.Code, rec.Body)
	}
	if b := decodeImport(t, rec); b.Code != "conflict" || !strings.Contains(b.Error, "aa:bb:cc:dd:ee:03") {
		t.Errorf("clashing import = %+v, want the store's message", b)
	}
	if _, ok := e.store.assetEntries()["K-0020"]; ok {
		t.Error("K-0020 was imported despite the conflict")
	}

	checkImportOptionsRefused(t, e, "/api/v1/assets", assetsCSV, drift)
}

func TestAssetsPage(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "dag", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF

	body := e.get("/assets", sc).Body.String()
	for _, w := range []string{`<a href="/assets" aria-current="page">Utstyrsregister</a>`, translate("nb", "assets.empty"),
		`action="/assets"`, `enctype="multipart/form-data"`, `name="csrf" value="` + csrf + `"`,
		`type="radio" value="merge" checked`, `href="/api/v1/assets.csv"`, `href="/media/register"`} {
		if !strings.Contains(body, w) {
			t.Errorf("empty assets page lacks %q", w)
		}
	}

	// No token, wrong token: refused, nothing imported.
	for _, tok := range []string{"", "wrong"} {
		if rec := e.csvUpload(t, sc, "/assets", tok, "merge", false, new(assetsCSV)); rec.Code != http.StatusForbidden {
			t.Errorf("upload with token %q = %d, want 403", tok, rec.Code)
		}
	}
	// A session on the API needs the token in the header.
	req := httptest.NewRequest(http.MethodPost, "/api/v1/assets", strings.NewReader(assetsCSV))
	req.Header.Set("Content-Type", "text/csv")
	req.AddCookie(sc)
	if rec := e.do(req); rec.Code != http.StatusForbidden {
		t.Errorf("API import by session without token = %d, want 403", rec.Code)
	}
	if n := len(e.store.assetEntries()); n != 0 {
		t.Fatalf("%d assets imported without a CSRF token", n)
	}

	rec := e.csvUpload(t, sc, "/assets", csrf, "merge", false, new(assetsCSV))
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/assets?") {
		t.Fatalf("upload = %d to %q, want 303 back to the page\n%s", rec.Code, loc, rec.Body)
	}
	body = e.get(loc, sc).Body.String()
	for _, w := range []string{"Utstyrsregisteret er oppdatert.", "2 lagt til, 0 endret, 0 fjernet, 0 uendret.",
		"K-0001", "Bærbar", "aa:bb:cc:dd:ee:01<br>aa:bb:cc:dd:ee:02", "pc-kari", "Kari Nordmann", "Leverandør AS",
		"Rådhuset, 2.14", "utrangert", "i bruk"} {
		if !strings.Contains(body, w) {
			t.Errorf("page after upload lacks %q", w)
		}
	}

	// Problems are listed line by line and nothing is imported.
	bad := assetsHeader + "\nK-0030,toaster,,,,,,,,,,,\n"
	rec = e.csvUpload(t, sc, "/assets", csrf, "merge", false, new(bad))
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad upload = %d, want 422", rec.Code)
	}
	body = rec.Body.String()
	for _, w := range []string{translatef("nb", "register.refused", 1), translate("nb", "register.problems"), "toaster"} {
		if !strings.Contains(body, w) {
			t.Errorf("refused upload page lacks %q\n%s", w, body)
		}
	}
	// A store conflict is shown with its message.
	clash := assetsHeader + "\nK-0031,pc,,aa:bb:cc:dd:ee:03,,,,,,,,,\n"
	rec = e.csvUpload(t, sc, "/assets", csrf, "merge", false, new(clash))
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "aa:bb:cc:dd:ee:03") {
		t.Errorf("clashing upload = %d\n%s", rec.Code, rec.Body)
	}
	if n := len(e.store.assetEntries()); n != 2 {
		t.Errorf("register has %d assets, want 2", n)
	}

	// A reader sees the register in English but no upload form, and may not post.
	rut := e.login(t, "rut", "hemmelig-passord")
	body = e.get("/assets?lang=en", rut).Body.String()
	if !strings.Contains(body, "Equipment register") || !strings.Contains(body, "Laptop") || strings.Contains(body, `action="/assets"`) {
		t.Errorf("reader's page: want English register without the form\n%s", body)
	}
	rutCSRF := sessionFromCookie(t, e, rut).CSRF
	if rec := e.csvUpload(t, rut, "/assets", rutCSRF, "merge", false, new(assetsCSV)); rec.Code != http.StatusForbidden {
		t.Errorf("reader's upload = %d, want 403", rec.Code)
	}
}

func TestAssetTypesTranslated(t *testing.T) {
	for _, lang := range languages {
		for _, typ := range model.AssetTypes {
			if _, ok := catalogs[lang]["assets.type."+typ]; !ok {
				t.Errorf("catalogue %s lacks assets.type.%s", lang, typ)
			}
		}
		for _, st := range []string{model.AssetActive, model.AssetRetired} {
			if _, ok := catalogs[lang]["assets.status."+st]; !ok {
				t.Errorf("catalogue %s lacks assets.status.%s", lang, st)
			}
		}
	}
}
