package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// AccountStore is what the account helpers need: users and tokens, and the
// audit log every change is written to.
type AccountStore interface {
	model.AuthStore
	model.AuditStore
}

const (
	adminUser         = "admin"
	generatedPassword = 20 // characters
	apiTokenPrefix    = "svtapi"
	apiTokenIDBytes   = 8  // 16 hex characters
	apiTokenSecret    = 32 // bytes, base64url in the token
	maxTokenNameBytes = 200
)

// EnsureAdmin creates the user "admin" with role admin and a random
// 20-character password when the store has no users, and returns that
// password. created reports whether it did; when users exist already it
// changes nothing.
func EnsureAdmin(ctx context.Context, st AccountStore, now time.Time) (password string, created bool, err error) {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return "", false, fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	password = newPassword(generatedPassword)
	hash, err := HashPassword(password)
	if err != nil {
		return "", false, err
	}
	u := model.User{Name: adminUser, PasswordHash: hash, Role: model.RoleAdmin, CreatedAt: now}
	if err := st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, model.ErrConflict) {
			return "", false, nil // another replica was first
		}
		return "", false, fmt.Errorf("create user %s: %w", adminUser, err)
	}
	if err := appendAudit(ctx, st, now, "system", "user.create", adminUser, auditDetail{"role": string(model.RoleAdmin)}); err != nil {
		return "", false, err
	}
	return password, true, nil
}

// ResetPassword gives user a new random 20-character password, clears its
// failed-login count and lockout, ends its sessions, and returns the
// password.
func ResetPassword(ctx context.Context, st AccountStore, user string, now time.Time) (string, error) {
	return resetPassword(ctx, st, user, "system", now)
}

// resetPassword is ResetPassword on behalf of actor.
func resetPassword(ctx context.Context, st AccountStore, user, actor string, now time.Time) (string, error) {
	u, err := st.GetUser(ctx, user)
	if err != nil {
		return "", fmt.Errorf("get user %s: %w", user, err)
	}
	password := newPassword(generatedPassword)
	if u.PasswordHash, err = HashPassword(password); err != nil {
		return "", err
	}
	u.FailedLogins = 0
	u.LockedUntil = time.Time{}
	if err := st.UpdateUser(ctx, u); err != nil {
		return "", fmt.Errorf("update user %s: %w", user, err)
	}
	if _, err := st.DeleteUserSessions(ctx, user); err != nil {
		return "", fmt.Errorf("end sessions of %s: %w", user, err)
	}
	if err := appendAudit(ctx, st, now, actor, "user.password.reset", user, nil); err != nil {
		return "", err
	}
	return password, nil
}

// CreateAPIToken creates a bearer token for /api/v1 with the given role and
// returns it as svtapi.<id>.<secret>: 16 hex characters of id and 32 random
// bytes of secret in base64url. Only the SHA-256 of the secret's bytes is
// stored, so the token is shown this once. actor names who asked for it.
func CreateAPIToken(ctx context.Context, st AccountStore, role model.Role, name, actor string, now time.Time) (token string, err error) {
	if !role.Valid() {
		return "", fmt.Errorf("create api token: role %q: %w", role, model.ErrInvalid)
	}
	name = strings.TrimSpace(name)
	if len(name) > maxTokenNameBytes {
		return "", fmt.Errorf("create api token: name longer than %d bytes: %w", maxTokenNameBytes, model.ErrInvalid)
	}
	id := make([]byte, apiTokenIDBytes)
	secret := make([]byte, apiTokenSecret)
	_, _ = rand.Read(id)
	_, _ = rand.Read(secret)
	sum := sha256.Sum256(secret)
	t := model.APIToken{
		ID:        hex.EncodeToString(id),
		Hash:      sum[:],
		Role:      role,
		Name:      name,
		CreatedAt: now,
		CreatedBy: actor,
	}
	if err := st.CreateAPIToken(ctx, t); err != nil {
		return "", fmt.Errorf("create api token: %w", err)
	}
	if err := appendAudit(ctx, st, now, actor, "api.token.create", "token:"+t.ID,
		auditDetail{"role": string(role), "name": name}); err != nil {
		return "", err
	}
	return apiTokenPrefix + "." + t.ID + "." + b64url.EncodeToString(secret), nil
}

// parseAPIToken splits svtapi.<id>.<secret> and returns the id and the
// secret's bytes.
func parseAPIToken(tok string) (id string, secret []byte, ok bool) {
	rest, found := strings.CutPrefix(tok, apiTokenPrefix+".")
	if !found {
		return "", nil, false
	}
	id, enc, found := strings.Cut(rest, ".")
	if !found || len(id) != 2*apiTokenIDBytes {
		return "", nil, false
	}
	if b, err := hex.DecodeString(id); err != nil || hex.EncodeToString(b) != id {
		return "", nil, false // not lower-case hex
	}
	secret, err := b64url.Strict().DecodeString(enc)
	if err != nil || len(secret) != apiTokenSecret {
		return "", nil, false
	}
	return id, secret, true
}

// auditDetail is the detail of an audit event, stored as JSON.
type auditDetail map[string]string

// appendAudit writes one event to the audit log.
func appendAudit(ctx context.Context, st model.AuditStore, now time.Time, actor, action, subject string, d auditDetail) error {
	e := model.AuditEvent{At: now, Actor: actor, Action: action, Subject: subject}
	if len(d) > 0 {
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("audit %s: %w", action, err)
		}
		e.Detail = string(b)
	}
	if _, err := st.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// rememberLang stores lang on the user of r's session, when there is one and
// the user chose otherwise before, so that their next login picks it.
func (s *Server) rememberLang(r *http.Request, lang string) {
	ctx := r.Context()
	p, err := s.sessionPrincipal(r)
	if err != nil {
		s.log.WarnContext(ctx, "remember language: session", "err", err)
		return
	}
	if p == nil {
		return
	}
	u, err := s.store.GetUser(ctx, p.Name)
	if err != nil || u.Lang == lang {
		return
	}
	from := u.Lang
	u.Lang = lang
	if err := s.store.UpdateUser(ctx, u); err != nil {
		s.log.WarnContext(ctx, "remember language", "user", u.Name, "err", err)
		return
	}
	if err := appendAudit(ctx, s.store, s.now(), p.Name, "user.lang", u.Name, auditDetail{"from": from, "to": lang}); err != nil {
		s.log.ErrorContext(ctx, "audit language", "err", err)
	}
}
