package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// auditDeviationCleared is the audit action of a standing condition that
// cleared under an open deviation.
const auditDeviationCleared = "deviation.cleared"

// RecordStanding stores one evaluation of a rule's standing conditions in
// one transaction (see model.FindingStore): a finding whose condition is not
// active activates it and goes through RecordFindings' dedupe; an active one
// only moves its last seen time; an active condition in scope (nil: every
// subject of the rule) that fs does not name is cleared, with a "cleared"
// timeline entry and an audit entry on its open deviation, if any. A subject
// named twice in fs counts once.
func (db *DB) RecordStanding(ctx context.Context, rule string, scope []string, fs []model.NewDeviation, now time.Time) ([]model.RecordResult, error) {
	if rule == "" {
		return nil, fmt.Errorf("record standing conditions: no rule: %w", model.ErrInvalid)
	}
	for i, f := range fs {
		if f.Rule != rule || f.Subject == "" || !validSeverity(f.Severity) {
			return nil, fmt.Errorf("record standing conditions of %s: finding %d (rule %q, subject %q, severity %q): %w",
				rule, i, f.Rule, f.Subject, f.Severity, model.ErrInvalid)
		}
	}
	var res []model.RecordResult
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = recordStanding(ctx, tx, rule, scope, fs, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record standing conditions of %s: %w", rule, err)
	}
	return res, nil
}

func recordStanding(ctx context.Context, tx *sql.Tx, rule string, scope []string, fs []model.NewDeviation, now time.Time) ([]model.RecordResult, error) {
	active, err := activeSubjects(ctx, tx, rule)
	if err != nil {
		return nil, err
	}
	touch, err := tx.PrepareContext(ctx, `UPDATE finding_state SET last_seen = max(last_seen, ?) WHERE rule = ? AND subject = ?`)
	if err != nil {
		return nil, err
	}
	defer touch.Close()
	var res []model.RecordResult
	fired := make(map[string]bool, len(fs))
	for _, f := range fs {
		if fired[f.Subject] {
			continue
		}
		fired[f.Subject] = true
		if active[f.Subject] {
			if scope == nil {
				continue // one statement below moves them all
			}
			if _, err := touch.ExecContext(ctx, nanos(now), rule, f.Subject); err != nil {
				return nil, fmt.Errorf("restate %s: %w", f.Subject, err)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO finding_state (rule, subject, active, since, last_seen, cleared_at)
			VALUES (?, ?, 1, ?, ?, 0)
			ON CONFLICT (rule, subject) DO UPDATE SET active = 1, since = excluded.since, last_seen = excluded.last_seen, cleared_at = 0`,
			rule, f.Subject, nanos(now), nanos(now)); err != nil {
			return nil, fmt.Errorf("activate %s: %w", f.Subject, err)
		}
		r, err := recordFinding(ctx, tx, f, now)
		if err != nil {
			return nil, fmt.Errorf("finding %s: %w", f.Subject, err)
		}
		res = append(res, r)
	}

	var clear []string
	if scope == nil {
		for s := range active {
			if !fired[s] {
				clear = append(clear, s)
			}
		}
		slices.Sort(clear)
	} else {
		seen := make(map[string]bool, len(scope))
		for _, s := range scope {
			if active[s] && !fired[s] && !seen[s] {
				clear = append(clear, s)
			}
			seen[s] = true
		}
	}
	for _, s := range clear {
		r, ok, err := clearStanding(ctx, tx, rule, s, now)
		if err != nil {
			return nil, fmt.Errorf("clear %s: %w", s, err)
		}
		if ok {
			res = append(res, r)
		}
	}
	if scope == nil && len(fired) > 0 {
		// Every active condition left was restated or just activated.
		if _, err := tx.ExecContext(ctx, `UPDATE finding_state SET last_seen = max(last_seen, ?) WHERE rule = ? AND active = 1`,
			nanos(now), rule); err != nil {
			return nil, fmt.Errorf("restate: %w", err)
		}
	}
	return res, nil
}

// activeSubjects returns the subjects of the rule's active conditions.
func activeSubjects(ctx context.Context, tx *sql.Tx, rule string) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT subject FROM finding_state WHERE rule = ? AND active = 1`, rule)
	if err != nil {
		return nil, fmt.Errorf("read active conditions: %w", err)
	}
	defer rows.Close()
	active := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("read active conditions: %w", err)
		}
		active[s] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read active conditions: %w", err)
	}
	return active, nil
}

// clearStanding marks a condition cleared and tells its open deviation, if
// any; ok reports whether there was one.
func clearStanding(ctx context.Context, tx *sql.Tx, rule, subject string, now time.Time) (model.RecordResult, bool, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE finding_state SET active = 0, cleared_at = ? WHERE rule = ? AND subject = ?`,
		nanos(now), rule, subject); err != nil {
		return model.RecordResult{}, false, err
	}
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM deviations WHERE rule = ? AND subject = ? AND status IN (?, ?)`,
		rule, subject, model.StatusNew, model.StatusHandling).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return model.RecordResult{}, false, nil
	}
	if err != nil {
		return model.RecordResult{}, false, fmt.Errorf("find open deviation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deviations SET updated_at = max(updated_at, ?) WHERE id = ?`, nanos(now), id); err != nil {
		return model.RecordResult{}, false, err
	}
	detail := mustJSON(map[string]string{"rule": rule, "subject": subject})
	if err := appendTimeline(ctx, tx, id, model.TimelineEvent{At: now, Actor: actorSystem, Type: model.TimelineCleared,
		Text: "condition cleared", Detail: detail}); err != nil {
		return model.RecordResult{}, false, err
	}
	if err := appendAudit(ctx, tx, model.AuditEvent{At: now, Actor: actorSystem, Action: auditDeviationCleared,
		Subject: id, Detail: detail}); err != nil {
		return model.RecordResult{}, false, err
	}
	return model.RecordResult{ID: id}, true, nil
}

// StandingConditions returns the rule's standing conditions, active or
// cleared, ordered by subject; with rule "", every rule's, ordered by rule
// and subject.
func (db *DB) StandingConditions(ctx context.Context, rule string) ([]model.Standing, error) {
	q := `SELECT rule, subject, active, since, last_seen, cleared_at FROM finding_state`
	var args []any
	if rule != "" {
		q, args = q+` WHERE rule = ?`, append(args, rule)
	}
	rows, err := db.r.QueryContext(ctx, q+` ORDER BY rule, subject`, args...)
	if err != nil {
		return nil, fmt.Errorf("list standing conditions: %w", err)
	}
	defer rows.Close()
	var out []model.Standing
	for rows.Next() {
		var s model.Standing
		var since, last, cleared int64
		if err := rows.Scan(&s.Rule, &s.Subject, &s.Active, &since, &last, &cleared); err != nil {
			return nil, fmt.Errorf("list standing conditions: %w", err)
		}
		s.Since, s.LastSeen, s.ClearedAt = fromNanos(since), fromNanos(last), fromNanos(cleared)
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list standing conditions: %w", err)
	}
	return out, nil
}

// HostAccounts returns the users and sessions of every agent's current
// inventory snapshot, ordered by agent id. Only those two sections of each
// snapshot are decoded; an unreadable snapshot is logged and left out.
func (db *DB) HostAccounts(ctx context.Context) ([]model.HostAccounts, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT agent_id, enc, snapshot FROM inventory_current
		WHERE snapshot IS NOT NULL ORDER BY agent_id`)
	if err != nil {
		return nil, fmt.Errorf("host accounts: %w", err)
	}
	defer rows.Close()
	var out []model.HostAccounts
	for rows.Next() {
		var id string
		var enc int64
		var snap []byte
		if err := rows.Scan(&id, &enc, &snap); err != nil {
			return nil, fmt.Errorf("host accounts: %w", err)
		}
		// Keys 8 and 10 of wire.Inventory: users and sessions.
		var inv struct {
			Users    []wire.User    `cbor:"8,keyasint,omitempty"`
			Sessions []wire.Session `cbor:"10,keyasint,omitempty"`
		}
		if err := (wire.Record{Kind: wire.KindInventory, Enc: uint8(enc), Body: snap}).DecodeBody(&inv); err != nil {
			db.log.Warn("inventory snapshot not readable; host accounts left out", "agent", id, "err", err)
			continue
		}
		out = append(out, model.HostAccounts{AgentID: id, Users: inv.Users, Sessions: inv.Sessions})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("host accounts: %w", err)
	}
	return out, nil
}
