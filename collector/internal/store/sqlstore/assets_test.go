package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// assetAudit returns the audit events on assets after seq, and the last seq.
func assetAudit(t *testing.T, db *DB, after int64) ([]model.AuditEvent, int64) {
	t.Helper()
	es, err := db.ListAudit(t.Context(), after, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []model.AuditEvent
	for _, e := range es {
		after = e.Seq
		if strings.HasPrefix(e.Action, "asset.") {
			out = append(out, e)
		}
	}
	return out, after
}

type assetDetailJSON struct {
	Before *assetJSON `json:"before"`
	After  *assetJSON `json:"after"`
}

func TestImportAssets(t *testing.T) { eachDialect(t, testImportAssets) }

func testImportAssets(t *testing.T, db *DB) {
	ctx := t.Context()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	in := []model.Asset{
		{Tag: "K-2", Type: "server", Serial: "SRV9", MACs: []string{"AA-BB-CC-DD-EE-03"}, OperatedBy: "Acme Drift AS", Status: "retired"},
		{Tag: "K-1", Type: "pc", Serial: "PF3", MACs: []string{"aa:bb:cc:dd:ee:02", "aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:01"}, Room: "2.14"},
		{Tag: "K-3", Type: "printer"},
	}
	ch, err := db.ImportAssets(ctx, in, false, "kari", t0)
	if err != nil || ch != (model.RegisterChange{Added: 3}) {
		t.Fatalf("ImportAssets = %+v, %v; want 3 added", ch, err)
	}
	got, err := db.Assets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Asset{
		{Tag: "K-1", Type: "pc", Serial: "PF3", MACs: []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"}, Room: "2.14", Status: "active", UpdatedAt: t0, UpdatedBy: "kari"},
		{Tag: "K-2", Type: "server", Serial: "SRV9", MACs: []string{"aa:bb:cc:dd:ee:03"}, OperatedBy: "Acme Drift AS", Status: "retired", UpdatedAt: t0, UpdatedBy: "kari"},
		{Tag: "K-3", Type: "printer", Status: "active", UpdatedAt: t0, UpdatedBy: "kari"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Assets\n%+v\nwant\n%+v", got, want)
	}
	audit, seq := assetAudit(t, db, 0)
	if len(audit) != 3 {
		t.Fatalf("%d audit events, want 3: %+v", len(audit), audit)
	}
	var d assetDetailJSON
	if err := json.Unmarshal([]byte(audit[1].Detail), &d); err != nil {
		t.Fatal(err)
	}
	if audit[1].Action != "asset.add" || audit[1].Subject != "K-1" || audit[1].Actor != "kari" || d.Before != nil ||
		d.After == nil || !reflect.DeepEqual(d.After.MACs, want[0].MACs) {
		t.Errorf("audit %+v", audit[1])
	}

	// The same again changes nothing and audits nothing.
	t1 := t0.Add(time.Hour)
	if ch, err := db.ImportAssets(ctx, in, false, "ola", t1); err != nil || ch != (model.RegisterChange{Unchanged: 3}) {
		t.Errorf("re-import = %+v, %v; want 3 unchanged", ch, err)
	}
	if audit, seq = assetAudit(t, db, seq); len(audit) != 0 {
		t.Errorf("re-import audited %+v", audit)
	}

	// A MAC moves from K-1 to K-3 in one merge.
	upd := []model.Asset{
		{Tag: "K-1", Type: "pc", Serial: "PF3", MACs: []string{"aa:bb:cc:dd:ee:01"}, Room: "3.01"},
		{Tag: "K-3", Type: "printer", MACs: []string{"aa:bb:cc:dd:ee:02"}},
		{Tag: "K-4", Type: "phone"},
	}
	if ch, err := db.ImportAssets(ctx, upd, false, "ola", t1); err != nil || ch != (model.RegisterChange{Added: 1, Updated: 2}) {
		t.Fatalf("merge = %+v, %v; want 1 added, 2 updated", ch, err)
	}
	audit, seq = assetAudit(t, db, seq)
	if len(audit) != 3 || audit[0].Action != "asset.update" || audit[2].Action != "asset.add" {
		t.Fatalf("merge audit %+v", audit)
	}
	d = assetDetailJSON{}
	if err := json.Unmarshal([]byte(audit[0].Detail), &d); err != nil {
		t.Fatal(err)
	}
	if d.Before == nil || d.Before.Room != "2.14" || d.After == nil || d.After.Room != "3.01" || d.After.UpdatedBy != "ola" {
		t.Errorf("update detail %s", audit[0].Detail)
	}

	// Replace keeps only K-1 and K-4; K-3's MAC may go to K-4 at once.
	repl := []model.Asset{upd[0], {Tag: "K-4", Type: "phone", MACs: []string{"aa:bb:cc:dd:ee:02"}}}
	t2 := t1.Add(time.Hour)
	if ch, err := db.ImportAssets(ctx, repl, true, "admin", t2); err != nil || ch != (model.RegisterChange{Updated: 1, Removed: 2, Unchanged: 1}) {
		t.Fatalf("replace = %+v, %v; want 1 updated, 2 removed, 1 unchanged", ch, err)
	}
	audit, _ = assetAudit(t, db, seq)
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action+" "+e.Subject)
	}
	if want := []string{"asset.update K-4", "asset.remove K-2", "asset.remove K-3"}; !reflect.DeepEqual(actions, want) {
		t.Errorf("replace audit %q, want %q", actions, want)
	}
	d = assetDetailJSON{}
	if err := json.Unmarshal([]byte(audit[1].Detail), &d); err != nil || d.After != nil || d.Before == nil || d.Before.Serial != "SRV9" {
		t.Errorf("remove detail %s (%v)", audit[1].Detail, err)
	}
	got, _ = db.Assets(ctx)
	if len(got) != 2 || got[0].Tag != "K-1" || got[0].UpdatedBy != "ola" || got[1].Tag != "K-4" || got[1].UpdatedAt != t2 {
		t.Errorf("after replace: %+v", got)
	}
	// The removed K-2's MAC is free again.
	if _, err := db.ImportAssets(ctx, []model.Asset{{Tag: "K-5", Type: "switch", MACs: []string{"aa:bb:cc:dd:ee:03"}}}, false, "admin", t2); err != nil {
		t.Errorf("reuse a removed asset's MAC: %v", err)
	}
}

func TestImportAssetsRefused(t *testing.T) { eachDialect(t, testImportAssetsRefused) }

func testImportAssetsRefused(t *testing.T, db *DB) {
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	base := []model.Asset{{Tag: "K-1", Type: "pc", MACs: []string{"aa:bb:cc:dd:ee:01"}}}
	if _, err := db.ImportAssets(ctx, base, false, "kari", at); err != nil {
		t.Fatal(err)
	}
	_, seq := assetAudit(t, db, 0)
	tests := []struct {
		name    string
		in      []model.Asset
		replace bool
		want    error
		mention []string
	}{
		{"repeated tag", []model.Asset{{Tag: "K-2", Type: "pc"}, {Tag: "K-2", Type: "pc"}}, false, model.ErrConflict, []string{"K-2"}},
		{"MAC on two inputs", []model.Asset{{Tag: "K-2", Type: "pc", MACs: []string{"02:00:00:00:00:01"}}, {Tag: "K-3", Type: "pc", MACs: []string{"02-00-00-00-00-01"}}}, false, model.ErrConflict, []string{"K-2", "K-3"}},
		{"MAC of a kept asset", []model.Asset{{Tag: "K-2", Type: "pc", MACs: []string{"AA:BB:CC:DD:EE:01"}}}, false, model.ErrConflict, []string{"K-1", "K-2", "aa:bb:cc:dd:ee:01"}},
		{"no tag", []model.Asset{{Type: "pc"}}, false, model.ErrInvalid, nil},
		{"bad type", []model.Asset{{Tag: "K-2", Type: "tablet"}}, true, model.ErrInvalid, []string{"K-2"}},
		{"bad status", []model.Asset{{Tag: "K-2", Type: "pc", Status: "lost"}}, true, model.ErrInvalid, []string{"K-2"}},
		{"bad MAC", []model.Asset{{Tag: "K-2", Type: "pc", MACs: []string{"zz:bb:cc:dd:ee:01"}}}, true, model.ErrInvalid, []string{"zz:bb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := db.ImportAssets(ctx, tt.in, tt.replace, "kari", at.Add(time.Hour))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ImportAssets = %v, want %v", err, tt.want)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %s", err, m)
				}
			}
		})
	}
	got, _ := db.Assets(ctx)
	if len(got) != 1 || got[0].Tag != "K-1" || !got[0].UpdatedAt.Equal(at) {
		t.Errorf("refused imports wrote: %+v", got)
	}
	if audit, _ := assetAudit(t, db, seq); len(audit) != 0 {
		t.Errorf("refused imports audited %+v", audit)
	}
	// With replace, K-1 goes, so its MAC may pass to K-2.
	if ch, err := db.ImportAssets(ctx, []model.Asset{{Tag: "K-2", Type: "pc", MACs: []string{"aa:bb:cc:dd:ee:01"}}}, true, "kari", at); err != nil || ch != (model.RegisterChange{Added: 1, Removed: 1}) {
		t.Errorf("replace moving a MAC = %+v, %v", ch, err)
	}
}

func TestDeleteAsset(t *testing.T) { eachDialect(t, testDeleteAsset) }

func testDeleteAsset(t *testing.T, db *DB) {
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	if _, err := db.ImportAssets(ctx, []model.Asset{{Tag: "K-1", Type: "pc", MACs: []string{"aa:bb:cc:dd:ee:01"}}, {Tag: "K-2", Type: "pc"}}, false, "kari", at); err != nil {
		t.Fatal(err)
	}
	_, seq := assetAudit(t, db, 0)
	if err := db.DeleteAsset(ctx, "K-1", "ola", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAsset(ctx, "K-1", "ola", at); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("DeleteAsset(gone) = %v, want ErrNotFound", err)
	}
	audit, _ := assetAudit(t, db, seq)
	var d assetDetailJSON
	if len(audit) != 1 || audit[0].Action != "asset.remove" || audit[0].Actor != "ola" ||
		json.Unmarshal([]byte(audit[0].Detail), &d) != nil || d.After != nil || d.Before == nil ||
		!reflect.DeepEqual(d.Before.MACs, []string{"aa:bb:cc:dd:ee:01"}) {
		t.Errorf("delete audit %+v", audit)
	}
	got, _ := db.Assets(ctx)
	if len(got) != 1 || got[0].Tag != "K-2" {
		t.Errorf("after delete: %+v", got)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM asset_macs`).Scan(&n); err != nil || n != 0 {
		t.Errorf("asset_macs holds %d rows (%v), want 0", n, err)
	}
}

// TestAssetMACLookupIndexed: a MAC lookup uses the primary key, not a scan.
func TestAssetMACLookupIndexed(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "s.db"))
	rows, err := db.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT tag FROM asset_macs WHERE mac = ?`, "aa:bb:cc:dd:ee:01")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if !strings.Contains(plan.String(), "SEARCH") {
		t.Errorf("plan:\n%s", plan.String())
	}
}

func BenchmarkImportAssets10k(b *testing.B) {
	as := make([]model.Asset, 10000)
	for i := range as {
		as[i] = model.Asset{Tag: fmt.Sprintf("K-%05d", i), Type: "pc", Serial: fmt.Sprintf("SER%05d", i),
			MACs: []string{fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)}, OwnerUnit: "IT"}
	}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for b.Loop() {
		b.StopTimer()
		db := mustOpen(b, filepath.Join(b.TempDir(), "s.db"))
		b.StartTimer()
		if ch, err := db.ImportAssets(b.Context(), as, true, "bench", at); err != nil || ch.Added != len(as) {
			b.Fatalf("ImportAssets = %+v, %v", ch, err)
		}
	}
}
