package web

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func TestEnsureAdmin(t *testing.T) {
	st := newFakeStore()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pw, created, err := EnsureAdmin(t.Context(), st, now)
	if err != nil || !created {
		t.Fatalf("EnsureAdmin on an empty store = %v, %v; want created", created, err)
	}
	if len(pw) != 20 {
		t.Errorf("password %q has %d characters, want 20", pw, len(pw))
	}
	u, err := st.GetUser(t.Context(), "admin")
	if err != nil || u.Role != model.RoleAdmin || !u.CreatedAt.Equal(now) {
		t.Fatalf("admin user = %+v, %v", u, err)
	}
	if ok, err := CheckPassword(u.PasswordHash, pw); err != nil || !ok {
		t.Errorf("stored hash does not verify the returned password: %v, %v", ok, err)
	}
	if strings.Contains(u.PasswordHash, pw) {
		t.Errorf("stored hash contains the password")
	}
	if e, ok := findAudit(st.auditEvents(), "user.create"); !ok || e.Subject != "admin" || e.Actor != "system" {
		t.Errorf("audit = %+v, want user.create of admin by system", st.auditEvents())
	}

	pw2, created, err := EnsureAdmin(t.Context(), st, now)
	if err != nil || created || pw2 != "" {
		t.Errorf("second EnsureAdmin = %q, %v, %v; want nothing done", pw2, created, err)
	}
	if n := len(st.auditEvents()); n != 1 {
		t.Errorf("audit events after the second call = %d, want 1", n)
	}

	// Any user at all, not only "admin", means the store is set up.
	other := newFakeStore()
	if err := other.CreateUser(t.Context(), model.User{Name: "kari", Role: model.RoleDrift}); err != nil {
		t.Fatal(err)
	}
	if pw, created, err := EnsureAdmin(t.Context(), other, now); err != nil || created || pw != "" {
		t.Errorf("EnsureAdmin with one other user = %q, %v, %v; want nothing done", pw, created, err)
	}
	if _, err := other.GetUser(t.Context(), "admin"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("EnsureAdmin created admin although a user existed")
	}
}

func TestResetPassword(t *testing.T) {
	st := newFakeStore()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	old, err := hashPassword("gammelt", testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(t.Context(), model.User{Name: "kari", PasswordHash: old, Role: model.RoleDrift, FailedLogins: 3, LockedUntil: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	pw, err := ResetPassword(t.Context(), st, "kari", now)
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	u, _ := st.GetUser(t.Context(), "kari")
	if ok, _ := CheckPassword(u.PasswordHash, pw); !ok || len(pw) != 20 {
		t.Errorf("new password %q does not verify", pw)
	}
	if ok, _ := CheckPassword(u.PasswordHash, "gammelt"); ok {
		t.Errorf("old password still verifies")
	}
	if u.FailedLogins != 0 || !u.LockedUntil.IsZero() || u.Role != model.RoleDrift {
		t.Errorf("user after reset = %+v; want lock cleared, role kept", u)
	}
	if e, ok := findAudit(st.auditEvents(), "user.password.reset"); !ok || e.Subject != "kari" {
		t.Errorf("audit = %+v, want user.password.reset of kari", st.auditEvents())
	}
	if _, err := ResetPassword(t.Context(), st, "ukjent", now); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("ResetPassword(unknown) = %v, want ErrNotFound", err)
	}
}

func TestCreateAPIToken(t *testing.T) {
	st := newFakeStore()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tok, err := CreateAPIToken(t.Context(), st, model.RoleRevisor, " rapportering ", "kari", now)
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	id, secret, ok := parseAPIToken(tok)
	if !ok || !strings.HasPrefix(tok, "svtapi.") || len(tok) != len("svtapi.")+16+1+43 {
		t.Fatalf("token %q is not svtapi.<16 hex>.<43 base64url>", tok)
	}
	stored, err := st.GetAPIToken(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(secret)
	if string(stored.Hash) != string(sum[:]) {
		t.Errorf("stored hash is not the SHA-256 of the secret")
	}
	if stored.Role != model.RoleRevisor || stored.Name != "rapportering" || stored.CreatedBy != "kari" || !stored.CreatedAt.Equal(now) {
		t.Errorf("stored token = %+v", stored)
	}
	e, ok := findAudit(st.auditEvents(), "api.token.create")
	if !ok || e.Actor != "kari" || e.Subject != "token:"+id || !strings.Contains(e.Detail, "revisor") {
		t.Errorf("audit = %+v, want api.token.create by kari of token:%s", st.auditEvents(), id)
	}
	if strings.Contains(e.Detail, tok[len("svtapi.")+17:]) {
		t.Errorf("audit detail holds the secret")
	}

	if _, err := CreateAPIToken(t.Context(), st, "root", "x", "kari", now); !errors.Is(err, model.ErrInvalid) {
		t.Errorf("CreateAPIToken(role root) = %v, want ErrInvalid", err)
	}
	other, _ := CreateAPIToken(t.Context(), st, model.RoleRevisor, "x", "kari", now)
	if other == tok {
		t.Errorf("two tokens are equal")
	}
}
