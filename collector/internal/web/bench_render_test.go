package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// The render benchmarks: server time for the configuration map page, the
// host list and the SVG picture of an estate of 5 000 hosts. Budget 200 ms
// each (issue 7). Run with
//
//	go test ./collector/internal/web/ -run '^$' -bench 'Render|WriteSVG5000' -benchmem

const (
	benchHosts      = 5000
	benchNeighbours = 500
	benchZones      = 8
)

// benchZonesYAML is a zone map of eight zones, 10.<i>.0.0/16, one a part of
// another, with a few firewall rules.
func benchZonesYAML() string {
	var b strings.Builder
	b.WriteString("zones:\n")
	kinds := []string{"internal", "internal", "sensitive", "internal", "sensitive", "internal", "internal", "internal"}
	for i := range benchZones {
		fmt.Fprintf(&b, "  - name: sone%d\n    kind: %s\n    prefixes: [10.%d.0.0/16]\n", i, kinds[i], i)
		if kinds[i] == "sensitive" {
			b.WriteString("    purpose: Helse og omsorg\n")
		}
	}
	b.WriteString("firewall:\n")
	for i := 1; i < benchZones; i++ {
		fmt.Fprintf(&b, "  - from: sone0\n    to: sone%d\n    proto: tcp\n    ports: [443]\n    justification: Drift\n    owner: drift\n", i)
	}
	return b.String()
}

// benchSource is a configmap.Source over a fixed estate.
type benchSource struct {
	assets []model.Asset
	ids    []model.HostIdentity
	ns     []model.Neighbour
	pairs  []model.ZonePair
}

func (s benchSource) Assets(context.Context) ([]model.Asset, error) { return s.assets, nil }
func (s benchSource) HostIdentities(context.Context) ([]model.HostIdentity, error) {
	return s.ids, nil
}
func (s benchSource) Neighbours(context.Context) ([]model.Neighbour, error) { return s.ns, nil }
func (s benchSource) ZoneMatrix(context.Context, time.Time, time.Time) ([]model.ZonePair, error) {
	return s.pairs, nil
}

// benchServer is a server over 5 000 hosts in eight zones: 4 500 of them
// registered (of which every twentieth silent, and ten clones in conflict),
// 500 unregistered, 200 more assets without an agent, and 500 devices on the
// wire; and a signed-in auditor's session cookie.
func benchServer(b *testing.B) (*Server, http.Handler, *http.Cookie) {
	b.Helper()
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	zm, err := zone.Parse("zones.yaml", []byte(benchZonesYAML()))
	if err != nil {
		b.Fatal(err)
	}
	st := newFakeStore()
	var src benchSource
	for i := range benchHosts {
		id := fmt.Sprintf("%016x", 0xa000000000000000+uint64(i))
		mac := fmt.Sprintf("3c:52:82:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)
		ip := fmt.Sprintf("10.%d.%d.%d", i%benchZones, i/250%250, i%250+1)
		name := fmt.Sprintf("pc-%04d.kommune.local", i)
		seen := now.Add(-time.Duration(i%60) * time.Second)
		if i%20 == 0 {
			seen = now.Add(-30 * time.Hour) // silent
		}
		st.addHost(model.HostSummary{
			Agent: model.Agent{ID: id, Hostname: name, LastSeen: seen, Version: "0.3.1", EnrolledAt: now.Add(-90 * 24 * time.Hour)},
			Facts: &wire.Host{Hostname: name, OS: "windows", Platform: "Windows 11 Pro", PlatformVersion: "24H2", Kernel: "10.0.26100", Arch: "amd64",
				CPU: wire.CPU{Model: "Intel(R) Core(TM) i5-1245U", Cores: 10, Threads: 12}, MemoryBytes: 16 << 30,
				Interfaces: []wire.Interface{{Name: "Ethernet", MAC: mac, Addrs: []string{ip + "/16"}, Up: true}}},
			FactsAt: seen, Records: int64(1000 + i),
		})
		serial := fmt.Sprintf("SN%06d", i)
		if i%500 == 1 {
			serial = fmt.Sprintf("SN%06d", i-1) // a cloned image: a conflict
		}
		src.ids = append(src.ids, model.HostIdentity{AgentID: id, Hostname: name, Serial: serial,
			MACs: []string{mac}, Addrs: []string{ip}, LastSeen: seen})
		if i < 4500 { // registered
			src.assets = append(src.assets, model.Asset{Tag: fmt.Sprintf("K-%05d", i), Type: model.AssetPC, Serial: fmt.Sprintf("SN%06d", i),
				MACs: []string{mac}, Hostname: name, OwnerUnit: fmt.Sprintf("enhet-%d", i%12), Zone: fmt.Sprintf("sone%d", i%benchZones), Status: model.AssetActive})
		}
	}
	for i := range 200 { // assets without an agent: silent
		src.assets = append(src.assets, model.Asset{Tag: fmt.Sprintf("L-%05d", i), Type: model.AssetLaptop, Serial: fmt.Sprintf("LSN%06d", i),
			Zone: fmt.Sprintf("sone%d", i%benchZones), Status: model.AssetActive})
	}
	for i := range benchNeighbours {
		src.ns = append(src.ns, model.Neighbour{Neighbour: wire.Neighbour{MAC: fmt.Sprintf("00:1b:%02x:00:%02x:%02x", i%7, i>>8, i&0xff),
			IPs: []string{fmt.Sprintf("10.%d.251.%d", i%benchZones, i%250+1)}, Vendor: "Skriver AS", Last: now.UnixNano()},
			SeenByAgents: []string{src.ids[i].AgentID}})
	}
	for i := range benchZones {
		for j := range benchZones {
			if i != j && (i+j)%3 == 0 {
				src.pairs = append(src.pairs, model.ZonePair{From: fmt.Sprintf("sone%d", i), To: fmt.Sprintf("sone%d", j), Flows: 10 + i + j, Hosts: 3})
			}
		}
	}
	zoneOf := func(a netip.Addr) string { return zm.ZoneOf(a).Name }
	srv, err := New(Config{Store: st, Now: func() time.Time { return now }, Traffic: newFakeTraffic(), Zones: func() *zone.Map { return zm },
		MapSnapshots: st,
		ConfigMap: func(ctx context.Context) (configmap.Map, error) {
			return configmap.Build(ctx, src, configmap.BuildOptions{Options: configmap.Options{Now: now}, ZoneOf: zoneOf})
		}})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	hash, err := hashPassword("hemmelig-passord", testArgon2)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateUser(b.Context(), model.User{Name: "rut", PasswordHash: hash, Role: model.RoleRevisor, CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	return srv, h, benchLogin(b, h)
}

// benchLogin logs "rut" in and returns the session cookie.
func benchLogin(b *testing.B, h http.Handler) *http.Cookie {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	m := csrfInput.FindStringSubmatch(rec.Body.String())
	pre := cookieNamed(rec, preloginCookie)
	if m == nil || pre == nil {
		b.Fatal("no login form")
	}
	form := url.Values{"username": {"rut"}, "password": {"hemmelig-passord"}, "csrf": {m[1]}}
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.10:40000"
	req.AddCookie(pre)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	sc := cookieNamed(rec, sessionCookie)
	if rec.Code != http.StatusSeeOther || sc == nil {
		b.Fatalf("login = %d", rec.Code)
	}
	return sc
}

func benchGet(b *testing.B, path string, want string) {
	_, h, sc := benchServer(b)
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(sc)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := get(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
		b.Fatalf("GET %s = %d, lacking %q\n%.3000s", path, rec.Code, want, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rec := get(); rec.Code != http.StatusOK {
			b.Fatalf("GET %s = %d", path, rec.Code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}

// BenchmarkRenderConfigMap5000 is the map page: build, zone areas (40
// tiles a zone), matrix and the first 100 rows of the table.
func BenchmarkRenderConfigMap5000(b *testing.B) {
	benchGet(b, "/configmap", `class="tile state-`)
}

// BenchmarkRenderHosts5000 is the first page of the host list.
func BenchmarkRenderHosts5000(b *testing.B) {
	benchGet(b, "/hosts", `<tr data-agent="`)
}

// BenchmarkRenderConfigMapSVG5000 is the SVG download, through the handler.
func BenchmarkRenderConfigMapSVG5000(b *testing.B) {
	benchGet(b, "/configmap.svg", "<svg")
}

// BenchmarkWriteSVG5000 draws the built map of 5 000 hosts.
func BenchmarkWriteSVG5000(b *testing.B) {
	srv, _, _ := benchServer(b)
	m, err := srv.currentMap(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	o := configmap.RenderOptions{Zones: srv.zoneInfos()}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := configmap.WriteSVG(io.Discard, m, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}
