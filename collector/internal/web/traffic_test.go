package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// testZones is a zones file in the contract's shape: an internal zone with a
// sensitive sub-zone, the web to the outside, the journal into helse and
// mail from the outside allowed.
const testZones = `zones:
  - name: intern
    kind: internal
    prefixes: [10.20.0.0/16, "fd00:1::/48"]
  - name: helse
    kind: sensitive
    purpose: Helse og omsorg, journalsystem
    parent: intern
    prefixes: [10.20.9.0/24]
firewall:
  - from: intern
    to: external
    proto: tcp
    ports: [80, 443]
    justification: Nettlesing via proxy
    owner: drift
  - id: journal
    from: intern
    to: helse
    proto: tcp
    ports: [443]
    justification: Journalsystemet
    owner: helse
  - id: smtp-inn
    from: external
    to: intern
    proto: tcp
    ports: [25]
    justification: Innkommende e-post
`

func loadTestZones(t *testing.T) *zone.Map {
	t.Helper()
	m, err := zone.Parse("zones.yaml", []byte(testZones))
	if err != nil {
		t.Fatalf("zone.Parse: %v", err)
	}
	return m
}

// sampleTraffic stores four hourly flows and two neighbours. In the last
// seven days: saksbeh-pc-017 browsing out (allowed by fw-1) and reaching
// helse by ssh (the pair has a rule, the port has none), and the revoked
// host's helse -> intern DNS (no rule). Ten days back: one more web flow,
// outside the default period.
func (e *testEnv) sampleTraffic() {
	now := e.clock.now()
	hour := func(d time.Duration) time.Time { return now.Add(-d).Truncate(time.Hour) }
	e.traffic.addFlows(
		model.FlowHour{Hour: hour(time.Hour), AgentID: invHost, Hostname: "saksbeh-pc-017", Seq: 40,
			Src: "10.20.30.40", Dst: "93.184.216.34", Proto: wire.ProtoTCP, DPort: 443, SrcZone: "intern", DstZone: "external",
			Process: "firefox", User: "kari", Packets: 1234, Bytes: 5 << 20, First: hour(time.Hour), Last: hour(time.Hour).Add(20 * time.Minute),
			Verdict: wire.VerdictAllowed, Rule: "fw-1", Evaluated: true},
		model.FlowHour{Hour: hour(2 * time.Hour), AgentID: invHost, Hostname: "saksbeh-pc-017", Seq: 41,
			Src: "10.20.30.40", Dst: "10.20.9.5", Proto: wire.ProtoTCP, DPort: 22, SrcZone: "intern", DstZone: "helse",
			Process: "ssh", User: "kari", Packets: 80, Bytes: 9000, First: hour(2 * time.Hour), Last: hour(2 * time.Hour).Add(time.Minute),
			Verdict: wire.VerdictDenied},
		model.FlowHour{Hour: hour(3 * time.Hour), AgentID: revokedID, Hostname: "gammel-pc-001", Seq: 7,
			Src: "10.20.9.5", Dst: "10.20.30.1", Proto: wire.ProtoUDP, DPort: 53, SrcZone: "helse", DstZone: "intern",
			Packets: 2, Bytes: 180, First: hour(3 * time.Hour), Last: hour(3 * time.Hour),
			Verdict: wire.VerdictDenied},
		model.FlowHour{Hour: hour(10 * 24 * time.Hour), AgentID: invHost, Hostname: "saksbeh-pc-017", Seq: 2,
			Src: "10.20.30.40", Dst: "198.51.100.7", Proto: wire.ProtoTCP, DPort: 80, SrcZone: "intern", DstZone: "external",
			Process: "curl", Packets: 10, Bytes: 1000, First: hour(10 * 24 * time.Hour), Last: hour(10 * 24 * time.Hour),
			Verdict: wire.VerdictAllowed, Rule: "fw-1", Evaluated: true},
	)
	e.traffic.addNeighbours(
		model.Neighbour{Neighbour: wire.Neighbour{MAC: "b8:27:eb:12:34:56", IPs: []string{"10.20.30.99"}, Name: "printer-2etg",
			Vendor: "Raspberry Pi Foundation", VendorClass: "udhcp 1.36", SeenBy: []string{wire.ViaARP, wire.ViaDHCP},
			First: now.Add(-48 * time.Hour).UnixNano(), Last: now.Add(-5 * time.Minute).UnixNano()},
			SeenByAgents: []string{invHost}, UpdatedAt: now.Add(-5 * time.Minute)},
		model.Neighbour{Neighbour: wire.Neighbour{MAC: "00:1b:54:aa:bb:cc", Name: "sw-core-1", Vendor: "Cisco Systems",
			SeenBy: []string{wire.ViaCDP}, Port: "GigabitEthernet1/0/12", Platform: "cisco WS-C2960X", VLAN: 20,
			First: now.Add(-time.Hour).UnixNano(), Last: now.Add(-time.Hour).UnixNano()},
			SeenByAgents: []string{invHost, "0000000000000000"}},
	)
}

// trafficEnv is an env with hosts, traffic and the test zones loaded.
func trafficEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleTraffic()
	e.zones.set(loadTestZones(t))
	return e
}

func decodeInto(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON\n%s", ct, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
}

func TestAPIZones(t *testing.T) {
	e := newEnv(t, false)
	tok := e.token(t, model.RoleRevisor)

	rec := e.apiGet("/api/v1/zones", tok)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/zones without a map = %d\n%s", rec.Code, rec.Body)
	}
	var none wire.ZonePolicy
	decodeInto(t, rec, &none)
	if none.Zones == nil || len(none.Zones) != 0 || len(none.Firewall) != 0 {
		t.Errorf("zones without a map = %+v, want an empty zone list", none)
	}

	m := loadTestZones(t)
	e.zones.set(m)
	rec = e.apiGet("/api/v1/zones", tok)
	var got wire.ZonePolicy
	decodeInto(t, rec, &got)
	if want := m.Policy(); !reflect.DeepEqual(got, want) {
		t.Errorf("zones = %+v, want %+v", got, want)
	}
	if len(got.Firewall) != 3 || got.Firewall[1].ID != "journal" || got.Firewall[0].Justification != "Nettlesing via proxy" {
		t.Errorf("firewall = %+v, want fw-1, journal and smtp-inn with their justifications", got.Firewall)
	}
}

type matrixBody struct {
	From   string        `json:"from"`
	To     string        `json:"to"`
	Judged bool          `json:"judged"`
	Pairs  []apiZonePair `json:"pairs"`
}

func TestAPIZoneMatrix(t *testing.T) {
	e := trafficEnv(t)
	tok := e.token(t, model.RoleDrift)

	rec := e.apiGet("/api/v1/zones/matrix", tok)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/zones/matrix = %d\n%s", rec.Code, rec.Body)
	}
	var got matrixBody
	decodeInto(t, rec, &got)
	// The clock stands at 09:30: the default period ends with the current hour.
	if got.From != "2026-02-23T10:00:00Z" || got.To != "2026-03-02T10:00:00Z" || !got.Judged {
		t.Errorf("period = %s..%s judged %v, want 2026-02-23T10:00:00Z..2026-03-02T10:00:00Z judged", got.From, got.To, got.Judged)
	}
	want := []apiZonePair{
		{From: "helse", To: "intern", Flows: 1, Hosts: 1, Packets: 2, Bytes: 180, Denied: 1,
			First: "2026-03-02T06:00:00Z", Last: "2026-03-02T06:00:00Z", Allowed: false, Rules: []string{}},
		{From: "intern", To: "external", Flows: 1, Hosts: 1, Packets: 1234, Bytes: 5 << 20,
			First: "2026-03-02T08:00:00Z", Last: "2026-03-02T08:20:00Z", Allowed: true, Rules: []string{"fw-1"}},
		{From: "intern", To: "helse", Flows: 1, Hosts: 1, Packets: 80, Bytes: 9000, Denied: 1,
			First: "2026-03-02T07:00:00Z", Last: "2026-03-02T07:01:00Z", Allowed: true, Rules: []string{"journal"}},
	}
	if !reflect.DeepEqual(got.Pairs, want) {
		t.Errorf("pairs =\n%+v\nwant\n%+v", got.Pairs, want)
	}

	// An explicit period takes in the old flow; a date in to includes the day.
	rec = e.apiGet("/api/v1/zones/matrix?from=2026-02-01&to=2026-02-20", tok)
	got = matrixBody{}
	decodeInto(t, rec, &got)
	if len(got.Pairs) != 1 || got.Pairs[0].To != "external" || got.Pairs[0].Bytes != 1000 {
		t.Errorf("pairs of 2026-02-01..20 = %+v, want the old web flow alone", got.Pairs)
	}
	rec = e.apiGet("/api/v1/zones/matrix?from=2026-02-20T00:00:00Z&to=2026-02-20T11:00:00Z", tok)
	got = matrixBody{}
	decodeInto(t, rec, &got)
	if len(got.Pairs) != 1 {
		t.Errorf("pairs of an RFC 3339 period = %+v, want one", got.Pairs)
	}

	// Without a map nothing is allowed, and the answer says it was not judged.
	e.zones.set(nil)
	got = matrixBody{}
	decodeInto(t, e.apiGet("/api/v1/zones/matrix", tok), &got)
	if got.Judged || len(got.Pairs) != 3 {
		t.Fatalf("without a map: judged %v, %d pairs; want unjudged, 3", got.Judged, len(got.Pairs))
	}
	for _, p := range got.Pairs {
		if p.Allowed || len(p.Rules) != 0 {
			t.Errorf("without a map %s -> %s allowed %v by %v, want nothing allowed", p.From, p.To, p.Allowed, p.Rules)
		}
	}
}

func TestAPIFlows(t *testing.T) {
	e := trafficEnv(t)
	tok := e.token(t, model.RoleLeder)
	for _, tc := range []struct {
		query    string
		wantSeqs []uint64
		wantMore bool
	}{
		{"", []uint64{40, 41, 7, 2}, false},
		{"?limit=2", []uint64{40, 41}, true},
		{"?agent=" + invHost, []uint64{40, 41, 2}, false},
		{"?zone=helse", []uint64{41, 7}, false},
		{"?verdict=denied", []uint64{41, 7}, false},
		{"?src_zone=intern&dst_zone=helse", []uint64{41}, false},
		{"?dst_zone=intern", []uint64{7}, false},
		{"?zone=intern&dst_zone=external&limit=1", []uint64{40}, true},
		{"?from=2026-03-02T07:00:00Z", []uint64{40, 41}, false},
		{"?to=2026-02-25", []uint64{2}, false},
	} {
		rec := e.apiGet("/api/v1/flows"+tc.query, tok)
		if rec.Code != http.StatusOK {
			t.Errorf("GET /api/v1/flows%s = %d\n%s", tc.query, rec.Code, rec.Body)
			continue
		}
		var got apiFlows
		decodeInto(t, rec, &got)
		var seqs []uint64
		for _, f := range got.Flows {
			seqs = append(seqs, f.Seq)
		}
		if !reflect.DeepEqual(seqs, tc.wantSeqs) || got.More != tc.wantMore {
			t.Errorf("GET /api/v1/flows%s = seqs %v more %v, want %v more %v", tc.query, seqs, got.More, tc.wantSeqs, tc.wantMore)
		}
	}

	// The store gets the filters it knows; the period's dates are in the
	// server's zone, and a date in to takes in the whole day.
	e.apiGet("/api/v1/flows?agent=x&zone=helse&verdict=allowed&from=2026-03-01&to=2026-03-01&limit=5", tok)
	q := e.traffic.lastQuery()
	wantFrom := time.Date(2026, 3, 1, 0, 0, 0, 0, time.Local)
	if q.AgentID != "x" || q.Zone != "helse" || q.Verdict != "allowed" || q.Limit != 6 ||
		!q.From.Equal(wantFrom) || !q.To.Equal(wantFrom.AddDate(0, 0, 1)) {
		t.Errorf("store query = %+v, want agent x, zone helse, verdict allowed, limit 6 and the day 2026-03-01", q)
	}

	// Each flow carries the agent's verdict and the current map's.
	var got apiFlows
	decodeInto(t, e.apiGet("/api/v1/flows?agent="+invHost+"&limit=2", tok), &got)
	web, ssh := got.Flows[0], got.Flows[1]
	if web.Process != "firefox" || web.User != "kari" || web.Hostname != "saksbeh-pc-017" || web.Hour != "2026-03-02T08:00:00Z" ||
		web.Verdict != "allowed" || web.CurrentVerdict != "allowed" || web.CurrentRule != "fw-1" || !web.Evaluated {
		t.Errorf("web flow = %+v", web)
	}
	if ssh.DPort != 22 || ssh.CurrentVerdict != "denied" || ssh.CurrentRule != "" {
		t.Errorf("ssh flow = %+v, want port 22 denied by the current map", ssh)
	}
	e.zones.set(nil)
	got = apiFlows{}
	decodeInto(t, e.apiGet("/api/v1/flows?limit=1", tok), &got)
	if got.Flows[0].CurrentVerdict != wire.VerdictNoMap || got.Flows[0].Verdict != wire.VerdictAllowed {
		t.Errorf("without a map the flow is %+v, want current verdict no-map beside the agent's", got.Flows[0])
	}
}

func TestAPITrafficBadParameters(t *testing.T) {
	e := trafficEnv(t)
	tok := e.token(t, model.RoleAdmin)
	long := strings.Repeat("x", maxParamBytes+1)
	for _, tc := range []struct {
		path, param string
	}{
		{"/api/v1/flows?verdict=maybe", "verdict"},
		{"/api/v1/flows?limit=0", "limit"},
		{"/api/v1/flows?limit=1001", "limit"},
		{"/api/v1/flows?limit=ti", "limit"},
		{"/api/v1/flows?from=i+går", "from"},
		{"/api/v1/flows?to=2026-13-01", "to"},
		{"/api/v1/flows?agent=" + long, "agent"},
		{"/api/v1/flows?zone=" + long, "zone"},
		{"/api/v1/flows?src_zone=" + long, "src_zone"},
		{"/api/v1/flows?dst_zone=%ff", "dst_zone"},
		{"/api/v1/flows?from=2026-03-02&to=2026-03-01", "from"},
		{"/api/v1/zones/matrix?from=yesterday", "from"},
		{"/api/v1/zones/matrix?to=02.03.2026", "to"},
		{"/api/v1/zones/matrix?from=2026-03-02T00:00:00Z&to=2026-03-02T00:00:00Z", "from"},
		{"/api/v1/zones/matrix?from=2026-04-01", "from"}, // after the default end
	} {
		rec := e.apiGet(tc.path, tok)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("GET %.80s = %d, want 400\n%s", tc.path, rec.Code, rec.Body)
			continue
		}
		var body apiError
		decodeInto(t, rec, &body)
		if body.Code != "invalid" || !strings.Contains(body.Error, tc.param) {
			t.Errorf("GET %.80s = %+v, want code invalid and a message naming %s", tc.path, body, tc.param)
		}
	}
}

func TestAPINeighbours(t *testing.T) {
	e := trafficEnv(t)
	rec := e.apiGet("/api/v1/neighbours", e.token(t, model.RoleSikkerhet))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/neighbours = %d\n%s", rec.Code, rec.Body)
	}
	var got struct {
		Neighbours []apiNeighbour `json:"neighbours"`
	}
	decodeInto(t, rec, &got)
	want := []apiNeighbour{
		{MAC: "00:1b:54:aa:bb:cc", IPs: []string{}, Name: "sw-core-1", Vendor: "Cisco Systems", SeenBy: []string{"cdp"},
			SeenByAgents: []string{invHost, "0000000000000000"}, First: "2026-03-02T08:30:00Z", Last: "2026-03-02T08:30:00Z",
			Port: "GigabitEthernet1/0/12", Platform: "cisco WS-C2960X", VLAN: 20},
		{MAC: "b8:27:eb:12:34:56", IPs: []string{"10.20.30.99"}, Name: "printer-2etg", Vendor: "Raspberry Pi Foundation",
			VendorClass: "udhcp 1.36", SeenBy: []string{"arp", "dhcp"}, SeenByAgents: []string{invHost},
			First: "2026-02-28T09:30:00Z", Last: "2026-03-02T09:25:00Z", UpdatedAt: "2026-03-02T09:25:00Z"},
	}
	if !reflect.DeepEqual(got.Neighbours, want) {
		t.Errorf("neighbours =\n%+v\nwant\n%+v", got.Neighbours, want)
	}
}

// TestTrafficWithoutStore: a collector started without a traffic store
// says so with 404 on the traffic routes; the zones still show.
func TestTrafficWithoutStore(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	srv, err := New(Config{Store: st, Now: c.now, Zones: func() *zone.Map { return loadTestZones(t) }})
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{srv: srv, h: srv.Handler(), store: st, clock: c}
	e.sampleHosts()
	tok := e.token(t, model.RoleAdmin)
	for _, p := range []string{"/api/v1/flows", "/api/v1/zones/matrix", "/api/v1/neighbours"} {
		rec := e.apiGet(p, tok)
		var body apiError
		decodeInto(t, rec, &body)
		if rec.Code != http.StatusNotFound || !strings.Contains(body.Error, "no traffic") {
			t.Errorf("GET %s without a traffic store = %d %+v, want 404 saying there is no traffic data", p, rec.Code, body)
		}
	}
	if rec := e.apiGet("/api/v1/zones", tok); rec.Code != http.StatusOK {
		t.Errorf("GET /api/v1/zones without a traffic store = %d, want 200", rec.Code)
	}
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "kari", "hemmelig-passord")
	if rec := e.get("/flows", sc); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), translate("nb", "problem.no_traffic")) {
		t.Errorf("GET /flows without a traffic store = %d, want 404 with the reason\n%.500s", rec.Code, rec.Body)
	}
	rec := e.get("/hosts/"+invHost, sc)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "host-flows-title") {
		t.Errorf("host page without a traffic store = %d, want 200 without a flows section", rec.Code)
	}
}

func TestTrafficStoreErrorIs500(t *testing.T) {
	e := trafficEnv(t)
	e.traffic.err = errors.New("disk on fire")
	tok := e.token(t, model.RoleAdmin)
	for _, p := range []string{"/api/v1/flows", "/api/v1/zones/matrix", "/api/v1/neighbours"} {
		rec := e.apiGet(p, tok)
		if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "fire") {
			t.Errorf("GET %s with a failing store = %d %s, want 500 without the cause", p, rec.Code, rec.Body)
		}
	}
}

// pageAs logs in a user with role and returns the page at path.
func pageAs(t *testing.T, e *testEnv, role model.Role, path string) string {
	t.Helper()
	name := "u-" + string(role)
	e.store.mu.Lock()
	_, ok := e.store.users[name]
	e.store.mu.Unlock()
	if !ok {
		e.addUser(t, name, "hemmelig-passord", role)
	}
	rec := e.get(path, e.login(t, name, "hemmelig-passord"))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s as %s = %d\n%.1000s", path, role, rec.Code, rec.Body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET %s: CSP = %q", path, csp)
	}
	body := rec.Body.String()
	if strings.Contains(body, "⟦") {
		t.Errorf("GET %s shows a key missing from the catalogue:\n%s", path, body)
	}
	if inlineScript(body) {
		t.Errorf("GET %s has an inline script", path)
	}
	return body
}

func wantIn(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestZonesPage(t *testing.T) {
	e := newEnv(t, false)
	body := pageAs(t, e, model.RoleRevisor, "/zones")
	wantIn(t, "zones page without a map", body, "Ingen sonefil er lastet.", `aria-current="page">Soner og brannmurkart<`)

	e.zones.set(loadTestZones(t))
	body = pageAs(t, e, model.RoleRevisor, "/zones")
	wantIn(t, "zones page", body,
		"<h1 id=\"zones-title\">Soner</h1>", "3 soner", "3 brannmurregler",
		">intern<", ">sensitiv<", "Helse og omsorg, journalsystem", "10.20.9.0/24", "fd00:1::/48",
		"Alle adresser som ingen sone lister", // the implicit external zone
		"fw-1", "linje 11", "Nettlesing via proxy", ">drift<", "journal", "Journalsystemet", ">443<", ">80<")

	body = pageAs(t, e, model.RoleRevisor, "/zones?lang=en")
	wantIn(t, "English zones page", body, `<html lang="en">`, "Firewall map", ">sensitive<", "Every address no zone lists", "line 11")
}

func TestFlowsPage(t *testing.T) {
	e := trafficEnv(t)
	body := pageAs(t, e, model.RoleLeder, "/flows")
	end := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // the end of the clock's hour
	wantIn(t, "traffic page", body,
		`<h1 id="flows-page-title">Trafikk</h1>`, `aria-current="page">Trafikk<`,
		// The default period as dates in the server's zone.
		`value="`+end.Add(-defaultFlowPeriod).Local().Format(dateLayout)+`"`,
		`value="`+end.Add(-time.Nanosecond).Local().Format(dateLayout)+`"`,
		"Trafikk mellom 3 par av soner.", "1 par uten tillatelse",
		`<span class="badge badge-bad">Ikke tillatt</span>`, `<span class="badge badge-ok">Tillatt</span>`,
		"1 avvist av agenten", "5,0\u00a0MiB",
		`href="/flows?dst_zone=intern&amp;src_zone=helse#flows-title"`,
		"Tillatt, ingen trafikk", // external -> intern: smtp-inn, and no traffic
		"firefox", "bruker kari", "tcp/443", "udp/53", "93.184.216.34", "saksbeh-pc-017", "gammel-pc-001",
		"Agentens vurdering", "Etter dagens brannmurkart")
	if strings.Contains(body, "198.51.100.7") {
		t.Error("traffic page shows a flow from before the default period")
	}

	// The matrix cell's link lists that pair's flows only.
	body = pageAs(t, e, model.RoleLeder, "/flows?src_zone=helse&dst_zone=intern")
	wantIn(t, "traffic page of helse -> intern", body, "Viser flyter fra sone helse til sone intern.", "udp/53",
		`name="src_zone" value="helse"`)
	if strings.Contains(body, "firefox") {
		t.Error("the helse -> intern list shows the web flow")
	}

	body = pageAs(t, e, model.RoleLeder, "/flows?from=2026-02-01&to=2026-02-28&verdict=allowed&lang=en")
	wantIn(t, "English traffic page, February", body, "Zone matrix", "198.51.100.7", "curl", "All traffic is allowed",
		`<option value="allowed" selected>Allowed</option>`)

	e.zones.set(nil)
	body = pageAs(t, e, model.RoleLeder, "/flows")
	wantIn(t, "traffic page without a map", body, "Ingen sonefil er lastet, så trafikken er ikke vurdert", "Ikke vurdert")
}

func TestFlowsPageBadParameters(t *testing.T) {
	e := trafficEnv(t)
	e.addUser(t, "kari", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "kari", "hemmelig-passord")
	for _, q := range []string{"from=igår", "verdict=kanskje", "from=2026-03-02&to=2026-03-01", "limit=-1"} {
		rec := e.get("/flows?"+q, sc)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Ugyldig forespørsel") {
			t.Errorf("GET /flows?%s = %d, want a 400 page", q, rec.Code)
		}
	}
	rec := e.get("/flows?"+url.Values{"to": {"2026-99-01"}}.Encode()+"&lang=en", sc)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Parameter to must be a date") {
		t.Errorf("GET /flows?to=2026-99-01 = %d, want 400 naming to\n%.800s", rec.Code, rec.Body)
	}
}

func TestNeighboursPage(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	body := pageAs(t, e, model.RoleDrift, "/neighbours")
	wantIn(t, "empty neighbours page", body, "Ingen enheter sett ennå.", "0 enheter")

	e.sampleTraffic()
	body = pageAs(t, e, model.RoleDrift, "/neighbours")
	wantIn(t, "neighbours page", body, `aria-current="page">Naboenheter<`, "2 enheter",
		"b8:27:eb:12:34:56", "Raspberry Pi Foundation", "10.20.30.99", "printer-2etg", "DHCP-klasse udhcp 1.36",
		"ARP", "DHCP", "CDP", "sw-core-1", "port GigabitEthernet1/0/12", "VLAN 20",
		`<a href="/hosts/`+invHost+`">saksbeh-pc-017</a>`,        // an agent by its host name
		`<a href="/hosts/0000000000000000">0000000000000000</a>`, // an agent the store does not know, by id
		"for 5 min siden")
	body = pageAs(t, e, model.RoleDrift, "/neighbours?lang=en")
	wantIn(t, "English neighbours page", body, "Neighbours", "2 devices", "5 min ago", "DHCP class udhcp 1.36")
}

func TestHostPageFlows(t *testing.T) {
	e := trafficEnv(t)
	body := pageAs(t, e, model.RoleRevisor, "/hosts/"+invHost)
	wantIn(t, "host page", body, `id="host-flows-title">Trafikk mellom soner<`, "firefox", "ssh", "tcp/22",
		`href="/flows?agent=`+invHost+`#flows-title"`)
	if strings.Contains(body, "udp/53") {
		t.Error("host page shows another host's flow")
	}
	if q := e.traffic.lastQuery(); q.AgentID != invHost || q.Limit != hostFlowRows+1 {
		t.Errorf("host page asked the store %+v, want the host's newest %d", q, hostFlowRows+1)
	}
	body = pageAs(t, e, model.RoleRevisor, "/hosts/"+revokedID)
	wantIn(t, "revoked host's page", body, "udp/53", "ukjent")
}

// TestTrafficNeedsLogin: the traffic pages send anonymous callers to the
// login, the API refuses them.
func TestTrafficNeedsLogin(t *testing.T) {
	e := trafficEnv(t)
	for _, p := range []string{"/zones", "/flows", "/neighbours"} {
		rec := e.get(p)
		if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Errorf("GET %s without login = %d to %q, want 303 to the login", p, rec.Code, loc)
		}
	}
	for _, p := range []string{"/api/v1/zones", "/api/v1/zones/matrix", "/api/v1/flows", "/api/v1/neighbours"} {
		if rec := e.get(p); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without login = %d, want 401", p, rec.Code)
		}
	}
}

func TestService(t *testing.T) {
	for _, tc := range []struct {
		proto string
		port  uint16
		want  string
	}{
		{"tcp", 443, "tcp/443"},
		{"udp", 53, "udp/53"},
		{"icmp", 8 << 8, "icmp 8/0"},
		{"icmpv6", 135<<8 | 0, "icmpv6 135/0"},
		{"47", 0, "47"},
		{"132", 9899, "132/9899"},
	} {
		if got := service(tc.proto, tc.port); got != tc.want {
			t.Errorf("service(%q, %d) = %q, want %q", tc.proto, tc.port, got, tc.want)
		}
	}
}
