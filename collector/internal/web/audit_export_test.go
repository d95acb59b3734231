package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// fakeExportEvidence writes a stand-in bundle naming the period and the
// actor, and audits the export as evidence.Export does. A period starting
// in 1999 fails before writing; one starting in 1998 fails after.
func fakeExportEvidence(st *fakeStore) func(context.Context, io.Writer, time.Time, time.Time, string) error {
	return func(ctx context.Context, w io.Writer, from, to time.Time, actor string) error {
		switch from.Year() {
		case 1999:
			return errors.New("export broke")
		case 1998:
			_, _ = io.WriteString(w, "PK partial")
			return errors.New("export broke midway")
		}
		if _, err := st.AppendAudit(ctx, model.AuditEvent{At: time.Now(), Actor: actor, Action: "evidence.export",
			Detail: fmt.Sprintf(`{"from":%q,"to":%q}`, from.Format(time.RFC3339), to.Format(time.RFC3339))}); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "PK bundle %s %s %s", from.Format(time.RFC3339), to.Format(time.RFC3339), actor)
		return err
	}
}

// auditExportRouteRequest is the role table's valid export request.
func auditExportRouteRequest(pattern string) *http.Request {
	if pattern != "POST /audit/export" {
		return nil
	}
	return auditExportRequest("2026-01-01", "2026-02-28")
}

func auditExportRequest(from, to string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/audit/export", strings.NewReader(url.Values{"from": {from}, "to": {to}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestAuditExport(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "rut", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF
	post := func(from, to string) *httptest.ResponseRecorder {
		req := auditExportRequest(from, to)
		req.AddCookie(sc)
		return e.do(withCSRF(t, req, pageRoute, csrf))
	}

	// The page offers the form to the auditor, with the CSRF token.
	body := e.get("/audit", sc).Body.String()
	for _, want := range []string{`action="/audit/export"`, `name="csrf" value="` + csrf + `"`,
		`<label for="evidence-from">`, `id="evidence-from" name="from" type="date"`, `<label for="evidence-to">`,
		`value="2026-01-01"`, `value="2026-03-02"`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}

	before := len(e.store.auditEvents())
	rec := post("2026-01-01", "2026-02-28")
	if rec.Code != http.StatusOK {
		t.Fatalf("export = %d\n%s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Content-Disposition"); got != `attachment; filename="evidence-2026-01-01-2026-02-28.zip"` {
		t.Errorf("Content-Disposition = %q", got)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/zip" {
		t.Errorf("Content-Type = %q", got)
	}
	// Whole days in Oslo, the to date included: [Jan 1 00:00+01, Mar 1 00:00+01).
	if want := "PK bundle 2026-01-01T00:00:00+01:00 2026-03-01T00:00:00+01:00 rut"; rec.Body.String() != want {
		t.Errorf("body = %q, want %q", rec.Body, want)
	}
	evs := e.store.auditEvents()
	if len(evs) != before+1 || evs[len(evs)-1].Action != "evidence.export" || evs[len(evs)-1].Actor != "rut" {
		t.Errorf("the export is not audited as rut's evidence.export: %v", evs[before:])
	}

	// Bad dates: 400, naming the field; nothing exported.
	for _, tc := range []struct{ from, to, want string }{
		{"", "2026-02-28", "from"},
		{"2026-13-01", "2026-02-28", "2026-13-01"},
		{"2026-01-01", "i går", "to"},
		{"2026-03-01", "2026-02-28", "før til-datoen"},
	} {
		before := len(e.store.auditEvents())
		rec := post(tc.from, tc.to)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("export %q..%q = %d, want 400 naming %q\n%.500s", tc.from, tc.to, rec.Code, tc.want, rec.Body)
		}
		if rec.Header().Get("Content-Disposition") != "" || len(e.store.auditEvents()) != before {
			t.Errorf("export %q..%q was refused but exported", tc.from, tc.to)
		}
	}

	// An export that fails before writing is an error page, not a zip.
	rec = post("1999-01-01", "1999-12-31")
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Disposition") != "" {
		t.Errorf("failed export = %d, %q", rec.Code, rec.Header().Get("Content-Disposition"))
	}
	// One that fails midway cuts the connection.
	func() {
		defer func() {
			if p := recover(); p != http.ErrAbortHandler {
				t.Errorf("export failing midway: recovered %v, want http.ErrAbortHandler", p)
			}
		}()
		post("1998-01-01", "1998-12-31")
	}()
}

func TestAuditExportUnavailable(t *testing.T) {
	e := newEnv(t, false)
	e.srv.exportEvidence = nil
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "rut", "hemmelig-passord")
	if body := e.get("/audit", sc).Body.String(); strings.Contains(body, `action="/audit/export"`) {
		t.Error("the page offers an export the collector cannot make")
	}
	req := auditExportRequest("2026-01-01", "2026-02-28")
	req.AddCookie(sc)
	if rec := e.do(withCSRF(t, req, pageRoute, sessionFromCookie(t, e, sc).CSRF)); rec.Code != http.StatusNotFound {
		t.Errorf("export without an exporter = %d, want 404", rec.Code)
	}
}
