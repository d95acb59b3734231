package storetest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// orgAudit returns the audit events of the organisation register after seq,
// and the last seq.
func orgAudit(t *testing.T, st model.Store, after int64) ([]model.AuditEvent, int64) {
	t.Helper()
	es, err := st.ListAudit(t.Context(), after, 1000)
	must(t, "ListAudit", err)
	var out []model.AuditEvent
	for _, e := range es {
		after = e.Seq
		if strings.HasPrefix(e.Action, "org.") {
			out = append(out, e)
		}
	}
	return out, after
}

// sameTime reports whether two times are the same instant.
func sameTime(a, b time.Time) bool { return a.Equal(b) }

func testOrgImport(t *testing.T, st model.Store) {
	ctx := t.Context()
	units := []model.Unit{
		{ID: "kd", Name: "Kommunedirektøren"},
		{ID: "helse", Name: "Helse og omsorg", Parent: "kd"},
	}
	ch, err := st.ImportUnits(ctx, units, false, "kari", at(0))
	if err != nil || ch != (model.RegisterChange{Added: 2}) {
		t.Fatalf("ImportUnits = %+v, %v; want 2 added", ch, err)
	}
	people := []model.Person{
		{ID: "siri", Name: "Siri Sikker", Email: "siri@kommune.no", Unit: "kd", Roles: []string{"sikkerhet"}, Username: "siri"},
		{ID: "ola", Name: "Ola Hansen", Email: "ola@kommune.no", Phone: "+47 900 00 000", Unit: "helse", Roles: []string{"leder", "drift"}, Username: "ola", Lang: "en"},
	}
	if _, err := st.ImportPeople(ctx, people, false, "kari", at(time.Second)); err != nil {
		t.Fatalf("ImportPeople = %v", err)
	}
	// Now the unit gets its manager.
	units[1].Manager = "ola"
	if ch, err := st.ImportUnits(ctx, units, false, "kari", at(2*time.Second)); err != nil || ch != (model.RegisterChange{Updated: 1, Unchanged: 1}) {
		t.Fatalf("ImportUnits with manager = %+v, %v; want 1 updated, 1 unchanged", ch, err)
	}
	gotU, err := st.Units(ctx)
	must(t, "Units", err)
	if len(gotU) != 2 || gotU[0].ID != "helse" || gotU[0].Manager != "ola" || gotU[0].UpdatedBy != "kari" ||
		!sameTime(gotU[0].UpdatedAt, at(2*time.Second)) || gotU[1].ID != "kd" || !sameTime(gotU[1].UpdatedAt, at(0)) {
		t.Errorf("Units = %+v", gotU)
	}
	gotP, err := st.People(ctx)
	must(t, "People", err)
	wantP := []model.Person{
		{ID: "ola", Name: "Ola Hansen", Email: "ola@kommune.no", Phone: "+47 900 00 000", Unit: "helse", Roles: []string{"leder", "drift"}, Username: "ola", Lang: "en"},
		{ID: "siri", Name: "Siri Sikker", Email: "siri@kommune.no", Unit: "kd", Roles: []string{"sikkerhet"}, Username: "siri", Lang: "nb"},
	}
	for i := range gotP {
		if !sameTime(gotP[i].UpdatedAt, at(time.Second)) || gotP[i].UpdatedBy != "kari" {
			t.Errorf("person %s updated %v by %q", gotP[i].ID, gotP[i].UpdatedAt, gotP[i].UpdatedBy)
		}
		gotP[i].UpdatedAt, gotP[i].UpdatedBy = time.Time{}, ""
	}
	if !reflect.DeepEqual(gotP, wantP) {
		t.Errorf("People\n%+v\nwant\n%+v", gotP, wantP)
	}

	sha := strings.Repeat("ab", 32)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	sps := []model.SupplierPerson{
		{ID: "acme-ola", Name: "Ola Acme", Supplier: "Acme Drift AS", Accounts: []string{"acme-svc", `DOMAIN\acme.ola`},
			DeclarationSigned: day(2026, 1, 15), DeclarationSHA256: sha, DeclarationExpires: day(2027, 1, 15)},
		{ID: "acme-new", Name: "Ny", Supplier: "Acme Drift AS"},
	}
	if ch, err := st.ImportSupplierPeople(ctx, sps, true, "kari", at(3*time.Second)); err != nil || ch.Added != 2 {
		t.Fatalf("ImportSupplierPeople = %+v, %v", ch, err)
	}
	gotS, err := st.SupplierPeople(ctx)
	must(t, "SupplierPeople", err)
	if len(gotS) != 2 || gotS[0].ID != "acme-new" || gotS[0].Accounts != nil || !gotS[0].DeclarationSigned.IsZero() ||
		!reflect.DeepEqual(gotS[1].Accounts, sps[0].Accounts) || !sameTime(gotS[1].DeclarationSigned, sps[0].DeclarationSigned) ||
		!sameTime(gotS[1].DeclarationExpires, sps[0].DeclarationExpires) || gotS[1].DeclarationSHA256 != sha {
		t.Errorf("SupplierPeople = %+v", gotS)
	}
	ss := []model.SharedSolution{{Host: "srv-delt", Zones: []string{"admin", "skole"}, RiskAcceptedBy: "siri",
		RiskAcceptedAt: day(2026, 2, 1), DocumentSHA256: sha, Note: "akseptert"}}
	if _, err := st.ImportSharedSolutions(ctx, ss, false, "kari", at(4*time.Second)); err != nil {
		t.Fatalf("ImportSharedSolutions = %v", err)
	}
	gotSS, err := st.SharedSolutions(ctx)
	must(t, "SharedSolutions", err)
	if len(gotSS) != 1 || !reflect.DeepEqual(gotSS[0].Zones, ss[0].Zones) || !sameTime(gotSS[0].RiskAcceptedAt, ss[0].RiskAcceptedAt) ||
		!gotSS[0].Expires.IsZero() || gotSS[0].Note != "akseptert" || gotSS[0].RiskAcceptedBy != "siri" {
		t.Errorf("SharedSolutions = %+v", gotSS)
	}

	// Every change is audited with who and before/after.
	audit, seq := orgAudit(t, st, 0)
	wantActions := []string{"org.unit.add", "org.unit.add", "org.person.add", "org.person.add", "org.unit.update",
		"org.supplier.add", "org.supplier.add", "org.shared.add"}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action)
		if e.Actor != "kari" {
			t.Errorf("audit %s by %q, want kari", e.Action, e.Actor)
		}
	}
	if !reflect.DeepEqual(actions, wantActions) {
		t.Fatalf("audit actions %v, want %v", actions, wantActions)
	}
	var d struct {
		Before *struct{ Manager string } `json:"before"`
		After  *struct{ Manager string } `json:"after"`
	}
	if err := json.Unmarshal([]byte(audit[4].Detail), &d); err != nil || audit[4].Subject != "helse" ||
		d.Before == nil || d.Before.Manager != "" || d.After == nil || d.After.Manager != "ola" {
		t.Errorf("unit update audit %+v (%v)", audit[4], err)
	}

	// Replacing the shared solutions with none removes the one, audited.
	if ch, err := st.ImportSharedSolutions(ctx, nil, true, "ola", at(5*time.Second)); err != nil || ch != (model.RegisterChange{Removed: 1}) {
		t.Errorf("replace with none = %+v, %v", ch, err)
	}
	audit, _ = orgAudit(t, st, seq)
	if len(audit) != 1 || audit[0].Action != "org.shared.remove" || audit[0].Subject != "srv-delt" || audit[0].Actor != "ola" {
		t.Errorf("remove audit %+v", audit)
	}
}

// orgFixture registers two units and two people, siri the only officer.
func orgFixture(t *testing.T, st model.Store) {
	t.Helper()
	ctx := t.Context()
	_, err := st.ImportUnits(ctx, []model.Unit{{ID: "kd", Name: "KD"}, {ID: "helse", Name: "Helse", Parent: "kd"}}, false, "test", at(0))
	must(t, "ImportUnits", err)
	_, err = st.ImportPeople(ctx, []model.Person{
		{ID: "siri", Name: "Siri", Roles: []string{"sikkerhet"}, Unit: "kd"},
		{ID: "ola", Name: "Ola", Unit: "helse", Roles: []string{"leder"}},
	}, false, "test", at(0))
	must(t, "ImportPeople", err)
	_, err = st.ImportUnits(ctx, []model.Unit{{ID: "helse", Name: "Helse", Parent: "kd", Manager: "ola"}}, false, "test", at(0))
	must(t, "ImportUnits", err)
}

// testOrgRefused: imports and deletes that would leave the organisation
// inconsistent are refused, naming why, and change nothing.
func testOrgRefused(t *testing.T, st model.Store) {
	ctx := t.Context()
	orgFixture(t, st)
	_, seq := orgAudit(t, st, 0)
	tests := []struct {
		name string
		do   func() error
		kind error
		want string
	}{
		{"last officer removed by replace", func() error {
			_, err := st.ImportPeople(ctx, []model.Person{{ID: "ola", Name: "Ola", Unit: "helse"}}, true, "x", at(time.Hour))
			return err
		}, model.ErrConflict, "siri"},
		{"last officer loses the role", func() error {
			_, err := st.ImportPeople(ctx, []model.Person{{ID: "siri", Name: "Siri", Unit: "kd"}}, false, "x", at(time.Hour))
			return err
		}, model.ErrConflict, "last information security officer (sikkerhet): siri"},
		{"last officer deleted", func() error { return st.DeleteOrgEntry(ctx, model.OrgPeople, "siri", "x", at(time.Hour)) },
			model.ErrConflict, "siri"},
		{"manager deleted", func() error { return st.DeleteOrgEntry(ctx, model.OrgPeople, "ola", "x", at(time.Hour)) },
			model.ErrConflict, "manager ola"},
		{"parent unit deleted", func() error { return st.DeleteOrgEntry(ctx, model.OrgUnits, "kd", "x", at(time.Hour)) },
			model.ErrConflict, "parent kd"},
		{"cycle", func() error {
			_, err := st.ImportUnits(ctx, []model.Unit{{ID: "kd", Name: "KD", Parent: "helse"}}, false, "x", at(time.Hour))
			return err
		}, model.ErrConflict, "cycle"},
		{"unknown unit", func() error {
			_, err := st.ImportPeople(ctx, []model.Person{{ID: "per", Name: "Per", Unit: "skole"}}, false, "x", at(time.Hour))
			return err
		}, model.ErrConflict, "unit skole"},
		{"user name twice", func() error {
			_, err := st.ImportPeople(ctx, []model.Person{{ID: "a", Name: "A", Username: "u"}, {ID: "b", Name: "B", Username: "u"}}, false, "x", at(time.Hour))
			return err
		}, model.ErrConflict, "user name u"},
		{"repeated id", func() error {
			_, err := st.ImportUnits(ctx, []model.Unit{{ID: "x", Name: "X"}, {ID: "x", Name: "Y"}}, false, "x", at(time.Hour))
			return err
		}, model.ErrConflict, "x"},
		{"bad id", func() error {
			_, err := st.ImportUnits(ctx, []model.Unit{{ID: "Stor Bokstav", Name: "X"}}, false, "x", at(time.Hour))
			return err
		}, model.ErrInvalid, "Stor Bokstav"},
		{"bad e-mail", func() error {
			_, err := st.ImportPeople(ctx, []model.Person{{ID: "per", Name: "Per", Email: "per@"}}, false, "x", at(time.Hour))
			return err
		}, model.ErrInvalid, "per@"},
		{"account of two", func() error {
			_, err := st.ImportSupplierPeople(ctx, []model.SupplierPerson{{ID: "a", Name: "A", Supplier: "S", Accounts: []string{"svc"}},
				{ID: "b", Name: "B", Supplier: "S", Accounts: []string{"SVC"}}}, false, "x", at(time.Hour))
			return err
		}, model.ErrConflict, "SVC belongs to both a and b"},
		{"declaration without hash", func() error {
			_, err := st.ImportSupplierPeople(ctx, []model.SupplierPerson{{ID: "a", Name: "A", Supplier: "S", DeclarationSigned: at(0)}}, false, "x", at(time.Hour))
			return err
		}, model.ErrInvalid, "declaration"},
		{"shared solution of one zone", func() error {
			_, err := st.ImportSharedSolutions(ctx, []model.SharedSolution{{Host: "h", Zones: []string{"a"}, RiskAcceptedBy: "siri",
				RiskAcceptedAt: at(0), DocumentSHA256: strings.Repeat("0", 64)}}, false, "x", at(time.Hour))
			return err
		}, model.ErrInvalid, "zones"},
		{"unknown kind", func() error { return st.DeleteOrgEntry(ctx, "robots", "x", "x", at(time.Hour)) }, model.ErrInvalid, "robots"},
		{"delete absent", func() error { return st.DeleteOrgEntry(ctx, model.OrgSuppliers, "nobody", "x", at(time.Hour)) }, model.ErrNotFound, "nobody"},
	}
	for _, tc := range tests {
		err := tc.do()
		wantErr(t, tc.name, err, tc.kind)
		if err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %v, want it to name %q", tc.name, err, tc.want)
		}
	}
	if audit, _ := orgAudit(t, st, seq); len(audit) != 0 {
		t.Errorf("refused changes were audited: %+v", audit)
	}
	ps, err := st.People(ctx)
	must(t, "People", err)
	if len(ps) != 2 || !ps[1].HasRole(model.OrgRoleSikkerhet) {
		t.Errorf("People after refusals = %+v", ps)
	}
}

// testOrgDelete: a delete that leaves the organisation consistent goes
// through, audited with the entry before.
func testOrgDelete(t *testing.T, st model.Store) {
	ctx := t.Context()
	orgFixture(t, st)
	_, seq := orgAudit(t, st, 0)
	// Unmanage helse, then ola may go; then helse.
	_, err := st.ImportUnits(ctx, []model.Unit{{ID: "helse", Name: "Helse", Parent: "kd"}}, false, "kari", at(time.Hour))
	must(t, "ImportUnits", err)
	_, err = st.ImportPeople(ctx, []model.Person{{ID: "siri", Name: "Siri", Roles: []string{"sikkerhet"}, Unit: "kd"}, {ID: "ola", Name: "Ola", Roles: []string{"leder"}}}, false, "kari", at(time.Hour))
	must(t, "ImportPeople", err)
	must(t, "DeleteOrgEntry ola", st.DeleteOrgEntry(ctx, model.OrgPeople, "ola", "kari", at(2*time.Hour)))
	must(t, "DeleteOrgEntry helse", st.DeleteOrgEntry(ctx, model.OrgUnits, "helse", "kari", at(2*time.Hour)))
	us, err := st.Units(ctx)
	must(t, "Units", err)
	if len(us) != 1 || us[0].ID != "kd" {
		t.Errorf("Units after delete = %+v", us)
	}
	audit, _ := orgAudit(t, st, seq)
	if len(audit) != 4 || audit[2].Action != "org.person.remove" || audit[2].Subject != "ola" ||
		!strings.Contains(audit[2].Detail, `"after":null`) || !strings.Contains(audit[2].Detail, `"name":"Ola"`) ||
		audit[3].Action != "org.unit.remove" || audit[3].Subject != "helse" {
		t.Errorf("audit %+v", audit)
	}
}
