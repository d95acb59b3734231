package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

const insertAudit = `INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)`

// appendAudit appends e to the audit log inside tx, so that a change and its
// audit entry commit together.
// auditChange appends the audit entry of a register change in tx: the detail
// is {"before": …, "after": …}, each side as toJSON renders it and null for
// none (an added or removed item).
func auditChange[T, J any](ctx context.Context, tx *sql.Tx, action, subject string, before, after *T, toJSON func(T) J, actor string, at time.Time) error {
	conv := func(v *T) *J {
		if v == nil {
			return nil
		}
		j := toJSON(*v)
		return &j
	}
	b, err := json.Marshal(struct {
		Before *J `json:"before"`
		After  *J `json:"after"`
	}{conv(before), conv(after)})
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, subject, err)
	}
	return appendAudit(ctx, tx, model.AuditEvent{At: at, Actor: actor, Action: action, Subject: subject, Detail: string(b)})
}

func appendAudit(ctx context.Context, tx *sql.Tx, e model.AuditEvent) error {
	if _, err := tx.ExecContext(ctx, insertAudit, nanos(e.At), e.Actor, e.Action, e.Subject, e.Detail); err != nil {
		return fmt.Errorf("append audit %s: %w", e.Action, err)
	}
	return nil
}

// AppendAudit appends e to the audit log and returns the seq it got. Seqs only
// grow and are never reused; the log refuses updates and deletes.
func (db *DB) AppendAudit(ctx context.Context, e model.AuditEvent) (int64, error) {
	if e.Action == "" {
		return 0, fmt.Errorf("append audit: empty action: %w", model.ErrInvalid)
	}
	res, err := db.w.ExecContext(ctx, insertAudit, nanos(e.At), e.Actor, e.Action, e.Subject, e.Detail)
	if err != nil {
		return 0, fmt.Errorf("append audit %s: %w", e.Action, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("append audit %s: %w", e.Action, err)
	}
	return seq, nil
}

// ListAudit returns audit events with seq > afterSeq in seq order, at most
// limit (which must be positive).
func (db *DB) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]model.AuditEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list audit: limit %d: %w", limit, model.ErrInvalid)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, at, actor, action, subject, detail FROM audit_log
		WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var es []model.AuditEvent
	for rows.Next() {
		var e model.AuditEvent
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = fromNanos(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return es, nil
}

// DefaultPolicy is the policy in force before any was stored.
func DefaultPolicy() wire.Policy {
	return wire.Policy{Version: 1, HealthInterval: 60, InventoryInterval: 3600, RenewAfter: 2.0 / 3}
}

// CurrentPolicy returns the newest stored policy, or DefaultPolicy.
func (db *DB) CurrentPolicy(ctx context.Context) (wire.Policy, error) {
	var body string
	err := db.r.QueryRowContext(ctx, `SELECT body FROM policies ORDER BY version DESC LIMIT 1`).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPolicy(), nil
	}
	if err != nil {
		return wire.Policy{}, fmt.Errorf("current policy: %w", err)
	}
	var p wire.Policy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return wire.Policy{}, fmt.Errorf("current policy: %w", err)
	}
	return p, nil
}

// SetPolicy stores p as the newest policy, with an audit entry holding it, in
// one transaction. Its version must be higher than the current one (the
// default counts as version 1), else ErrConflict.
func (db *DB) SetPolicy(ctx context.Context, p wire.Policy) error {
	if p.Version > 1<<62 {
		return fmt.Errorf("set policy: version %d: %w", p.Version, model.ErrInvalid)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("set policy %d: %w", p.Version, err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), ?) FROM policies`, int64(DefaultPolicy().Version)).Scan(&cur); err != nil {
			return err
		}
		if int64(p.Version) <= cur {
			return fmt.Errorf("version %d is not above the current %d: %w", p.Version, cur, model.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO policies (version, body) VALUES (?, ?)`, int64(p.Version), string(body)); err != nil {
			return err
		}
		// Every policy change is a state change the audit log must hold.
		return appendAudit(ctx, tx, model.AuditEvent{
			At: time.Now(), Actor: "system", Action: "policy.set",
			Subject: fmt.Sprintf("policy %d", p.Version), Detail: string(body),
		})
	})
	if err != nil {
		return fmt.Errorf("set policy: %w", err)
	}
	return nil
}
