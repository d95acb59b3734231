package web

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
)

// testCSVParser adapts one of the register package's parsers as the
// collector does.
func testCSVParser[T any](parse func(io.Reader, register.ParseOptions) ([]T, register.Report, error)) func(io.Reader, bool) ([]T, []CSVProblem, error) {
	return func(r io.Reader, validOnly bool) ([]T, []CSVProblem, error) {
		vs, rep, err := parse(r, register.ParseOptions{ValidOnly: validOnly})
		if err != nil {
			return nil, nil, err
		}
		if rep.Fatal && validOnly {
			return nil, nil, errors.New(rep.Error())
		}
		var ps []CSVProblem
		for _, p := range rep.Problems {
			ps = append(ps, CSVProblem{Line: p.Line, Message: p.Message})
		}
		return vs, ps, nil
	}
}

// csvFormRequest builds a register page's upload form, posted to path as
// multipart: fields, and file (none when nil) as the file.
func csvFormRequest(path string, fields url.Values, file *string) *http.Request {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if file != nil {
		fw, _ := mw.CreateFormFile("file", "upload.csv")
		_, _ = fw.Write([]byte(*file))
	}
	_ = mw.Close()
	req := httptest.NewRequest(http.MethodPost, path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

// csvUpload posts a register page's upload form to path with the session
// and its token (none when ""); only the valid lines when validOnly.
func (e *testEnv) csvUpload(t *testing.T, sc *http.Cookie, path, csrf, mode string, validOnly bool, file *string) *httptest.ResponseRecorder {
	t.Helper()
	fields := url.Values{"mode": {mode}}
	if csrf != "" {
		fields.Set("csrf", csrf)
	}
	if validOnly {
		fields.Set("valid_only", "on")
	}
	req := csvFormRequest(path, fields, file)
	req.AddCookie(sc)
	return e.do(req)
}

// checkRegisterRoles checks that only admin and drift write a register
// through the API (an import of body to path, a delete of deletePath), and
// that every role reads path.
func checkRegisterRoles(t *testing.T, e *testEnv, path, deletePath, body string) {
	t.Helper()
	for _, role := range []model.Role{model.RoleSikkerhet, model.RoleLeder, model.RoleRevisor} {
		authz := e.token(t, role)
		if rec := e.apiSend(http.MethodPost, path, "text/csv", body, authz); rec.Code != http.StatusForbidden {
			t.Errorf("%s import = %d, want 403", role, rec.Code)
		}
		if rec := e.apiSend(http.MethodDelete, deletePath, "", "", authz); rec.Code != http.StatusForbidden {
			t.Errorf("%s delete = %d, want 403", role, rec.Code)
		}
		if rec := e.apiGet(path, authz); rec.Code != http.StatusOK {
			t.Errorf("%s read = %d, want 200", role, rec.Code)
		}
	}
}

// checkImportOptionsRefused checks that an API import of body to path with
// a bad mode, replace with valid_only, or JSON is a client error.
func checkImportOptionsRefused(t *testing.T, e *testEnv, path, body, authz string) {
	t.Helper()
	for _, tc := range []struct{ query, ct string }{
		{"?mode=sideways", "text/csv"},
		{"?mode=replace&valid_only=true", "text/csv"},
		{"", "application/json"},
	} {
		if rec := e.apiSend(http.MethodPost, path+tc.query, tc.ct, body, authz); rec.Code < 400 || rec.Code >= 500 {
			t.Errorf("import%s as %s = %d, want a 4xx", tc.query, tc.ct, rec.Code)
		}
	}
}

// checkCSVExport downloads the CSV export at path as authz: an attachment
// of want records, the header included. It returns the records and the file.
func checkCSVExport(t *testing.T, e *testEnv, path, authz string, want int) ([][]string, string) {
	t.Helper()
	rec := e.apiGet(path, authz)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Disposition"), "attachment;") ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("export = %d %v", rec.Code, rec.Header())
	}
	export := rec.Body.String()
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(export, "\ufeff"))).ReadAll()
	if err != nil || len(recs) != want {
		t.Fatalf("export = %v, %v", recs, err)
	}
	return recs, export
}

// checkUnchangedImport imports file, the register's n entries as they are,
// to path as authz: nothing changes.
func checkUnchangedImport(t *testing.T, e *testEnv, path, file, authz string, n int) {
	t.Helper()
	b := decodeImport(t, e.apiSend(http.MethodPost, path, "text/csv", file, authz))
	if b.Unchanged != n || b.Added+b.Updated+b.Removed != 0 {
		t.Errorf("round trip import = %+v, want %d unchanged", b, n)
	}
}

// checkLineProblems imports bad, a file with problems on lines 2 and 3 and
// one good line, to path as authz: refused with the lines and nothing
// imported (held counts the register's entries); then with valid_only the
// good line is added and the others skipped. It returns the refusal.
func checkLineProblems(t *testing.T, e *testEnv, path, bad, authz string, held func() int) importBody {
	t.Helper()
	before := held()
	rec := e.apiSend(http.MethodPost, path, "text/csv", bad, authz)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad import = %d, want 422\n%s", rec.Code, rec.Body)
	}
	refused := decodeImport(t, rec)
	if b := refused; b.Code != "problems" || len(b.Problems) != 2 || b.Problems[0].Line != 2 || b.Problems[1].Line != 3 {
		t.Errorf("bad import = %+v, want problems on lines 2 and 3", b)
	}
	if n := held(); n != before {
		t.Errorf("register has %d entries after a refused import, want %d", n, before)
	}
	b := decodeImport(t, e.apiSend(http.MethodPost, path+"?valid_only=1", "text/csv", bad, authz))
	if b.Added != 1 || len(b.Skipped) != 2 {
		t.Errorf("valid_only import = %+v, want 1 added, 2 skipped", b)
	}
	return refused
}

// TestCSVRegisterTexts: every register's page has the texts its upload
// form and import report name at run time.
func TestCSVRegisterTexts(t *testing.T) {
	s := newEnv(t, false).srv
	regs := []csvRegister{s.mediaCSV(), s.assetCSV(), s.softwareCSV()}
	for _, k := range model.OrgKinds {
		regs = append(regs, s.orgKinds()[k])
	}
	for _, reg := range regs {
		keys := []string{reg.keys + ".upload", reg.keys + ".imported", reg.keys + ".mode.merge.hint", reg.keys + ".mode.replace.hint"}
		if reg.kind == "" {
			keys = append(keys, reg.keys+".file_hint")
		} else {
			keys = append(keys, reg.keys+".upload_order", reg.keys+".kind", reg.keys+".kind_hint", reg.keys+".kind."+reg.kind)
		}
		if reg.name != "media register" { // the media register's store refuses nothing
			keys = append(keys, reg.keys+".store_refused")
		}
		for _, lang := range languages {
			for _, k := range keys {
				if _, ok := catalogs[lang][k]; !ok {
					t.Errorf("catalogue %s lacks %q for the %s", lang, k, reg.name)
				}
			}
		}
	}
}
