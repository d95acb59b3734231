package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// CreateUser stores a new user; ErrConflict if the name exists, ErrInvalid for
// an unknown role.
func (db *DB) CreateUser(ctx context.Context, u model.User) error {
	if u.Name == "" || !u.Role.Valid() {
		return fmt.Errorf("create user %q with role %q: %w", u.Name, u.Role, model.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO users
		(name, password_hash, role, created_at, failed_logins, locked_until, lang, disabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Name, u.PasswordHash, string(u.Role), nanos(u.CreatedAt), u.FailedLogins, nanos(u.LockedUntil), u.Lang, u.Disabled)
	if isDuplicate(err) {
		return fmt.Errorf("create user %s: %w", u.Name, model.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Name, err)
	}
	return nil
}

const userCols = `name, password_hash, role, created_at, failed_logins, locked_until, lang, disabled`

func scanUser(s interface{ Scan(...any) error }) (model.User, error) {
	var u model.User
	var role string
	var created, locked int64
	err := s.Scan(&u.Name, &u.PasswordHash, &role, &created, &u.FailedLogins, &locked, &u.Lang, &u.Disabled)
	u.Role, u.CreatedAt, u.LockedUntil = model.Role(role), fromNanos(created), fromNanos(locked)
	return u, err
}

// GetUser returns the user; ErrNotFound if unknown.
func (db *DB) GetUser(ctx context.Context, name string) (model.User, error) {
	u, err := scanUser(db.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return model.User{}, fmt.Errorf("user %s: %w", name, model.ErrNotFound)
	}
	if err != nil {
		return model.User{}, fmt.Errorf("get user %s: %w", name, err)
	}
	return u, nil
}

// ListUsers lists every user by name.
func (db *DB) ListUsers(ctx context.Context) ([]model.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []model.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UpdateUser stores u's password hash, role, failed-login count, lockout,
// language and disabled flag; the name and creation time stay. ErrNotFound if
// unknown.
func (db *DB) UpdateUser(ctx context.Context, u model.User) error {
	if !u.Role.Valid() {
		return fmt.Errorf("update user %s: role %q: %w", u.Name, u.Role, model.ErrInvalid)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE users SET password_hash = ?, role = ?, failed_logins = ?, locked_until = ?,
		lang = ?, disabled = ? WHERE name = ?`,
		u.PasswordHash, string(u.Role), u.FailedLogins, nanos(u.LockedUntil), u.Lang, u.Disabled, u.Name)
	if err := exactlyOne(res, err, "user "+u.Name); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return nil
}

// CountUsers returns the number of users.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CreateSession stores a session; ErrConflict if its id hash exists,
// ErrNotFound if its user does not.
func (db *DB) CreateSession(ctx context.Context, s model.Session) error {
	if len(s.IDHash) == 0 {
		return fmt.Errorf("create session: empty id: %w", model.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_name, csrf, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, s.IDHash, s.User, s.CSRF, nanos(s.CreatedAt), nanos(s.ExpiresAt))
	switch {
	case isDuplicate(err):
		return fmt.Errorf("create session for %s: %w", s.User, model.ErrConflict)
	case isForeignKey(err):
		return fmt.Errorf("create session: user %s: %w", s.User, model.ErrNotFound)
	case err != nil:
		return fmt.Errorf("create session for %s: %w", s.User, err)
	}
	return nil
}

// GetSession returns the session with the id hash, expired or not;
// ErrNotFound if unknown.
func (db *DB) GetSession(ctx context.Context, idHash []byte) (model.Session, error) {
	var s model.Session
	var created, expires int64
	err := db.r.QueryRowContext(ctx, `SELECT id_hash, user_name, csrf, created_at, expires_at FROM sessions WHERE id_hash = ?`,
		blob(idHash)).Scan(&s.IDHash, &s.User, &s.CSRF, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Session{}, fmt.Errorf("session %s: %w", short(idHash), model.ErrNotFound)
	}
	if err != nil {
		return model.Session{}, fmt.Errorf("get session: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = fromNanos(created), fromNanos(expires)
	return s, nil
}

// DeleteSession removes a session; ErrNotFound if unknown.
func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, blob(idHash))
	if err := exactlyOne(res, err, "session "+short(idHash)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions removes every session of user and returns how many
// there were.
func (db *DB) DeleteUserSessions(ctx context.Context, user string) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_name = ?`, user)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of %s: %w", user, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete sessions of %s: %w", user, err)
	}
	return int(n), nil
}

// short names a session by the start of its id hash, enough for a log line.
func short(idHash []byte) string {
	return hex.EncodeToString(idHash[:min(len(idHash), 4)])
}

// CreateAPIToken stores a new API token; ErrConflict if the id exists,
// ErrInvalid for an unknown role.
func (db *DB) CreateAPIToken(ctx context.Context, t model.APIToken) error {
	if t.ID == "" || !t.Role.Valid() {
		return fmt.Errorf("create api token %q with role %q: %w", t.ID, t.Role, model.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO api_tokens (id, hash, role, name, created_at, created_by, last_used)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, blob(t.Hash), string(t.Role), t.Name, nanos(t.CreatedAt), t.CreatedBy, nanos(t.LastUsed))
	if isDuplicate(err) {
		return fmt.Errorf("create api token %s: %w", t.ID, model.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create api token %s: %w", t.ID, err)
	}
	return nil
}

const apiTokenCols = `id, hash, role, name, created_at, created_by, last_used, revoked_at`

func scanAPIToken(s interface{ Scan(...any) error }) (model.APIToken, error) {
	var t model.APIToken
	var role string
	var created, used, revoked int64
	err := s.Scan(&t.ID, &t.Hash, &role, &t.Name, &created, &t.CreatedBy, &used, &revoked)
	t.Role, t.CreatedAt, t.LastUsed, t.RevokedAt = model.Role(role), fromNanos(created), fromNanos(used), fromNanos(revoked)
	return t, err
}

// GetAPIToken returns the API token, revoked or not; ErrNotFound if unknown.
func (db *DB) GetAPIToken(ctx context.Context, id string) (model.APIToken, error) {
	t, err := scanAPIToken(db.r.QueryRowContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return model.APIToken{}, fmt.Errorf("api token %s: %w", id, model.ErrNotFound)
	}
	if err != nil {
		return model.APIToken{}, fmt.Errorf("get api token %s: %w", id, err)
	}
	return t, nil
}

// ListAPITokens lists every API token, revoked ones included, oldest first.
func (db *DB) ListAPITokens(ctx context.Context) ([]model.APIToken, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	defer rows.Close()
	var ts []model.APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list api tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	return ts, nil
}

// RevokeAPIToken revokes the token at the given time; a token revoked before
// keeps its first revocation time. ErrNotFound if unknown.
func (db *DB) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke api token %s: zero time: %w", id, model.ErrInvalid)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
		WHERE id = ?`, nanos(at), id)
	if err := exactlyOne(res, err, "api token "+id); err != nil {
		return fmt.Errorf("revoke api token: %w", err)
	}
	return nil
}

// TouchAPIToken records that the token was used at the given time; ErrNotFound
// if unknown.
func (db *DB) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, nanos(at), id)
	if err := exactlyOne(res, err, "api token "+id); err != nil {
		return fmt.Errorf("touch api token: %w", err)
	}
	return nil
}
