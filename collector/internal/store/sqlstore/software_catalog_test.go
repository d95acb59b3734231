package sqlstore

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// TestSoftwareCatalogSchemaChecks: the table itself refuses what the import
// refuses, so that no other writer can store an entry the rules cannot read.
func TestSoftwareCatalogSchemaChecks(t *testing.T) { eachDialect(t, testSoftwareCatalogSchemaChecks) }

func testSoftwareCatalogSchemaChecks(t *testing.T, db *DB) {
	ctx := t.Context()
	for _, tc := range []struct{ name, verdict, pattern, source string }{
		{"verdict", "maybe", "x", ""},
		{"empty pattern", "denied", "", ""},
		{"source", "denied", "x", "snap"},
	} {
		_, err := db.w.ExecContext(ctx, `INSERT INTO software_catalog (id, verdict, name_pattern, source, updated_at) VALUES (?, ?, ?, ?, 0)`,
			tc.name, tc.verdict, tc.pattern, tc.source)
		if err == nil {
			t.Errorf("%s: the table took verdict %q, pattern %q, source %q", tc.name, tc.verdict, tc.pattern, tc.source)
		}
	}
	// Stored times come back to the nanosecond.
	at := time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.UTC)
	e := model.SoftwareEntry{Verdict: model.SoftwareDenied, NamePattern: "x"}
	if _, err := db.ImportSoftwareCatalog(ctx, []model.SoftwareEntry{e}, false, "kari", at); err != nil {
		t.Fatal(err)
	}
	got, err := db.SoftwareCatalog(ctx)
	if err != nil || len(got) != 1 || !got[0].UpdatedAt.Equal(at) || got[0].ID != "denied:x::" {
		t.Errorf("SoftwareCatalog = %+v, %v", got, err)
	}
}

func BenchmarkImportSoftwareCatalog10k(b *testing.B) {
	es := make([]model.SoftwareEntry, 10000)
	for i := range es {
		es[i] = model.SoftwareEntry{Verdict: model.SoftwareApproved, NamePattern: fmt.Sprintf("pkg-%05d*", i), Source: "dpkg",
			MinVersion: "1.0", MaxVersion: "2.0", Reason: "bench", OwnerUnit: "IT"}
	}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for b.Loop() {
		b.StopTimer()
		db := mustOpen(b, filepath.Join(b.TempDir(), "s.db"))
		b.StartTimer()
		if ch, err := db.ImportSoftwareCatalog(b.Context(), es, true, "bench", at); err != nil || ch.Added != len(es) {
			b.Fatalf("ImportSoftwareCatalog = %+v, %v", ch, err)
		}
	}
}
