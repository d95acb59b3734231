package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// CreateEnrollToken stores a new enrollment token; ErrConflict if the id exists.
func (db *DB) CreateEnrollToken(ctx context.Context, t model.EnrollToken) error {
	if t.ID == "" || t.MaxUses < 0 || t.UsesLeft < 0 || t.UsesLeft > t.MaxUses {
		return fmt.Errorf("create enroll token %q (uses %d of %d): %w", t.ID, t.UsesLeft, t.MaxUses, model.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO enroll_tokens
		(id, secret_hash, created_at, expires_at, max_uses, uses_left, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, blob(t.SecretHash), nanos(t.CreatedAt), nanos(t.ExpiresAt), t.MaxUses, t.UsesLeft, t.CreatedBy)
	if isDuplicate(err) {
		return fmt.Errorf("create enroll token %s: %w", t.ID, model.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create enroll token %s: %w", t.ID, err)
	}
	return nil
}

const tokenCols = `id, secret_hash, created_at, expires_at, max_uses, uses_left, created_by, revoked_at`

func scanToken(s interface{ Scan(...any) error }) (model.EnrollToken, error) {
	var t model.EnrollToken
	var created, expires, revoked int64
	err := s.Scan(&t.ID, &t.SecretHash, &created, &expires, &t.MaxUses, &t.UsesLeft, &t.CreatedBy, &revoked)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(revoked)
	return t, err
}

// GetEnrollToken returns the token with id; ErrNotFound if unknown.
func (db *DB) GetEnrollToken(ctx context.Context, id string) (model.EnrollToken, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM enroll_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return model.EnrollToken{}, fmt.Errorf("enroll token %s: %w", id, model.ErrNotFound)
	}
	if err != nil {
		return model.EnrollToken{}, fmt.Errorf("get enroll token %s: %w", id, err)
	}
	return t, nil
}

// UseEnrollToken takes one use of the token, atomically. When it cannot, it
// says why: ErrNotFound, ErrRevoked, ErrExpired (at now) or ErrUsedUp.
func (db *DB) UseEnrollToken(ctx context.Context, id string, now time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE enroll_tokens SET uses_left = uses_left - 1
			WHERE id = ? AND uses_left > 0 AND expires_at > ? AND revoked_at = 0`, id, nanos(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var left int
		var expires, revoked int64
		err = tx.QueryRowContext(ctx, `SELECT uses_left, expires_at, revoked_at FROM enroll_tokens WHERE id = ?`, id).Scan(&left, &expires, &revoked)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return model.ErrNotFound
		case err != nil:
			return err
		case revoked != 0:
			return fmt.Errorf("%w at %s", model.ErrRevoked, fromNanos(revoked).Format(time.RFC3339))
		case expires <= nanos(now):
			return fmt.Errorf("%w at %s", model.ErrExpired, fromNanos(expires).Format(time.RFC3339))
		default:
			return model.ErrUsedUp
		}
	})
	if err != nil {
		return fmt.Errorf("use enroll token %s: %w", id, err)
	}
	return nil
}

// ListEnrollTokens lists every token, oldest first.
func (db *DB) ListEnrollTokens(ctx context.Context) ([]model.EnrollToken, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM enroll_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list enroll tokens: %w", err)
	}
	defer rows.Close()
	var ts []model.EnrollToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list enroll tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list enroll tokens: %w", err)
	}
	return ts, nil
}

// RevokeEnrollToken revokes the token at the given time; a token revoked
// before keeps its first revocation time. ErrNotFound if unknown.
func (db *DB) RevokeEnrollToken(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke enroll token %s: zero time: %w", id, model.ErrInvalid)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE enroll_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
		WHERE id = ?`, nanos(at), id)
	if err := exactlyOne(res, err, "enroll token "+id); err != nil {
		return fmt.Errorf("revoke enroll token: %w", err)
	}
	return nil
}

// CreateAgent stores a new agent; ErrConflict if the id exists.
func (db *DB) CreateAgent(ctx context.Context, a model.Agent) error {
	if a.ID == "" {
		return fmt.Errorf("create agent: empty id: %w", model.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx, `INSERT INTO agents
		(id, fingerprint, hostname, cert_serial, cert_not_after, enrolled_at, revoked_at, last_seen, version, addr)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Fingerprint, a.Hostname, a.CertSerial, nanos(a.CertNotAfter), nanos(a.EnrolledAt),
		nanos(a.RevokedAt), nanos(a.LastSeen), a.Version, a.Addr)
	if isDuplicate(err) {
		return fmt.Errorf("create agent %s: %w", a.ID, model.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create agent %s: %w", a.ID, err)
	}
	return nil
}

const agentCols = `a.id, a.fingerprint, a.hostname, a.cert_serial, a.cert_not_after, a.enrolled_at,
	a.revoked_at, a.last_seen, a.version, a.addr`

// agentDest returns scan destinations for agentCols and a function that
// finishes the agent once scanned.
func agentDest(a *model.Agent) ([]any, func()) {
	var notAfter, enrolled, revoked, seen int64
	dest := []any{&a.ID, &a.Fingerprint, &a.Hostname, &a.CertSerial, &notAfter, &enrolled, &revoked, &seen, &a.Version, &a.Addr}
	return dest, func() {
		a.CertNotAfter, a.EnrolledAt = fromNanos(notAfter), fromNanos(enrolled)
		a.RevokedAt, a.LastSeen = fromNanos(revoked), fromNanos(seen)
	}
}

// GetAgent returns the agent with id; ErrNotFound if unknown.
func (db *DB) GetAgent(ctx context.Context, id string) (model.Agent, error) {
	var a model.Agent
	dest, done := agentDest(&a)
	err := db.r.QueryRowContext(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.id = ?`, id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return model.Agent{}, fmt.Errorf("agent %s: %w", id, model.ErrNotFound)
	}
	if err != nil {
		return model.Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	done()
	return a, nil
}

// UpdateAgentCert records a renewed certificate; ErrNotFound if unknown.
func (db *DB) UpdateAgentCert(ctx context.Context, id, serial string, notAfter time.Time) error {
	res, err := db.w.ExecContext(ctx, `UPDATE agents SET cert_serial = ?, cert_not_after = ? WHERE id = ?`,
		serial, nanos(notAfter), id)
	if err := exactlyOne(res, err, "agent "+id); err != nil {
		return fmt.Errorf("update agent cert: %w", err)
	}
	return nil
}

// RevokeAgent marks the agent revoked at the given time; an agent revoked
// before keeps its first revocation time. ErrNotFound if unknown.
func (db *DB) RevokeAgent(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("revoke agent %s: zero time: %w", id, model.ErrInvalid)
	}
	res, err := db.w.ExecContext(ctx, `UPDATE agents SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
		WHERE id = ?`, nanos(at), id)
	if err := exactlyOne(res, err, "agent "+id); err != nil {
		return fmt.Errorf("revoke agent: %w", err)
	}
	return nil
}

// ListAgents lists every agent, revoked ones included, in enrollment order.
func (db *DB) ListAgents(ctx context.Context) ([]model.Agent, error) {
	return db.agents(ctx, `SELECT `+agentCols+` FROM agents a ORDER BY a.enrolled_at, a.id`)
}

// AgentsByFingerprint lists the agents enrolled with a hardware fingerprint,
// in enrollment order.
func (db *DB) AgentsByFingerprint(ctx context.Context, fp string) ([]model.Agent, error) {
	return db.agents(ctx, `SELECT `+agentCols+` FROM agents a WHERE a.fingerprint = ? ORDER BY a.enrolled_at, a.id`, fp)
}

func (db *DB) agents(ctx context.Context, query string, args ...any) ([]model.Agent, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	defer rows.Close()
	var as []model.Agent
	for rows.Next() {
		var a model.Agent
		dest, done := agentDest(&a)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		done()
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return as, nil
}
