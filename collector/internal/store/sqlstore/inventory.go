package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/inventory"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// invHead is what every batch reads of an agent's inventory: enough to ack.
type invHead struct {
	exists   bool // a row is stored
	hash     string
	wantFull bool
	seq      uint64
	at       time.Time
}

// ingestInventory applies the batch's newly stored inventory records (fresh[i]
// for invs[i]) to the agent's current inventory and returns the state to ack.
// A batch without new inventory records costs one read by primary key.
func (db *DB) ingestInventory(ctx context.Context, tx *sql.Tx, agentID string, invs []model.InventoryRecord, fresh []bool) (invHead, error) {
	var h invHead
	var wantFull int
	var seq, at int64
	err := tx.QueryRowContext(ctx, `SELECT hash, want_full, seq, at FROM inventory_current WHERE agent_id = ?`, agentID).
		Scan(&h.hash, &wantFull, &seq, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return invHead{}, fmt.Errorf("read inventory state: %w", err)
	default:
		h.exists, h.wantFull, h.seq, h.at = true, wantFull != 0, uint64(seq), fromNanos(at)
	}
	if !slices.Contains(fresh, true) {
		return h, nil
	}

	st := inventory.State{Seq: h.seq, At: h.at, WantFull: h.wantFull}
	if h.hash != "" {
		cur, err := readSnapshot(tx.QueryRowContext(ctx, `SELECT enc, snapshot FROM inventory_current WHERE agent_id = ?`, agentID))
		if err != nil {
			return invHead{}, fmt.Errorf("read inventory of agent %s: %w", agentID, err)
		}
		st.Current = &cur
	}
	start := st.Current
	var changes []model.InventoryChange
	for i, rec := range invs {
		if !fresh[i] {
			continue
		}
		c, err := st.Step(rec)
		if err != nil {
			db.log.Warn("inventory record not applied; asking the agent for a full snapshot",
				"agent", agentID, "seq", rec.Seq, "err", err)
			continue
		}
		changes = append(changes, c...)
	}

	if st.Current != start {
		r, err := wire.NewRecord(wire.KindInventory, st.At, st.Current)
		if err != nil {
			// Cannot happen for a snapshot that arrived whole within the
			// record limit; refusing the batch would make the agent resend
			// it for ever, so keep what is held and ask for a full one.
			db.log.Error("inventory snapshot not stored; asking the agent for a full snapshot", "agent", agentID, "err", err)
			st.Current, changes = start, nil
			st.WantFull = true
		} else {
			if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_current (agent_id, hash, at, seq, enc, snapshot, want_full)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (agent_id) DO UPDATE SET hash = excluded.hash, at = excluded.at, seq = excluded.seq,
					enc = excluded.enc, snapshot = excluded.snapshot, want_full = excluded.want_full`,
				agentID, st.Current.Hash, nanos(st.At), int64(st.Seq), int64(r.Enc), blob(r.Body), boolInt(st.WantFull)); err != nil {
				return invHead{}, fmt.Errorf("store inventory snapshot: %w", err)
			}
			h.hash, h.seq, h.at = st.Current.Hash, st.Seq, st.At
		}
	}
	if st.Current == start && st.WantFull != h.wantFull {
		if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_current (agent_id, want_full) VALUES (?, ?)
			ON CONFLICT (agent_id) DO UPDATE SET want_full = excluded.want_full`, agentID, boolInt(st.WantFull)); err != nil {
			return invHead{}, fmt.Errorf("store inventory state: %w", err)
		}
	}
	h.wantFull = st.WantFull

	if len(changes) > 0 {
		if err := insertChanges(ctx, tx, agentID, changes); err != nil {
			return invHead{}, err
		}
	}
	if !inventory.SameSoftware(start, st.Current) {
		if err := updateSoftware(ctx, tx, db.dialect, agentID, start, st.Current.Software); err != nil {
			return invHead{}, err
		}
	}
	return h, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readSnapshot decodes a stored snapshot (columns enc, snapshot).
func readSnapshot(row interface{ Scan(...any) error }) (wire.Inventory, error) {
	var enc int64
	var body []byte
	if err := row.Scan(&enc, &body); err != nil {
		return wire.Inventory{}, err
	}
	var inv wire.Inventory
	if err := (wire.Record{Kind: wire.KindInventory, Enc: uint8(enc), Body: body}).DecodeBody(&inv); err != nil {
		return wire.Inventory{}, fmt.Errorf("decode snapshot: %w", err)
	}
	return inv, nil
}

func insertChanges(ctx context.Context, tx *sql.Tx, agentID string, changes []model.InventoryChange) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO inventory_changes (agent_id, at, seq, section, op, key, before, after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store inventory changes: %w", err)
	}
	defer stmt.Close()
	rowCtx := context.WithoutCancel(ctx) // see insertRecords
	for _, c := range changes {
		if _, err := stmt.ExecContext(rowCtx, agentID, nanos(c.At), int64(c.Seq), c.Section, c.Op, c.Key, c.Before, c.After); err != nil {
			return fmt.Errorf("store inventory change %s %s %q: %w", c.Section, c.Op, c.Key, err)
		}
	}
	return ctx.Err()
}

// updateSoftware brings the agent's rows in software from the packages of
// old (nil when none was held) to pkgs. A first snapshot, or one that changed
// much, rebuilds the agent's rows; a small change (the usual delta) deletes
// and inserts only the packages that went and came.
func updateSoftware(ctx context.Context, tx *sql.Tx, d Dialect, agentID string, old *wire.Inventory, pkgs []wire.Package) error {
	var gone, came []wire.Package
	rebuild := old == nil
	if !rebuild {
		gone, came = packageDiff(old.Software, pkgs)
		rebuild = len(gone)+len(came) > max(len(pkgs)/4, 16)
	}
	if rebuild {
		if _, err := tx.ExecContext(ctx, `DELETE FROM software WHERE agent_id = ?`, agentID); err != nil {
			return fmt.Errorf("clear software: %w", err)
		}
		gone, came = nil, pkgs
	}
	rowCtx := context.WithoutCancel(ctx) // see insertRecords
	if len(gone) > 0 {
		rowid := "rowid" // one of possibly identical rows
		if d == Postgres {
			rowid = "ctid"
		}
		del, err := tx.PrepareContext(ctx, `DELETE FROM software WHERE `+rowid+` = (SELECT `+rowid+` FROM software
			WHERE name_fold = ? AND agent_id = ? AND name = ? AND version = ? AND arch = ? AND source = ?
				AND publisher = ? AND scope = ? AND install_date = ? LIMIT 1)`)
		if err != nil {
			return fmt.Errorf("store software: %w", err)
		}
		defer del.Close()
		for _, p := range gone {
			if _, err := del.ExecContext(rowCtx, inventory.FoldName(p.Name), agentID, p.Name, p.Version, p.Arch, p.Source,
				p.Publisher, p.Scope, p.InstallDate); err != nil {
				return fmt.Errorf("remove software %s %s: %w", p.Name, p.Version, err)
			}
		}
	}
	if len(came) > 0 {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO software
			(agent_id, name, name_fold, version, arch, source, publisher, scope, install_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("store software: %w", err)
		}
		defer ins.Close()
		for _, p := range came {
			if _, err := ins.ExecContext(rowCtx, agentID, p.Name, inventory.FoldName(p.Name), p.Version, p.Arch, p.Source,
				p.Publisher, p.Scope, p.InstallDate); err != nil {
				return fmt.Errorf("store software %s %s: %w", p.Name, p.Version, err)
			}
		}
	}
	return ctx.Err()
}

// packageDiff returns the packages only in old and only in cur, counting
// copies: two equal packages in old and one in cur is one gone.
func packageDiff(old, cur []wire.Package) (gone, came []wire.Package) {
	n := make(map[wire.Package]int, len(old))
	for _, p := range old {
		n[p]++
	}
	for _, p := range cur {
		if n[p] > 0 {
			n[p]--
			continue
		}
		came = append(came, p)
	}
	for _, p := range old {
		if n[p] > 0 {
			n[p]--
			gone = append(gone, p)
		}
	}
	return gone, came
}

// GetInventory returns the agent's current full snapshot and when it was
// observed; ErrNotFound when none is held.
func (db *DB) GetInventory(ctx context.Context, agentID string) (wire.Inventory, time.Time, error) {
	var at int64
	var enc int64
	var body []byte
	err := db.r.QueryRowContext(ctx, `SELECT at, enc, snapshot FROM inventory_current
		WHERE agent_id = ? AND snapshot IS NOT NULL`, agentID).Scan(&at, &enc, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return wire.Inventory{}, time.Time{}, fmt.Errorf("inventory of agent %s: %w", agentID, model.ErrNotFound)
	}
	if err != nil {
		return wire.Inventory{}, time.Time{}, fmt.Errorf("get inventory of agent %s: %w", agentID, err)
	}
	var inv wire.Inventory
	if err := (wire.Record{Kind: wire.KindInventory, Enc: uint8(enc), Body: body}).DecodeBody(&inv); err != nil {
		return wire.Inventory{}, time.Time{}, fmt.Errorf("get inventory of agent %s: decode snapshot: %w", agentID, err)
	}
	return inv, fromNanos(at), nil
}

// InventoryHistory returns the agent's newest inventory changes first (the
// rows of one record in the order they were found), at most limit;
// ErrNotFound for an unknown agent.
func (db *DB) InventoryHistory(ctx context.Context, agentID string, limit int) ([]model.InventoryChange, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("inventory history of agent %s: limit %d: %w", agentID, limit, model.ErrInvalid)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT at, seq, section, op, key, before, after FROM inventory_changes
		WHERE agent_id = ? ORDER BY seq DESC, id LIMIT ?`, agentID, limit)
	if err != nil {
		return nil, fmt.Errorf("inventory history of agent %s: %w", agentID, err)
	}
	defer rows.Close()
	var out []model.InventoryChange
	for rows.Next() {
		c := model.InventoryChange{AgentID: agentID}
		var at, seq int64
		if err := rows.Scan(&at, &seq, &c.Section, &c.Op, &c.Key, &c.Before, &c.After); err != nil {
			return nil, fmt.Errorf("inventory history of agent %s: %w", agentID, err)
		}
		c.At, c.Seq = fromNanos(at), uint64(seq)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inventory history of agent %s: %w", agentID, err)
	}
	if len(out) == 0 {
		if _, err := db.GetAgent(ctx, agentID); err != nil {
			return nil, fmt.Errorf("inventory history: %w", err)
		}
	}
	return out, nil
}

// SearchSoftware finds packages across hosts by name and, optionally, below
// a version by each package's own ordering; ordered by hostname, agent, name
// and version.
func (db *DB) SearchSoftware(ctx context.Context, q model.SoftwareQuery) ([]model.SoftwareHit, error) {
	if q.Name == "" || q.Limit < 0 {
		return nil, fmt.Errorf("search software %q (limit %d): %w", q.Name, q.Limit, model.ErrInvalid)
	}
	query := `SELECT s.agent_id, a.hostname, s.name, s.version, s.arch, s.source, s.publisher, s.scope, s.install_date
		FROM software s JOIN agents a ON a.id = s.agent_id
		WHERE s.name_fold ` + db.pick("GLOB ?", `LIKE ? ESCAPE '\'`) + `
		ORDER BY a.hostname, s.agent_id, s.name_fold, s.name, s.version`
	args := []any{inventory.NameGlob(q.Name)}
	if db.dialect == Postgres {
		args[0] = globToLike(args[0].(string))
	}
	if q.Below == "" && q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit)
	}
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search software %q: %w", q.Name, err)
	}
	defer rows.Close()
	var out []model.SoftwareHit
	for rows.Next() {
		var h model.SoftwareHit
		p := &h.Package
		if err := rows.Scan(&h.AgentID, &h.Hostname, &p.Name, &p.Version, &p.Arch, &p.Source, &p.Publisher, &p.Scope, &p.InstallDate); err != nil {
			return nil, fmt.Errorf("search software %q: %w", q.Name, err)
		}
		if q.Below != "" && !inventory.Below(h.Package, q.Below) {
			continue
		}
		out = append(out, h)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search software %q: %w", q.Name, err)
	}
	inventory.SortHits(out)
	return out, nil
}
