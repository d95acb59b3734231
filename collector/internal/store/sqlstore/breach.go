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

// Breach audit actions.
const (
	auditBreachDecide   = "breach.decide"
	auditBreachEscalate = "breach.escalate"
)

// breachJSON is a breach decision in the audit log and the timeline.
type breachJSON struct {
	Decision   string `json:"decision"`
	Rationale  string `json:"rationale"`
	Art34      bool   `json:"art34"`
	NotifiedAt string `json:"notified_at,omitempty"`
	Reference  string `json:"reference,omitempty"`
	DecidedBy  string `json:"decided_by"`
	DecidedAt  string `json:"decided_at"`
}

func toBreachJSON(d model.BreachDecision) breachJSON {
	j := breachJSON{Decision: d.Decision, Rationale: d.Rationale, Art34: d.Art34, Reference: d.Reference,
		DecidedBy: d.DecidedBy, DecidedAt: d.DecidedAt.UTC().Format(time.RFC3339Nano)}
	if !d.NotifiedAt.IsZero() {
		j.NotifiedAt = d.NotifiedAt.UTC().Format(time.RFC3339Nano)
	}
	return j
}

// checkBreachDecision refuses a decision that is not complete.
func checkBreachDecision(d model.BreachDecision) error {
	switch {
	case d.Decision != model.BreachNotify && d.Decision != model.BreachNoNotify:
		return fmt.Errorf("unknown decision %q: %w", d.Decision, model.ErrInvalid)
	case strings.TrimSpace(d.Rationale) == "":
		return fmt.Errorf("a rationale is required: %w", model.ErrInvalid)
	case d.Decision == model.BreachNotify && d.NotifiedAt.IsZero():
		return fmt.Errorf("notify without the time Datatilsynet was notified: %w", model.ErrInvalid)
	case d.DecidedAt.IsZero():
		return fmt.Errorf("no decision time: %w", model.ErrInvalid)
	}
	return nil
}

// DecideBreach records the decision on a deviation with personal data,
// replacing an earlier one, with a timeline and an audit entry holding the
// decision before and after.
func (db *DB) DecideBreach(ctx context.Context, d model.BreachDecision) error {
	if err := checkBreachDecision(d); err != nil {
		return fmt.Errorf("decide breach %s: %w", d.DeviationID, err)
	}
	if d.Decision == model.BreachNoNotify {
		d.NotifiedAt, d.Reference = time.Time{}, ""
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var personal bool
		err := tx.QueryRowContext(ctx, `SELECT personal_data FROM deviations WHERE id = ?`, d.DeviationID).Scan(&personal)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !personal {
			return fmt.Errorf("the deviation involves no personal data: %w", model.ErrInvalid)
		}
		before, err := breachDecision(ctx, tx, d.DeviationID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO breach_decisions (deviation_id, decision, rationale, art34,
			notified_at, reference, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (deviation_id) DO UPDATE SET decision = excluded.decision, rationale = excluded.rationale,
			art34 = excluded.art34, notified_at = excluded.notified_at, reference = excluded.reference,
			decided_by = excluded.decided_by, decided_at = excluded.decided_at`,
			d.DeviationID, d.Decision, d.Rationale, d.Art34, nanos(d.NotifiedAt), d.Reference, d.DecidedBy, nanos(d.DecidedAt)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deviations SET updated_at = max(updated_at, ?) WHERE id = ?`,
			nanos(d.DecidedAt), d.DeviationID); err != nil {
			return err
		}
		detail := struct {
			Before *breachJSON `json:"before"`
			After  breachJSON  `json:"after"`
		}{After: toBreachJSON(d)}
		if before != nil {
			b := toBreachJSON(*before)
			detail.Before = &b
		}
		if err := appendTimeline(ctx, tx, d.DeviationID, model.TimelineEvent{At: d.DecidedAt, Actor: d.DecidedBy,
			Type: model.TimelineBreachDecision, Text: d.Rationale, Detail: mustJSON(detail)}); err != nil {
			return err
		}
		return auditChange(ctx, tx, auditBreachDecide, d.DeviationID, before, &d, toBreachJSON, d.DecidedBy, d.DecidedAt)
	})
	if err != nil {
		return fmt.Errorf("decide breach %s: %w", d.DeviationID, err)
	}
	return nil
}

const breachCols = `decision, rationale, art34, notified_at, reference, decided_by, decided_at`

// breachDecision returns the decision on a deviation; nil when none.
func breachDecision(ctx context.Context, tx *sql.Tx, id string) (*model.BreachDecision, error) {
	d := model.BreachDecision{DeviationID: id}
	var notified, decided int64
	err := tx.QueryRowContext(ctx, `SELECT `+breachCols+` FROM breach_decisions WHERE deviation_id = ?`, id).
		Scan(&d.Decision, &d.Rationale, &d.Art34, &notified, &d.Reference, &d.DecidedBy, &decided)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read breach decision: %w", err)
	}
	d.NotifiedAt, d.DecidedAt = fromNanos(notified), fromNanos(decided)
	return &d, nil
}

// GetBreachDecision returns the current decision on a deviation; nil when
// it has none.
func (db *DB) GetBreachDecision(ctx context.Context, deviationID string) (*model.BreachDecision, error) {
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("get breach decision %s: %w", deviationID, err)
	}
	defer tx.Rollback()
	d, err := breachDecision(ctx, tx, deviationID)
	if err != nil {
		return nil, fmt.Errorf("get breach decision %s: %w", deviationID, err)
	}
	return d, nil
}

// BreachRegister returns every deviation with personal data, oldest T0
// first, with its decision and escalation.
func (db *DB) BreachRegister(ctx context.Context) ([]model.BreachEntry, error) {
	cols := strings.ReplaceAll(deviationCols, "\n\t", " ")
	rows, err := db.r.QueryContext(ctx, `SELECT `+prefixCols("d.", cols)+`,
		b.deviation_id IS NOT NULL, coalesce(b.decision, ''), coalesce(b.rationale, ''), coalesce(b.art34, 0),
		coalesce(b.notified_at, 0), coalesce(b.reference, ''), coalesce(b.decided_by, ''), coalesce(b.decided_at, 0),
		coalesce(e.at, 0)
		FROM deviations d
		LEFT JOIN breach_decisions b ON b.deviation_id = d.id
		LEFT JOIN breach_escalations e ON e.deviation_id = d.id
		WHERE d.personal_data = 1 ORDER BY d.breach_t0, d.year, d.n`)
	if err != nil {
		return nil, fmt.Errorf("breach register: %w", err)
	}
	defer rows.Close()
	var out []model.BreachEntry
	for rows.Next() {
		var (
			be                         model.BreachEntry
			decided                    bool
			b                          model.BreachDecision
			notified, decidedAt, escAt int64
		)
		dest := []any{&decided, &b.Decision, &b.Rationale, &b.Art34, &notified, &b.Reference, &b.DecidedBy, &decidedAt, &escAt}
		d, err := scanDeviation(scanWith(rows, dest))
		if err != nil {
			return nil, fmt.Errorf("breach register: %w", err)
		}
		be.Deviation = d
		if decided {
			b.DeviationID = d.ID
			b.NotifiedAt, b.DecidedAt = fromNanos(notified), fromNanos(decidedAt)
			be.Decision = &b
		}
		be.EscalatedAt = fromNanos(escAt)
		out = append(out, be)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("breach register: %w", err)
	}
	return out, nil
}

// prefixCols qualifies a comma-separated column list with a table alias.
func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// extraScanner scans a row into a deviation's columns followed by more.
type extraScanner struct {
	rows  *sql.Rows
	extra []any
}

func (s extraScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }

func scanWith(rows *sql.Rows, extra []any) extraScanner { return extraScanner{rows, extra} }

// EscalateBreaches escalates, once each, the open deviations with personal
// data past their breach deadline and without a decision.
func (db *DB) EscalateBreaches(ctx context.Context, now time.Time) ([]string, error) {
	var ids []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT d.id, d.breach_due FROM deviations d
			WHERE d.personal_data = 1 AND d.status IN (?, ?) AND d.breach_due > 0 AND d.breach_due < ?
			AND NOT EXISTS (SELECT 1 FROM breach_decisions b WHERE b.deviation_id = d.id)
			AND NOT EXISTS (SELECT 1 FROM breach_escalations e WHERE e.deviation_id = d.id)
			ORDER BY d.year, d.n`, model.StatusNew, model.StatusHandling, nanos(now))
		if err != nil {
			return err
		}
		var dues []int64
		for rows.Next() {
			var id string
			var due int64
			if err := rows.Scan(&id, &due); err != nil {
				rows.Close()
				return err
			}
			ids, dues = append(ids, id), append(dues, due)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i, id := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO breach_escalations (deviation_id, at) VALUES (?, ?)`, id, nanos(now)); err != nil {
				return fmt.Errorf("escalate %s: %w", id, err)
			}
			detail := mustJSON(map[string]string{"breach_due": fromNanos(dues[i]).Format(time.RFC3339)})
			if err := appendTimeline(ctx, tx, id, model.TimelineEvent{At: now, Actor: actorSystem, Type: model.TimelineEscalated,
				Text: "breach assessment overdue: no decision 72 hours after awareness", Detail: detail}); err != nil {
				return err
			}
			if err := appendAudit(ctx, tx, model.AuditEvent{At: now, Actor: actorSystem, Action: auditBreachEscalate,
				Subject: id, Detail: detail}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("escalate overdue breach assessments: %w", err)
	}
	return ids, nil
}
