package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

const invHost = "a1b2c3d4e5f60718" // saksbeh-pc-017 of sampleHosts

// sampleInventory gives saksbeh-pc-017 an inventory and a history, and the
// revoked host a Windows inventory.
func (e *testEnv) sampleInventory() {
	now := e.clock.now()
	e.store.setInventory(invHost, wire.Inventory{
		Hash: strings.Repeat("ab", 32), Full: true,
		Host: &wire.Host{Hostname: "saksbeh-pc-017", OS: "linux"},
		Hardware: &wire.Hardware{
			System: wire.System{Vendor: "LENOVO", Model: "20XW0055MX", Serial: "PF3ABC12", Chassis: "laptop", BIOSVendor: "LENOVO", BIOSVersion: "N32ET86W"},
			Disks: []wire.Disk{
				{Name: "nvme0n1", Model: "SAMSUNG MZVL2512HCJQ", SizeBytes: 512 << 30, Bus: "nvme", Partitions: []wire.Partition{
					{Name: "nvme0n1p1", SizeBytes: 512 << 20, FSType: "vfat", Mountpoint: "/boot/efi"},
					{Name: "nvme0n1p2", SizeBytes: 500 << 30, FSType: "crypto_LUKS", Encrypted: true, Encryption: "luks2"},
				}},
				{Name: "sda", Model: "Ultra", SizeBytes: 32 << 30, Bus: "usb", Removable: true, Partitions: []wire.Partition{
					{Name: "sda1", SizeBytes: 32 << 30, FSType: "exfat", Label: "MINNEPENN", Encryption: "unknown"},
				}},
			},
			USB: []wire.USBDevice{{Path: "3-1", VID: "0951", PID: "1666", Vendor: "Kingston Technology", Product: "DataTraveler 100 G3", Serial: "E0D55EA57486", Class: "mass-storage"}},
		},
		Software: []wire.Package{
			{Name: "bash", Version: "5.2.15-2+b3", Arch: "amd64", Source: "dpkg"},
			{Name: "curl", Version: "7.88.1-10+deb12u5", Arch: "amd64", Source: "dpkg"},
			{Name: "openssl", Version: "3.0.11-1~deb12u2", Arch: "amd64", Source: "dpkg"},
		},
		Services: []wire.Service{{Name: "cups.service", Display: "CUPS Scheduler", State: "stopped", StartMode: "enabled"}},
		Users:    []wire.User{{Name: "kari", ID: "1000", FullName: "Kari Nordmann", Home: "/home/kari", Shell: "/bin/bash", Admin: true}},
		Groups:   []wire.Group{{Name: "sudo", ID: "27", Members: []string{"kari", "root"}}},
		Sessions: []wire.Session{{User: "kari", ID: "pts/0", Kind: "ssh", Remote: "10.20.30.9"}},
		Warnings: []string{"/var/lib/dpkg/status:120: stanza without Version; skipped"},
	}, now.Add(-2*time.Hour),
		model.InventoryChange{At: now.Add(-3 * time.Hour), Seq: 1, Section: model.ChangeSectionInventory, Op: model.ChangeAdded, Key: strings.Repeat("cd", 32)},
		model.InventoryChange{At: now.Add(-2 * time.Hour), Seq: 2, Section: model.ChangeSectionSoftware, Op: model.ChangeChanged, Key: "bash",
			Before: `{"name":"bash","version":"5.2.15-2+b2","arch":"amd64","source":"dpkg"}`,
			After:  `{"name":"bash","version":"5.2.15-2+b3","arch":"amd64","source":"dpkg"}`},
		model.InventoryChange{At: now.Add(-2 * time.Hour), Seq: 2, Section: model.ChangeSectionDisks, Op: model.ChangeAdded, Key: "sda",
			After: `{"name":"sda","size_bytes":34359738368,"bus":"usb","removable":true,"partitions":[{"name":"sda1","size_bytes":34359738368,"fs_type":"exfat","encryption":"unknown"}]}`},
		model.InventoryChange{At: now.Add(-2 * time.Hour), Seq: 2, Section: model.ChangeSectionHost, Op: model.ChangeChanged, Key: "memory",
			Before: `{"memory_bytes":8589934592}`, After: `{"memory_bytes":17179869184}`},
		model.InventoryChange{At: now.Add(-2 * time.Hour), Seq: 2, Section: model.ChangeSectionGroups, Op: model.ChangeChanged, Key: "sudo",
			Before: `{"name":"sudo","id":"27","members":["root"]}`, After: `{"name":"sudo","id":"27","members":["kari","root"]}`},
	)
	e.store.setInventory("ffeeddccbbaa9988", wire.Inventory{
		Hash: strings.Repeat("ef", 32), Full: true,
		Software: []wire.Package{
			{Name: "OpenSSL 3.1.2 Light (64-bit)", Version: "3.1.2", Source: "windows", Publisher: "OpenSSL Win64 Installer Team"},
			{Name: "Økonomisystem", Version: "10.4", Source: "windows", Scope: "S-1-5-21-1-1001"},
		},
	}, now.Add(-400*time.Hour))
}

func TestHostInventoryPage(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleInventory()
	e.addUser(t, "kari", "hemmelig-passord", model.RoleLeder)
	sc := e.login(t, "kari", "hemmelig-passord")

	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"nb", []string{
			"Inventar", "Maskinvare", "LENOVO", "20XW0055MX", "PF3ABC12", "N32ET86W",
			"nvme0n1p2", "Kryptert (luks2)", "Ikke kryptert", "Ukjent om kryptert", "MINNEPENN", "flyttbar",
			"USB-enheter", "0951:1666", "Kingston Technology", "DataTraveler 100 G3", "E0D55EA57486",
			"Programvare", "openssl", "3.0.11-1~deb12u2", "Debian (dpkg)", "Viser 3 av 3 pakker.",
			"cups.service", "CUPS Scheduler", "stopped",
			"Kari Nordmann", "Administrator", "sudo", "pts/0", "10.20.30.9",
			"Advarsler fra innsamlingen.", "stanza without Version",
			"Endringshistorikk", "Første fullstendige inventar mottatt (cdcdcdcdcdcd)", "Endret", "Lagt til",
			"5.2.15-2+b2</span> → <span class=\"mono wrap\">5.2.15-2+b3", "Minne", "8589934592",
			"Partisjoner › sda1 › Kryptering", "Medlemmer:</span> <span class=\"mono wrap\">root</span> → <span class=\"mono wrap\">kari, root",
			`action="/hosts/a1b2c3d4e5f60718#software"`, "abababababab",
		}},
		{"en", []string{
			"Inventory", "Encrypted (luks2)", "Not encrypted", "Encryption unknown", "Showing 3 of 3 packages.",
			"First full inventory received (cdcdcdcdcdcd)", "Changed", "Added", "Change history", "Memory",
			"Partitions › sda1 › Encryption", "Collection warnings.",
		}},
	} {
		rec := e.get("/hosts/"+invHost+"?lang="+tc.lang, sc)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET host page (%s) = %d", tc.lang, rec.Code)
		}
		body := unescapePlus(rec.Body.String())
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("host page (%s) lacks %q", tc.lang, w)
			}
		}
		if strings.Contains(body, "⟦") {
			t.Errorf("host page (%s) has a key missing from the catalogue", tc.lang)
		}
		// Newest first: the bash change before the first snapshot.
		if i, j := strings.Index(body, "5.2.15-2+b2"), strings.Index(body, "cdcdcdcdcdcd"); i < 0 || j < 0 || i > j {
			t.Errorf("history (%s) is not newest first", tc.lang)
		}
		if inlineScript(body) || strings.Contains(body, "style=") {
			t.Errorf("host page (%s) has inline script or style", tc.lang)
		}
	}

	// The filter box narrows the software table.
	body := unescapePlus(e.get("/hosts/"+invHost+"?sw=SSL", sc).Body.String())
	if !strings.Contains(body, "Viser 1 av 3 pakker.") || !strings.Contains(body, "3.0.11-1~deb12u2") ||
		strings.Contains(body, "7.88.1-10+deb12u5") || !strings.Contains(body, `value="SSL"`) {
		t.Errorf("host page with ?sw=SSL does not show openssl alone")
	}
	body = unescapePlus(e.get("/hosts/"+invHost+"?sw=c*l", sc).Body.String())
	if !strings.Contains(body, "Viser 1 av 3 pakker.") || !strings.Contains(body, "7.88.1-10+deb12u5") {
		t.Errorf("host page with ?sw=c*l does not show curl alone")
	}
	body = e.get("/hosts/"+invHost+"?sw=zzz", sc).Body.String()
	if !strings.Contains(body, translate("nb", "sw.no_match")) {
		t.Errorf("host page with a filter matching nothing does not say so")
	}
	if rec := e.get("/hosts/"+invHost+"?sw="+strings.Repeat("x", 300), sc); rec.Code != http.StatusBadRequest {
		t.Errorf("host page with a 300-byte filter = %d, want 400", rec.Code)
	}

	// A host without inventory says so; its history is empty.
	e.store.addHost(model.HostSummary{Agent: model.Agent{ID: "0011223344556677", Hostname: "ny-pc"}})
	body = e.get("/hosts/0011223344556677", sc).Body.String()
	for _, key := range []string{"inv.none", "hist.none"} {
		if !strings.Contains(body, translate("nb", key)) {
			t.Errorf("host page without inventory lacks %q", translate("nb", key))
		}
	}
}

// unescapePlus undoes html/template's escaping of + (as &#43;), which
// versions are full of.
func unescapePlus(s string) string { return strings.ReplaceAll(s, "&#43;", "+") }

func TestSoftwarePage(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleInventory()
	e.addUser(t, "ola", "hemmelig-passord", model.RoleRevisor)
	sc := e.login(t, "ola", "hemmelig-passord")

	rec := e.get("/software", sc)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `<form class="search stack" method="get" action="/software"`) ||
		strings.Contains(body, "<table") {
		t.Fatalf("GET /software = %d; want the form and no results", rec.Code)
	}
	if !strings.Contains(body, `<a href="/software" aria-current="page">Programvare</a>`) {
		t.Errorf("nav does not mark Programvare current")
	}
	if !strings.Contains(e.get("/hosts", sc).Body.String(), `<a href="/software">Programvare</a>`) {
		t.Errorf("hosts page lacks the Programvare nav link")
	}

	body = e.get("/software?name=openssl", sc).Body.String()
	for _, w := range []string{"2 treff", "på 2 verter", `<a href="/hosts/a1b2c3d4e5f60718">saksbeh-pc-017</a>`,
		`<a href="/hosts/ffeeddccbbaa9988">gammel-pc-001</a>`, "OpenSSL 3.1.2 Light (64-bit)", "3.0.11-1~deb12u2", `value="openssl"`} {
		if !strings.Contains(body, w) {
			t.Errorf("search for openssl lacks %q", w)
		}
	}
	body = e.get("/software?name=openssl&below=3.1&lang=en", sc).Body.String()
	if !strings.Contains(body, "1 hit on 1 host") || !strings.Contains(body, "saksbeh-pc-017") || strings.Contains(body, "gammel-pc-001") {
		t.Errorf("search for openssl below 3.1 (en) does not list saksbeh-pc-017 alone")
	}
	body = e.get("/software?name=%C3%B8konomi", sc).Body.String()
	if !strings.Contains(body, "Økonomisystem") || !strings.Contains(body, "S-1-5-21-1-1001") {
		t.Errorf("search for økonomi does not find the per-user package")
	}
	body = e.get("/software?name=zzz", sc).Body.String()
	if !strings.Contains(body, "0 treff") || !strings.Contains(body, translate("nb", "software.none")) {
		t.Errorf("search without hits does not say so")
	}
	if rec := e.get("/software?name="+strings.Repeat("x", 300), sc); rec.Code != http.StatusBadRequest {
		t.Errorf("search with a 300-byte name = %d, want 400", rec.Code)
	}
	for _, lang := range languages {
		if b := e.get("/software?name=o&lang="+lang, sc).Body.String(); strings.Contains(b, "⟦") {
			t.Errorf("software page (%s) has a key missing from the catalogue", lang)
		}
	}
	if rec := e.get("/software"); rec.Code != http.StatusSeeOther {
		t.Errorf("GET /software without a session = %d, want 303 to login", rec.Code)
	}
}

func TestAPIInventory(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleInventory()
	tok, err := CreateAPIToken(t.Context(), e.store, model.RoleLeder, "", "admin", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	authz := "Bearer " + tok

	rec := e.apiGet("/api/v1/hosts/"+invHost+"/inventory", authz)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET inventory = %d\n%s", rec.Code, rec.Body)
	}
	m := decodeJSON(t, rec)
	for key, want := range map[string]any{
		"agent_id": invHost, "hash": strings.Repeat("ab", 32), "full": true, "fetched_at": "2026-03-02T07:30:00Z",
	} {
		if m[key] != want {
			t.Errorf("inventory[%q] = %#v, want %#v", key, m[key], want)
		}
	}
	var inv wire.Inventory
	if err := json.Unmarshal(rec.Body.Bytes(), &inv); err != nil {
		t.Fatal(err)
	}
	if len(inv.Software) != 3 || inv.Hardware == nil || len(inv.Hardware.Disks) != 2 || !inv.Hardware.Disks[0].Partitions[1].Encrypted ||
		len(inv.Users) != 1 || len(inv.Sessions) != 1 || len(inv.Warnings) != 1 {
		t.Errorf("inventory JSON does not decode to the snapshot: %s", rec.Body)
	}
	for _, path := range []string{"/api/v1/hosts/finnesikke/inventory", "/api/v1/hosts/finnesikke/inventory/history"} {
		if rec := e.apiGet(path, authz); rec.Code != http.StatusNotFound || decodeJSON(t, rec)["error"] != "Not found." {
			t.Errorf("GET %s = %d %s, want a JSON 404", path, rec.Code, rec.Body)
		}
	}
	e.store.addHost(model.HostSummary{Agent: model.Agent{ID: "0011223344556677", Hostname: "ny-pc"}})
	if rec := e.apiGet("/api/v1/hosts/0011223344556677/inventory", authz); rec.Code != http.StatusNotFound {
		t.Errorf("GET inventory of a host without one = %d, want 404", rec.Code)
	}

	// History: newest first, limit honoured, before and after as JSON.
	var hist struct {
		AgentID string `json:"agent_id"`
		Changes []struct {
			At, Section, Op, Key string
			Seq                  uint64
			Before, After        json.RawMessage
		} `json:"changes"`
	}
	rec = e.apiGet("/api/v1/hosts/"+invHost+"/inventory/history", authz)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET history = %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &hist); err != nil {
		t.Fatal(err)
	}
	if hist.AgentID != invHost || len(hist.Changes) != 5 || hist.Changes[4].Section != "inventory" || hist.Changes[0].Key != "sudo" {
		t.Fatalf("history = %+v, want 5 changes, newest (sudo) first", hist)
	}
	c := hist.Changes[0]
	if c.At != "2026-03-02T07:30:00Z" || c.Seq != 2 || c.Op != "changed" || string(c.Before) != `{"name":"sudo","id":"27","members":["root"]}` ||
		string(c.After) != `{"name":"sudo","id":"27","members":["kari","root"]}` {
		t.Errorf("history[0] = %+v %s %s", c, c.Before, c.After)
	}
	if hist.Changes[4].Before != nil || hist.Changes[4].After != nil {
		t.Errorf("first-snapshot row carries before/after: %s %s", hist.Changes[4].Before, hist.Changes[4].After)
	}
	rec = e.apiGet("/api/v1/hosts/"+invHost+"/inventory/history?limit=2", authz)
	hist.Changes = nil
	if err := json.Unmarshal(rec.Body.Bytes(), &hist); err != nil || len(hist.Changes) != 2 {
		t.Errorf("history?limit=2 = %d changes, %v; want 2", len(hist.Changes), err)
	}
	for _, bad := range []string{"0", "-1", "x", "99999"} {
		if rec := e.apiGet("/api/v1/hosts/"+invHost+"/inventory/history?limit="+bad, authz); rec.Code != http.StatusBadRequest {
			t.Errorf("history?limit=%s = %d, want 400", bad, rec.Code)
		}
	}
	rec = e.apiGet("/api/v1/hosts/0011223344556677/inventory/history", authz)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"changes":[]`) {
		t.Errorf("history of a host without changes = %d %s, want an empty list", rec.Code, rec.Body)
	}
}

func TestAPISoftware(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleInventory()
	tok, err := CreateAPIToken(t.Context(), e.store, model.RoleRevisor, "", "admin", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	authz := "Bearer " + tok
	var body struct {
		Name, Below string
		Truncated   bool
		Hits        []struct {
			AgentID  string `json:"agent_id"`
			Hostname string `json:"hostname"`
			wire.Package
		}
	}
	rec := e.apiGet("/api/v1/software?name=OpenSSL&below=3.1", authz)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/software = %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Name != "OpenSSL" || body.Below != "3.1" || body.Truncated || len(body.Hits) != 1 {
		t.Fatalf("software search = %+v, want one hit", body)
	}
	h := body.Hits[0]
	if h.AgentID != invHost || h.Hostname != "saksbeh-pc-017" || h.Name != "openssl" || h.Version != "3.0.11-1~deb12u2" || h.Source != "dpkg" || h.Arch != "amd64" {
		t.Errorf("hit = %+v", h)
	}
	body.Hits = nil
	rec = e.apiGet("/api/v1/software?name=*", authz)
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Hits) != 5 {
		t.Errorf("software search for * = %d hits, %v; want 5", len(body.Hits), err)
	}
	for _, q := range []string{"", "?below=1.0", "?name=" + strings.Repeat("x", 300)} {
		if rec := e.apiGet("/api/v1/software"+q, authz); rec.Code != http.StatusBadRequest || decodeJSON(t, rec)["error"] != "Invalid request." {
			t.Errorf("GET /api/v1/software%s = %d %s, want a JSON 400", q, rec.Code, rec.Body)
		}
	}
	if rec := e.apiGet("/api/v1/software?name=x", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("software search without a token = %d, want 401", rec.Code)
	}
}

func TestInventoryReadableByEveryRole(t *testing.T) {
	e := newEnv(t, false)
	e.sampleHosts()
	e.sampleInventory()
	for _, role := range model.Roles {
		tok, err := CreateAPIToken(t.Context(), e.store, role, "", "admin", e.clock.now())
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/api/v1/hosts/" + invHost + "/inventory", "/api/v1/hosts/" + invHost + "/inventory/history", "/api/v1/software?name=ssl"} {
			if rec := e.apiGet(path, "Bearer "+tok); rec.Code != http.StatusOK {
				t.Errorf("role %s: GET %s = %d, want 200", role, path, rec.Code)
			}
		}
	}
}

func TestFlattenJSON(t *testing.T) {
	got := flattenJSON("en", `{"name":"sda","size_bytes":34359738368,"removable":true,"partitions":[{"name":"sda1","encrypted":false},{"fs_type":"vfat"}],"members":["a","b"],"x":null}`)
	var rows []string
	for _, f := range got {
		rows = append(rows, f.Label+"="+f.Value)
	}
	want := []string{
		"Name=sda", "Size (bytes)=34359738368", "Removable=yes",
		"Partitions › sda1 › Name=sda1", "Partitions › sda1 › Encrypted=no",
		"Partitions › 2 › File system=vfat", "Members=a, b", "⟦field.x⟧=",
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("flattenJSON =\n%q\nwant\n%q", rows, want)
	}
	if got := flattenJSON("nb", "not json"); len(got) != 1 || got[0].Value != "not json" {
		t.Errorf("flattenJSON(not json) = %+v", got)
	}
	if got := flattenJSON("nb", ""); got != nil {
		t.Errorf("flattenJSON(\"\") = %+v, want nil", got)
	}
}

// TestCatalogueCoversInventoryFields checks that every field a history row
// can name has a label in each catalogue, and every key the inventory code
// picks at run time exists.
func TestCatalogueCoversInventoryFields(t *testing.T) {
	var keys []string
	var walk func(reflect.Type)
	seen := map[reflect.Type]bool{}
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				keys = append(keys, "field."+name)
			}
			walk(f.Type)
		}
	}
	for _, v := range []any{wire.Host{}, wire.Hardware{}, wire.Package{}, wire.Service{}, wire.User{}, wire.Group{}} {
		walk(reflect.TypeOf(v))
	}
	if len(keys) < 50 {
		t.Fatalf("found only %d field keys; the walk is broken", len(keys))
	}
	for _, s := range []string{model.ChangeSectionInventory, model.ChangeSectionHost, model.ChangeSectionHardware, model.ChangeSectionDisks,
		model.ChangeSectionUSB, model.ChangeSectionSoftware, model.ChangeSectionServices, model.ChangeSectionUsers, model.ChangeSectionGroups} {
		keys = append(keys, "change.section."+s)
	}
	for _, op := range []string{model.ChangeAdded, model.ChangeRemoved, model.ChangeChanged} {
		keys = append(keys, "change.op."+op)
	}
	for _, g := range []string{"identity", "os", "cpu", "memory", "interfaces", "system", "bios"} {
		keys = append(keys, "change.group."+g)
	}
	keys = append(keys, "value.yes", "value.no", "value.empty", "hist.first", "source.dpkg", "source.rpm", "source.windows",
		"disk.encrypted", "disk.encrypted_plain", "disk.not_encrypted", "disk.encryption_unknown")
	for _, lang := range languages {
		for _, k := range keys {
			if _, ok := catalogs[lang][k]; !ok {
				t.Errorf("catalogue %s lacks key %q", lang, k)
			}
		}
	}
}

func TestEncryptionText(t *testing.T) {
	for _, tc := range []struct {
		p    wire.Partition
		want string
	}{
		{wire.Partition{Encrypted: true, Encryption: "bitlocker"}, "Kryptert (bitlocker)"},
		{wire.Partition{Encrypted: true}, "Kryptert"},
		{wire.Partition{Encrypted: true, Encryption: "unknown"}, "Kryptert"},
		{wire.Partition{Encryption: "unknown"}, "Ukjent om kryptert"},
		{wire.Partition{}, "Ikke kryptert"},
	} {
		if got := encryptionText("nb", tc.p); got != tc.want {
			t.Errorf("encryptionText(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
	if got := fmt.Sprint(sourceName("en", "snap"), " ", sourceName("en", "rpm")); got != "snap RPM" {
		t.Errorf("sourceName = %q", got)
	}
}
