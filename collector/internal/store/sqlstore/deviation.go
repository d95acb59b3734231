package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// maxEvidence is how many evidence references a deviation keeps: those of
// its newest occurrences.
const maxEvidence = 50

// breachWindow is the time from awareness to the breach notification
// deadline (GDPR Art. 33), used when a finding brings no deadline of its own.
const breachWindow = 72 * time.Hour

// actorSystem is the actor of what the collector does by itself.
const actorSystem = "system"

// Deviation audit actions.
const (
	auditDeviationCreate  = "deviation.create"
	auditDeviationStatus  = "deviation.status"
	auditDeviationComment = "deviation.comment"
	auditDeviationAssign  = "deviation.assign"
)

// maxAssignees is the most assignees a deviation takes by hand.
const maxAssignees = 20

const deviationCols = `id, rule, subject, agent_id, title, severity, refs, status, assignees,
	created_at, updated_at, due_at, first_seen, last_seen, count, personal_data, breach_t0, breach_due, facts, evidence`

func scanDeviation(s interface{ Scan(...any) error }) (model.Deviation, error) {
	var d model.Deviation
	var refs, assignees, facts, evidence string
	var created, updated, due, first, last, t0, breachDue int64
	if err := s.Scan(&d.ID, &d.Rule, &d.Subject, &d.AgentID, &d.Title, &d.Severity, &refs, &d.Status, &assignees,
		&created, &updated, &due, &first, &last, &d.Count, &d.PersonalData, &t0, &breachDue, &facts, &evidence); err != nil {
		return model.Deviation{}, err
	}
	d.CreatedAt, d.UpdatedAt, d.DueAt = fromNanos(created), fromNanos(updated), fromNanos(due)
	d.FirstSeen, d.LastSeen = fromNanos(first), fromNanos(last)
	d.BreachT0, d.BreachDue = fromNanos(t0), fromNanos(breachDue)
	for _, f := range []struct {
		col string
		src string
		dst any
	}{{"refs", refs, &d.Refs}, {"assignees", assignees, &d.Assignees}, {"facts", facts, &d.Facts}, {"evidence", evidence, &d.Evidence}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return model.Deviation{}, fmt.Errorf("deviation %s: %s: %w", d.ID, f.col, err)
		}
	}
	// Empty collections read back as nil, as they were most likely written.
	if len(d.Refs) == 0 {
		d.Refs = nil
	}
	if len(d.Assignees) == 0 {
		d.Assignees = nil
	}
	if len(d.Facts) == 0 {
		d.Facts = nil
	}
	if len(d.Evidence) == 0 {
		d.Evidence = nil
	}
	return d, nil
}

// jsonText encodes v for a JSON column; nil slices and maps become empty ones.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	if string(b) != "null" {
		return string(b), nil
	}
	if _, ok := v.(map[string]string); ok {
		return "{}", nil
	}
	return "[]", nil
}

// mustJSON encodes a value that always encodes: the details this file builds.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// lastEvidence keeps the newest maxEvidence references.
func lastEvidence(es []model.EvidenceRef) []model.EvidenceRef {
	if len(es) > maxEvidence {
		es = es[len(es)-maxEvidence:]
	}
	return es
}

func validSeverity(s string) bool {
	switch s {
	case model.SeverityLow, model.SeverityMedium, model.SeverityHigh, model.SeverityCritical:
		return true
	}
	return false
}

// RecordFindings stores findings in one transaction, in order: a finding
// whose rule and subject have an open deviation adds an occurrence to it
// (count, first and last seen, evidence); otherwise a deviation opens with the
// next id of now's year (UTC), a "created" timeline entry and an audit entry.
// An occurrence seen on another agent than the deviation's gets an
// "occurrence" timeline entry the first time that agent appears. The media
// events and hourly flows named in judged are marked judged in the same
// transaction.
// ErrInvalid for a finding without rule or subject or with an unknown
// severity; then nothing is stored.
func (db *DB) RecordFindings(ctx context.Context, fs []model.NewDeviation, judged model.Judged, now time.Time) ([]model.RecordResult, error) {
	for i, f := range fs {
		if f.Rule == "" || f.Subject == "" || !validSeverity(f.Severity) {
			return nil, fmt.Errorf("record findings: finding %d (rule %q, subject %q, severity %q): %w", i, f.Rule, f.Subject, f.Severity, model.ErrInvalid)
		}
	}
	var res []model.RecordResult
	err := db.write(ctx, func(tx *sql.Tx) error {
		res = make([]model.RecordResult, 0, len(fs))
		for _, f := range fs {
			r, err := recordFinding(ctx, tx, f, now)
			if err != nil {
				return fmt.Errorf("finding %s %s: %w", f.Rule, f.Subject, err)
			}
			res = append(res, r)
		}
		if err := markJudged(ctx, tx, "media_log", "media event", judged.Media); err != nil {
			return err
		}
		return markJudged(ctx, tx, "flow_hours", "hourly flow", judged.Flows)
	})
	if err != nil {
		return nil, fmt.Errorf("record findings: %w", err)
	}
	return res, nil
}

// markJudged marks the rows of table with the given ids judged; what names
// a row in errors.
func markJudged(ctx context.Context, tx *sql.Tx, table, what string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `UPDATE `+table+` SET evaluated = 1 WHERE id = ? AND evaluated = 0`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, id := range ids {
		if _, err := stmt.ExecContext(ctx, id); err != nil {
			return fmt.Errorf("mark %s %d judged: %w", what, id, err)
		}
	}
	return nil
}

func recordFinding(ctx context.Context, tx *sql.Tx, f model.NewDeviation, now time.Time) (model.RecordResult, error) {
	seen := f.At
	if seen.IsZero() {
		seen = now
	}
	var id, agentID, evidence string
	err := tx.QueryRowContext(ctx, `SELECT id, agent_id, evidence FROM deviations
		WHERE rule = ? AND subject = ? AND status IN (?, ?)`,
		f.Rule, f.Subject, model.StatusNew, model.StatusHandling).Scan(&id, &agentID, &evidence)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		id, err := createDeviation(ctx, tx, f, seen, now)
		return model.RecordResult{ID: id, Created: true}, err
	case err != nil:
		return model.RecordResult{}, fmt.Errorf("find open deviation: %w", err)
	}

	var es []model.EvidenceRef
	if err := json.Unmarshal([]byte(evidence), &es); err != nil {
		return model.RecordResult{}, fmt.Errorf("evidence of %s: %w", id, err)
	}
	ev, err := jsonText(lastEvidence(append(es, f.Evidence...)))
	if err != nil {
		return model.RecordResult{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE deviations SET count = count + 1,
		first_seen = min(first_seen, ?), last_seen = max(last_seen, ?), evidence = ?, updated_at = max(updated_at, ?)
		WHERE id = ?`, nanos(seen), nanos(seen), ev, nanos(now), id); err != nil {
		return model.RecordResult{}, fmt.Errorf("add occurrence to %s: %w", id, err)
	}
	if f.AgentID != "" && f.AgentID != agentID {
		// Another host: the timeline says so, once per host.
		detail := mustJSON(struct {
			AgentID string `json:"agent_id"`
		}{f.AgentID})
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM deviation_timeline
			WHERE deviation_id = ? AND type = ? AND detail = ?`, id, model.TimelineOccurrence, detail).Scan(&n); err != nil {
			return model.RecordResult{}, err
		}
		if n == 0 {
			if err := appendTimeline(ctx, tx, id, model.TimelineEvent{At: now, Actor: actorSystem,
				Type: model.TimelineOccurrence, Text: "seen on agent " + f.AgentID, Detail: detail}); err != nil {
				return model.RecordResult{}, err
			}
		}
	}
	return model.RecordResult{ID: id}, nil
}

// createDeviation opens a deviation for f with the next id of now's year.
func createDeviation(ctx context.Context, tx *sql.Tx, f model.NewDeviation, seen, now time.Time) (string, error) {
	year := now.UTC().Year()
	var n int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO deviation_seq (year, n) VALUES (?, 1)
		ON CONFLICT (year) DO UPDATE SET n = deviation_seq.n + 1 RETURNING n`, year).Scan(&n); err != nil {
		return "", fmt.Errorf("next deviation id: %w", err)
	}
	id := fmt.Sprintf("AVVIK-%d-%d", year, n)

	var t0, breachDue time.Time
	if f.PersonalData {
		t0, breachDue = seen, f.BreachDue
		if breachDue.IsZero() {
			breachDue = t0.Add(breachWindow)
		}
	}
	refs, err := jsonText(f.Refs)
	if err != nil {
		return "", err
	}
	assignees, err := jsonText(f.Assignees)
	if err != nil {
		return "", err
	}
	facts, err := jsonText(f.Facts)
	if err != nil {
		return "", err
	}
	evidence, err := jsonText(lastEvidence(f.Evidence))
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO deviations (id, year, n, rule, subject, agent_id, title, severity, refs,
		status, assignees, created_at, updated_at, due_at, first_seen, last_seen, count, personal_data,
		breach_t0, breach_due, facts, evidence)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`,
		id, year, n, f.Rule, f.Subject, f.AgentID, f.Title, f.Severity, refs,
		model.StatusNew, assignees, nanos(now), nanos(now), nanos(f.DueAt), nanos(seen), nanos(seen), f.PersonalData,
		nanos(t0), nanos(breachDue), facts, evidence); err != nil {
		return "", fmt.Errorf("create %s: %w", id, err)
	}
	detail := mustJSON(struct {
		Rule      string   `json:"rule"`
		Subject   string   `json:"subject"`
		AgentID   string   `json:"agent_id,omitempty"`
		Severity  string   `json:"severity"`
		Assignees []string `json:"assignees,omitempty"`
	}{f.Rule, f.Subject, f.AgentID, f.Severity, f.Assignees})
	if err := appendTimeline(ctx, tx, id, model.TimelineEvent{At: now, Actor: actorSystem,
		Type: model.TimelineCreated, Text: f.Title, Detail: detail}); err != nil {
		return "", err
	}
	if err := appendAudit(ctx, tx, model.AuditEvent{At: now, Actor: actorSystem, Action: auditDeviationCreate,
		Subject: id, Detail: detail}); err != nil {
		return "", err
	}
	return id, nil
}

func appendTimeline(ctx context.Context, tx *sql.Tx, id string, e model.TimelineEvent) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO deviation_timeline (deviation_id, at, actor, type, text, detail)
		VALUES (?, ?, ?, ?, ?, ?)`, id, nanos(e.At), e.Actor, e.Type, e.Text, e.Detail); err != nil {
		return fmt.Errorf("append %s to the timeline of %s: %w", e.Type, id, err)
	}
	return nil
}

// GetDeviation returns a deviation and its timeline, oldest first, as of one
// moment; ErrNotFound for an unknown id.
func (db *DB) GetDeviation(ctx context.Context, id string) (model.Deviation, []model.TimelineEvent, error) {
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return model.Deviation{}, nil, fmt.Errorf("get deviation %s: %w", id, err)
	}
	defer tx.Rollback()
	d, err := scanDeviation(tx.QueryRowContext(ctx, `SELECT `+deviationCols+` FROM deviations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return model.Deviation{}, nil, fmt.Errorf("deviation %s: %w", id, model.ErrNotFound)
	}
	if err != nil {
		return model.Deviation{}, nil, fmt.Errorf("get deviation %s: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, at, actor, type, text, detail FROM deviation_timeline
		WHERE deviation_id = ? ORDER BY seq`, id)
	if err != nil {
		return model.Deviation{}, nil, fmt.Errorf("get deviation %s: timeline: %w", id, err)
	}
	defer rows.Close()
	var tl []model.TimelineEvent
	for rows.Next() {
		var e model.TimelineEvent
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Type, &e.Text, &e.Detail); err != nil {
			return model.Deviation{}, nil, fmt.Errorf("get deviation %s: timeline: %w", id, err)
		}
		e.At = fromNanos(at)
		tl = append(tl, e)
	}
	if err := rows.Err(); err != nil {
		return model.Deviation{}, nil, fmt.Errorf("get deviation %s: timeline: %w", id, err)
	}
	return d, tl, nil
}

// ListDeviations returns deviations newest first (by creation, then number),
// filtered by status ("open" for ny and under behandling), rule, agent and
// subject; ErrInvalid for an unknown status or without a positive limit.
func (db *DB) ListDeviations(ctx context.Context, q model.DeviationQuery) ([]model.Deviation, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("list deviations: limit %d: %w", q.Limit, model.ErrInvalid)
	}
	var where []string
	var args []any
	switch q.Status {
	case "":
	case "open":
		where, args = append(where, "status IN (?, ?)"), append(args, model.StatusNew, model.StatusHandling)
	case model.StatusNew, model.StatusHandling, model.StatusClosed, model.StatusRejected:
		where, args = append(where, "status = ?"), append(args, q.Status)
	default:
		return nil, fmt.Errorf("list deviations: status %q: %w", q.Status, model.ErrInvalid)
	}
	for _, f := range []struct{ col, val string }{{"rule", q.Rule}, {"agent_id", q.AgentID}, {"subject", q.Subject}, {"severity", q.Severity}} {
		if f.val != "" {
			where, args = append(where, f.col+" = ?"), append(args, f.val)
		}
	}
	query := `SELECT ` + deviationCols + ` FROM deviations`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := db.r.QueryContext(ctx, query+` ORDER BY created_at DESC, year DESC, n DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deviations: %w", err)
	}
	defer rows.Close()
	var ds []model.Deviation
	for rows.Next() {
		d, err := scanDeviation(rows)
		if err != nil {
			return nil, fmt.Errorf("list deviations: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deviations: %w", err)
	}
	return ds, nil
}

// statusSteps are the allowed status changes: a deviation is handled before
// it is closed, and may be rejected while open.
var statusSteps = map[[2]string]bool{
	{model.StatusNew, model.StatusHandling}:      true,
	{model.StatusHandling, model.StatusClosed}:   true,
	{model.StatusNew, model.StatusRejected}:      true,
	{model.StatusHandling, model.StatusRejected}: true,
}

// SetDeviationStatus moves a deviation along ny -> under behandling -> lukket,
// or from ny or under behandling to avvist, with a timeline and an audit entry
// naming actor and reason. Closing and rejecting need a reason. ErrNotFound
// for an unknown id; ErrInvalid for any other step or a missing reason.
func (db *DB) SetDeviationStatus(ctx context.Context, id, status, actor, reason string, now time.Time) error {
	switch status {
	case model.StatusNew, model.StatusHandling:
	case model.StatusClosed, model.StatusRejected:
		if strings.TrimSpace(reason) == "" {
			return fmt.Errorf("set status of deviation %s to %q: a reason is required: %w", id, status, model.ErrInvalid)
		}
	default:
		return fmt.Errorf("set status of deviation %s: unknown status %q: %w", id, status, model.ErrInvalid)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var from string
		err := tx.QueryRowContext(ctx, `SELECT status FROM deviations WHERE id = ?`, id).Scan(&from)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !statusSteps[[2]string{from, status}] {
			return fmt.Errorf("%q -> %q is not an allowed step: %w", from, status, model.ErrInvalid)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deviations SET status = ?, updated_at = ? WHERE id = ?`,
			status, nanos(now), id); err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, id, model.TimelineEvent{At: now, Actor: actor, Type: model.TimelineStatus,
			Text: reason, Detail: mustJSON(map[string]string{"from": from, "to": status})}); err != nil {
			return err
		}
		return appendAudit(ctx, tx, model.AuditEvent{At: now, Actor: actor, Action: auditDeviationStatus, Subject: id,
			Detail: mustJSON(map[string]string{"from": from, "to": status, "reason": reason})})
	})
	if err != nil {
		return fmt.Errorf("set status of deviation %s: %w", id, err)
	}
	return nil
}

// CommentDeviation appends a comment to a deviation's timeline and the audit
// log; ErrNotFound for an unknown id, ErrInvalid for an empty text.
func (db *DB) CommentDeviation(ctx context.Context, id, actor, text string, now time.Time) error {
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("comment deviation %s: empty text: %w", id, model.ErrInvalid)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE deviations SET updated_at = max(updated_at, ?) WHERE id = ?`, nanos(now), id)
		if err := exactlyOne(r, err, "deviation"); err != nil {
			return err
		}
		if err := appendTimeline(ctx, tx, id, model.TimelineEvent{At: now, Actor: actor, Type: model.TimelineComment, Text: text}); err != nil {
			return err
		}
		return appendAudit(ctx, tx, model.AuditEvent{At: now, Actor: actor, Action: auditDeviationComment, Subject: id,
			Detail: mustJSON(map[string]string{"text": text})})
	})
	if err != nil {
		return fmt.Errorf("comment deviation %s: %w", id, err)
	}
	return nil
}

// AssignDeviation replaces the assignees of an open deviation, with an
// "assignment" timeline entry and an audit entry naming the assignees before
// and after, in one transaction. Repeated assignees are kept once.
// ErrNotFound for an unknown id; ErrInvalid for a closed or rejected
// deviation, no assignees, too many, or one not of a known form.
func (db *DB) AssignDeviation(ctx context.Context, id string, assignees []string, actor string, now time.Time) error {
	var as []string
	for _, a := range assignees {
		if !model.ValidAssignee(a) {
			return fmt.Errorf("assign deviation %s: assignee %q: %w", id, a, model.ErrInvalid)
		}
		if !slices.Contains(as, a) {
			as = append(as, a)
		}
	}
	if len(as) == 0 || len(as) > maxAssignees {
		return fmt.Errorf("assign deviation %s: %d assignees, want 1 to %d: %w", id, len(as), maxAssignees, model.ErrInvalid)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var status, before string
		err := tx.QueryRowContext(ctx, `SELECT status, assignees FROM deviations WHERE id = ?`, id).Scan(&status, &before)
		if errors.Is(err, sql.ErrNoRows) {
			return model.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !model.StatusOpen(status) {
			return fmt.Errorf("a deviation in status %q cannot be reassigned: %w", status, model.ErrInvalid)
		}
		var from []string
		if err := json.Unmarshal([]byte(before), &from); err != nil {
			return fmt.Errorf("assignees: %w", err)
		}
		after, err := jsonText(as)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deviations SET assignees = ?, updated_at = max(updated_at, ?) WHERE id = ?`,
			after, nanos(now), id); err != nil {
			return err
		}
		detail := mustJSON(struct {
			From []string `json:"from"`
			To   []string `json:"to"`
		}{nonNilStrings(from), as})
		if err := appendTimeline(ctx, tx, id, model.TimelineEvent{At: now, Actor: actor, Type: model.TimelineAssignment,
			Text: strings.Join(as, ", "), Detail: detail}); err != nil {
			return err
		}
		return appendAudit(ctx, tx, model.AuditEvent{At: now, Actor: actor, Action: auditDeviationAssign, Subject: id, Detail: detail})
	})
	if err != nil {
		return fmt.Errorf("assign deviation %s: %w", id, err)
	}
	return nil
}

func nonNilStrings(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}
