package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

const (
	stickKey  = "0951:1666:E0D55EA57486"
	revokedID = "ffeeddccbbaa9988" // gammel-pc-001 of sampleHosts
)

// sampleMedia gives saksbeh-pc-017 a stick's add, mount and removal and a
// marked stick's add (ids 1–4), and the revoked host a blocked stick (id 5).
func (e *testEnv) sampleMedia() {
	now := e.clock.now()
	stick := wire.MediaDevice{
		Class: wire.MediaUSBStorage, Name: "sdb", Bus: "usb", VID: "0951", PID: "1666",
		Vendor: "Kingston Technology", Product: "DataTraveler 100 G3", Serial: "E0D55EA57486",
		Volumes: []wire.MediaVolume{{Name: "sdb1", FSType: "vfat", Label: "PRIVAT", Encrypted: "no", MarkingChecked: true}},
	}
	marked := wire.MediaDevice{
		Class: wire.MediaUSBStorage, Name: "sdc", VID: "0781", PID: "5583", Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001",
		Volumes: []wire.MediaVolume{{Name: "sdc1", FSType: "exfat", Label: "NK-0042", Encrypted: "yes", Encryption: "bitlocker",
			Marking: &wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042", Classification: "intern"}}},
	}
	card := wire.MediaDevice{Class: wire.MediaMemoryCard, Name: "mmcblk0", Serial: "0x1234abcd",
		Volumes: []wire.MediaVolume{{Name: "mmcblk0p1", FSType: "vfat", Encrypted: "unknown"}}}
	audit := &wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleAuditDefault, Mode: wire.MediaModeAudit}
	e.store.addMedia(
		model.MediaEvent{AgentID: invHost, Seq: 10, At: now.Add(-3 * time.Hour), ReceivedAt: now.Add(-3 * time.Hour),
			Event: wire.MediaEvent{Action: wire.MediaAdd, Device: stick, Decision: audit}, Evaluated: true},
		model.MediaEvent{AgentID: invHost, Seq: 11, At: now.Add(-3*time.Hour + time.Minute),
			Event: wire.MediaEvent{Action: wire.MediaMount, Device: stick,
				Mount: &wire.MediaMountInfo{Volume: "sdb1", Point: "/media/kari/PRIVAT", FSType: "vfat", User: "kari"}}},
		model.MediaEvent{AgentID: invHost, Seq: 12, At: now.Add(-2 * time.Hour), Event: wire.MediaEvent{Action: wire.MediaRemove, Device: wire.MediaDevice{
			Class: stick.Class, Name: stick.Name, VID: stick.VID, PID: stick.PID, Serial: stick.Serial}}},
		model.MediaEvent{AgentID: invHost, Seq: 13, At: now.Add(-time.Hour),
			Event: wire.MediaEvent{Action: wire.MediaAdd, Device: marked,
				Decision: &wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleRegister, Mode: wire.MediaModeAudit}}},
		model.MediaEvent{AgentID: revokedID, Seq: 3, At: now.Add(-30 * time.Minute),
			Event: wire.MediaEvent{Action: wire.MediaAdd, Device: card,
				Decision: &wire.MediaDecision{Verdict: wire.VerdictBlock, Rule: wire.MediaRuleBlockDefault, Mode: wire.MediaModeBlock, Enforced: true}}},
	)
}

// token creates an API token with role and returns the Authorization value.
func (e *testEnv) token(t *testing.T, role model.Role) string {
	t.Helper()
	tok, err := CreateAPIToken(t.Context(), e.store, role, string(role), "admin", e.clock.now())
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	return "Bearer " + tok
}

// mediaLogBody is the media log as a client decodes it; the event is
// decoded as the e2e tests decode it.
type mediaLogBody struct {
	AgentID string `json:"agent_id"`
	Next    int64  `json:"next"`
	Events  []struct {
		ID         int64  `json:"id"`
		AgentID    string `json:"agent_id"`
		Hostname   string `json:"hostname"`
		Seq        uint64 `json:"seq"`
		At         string `json:"at"`
		Key        string `json:"key"`
		Evaluated  bool   `json:"evaluated"`
		Event      wire.MediaEvent
		EventPlain map[string]any `json:"event"`
	} `json:"events"`
}

func decodeMediaLog(t *testing.T, rec *httptest.ResponseRecorder) mediaLogBody {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("media log = %d %s", rec.Code, rec.Body)
	}
	var b mediaLogBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("decode media log: %v\n%s", err, rec.Body)
	}
	for i := range b.Events {
		raw, _ := json.Marshal(b.Events[i].EventPlain)
		if err := json.Unmarshal(raw, &b.Events[i].Event); err != nil {
			t.Fatalf("decode event: %v", err)
		}
	}
	return b
}

func mediaIDs(b mediaLogBody) []int64 {
	var out []int64
	for _, e := range b.Events {
		out = append(out, e.ID)
	}
	return out
}

func TestAPIMediaLog(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleMedia()
	authz := e.token(t, model.RoleRevisor)

	b := decodeMediaLog(t, e.apiGet("/api/v1/media", authz))
	if got := mediaIDs(b); !slices.Equal(got, []int64{5, 4, 3, 2, 1}) || b.Next != 0 {
		t.Fatalf("media log ids = %v next %d, want 5..1 newest first and no next", got, b.Next)
	}
	first := b.Events[0]
	if first.AgentID != revokedID || first.Hostname != "gammel-pc-001" || first.Seq != 3 || first.At != "2026-03-02T09:00:00Z" ||
		first.Key != "::0x1234abcd" || first.Event.Action != "add" || first.Event.Decision == nil ||
		first.Event.Decision.Verdict != "block" || first.Event.Decision.Rule != "media.default.block" || !first.Event.Decision.Enforced {
		t.Errorf("newest event = %+v", first)
	}
	last := b.Events[4]
	if last.Key != strings.ToLower("0951:1666:")+"E0D55EA57486" || !last.Evaluated || len(last.Event.Device.Volumes) != 1 ||
		last.Event.Device.Volumes[0].Label != "PRIVAT" || last.Event.Device.Volumes[0].Encrypted != "no" {
		t.Errorf("oldest event = %+v", last)
	}
	if m := b.Events[1].Event.Device.Volumes[0].Marking; m == nil || m.ID != "NK-0042" {
		t.Errorf("marked stick's marking = %+v", m)
	}
	if mt := b.Events[3].Event.Mount; mt == nil || mt.Point != "/media/kari/PRIVAT" || mt.User != "kari" {
		t.Errorf("mount = %+v", mt)
	}

	// Paging: next is the ?before= of the older page; the last page has none.
	var pages [][]int64
	path := "/api/v1/media?limit=2"
	for range 5 {
		b := decodeMediaLog(t, e.apiGet(path, authz))
		pages = append(pages, mediaIDs(b))
		if b.Next == 0 {
			break
		}
		path = "/api/v1/media?limit=2&before=" + strconv.FormatInt(b.Next, 10)
	}
	if len(pages) != 3 || !slices.Equal(pages[0], []int64{5, 4}) || !slices.Equal(pages[1], []int64{3, 2}) || !slices.Equal(pages[2], []int64{1}) {
		t.Errorf("pages of 2 = %v, want [5 4] [3 2] [1]", pages)
	}
	if b := decodeMediaLog(t, e.apiGet("/api/v1/media?limit=5", authz)); b.Next != 0 {
		t.Errorf("limit equal to the log's size gives next %d, want none", b.Next)
	}

	for q, want := range map[string][]int64{
		"agent=" + invHost:                        {4, 3, 2, 1},
		"key=" + stickKey:                         {3, 2, 1},
		"agent=" + revokedID + "&key=" + stickKey: nil,
		"before=3":                                {2, 1},
	} {
		if got := mediaIDs(decodeMediaLog(t, e.apiGet("/api/v1/media?"+q, authz))); !slices.Equal(got, want) {
			t.Errorf("media log ?%s = %v, want %v", q, got, want)
		}
	}
	if rec := e.apiGet("/api/v1/media?agent=nobody", authz); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"events":[]`) {
		t.Errorf("media log of an unknown agent = %d %s, want an empty list", rec.Code, rec.Body)
	}

	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "before=0", "before=-1", "before=x", "key=" + strings.Repeat("k", 301)} {
		rec := e.apiGet("/api/v1/media?"+q, authz)
		m := decodeJSON(t, rec)
		if rec.Code != http.StatusBadRequest || m["code"] != "invalid" || m["error"] == "Invalid request." {
			t.Errorf("media log ?%s = %d %v, want 400 with its own message", q, rec.Code, m)
		}
	}
	if rec := e.apiGet("/api/v1/media?limit=0", authz); !strings.Contains(rec.Body.String(), "limit must be a whole number from 1 to 1000") {
		t.Errorf("limit=0 message = %s", rec.Body)
	}

	// One host's log.
	b = decodeMediaLog(t, e.apiGet("/api/v1/hosts/"+invHost+"/media?limit=3", authz))
	if b.AgentID != invHost || !slices.Equal(mediaIDs(b), []int64{4, 3, 2}) || b.Next != 2 {
		t.Errorf("host media = agent %q ids %v next %d", b.AgentID, mediaIDs(b), b.Next)
	}
	b = decodeMediaLog(t, e.apiGet("/api/v1/hosts/"+invHost+"/media?agent="+revokedID, authz))
	if len(b.Events) != 4 {
		t.Errorf("host media with ?agent= of another host = %v; the path's host must win", mediaIDs(b))
	}
	if rec := e.apiGet("/api/v1/hosts/finnesikke/media", authz); rec.Code != http.StatusNotFound || decodeJSON(t, rec)["code"] != "not_found" {
		t.Errorf("media of an unknown host = %d %s", rec.Code, rec.Body)
	}
}

func TestMediaPage(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleMedia()
	e.addUser(t, "dag", "hemmelig-passord", model.RoleDrift)
	sc := e.login(t, "dag", "hemmelig-passord")

	for lang, want := range map[string][]string{
		"nb": {`<a href="/media" aria-current="page">Flyttbare medier</a>`, "Satt inn", "Montert", "Tatt ut", "USB-lagring", "Minnekort",
			"Ikke kryptert", "Kryptert", "Ukjent", "Ingen merking funnet", "fra volumetiketten", "Tillatt", "Blokkert",
			"Standard: bare rapporter", "I medieregisteret", "Standard: blokker det registeret ikke har", "Håndhevet", "Modus: blokker",
			"av kari", "/media/kari/PRIVAT"},
		"en": {"Inserted", "Mounted", "Removed", "USB storage", "Memory card", "Not encrypted", "No marking found", "from the volume label",
			"Allowed", "Blocked", "Default: report only", "In the media register", "Enforced", "by kari"},
	} {
		rec := e.get("/media?lang="+lang, sc)
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /media (%s) = %d", lang, rec.Code)
		}
		for _, w := range append(want, "saksbeh-pc-017", "gammel-pc-001", `href="/hosts/`+invHost+`"`, "0951:1666", "Kingston Technology",
			"DataTraveler 100 G3", "E0D55EA57486", "PRIVAT", "vfat", "exfat", "NK-0042", "intern", "0x1234abcd", `href="/media?key=0951%3a1666%3aE0D55EA57486"`) {
			if !strings.Contains(body, w) {
				t.Errorf("media page (%s) lacks %q", lang, w)
			}
		}
		if strings.Contains(body, "⟦") {
			t.Errorf("media page (%s) has a key missing from the catalogue", lang)
		}
	}

	body := e.get("/media?limit=2", sc).Body.String()
	if !strings.Contains(body, `href="/media?before=4&amp;limit=2"`) || strings.Contains(body, "/media/kari/PRIVAT") {
		t.Errorf("first page of 2 lacks the link to the older page, or shows older rows")
	}
	body = e.get("/media?limit=2&before=4", sc).Body.String()
	if !strings.Contains(body, "/media/kari/PRIVAT") || !strings.Contains(body, `href="/media?limit=2"`) || !strings.Contains(body, `href="/media?before=2&amp;limit=2"`) {
		t.Errorf("second page of 2 lacks its rows or its links")
	}
	body = e.get("/media?agent="+revokedID, sc).Body.String()
	if strings.Contains(body, "DataTraveler") || !strings.Contains(body, "0x1234abcd") || !strings.Contains(body, `<option value="`+revokedID+`" selected>`) {
		t.Errorf("media page filtered by host shows other hosts' media or does not keep the filter")
	}
	body = e.get("/media?agent=nobody", sc).Body.String()
	if !strings.Contains(body, translate("nb", "media.empty")) {
		t.Errorf("media page without events does not say so")
	}
	if rec := e.get("/media?limit=0", sc); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "limit må være et heltall fra 1 til 1000.") {
		t.Errorf("media page with limit=0 = %d; want 400 naming the problem", rec.Code)
	}
}

func TestHostPageMedia(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleMedia()
	e.addUser(t, "kari", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "kari", "hemmelig-passord")

	body := e.get("/hosts/"+invHost, sc).Body.String()
	for _, w := range []string{"Flyttbare medier", "Satt inn", "Tatt ut", "NK-0042", `href="/media?agent=` + invHost + `"`} {
		if !strings.Contains(body, w) {
			t.Errorf("host page lacks %q", w)
		}
	}
	if strings.Contains(body, "0x1234abcd") {
		t.Errorf("host page shows another host's media")
	}
	if strings.Contains(body, "⟦") {
		t.Errorf("host page has a key missing from the catalogue")
	}
	// More events than the section shows: it says so.
	var evs []model.MediaEvent
	for i := range hostMediaRows {
		evs = append(evs, model.MediaEvent{AgentID: invHost, Seq: uint64(100 + i), At: e.clock.now(),
			Event: wire.MediaEvent{Action: wire.MediaPresent, Device: wire.MediaDevice{Class: wire.MediaOptical, Name: "sr0"}}})
	}
	e.store.addMedia(evs...)
	body = e.get("/hosts/"+invHost+"?lang=en", sc).Body.String()
	if !strings.Contains(body, "Showing the 20 newest events.") || strings.Contains(body, "DataTraveler") {
		t.Errorf("host page with many events does not cut them at %d", hostMediaRows)
	}
	e.store.addHost(model.HostSummary{Agent: model.Agent{ID: "0011223344556677"}})
	if body := e.get("/hosts/0011223344556677", sc).Body.String(); !strings.Contains(body, translate("nb", "host.no_media")) {
		t.Errorf("host page without media does not say so")
	}
}

func TestWorseEncryption(t *testing.T) {
	for _, tc := range []struct {
		vols []string
		want string
	}{
		{nil, ""},
		{[]string{"yes"}, "yes"},
		{[]string{"yes", "yes"}, "yes"},
		{[]string{"yes", "no"}, "no"},
		{[]string{"unknown", "no"}, "no"},
		{[]string{"yes", "unknown"}, "unknown"},
		{[]string{""}, "unknown"},
	} {
		got := ""
		for _, v := range tc.vols {
			got = worseEncryption(got, v)
		}
		if got != tc.want {
			t.Errorf("worseEncryption over %q = %q, want %q", tc.vols, got, tc.want)
		}
	}
}
