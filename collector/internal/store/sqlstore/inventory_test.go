package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TestSoftwareTableFollowsSnapshot drives one agent through random deltas and
// full snapshots, small changes and large, and checks after each that the
// software table holds exactly the packages of the snapshot held.
func TestSoftwareTableFollowsSnapshot(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := t.Context()
	if err := db.CreateAgent(ctx, model.Agent{ID: "ag", Fingerprint: "fp", Hostname: "pc", EnrolledAt: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pkgs := make([]wire.Package, 0, 300)
	for i := range 300 {
		pkgs = append(pkgs, wire.Package{Name: fmt.Sprintf("pkg-%03d", i), Version: "1.0-1", Arch: "amd64", Source: "dpkg"})
	}
	seal := func(sw []wire.Package) wire.Inventory {
		inv := wire.Inventory{Host: &wire.Host{Hostname: "pc"}, Software: slices.Clone(sw)}
		inv.Normalize()
		h, err := wire.InventoryHash(inv)
		if err != nil {
			t.Fatal(err)
		}
		inv.Hash, inv.Full = h, true
		return inv
	}
	prev := seal(pkgs)
	var seq uint64
	send := func(inv wire.Inventory) model.IngestResult {
		t.Helper()
		seq++
		r, err := wire.NewRecord(wire.KindInventory, time.Unix(int64(seq), 0), inv)
		if err != nil {
			t.Fatal(err)
		}
		r.Seq = seq
		res, err := db.Ingest(ctx, model.IngestBatch{AgentID: "ag", ReceivedAt: time.Unix(int64(seq), 0), Records: []wire.Record{r},
			Inventories: []model.InventoryRecord{{Seq: seq, At: r.Time(), Inv: inv}}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	send(prev)
	for round := range 40 {
		// Upgrade, remove and add a few packages; now and then many; now
		// and then a duplicate copy (two equal rows).
		n := 1 + rng.IntN(5)
		if round%7 == 3 {
			n = 120
		}
		for range n {
			i := rng.IntN(len(pkgs))
			switch rng.IntN(4) {
			case 0:
				pkgs[i].Version = fmt.Sprintf("1.%d-1", round+2)
			case 1:
				pkgs = slices.Delete(pkgs, i, i+1)
			case 2:
				pkgs = append(pkgs, wire.Package{Name: fmt.Sprintf("new-%d-%d", round, i), Version: "0.1", Source: "dpkg", Publisher: "x"})
			case 3:
				pkgs = append(pkgs, pkgs[i])
			}
		}
		cur := seal(pkgs)
		rec := cur
		if round%5 != 4 {
			d, err := wire.Diff(prev, cur)
			if err != nil {
				t.Fatal(err)
			}
			rec = d
		}
		if res := send(rec); res.InventoryHash != cur.Hash {
			// Diff keys packages by wire.Package.Key, so a delta cannot
			// carry a second equal copy: the hash then differs and the
			// collector asks for a full snapshot, as it should.
			if !res.InventoryFull {
				t.Fatalf("round %d: ack %+v, want hash %.12s or a request for a full snapshot", round, res, cur.Hash)
			}
			send(cur)
		}
		prev = cur
		got := softwareRows(t, db, "ag")
		want := make([]string, 0, len(cur.Software))
		for _, p := range cur.Software {
			want = append(want, fmt.Sprintf("%+v", p))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: software table has %d rows, snapshot %d packages; first differences:\n%v", round, len(got), len(want),
				firstDiff(got, want))
		}
	}
}

func softwareRows(t *testing.T, db *DB, agentID string) []string {
	t.Helper()
	rows, err := db.r.Query(`SELECT name, version, arch, source, publisher, install_date, scope FROM software WHERE agent_id = ?`, agentID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p wire.Package
		if err := rows.Scan(&p.Name, &p.Version, &p.Arch, &p.Source, &p.Publisher, &p.InstallDate, &p.Scope); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%+v", p))
	}
	slices.Sort(out)
	return out
}

func firstDiff(got, want []string) []string {
	var out []string
	for _, g := range got {
		if !slices.Contains(want, g) {
			out = append(out, "extra "+g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, "missing "+w)
		}
	}
	return out[:min(len(out), 10)]
}
