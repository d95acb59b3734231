package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// ingestMedia adds the batch's media records that are new to the store
// (fresh[i] for ms[i]) to the media log, unjudged, and returns how many.
func ingestMedia(ctx context.Context, tx *sql.Tx, agentID string, received int64, ms []model.MediaRecord, fresh []bool) (int, error) {
	if !slices.Contains(fresh, true) {
		return 0, nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO media_log (agent_id, seq, at, received_at, action, key, class, event)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	n := 0
	for i, m := range ms {
		if !fresh[i] {
			continue
		}
		ev, err := json.Marshal(m.Event)
		if err != nil {
			return 0, fmt.Errorf("encode media event %d: %w", m.Seq, err)
		}
		if _, err := stmt.ExecContext(ctx, agentID, int64(m.Seq), nanos(m.At), received,
			m.Event.Action, m.Event.Device.Key(), m.Event.Device.Class, string(ev)); err != nil {
			return 0, fmt.Errorf("insert media event %d: %w", m.Seq, err)
		}
		n++
	}
	return n, nil
}

const mediaCols = `m.id, m.agent_id, a.hostname, m.seq, m.at, m.received_at, m.event, m.evaluated`

func scanMedia(s interface{ Scan(...any) error }) (model.MediaEvent, error) {
	var e model.MediaEvent
	var seq, at, received int64
	var ev string
	if err := s.Scan(&e.ID, &e.AgentID, &e.Hostname, &seq, &at, &received, &ev, &e.Evaluated); err != nil {
		return model.MediaEvent{}, err
	}
	if err := json.Unmarshal([]byte(ev), &e.Event); err != nil {
		return model.MediaEvent{}, fmt.Errorf("media event %d: %w", e.ID, err)
	}
	e.Seq, e.At, e.ReceivedAt = uint64(seq), fromNanos(at), fromNanos(received)
	return e, nil
}

func (db *DB) mediaEvents(ctx context.Context, query string, args ...any) ([]model.MediaEvent, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []model.MediaEvent
	for rows.Next() {
		e, err := scanMedia(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// MediaLog returns media events, newest first, filtered by agent and medium
// and paged by id; ErrInvalid without a positive limit.
func (db *DB) MediaLog(ctx context.Context, q model.MediaLogQuery) ([]model.MediaEvent, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("media log: limit %d: %w", q.Limit, model.ErrInvalid)
	}
	var where []string
	var args []any
	if q.AgentID != "" {
		where, args = append(where, "m.agent_id = ?"), append(args, q.AgentID)
	}
	if q.Key != "" {
		where, args = append(where, "m.key = ?"), append(args, q.Key)
	}
	if q.BeforeID > 0 {
		where, args = append(where, "m.id < ?"), append(args, q.BeforeID)
	}
	query := `SELECT ` + mediaCols + ` FROM media_log m JOIN agents a ON a.id = m.agent_id`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	es, err := db.mediaEvents(ctx, query+` ORDER BY m.id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("media log: %w", err)
	}
	return es, nil
}

// PendingMedia returns up to limit events the rules have not yet judged,
// oldest first; ErrInvalid without a positive limit.
func (db *DB) PendingMedia(ctx context.Context, limit int) ([]model.MediaEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("pending media: limit %d: %w", limit, model.ErrInvalid)
	}
	es, err := db.mediaEvents(ctx, `SELECT `+mediaCols+` FROM media_log m JOIN agents a ON a.id = m.agent_id
		WHERE m.evaluated = 0 ORDER BY m.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending media: %w", err)
	}
	return es, nil
}

const registerCols = `vid, pid, serial, marking_id, owner_unit, classification, encryption_required, note, updated_at, updated_by`

func scanEntry(s interface{ Scan(...any) error }) (model.MediaEntry, error) {
	var e model.MediaEntry
	var updated int64
	err := s.Scan(&e.VID, &e.PID, &e.Serial, &e.MarkingID, &e.OwnerUnit, &e.Classification,
		&e.EncryptionRequired, &e.Note, &updated, &e.UpdatedBy)
	e.UpdatedAt = fromNanos(updated)
	return e, err
}

// MediaRegister returns the register sorted by key.
func (db *DB) MediaRegister(ctx context.Context) ([]model.MediaEntry, error) {
	es, err := readRegister(ctx, db.r)
	if err != nil {
		return nil, fmt.Errorf("media register: %w", err)
	}
	return es, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func readRegister(ctx context.Context, q querier) ([]model.MediaEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+registerCols+` FROM media_register ORDER BY key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []model.MediaEntry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// registerJSON is a register entry as audit details show it.
type registerJSON struct {
	VID                string    `json:"vid"`
	PID                string    `json:"pid"`
	Serial             string    `json:"serial"`
	MarkingID          string    `json:"marking_id,omitempty"`
	OwnerUnit          string    `json:"owner_unit,omitempty"`
	Classification     string    `json:"classification,omitempty"`
	EncryptionRequired bool      `json:"encryption_required"`
	Note               string    `json:"note,omitempty"`
	UpdatedAt          time.Time `json:"updated_at"`
	UpdatedBy          string    `json:"updated_by,omitempty"`
}

// toRegisterJSON is a media register entry as its audit entries show it.
func toRegisterJSON(e model.MediaEntry) registerJSON {
	return registerJSON{e.VID, e.PID, e.Serial, e.MarkingID, e.OwnerUnit, e.Classification,
		e.EncryptionRequired, e.Note, e.UpdatedAt.UTC(), e.UpdatedBy}
}

// sameEntry reports whether two entries hold the same register data, whoever
// wrote them when.
func sameEntry(a, b model.MediaEntry) bool {
	a.UpdatedAt, a.UpdatedBy, b.UpdatedAt, b.UpdatedBy = time.Time{}, "", time.Time{}, ""
	return a == b
}

// Register audit actions.
const (
	auditRegisterAdd    = "media.register.add"
	auditRegisterUpdate = "media.register.update"
	auditRegisterRemove = "media.register.remove"
)

// ImportMediaRegister writes entries in one transaction: with replace the
// register becomes exactly entries, without it entries are added or updated
// by key and the rest stay. VID and PID are kept in lower case, as keys are.
// Entries that change get UpdatedAt at and UpdatedBy actor; unchanged ones
// keep theirs. Every entry added, updated or removed is audited with its
// before and after. ErrConflict when entries repeat a key, ErrInvalid for an
// entry with neither VID nor serial; either way nothing is written.
func (db *DB) ImportMediaRegister(ctx context.Context, entries []model.MediaEntry, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	in := make(map[string]model.MediaEntry, len(entries))
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		e.VID, e.PID = strings.ToLower(e.VID), strings.ToLower(e.PID)
		k := e.Key()
		if e.VID == "" && e.Serial == "" {
			return model.RegisterChange{}, fmt.Errorf("import media register: entry %q has neither vid nor serial: %w", k, model.ErrInvalid)
		}
		if _, dup := in[k]; dup {
			return model.RegisterChange{}, fmt.Errorf("import media register: key %s repeated: %w", k, model.ErrConflict)
		}
		e.UpdatedAt, e.UpdatedBy = at, actor
		in[k] = e
		keys = append(keys, k)
	}

	var ch model.RegisterChange
	err := db.write(ctx, func(tx *sql.Tx) error {
		cur, err := readRegister(ctx, tx)
		if err != nil {
			return fmt.Errorf("read register: %w", err)
		}
		old := make(map[string]model.MediaEntry, len(cur))
		for _, e := range cur {
			old[e.Key()] = e
		}
		for _, k := range keys {
			e := in[k]
			before, ok := old[k]
			action := auditRegisterAdd
			switch {
			case ok && sameEntry(before, e):
				ch.Unchanged++
				continue
			case ok:
				action = auditRegisterUpdate
				ch.Updated++
			default:
				ch.Added++
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO media_register (key, `+registerCols+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET
					vid = excluded.vid, pid = excluded.pid, serial = excluded.serial,
					marking_id = excluded.marking_id, owner_unit = excluded.owner_unit,
					classification = excluded.classification, encryption_required = excluded.encryption_required,
					note = excluded.note, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
				k, e.VID, e.PID, e.Serial, e.MarkingID, e.OwnerUnit, e.Classification,
				e.EncryptionRequired, e.Note, nanos(e.UpdatedAt), e.UpdatedBy); err != nil {
				return fmt.Errorf("write entry %s: %w", k, err)
			}
			var b *model.MediaEntry
			if ok {
				b = &before
			}
			if err := auditRegister(ctx, tx, action, k, b, &e, actor, at); err != nil {
				return err
			}
		}
		if !replace {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(old)) {
			if _, keep := in[k]; keep {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM media_register WHERE key = ?`, k); err != nil {
				return fmt.Errorf("remove entry %s: %w", k, err)
			}
			before := old[k]
			if err := auditRegister(ctx, tx, auditRegisterRemove, k, &before, nil, actor, at); err != nil {
				return err
			}
			ch.Removed++
		}
		return nil
	})
	if err != nil {
		return model.RegisterChange{}, fmt.Errorf("import media register: %w", err)
	}
	return ch, nil
}

func auditRegister(ctx context.Context, tx *sql.Tx, action, key string, before, after *model.MediaEntry, actor string, at time.Time) error {
	return auditChange(ctx, tx, action, key, before, after, toRegisterJSON, actor, at)
}

// DeleteMediaEntry removes the entry with key, audited; ErrNotFound if absent.
func (db *DB) DeleteMediaEntry(ctx context.Context, key, actor string, at time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		before, err := scanEntry(tx.QueryRowContext(ctx, `SELECT `+registerCols+` FROM media_register WHERE key = ?`, key))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("entry %s: %w", key, model.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM media_register WHERE key = ?`, key); err != nil {
			return err
		}
		return auditRegister(ctx, tx, auditRegisterRemove, key, &before, nil, actor, at)
	})
	if err != nil {
		return fmt.Errorf("delete media entry: %w", err)
	}
	return nil
}
