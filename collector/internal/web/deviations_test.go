package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// sampleDeviations stores three deviations: AVVIK-2026-1 (new, overdue,
// on saksbeh-pc-017), AVVIK-2026-2 (in progress, personal data, breach
// deadline passed) and AVVIK-2026-3 (closed, on the revoked host).
func (e *testEnv) sampleDeviations() {
	now := e.clock.now()
	e.store.addDeviation(model.Deviation{
		ID: "AVVIK-2026-1", Rule: "unknown-media", Subject: "media:" + stickKey, AgentID: invHost,
		Title: "unknown medium", Severity: model.SeverityMedium, Refs: []string{"S1.3", "S6.1"}, Status: model.StatusNew,
		Assignees: []string{"role:sikkerhet"}, CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now.Add(-2 * time.Hour),
		DueAt: now.Add(-time.Hour), FirstSeen: now.Add(-3 * time.Hour), LastSeen: now.Add(-2 * time.Hour), Count: 2,
		Facts:    map[string]string{"label": "PRIVAT", "decision": "allow", "vid": "0951"},
		Evidence: []model.EvidenceRef{{AgentID: invHost, Seq: 10, Kind: "media"}, {AgentID: "0000000000000000", Seq: 4, Kind: "media"}},
	})
	e.store.addDeviation(model.Deviation{
		ID: "AVVIK-2026-2", Rule: "unmarked-media", Subject: "media:0781:5583:4C530001", AgentID: invHost,
		Title: "unmarked medium", Severity: model.SeverityHigh, Refs: []string{"S6.1"}, Status: model.StatusHandling,
		CreatedAt: now.Add(-80 * time.Hour), DueAt: now.Add(24 * time.Hour), FirstSeen: now.Add(-80 * time.Hour), LastSeen: now.Add(-time.Minute),
		Count: 1, PersonalData: true, BreachT0: now.Add(-80 * time.Hour), BreachDue: now.Add(-8 * time.Hour),
	})
	e.store.addDeviation(model.Deviation{
		ID: "AVVIK-2026-3", Rule: "agent-silent", Subject: "agent:" + revokedID, AgentID: revokedID,
		Title: "agent silent", Severity: model.SeverityLow, Status: model.StatusClosed,
		CreatedAt: now.Add(-240 * time.Hour), FirstSeen: now.Add(-240 * time.Hour), LastSeen: now.Add(-240 * time.Hour), Count: 1,
	})
}

// apiDeviationBody is a deviation as the e2e tests and clients decode it.
type apiDeviationBody struct {
	ID            string            `json:"id"`
	Rule          string            `json:"rule"`
	Subject       string            `json:"subject"`
	AgentID       string            `json:"agent_id"`
	Status        string            `json:"status"`
	Open          bool              `json:"open"`
	Severity      string            `json:"severity"`
	Count         int               `json:"count"`
	Refs          []string          `json:"refs"`
	Assignees     []string          `json:"assignees"`
	PersonalData  bool              `json:"personal_data"`
	DueAt         time.Time         `json:"due_at"`
	Overdue       bool              `json:"overdue"`
	BreachDue     time.Time         `json:"breach_due"`
	BreachOverdue bool              `json:"breach_overdue"`
	Facts         map[string]string `json:"facts"`
	Evidence      []model.EvidenceRef
	Timeline      []struct {
		Seq    int64           `json:"seq"`
		At     string          `json:"at"`
		Actor  string          `json:"actor"`
		Type   string          `json:"type"`
		Text   string          `json:"text"`
		Detail json.RawMessage `json:"detail"`
	} `json:"timeline"`
}

func deviationIDs(t *testing.T, e *testEnv, path, authz string) []string {
	t.Helper()
	rec := e.apiGet(path, authz)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
	}
	var b struct {
		Deviations []apiDeviationBody `json:"deviations"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, rec.Body)
	}
	ids := []string{}
	for _, d := range b.Deviations {
		ids = append(ids, d.ID)
	}
	return ids
}

func TestAPIDeviations(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleDeviations()
	authz := e.token(t, model.RoleRevisor)

	for q, want := range map[string]string{
		"":             "AVVIK-2026-1 AVVIK-2026-2 AVVIK-2026-3",
		"?status=open": "AVVIK-2026-1 AVVIK-2026-2",
		"?status=open&limit=1000&rule=unknown-media": "AVVIK-2026-1",
		"?status=lukket":                    "AVVIK-2026-3",
		"?status=under+behandling":          "AVVIK-2026-2",
		"?status=all&agent=" + revokedID:    "AVVIK-2026-3",
		"?limit=1":                          "AVVIK-2026-1",
		"?subject=media:0781:5583:4C530001": "AVVIK-2026-2",
		"?rule=cross-zone-flow":             "",
	} {
		if got := strings.Join(deviationIDs(t, e, "/api/v1/deviations"+q, authz), " "); got != want {
			t.Errorf("deviations%s = %q, want %q", q, got, want)
		}
	}
	for q, msg := range map[string]string{
		"?status=closed":                    `Unknown status "closed".`,
		"?limit=1001":                       "limit must be a whole number from 1 to 1000.",
		"?limit=0":                          "limit must be",
		"?rule=" + strings.Repeat("r", 301): "Parameter rule is longer than 300 bytes",
	} {
		rec := e.apiGet("/api/v1/deviations"+q, authz)
		if m := decodeJSON(t, rec); rec.Code != http.StatusBadRequest || !strings.Contains(m["error"].(string), msg) {
			t.Errorf("deviations%s = %d %v, want 400 with %q", q, rec.Code, m, msg)
		}
	}

	rec := e.apiGet("/api/v1/deviations?status=open", authz)
	var list struct {
		Deviations []apiDeviationBody `json:"deviations"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	d1, d2 := list.Deviations[0], list.Deviations[1]
	if d1.Rule != "unknown-media" || d1.Subject != "media:"+stickKey || d1.AgentID != invHost || d1.Status != "ny" || !d1.Open ||
		d1.Count != 2 || strings.Join(d1.Refs, ",") != "S1.3,S6.1" || strings.Join(d1.Assignees, ",") != "role:sikkerhet" ||
		!d1.Overdue || d1.PersonalData || !d1.BreachDue.IsZero() || d1.Facts["label"] != "PRIVAT" || len(d1.Evidence) != 2 || d1.Timeline != nil {
		t.Errorf("deviation 1 = %+v", d1)
	}
	if !d2.PersonalData || !d2.BreachDue.Equal(e.clock.now().Add(-8*time.Hour)) || !d2.BreachOverdue || d2.Overdue ||
		d2.Refs == nil || d2.Assignees == nil || d2.Facts == nil {
		t.Errorf("deviation 2 = %+v", d2)
	}
	if strings.Contains(rec.Body.String(), `"breach_due":""`) || strings.Contains(rec.Body.String(), `null`) {
		t.Errorf("deviation JSON has empty times or nulls: %s", rec.Body)
	}

	rec = e.apiGet("/api/v1/deviations/AVVIK-2026-1", authz)
	var one apiDeviationBody
	if err := json.Unmarshal(rec.Body.Bytes(), &one); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET deviation = %d %s", rec.Code, rec.Body)
	}
	if one.ID != "AVVIK-2026-1" || len(one.Timeline) != 1 || one.Timeline[0].Type != "created" || one.Timeline[0].Actor != "system" {
		t.Errorf("deviation with timeline = %+v", one)
	}
	if rec := e.apiGet("/api/v1/deviations/AVVIK-2026-99", authz); rec.Code != http.StatusNotFound {
		t.Errorf("GET unknown deviation = %d, want 404", rec.Code)
	}
}

func TestAPIDeviationStatus(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleDeviations()
	authz := e.token(t, model.RoleSikkerhet)
	tokenID, _, _ := parseAPIToken(strings.TrimPrefix(authz, "Bearer "))
	post := func(id, body string) (int, apiDeviationBody, map[string]any) {
		rec := e.apiSend(http.MethodPost, "/api/v1/deviations/"+id+"/status", "application/json", body, authz)
		var d apiDeviationBody
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &d)
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return rec.Code, d, m
	}

	code, d, _ := post("AVVIK-2026-1", `{"status":"under behandling"}`)
	if code != http.StatusOK || d.Status != "under behandling" || len(d.Timeline) != 2 || d.Timeline[1].Type != "status" ||
		d.Timeline[1].Actor != "token:"+tokenID || string(d.Timeline[1].Detail) != `{"from":"ny","to":"under behandling"}` {
		t.Fatalf("status -> under behandling = %d %+v", code, d)
	}
	code, _, m := post("AVVIK-2026-1", `{"status":"lukket"}`)
	if code != http.StatusBadRequest || m["error"] != "Give a reason when closing or rejecting a deviation." || m["code"] != "invalid" {
		t.Errorf("closing without a reason = %d %v", code, m)
	}
	code, d, _ = post("AVVIK-2026-1", `{"status":"lukket","reason":"  Pinnen er levert tilbake  "}`)
	if code != http.StatusOK || d.Status != "lukket" || d.Open || d.Timeline[2].Text != "Pinnen er levert tilbake" {
		t.Errorf("closing with a reason = %d %+v", code, d)
	}
	if ev, ok := findAudit(e.store.auditEvents(), "deviation.status"); !ok || ev.Actor != "token:"+tokenID {
		t.Errorf("status change not audited as token:%s: %+v", tokenID, ev)
	}

	for _, tc := range []struct {
		name, id, ct, body string
		code               int
		msg                string
	}{
		{"closed is final", "AVVIK-2026-1", "application/json", `{"status":"avvist","reason":"x"}`, 400, `A deviation with status "lukket" cannot move to "avvist".`},
		{"new to closed", "AVVIK-2026-2", "application/json", `{"status":"ny"}`, 400, `cannot move to "ny"`},
		{"unknown status", "AVVIK-2026-2", "application/json", `{"status":"closed","reason":"x"}`, 400, `Unknown status "closed".`},
		{"unknown field", "AVVIK-2026-2", "application/json", `{"status":"avvist","why":"x"}`, 400, `unknown field "why"`},
		{"two objects", "AVVIK-2026-2", "application/json", `{"status":"avvist","reason":"x"}{}`, 400, "data after the JSON object"},
		{"not JSON", "AVVIK-2026-2", "application/json", `status=avvist`, 400, "not valid JSON"},
		{"form body", "AVVIK-2026-2", "application/x-www-form-urlencoded", `status=avvist`, 415, "Content-Type must be application/json."},
		{"too large", "AVVIK-2026-2", "application/json", `{"status":"avvist","reason":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "limit of 65536 bytes"},
		{"long reason", "AVVIK-2026-2", "application/json", `{"status":"avvist","reason":"` + strings.Repeat("æ", maxTextRunes+1) + `"}`, 400, "at most 8000 characters"},
		{"unknown deviation", "AVVIK-2026-99", "application/json", `{"status":"avvist","reason":"x"}`, 404, "Not found."},
	} {
		rec := e.apiSend(http.MethodPost, "/api/v1/deviations/"+tc.id+"/status", tc.ct, tc.body, authz)
		m := decodeJSON(t, rec)
		if rec.Code != tc.code || !strings.Contains(m["error"].(string), tc.msg) {
			t.Errorf("%s: = %d %v, want %d with %q", tc.name, rec.Code, m, tc.code, tc.msg)
		}
	}
	if d, _, _ := e.store.GetDeviation(t.Context(), "AVVIK-2026-2"); d.Status != model.StatusHandling {
		t.Errorf("refused requests changed deviation 2 to %q", d.Status)
	}

	// The store refusing a step the web checked means someone else moved it.
	e.store.mu.Lock()
	e.store.failStatus = fmt.Errorf("step: %w", model.ErrInvalid)
	e.store.mu.Unlock()
	if code, _, m := post("AVVIK-2026-2", `{"status":"avvist","reason":"x"}`); code != http.StatusBadRequest ||
		m["error"] != "Someone else changed the deviation meanwhile. Reload the page and try again." {
		t.Errorf("status change the store refuses = %d %v", code, m)
	}
}

func TestAPIDeviationComment(t *testing.T) {
	e := newEnv(t, false)
	e.sampleDeviations()
	authz := e.token(t, model.RoleSikkerhet)
	rec := e.apiSend(http.MethodPost, "/api/v1/deviations/AVVIK-2026-3/comments", "application/json", `{"text":"Kontaktet brukeren."}`, authz)
	var d apiDeviationBody
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || rec.Code != http.StatusCreated {
		t.Fatalf("comment = %d %s", rec.Code, rec.Body)
	}
	last := d.Timeline[len(d.Timeline)-1]
	if last.Type != "comment" || last.Text != "Kontaktet brukeren." || !strings.HasPrefix(last.Actor, "token:") || last.At != "2026-03-02T09:30:00Z" {
		t.Errorf("comment entry = %+v", last)
	}
	for body, msg := range map[string]string{
		`{"text":"   "}`: "The comment is empty.",
		`{}`:             "The comment is empty.",
		`{"text":"` + strings.Repeat("a", maxTextRunes+1) + `"}`: "at most 8000 characters",
	} {
		rec := e.apiSend(http.MethodPost, "/api/v1/deviations/AVVIK-2026-3/comments", "application/json", body, authz)
		if m := decodeJSON(t, rec); rec.Code != http.StatusBadRequest || !strings.Contains(m["error"].(string), msg) {
			t.Errorf("comment %.30s = %d %v, want 400 with %q", body, rec.Code, m, msg)
		}
	}
	if rec := e.apiSend(http.MethodPost, "/api/v1/deviations/AVVIK-2026-99/comments", "application/json", `{"text":"x"}`, authz); rec.Code != http.StatusNotFound {
		t.Errorf("comment on an unknown deviation = %d, want 404", rec.Code)
	}
}

func TestDeviationsPage(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleDeviations()
	e.addUser(t, "lena", "hemmelig-passord", model.RoleSikkerhet)
	sc := e.login(t, "lena", "hemmelig-passord")

	rec := e.get("/deviations", sc)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /deviations = %d", rec.Code)
	}
	for _, w := range []string{`<a href="/deviations" aria-current="page">Avvik</a>`, "2 avvik",
		`<a href="/deviations/AVVIK-2026-1">AVVIK-2026-1</a>`, "Flyttbart medium som ikke står i medieregisteret", "unknown-media",
		"media:0951:1666:E0D55EA57486", `<a href="/hosts/` + invHost + `">saksbeh-pc-017</a>`, "middels", "høy",
		">ny<", ">under behandling<", "Forfalt", "72 timer passert", `<tr class="overdue">`,
		`<option value="open" selected>Åpne (ny og under behandling)</option>`, `<option value="newest" selected>`} {
		if !strings.Contains(body, w) {
			t.Errorf("deviations page lacks %q", w)
		}
	}
	if strings.Contains(body, "AVVIK-2026-3") {
		t.Errorf("default deviations page shows a closed deviation")
	}

	body = e.get("/deviations?status=all&lang=en", sc).Body.String()
	for _, w := range []string{"3 deviations", ">new<", ">in progress<", ">closed<", "Overdue", "72 hours passed", "The agent stopped reporting",
		`<a href="/hosts/` + revokedID + `">gammel-pc-001</a>`, `<option value="all" selected>All</option>`} {
		if !strings.Contains(body, w) {
			t.Errorf("deviations page (all, en) lacks %q", w)
		}
	}
	if strings.Contains(body, "⟦") {
		t.Errorf("deviations page has a key missing from the catalogue")
	}
	body = e.get("/deviations?status=all&severity=high", sc).Body.String()
	if !strings.Contains(body, `<option value="high" selected>`) || strings.Contains(body, `class="badge badge-warn">middels<`) {
		t.Errorf("severity filter does not narrow the list or keep its choice")
	}
	if rec := e.get("/deviations?severity=enorm", sc); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "enorm") {
		t.Errorf("GET /deviations?severity=enorm = %d, want 400 naming the value", rec.Code)
	}
	body = e.get("/deviations?status=all&rule=agent-silent", sc).Body.String()
	if !strings.Contains(body, "AVVIK-2026-3") || strings.Contains(body, "AVVIK-2026-1<") || !strings.Contains(body, `<option value="agent-silent" selected>`) {
		t.Errorf("rule filter does not narrow the list or keep its choice")
	}
	order := func(body string, ids ...string) bool {
		last := -1
		for _, id := range ids {
			i := strings.Index(body, ">"+id+"<")
			if i < last {
				return false
			}
			last = i
		}
		return true
	}
	if body := e.get("/deviations?status=all", sc).Body.String(); !order(body, "AVVIK-2026-1", "AVVIK-2026-2", "AVVIK-2026-3") {
		t.Errorf("newest first is not the default order")
	}
	if body := e.get("/deviations?status=all&sort=last_seen", sc).Body.String(); !order(body, "AVVIK-2026-2", "AVVIK-2026-1", "AVVIK-2026-3") {
		t.Errorf("sort=last_seen is not last seen first")
	}
	if body := e.get("/deviations?status=all&sort=due", sc).Body.String(); !order(body, "AVVIK-2026-1", "AVVIK-2026-2", "AVVIK-2026-3") {
		t.Errorf("sort=due is not soonest due first, none last")
	}
	body = e.get("/deviations?rule=cross-zone-flow", sc).Body.String()
	if !strings.Contains(body, translate("nb", "dev.empty")) || !strings.Contains(body, `href="/deviations">Nullstill`) {
		t.Errorf("empty filtered list does not say so or offer a reset")
	}
	for _, q := range []string{"?status=closed", "?sort=oldest"} {
		if rec := e.get("/deviations"+q, sc); rec.Code != http.StatusBadRequest {
			t.Errorf("GET /deviations%s = %d, want 400", q, rec.Code)
		}
	}

	// Roles that may not read deviations do not get the nav entry.
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	if body := e.get("/hosts", e.login(t, "dag", "hemmelig-passord")).Body.String(); strings.Contains(body, `href="/deviations"`) ||
		!strings.Contains(body, `href="/media"`) || !strings.Contains(body, `href="/assets"`) {
		t.Errorf("drift's nav: deviations shown or media entries missing")
	}
}

func TestDeviationPage(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleDeviations()
	e.addUser(t, "lena", "hemmelig-passord", model.RoleSikkerhet)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "lena", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF
	e.store.addTimeline("AVVIK-2026-1", model.TimelineEvent{At: e.clock.now(), Actor: "system", Type: model.TimelineOccurrence,
		Text: "seen on agent " + revokedID, Detail: `{"agent_id":"` + revokedID + `"}`})

	body := e.get("/deviations/AVVIK-2026-1", sc).Body.String()
	for _, w := range []string{"<h1>AVVIK-2026-1</h1>", "<title>AVVIK-2026-1 · Sonevakt</title>", "Flyttbart medium som ikke står i medieregisteret",
		"media:0951:1666:E0D55EA57486", `<a href="/hosts/` + invHost + `">saksbeh-pc-017</a>`, "S1.3", "S6.1", "role:sikkerhet",
		"Forfalt", "PRIVAT", "decision", "saksbeh-pc-017</a> · mediehendelse · <span class=\"mono\">post 10</span>", "0000000000000000",
		"Opprettet", "Ny forekomst", "Sett også på gammel-pc-001", `action="/deviations/AVVIK-2026-1/status"`, `action="/deviations/AVVIK-2026-1/comments"`,
		`name="csrf" value="` + csrf + `"`, `<option value="under behandling" selected>under behandling</option>`, `<option value="avvist">avvist</option>`} {
		if !strings.Contains(body, w) {
			t.Errorf("deviation page lacks %q", w)
		}
	}
	if strings.Contains(body, `<option value="lukket"`) {
		t.Errorf("a new deviation offers lukket, which the lifecycle does not allow")
	}
	if strings.Contains(body, "unknown medium") {
		t.Errorf("the nb page shows the finding's English title")
	}
	body = e.get("/deviations/AVVIK-2026-2?lang=en", sc).Body.String()
	for _, w := range []string{"May involve personal data", "Known since (T0)", "72 hours passed", "The rule recorded no details.", "No records are linked"} {
		if !strings.Contains(body, w) {
			t.Errorf("deviation 2 page (en) lacks %q", w)
		}
	}
	body = e.get("/deviations/AVVIK-2026-3", sc).Body.String()
	if !strings.Contains(body, translate("nb", "dev.finished")) || strings.Contains(body, `action="/deviations/AVVIK-2026-3/status"`) ||
		!strings.Contains(body, `action="/deviations/AVVIK-2026-3/comments"`) {
		t.Errorf("closed deviation's page offers a status change or lacks the comment form")
	}
	if strings.Contains(body, "⟦") {
		t.Errorf("deviation page has a key missing from the catalogue")
	}
	if rec := e.get("/deviations/AVVIK-2026-99", sc); rec.Code != http.StatusNotFound {
		t.Errorf("unknown deviation page = %d, want 404", rec.Code)
	}

	// The auditor reads but gets no forms.
	body = e.get("/deviations/AVVIK-2026-1", e.login(t, "rut", "hemmelig-passord")).Body.String()
	if !strings.Contains(body, "AVVIK-2026-1") || strings.Contains(body, "/status\"") || strings.Contains(body, "/comments\"") {
		t.Errorf("auditor's deviation page shows handling forms")
	}
}

func TestDeviationForms(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleDeviations()
	e.addUser(t, "lena", "hemmelig-passord", model.RoleSikkerhet)
	sc := e.login(t, "lena", "hemmelig-passord")
	csrf := sessionFromCookie(t, e, sc).CSRF

	rec := e.postForm("/deviations/AVVIK-2026-1/status", url.Values{"csrf": {csrf}, "status": {"under behandling"}}, sc)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/deviations/AVVIK-2026-1?saved=status" {
		t.Fatalf("status form = %d to %q, want 303 back to the deviation", rec.Code, rec.Header().Get("Location"))
	}
	body := e.get(rec.Header().Get("Location"), sc).Body.String()
	if !strings.Contains(body, "Statusen er endret.") || !strings.Contains(body, "lena") || !strings.Contains(body, `<option value="lukket" selected>`) ||
		!strings.Contains(body, "<strong>ny → under behandling</strong>") {
		t.Errorf("page after the status change lacks the notice, the actor or the next step")
	}

	rec = e.postForm("/deviations/AVVIK-2026-1/status", url.Values{"csrf": {csrf}, "status": {"lukket"}, "reason": {"  "}}, sc)
	body = rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, "Skriv en begrunnelse når avviket lukkes eller avvises.") ||
		!strings.Contains(body, `action="/deviations/AVVIK-2026-1/status"`) {
		t.Errorf("closing without a reason = %d; want 400 with the form and the message", rec.Code)
	}
	rec = e.postForm("/deviations/AVVIK-2026-1/status?lang=en", url.Values{"csrf": {csrf}, "status": {"ny"}, "reason": {"tilbake <b>"}}, sc)
	body = rec.Body.String()
	if rec.Code != http.StatusBadRequest || !strings.Contains(body, "cannot move to &#34;ny&#34;") || !strings.Contains(body, "tilbake &lt;b&gt;</textarea>") {
		t.Errorf("a step the lifecycle forbids = %d; want 400 keeping the typed reason, escaped", rec.Code)
	}
	rec = e.postForm("/deviations/AVVIK-2026-1/status", url.Values{"csrf": {csrf}, "status": {"lukket"}, "reason": {"Levert tilbake."}}, sc)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("closing with a reason = %d, want 303", rec.Code)
	}
	if d, _, _ := e.store.GetDeviation(t.Context(), "AVVIK-2026-1"); d.Status != model.StatusClosed {
		t.Errorf("status after closing = %q", d.Status)
	}

	rec = e.postForm("/deviations/AVVIK-2026-1/comments", url.Values{"csrf": {csrf}, "text": {"Brukeren er informert."}}, sc)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/deviations/AVVIK-2026-1?saved=comment#timeline" {
		t.Fatalf("comment form = %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	body = e.get("/deviations/AVVIK-2026-1?saved=comment", sc).Body.String()
	if !strings.Contains(body, "Kommentaren er lagt til.") || !strings.Contains(body, "Brukeren er informert.") {
		t.Errorf("page after the comment lacks the notice or the comment")
	}
	rec = e.postForm("/deviations/AVVIK-2026-1/comments", url.Values{"csrf": {csrf}, "text": {""}}, sc)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Kommentaren er tom.") {
		t.Errorf("empty comment = %d, want 400 saying so", rec.Code)
	}
	if rec := e.postForm("/deviations/AVVIK-2026-99/comments", url.Values{"csrf": {csrf}, "text": {"x"}}, sc); rec.Code != http.StatusNotFound {
		t.Errorf("comment on an unknown deviation = %d, want 404", rec.Code)
	}
}

// TestLeaderSeesOwnUnits: a line manager sees and handles the deviations
// of the units they manage and those below, and those assigned to them in
// person; another unit's deviation is not found, not forbidden, so that its
// existence is not told. A leder the organisation register does not know
// sees nothing; the security officer sees everything.
func TestLeaderSeesOwnUnits(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	ctx := t.Context()
	at := e.clock.now()
	if _, err := e.store.ImportPeople(ctx, []model.Person{
		{ID: "siri", Name: "Siri Sikker", Email: "siri@namsos.kommune.no", Roles: []string{"sikkerhet"}},
		{ID: "hilde", Name: "Hilde Helse", Email: "hilde@namsos.kommune.no", Username: "hilde", Roles: []string{"leder"}},
		{ID: "kari", Name: "Kari Kultur", Email: "kari@namsos.kommune.no", Username: "kari", Roles: []string{"leder"}},
	}, true, "test", at); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportUnits(ctx, []model.Unit{
		{ID: "helse", Name: "Helse og omsorg", Manager: "hilde"},
		{ID: "sykehjem", Name: "Sykehjem", Parent: "helse"},
		{ID: "kultur", Name: "Kultur", Manager: "kari"},
	}, true, "test", at); err != nil {
		t.Fatal(err)
	}
	for i, as := range [][]string{
		{"role:sikkerhet", "person:hilde", "unit:helse:leder"},
		{"role:sikkerhet", "unit:sykehjem:leder"},
		{"role:sikkerhet", "person:kari", "unit:kultur:leder"},
		{"role:sikkerhet"},
	} {
		e.store.addDeviation(model.Deviation{
			ID: fmt.Sprintf("AVVIK-2026-%d", i+1), Rule: "unknown-media", Subject: fmt.Sprintf("media:%d", i), AgentID: invHost,
			Title: "unknown medium", Severity: model.SeverityMedium, Status: model.StatusNew, Assignees: as,
			CreatedAt: at, UpdatedAt: at, FirstSeen: at, LastSeen: at, Count: 1,
		})
	}
	e.addUser(t, "hilde", "a long enough password 1", model.RoleLeder)
	e.addUser(t, "ola", "a long enough password 2", model.RoleLeder)
	hilde := e.login(t, "hilde", "a long enough password 1")
	ola := e.login(t, "ola", "a long enough password 2")

	ids := func(sc *http.Cookie) string {
		rec := e.get("/api/v1/deviations?status=all", sc)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/v1/deviations = %d %s", rec.Code, rec.Body)
		}
		var b struct {
			Deviations []apiDeviationBody `json:"deviations"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range b.Deviations {
			out = append(out, d.ID)
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	if got := ids(hilde); got != "AVVIK-2026-1 AVVIK-2026-2" {
		t.Errorf("hilde (manager of helse and, below it, sykehjem) sees %q", got)
	}
	if got := ids(ola); got != "" {
		t.Errorf("ola (not in the register) sees %q, want nothing", got)
	}
	if rec := e.get("/api/v1/deviations/AVVIK-2026-3", hilde); rec.Code != http.StatusNotFound {
		t.Errorf("hilde GET another unit's deviation = %d, want 404", rec.Code)
	}
	if rec := e.get("/api/v1/deviations/AVVIK-2026-2", hilde); rec.Code != http.StatusOK {
		t.Errorf("hilde GET her sub-unit's deviation = %d, want 200", rec.Code)
	}
	all := deviationIDs(t, e, "/api/v1/deviations?status=all", e.token(t, model.RoleSikkerhet))
	slices.Sort(all)
	if got := strings.Join(all, " "); got != "AVVIK-2026-1 AVVIK-2026-2 AVVIK-2026-3 AVVIK-2026-4" {
		t.Errorf("the security officer sees %q, want all four", got)
	}
}
