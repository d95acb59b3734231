package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// assignEnv has the sample deviations, the security officer lena logged in,
// and kari (leder), ola (revisor) and the disabled per (leder).
func assignEnv(t *testing.T) (*testEnv, *http.Cookie, string) {
	t.Helper()
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleDeviations()
	e.addUser(t, "lena", "hemmelig-passord", model.RoleSikkerhet)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleLeder)
	e.addUser(t, "ola", "hemmelig-passord", model.RoleRevisor)
	e.addUser(t, "per", "hemmelig-passord", model.RoleLeder)
	u, _ := e.store.GetUser(t.Context(), "per")
	u.Disabled = true
	_ = e.store.UpdateUser(t.Context(), u)
	sc := e.login(t, "lena", "hemmelig-passord")
	return e, sc, sessionFromCookie(t, e, sc).CSRF
}

func TestAssignForm(t *testing.T) {
	e, sc, csrf := assignEnv(t)
	body := e.get("/deviations/AVVIK-2026-1", sc).Body.String()
	for _, want := range []string{`<form id="assign-form"`, `<select id="assign-to" name="assignee"`, `id="assign-submit"`,
		`<option value="role:sikkerhet" selected>Rollen informasjonssikkerhet</option>`, `<option value="user:kari">kari (leder)</option>`,
		`<option value="user:lena">`} {
		if !strings.Contains(body, want) {
			t.Errorf("deviation page lacks %q", want)
		}
	}
	for _, not := range []string{`value="user:ola"`, `value="user:per"`} {
		if strings.Contains(body, not) {
			t.Errorf("deviation page offers %s, who may not handle deviations", not)
		}
	}

	rec := e.postForm("/deviations/AVVIK-2026-1/assign", url.Values{"csrf": {csrf}, "assignee": {"user:kari"}}, sc)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/deviations/AVVIK-2026-1?saved=assign#assign" {
		t.Fatalf("assign = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	d, tl, _ := e.store.GetDeviation(t.Context(), "AVVIK-2026-1")
	if len(d.Assignees) != 1 || d.Assignees[0] != "user:kari" {
		t.Errorf("assignees = %q, want [user:kari]", d.Assignees)
	}
	if last := tl[len(tl)-1]; last.Type != model.TimelineAssignment || last.Actor != "lena" {
		t.Errorf("last timeline entry = %+v, want lena's assignment", last)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "deviation.assign"); !ok || ev.Actor != "lena" || ev.Subject != "AVVIK-2026-1" {
		t.Errorf("audit deviation.assign = %+v, %v", ev, ok)
	}
	body = e.get("/deviations/AVVIK-2026-1?saved=assign", sc).Body.String()
	if !strings.Contains(body, "Avviket er tildelt.") || !strings.Contains(body, `<option value="user:kari" selected>`) ||
		!strings.Contains(body, "Tildeling") {
		t.Error("the page after assigning lacks the notice, the selection or the timeline entry")
	}

	// kari, a line manager outside the organisation register, now sees it:
	// it is hers by name.
	kari := e.login(t, "kari", "hemmelig-passord")
	if rec := e.get("/deviations/AVVIK-2026-1", kari); rec.Code != http.StatusOK {
		t.Errorf("kari GET her deviation = %d, want 200", rec.Code)
	}
	if rec := e.get("/deviations/AVVIK-2026-2", kari); rec.Code != http.StatusNotFound {
		t.Errorf("kari GET another deviation = %d, want 404", rec.Code)
	}
	kariCSRF := sessionFromCookie(t, e, kari).CSRF
	if rec := e.postForm("/deviations/AVVIK-2026-2/assign", url.Values{"csrf": {kariCSRF}, "assignee": {"user:kari"}}, kari); rec.Code != http.StatusNotFound {
		t.Errorf("kari assigns a deviation she cannot see = %d, want 404", rec.Code)
	}
	// Passing it on, she loses sight of it and lands on the list.
	rec = e.postForm("/deviations/AVVIK-2026-1/assign", url.Values{"csrf": {kariCSRF}, "assignee": {"role:sikkerhet"}}, kari)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/deviations" {
		t.Errorf("kari passes it on = %d to %q, want 303 to the list", rec.Code, rec.Header().Get("Location"))
	}

	for _, tc := range []struct {
		id, assignee, msg string
		code              int
	}{
		{"AVVIK-2026-1", "user:ola", "ola er ikke en aktiv bruker som kan behandle avvik.", http.StatusBadRequest},
		{"AVVIK-2026-1", "user:per", "per er ikke en aktiv bruker", http.StatusBadRequest},
		{"AVVIK-2026-1", "user:nobody", "nobody er ikke en aktiv bruker", http.StatusBadRequest},
		{"AVVIK-2026-1", "role:revisor", "Rollen revisor behandler ikke avvik.", http.StatusBadRequest},
		{"AVVIK-2026-1", "team:drift", "er ikke en gyldig mottaker", http.StatusBadRequest},
		{"AVVIK-2026-1", "unit:ukjent", "unit:ukjent finnes ikke i organisasjonsregisteret.", http.StatusBadRequest},
		{"AVVIK-2026-1", "", "Velg hvem avviket skal tildeles.", http.StatusBadRequest},
		{"AVVIK-2026-3", "user:kari", "kan ikke tildeles på nytt", http.StatusBadRequest},
		{"AVVIK-2026-99", "user:kari", "", http.StatusNotFound},
	} {
		before := len(e.store.auditEvents())
		rec := e.postForm("/deviations/"+tc.id+"/assign", url.Values{"csrf": {csrf}, "assignee": {tc.assignee}}, sc)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("assign %s to %q = %d, want %d with %q", tc.id, tc.assignee, rec.Code, tc.code, tc.msg)
		}
		if tc.code == http.StatusBadRequest && !strings.Contains(rec.Body.String(), `<form id="assign-form"`) && tc.id != "AVVIK-2026-3" {
			t.Errorf("assign %s to %q: the refusal lost the form", tc.id, tc.assignee)
		}
		if len(e.store.auditEvents()) != before {
			t.Errorf("assign %s to %q: the refusal changed the audit log", tc.id, tc.assignee)
		}
	}
	// A closed deviation offers no assignment.
	if body := e.get("/deviations/AVVIK-2026-3", sc).Body.String(); strings.Contains(body, `id="assign-form"`) {
		t.Error("a closed deviation offers the assignment form")
	}
	// The revisor sees the assignees but no form.
	ola := e.login(t, "ola", "hemmelig-passord")
	if body := e.get("/deviations/AVVIK-2026-1", ola).Body.String(); strings.Contains(body, `id="assign-form"`) || !strings.Contains(body, `id="assignees"`) {
		t.Error("the revisor is offered the assignment form, or sees no assignees")
	}
}

func TestAPIAssign(t *testing.T) {
	e, _, _ := assignEnv(t)
	authz := e.token(t, model.RoleSikkerhet)
	post := func(id, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/deviations/"+id+"/assign", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authz)
		return e.do(req)
	}
	rec := post("AVVIK-2026-2", `{"assignees":["user:kari","role:sikkerhet","user:kari"]}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("assign = %d %s", rec.Code, rec.Body)
	}
	var d apiDeviationBody
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Assignees, " ") != "user:kari role:sikkerhet" {
		t.Errorf("assignees = %q", d.Assignees)
	}
	if last := d.Timeline[len(d.Timeline)-1]; last.Type != model.TimelineAssignment || !strings.HasPrefix(last.Actor, "token:") {
		t.Errorf("last timeline entry = %+v", last)
	}
	for _, tc := range []struct {
		id, body string
		code     int
	}{
		{"AVVIK-2026-2", `{"assignees":[]}`, http.StatusBadRequest},
		{"AVVIK-2026-2", `{"assignees":["user:ola"]}`, http.StatusBadRequest},
		{"AVVIK-2026-2", `{"assignee":"user:kari"}`, http.StatusBadRequest},
		{"AVVIK-2026-2", `{"assignees":"user:kari"}`, http.StatusBadRequest},
		{"AVVIK-2026-3", `{"assignees":["user:kari"]}`, http.StatusBadRequest},
		{"AVVIK-2026-99", `{"assignees":["user:kari"]}`, http.StatusNotFound},
	} {
		if rec := post(tc.id, tc.body); rec.Code != tc.code {
			t.Errorf("assign %s %s = %d, want %d", tc.id, tc.body, rec.Code, tc.code)
		}
	}
	many := `{"assignees":["role:sikkerhet"` + strings.Repeat(`,"role:sikkerhet"`, 30) + `]}`
	if rec := post("AVVIK-2026-2", many); rec.Code != http.StatusOK {
		t.Errorf("one assignee named 31 times = %d, want 200 (repeats count once)", rec.Code)
	}
}

// TestHostPageDeviations: the host page lists the host's deviations, open
// ones first, with links, for roles that read deviations and within a line
// manager's scope; drift sees no such section.
func TestHostPageDeviations(t *testing.T) {
	e, sc, _ := assignEnv(t)
	body := e.get("/hosts/"+invHost, sc).Body.String()
	i1, i2 := strings.Index(body, `href="/deviations/AVVIK-2026-1"`), strings.Index(body, `href="/deviations/AVVIK-2026-2"`)
	if !strings.Contains(body, `<h2 id="host-deviations-title">Avvik</h2>`) || i1 < 0 || i2 < 0 {
		t.Fatalf("host page lacks the deviations section or its links")
	}
	if strings.Contains(body, `href="/deviations/AVVIK-2026-3"`) {
		t.Error("host page lists another host's deviation")
	}
	// AVVIK-2026-3 is closed, on the revoked host: listed there, after none.
	if body := e.get("/hosts/"+revokedID, sc).Body.String(); !strings.Contains(body, `href="/deviations/AVVIK-2026-3"`) {
		t.Error("the revoked host's page lacks its closed deviation")
	}
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	dag := e.login(t, "dag", "hemmelig-passord")
	if body := e.get("/hosts/"+invHost, dag).Body.String(); strings.Contains(body, "host-deviations-title") {
		t.Error("drift sees the deviations section")
	}
	kari := e.login(t, "kari", "hemmelig-passord")
	if body := e.get("/hosts/"+invHost, kari).Body.String(); !strings.Contains(body, "Ingen avvik på denne maskinen.") {
		t.Error("a line manager sees deviations outside her scope on the host page")
	}
	// Open first: close AVVIK-2026-1 and it moves below AVVIK-2026-2.
	if err := e.store.SetDeviationStatus(t.Context(), "AVVIK-2026-1", model.StatusRejected, "lena", "feil", e.clock.now()); err != nil {
		t.Fatal(err)
	}
	body = e.get("/hosts/"+invHost, sc).Body.String()
	if i1, i2 := strings.Index(body, `href="/deviations/AVVIK-2026-1"`), strings.Index(body, `href="/deviations/AVVIK-2026-2"`); i1 < i2 {
		t.Error("a rejected deviation is listed before an open one")
	}
}
