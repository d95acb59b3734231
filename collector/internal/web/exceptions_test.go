package web

import (
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// exceptionRouteID is the exception reseedExceptions keeps unrevoked.
const exceptionRouteID = "UNNTAK-2026-99"

// reseedExceptions puts back an active exception for the revoke route.
func reseedExceptions(e *testEnv) {
	now := e.clock.now()
	e.store.addException(model.Exception{ID: exceptionRouteID, Rule: "unknown-media", Subject: "media:" + stickKey,
		Reason: "fixture", ApprovedBy: "test", CreatedAt: now, Expires: now.Add(24 * time.Hour)})
}

// exceptionRouteRequest builds a request a permitted role succeeds with for
// the exception and breach routes, or nil for another route.
func exceptionRouteRequest(pattern string) *http.Request {
	form := func(path string, v url.Values) *http.Request {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	json := func(path, body string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	switch pattern {
	case "POST /deviations/{id}/exception":
		return form("/deviations/AVVIK-2026-2/exception", url.Values{"reason": {"testutstyr"}, "expires": {"2026-06-01"}})
	case "POST /deviations/{id}/breach":
		return form("/deviations/AVVIK-2026-2/breach", url.Values{"decision": {"no-notify"}, "rationale": {"kryptert"}})
	case "POST /api/v1/deviations/{id}/exception":
		return json("/api/v1/deviations/AVVIK-2026-2/exception", `{"reason":"testutstyr","expires":"2026-06-01"}`)
	case "POST /api/v1/deviations/{id}/breach":
		return json("/api/v1/deviations/AVVIK-2026-2/breach", `{"decision":"no-notify","rationale":"kryptert"}`)
	case "DELETE /api/v1/exceptions/{id}":
		return httptest.NewRequest(http.MethodDelete, "/api/v1/exceptions/"+exceptionRouteID, nil)
	}
	return nil
}

func TestAPIException(t *testing.T) {
	e := newEnv(t, false)
	e.sampleDeviations()
	sik := e.token(t, model.RoleSikkerhet)
	for _, tc := range []struct {
		name, id, body string
		status         int
	}{
		{"no reason", "AVVIK-2026-1", `{"reason":" ","expires":"2026-06-01"}`, http.StatusBadRequest},
		{"not a date", "AVVIK-2026-1", `{"reason":"x","expires":"snart"}`, http.StatusBadRequest},
		{"past", "AVVIK-2026-1", `{"reason":"x","expires":"2026-03-01"}`, http.StatusBadRequest},
		{"beyond a year", "AVVIK-2026-1", `{"reason":"x","expires":"2027-03-03"}`, http.StatusBadRequest},
		{"closed deviation", "AVVIK-2026-3", `{"reason":"x","expires":"2026-06-01"}`, http.StatusBadRequest},
		{"unknown deviation", "AVVIK-2026-9", `{"reason":"x","expires":"2026-06-01"}`, http.StatusNotFound},
	} {
		if rec := e.apiSend(http.MethodPost, "/api/v1/deviations/"+tc.id+"/exception", "application/json", tc.body, sik); rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d\n%s", tc.name, rec.Code, tc.status, rec.Body)
		}
	}
	audit := len(e.store.auditEvents())
	rec := e.apiSend(http.MethodPost, "/api/v1/deviations/AVVIK-2026-1/exception", "application/json",
		`{"reason":"lånt kamera","expires":"2026-06-01"}`, sik)
	var x apiException
	if rec.Code != http.StatusCreated {
		t.Fatalf("grant = %d\n%s", rec.Code, rec.Body)
	}
	decodeInto(t, rec, &x)
	if x.Rule != "unknown-media" || x.Subject != "media:"+stickKey || x.Expires != "2026-06-01T00:00:00Z" || !x.Active || x.DeviationID != "AVVIK-2026-1" {
		t.Errorf("exception = %+v", x)
	}
	d, _, _ := e.store.GetDeviation(t.Context(), "AVVIK-2026-1")
	if d.Status != model.StatusClosed {
		t.Errorf("deviation status %q, want closed", d.Status)
	}
	if n := len(e.store.auditEvents()) - audit; n != 2 {
		t.Errorf("%d audit entries, want 2 (exception and status)", n)
	}

	var list struct{ Exceptions []apiException }
	decodeInto(t, e.apiGet("/api/v1/exceptions", e.token(t, model.RoleRevisor)), &list)
	if len(list.Exceptions) != 1 || list.Exceptions[0].ID != x.ID {
		t.Errorf("exceptions = %+v", list.Exceptions)
	}
	if rec := e.apiSend(http.MethodDelete, "/api/v1/exceptions/"+x.ID, "", "", sik); rec.Code != http.StatusNoContent {
		t.Errorf("revoke = %d\n%s", rec.Code, rec.Body)
	}
	if rec := e.apiSend(http.MethodDelete, "/api/v1/exceptions/"+x.ID, "", "", sik); rec.Code != http.StatusBadRequest {
		t.Errorf("revoke again = %d, want 400", rec.Code)
	}
	decodeInto(t, e.apiGet("/api/v1/exceptions", sik), &list)
	if len(list.Exceptions) != 1 || list.Exceptions[0].Active || list.Exceptions[0].RevokedBy == "" {
		t.Errorf("after revoking: %+v", list.Exceptions)
	}
}

func TestAPIBreach(t *testing.T) {
	e := newEnv(t, false)
	e.sampleDeviations()
	sik := e.token(t, model.RoleSikkerhet)
	for _, tc := range []struct {
		name, id, body string
		status         int
	}{
		{"no personal data", "AVVIK-2026-1", `{"decision":"no-notify","rationale":"x"}`, http.StatusBadRequest},
		{"no rationale", "AVVIK-2026-2", `{"decision":"no-notify","rationale":""}`, http.StatusBadRequest},
		{"unknown decision", "AVVIK-2026-2", `{"decision":"kanskje","rationale":"x"}`, http.StatusBadRequest},
		{"notify without time", "AVVIK-2026-2", `{"decision":"notify","rationale":"x"}`, http.StatusBadRequest},
	} {
		if rec := e.apiSend(http.MethodPost, "/api/v1/deviations/"+tc.id+"/breach", "application/json", tc.body, sik); rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d\n%s", tc.name, rec.Code, tc.status, rec.Body)
		}
	}
	var reg struct{ Breaches []apiBreach }
	decodeInto(t, e.apiGet("/api/v1/breaches", sik), &reg)
	if len(reg.Breaches) != 1 || reg.Breaches[0].DeviationID != "AVVIK-2026-2" || !reg.Breaches[0].Overdue || reg.Breaches[0].Decision != "" {
		t.Fatalf("register before deciding = %+v", reg.Breaches)
	}
	rec := e.apiSend(http.MethodPost, "/api/v1/deviations/AVVIK-2026-2/breach", "application/json",
		`{"decision":"notify","rationale":"=HYPERLINK(\"x\")","art34":true,"notified_at":"2026-03-02T08:00:00Z","reference":"22/00123"}`, sik)
	if rec.Code != http.StatusOK {
		t.Fatalf("decide = %d\n%s", rec.Code, rec.Body)
	}
	decodeInto(t, e.apiGet("/api/v1/breaches", e.token(t, model.RoleRevisor)), &reg)
	if b := reg.Breaches[0]; b.Overdue || b.Decision != model.BreachNotify || !b.Notified || !b.Art34 || b.Reference != "22/00123" || b.DecidedBy == "" {
		t.Errorf("register after deciding = %+v", b)
	}

	rec = e.apiGet("/api/v1/breaches.csv", sik)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 2 || !slices.Equal(rows[0], breachCSVHeader) {
		t.Fatalf("CSV rows = %q, %v", rows, err)
	}
	if got := rows[1][slices.Index(breachCSVHeader, "rationale")]; got != `'=HYPERLINK("x")` {
		t.Errorf("CSV rationale = %q, want it neutralised", got)
	}
}

func TestDeviationPageBreachAndException(t *testing.T) {
	e := newEnv(t, false)
	e.sampleDeviations()
	e.addUser(t, "siri", "hemmelig-passord", model.RoleSikkerhet)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "siri", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF

	body := e.get("/deviations/AVVIK-2026-2", sc).Body.String()
	for _, w := range []string{translate("nb", "breach.title"), translate("nb", "breach.overdue"), `action="/deviations/AVVIK-2026-2/breach"`,
		`action="/deviations/AVVIK-2026-2/exception"`, `max="2027-03-02"`} {
		if !strings.Contains(body, w) {
			t.Errorf("breach page lacks %q", w)
		}
	}
	if b := e.get("/deviations/AVVIK-2026-2", e.login(t, "rut", "hemmelig-passord")).Body.String(); strings.Contains(b, "/breach\"") || strings.Contains(b, "/exception\"") {
		t.Error("the auditor is offered the breach or exception form")
	}
	if b := e.get("/deviations/AVVIK-2026-1", sc).Body.String(); strings.Contains(b, translate("nb", "breach.title")) {
		t.Error("a deviation without personal data shows a breach assessment")
	}

	rec := e.postForm("/deviations/AVVIK-2026-2/breach", url.Values{"csrf": {csrf}, "decision": {"notify"}, "rationale": {"meldt"}}, sc)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), translate("nb", "problem.breach_notified_at")) {
		t.Errorf("notify without a time = %d", rec.Code)
	}
	rec = e.postForm("/deviations/AVVIK-2026-2/breach", url.Values{"csrf": {csrf}, "decision": {"no-notify"}, "rationale": {"kryptert minne"}}, sc)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("breach form = %d\n%s", rec.Code, rec.Body)
	}
	body = e.get("/deviations/AVVIK-2026-2?saved=breach", sc).Body.String()
	for _, w := range []string{translate("nb", "breach.saved"), translate("nb", "breach.decision.no-notify"), "kryptert minne"} {
		if !strings.Contains(body, w) {
			t.Errorf("after deciding, the page lacks %q", w)
		}
	}
	if strings.Contains(body, translate("nb", "breach.overdue")) {
		t.Error("a decided assessment is shown overdue")
	}

	rec = e.postForm("/deviations/AVVIK-2026-2/exception", url.Values{"csrf": {csrf}, "reason": {"godkjent"}, "expires": {"2030-01-01"}}, sc)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "godkjent") {
		t.Errorf("exception beyond a year = %d; want the form again with what was typed", rec.Code)
	}
	rec = e.postForm("/deviations/AVVIK-2026-2/exception", url.Values{"csrf": {csrf}, "reason": {"godkjent"}, "expires": {"2026-12-31"}}, sc)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("exception form = %d\n%s", rec.Code, rec.Body)
	}
	body = e.get("/deviations/AVVIK-2026-2?saved=exception", sc).Body.String()
	if !strings.Contains(body, translate("nb", "exc.saved")) || strings.Contains(body, `action="/deviations/AVVIK-2026-2/exception"`) {
		t.Error("after the exception the page should say so and offer no new one")
	}
}
