package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// testAccounts covers what the administration page keeps: users' language
// and disabled flag, their sessions, revoking API and enrollment tokens, and
// assigning deviations.
func testAccounts(t *testing.T, st model.Store) {
	t.Run("Users", func(t *testing.T) { testAccountUsers(t, st) })
	t.Run("APITokens", func(t *testing.T) { testAccountAPITokens(t, st) })
	t.Run("EnrollTokens", func(t *testing.T) { testAccountEnrollTokens(t, st) })
	t.Run("Assign", func(t *testing.T) { testAccountAssign(t, st) })
}

func testAccountUsers(t *testing.T, st model.Store) {
	ctx := t.Context()
	if us, err := st.ListUsers(ctx); err != nil || len(us) != 0 {
		t.Fatalf("ListUsers on an empty store = %v, %v; want none", us, err)
	}
	ola := model.User{Name: "ola", PasswordHash: "h1", Role: model.RoleLeder, CreatedAt: at(time.Minute), Lang: "en"}
	kari := model.User{Name: "kari", PasswordHash: "h2", Role: model.RoleAdmin, CreatedAt: at(0)}
	must(t, "CreateUser(ola)", st.CreateUser(ctx, ola))
	must(t, "CreateUser(kari)", st.CreateUser(ctx, kari))
	us, err := st.ListUsers(ctx)
	must(t, "ListUsers", err)
	for i := range us {
		us[i] = normUser(us[i])
	}
	if want := []model.User{kari, ola}; !reflect.DeepEqual(us, want) {
		t.Errorf("ListUsers = %+v, want %+v (by name)", us, want)
	}

	upd := ola
	upd.Lang, upd.Disabled = "nb", true
	must(t, "UpdateUser(ola) language and disabled", st.UpdateUser(ctx, upd))
	got, err := st.GetUser(ctx, "ola")
	must(t, "GetUser(ola)", err)
	if got = normUser(got); !reflect.DeepEqual(got, upd) {
		t.Errorf("after UpdateUser: GetUser(ola) = %+v, want %+v", got, upd)
	}
	upd.Disabled = false
	must(t, "UpdateUser(ola) enable", st.UpdateUser(ctx, upd))
	if got, err := st.GetUser(ctx, "ola"); err != nil || got.Disabled || got.Lang != "nb" {
		t.Errorf("after enabling: GetUser(ola) = %+v, %v; want enabled, nb", got, err)
	}

	for i, u := range []string{"ola", "ola", "kari"} {
		must(t, "CreateSession", st.CreateSession(ctx, model.Session{IDHash: hash(string(rune('a' + i))), User: u, CSRF: "c",
			CreatedAt: at(0), ExpiresAt: at(time.Hour)}))
	}
	n, err := st.DeleteUserSessions(ctx, "ola")
	must(t, "DeleteUserSessions(ola)", err)
	if n != 2 {
		t.Errorf("DeleteUserSessions(ola) = %d, want 2", n)
	}
	for i, wantKind := range []error{model.ErrNotFound, model.ErrNotFound, nil} {
		_, err := st.GetSession(ctx, hash(string(rune('a'+i))))
		if wantKind == nil {
			must(t, "GetSession(kari's)", err)
		} else {
			wantErr(t, "GetSession(ola's) after DeleteUserSessions", err, wantKind)
		}
	}
	if n, err := st.DeleteUserSessions(ctx, "nobody"); err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(nobody) = %d, %v; want 0, nil", n, err)
	}
}

func testAccountAPITokens(t *testing.T, st model.Store) {
	ctx := t.Context()
	if ts, err := st.ListAPITokens(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("ListAPITokens on an empty store = %v, %v; want none", ts, err)
	}
	b := model.APIToken{ID: "bbbbbbbbbbbbbbbb", Hash: hash("b"), Role: model.RoleDrift, Name: "inventory", CreatedAt: at(time.Hour), CreatedBy: "kari"}
	a := model.APIToken{ID: "aaaaaaaaaaaaaaaa", Hash: hash("a"), Role: model.RoleRevisor, Name: "evidence", CreatedAt: at(0), CreatedBy: "kari"}
	must(t, "CreateAPIToken(b)", st.CreateAPIToken(ctx, b))
	must(t, "CreateAPIToken(a)", st.CreateAPIToken(ctx, a))
	must(t, "RevokeAPIToken(a)", st.RevokeAPIToken(ctx, a.ID, at(2*time.Hour)))
	must(t, "RevokeAPIToken(a) again", st.RevokeAPIToken(ctx, a.ID, at(3*time.Hour)))
	wantErr(t, "RevokeAPIToken(nope)", st.RevokeAPIToken(ctx, "nope", at(0)), model.ErrNotFound)

	ts, err := st.ListAPITokens(ctx)
	must(t, "ListAPITokens", err)
	a.RevokedAt = at(2 * time.Hour) // the first revocation stays
	want := []model.APIToken{a, b}
	for i := range ts {
		ts[i] = normAPIToken(ts[i])
		ts[i].RevokedAt = ts[i].RevokedAt.UTC()
	}
	if !reflect.DeepEqual(ts, want) {
		t.Errorf("ListAPITokens = %+v, want %+v (oldest first)", ts, want)
	}
	got, err := st.GetAPIToken(ctx, a.ID)
	must(t, "GetAPIToken(a)", err)
	if !got.Revoked() || b.Revoked() {
		t.Errorf("GetAPIToken(a).Revoked() = %v, want true", got.Revoked())
	}
}

func testAccountEnrollTokens(t *testing.T, st model.Store) {
	ctx := t.Context()
	tok := tokenFixture("tok", 3, at(0))
	must(t, "CreateEnrollToken", st.CreateEnrollToken(ctx, tok))
	must(t, "UseEnrollToken before revoking", st.UseEnrollToken(ctx, "tok", at(time.Minute)))
	must(t, "RevokeEnrollToken", st.RevokeEnrollToken(ctx, "tok", at(2*time.Minute)))
	must(t, "RevokeEnrollToken again", st.RevokeEnrollToken(ctx, "tok", at(3*time.Minute)))
	wantErr(t, "RevokeEnrollToken(nope)", st.RevokeEnrollToken(ctx, "nope", at(0)), model.ErrNotFound)
	wantErr(t, "UseEnrollToken after revoking", st.UseEnrollToken(ctx, "tok", at(4*time.Minute)), model.ErrRevoked)

	got, err := st.GetEnrollToken(ctx, "tok")
	must(t, "GetEnrollToken", err)
	if !got.RevokedAt.Equal(at(2*time.Minute)) || got.UsesLeft != 2 {
		t.Errorf("revoked token = revoked at %v with %d uses left; want %v and 2", got.RevokedAt, got.UsesLeft, at(2*time.Minute))
	}
	ts, err := st.ListEnrollTokens(ctx)
	must(t, "ListEnrollTokens", err)
	if len(ts) != 1 || !ts[0].Revoked() {
		t.Errorf("ListEnrollTokens = %+v, want the one revoked token", ts)
	}
}

func testAccountAssign(t *testing.T, st model.Store) {
	ctx := t.Context()
	res := recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 1, at(0)), finding(2, "ag", 2, at(0))}, nil, at(time.Minute))
	id, other := res[0].ID, res[1].ID
	before := lastSeq(audit(t, st, 0))

	must(t, "AssignDeviation", st.AssignDeviation(ctx, id, []string{"user:kari", "role:sikkerhet", "user:kari"}, "ola", at(time.Hour)))
	d, tl := getDeviation(t, st, id)
	if want := []string{"user:kari", "role:sikkerhet"}; !reflect.DeepEqual(d.Assignees, want) {
		t.Errorf("assignees = %q, want %q", d.Assignees, want)
	}
	if !d.UpdatedAt.Equal(at(time.Hour)) {
		t.Errorf("updated at %v, want %v", d.UpdatedAt, at(time.Hour))
	}
	last := tl[len(tl)-1]
	if last.Type != model.TimelineAssignment || last.Actor != "ola" || !last.At.Equal(at(time.Hour)) {
		t.Errorf("last timeline entry = %+v, want an assignment by ola", last)
	}
	log := audit(t, st, before)
	if got := auditActions(log); !reflect.DeepEqual(got, []string{"deviation.assign " + id}) {
		t.Errorf("audit after assigning = %q", got)
	} else if log[0].Actor != "ola" || log[0].Detail == "" {
		t.Errorf("assignment audit = %+v, want ola with a detail", log[0])
	}

	for _, tc := range []struct {
		name      string
		assignees []string
	}{
		{"none", nil},
		{"empty", []string{""}},
		{"unknown form", []string{"team:drift"}},
		{"unknown role", []string{"role:root"}},
		{"no name", []string{"user:"}},
	} {
		wantErr(t, "AssignDeviation("+tc.name+")", st.AssignDeviation(ctx, id, tc.assignees, "ola", at(2*time.Hour)), model.ErrInvalid)
	}
	wantErr(t, "AssignDeviation(unknown)", st.AssignDeviation(ctx, "AVVIK-2026-99", []string{"user:kari"}, "ola", at(time.Hour)), model.ErrNotFound)

	must(t, "SetDeviationStatus", st.SetDeviationStatus(ctx, other, model.StatusRejected, "kari", "duplicate", at(time.Hour)))
	wantErr(t, "AssignDeviation(rejected)", st.AssignDeviation(ctx, other, []string{"user:kari"}, "ola", at(2*time.Hour)), model.ErrInvalid)
	if got := auditActions(audit(t, st, before)); len(got) != 2 {
		t.Errorf("audit after refusals = %q, want only the assignment and the status change", got)
	}
	if d, _ := getDeviation(t, st, id); len(d.Assignees) != 2 {
		t.Errorf("assignees after refusals = %q, want unchanged", d.Assignees)
	}
}
