package sqlstore

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// TestOrgAuditDetail: an update's audit entry holds the person before and
// after in the audit JSON form, roles as lists.
func TestOrgAuditDetail(t *testing.T) { eachDialect(t, testOrgAuditDetail) }

func testOrgAuditDetail(t *testing.T, db *DB) {
	ctx := t.Context()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	siri := model.Person{ID: "siri", Name: "Siri", Roles: []string{"sikkerhet"}}
	if _, err := db.ImportPeople(ctx, []model.Person{siri}, false, "kari", t0); err != nil {
		t.Fatal(err)
	}
	siri.Roles = []string{"sikkerhet", "leder", "sikkerhet"}
	siri.Email = "siri@kommune.no"
	if ch, err := db.ImportPeople(ctx, []model.Person{siri}, false, "ola", t0.Add(time.Hour)); err != nil || ch != (model.RegisterChange{Updated: 1}) {
		t.Fatalf("update = %+v, %v", ch, err)
	}
	es, err := db.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	last := es[len(es)-1]
	if last.Action != "org.person.update" || last.Subject != "siri" || last.Actor != "ola" || !last.At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("audit %+v", last)
	}
	var d struct {
		Before, After *personJSON
	}
	if err := json.Unmarshal([]byte(last.Detail), &d); err != nil {
		t.Fatal(err)
	}
	if d.Before == nil || d.After == nil || !reflect.DeepEqual(d.Before.Roles, []string{"sikkerhet"}) ||
		!reflect.DeepEqual(d.After.Roles, []string{"sikkerhet", "leder"}) || d.Before.Email != "" || d.After.Email != "siri@kommune.no" ||
		d.Before.UpdatedBy != "kari" || d.After.UpdatedBy != "ola" {
		t.Errorf("detail %s", last.Detail)
	}
}

// TestOrgListsStoredAsJSON: lists are JSON arrays in their column, "[]"
// for none, and read back as nil.
func TestOrgListsStoredAsJSON(t *testing.T) { eachDialect(t, testOrgListsStoredAsJSON) }

func testOrgListsStoredAsJSON(t *testing.T, db *DB) {
	ctx := t.Context()
	sps := []model.SupplierPerson{
		{ID: "a", Name: "A", Supplier: "S", Accounts: []string{`DOMAIN\a`, "Acme Service"}},
		{ID: "b", Name: "B", Supplier: "S"},
	}
	if _, err := db.ImportSupplierPeople(ctx, sps, false, "x", time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"a": `["DOMAIN\\a","Acme Service"]`, "b": "[]"} {
		var got string
		if err := db.r.QueryRowContext(ctx, `SELECT accounts FROM org_suppliers WHERE id = ?`, id).Scan(&got); err != nil || got != want {
			t.Errorf("accounts of %s = %q, %v; want %q", id, got, err, want)
		}
	}
	back, err := db.SupplierPeople(ctx)
	if err != nil || len(back) != 2 || back[1].Accounts != nil || !reflect.DeepEqual(back[0].Accounts, sps[0].Accounts) {
		t.Errorf("SupplierPeople = %+v, %v", back, err)
	}
}

// TestOrgRefusedImportWritesNothing: a refused import leaves no row and no
// audit entry, also for entries of the import that were fine.
func TestOrgRefusedImportWritesNothing(t *testing.T) {
	eachDialect(t, testOrgRefusedImportWritesNothing)
}

func testOrgRefusedImportWritesNothing(t *testing.T, db *DB) {
	ctx := t.Context()
	_, err := db.ImportPeople(ctx, []model.Person{{ID: "fine", Name: "Fine", Roles: []string{"sikkerhet"}}, {ID: "bad", Name: "Bad", Unit: "nowhere"}}, false, "x", time.Unix(1, 0))
	if err == nil || !strings.Contains(err.Error(), "unit nowhere") {
		t.Fatalf("ImportPeople = %v, want a conflict naming the unit", err)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM org_people) + (SELECT count(*) FROM audit_log WHERE action LIKE 'org.%')`).Scan(&n); err != nil || n != 0 {
		t.Errorf("rows after a refused import = %d, %v", n, err)
	}
}

func BenchmarkImportPeople1k(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "s.db"))
	units := make([]model.Unit, 50)
	for i := range units {
		units[i] = model.Unit{ID: fmt.Sprintf("u%02d", i), Name: "Unit"}
	}
	if _, err := db.ImportUnits(b.Context(), units, true, "bench", time.Unix(1, 0)); err != nil {
		b.Fatal(err)
	}
	people := make([]model.Person, 1000)
	for i := range people {
		people[i] = model.Person{ID: fmt.Sprintf("p%04d", i), Name: "Person", Unit: units[i%len(units)].ID,
			Email: fmt.Sprintf("p%04d@kommune.no", i), Roles: []string{"sikkerhet"}}
	}
	for i := 0; b.Loop(); i++ {
		// Alternate the phone so that every round rewrites every person.
		for j := range people {
			people[j].Phone = fmt.Sprint(i % 2)
		}
		if _, err := db.ImportPeople(b.Context(), people, true, "bench", time.Unix(int64(i+2), 0)); err != nil {
			b.Fatal(err)
		}
	}
}
