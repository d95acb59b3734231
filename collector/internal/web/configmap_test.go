package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// sampleConfigMap takes one snapshot (id 1) of whatever the env holds, so
// that the snapshot and diff routes have something to read.
func (e *testEnv) sampleConfigMap(t *testing.T) {
	t.Helper()
	if _, err := configmap.Take(t.Context(), e.store, e.srv.configMap, "test", "seed"); err != nil {
		t.Fatalf("sampleConfigMap: %v", err)
	}
}

// mapEnv is an env whose map has one entry of every state: K-0001 matched
// by saksbeh-pc-017's MAC, K-0002 silent, K-0003 claimed by two agents
// (conflict), agent "klone-2"'s twin unregistered, and an unknown printer
// on the wire.
func mapEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, false)
	e.sampleHosts()
	now := e.clock.now()
	for _, id := range []string{"klone-1", "klone-2", "ukjent-pc"} {
		e.store.addHost(model.HostSummary{Agent: model.Agent{ID: id, Hostname: id, LastSeen: now.Add(-time.Minute)}})
	}
	e.store.setInventory("klone-1", wire.Inventory{Hardware: &wire.Hardware{System: wire.System{Serial: "PF3CLONE"}}}, now)
	e.store.setInventory("klone-2", wire.Inventory{Hardware: &wire.Hardware{System: wire.System{Serial: "pf3clone"}}}, now)
	e.store.setInventory("ukjent-pc", wire.Inventory{Hardware: &wire.Hardware{System: wire.System{Serial: "To be filled by O.E.M."}}}, now)
	if _, err := e.store.ImportAssets(t.Context(), []model.Asset{
		{Tag: "K-0001", Type: model.AssetPC, MACs: []string{"3c:52:82:aa:bb:cc"}, OwnerUnit: "Skole", Zone: "intern", Status: model.AssetActive},
		{Tag: "K-0002", Type: model.AssetLaptop, Serial: "PF3GONE", OwnerUnit: "Helse", Zone: "helse", Status: model.AssetActive},
		{Tag: "K-0003", Type: model.AssetPC, Serial: "PF3CLONE", OwnerUnit: "Skole", Status: model.AssetActive},
	}, true, "kari", now); err != nil {
		t.Fatal(err)
	}
	e.traffic.addNeighbours(model.Neighbour{Neighbour: wire.Neighbour{MAC: "00:11:22:33:44:55", IPs: []string{"10.20.30.99"},
		Vendor: "Skriver AS", SeenBy: []string{wire.ViaARP}, Last: now.UnixNano()}, SeenByAgents: []string{invHost}})
	return e
}

// mapBody is the map as a client decodes it.
type mapBody struct {
	At      string         `json:"at"`
	Counts  map[string]int `json:"counts"`
	Total   int            `json:"total"`
	Entries []struct {
		Key      string   `json:"key"`
		State    string   `json:"state"`
		Kind     string   `json:"kind"`
		AgentIDs []string `json:"agent_ids"`
		Unit     string   `json:"unit"`
		Reasons  []string `json:"reasons"`
		Asset    *struct {
			Tag string `json:"asset_tag"`
		} `json:"asset"`
	} `json:"entries"`
}

func (b mapBody) keys() []string {
	var out []string
	for _, e := range b.Entries {
		out = append(out, e.State+" "+e.Key)
	}
	return out
}

func TestAPIConfigMap(t *testing.T) {
	e := mapEnv(t)
	tok := e.token(t, model.RoleRevisor)
	rec := e.apiGet("/api/v1/configmap", tok)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/configmap = %d\n%s", rec.Code, rec.Body)
	}
	var b mapBody
	decodeInto(t, rec, &b)
	want := []string{
		"matched K-0001", "silent K-0002", "conflict K-0003",
		"unregistered ukjent-pc", "unregistered 00:11:22:33:44:55",
	}
	if !slices.Equal(b.keys(), want) {
		t.Fatalf("entries = %q, want %q", b.keys(), want)
	}
	if b.Counts["matched"] != 1 || b.Counts["silent"] != 1 || b.Counts["conflict"] != 1 || b.Counts["unregistered"] != 2 || b.Total != 5 {
		t.Errorf("counts %v total %d", b.Counts, b.Total)
	}
	if b.At != "2026-03-02T09:30:00Z" {
		t.Errorf("at = %q, want the server's clock", b.At)
	}
	if c := b.Entries[2]; !slices.Equal(c.AgentIDs, []string{"klone-1", "klone-2"}) || c.Asset == nil || c.Asset.Tag != "K-0003" {
		t.Errorf("conflict entry = %+v", c)
	}

	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"state=silent", []string{"silent K-0002"}},
		{"kind=device", []string{"unregistered 00:11:22:33:44:55"}},
		{"state=unregistered&kind=agent", []string{"unregistered ukjent-pc"}},
		{"zone=HELSE", []string{"silent K-0002"}},
		{"unit=skole", []string{"matched K-0001", "conflict K-0003"}},
		{"q=3C:52:82", []string{"matched K-0001"}},
		{"q=10.20.30.99", []string{"unregistered 00:11:22:33:44:55"}},
		{"q=pf3clone", []string{"conflict K-0003"}},
		{"q=saksbeh-pc", []string{"matched K-0001"}},
		{"q=nothing-like-it", nil},
	} {
		rec := e.apiGet("/api/v1/configmap?"+tc.query, tok)
		var b mapBody
		decodeInto(t, rec, &b)
		if rec.Code != http.StatusOK || !slices.Equal(b.keys(), tc.want) {
			t.Errorf("?%s = %d %q, want %q", tc.query, rec.Code, b.keys(), tc.want)
		}
		if b.Total != 5 || b.Counts["unregistered"] != 2 {
			t.Errorf("?%s: counts %v total %d, want the whole map's", tc.query, b.Counts, b.Total)
		}
	}
	for _, q := range []string{"state=green", "kind=printer", "q=" + strings.Repeat("x", maxParamBytes+1)} {
		if rec := e.apiGet("/api/v1/configmap?"+q, tok); rec.Code != http.StatusBadRequest {
			t.Errorf("?%.40s = %d, want 400", q, rec.Code)
		}
	}
}

func TestAPIConfigMapSnapshotsAndDiff(t *testing.T) {
	e := mapEnv(t)
	drift, revisor := e.token(t, model.RoleDrift), e.token(t, model.RoleRevisor)

	// No snapshot yet: the list is empty, a diff has nothing to start from.
	rec := e.apiGet("/api/v1/configmap/snapshots", revisor)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"snapshots":[]`) {
		t.Fatalf("empty list = %d %s", rec.Code, rec.Body)
	}
	if rec := e.apiGet("/api/v1/configmap/diff", revisor); rec.Code != http.StatusNotFound {
		t.Errorf("diff without snapshots = %d, want 404", rec.Code)
	}

	rec = e.apiSend(http.MethodPost, "/api/v1/configmap/snapshots", "application/json", `{"note":"årsgjennomgang 2026"}`, drift)
	if rec.Code != http.StatusCreated || rec.Header().Get("Location") != "/api/v1/configmap/snapshots/1" {
		t.Fatalf("POST snapshot = %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	ev, ok := findAudit(e.store.auditEvents(), "configmap.snapshot")
	if !ok || !strings.HasPrefix(ev.Actor, "token:") || ev.Subject != "1" {
		t.Errorf("audit of the snapshot = %+v, %v", ev, ok)
	}
	snaps := e.store.mapSnapshots()
	if len(snaps) != 1 || snaps[0].Note != "årsgjennomgang 2026" || snaps[0].Counts["unregistered"] != 2 || !snaps[0].At.Equal(e.clock.now()) {
		t.Fatalf("stored snapshots = %+v", snaps)
	}

	// The estate changes: K-0002 reports again, the printer is registered.
	e.clock.advance(24 * time.Hour)
	now := e.clock.now()
	e.store.addHost(model.HostSummary{Agent: model.Agent{ID: "helse-pc", Hostname: "helse-pc", LastSeen: now}})
	e.store.setInventory("helse-pc", wire.Inventory{Hardware: &wire.Hardware{System: wire.System{Serial: "PF3GONE"}}}, now)
	if _, err := e.store.ImportAssets(t.Context(), []model.Asset{{Tag: "P-0001", Type: model.AssetPrinter, MACs: []string{"00:11:22:33:44:55"}, Status: model.AssetActive}}, false, "kari", now); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/configmap/diff", "/api/v1/configmap/diff?from=1&to=current"} {
		rec = e.apiGet(path, revisor)
		var d struct {
			From, To struct{ Snapshot, At string }
			Changes  []apiMapChange
		}
		decodeInto(t, rec, &d)
		var got []string
		for _, c := range d.Changes {
			got = append(got, c.Op+" "+c.Key)
		}
		want := []string{"changed K-0001", "changed K-0002", "added P-0001", "removed 00:11:22:33:44:55"}
		if rec.Code != http.StatusOK || !slices.Equal(got, want) {
			t.Errorf("%s = %d %q, want %q", path, rec.Code, got, want)
		}
		if d.From.Snapshot != "1" || d.To.Snapshot != "current" || d.To.At != "2026-03-03T09:30:00Z" {
			t.Errorf("%s ends: %+v %+v", path, d.From, d.To)
		}
		if len(d.Changes) > 1 && (!strings.HasPrefix(d.Changes[1].Before, "silent") || !strings.HasPrefix(d.Changes[1].After, "matched")) {
			t.Errorf("K-0002 change = %+v", d.Changes[1])
		}
	}

	// A second snapshot by an empty body; then a diff between two snapshots.
	rec = e.apiSend(http.MethodPost, "/api/v1/configmap/snapshots", "", "", e.token(t, model.RoleSikkerhet))
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST snapshot without a body = %d %s", rec.Code, rec.Body)
	}
	rec = e.apiGet("/api/v1/configmap/diff?from=1&to=2", revisor)
	if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), `"op"`) != 4 {
		t.Errorf("diff 1..2 = %d %s", rec.Code, rec.Body)
	}
	if rec := e.apiGet("/api/v1/configmap/diff?from=2&to=2", revisor); !strings.Contains(rec.Body.String(), `"changes":[]`) {
		t.Errorf("diff of a snapshot with itself = %s", rec.Body)
	}

	rec = e.apiGet("/api/v1/configmap/snapshots?limit=1", revisor)
	var list struct {
		Snapshots []struct {
			ID      int64          `json:"id"`
			TakenBy string         `json:"taken_by"`
			Counts  map[string]int `json:"counts"`
		} `json:"snapshots"`
	}
	decodeInto(t, rec, &list)
	if len(list.Snapshots) != 1 || list.Snapshots[0].ID != 2 || !strings.HasPrefix(list.Snapshots[0].TakenBy, "token:") || list.Snapshots[0].Counts["matched"] != 1 || list.Snapshots[0].Counts["silent"] != 2 {
		t.Errorf("list?limit=1 = %s", rec.Body)
	}

	rec = e.apiGet("/api/v1/configmap/snapshots/1?state=silent", revisor)
	var one struct {
		ID   int64   `json:"id"`
		Note string  `json:"note"`
		Map  mapBody `json:"map"`
	}
	decodeInto(t, rec, &one)
	if rec.Code != http.StatusOK || one.ID != 1 || one.Note != "årsgjennomgang 2026" || !slices.Equal(one.Map.keys(), []string{"silent K-0002"}) || one.Map.Total != 5 {
		t.Errorf("snapshot 1 = %d %s", rec.Code, rec.Body)
	}

	for _, tc := range []struct {
		method, path, ct, body string
		want                   int
	}{
		{http.MethodGet, "/api/v1/configmap/snapshots/99", "", "", http.StatusNotFound},
		{http.MethodGet, "/api/v1/configmap/snapshots/x", "", "", http.StatusBadRequest},
		{http.MethodGet, "/api/v1/configmap/snapshots/0", "", "", http.StatusBadRequest},
		{http.MethodGet, "/api/v1/configmap/diff?from=1&to=yesterday", "", "", http.StatusBadRequest},
		{http.MethodGet, "/api/v1/configmap/diff?from=7", "", "", http.StatusNotFound},
		{http.MethodGet, "/api/v1/configmap/snapshots?limit=0", "", "", http.StatusBadRequest},
		{http.MethodPost, "/api/v1/configmap/snapshots", "application/json", `{"note":"x","extra":1}`, http.StatusBadRequest},
		{http.MethodPost, "/api/v1/configmap/snapshots", "text/plain", `note`, http.StatusUnsupportedMediaType},
		{http.MethodPost, "/api/v1/configmap/snapshots", "application/json", `{"note":"` + strings.Repeat("n", maxNoteRunes+1) + `"}`, http.StatusBadRequest},
	} {
		rec := e.apiSend(tc.method, tc.path, tc.ct, tc.body, drift)
		if rec.Code != tc.want {
			t.Errorf("%s %s = %d, want %d\n%s", tc.method, tc.path, rec.Code, tc.want, rec.Body)
		}
	}
	if n := len(e.store.mapSnapshots()); n != 2 {
		t.Errorf("refused requests stored snapshots: %d in all, want 2", n)
	}
}

func TestConfigMapPage(t *testing.T) {
	e := mapEnv(t)
	e.addUser(t, "rut", "hemmelig-passord", model.RoleRevisor)
	e.addUser(t, "siv", "hemmelig-passord", model.RoleSikkerhet)
	rut := e.login(t, "rut", "hemmelig-passord")

	body := e.get("/configmap", rut).Body.String()
	for _, w := range []string{
		`<a href="/configmap" aria-current="page">Konfigurasjonskart</a>`,
		`<span class="badge badge-ok">I samsvar</span>`, `<span class="badge badge-warn">Taus</span>`,
		`<span class="badge badge-bad">Uregistrert</span>`, `<span class="badge badge-bad">Konflikt</span>`,
		`href="/configmap?state=silent"`, "K-0003", "00:11:22:33:44:55", `<a class="mono" href="/hosts/klone-2">klone-2</a>`,
		"Viser 5 av 5 treff (5 i alt).", translate("nb", "configmap.no_snapshots"),
	} {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if strings.Contains(body, `action="/configmap/snapshots"`) {
		t.Error("the auditor is offered the snapshot form")
	}

	body = e.get("/configmap?state=conflict&lang=en", rut).Body.String()
	for _, w := range []string{`<option value="conflict" selected>Conflict</option>`, "Showing 1 of 1 matches (5 in all).", "2 agents claim asset K-0003"} {
		if !strings.Contains(body, w) {
			t.Errorf("filtered page lacks %q", w)
		}
	}
	if strings.Contains(body, "K-0002") {
		t.Error("the conflict filter shows the silent asset")
	}
	if rec := e.get("/configmap?state=green", rut); rec.Code != http.StatusBadRequest {
		t.Errorf("bad state filter = %d, want 400", rec.Code)
	}

	// The security officer takes a snapshot from the page.
	siv := e.login(t, "siv", "hemmelig-passord")
	body = e.get("/configmap", siv).Body.String()
	if !strings.Contains(body, `action="/configmap/snapshots"`) {
		t.Fatal("the security officer is not offered the snapshot form")
	}
	csrf := sessionFromCookie(t, e, siv).CSRF
	rec := e.postForm("/configmap/snapshots", url.Values{"csrf": {csrf}, "note": {"før revisjon"}}, siv)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/configmap?saved=1" {
		t.Fatalf("snapshot form = %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if s := e.store.mapSnapshots(); len(s) != 1 || s[0].TakenBy != "siv" || s[0].Note != "før revisjon" {
		t.Errorf("snapshots = %+v", s)
	}
	body = e.get("/configmap?saved=1", siv).Body.String()
	for _, w := range []string{"Øyeblikksbilde 1 er lagret.", "før revisjon", "1 i samsvar · 1 tause · 2 uregistrerte · 1 i konflikt", `<option value="1">`} {
		if !strings.Contains(body, w) {
			t.Errorf("page after the snapshot lacks %q", w)
		}
	}

	// The diff form's result.
	e.clock.advance(time.Hour)
	if err := e.store.DeleteAsset(t.Context(), "K-0002", "kari", e.clock.now()); err != nil {
		t.Fatal(err)
	}
	e.srv.changes.Add(1) // a change outside the routes, as a publish to the live hub counts it
	body = e.get("/configmap?from=1&to=current", rut).Body.String()
	for _, w := range []string{"Endringer fra øyeblikksbilde 1 til Kartet nå", "Borte", "K-0002", "Viser 1 av 1 endringer."} {
		if !strings.Contains(body, w) {
			t.Errorf("diff page lacks %q", w)
		}
	}
}

func TestConfigMapUnavailable(t *testing.T) {
	// A store that keeps no snapshots and no ConfigMap: 404 with a reason.
	e := newEnv(t, false)
	srv, err := New(Config{Store: struct{ WebStore }{e.store}, Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.h = srv, srv.Handler()
	rec := e.apiGet("/api/v1/configmap", e.token(t, model.RoleAdmin))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "not available") {
		t.Errorf("GET without a map = %d %s", rec.Code, rec.Body)
	}
}

func TestConfigMapBuildFails(t *testing.T) {
	e := mapEnv(t)
	e.store.mu.Lock()
	e.store.cmap.fail = errors.New("disk on fire")
	e.store.mu.Unlock()
	tok := e.token(t, model.RoleAdmin)
	for _, path := range []string{"/api/v1/configmap", "/api/v1/configmap/snapshots"} {
		rec := e.apiGet(path, tok)
		if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "disk on fire") {
			t.Errorf("%s = %d %s, want a 500 that hides the cause", path, rec.Code, rec.Body)
		}
	}
}

func TestConfigMapConfigOverrides(t *testing.T) {
	e := newEnv(t, false)
	calls := 0
	built := configmap.Reconcile(nil, []configmap.Host{{AgentID: "x", LastSeen: e.clock.now()}}, nil, nil, configmap.Options{Now: e.clock.now()})
	srv, err := New(Config{Store: e.store, Now: e.clock.now, MapSnapshots: e.store,
		ConfigMap: func(context.Context) (configmap.Map, error) { calls++; return built, nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.h = srv, srv.Handler()
	rec := e.apiGet("/api/v1/configmap", e.token(t, model.RoleLeder))
	if rec.Code != http.StatusOK || calls != 1 || !strings.Contains(rec.Body.String(), `"key":"x"`) {
		t.Errorf("GET with Config.ConfigMap = %d (calls %d) %s", rec.Code, calls, rec.Body)
	}
}

func TestConfigMapCatalogue(t *testing.T) {
	var keys []string
	for _, st := range configmap.States {
		keys = append(keys, "configmap.state."+string(st))
	}
	for _, k := range mapKinds {
		keys = append(keys, "configmap.kind."+k)
	}
	for _, op := range []string{configmap.OpAdded, configmap.OpRemoved, configmap.OpChanged} {
		keys = append(keys, "configmap.op."+op)
	}
	for code, f := range configmap.ReasonFormats {
		k := "configmap.why." + code
		keys = append(keys, k)
		for _, lang := range languages {
			if strings.Count(catalogs[lang][k], "%s") != strings.Count(f, "%s") {
				t.Errorf("catalogue %s: %q takes other arguments than %q", lang, catalogs[lang][k], f)
			}
		}
	}
	for _, lang := range languages {
		for _, k := range keys {
			if _, ok := catalogs[lang][k]; !ok {
				t.Errorf("catalogue %s lacks %q", lang, k)
			}
		}
	}
}

func TestConfigMapView(t *testing.T) {
	e, sc := exportEnv(t)
	// 150 silent assets in helse: more than a zone area shows, and more
	// than a page of the table.
	var many []model.Asset
	for i := range 150 {
		many = append(many, model.Asset{Tag: fmt.Sprintf("H-%03d", i), Type: model.AssetPC, Serial: fmt.Sprintf("SN-H-%03d", i),
			Hostname: fmt.Sprintf("helse-pc-%03d", i), Zone: "helse", Status: model.AssetActive})
	}
	if _, err := e.store.ImportAssets(t.Context(), many, false, "kari", e.clock.now()); err != nil {
		t.Fatal(err)
	}
	rec := e.get("/configmap", sc)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /configmap = %d\n%s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	for _, w := range []string{
		`data-live="map,hosts"`,
		`<section id="map-counts" data-live-region`, `<section id="map-zones" data-live-region`,
		`<section id="map-matrix" data-live-region`, `<section id="map-table" data-live-region`,
		`<section class="zone-area"`, `<h3 id="map-zone-1">helse <span class="badge badge-muted">sensitiv</span></h3>`,
		"Del av intern", "Helse og omsorg, journalsystem",
		`<li class="tile state-matched" data-key="K-0001" data-state="matched">`,
		`<li class="tile state-silent" data-key="H-000" data-state="silent"><span class="tile-name">helse-pc-000</span> <span class="badge badge-warn">Taus</span>`,
		`<a class="tile-name" href="/hosts/ukjent-pc">ukjent-pc</a>`,
		// A device links to no host: its agents only saw it.
		`<li class="tile state-unregistered" data-key="00:11:22:33:44:55" data-state="unregistered"><span class="tile-name">00:11:22:33:44:55</span>`,
		"Uten sone", "og 111 til", `href="/configmap?zone=helse#cm-table-title"`,
		// The matrix: intern -> helse has a rule, helse -> intern none.
		`<span class="badge badge-ok">Tillatt</span>`, `<span class="badge badge-bad">Ikke tillatt</span>`,
		// The table's first page and its pager.
		"Viser 100 av 158 treff (158 i alt).", "Side 1 av 2", `href="/configmap?page=2" rel="next"`,
		`href="/configmap.svg?"`, `href="/configmap.dot?"`,
	} {
		if !strings.Contains(body, w) {
			t.Errorf("map page lacks %q", w)
		}
	}
	if n := strings.Count(body, `data-state="silent"`); n != 40 { // helse's first 40 of 151
		t.Errorf("%d silent tiles, want 40", n)
	}
	// The filter form stays outside every live region.
	form := strings.Index(body, `<form class="filters" method="get" action="/configmap" role="search"`)
	counts := strings.Index(body, `id="map-counts"`)
	if form < 0 || form < counts || strings.Index(body[counts:], "</section>")+counts > form || form > strings.Index(body, `id="map-zones"`) {
		t.Error("the filter form is inside a live region")
	}
	if strings.Contains(body, "style=") {
		t.Error("the map page has a style attribute")
	}

	// The second page; a page past the last shows the last.
	for _, path := range []string{"/configmap?page=2", "/configmap?page=9"} {
		body = e.get(path, sc).Body.String()
		for _, w := range []string{"Viser 58 av 158 treff", "Side 2 av 2", `href="/configmap" rel="prev"`} {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}

	// Filtered: only areas with entries, links carrying the filter.
	body = e.get("/configmap?zone=helse&state=silent", sc).Body.String()
	for _, w := range []string{`href="/configmap.svg?state=silent&amp;zone=helse"`, `href="/api/v1/configmap?state=silent&amp;zone=helse"`,
		"og 111 til", "Viser 100 av 151 treff", `href="/configmap?page=2&amp;state=silent&amp;zone=helse" rel="next"`} {
		if !strings.Contains(body, w) {
			t.Errorf("filtered page lacks %q", w)
		}
	}
	if strings.Contains(body, "Uten sone") || strings.Contains(body, `data-key="K-0001"`) {
		t.Error("the filtered view shows areas or tiles outside the filter")
	}
}
