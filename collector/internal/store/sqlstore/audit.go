package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// insertAudit appends one chained entry; appendAudit chooses its seq (the
// previous one plus one) and computes its hash in the same transaction.
const insertAudit = `INSERT INTO audit_log (seq, at, actor, action, subject, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?)`

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

// appendAudit appends e to the audit log inside tx, so that a change and its
// audit entry commit together. It is the only writer of audit_log: the entry
// gets the next seq and its hash links it to the previous entry, both read
// in tx (the writer connection serialises writers, and BEGIN IMMEDIATE keeps
// other processes out until commit).
func appendAudit(ctx context.Context, tx *sql.Tx, e model.AuditEvent) error {
	_, err := appendChained(ctx, tx, e)
	return err
}

// appendChained is appendAudit returning the entry as stored.
func appendChained(ctx context.Context, tx *sql.Tx, e model.AuditEvent) (model.AuditEntry, error) {
	prevSeq, prev, err := auditTail(ctx, tx)
	if err != nil {
		return model.AuditEntry{}, fmt.Errorf("append audit %s: %w", e.Action, err)
	}
	if prev == nil { // entries from before the chain: link them first
		if err := chainUnhashed(ctx, tx); err != nil {
			return model.AuditEntry{}, fmt.Errorf("append audit %s: %w", e.Action, err)
		}
		if prevSeq, prev, err = auditTail(ctx, tx); err != nil {
			return model.AuditEntry{}, fmt.Errorf("append audit %s: %w", e.Action, err)
		}
	}
	en := model.AuditEntry{AuditEvent: e, AtNanos: nanos(e.At)}
	en.Seq = prevSeq + 1
	en.At = fromNanos(en.AtNanos)
	en.Hash = en.Rehash(prev)
	if _, err := tx.ExecContext(ctx, insertAudit, en.Seq, en.AtNanos, e.Actor, e.Action, e.Subject, e.Detail, en.Hash); err != nil {
		return model.AuditEntry{}, fmt.Errorf("append audit %s: %w", e.Action, err)
	}
	return en, nil
}

// auditTail returns the newest entry's seq and hash; 0 and GenesisHash for
// an empty log, a nil hash when the newest entry is not chained yet.
func auditTail(ctx context.Context, q *sql.Tx) (int64, []byte, error) {
	var seq int64
	var h []byte
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &h)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, model.GenesisHash, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return seq, h, nil
}

// chainUnhashed gives the entries without a hash (those written before
// migration 0013) theirs, in seq order, linked to the entry before each. It
// runs in tx, page by page; a log whose entries all have hashes is left as
// it is, so calling it again changes nothing.
func chainUnhashed(ctx context.Context, tx *sql.Tx) error {
	const page = 1000
	for {
		rows, err := tx.QueryContext(ctx, `SELECT seq, at, actor, action, subject, detail FROM audit_log
			WHERE hash IS NULL ORDER BY seq LIMIT ?`, page)
		if err != nil {
			return fmt.Errorf("chain audit log: %w", err)
		}
		var es []model.AuditEntry
		for rows.Next() {
			var e model.AuditEntry
			if err := rows.Scan(&e.Seq, &e.AtNanos, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
				rows.Close()
				return fmt.Errorf("chain audit log: %w", err)
			}
			es = append(es, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("chain audit log: %w", err)
		}
		if len(es) == 0 {
			return nil
		}
		var prev []byte
		err = tx.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT 1`, es[0].Seq).Scan(&prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			prev = model.GenesisHash
		case err != nil:
			return fmt.Errorf("chain audit log: %w", err)
		case prev == nil:
			return fmt.Errorf("chain audit log: entry before %d has no hash", es[0].Seq)
		}
		for _, e := range es {
			h := e.Rehash(prev)
			if _, err := tx.ExecContext(ctx, `UPDATE audit_log SET hash = ? WHERE seq = ? AND hash IS NULL`, h, e.Seq); err != nil {
				return fmt.Errorf("chain audit log: entry %d: %w", e.Seq, err)
			}
			prev = h
		}
	}
}

// chainAuditLog links the entries written before the chain existed, once;
// Open calls it after migrating.
func (db *DB) chainAuditLog(ctx context.Context) error {
	var n int
	if err := db.w.QueryRowContext(ctx, `SELECT count(*) FROM audit_log WHERE hash IS NULL`).Scan(&n); err != nil {
		return fmt.Errorf("chain audit log: %w", err)
	}
	if n == 0 {
		return nil
	}
	if err := db.write(ctx, func(tx *sql.Tx) error { return chainUnhashed(ctx, tx) }); err != nil {
		return err
	}
	db.log.Info("audit log chained", "entries", n)
	return nil
}

// AppendAudit appends e to the audit log and returns the seq it got. Seqs only
// grow and are never reused; the log refuses updates and deletes.
func (db *DB) AppendAudit(ctx context.Context, e model.AuditEvent) (int64, error) {
	if e.Action == "" {
		return 0, fmt.Errorf("append audit: empty action: %w", model.ErrInvalid)
	}
	var seq int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		en, err := appendChained(ctx, tx, e)
		seq = en.Seq
		return err
	})
	if err != nil {
		return 0, err
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

var _ model.AuditChainStore = (*DB)(nil)

const auditEntryCols = `seq, at, actor, action, subject, detail, hash`

func scanAuditEntry(s interface{ Scan(...any) error }) (model.AuditEntry, error) {
	var e model.AuditEntry
	if err := s.Scan(&e.Seq, &e.AtNanos, &e.Actor, &e.Action, &e.Subject, &e.Detail, &e.Hash); err != nil {
		return model.AuditEntry{}, err
	}
	e.At = fromNanos(e.AtNanos)
	return e, nil
}

// EachAuditEntry calls fn with the entries fromSeq <= seq <= toSeq (toSeq 0:
// no upper bound) in seq order, a page at a time, so that no read
// transaction stays open while fn writes a bundle.
func (db *DB) EachAuditEntry(ctx context.Context, fromSeq, toSeq int64, fn func(model.AuditEntry) error) error {
	const page = 2000
	if toSeq <= 0 {
		toSeq = math.MaxInt64
	}
	next := fromSeq
	for next <= toSeq {
		rows, err := db.r.QueryContext(ctx, `SELECT `+auditEntryCols+` FROM audit_log
			WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?`, next, toSeq, page)
		if err != nil {
			return fmt.Errorf("read audit chain: %w", err)
		}
		es := make([]model.AuditEntry, 0, page)
		for rows.Next() {
			e, err := scanAuditEntry(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read audit chain: %w", err)
			}
			es = append(es, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read audit chain: %w", err)
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(es) < page {
			return nil
		}
		next = es[len(es)-1].Seq + 1
	}
	return nil
}

// AuditHead returns the newest entry; ErrNotFound for an empty log.
func (db *DB) AuditHead(ctx context.Context) (model.AuditEntry, error) {
	e, err := scanAuditEntry(db.r.QueryRowContext(ctx, `SELECT `+auditEntryCols+` FROM audit_log ORDER BY seq DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return model.AuditEntry{}, fmt.Errorf("audit head: the log is empty: %w", model.ErrNotFound)
	}
	if err != nil {
		return model.AuditEntry{}, fmt.Errorf("audit head: %w", err)
	}
	return e, nil
}

// FirstAuditSeqSince returns the lowest seq of an entry at or after t; 0
// when none is.
func (db *DB) FirstAuditSeqSince(ctx context.Context, t time.Time) (int64, error) {
	var seq sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(seq) FROM audit_log WHERE at >= ?`, nanos(t)).Scan(&seq); err != nil {
		return 0, fmt.Errorf("audit seq since %s: %w", t.Format(time.RFC3339), err)
	}
	return seq.Int64, nil
}

// SaveAuditCheckpoint stores a signed checkpoint and returns its id.
func (db *DB) SaveAuditCheckpoint(ctx context.Context, c model.AuditCheckpoint) (int64, error) {
	if c.Seq <= 0 || len(c.Head) == 0 || len(c.Signature) == 0 || c.Fingerprint == "" {
		return 0, fmt.Errorf("save audit checkpoint: seq, head, fingerprint and signature are required: %w", model.ErrInvalid)
	}
	var id int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO audit_checkpoints (seq, head, at, fingerprint, signature)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, c.Seq, c.Head, nanos(c.At), c.Fingerprint, c.Signature).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("save audit checkpoint %d: %w", c.Seq, err)
	}
	return id, nil
}

const checkpointCols = `id, seq, head, at, fingerprint, signature`

func scanCheckpoint(s interface{ Scan(...any) error }) (model.AuditCheckpoint, error) {
	var c model.AuditCheckpoint
	var at int64
	if err := s.Scan(&c.ID, &c.Seq, &c.Head, &at, &c.Fingerprint, &c.Signature); err != nil {
		return model.AuditCheckpoint{}, err
	}
	c.At = fromNanos(at)
	return c, nil
}

// AuditCheckpoints returns the checkpoints with fromSeq <= seq <= toSeq (toSeq
// 0: no bound), ordered by seq and id.
func (db *DB) AuditCheckpoints(ctx context.Context, fromSeq, toSeq int64) ([]model.AuditCheckpoint, error) {
	if toSeq <= 0 {
		toSeq = math.MaxInt64
	}
	rows, err := db.r.QueryContext(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints
		WHERE seq >= ? AND seq <= ? ORDER BY seq, id`, fromSeq, toSeq)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	defer rows.Close()
	var cs []model.AuditCheckpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("audit checkpoints: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	return cs, nil
}

// LastAuditCheckpoint returns the newest checkpoint; ErrNotFound when none
// was taken.
func (db *DB) LastAuditCheckpoint(ctx context.Context) (model.AuditCheckpoint, error) {
	c, err := scanCheckpoint(db.r.QueryRowContext(ctx, `SELECT `+checkpointCols+` FROM audit_checkpoints ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return model.AuditCheckpoint{}, fmt.Errorf("last audit checkpoint: %w", model.ErrNotFound)
	}
	if err != nil {
		return model.AuditCheckpoint{}, fmt.Errorf("last audit checkpoint: %w", err)
	}
	return c, nil
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
