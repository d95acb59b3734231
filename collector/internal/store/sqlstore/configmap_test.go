package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// enrolAndReport creates an agent and ingests one batch with its host facts
// and a full inventory whose hardware has serial.
func enrolAndReport(t testing.TB, db *DB, id, serial, mac string, seen time.Time, neighbours ...wire.Neighbour) {
	t.Helper()
	enrolWithSoftware(t, db, id, serial, mac, seen, 0, neighbours...)
}

// enrolWithSoftware is enrolAndReport with pkgs software packages in the
// inventory, as a real machine has hundreds.
func enrolWithSoftware(t testing.TB, db *DB, id, serial, mac string, seen time.Time, pkgs int, neighbours ...wire.Neighbour) {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateAgent(ctx, model.Agent{ID: id, Fingerprint: "fp-" + id, Hostname: "pc-" + id, EnrolledAt: seen}); err != nil {
		t.Fatal(err)
	}
	h := &wire.Host{Hostname: "pc-" + id, OS: "linux", Interfaces: []wire.Interface{{Name: "eth0", MAC: mac, Addrs: []string{"10.0.0.1/24"}, Up: true}}}
	inv := wire.Inventory{Host: h, Hardware: &wire.Hardware{System: wire.System{Serial: serial}}}
	for i := range pkgs {
		inv.Software = append(inv.Software, wire.Package{Name: fmt.Sprintf("package-%04d", i), Version: "1.2.3-4+deb13u1", Arch: "amd64", Source: "dpkg"})
	}
	inv.Normalize()
	hash, err := wire.InventoryHash(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.Hash, inv.Full = hash, true
	r, err := wire.NewRecord(wire.KindInventory, seen, inv)
	if err != nil {
		t.Fatal(err)
	}
	r.Seq = 1
	b := model.IngestBatch{AgentID: id, ReceivedAt: seen, Records: []wire.Record{r}, Facts: h, FactsAt: seen,
		Inventories: []model.InventoryRecord{{Seq: 1, At: seen, Inv: inv}}}
	if len(neighbours) > 0 {
		nr, err := wire.NewRecord(wire.KindNeighbours, seen, wire.Neighbours{Source: "arp", Devices: neighbours})
		if err != nil {
			t.Fatal(err)
		}
		nr.Seq = 2
		b.Records = append(b.Records, nr)
		b.Neighbours = []model.NeighbourRecord{{Seq: 2, At: seen, Neighbours: wire.Neighbours{Source: "arp", Devices: neighbours}}}
	}
	if _, err := db.Ingest(ctx, b); err != nil {
		t.Fatal(err)
	}
}

// TestConfigMapBuild builds the map from a real store: the register, the
// agents' identities from facts and inventory, and the neighbours.
func TestConfigMapBuild(t *testing.T) { eachDialect(t, testConfigMapBuild) }

func testConfigMapBuild(t *testing.T, db *DB) {
	ctx := t.Context()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if _, err := db.ImportAssets(ctx, []model.Asset{
		{Tag: "K-1", Type: model.AssetPC, Serial: "SER-1", Status: model.AssetActive, OwnerUnit: "Skole"},
		{Tag: "K-2", Type: model.AssetPC, MACs: []string{"aa:bb:cc:00:00:02"}, Status: model.AssetActive},
		{Tag: "K-3", Type: model.AssetLaptop, Serial: "SER-3", Status: model.AssetActive},
		{Tag: "K-4", Type: model.AssetPC, Serial: "SER-4", Status: model.AssetRetired},
	}, true, "kari", now); err != nil {
		t.Fatal(err)
	}
	enrolAndReport(t, db, "a1", "ser-1", "aa:bb:cc:00:00:01", now.Add(-time.Minute),
		wire.Neighbour{MAC: "aa:bb:cc:00:00:99", IPs: []string{"10.0.0.99"}, SeenBy: []string{"arp"}, First: now.UnixNano(), Last: now.UnixNano()},
		wire.Neighbour{MAC: "aa:bb:cc:00:00:02", SeenBy: []string{"arp"}, First: now.UnixNano(), Last: now.UnixNano()})
	enrolAndReport(t, db, "a2", "To be filled by O.E.M.", "aa:bb:cc:00:00:02", now.Add(-time.Minute))
	enrolAndReport(t, db, "a3", "SER-3", "aa:bb:cc:00:00:03", now.Add(-30*time.Hour))
	enrolAndReport(t, db, "a4", "SER-4", "aa:bb:cc:00:00:04", now.Add(-time.Minute))
	enrolAndReport(t, db, "a5", "SER-1", "aa:bb:cc:00:00:05", now.Add(-time.Minute))
	if err := db.RevokeAgent(ctx, "a5", now); err != nil {
		t.Fatal(err)
	}

	m, err := configmap.Build(ctx, db, configmap.BuildOptions{Options: configmap.Options{Now: now}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.Entries {
		got = append(got, fmt.Sprintf("%s %s %s [%s]", e.Kind, e.Key(), e.State, strings.Join(e.AgentIDs, ",")))
	}
	want := []string{
		"asset K-1 matched [a1,a5]",
		"asset K-2 matched [a2]",
		"asset K-3 silent [a3]",
		"agent a4 unregistered [a4]",
		"device aa:bb:cc:00:00:99 unregistered [a1]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("map:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	id, err := configmap.Take(ctx, db, func(context.Context) (configmap.Map, error) { return m, nil }, "kari", "review")
	if err != nil {
		t.Fatal(err)
	}
	s, err := db.GetMapSnapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	back, err := configmap.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if d := configmap.Diff(m, back); len(d) != 0 || s.Counts["matched"] != 2 || s.Counts["unregistered"] != 2 {
		t.Errorf("snapshot differs from the map: %v, counts %v", d, s.Counts)
	}
}

// TestSerialHistoryUsesIndex checks that reading every agent's hardware
// history does not scan the inventory changes.
func TestSerialHistoryUsesIndex(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "s.db"))
	rows, err := db.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT agent_id, before, after FROM inventory_changes
		WHERE section = 'hardware' AND key = 'system' ORDER BY agent_id, seq DESC, id DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "inventory_changes_hardware") {
		t.Errorf("plan %q does not use inventory_changes_hardware", p)
	}
}

// BenchmarkHostIdentities reads the identities of 2 000 agents.
func BenchmarkHostIdentities(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "s.db"))
	seen := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range 2000 {
		enrolAndReport(b, db, fmt.Sprintf("ag-%05d", i), fmt.Sprintf("SER%05d", i), fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&255), seen)
	}
	b.ResetTimer()
	for b.Loop() {
		ids, err := db.HostIdentities(context.Background())
		if err != nil || len(ids) != 2000 || ids[0].Serial != "SER00000" {
			b.Fatalf("HostIdentities = %d, %v", len(ids), err)
		}
	}
}

// BenchmarkHostIdentitiesRealistic reads the identities of 500 agents whose
// inventories hold 1 000 packages each: the snapshots are decompressed whole.
func BenchmarkHostIdentitiesRealistic(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "s.db"))
	seen := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range 500 {
		enrolWithSoftware(b, db, fmt.Sprintf("ag-%05d", i), fmt.Sprintf("SER%05d", i), fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&255), seen, 1000)
	}
	b.ResetTimer()
	for b.Loop() {
		ids, err := db.HostIdentities(context.Background())
		if err != nil || len(ids) != 500 || ids[0].Serial != "SER00000" {
			b.Fatalf("HostIdentities = %d, %v", len(ids), err)
		}
	}
}

// TestHostIdentitiesCache: a serial read once is remembered by snapshot hash,
// and a new snapshot is read again.
func TestHostIdentitiesCache(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := t.Context()
	seen := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	enrolAndReport(t, db, "a1", "OLD-1", "aa:bb:cc:00:00:01", seen)
	serial := func() string {
		t.Helper()
		ids, err := db.HostIdentities(ctx)
		if err != nil || len(ids) != 1 {
			t.Fatalf("HostIdentities = %v, %v", ids, err)
		}
		return ids[0].Serial + " " + strings.Join(ids[0].SerialHistory, ",")
	}
	if got := serial(); got != "OLD-1 " {
		t.Fatalf("first read = %q", got)
	}
	if got := serial(); got != "OLD-1 " {
		t.Fatalf("cached read = %q", got)
	}
	// A new full snapshot with another board.
	inv := wire.Inventory{Host: &wire.Host{Hostname: "pc-a1", OS: "linux"}, Hardware: &wire.Hardware{System: wire.System{Serial: "NEW-2", AssetTag: "K-9"}}}
	inv.Normalize()
	hash, err := wire.InventoryHash(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.Hash, inv.Full = hash, true
	r, err := wire.NewRecord(wire.KindInventory, seen.Add(time.Hour), inv)
	if err != nil {
		t.Fatal(err)
	}
	r.Seq = 5
	if _, err := db.Ingest(ctx, model.IngestBatch{AgentID: "a1", ReceivedAt: seen.Add(time.Hour), Records: []wire.Record{r},
		Inventories: []model.InventoryRecord{{Seq: 5, At: seen.Add(time.Hour), Inv: inv}}}); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got != "NEW-2 OLD-1" {
		t.Errorf("after a new snapshot = %q, want NEW-2 with OLD-1 before it", got)
	}
	// A second store has its own cache.
	db2 := mustOpen(t, filepath.Join(t.TempDir(), "s2.db"))
	if ids, err := db2.HostIdentities(ctx); err != nil || len(ids) != 0 {
		t.Errorf("empty store: %v, %v", ids, err)
	}
}
