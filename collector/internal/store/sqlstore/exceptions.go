package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Exception audit actions.
const (
	auditExceptionGrant  = "exception.grant"
	auditExceptionRevoke = "exception.revoke"
)

const exceptionCols = `id, rule, subject, reason, approved_by, created_at, expires, revoked_at, revoked_by, deviation_id`

func scanException(s interface{ Scan(...any) error }) (model.Exception, error) {
	var x model.Exception
	var created, expires, revoked int64
	if err := s.Scan(&x.ID, &x.Rule, &x.Subject, &x.Reason, &x.ApprovedBy, &created, &expires, &revoked, &x.RevokedBy, &x.DeviationID); err != nil {
		return model.Exception{}, err
	}
	x.CreatedAt, x.Expires, x.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(revoked)
	return x, nil
}

// exceptionJSON is an exception in the audit log.
type exceptionJSON struct {
	ID          string `json:"id"`
	Rule        string `json:"rule"`
	Subject     string `json:"subject"`
	Reason      string `json:"reason"`
	ApprovedBy  string `json:"approved_by"`
	CreatedAt   string `json:"created_at"`
	Expires     string `json:"expires"`
	RevokedAt   string `json:"revoked_at,omitempty"`
	RevokedBy   string `json:"revoked_by,omitempty"`
	DeviationID string `json:"deviation_id,omitempty"`
}

func toExceptionJSON(x model.Exception) exceptionJSON {
	j := exceptionJSON{ID: x.ID, Rule: x.Rule, Subject: x.Subject, Reason: x.Reason, ApprovedBy: x.ApprovedBy,
		CreatedAt: x.CreatedAt.UTC().Format(time.RFC3339Nano), Expires: x.Expires.UTC().Format(time.RFC3339Nano),
		RevokedBy: x.RevokedBy, DeviationID: x.DeviationID}
	if !x.RevokedAt.IsZero() {
		j.RevokedAt = x.RevokedAt.UTC().Format(time.RFC3339Nano)
	}
	return j
}

// GrantException approves an exception for the rule and subject of an open
// deviation and closes the deviation in the same transaction, with timeline
// and audit entries for both.
func (db *DB) GrantException(ctx context.Context, deviationID, reason, actor string, expires, now time.Time) (model.Exception, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return model.Exception{}, fmt.Errorf("grant exception for %s: a reason is required: %w", deviationID, model.ErrInvalid)
	case !expires.After(now):
		return model.Exception{}, fmt.Errorf("grant exception for %s: expiry %s is not after now: %w", deviationID, expires.Format(time.RFC3339), model.ErrInvalid)
	case expires.After(now.AddDate(model.MaxExceptionYears, 0, 0)):
		return model.Exception{}, fmt.Errorf("grant exception for %s: expiry %s is more than %d year(s) ahead: %w", deviationID, expires.Format(time.RFC3339), model.MaxExceptionYears, model.ErrInvalid)
	}
	var x model.Exception
	err := db.write(ctx, func(tx *sql.Tx) error {
		var rule, subject, status string
		err := tx.QueryRowContext(ctx, `SELECT rule, subject, status FROM deviations WHERE id = ?`, deviationID).Scan(&rule, &subject, &status)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !model.StatusOpen(status) {
			return fmt.Errorf("deviation is %q, not open: %w", status, model.ErrInvalid)
		}
		year := now.UTC().Year()
		var n int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO exception_seq (year, n) VALUES (?, 1)
			ON CONFLICT (year) DO UPDATE SET n = exception_seq.n + 1 RETURNING n`, year).Scan(&n); err != nil {
			return fmt.Errorf("next exception id: %w", err)
		}
		x = model.Exception{ID: fmt.Sprintf("UNNTAK-%d-%d", year, n), Rule: rule, Subject: subject, Reason: reason,
			ApprovedBy: actor, CreatedAt: now, Expires: expires, DeviationID: deviationID}
		if _, err := tx.ExecContext(ctx, `INSERT INTO exceptions (id, year, n, rule, subject, reason, approved_by,
			created_at, expires, deviation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			x.ID, year, n, rule, subject, reason, actor, nanos(now), nanos(expires), deviationID); err != nil {
			return fmt.Errorf("insert %s: %w", x.ID, err)
		}
		if err := auditChange(ctx, tx, auditExceptionGrant, x.ID, nil, &x, toExceptionJSON, actor, now); err != nil {
			return err
		}
		closing := "exception " + x.ID + ": " + reason
		if _, err := tx.ExecContext(ctx, `UPDATE deviations SET status = ?, updated_at = ? WHERE id = ?`,
			model.StatusClosed, nanos(now), deviationID); err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, deviationID, model.TimelineEvent{At: now, Actor: actor, Type: model.TimelineException,
			Text: closing, Detail: mustJSON(map[string]string{"exception": x.ID, "expires": expires.UTC().Format(time.RFC3339)})}); err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, deviationID, model.TimelineEvent{At: now, Actor: actor, Type: model.TimelineStatus,
			Text: closing, Detail: mustJSON(map[string]string{"from": status, "to": model.StatusClosed})}); err != nil {
			return err
		}
		return appendAudit(ctx, tx, model.AuditEvent{At: now, Actor: actor, Action: auditDeviationStatus, Subject: deviationID,
			Detail: mustJSON(map[string]string{"from": status, "to": model.StatusClosed, "reason": closing})})
	})
	if err != nil {
		return model.Exception{}, fmt.Errorf("grant exception for deviation %s: %w", deviationID, err)
	}
	return x, nil
}

// ListExceptions returns every exception, newest first.
func (db *DB) ListExceptions(ctx context.Context) ([]model.Exception, error) {
	xs, err := db.queryExceptions(ctx, `SELECT `+exceptionCols+` FROM exceptions ORDER BY created_at DESC, year DESC, n DESC`)
	if err != nil {
		return nil, fmt.Errorf("list exceptions: %w", err)
	}
	return xs, nil
}

// ActiveExceptions returns the exceptions neither revoked nor expired at now.
func (db *DB) ActiveExceptions(ctx context.Context, now time.Time) ([]model.Exception, error) {
	xs, err := db.queryExceptions(ctx, `SELECT `+exceptionCols+` FROM exceptions
		WHERE revoked_at = 0 AND expires > ? ORDER BY year, n`, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("active exceptions: %w", err)
	}
	return xs, nil
}

func (db *DB) queryExceptions(ctx context.Context, query string, args ...any) ([]model.Exception, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var xs []model.Exception
	for rows.Next() {
		x, err := scanException(rows)
		if err != nil {
			return nil, err
		}
		xs = append(xs, x)
	}
	return xs, rows.Err()
}

// RevokeException revokes an exception, with an audit entry holding it
// before and after.
func (db *DB) RevokeException(ctx context.Context, id, actor string, now time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		before, err := scanException(tx.QueryRowContext(ctx, `SELECT `+exceptionCols+` FROM exceptions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !before.RevokedAt.IsZero() {
			return fmt.Errorf("already revoked: %w", model.ErrInvalid)
		}
		after := before
		after.RevokedAt, after.RevokedBy = now, actor
		if _, err := tx.ExecContext(ctx, `UPDATE exceptions SET revoked_at = ?, revoked_by = ? WHERE id = ?`,
			nanos(now), actor, id); err != nil {
			return err
		}
		return auditChange(ctx, tx, auditExceptionRevoke, id, &before, &after, toExceptionJSON, actor, now)
	})
	if err != nil {
		return fmt.Errorf("revoke exception %s: %w", id, err)
	}
	return nil
}
