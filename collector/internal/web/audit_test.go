package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// sampleAudit appends n events an hour apart, ending at the clock: even
// ones by kari (user.login), odd ones by ola (deviation.comment).
func (e *testEnv) sampleAudit(t *testing.T, n int) {
	t.Helper()
	now := e.clock.now()
	for i := range n {
		ev := model.AuditEvent{At: now.Add(time.Duration(i-n+1) * time.Hour), Actor: "kari", Action: "user.login",
			Subject: fmt.Sprintf("s%d", i), Detail: fmt.Sprintf(`{"i":"%d"}`, i)}
		if i%2 == 1 {
			ev.Actor, ev.Action = "ola", "deviation.comment"
		}
		if _, err := e.store.AppendAudit(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

var auditSeqRE = regexp.MustCompile(`<th scope="row" class="num">(\d+)</th>`)

// auditSeqs returns the seqs a page of the audit log shows, in order.
func auditSeqs(body string) []string {
	var out []string
	for _, m := range auditSeqRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestAuditPage(t *testing.T) {
	e := newEnv(t, false)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "rut", "hemmelig-passord")
	base := int64(len(e.store.auditEvents())) // the login
	e.sampleAudit(t, 120)
	total := base + 120

	rec := e.get("/audit", sc)
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /audit = %d", rec.Code)
	}
	seqs := auditSeqs(body)
	if len(seqs) != auditPageRows || seqs[0] != fmt.Sprint(total) || seqs[49] != fmt.Sprint(total-49) {
		t.Fatalf("first page shows %d rows from %v; want 50, newest (%d) first", len(seqs), seqs[:min(2, len(seqs))], total)
	}
	for _, want := range []string{`<section id="evidence"`, "sonevakt-collector evidence export", "sonevakt-collector evidence verify",
		`<a href="/audit" aria-current="page">Revisjon</a>`, `{&#34;i&#34;:&#34;119&#34;}`, `id="audit-actor"`, `href="/audit?before=` + fmt.Sprint(total-49) + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	// The third page holds what is left, with a link back to the newest.
	body = e.get(fmt.Sprintf("/audit?before=%d", total-99), sc).Body.String()
	if seqs := auditSeqs(body); len(seqs) != int(total-100) || seqs[0] != fmt.Sprint(total-100) {
		t.Errorf("last page = %v", seqs)
	}
	if strings.Contains(body, "before=") && !strings.Contains(body, `href="/audit">`) {
		t.Error("last page lacks the link to the newest")
	}

	// Filters: actor, action group, period; they survive paging.
	body = e.get("/audit?actor=OLA&action=deviation", sc).Body.String()
	if seqs := auditSeqs(body); len(seqs) != 50 || strings.Contains(body, ">user.login<") {
		t.Errorf("ola's comments: %d rows, or other actions shown", len(seqs))
	}
	if !strings.Contains(body, "actor=OLA") || !strings.Contains(body, `value="OLA"`) {
		t.Error("the filters are not kept in the form and the paging link")
	}
	day := e.clock.now().Local().Format("2006-01-02")
	body = e.get("/audit?from="+day+"&to="+day+"&action=user.login", sc).Body.String()
	for _, s := range auditSeqs(body) {
		ev := e.store.auditEvents()[mustAtoi(t, s)-1]
		if ev.Action != "user.login" || ev.At.Local().Format("2006-01-02") != day {
			t.Errorf("period filter shows %+v", ev)
		}
	}
	if body := e.get("/audit?actor=nobody", sc).Body.String(); !strings.Contains(body, "Ingen hendelser passer filtrene.") {
		t.Error("no word that nothing matches")
	}
	for _, q := range []string{"?before=x", "?before=-1", "?from=igår", "?from=2026-03-02&to=2026-03-01"} {
		if rec := e.get("/audit"+q, sc); rec.Code != http.StatusBadRequest {
			t.Errorf("GET /audit%s = %d, want 400", q, rec.Code)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

type apiAuditBody struct {
	Events []struct {
		Seq     int64           `json:"seq"`
		At      time.Time       `json:"at"`
		Actor   string          `json:"actor"`
		Action  string          `json:"action"`
		Subject string          `json:"subject"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"events"`
	Next int64 `json:"next"`
}

func TestAPIAudit(t *testing.T) {
	e := newEnv(t, false)
	authz := e.token(t, model.RoleRevisor) // audited: seq 1
	e.sampleAudit(t, 10)                   // seqs 2..11
	get := func(q string) apiAuditBody {
		t.Helper()
		rec := e.apiGet("/api/v1/audit"+q, authz)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/v1/audit%s = %d %s", q, rec.Code, rec.Body)
		}
		var b apiAuditBody
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := get("?limit=4")
	if len(b.Events) != 4 || b.Events[0].Seq != 1 || b.Next != 4 {
		t.Fatalf("first 4 = %d events from %d, next %d", len(b.Events), b.Events[0].Seq, b.Next)
	}
	if b.Events[1].Action != "user.login" || string(b.Events[1].Detail) != `{"i":"0"}` {
		t.Errorf("event 2 = %+v", b.Events[1])
	}
	if b = get("?after=8&limit=4"); len(b.Events) != 3 || b.Next != 0 {
		t.Errorf("after 8 = %d events, next %d; want 3 and 0", len(b.Events), b.Next)
	}
	b = get("?actor=ola&action=deviation.comment")
	if len(b.Events) != 5 {
		t.Errorf("ola's comments = %d events, want 5", len(b.Events))
	}
	for _, ev := range b.Events {
		if ev.Actor != "ola" {
			t.Errorf("actor filter let %+v through", ev)
		}
	}
	from := e.clock.now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
	if b = get("?from=" + from); len(b.Events) != 4 { // the token's, at now, and the last three
		t.Errorf("from %s = %d events, want 4", from, len(b.Events))
	}
	for _, q := range []string{"?after=x", "?limit=0", "?limit=1001", "?to=nei"} {
		if rec := e.apiGet("/api/v1/audit"+q, authz); rec.Code != http.StatusBadRequest {
			t.Errorf("GET /api/v1/audit%s = %d, want 400", q, rec.Code)
		}
	}
	if rec := e.apiGet("/api/v1/audit", e.token(t, model.RoleDrift)); rec.Code != http.StatusForbidden {
		t.Errorf("drift GET /api/v1/audit = %d, want 403", rec.Code)
	}
}
