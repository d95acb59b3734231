package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// overviewEnv is mapEnv with the sample deviations, AVVIK-2026-2 (high,
// personal data, breach deadline 8 h past) handled by unit kd, whose
// manager is user "leder1".
func overviewEnv(t *testing.T) *testEnv {
	t.Helper()
	e := mapEnv(t)
	e.sampleDeviations()
	ctx, at := t.Context(), e.clock.now()
	if _, err := e.store.ImportUnits(ctx, []model.Unit{{ID: "kd", Name: "KD"}}, false, "test", at); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportPeople(ctx, []model.Person{
		{ID: "siri", Name: "Siri", Unit: "kd", Roles: []string{"sikkerhet"}},
		{ID: "p-leder", Name: "Leder", Unit: "kd", Username: "leder1", Roles: []string{"leder"}},
	}, false, "test", at); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.ImportUnits(ctx, []model.Unit{{ID: "kd", Name: "KD", Manager: "p-leder"}}, false, "test", at); err != nil {
		t.Fatal(err)
	}
	e.store.mu.Lock()
	e.store.devs["AVVIK-2026-2"].d.Assignees = []string{"role:sikkerhet", "unit:kd:leder"}
	e.store.mu.Unlock()
	// A breach clock still running: due in 5 h 30 min.
	e.store.addDeviation(model.Deviation{ID: "AVVIK-2026-4", Rule: "unknown-media", Subject: "media:x", Title: "ny <klokke>",
		Severity: model.SeverityCritical, Status: model.StatusNew, CreatedAt: at, PersonalData: true,
		BreachT0: at.Add(-66*time.Hour - 30*time.Minute), BreachDue: at.Add(5*time.Hour + 30*time.Minute)})
	for _, u := range []struct {
		name string
		role model.Role
	}{{"admin1", model.RoleAdmin}, {"drift1", model.RoleDrift}, {"leder1", model.RoleLeder}, {"revisor1", model.RoleRevisor}} {
		e.addUser(t, u.name, "hemmelig-passord", u.role)
	}
	return e
}

func TestOverviewPage(t *testing.T) {
	e := overviewEnv(t)
	for _, tc := range []struct {
		user      string
		want, not []string
	}{
		{"admin1", []string{`<h1 id="overview-title">Oversikt</h1>`, `id="ov-deviations" class="ov-block" data-live-region`,
			"3 åpne avvik", `href="/deviations?severity=high&amp;status=open"`,
			`id="ov-breaches"`, "5 t 30 min igjen", "fristen gikk ut for 8 t 0 min siden", "ny &lt;klokke&gt;",
			`id="ov-silent"`, "1 eiendel uten agent som rapporterer", "K-0002",
			`id="ov-unregistered"`, `id="ov-conflicts"`, "1 konflikt",
			`id="ov-coverage"`, "<meter", "2 av 3 registrerte eiendeler", "66,7\u00a0%",
			`data-live="hosts,deviations,map,agents"`}, nil},
		// The line manager counts only their unit's deviation.
		{"leder1", []string{"1 åpent avvik", "fristen gikk ut for 8 t"}, []string{"5 t 30 min igjen", "3 åpne avvik"}},
		{"revisor1", []string{"3 åpne avvik", `id="ov-breaches"`}, []string{"/status", "/assign"}},
		{"drift1", []string{`id="ov-silent"`, `id="ov-coverage"`}, []string{`id="ov-deviations"`, `id="ov-breaches"`, "3 åpne avvik", "/deviations?"}},
	} {
		sc := e.login(t, tc.user, "hemmelig-passord")
		rec := e.get("/", sc)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: GET / = %d\n%s", tc.user, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: overview lacks %q", tc.user, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%s: overview has %q", tc.user, n)
			}
		}
		if strings.Contains(body, "style=") {
			t.Errorf("%s: overview has a style attribute", tc.user)
		}
	}
	// English.
	sc := e.login(t, "admin1", "hemmelig-passord")
	body := e.get("/?lang=en", sc).Body.String()
	for _, w := range []string{"Overview", "3 open deviations", "5 h 30 min left", "66.7\u00a0%"} {
		if !strings.Contains(body, w) {
			t.Errorf("en: overview lacks %q", w)
		}
	}
}

func TestAPIOverview(t *testing.T) {
	e := overviewEnv(t)
	type body struct {
		Deviations *struct {
			Open       int            `json:"open"`
			BySeverity map[string]int `json:"by_severity"`
		} `json:"deviations"`
		Breaches []struct {
			ID          string `json:"id"`
			SecondsLeft int64  `json:"seconds_left"`
			Overdue     bool   `json:"overdue"`
		} `json:"breach_clocks"`
		Map *struct {
			Silent   struct{ Count int } `json:"silent"`
			Coverage struct {
				Registered, Reporting int
				Percent               float64
			} `json:"coverage"`
		} `json:"map"`
	}
	get := func(user string) body {
		t.Helper()
		rec := e.get("/api/v1/overview", e.login(t, user, "hemmelig-passord"))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: GET /api/v1/overview = %d\n%s", user, rec.Code, rec.Body)
		}
		var b body
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := get("admin1")
	if b.Deviations == nil || b.Deviations.Open != 3 || b.Deviations.BySeverity["critical"] != 1 || b.Deviations.BySeverity["high"] != 1 || b.Deviations.BySeverity["medium"] != 1 {
		t.Errorf("admin deviations = %+v", b.Deviations)
	}
	if len(b.Breaches) != 2 || b.Breaches[0].ID != "AVVIK-2026-2" || !b.Breaches[0].Overdue ||
		b.Breaches[1].SecondsLeft != int64((5*time.Hour+30*time.Minute)/time.Second) {
		t.Errorf("breach clocks = %+v", b.Breaches)
	}
	if b.Map == nil || b.Map.Silent.Count != 1 || b.Map.Coverage.Registered != 3 || b.Map.Coverage.Reporting != 2 {
		t.Errorf("map = %+v", b.Map)
	}
	if l := get("leder1"); l.Deviations == nil || l.Deviations.Open != 1 || len(l.Breaches) != 1 {
		t.Errorf("leder sees %+v, %+v", l.Deviations, l.Breaches)
	}
	if d := get("drift1"); d.Deviations != nil || d.Breaches != nil || d.Map == nil {
		t.Errorf("drift sees deviations %+v / %+v", d.Deviations, d.Breaches)
	}
}

func TestTimeLeft(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		lang string
		want string
	}{
		{5*time.Hour + 30*time.Minute, "nb", "5 t 30 min igjen"},
		{50 * time.Hour, "nb", "2 d 2 t igjen"},
		{-90 * time.Second, "nb", "fristen gikk ut for 2 min siden"},
		{20 * time.Second, "en", "0 min left"},
	} {
		if got := timeLeft(tc.lang, tc.d); got != tc.want {
			t.Errorf("timeLeft(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestHostsPagination pages the host list (pages.go's handleHosts).
func TestHostsPagination(t *testing.T) {
	e := newEnv(t, false)
	for i := range 250 {
		e.store.addHost(model.HostSummary{Agent: model.Agent{ID: fmt.Sprintf("agent-%03d", i), Hostname: fmt.Sprintf("pc-%03d", i), LastSeen: e.clock.now()}})
	}
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "kari", "hemmelig-passord")
	for _, tc := range []struct {
		path  string
		rows  int
		want  []string
		first string
	}{
		{"/hosts", 100, []string{"250 verter", "Side 1 av 3", "Viser 1–100 av 250", `href="/hosts?page=2" rel="next"`, `href="/hosts?page=3">Siste side`}, "agent-000"},
		{"/hosts?page=2", 100, []string{"Side 2 av 3", "Viser 101–200 av 250", `href="/hosts" rel="prev"`, `href="/hosts?page=3" rel="next"`}, "agent-100"},
		{"/hosts?page=3", 50, []string{"Side 3 av 3", "Viser 201–250 av 250", `href="/hosts?page=2" rel="prev"`}, "agent-200"},
		{"/hosts?page=4&lang=en", 50, []string{"Page 3 of 3", "Showing 201–250 of 250", `href="/hosts?lang=en&amp;page=2" rel="prev"`}, "agent-200"},
	} {
		rec := e.get(tc.path, sc)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", tc.path, rec.Code)
		}
		body := rec.Body.String()
		if n := strings.Count(body, "<tr data-agent="); n != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.path, n, tc.rows)
		}
		if !strings.Contains(body, `<tr data-agent="`+tc.first+`">`) {
			t.Errorf("%s does not start with %s", tc.path, tc.first)
		}
		for _, w := range append(tc.want, `<div id="hosts-live" data-live-region>`, `data-live="hosts"`) {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tc.path, w)
			}
		}
		if strings.Contains(body, `rel="next"`) && tc.rows < 100 {
			t.Errorf("%s: the last page links to a next one", tc.path)
		}
	}
	if rec := e.get("/hosts?page=abc", sc); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "page må være et helt tall") {
		t.Errorf("GET /hosts?page=abc = %d", rec.Code)
	}
}
