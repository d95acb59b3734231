package web

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

const registerCSV = fakeCSVHeader + "\n" +
	"E0D55EA57486,0951,1666,NK-0001,IT,intern,yes,Kari sin pinne\n" +
	",0781,5583,,Oppvekst,fortrolig,no,alle Ultra Fit\n"

// apiSend does an API request with a body as the bearer of authz.
func (e *testEnv) apiSend(method, path, contentType, body, authz string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return e.do(req)
}

type importBody struct {
	Mode         string       `json:"mode"`
	ValidOnly    bool         `json:"valid_only"`
	Added        int          `json:"added"`
	Updated      int          `json:"updated"`
	Removed      int          `json:"removed"`
	Unchanged    int          `json:"unchanged"`
	Skipped      []CSVProblem `json:"skipped"`
	PolicySynced bool         `json:"policy_synced"`
	Warning      string       `json:"warning"`
	// On refusal.
	Error    string       `json:"error"`
	Code     string       `json:"code"`
	Problems []CSVProblem `json:"problems"`
}

func decodeImport(t *testing.T, rec *httptest.ResponseRecorder) importBody {
	t.Helper()
	var b importBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("decode import answer: %v\n%s", err, rec.Body)
	}
	return b
}

func TestAPIRegisterImport(t *testing.T) {
	e := newEnv(t, false)
	drift := e.token(t, model.RoleDrift)
	id, _, _ := parseAPIToken(strings.TrimPrefix(drift, "Bearer "))

	rec := e.apiSend(http.MethodPost, "/api/v1/media/register", "text/csv; charset=utf-8", registerCSV, drift)
	b := decodeImport(t, rec)
	if rec.Code != http.StatusOK || b.Mode != "merge" || b.Added != 2 || b.Updated+b.Removed+b.Unchanged != 0 || !b.PolicySynced {
		t.Fatalf("first import = %d %+v, want 200 with 2 added", rec.Code, b)
	}
	if n := e.sync.count(); n != 1 {
		t.Errorf("SyncPolicy calls after an import = %d, want 1", n)
	}
	reg := e.store.registerEntries()
	if got := reg[stickKey]; got.MarkingID != "NK-0001" || !got.EncryptionRequired || got.UpdatedBy != "token:"+id || !got.UpdatedAt.Equal(e.clock.now()) {
		t.Errorf("stored entry = %+v; want it stamped by token:%s", got, id)
	}

	// The same file again changes nothing and pushes nothing.
	b = decodeImport(t, e.apiSend(http.MethodPost, "/api/v1/media/register?mode=merge", "text/csv", registerCSV, drift))
	if b.Unchanged != 2 || b.Added+b.Updated+b.Removed != 0 || e.sync.count() != 1 {
		t.Errorf("repeated import = %+v, %d syncs; want 2 unchanged and no new sync", b, e.sync.count())
	}

	// A bad line refuses the whole file.
	bad := fakeCSVHeader + "\n" +
		"NEW1,1234,5678,,,,no,\n" +
		"X,09510,1666,,,,no,\n" +
		"Y,0951,1666,,,,maybe,\n"
	rec = e.apiSend(http.MethodPost, "/api/v1/media/register", "text/csv", bad, drift)
	b = decodeImport(t, rec)
	if rec.Code != http.StatusUnprocessableEntity || b.Code != "problems" || len(b.Problems) != 2 ||
		b.Problems[0].Line != 3 || !strings.Contains(b.Problems[0].Message, "09510") || b.Problems[1].Line != 4 ||
		b.Error != "The file has 2 problems. Nothing was imported; fix the lines below and try again." {
		t.Fatalf("import with bad lines = %d %s, want 422 with lines 3 and 4", rec.Code, rec.Body)
	}
	if got := e.store.registerEntries(); len(got) != 2 {
		t.Errorf("refused import changed the register: %d entries", len(got))
	}

	// valid_only imports the good lines and reports the rest.
	rec = e.apiSend(http.MethodPost, "/api/v1/media/register?valid_only=true", "text/csv", bad, drift)
	b = decodeImport(t, rec)
	if rec.Code != http.StatusOK || b.Added != 1 || !b.ValidOnly || len(b.Skipped) != 2 || b.Skipped[0].Line != 3 {
		t.Errorf("valid_only import = %d %s, want 1 added and lines 3, 4 skipped", rec.Code, rec.Body)
	}

	// replace makes the register exactly the file.
	one := fakeCSVHeader + "\nE0D55EA57486,0951,1666,NK-0002,IT,intern,yes,ny merking\n"
	b = decodeImport(t, e.apiSend(http.MethodPost, "/api/v1/media/register?mode=replace", "text/csv", one, drift))
	if b.Mode != "replace" || b.Updated != 1 || b.Removed != 2 || len(e.store.registerEntries()) != 1 {
		t.Errorf("replace import = %+v, register %d entries; want 1 updated, 2 removed", b, len(e.store.registerEntries()))
	}

	// A failed push is reported; the change stands.
	e.sync.fail(errors.New("policy store down"))
	b = decodeImport(t, e.apiSend(http.MethodPost, "/api/v1/media/register", "text/csv", registerCSV, drift))
	if b.PolicySynced || b.Warning == "" || b.Added != 1 {
		t.Errorf("import with a failing push = %+v; want policy_synced false with a warning", b)
	}
	e.sync.fail(nil)

	for _, tc := range []struct {
		name, query, ct, body string
		code                  int
		msg                   string
	}{
		{"bad mode", "?mode=append", "text/csv", registerCSV, 400, "mode must be merge or replace."},
		{"bad valid_only", "?valid_only=maybe", "text/csv", registerCSV, 400, "valid_only must be true or false."},
		{"replace and valid_only", "?mode=replace&valid_only=true", "text/csv", registerCSV, 400, "cannot be combined"},
		{"JSON body", "", "application/json", `{}`, 415, "Content-Type must be text/csv, application/csv, text/plain."},
		{"no content type", "", "", registerCSV, 415, "Content-Type must be"},
		{"bad header", "", "text/csv", "a,b\n1,2\n", 422, "The file has 1 problems"},
		{"broken quoting", "", "text/csv", fakeCSVHeader + "\n\"unterminated,0951\n", 400, "The CSV file could not be read"},
	} {
		rec := e.apiSend(http.MethodPost, "/api/v1/media/register"+tc.query, tc.ct, tc.body, drift)
		if rec.Code != tc.code || !strings.Contains(decodeImport(t, rec).Error, tc.msg) {
			t.Errorf("%s: import = %d %s, want %d with %q", tc.name, rec.Code, rec.Body, tc.code, tc.msg)
		}
	}

	// Over 32 MiB is refused while reading.
	var big strings.Builder
	big.WriteString(fakeCSVHeader + "\n")
	for big.Len() <= maxCSVBytes {
		big.WriteString("SERIAL-0000000000000000,0951,1666,NK-0001,IT,intern,yes,padding padding padding padding\n")
	}
	rec = e.apiSend(http.MethodPost, "/api/v1/media/register", "text/csv", big.String(), drift)
	if m := decodeImport(t, rec); rec.Code != http.StatusRequestEntityTooLarge || m.Code != "too_large" || !strings.Contains(m.Error, "33554432 bytes") {
		t.Errorf("import of %d bytes = %d %s, want 413", big.Len(), rec.Code, rec.Body)
	}
}

func TestAPIRegisterReadAndDelete(t *testing.T) {
	e := newEnv(t, false)
	drift := e.token(t, model.RoleDrift)
	revisor := e.token(t, model.RoleRevisor)
	weird := fakeCSVHeader + "\n" +
		"E0D55EA57486,0951,1666,@SUM(1),=cmd|' /C calc'!A0,+intern,no,-2+3\n" +
		"\"a b/c\",,,,,,no,\n"
	if rec := e.apiSend(http.MethodPost, "/api/v1/media/register", "text/csv", weird, drift); rec.Code != http.StatusOK {
		t.Fatalf("import = %d %s", rec.Code, rec.Body)
	}

	rec := e.apiGet("/api/v1/media/register", revisor)
	var reg struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &reg); err != nil || rec.Code != http.StatusOK || len(reg.Entries) != 2 {
		t.Fatalf("GET register = %d %s", rec.Code, rec.Body)
	}
	got := reg.Entries[0] // sorted by key: "0951:…" before "::a b/c"
	for k, want := range map[string]any{
		"key": stickKey, "vid": "0951", "pid": "1666", "serial": "E0D55EA57486", "marking_id": "@SUM(1)",
		"owner_unit": "=cmd|' /C calc'!A0", "classification": "+intern", "encryption_required": false, "note": "-2+3",
		"updated_at": "2026-03-02T09:30:00Z",
	} {
		if got[k] != want {
			t.Errorf("entry[%q] = %#v, want %#v", k, got[k], want)
		}
	}
	if !strings.HasPrefix(got["updated_by"].(string), "token:") {
		t.Errorf("entry updated_by = %v", got["updated_by"])
	}

	// The CSV download neutralises what a spreadsheet would run.
	rec = e.apiGet("/api/v1/media/register.csv", revisor)
	h := rec.Header()
	if rec.Code != http.StatusOK || h.Get("Content-Type") != "text/csv; charset=utf-8" ||
		h.Get("Content-Disposition") != `attachment; filename="media-register-2026-03-02.csv"` || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET register.csv = %d %v", rec.Code, h)
	}
	rows, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
	if err != nil || len(rows) != 3 || strings.Join(rows[0], ",") != fakeCSVHeader {
		t.Fatalf("register.csv = %q, %v", rec.Body, err)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("register.csv cell %q would run as a formula", cell)
			}
		}
	}
	if !strings.Contains(rec.Body.String(), `'=cmd|' /C calc'!A0`) {
		t.Errorf("register.csv lost the neutralised cell's text: %s", rec.Body)
	}

	// Delete by key, URL-escaped.
	rec = e.apiSend(http.MethodDelete, "/api/v1/media/register/"+url.PathEscape("::a b/c"), "", "", drift)
	if rec.Code != http.StatusOK || decodeJSON(t, rec)["deleted"] != "::a b/c" || decodeJSON(t, rec)["policy_synced"] != true {
		t.Errorf("DELETE a key with a slash and a space = %d %s", rec.Code, rec.Body)
	}
	if _, ok := e.store.registerEntries()["::a b/c"]; ok {
		t.Errorf("entry still in the register after DELETE")
	}
	syncs := e.sync.count()
	rec = e.apiSend(http.MethodDelete, "/api/v1/media/register/"+url.PathEscape("::a b/c"), "", "", drift)
	if rec.Code != http.StatusNotFound || e.sync.count() != syncs {
		t.Errorf("DELETE of a missing key = %d, %d new syncs; want 404 and none", rec.Code, e.sync.count()-syncs)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "media.register.delete"); !ok || !strings.HasPrefix(ev.Actor, "token:") {
		t.Errorf("delete not audited with the token as actor: %+v", ev)
	}
}

func TestRegisterUnconfigured(t *testing.T) {
	st := newFakeStore()
	srv, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{srv: srv, h: srv.Handler(), store: st, clock: &clock{}}
	authz := e.token(t, model.RoleAdmin)
	for _, rec := range []*httptest.ResponseRecorder{
		e.apiGet("/api/v1/media/register.csv", authz),
		e.apiSend(http.MethodPost, "/api/v1/media/register", "text/csv", registerCSV, authz),
	} {
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("CSV route without a CSV form = %d, want 500", rec.Code)
		}
	}
	if rec := e.apiGet("/api/v1/media/register", authz); rec.Code != http.StatusOK {
		t.Errorf("JSON register without a CSV form = %d, want 200", rec.Code)
	}
}

// postForm posts a URL-encoded form with the session cookie.
func (e *testEnv) postForm(path string, form url.Values, sc *http.Cookie) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(sc)
	return e.do(req)
}

func TestRegisterPage(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "dag", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF

	body := e.get("/media/register", sc).Body.String()
	for _, w := range []string{`<a href="/media/register" aria-current="page">Medieregister</a>`, translate("nb", "register.empty"),
		`enctype="multipart/form-data"`, `name="csrf" value="` + csrf + `"`, `type="radio" value="merge" checked`,
		`href="/api/v1/media/register.csv"`, "Slå sammen", "Erstatt"} {
		if !strings.Contains(body, w) {
			t.Errorf("empty register page lacks %q", w)
		}
	}

	file := registerCSV
	rec := e.csvUpload(t, sc, "/media/register", csrf, "merge", false, &file)
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/media/register?") {
		t.Fatalf("upload = %d to %q, want 303 back to the page\n%s", rec.Code, loc, rec.Body)
	}
	body = e.get(loc, sc).Body.String()
	for _, w := range []string{"Registeret er oppdatert.", "2 lagt til, 0 endret, 0 fjernet, 0 uendret.", "E0D55EA57486", "NK-0001",
		"alle serienumre", "Oppvekst", "fortrolig", "påkrevd", "Kari sin pinne", "dag", `action="/media/register/delete"`} {
		if !strings.Contains(body, w) {
			t.Errorf("register page after upload lacks %q", w)
		}
	}
	if strings.Contains(body, "⟦") {
		t.Errorf("register page has a key missing from the catalogue")
	}

	bad := fakeCSVHeader + "\nNEW1,1234,5678,,,,no,\nX,09510,1666,,,,no,\n"
	rec = e.csvUpload(t, sc, "/media/register", csrf, "merge", false, &bad)
	body = rec.Body.String()
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, "Filen har 1 problemer.") ||
		!strings.Contains(body, `<th scope="row" class="num">3</th>`) || !strings.Contains(body, "09510") {
		t.Errorf("upload with a bad line = %d; want 422 listing line 3", rec.Code)
	}
	if len(e.store.registerEntries()) != 2 {
		t.Errorf("refused upload changed the register")
	}
	rec = e.csvUpload(t, sc, "/media/register", csrf, "merge", true, &bad)
	body = rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "1 lagt til") || !strings.Contains(body, "1 linje med feil ble hoppet over:") ||
		!strings.Contains(body, `<input id="valid_only" name="valid_only" type="checkbox" checked`) {
		t.Errorf("valid-only upload = %d; want the page with the skipped line", rec.Code)
	}

	for _, tc := range []struct {
		name      string
		mode      string
		validOnly bool
		file      *string
		code      int
		msg       string
	}{
		{"no file", "merge", false, nil, http.StatusBadRequest, "Velg en CSV-fil å laste opp."},
		{"replace and valid only", "replace", true, &file, http.StatusBadRequest, "kan ikke kombineres"},
		{"bad mode", "append", false, &file, http.StatusBadRequest, "mode må være merge eller replace."},
	} {
		rec := e.csvUpload(t, sc, "/media/register", csrf, tc.mode, tc.validOnly, tc.file)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.msg) || !strings.Contains(rec.Body.String(), `enctype="multipart/form-data"`) {
			t.Errorf("%s: upload = %d; want %d with the form and %q", tc.name, rec.Code, tc.code, tc.msg)
		}
	}

	rec = e.postForm("/media/register/delete", url.Values{"csrf": {csrf}, "key": {"1234:5678:NEW1"}}, sc)
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || !strings.Contains(loc, "deleted=") {
		t.Fatalf("delete form = %d to %q", rec.Code, loc)
	}
	if body := e.get(rec.Header().Get("Location"), sc).Body.String(); !strings.Contains(body, "1234:5678:NEW1 er fjernet fra registeret.") {
		t.Errorf("page after delete does not say what was removed")
	}
	if rec := e.postForm("/media/register/delete", url.Values{"csrf": {csrf}, "key": {"1234:5678:NEW1"}}, sc); rec.Code != http.StatusNotFound {
		t.Errorf("deleting a missing key = %d, want 404", rec.Code)
	}

	e.sync.fail(errors.New("down"))
	one := fakeCSVHeader + "\nE0D55EA57486,0951,1666,NK-0009,IT,intern,yes,\n"
	rec = e.csvUpload(t, sc, "/media/register", csrf, "replace", false, &one)
	if body := e.get(rec.Header().Get("Location"), sc).Body.String(); !strings.Contains(body, translate("nb", "register.sync_failed")) {
		t.Errorf("page after an upload whose push failed does not warn")
	}

	// The auditor sees the register and the export, not the forms.
	body = e.get("/media/register?lang=en", e.login(t, "rut", "hemmelig-passord")).Body.String()
	if !strings.Contains(body, "E0D55EA57486") || !strings.Contains(body, "Download the register as CSV") ||
		strings.Contains(body, "<form class=\"stack upload\"") || strings.Contains(body, "/media/register/delete") {
		t.Errorf("auditor's register page shows forms or lacks the register")
	}
}
