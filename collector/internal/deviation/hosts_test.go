package deviation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// fakeHosts is a HostStore in memory: it keeps what each RecordStanding
// call was given.
type fakeHosts struct {
	mu           sync.Mutex
	assets       []model.Asset
	ids          []model.HostIdentity
	neighbours   []model.Neighbour
	accounts     []model.HostAccounts
	accountReads int
	err          error  // RecordStanding fails with it while set
	failRule     string // RecordStanding fails for this rule
	calls        []string
	recorded     map[string][]model.NewDeviation // by rule, the last call's
	evaluations  int                             // calls of Assets
}

func (s *fakeHosts) Assets(ctx context.Context) ([]model.Asset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evaluations++
	return slices.Clone(s.assets), nil
}

func (s *fakeHosts) HostIdentities(ctx context.Context) ([]model.HostIdentity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids), nil
}

func (s *fakeHosts) Neighbours(ctx context.Context) ([]model.Neighbour, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.neighbours), nil
}

func (s *fakeHosts) HostAccounts(ctx context.Context) ([]model.HostAccounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accountReads++
	return slices.Clone(s.accounts), nil
}

func (s *fakeHosts) RecordStanding(ctx context.Context, rule string, scope []string, fs []model.NewDeviation, now time.Time) ([]model.RecordResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if rule == s.failRule {
		return nil, errors.New("disk full")
	}
	if scope != nil {
		return nil, fmt.Errorf("scope %q, want nil (the whole map)", scope)
	}
	if s.recorded == nil {
		s.recorded = map[string][]model.NewDeviation{}
	}
	s.calls = append(s.calls, rule)
	s.recorded[rule] = slices.Clone(fs)
	var res []model.RecordResult
	for _, f := range fs {
		res = append(res, model.RecordResult{ID: f.Subject, Created: true})
	}
	return res, nil
}

func (s *fakeHosts) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evaluations
}

var hostsNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// estate is two registered PCs (one silent), an unregistered machine, a
// revoked agent and an unknown device, with a supplier account on the first
// PC.
func estate() *fakeHosts {
	return &fakeHosts{
		assets: []model.Asset{
			{Tag: "T1", Type: model.AssetPC, Serial: "S1", OwnerUnit: "helse", Status: model.AssetActive},
			{Tag: "T2", Type: model.AssetPC, Serial: "S2", OwnerUnit: "skole", Status: model.AssetActive},
			{Tag: "T3", Type: model.AssetPrinter, MACs: []string{"02:00:00:00:00:33"}, Status: model.AssetActive},
		},
		ids: []model.HostIdentity{
			{AgentID: "a1", Hostname: "pc-t1", Serial: "S1", LastSeen: hostsNow.Add(-time.Minute), Addrs: []string{"10.20.1.1"}},
			{AgentID: "a2", Hostname: "pc-t2", Serial: "S2", LastSeen: hostsNow.Add(-48 * time.Hour)},
			{AgentID: "a3", Hostname: "home-pc", Serial: "X3", MACs: []string{"02:00:00:00:00:03"}, LastSeen: hostsNow.Add(-time.Minute), Addrs: []string{"10.20.1.3"}},
			{AgentID: "a4", Hostname: "old", Serial: "X4", Revoked: true},
		},
		neighbours: []model.Neighbour{
			{Neighbour: wire.Neighbour{MAC: "02:00:00:00:00:03"}, SeenByAgents: []string{"a1"}},
			{Neighbour: wire.Neighbour{MAC: "02:00:00:00:00:99", Vendor: "Acme", Last: hostsNow.UnixNano()}, SeenByAgents: []string{"a1"}},
		},
		accounts: []model.HostAccounts{{AgentID: "a1", Users: []wire.User{{Name: "lev-ola"}}}},
	}
}

func suppliers(ps ...model.SupplierPerson) func(context.Context) ([]model.SupplierPerson, error) {
	return func(context.Context) ([]model.SupplierPerson, error) { return ps, nil }
}

var ola = model.SupplierPerson{ID: "ola", Name: "Ola Lev", Supplier: "Lev AS", Accounts: []string{"lev-ola"}}

// recordedRows renders what was recorded as "rule subject assignees due" lines.
func recordedRows(s *fakeHosts) []string {
	var out []string
	for _, rule := range s.calls {
		for _, f := range s.recorded[rule] {
			out = append(out, fmt.Sprintf("%s %s %s %s", rule, f.Subject, strings.Join(f.Assignees, ","), f.DueAt.Sub(hostsNow)))
		}
	}
	return out
}

func TestEvaluateHosts(t *testing.T) {
	tab, err := zone.NewTable([]zone.Zone{{Name: "helse", Level: zone.Sensitive, CIDRs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}}})
	if err != nil {
		t.Fatal(err)
	}
	st := estate()
	var changes []model.RecordResult
	e := New(Config{Store: newFakeStore(), Hosts: st, Zones: tab, Now: func() time.Time { return hostsNow },
		SilentAfter: 3 * time.Hour, Suppliers: suppliers(ola), OnChange: func(r []model.RecordResult) { changes = append(changes, r...) }})
	if err := e.EvaluateHosts(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.calls, rules.HostRules) {
		t.Errorf("rules recorded %v, want every host rule, %v", st.calls, rules.HostRules)
	}
	want := []string{
		"unregistered-host host:a3 role:sikkerhet 72h0m0s",
		"unknown-device device:02:00:00:00:00:99 role:sikkerhet 336h0m0s",
		"agent-silent asset:T2 role:sikkerhet,unit:skole:leder 336h0m0s",
		"supplier-access supplier:a1:lev-ola role:sikkerhet,unit:helse:leder 72h0m0s",
	}
	if got := recordedRows(st); !slices.Equal(got, want) {
		t.Errorf("recorded\n%q\nwant\n%q", got, want)
	}
	if f := st.recorded[rules.UnregisteredHost]; len(f) == 1 && f[0].Facts["zone"] != "helse" {
		t.Errorf("unregistered host's zone fact %q, want helse", f[0].Facts["zone"])
	}
	if len(changes) != 4 || st.accountReads != 1 {
		t.Errorf("OnChange got %d results, accounts read %d times; want 4, 1", len(changes), st.accountReads)
	}
}

func TestEvaluateHostsRules(t *testing.T) {
	declared := ola
	declared.DeclarationSigned, declared.DeclarationSHA256 = hostsNow.AddDate(0, -1, 0), "ab12"
	unhashed := declared
	unhashed.DeclarationSHA256 = ""
	for _, tc := range []struct {
		name      string
		cfg       Config
		wantCalls []string
		wantReads int
		want      []string // supplier-access subjects
	}{
		{"disabled rules are not recorded", Config{Rules: rules.Config{rules.AgentSilent: {Disabled: true}, rules.SupplierAccess: {Disabled: true}},
			Suppliers: suppliers(ola)},
			[]string{rules.UnregisteredHost, rules.UnknownDevice, rules.DuplicateIdentity}, 0, nil},
		{"without suppliers, supplier-access is not evaluated", Config{},
			[]string{rules.UnregisteredHost, rules.UnknownDevice, rules.AgentSilent, rules.DuplicateIdentity}, 0, nil},
		{"declared suppliers: accounts not read, nothing fires", Config{Suppliers: suppliers(declared)}, rules.HostRules, 0, nil},
		{"a declaration without its document hash is not signed", Config{Suppliers: suppliers(unhashed)}, rules.HostRules, 1,
			[]string{"supplier:a1:lev-ola"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := estate()
			cfg := tc.cfg
			cfg.Store, cfg.Hosts, cfg.Now = newFakeStore(), st, func() time.Time { return hostsNow }
			if err := New(cfg).EvaluateHosts(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(st.calls, tc.wantCalls) || st.accountReads != tc.wantReads {
				t.Errorf("rules recorded %v, accounts read %d times; want %v, %d", st.calls, st.accountReads, tc.wantCalls, tc.wantReads)
			}
			var got []string
			for _, f := range st.recorded[rules.SupplierAccess] {
				got = append(got, f.Subject)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("supplier-access %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEvaluateHostsErrors(t *testing.T) {
	// Supplier personnel that cannot be read: the other rules still run.
	st := estate()
	var changes []model.RecordResult
	cfg := Config{Store: newFakeStore(), Hosts: st, Now: func() time.Time { return hostsNow },
		Suppliers:   func(context.Context) ([]model.SupplierPerson, error) { return nil, errors.New("org register gone") },
		OnChange:    func(r []model.RecordResult) { changes = append(changes, r...) },
		SilentAfter: 3 * time.Hour}
	err := New(cfg).EvaluateHosts(t.Context())
	if err == nil || !strings.Contains(err.Error(), "org register gone") {
		t.Errorf("EvaluateHosts = %v, want the supplier error", err)
	}
	if want := []string{rules.UnregisteredHost, rules.UnknownDevice, rules.AgentSilent, rules.DuplicateIdentity}; !slices.Equal(st.calls, want) {
		t.Errorf("rules recorded %v, want %v", st.calls, want)
	}
	if len(changes) != 3 {
		t.Errorf("OnChange got %d results, want 3", len(changes))
	}

	// A rule that cannot be recorded stops the round; what was recorded
	// before it is reported.
	st = estate()
	st.failRule = rules.AgentSilent
	changes = nil
	cfg.Hosts, cfg.Suppliers = st, suppliers(ola)
	err = New(cfg).EvaluateHosts(t.Context())
	if err == nil || !strings.Contains(err.Error(), "record agent-silent findings: disk full") {
		t.Errorf("EvaluateHosts = %v, want the agent-silent error", err)
	}
	if want := []string{rules.UnregisteredHost, rules.UnknownDevice}; !slices.Equal(st.calls, want) || len(changes) != 2 {
		t.Errorf("rules recorded %v, %d changes reported; want %v, 2", st.calls, len(changes), want)
	}
}

func TestEvaluateHostsWithoutStore(t *testing.T) {
	// The fake media store is no HostStore: host evaluation is off.
	if err := New(Config{Store: newFakeStore()}).EvaluateHosts(t.Context()); err != nil {
		t.Errorf("EvaluateHosts without a HostStore = %v, want nil", err)
	}
}

func TestRunHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := estate()
		var logs logBuffer
		e := New(Config{Store: newFakeStore(), Hosts: st, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			e.Run(ctx)
			close(done)
		}()
		synctest.Wait()
		if n := st.count(); n != 1 {
			t.Fatalf("at start: %d host evaluations, want 1", n)
		}
		// A wake right after an evaluation waits for the gap.
		e.WakeHosts()
		synctest.Wait()
		if n := st.count(); n != 1 {
			t.Fatalf("a wake right after an evaluation: %d host evaluations, want 1 until the gap passed", n)
		}
		time.Sleep(DefaultHostWakeGap)
		synctest.Wait()
		if n := st.count(); n != 2 {
			t.Fatalf("after a wake and the gap: %d host evaluations, want 2", n)
		}
		// A wake long after the last evaluation is served at once.
		time.Sleep(DefaultHostWakeGap)
		e.WakeHosts()
		synctest.Wait()
		if n := st.count(); n != 3 {
			t.Fatalf("after a late wake: %d host evaluations, want 3", n)
		}
		// A failure is logged; a wake right after it waits for the tick.
		st.mu.Lock()
		st.err = errors.New("database is locked")
		st.mu.Unlock()
		time.Sleep(DefaultHostWakeGap)
		e.WakeHosts()
		synctest.Wait()
		time.Sleep(DefaultHostWakeGap)
		e.WakeHosts()
		synctest.Wait()
		if n := st.count(); n != 4 || !strings.Contains(logs.String(), "database is locked") {
			t.Fatalf("after a failure: %d evaluations, logs %s; want 4 and the error logged", n, logs.String())
		}
		time.Sleep(DefaultHostInterval)
		synctest.Wait()
		if n := st.count(); n != 5 {
			t.Errorf("after the tick: %d host evaluations, want 5", n)
		}
		cancel()
		<-done
	})
}

// TestEvaluateHostsSQLite runs the host rules against the SQLite store: an
// unregistered machine opens one deviation however often it is evaluated;
// registering it clears the condition; its agent going quiet opens
// agent-silent, routed to the asset's unit.
func TestEvaluateHostsSQLite(t *testing.T) {
	db := sqliteStore(t)
	ctx := t.Context()
	enrolled := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{"a1", "a2"} {
		if err := db.CreateAgent(ctx, model.Agent{ID: id, Fingerprint: "fp-" + id, Hostname: "pc-" + id,
			CertSerial: "01", CertNotAfter: enrolled.AddDate(1, 0, 0), EnrolledAt: enrolled}); err != nil {
			t.Fatal(err)
		}
		host := &wire.Host{Hostname: "pc-" + id, Interfaces: []wire.Interface{{Name: "eth0", MAC: fmt.Sprintf("02:00:00:00:00:0%d", i+1)}}}
		r := wire.Record{Seq: 1, Kind: wire.KindHealth, ObservedAt: hostsNow.UnixNano(), Body: []byte("hello")}
		if _, err := db.Ingest(ctx, model.IngestBatch{AgentID: id, ReceivedAt: hostsNow, Records: []wire.Record{r}, Facts: host, FactsAt: hostsNow}); err != nil {
			t.Fatal(err)
		}
	}
	now := hostsNow
	e := New(Config{Store: db, Now: func() time.Time { return now }})
	eval := func(want ...string) {
		t.Helper()
		if err := e.EvaluateHosts(ctx); err != nil {
			t.Fatal(err)
		}
		if got := openDeviations(t, db); !slices.Equal(got, want) {
			t.Errorf("open deviations at %v:\n%q\nwant\n%q", now, got, want)
		}
	}
	eval("unregistered-host host:a1 1 pd=false", "unregistered-host host:a2 1 pd=false")
	now = now.Add(time.Minute)
	eval("unregistered-host host:a1 1 pd=false", "unregistered-host host:a2 1 pd=false")

	if _, err := db.ImportAssets(ctx, []model.Asset{{Tag: "T1", Type: model.AssetPC, MACs: []string{"02:00:00:00:00:01"},
		OwnerUnit: "helse", Status: model.AssetActive}}, false, "kari", now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	eval("unregistered-host host:a1 1 pd=false", "unregistered-host host:a2 1 pd=false")
	ds, err := db.ListDeviations(ctx, model.DeviationQuery{Subject: "host:a1", Limit: 1})
	if err != nil || len(ds) != 1 {
		t.Fatalf("ListDeviations(host:a1) = %v, %v", ds, err)
	}
	if _, tl, err := db.GetDeviation(ctx, ds[0].ID); err != nil || tl[len(tl)-1].Type != model.TimelineCleared {
		t.Errorf("timeline of %s = %+v, %v; want the condition cleared last", ds[0].ID, tl, err)
	}

	now = hostsNow.Add(4 * time.Hour)
	eval("agent-silent asset:T1 1 pd=false", "unregistered-host host:a1 1 pd=false", "unregistered-host host:a2 1 pd=false")
	ds, err = db.ListDeviations(ctx, model.DeviationQuery{Rule: rules.AgentSilent, Limit: 1})
	if err != nil || len(ds) != 1 || !slices.Equal(ds[0].Assignees, []string{SecurityOfficer, UnitManager("helse")}) {
		t.Errorf("agent-silent deviation %+v, %v; want it routed to the officer and helse's manager", ds, err)
	}
}

// BenchmarkEvaluateHosts measures one whole-map evaluation of the host rules
// over 5 000 agents and 5 000 assets (4 500 matched, 250 silent, 250
// unregistered agents, 250 assets never covered) and 1 000 devices seen,
// with an in-memory store: reconciliation, rules and routing.
func BenchmarkEvaluateHosts(b *testing.B) {
	st := &fakeHosts{}
	for i := range 5000 {
		serial := fmt.Sprintf("SER%05d", i)
		if i < 4750 {
			st.assets = append(st.assets, model.Asset{Tag: fmt.Sprintf("T%05d", i), Type: model.AssetPC, Serial: serial,
				MACs: []string{fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256)}, OwnerUnit: fmt.Sprintf("unit-%d", i%40), Status: model.AssetActive})
		} else {
			st.assets = append(st.assets, model.Asset{Tag: fmt.Sprintf("T%05d", i), Type: model.AssetPrinter, Status: model.AssetActive})
		}
		last := hostsNow.Add(-time.Minute)
		if i >= 4500 && i < 4750 {
			last = hostsNow.Add(-48 * time.Hour)
		}
		if i >= 4750 {
			serial = fmt.Sprintf("UNREG%05d", i)
		}
		st.ids = append(st.ids, model.HostIdentity{AgentID: fmt.Sprintf("agent-%05d", i), Hostname: fmt.Sprintf("pc-%05d", i),
			Serial: serial, MACs: []string{fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256)}, Addrs: []string{fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256)},
			LastSeen: last})
	}
	for i := range 1000 {
		st.neighbours = append(st.neighbours, model.Neighbour{Neighbour: wire.Neighbour{MAC: fmt.Sprintf("02:00:00:01:%02x:%02x", i/256, i%256)},
			SeenByAgents: []string{"agent-00001"}})
	}
	e := New(Config{Store: newFakeStore(), Hosts: st, Now: func() time.Time { return hostsNow }})
	if err := e.EvaluateHosts(b.Context()); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		rule string
		n    int
	}{{rules.UnregisteredHost, 250}, {rules.AgentSilent, 250}, {rules.UnknownDevice, 1000}} {
		if got := len(st.recorded[c.rule]); got != c.n {
			b.Fatalf("%s: %d findings, want %d", c.rule, got, c.n)
		}
	}
	for b.Loop() {
		if err := e.EvaluateHosts(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateHostsSQLite measures the same whole-map evaluation
// against the SQLite store, reads and standing-condition writes included:
// 5 000 agents, each with a full inventory of 100 packages (500 000 items),
// 5 000 assets (4 500 matched by serial, 250 with a silent agent, 250 never
// covered), 250 unregistered agents, and a supplier account without a
// declaration on every tenth host (so every evaluation reads the 5 000
// hosts' accounts).
// sqliteEstate fills a real SQLite store with 5 000 agents, each with a
// 100-package inventory (500 000 items), and 5 000 assets: 4 500 matched,
// 250 whose agents went quiet, 250 machines nobody registered; every tenth
// host has an undeclared supplier account.
func sqliteEstate(b *testing.B) *sqlstore.DB {
	db, err := sqlstore.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "c.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx := b.Context()
	enrolled := hostsNow.AddDate(0, -1, 0)
	pkgs := make([]wire.Package, 100)
	for i := range pkgs {
		pkgs[i] = wire.Package{Name: fmt.Sprintf("package-%03d", i), Version: "1.2.3-1", Arch: "amd64", Source: "dpkg"}
	}
	var assets []model.Asset
	for i := range 5000 {
		id, mac, serial := fmt.Sprintf("agent-%05d", i), fmt.Sprintf("02:00:00:00:%02x:%02x", i/256, i%256), fmt.Sprintf("SER%05d", i)
		if i < 4750 {
			assets = append(assets, model.Asset{Tag: fmt.Sprintf("T%05d", i), Type: model.AssetPC, Serial: serial, MACs: []string{mac},
				OwnerUnit: fmt.Sprintf("unit-%d", i%40), Status: model.AssetActive})
		} else {
			assets = append(assets, model.Asset{Tag: fmt.Sprintf("T%05d", i), Type: model.AssetPrinter, Status: model.AssetActive})
			mac, serial = fmt.Sprintf("02:00:00:01:%02x:%02x", i/256, i%256), fmt.Sprintf("UNREG%05d", i) // an unregistered machine
		}
		if err := db.CreateAgent(ctx, model.Agent{ID: id, Fingerprint: "fp-" + id, CertSerial: "01",
			CertNotAfter: enrolled.AddDate(1, 0, 0), EnrolledAt: enrolled}); err != nil {
			b.Fatal(err)
		}
		seen := hostsNow.Add(-time.Minute)
		if i >= 4500 && i < 4750 {
			seen = hostsNow.Add(-48 * time.Hour)
		}
		host := &wire.Host{Hostname: "pc-" + id, Interfaces: []wire.Interface{{Name: "eth0", MAC: mac, Addrs: []string{"10.0.0.1/8"}}}}
		inv := wire.Inventory{Host: host, Hardware: &wire.Hardware{System: wire.System{Vendor: "LENOVO", Serial: serial}},
			Software: pkgs, Users: []wire.User{{Name: "root", ID: "0", Admin: true}, {Name: "kari", ID: "1000"}}}
		if i%10 == 0 {
			inv.Users = append(inv.Users, wire.User{Name: "lev-ola", ID: "1001"})
		}
		inv.Normalize()
		if inv.Hash, err = wire.InventoryHash(inv); err != nil {
			b.Fatal(err)
		}
		inv.Full = true
		r, err := wire.NewRecord(wire.KindInventory, seen, inv)
		if err != nil {
			b.Fatal(err)
		}
		r.Seq = 1
		if _, err := db.Ingest(ctx, model.IngestBatch{AgentID: id, ReceivedAt: seen, Records: []wire.Record{r}, Facts: host, FactsAt: seen,
			Inventories: []model.InventoryRecord{{Seq: 1, At: seen, Inv: inv}}}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.ImportAssets(ctx, assets, true, "bench", hostsNow); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkEvaluateHostsSQLite is one full re-evaluation of the host rules
// and the software catalogue (50 denied entries, exact names and globs,
// against all 500 000 installed packages) over the estate of sqliteEstate.
func BenchmarkEvaluateHostsSQLite(b *testing.B) {
	db := sqliteEstate(b)
	ctx := b.Context()
	var cat []model.SoftwareEntry
	for i := range 50 {
		pattern := fmt.Sprintf("blocked-%03d", i)
		if i%2 == 1 {
			pattern += "*"
		}
		cat = append(cat, model.SoftwareEntry{ID: model.SoftwareEntryID(model.SoftwareDenied, pattern, "", ""),
			Verdict: model.SoftwareDenied, NamePattern: pattern, Reason: "bench"})
	}
	if _, err := db.ImportSoftwareCatalog(ctx, cat, true, "bench", hostsNow); err != nil {
		b.Fatal(err)
	}
	now := hostsNow
	e := New(Config{Store: db, Now: func() time.Time { return now }, Suppliers: suppliers(ola)})
	if err := e.EvaluateHosts(ctx); err != nil { // opens the deviations
		b.Fatal(err)
	}
	if ds, err := db.ListDeviations(ctx, model.DeviationQuery{Status: "open", Limit: 2000}); err != nil || len(ds) != 1000 {
		b.Fatalf("open deviations after the first evaluation: %d, %v; want 1000", len(ds), err)
	}
	// software=judged reads and judges every installed package each time
	// (after an inventory arrived or the catalogue changed); software=standing
	// is the evaluation between such wakes.
	for _, judged := range []bool{true, false} {
		b.Run(fmt.Sprintf("software=%s", map[bool]string{true: "judged", false: "standing"}[judged]), func(b *testing.B) {
			for b.Loop() {
				now = now.Add(time.Second)
				if judged {
					e.WakeSoftware()
				}
				if err := e.EvaluateHosts(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
