package web

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// hostileNames are upload file names that would escape a directory, end a
// C string early, or overflow a buffer if anything used them as a path.
var hostileNames = []string{
	"../../../../etc/cron.d/sonevakt.csv",
	"/etc/passwd",
	`..\..\..\Windows\win.ini`,
	"register\x00.csv",
	strings.Repeat("a", 8192) + ".csv",
	"C:\\evil.csv",
	"%2e%2e%2f%2e%2e%2fevil.csv",
}

// TestUploadFileNamesIgnored: a register upload is judged by its content
// only: whatever its file name, the import goes through (or is refused as a
// bad request), and the name is echoed nowhere: not in the page, not in a
// header, not in the audit log.
func TestUploadFileNamesIgnored(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "dag", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF
	for i, name := range hostileNames {
		file := fakeCSVHeader + "\nSER" + string(rune('A'+i)) + ",1234,5678,,,,no,\n"
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		_ = mw.WriteField("csrf", csrf)
		_ = mw.WriteField("mode", "merge")
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write([]byte(file))
		_ = mw.Close()
		req := httptest.NewRequest(http.MethodPost, "/media/register", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.AddCookie(sc)
		auditBefore := len(e.store.auditEvents())
		rec := e.do(req)
		if rec.Code >= 500 {
			t.Errorf("upload named %.60q = %d", name, rec.Code)
		}
		tail := name[max(0, len(name)-20):]
		if strings.Contains(rec.Body.String(), tail) {
			t.Errorf("upload named %.60q: the name is echoed in the page", name)
		}
		for k, vs := range rec.Header() {
			for _, v := range vs {
				if strings.Contains(v, tail) {
					t.Errorf("upload named %.60q: the name is in header %s", name, k)
				}
			}
		}
		for _, ev := range e.store.auditEvents()[auditBefore:] {
			if strings.Contains(ev.Detail+ev.Subject, tail) {
				t.Errorf("upload named %.60q: the name is in the audit log", name)
			}
		}
	}
	if n := len(e.store.registerEntries()); n < len(hostileNames)-1 {
		t.Errorf("%d of %d uploads imported; the content should count, not the name", n, len(hostileNames))
	}
}

// safeAttachment is the only form an export's file name takes.
var safeAttachment = regexp.MustCompile(`^attachment; filename="[a-z0-9][a-z0-9-]*\.(csv|zip)"$`)

// TestExportNamesSafe: every CSV export names its download with a fixed,
// safe name; keys and dates with path tricks in them are refused or read as
// plain keys, never as paths.
func TestExportNamesSafe(t *testing.T) {
	e := routeEnv(t)
	reseed(t, e)
	admin := e.token(t, model.RoleAdmin)
	n := 0
	for _, rt := range e.srv.routeTable() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if method != http.MethodGet || !strings.HasSuffix(path, ".csv") {
			continue
		}
		n++
		rec := e.apiGet(path, admin)
		if rec.Code != http.StatusOK {
			t.Errorf("%s = %d", path, rec.Code)
			continue
		}
		if cd := rec.Header().Get("Content-Disposition"); !safeAttachment.MatchString(cd) {
			t.Errorf("%s: Content-Disposition %q", path, cd)
		}
	}
	if n < 5 {
		t.Fatalf("only %d CSV exports found in the route table", n)
	}
	// Path tricks in keys are keys: not found, not a file.
	for _, p := range []string{
		"/api/v1/assets/" + url.PathEscape("../../../etc/passwd"),
		"/api/v1/media/register/" + url.PathEscape("..%2f..%2fetc"),
		"/api/v1/software/catalog/" + url.PathEscape("/etc/passwd"),
		"/api/v1/org/units/" + url.PathEscape(strings.Repeat("x", 5000)),
	} {
		rec := e.apiSend(http.MethodDelete, p, "", "", admin)
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusBadRequest {
			t.Errorf("DELETE %.80s = %d, want 404 or 400", p, rec.Code)
		}
	}
	// The evidence export's name is made of the dates, which must parse.
	e.addUser(t, "isa", "hemmelig-passord", model.RoleSikkerhet)
	sc := e.login(t, "isa", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF
	for _, from := range []string{"../../etc/passwd", "2026-01-01\x00", "2026-01-01/../../x"} {
		rec := e.postForm("/audit/export", url.Values{"csrf": {csrf}, "from": {from}, "to": {"2026-01-31"}}, sc)
		if rec.Code < 400 || rec.Code >= 500 || rec.Header().Get("Content-Disposition") != "" {
			t.Errorf("evidence export from %q = %d, %q; want a 4xx without an attachment", from, rec.Code, rec.Header().Get("Content-Disposition"))
		}
	}
}
