package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/inventory"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

var _ model.SoftwareCatalogStore = (*DB)(nil)

// Software catalogue audit actions.
const (
	auditSoftwareAdd    = "software.catalog.add"
	auditSoftwareUpdate = "software.catalog.update"
	auditSoftwareRemove = "software.catalog.remove"
)

const softwareCols = `id, verdict, name_pattern, publisher, source, min_version, max_version, reason, owner_unit, updated_at, updated_by`

func scanSoftware(s interface{ Scan(...any) error }) (model.SoftwareEntry, error) {
	var e model.SoftwareEntry
	var updated int64
	err := s.Scan(&e.ID, &e.Verdict, &e.NamePattern, &e.Publisher, &e.Source, &e.MinVersion, &e.MaxVersion,
		&e.Reason, &e.OwnerUnit, &updated, &e.UpdatedBy)
	e.UpdatedAt = fromNanos(updated)
	return e, err
}

// SoftwareCatalog returns the software catalogue sorted by ID.
func (db *DB) SoftwareCatalog(ctx context.Context) ([]model.SoftwareEntry, error) {
	es, err := readSoftware(ctx, db.r)
	if err != nil {
		return nil, fmt.Errorf("software catalogue: %w", err)
	}
	return es, nil
}

func readSoftware(ctx context.Context, q querier) ([]model.SoftwareEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+softwareCols+` FROM software_catalog ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []model.SoftwareEntry
	for rows.Next() {
		e, err := scanSoftware(rows)
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// softwareJSON is a catalogue entry as audit details show it.
type softwareJSON struct {
	ID          string    `json:"id"`
	Verdict     string    `json:"verdict"`
	NamePattern string    `json:"name"`
	Publisher   string    `json:"publisher,omitempty"`
	Source      string    `json:"source,omitempty"`
	MinVersion  string    `json:"min_version,omitempty"`
	MaxVersion  string    `json:"max_version,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	OwnerUnit   string    `json:"owner_unit,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
}

func toSoftwareJSON(e model.SoftwareEntry) softwareJSON {
	return softwareJSON{e.ID, e.Verdict, e.NamePattern, e.Publisher, e.Source, e.MinVersion, e.MaxVersion,
		e.Reason, e.OwnerUnit, e.UpdatedAt.UTC(), e.UpdatedBy}
}

// sameSoftware reports whether two entries hold the same catalogue data,
// whoever wrote them when.
func sameSoftware(a, b model.SoftwareEntry) bool {
	a.UpdatedAt, a.UpdatedBy, b.UpdatedAt, b.UpdatedBy = time.Time{}, "", time.Time{}, ""
	return a == b
}

// ImportSoftwareCatalog writes entries in one transaction: with replace the
// catalogue becomes exactly entries, without it entries are added or
// updated by ID (set from each entry's fields) and the rest stay. Entries
// that change get UpdatedAt at and UpdatedBy actor; unchanged ones keep
// theirs. Every entry added, updated or removed is audited with its before
// and after. ErrConflict when entries repeat an ID; ErrInvalid for an entry
// model.CheckSoftwareEntry refuses or whose version range is empty (min not
// below max by the source's order, inventory.CompareVersions). Either way
// nothing is written.
func (db *DB) ImportSoftwareCatalog(ctx context.Context, entries []model.SoftwareEntry, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	in := make(map[string]model.SoftwareEntry, len(entries))
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		if err := model.CheckSoftwareEntry(e); err != nil {
			return model.RegisterChange{}, fmt.Errorf("import software catalogue: %w", err)
		}
		e.ID = e.Key()
		if e.MinVersion != "" && e.MaxVersion != "" && inventory.CompareVersions(e.Source, e.MinVersion, e.MaxVersion) >= 0 {
			return model.RegisterChange{}, fmt.Errorf("import software catalogue: entry %s: min version %q is not below max version %q: %w",
				e.ID, e.MinVersion, e.MaxVersion, model.ErrInvalid)
		}
		if _, dup := in[e.ID]; dup {
			return model.RegisterChange{}, fmt.Errorf("import software catalogue: entry %s repeated: %w", e.ID, model.ErrConflict)
		}
		e.UpdatedAt, e.UpdatedBy = at, actor
		in[e.ID] = e
		ids = append(ids, e.ID)
	}

	var ch model.RegisterChange
	err := db.write(ctx, func(tx *sql.Tx) error {
		cur, err := readSoftware(ctx, tx)
		if err != nil {
			return fmt.Errorf("read software catalogue: %w", err)
		}
		old := make(map[string]model.SoftwareEntry, len(cur))
		for _, e := range cur {
			old[e.ID] = e
		}
		for _, id := range ids {
			e := in[id]
			before, ok := old[id]
			if ok && sameSoftware(before, e) {
				ch.Unchanged++
				continue
			}
			action := auditSoftwareAdd
			var b *model.SoftwareEntry
			if ok {
				action, b = auditSoftwareUpdate, &before
				ch.Updated++
			} else {
				ch.Added++
			}
			if err := putSoftware(ctx, tx, e); err != nil {
				return err
			}
			if err := auditChange(ctx, tx, action, id, b, &e, toSoftwareJSON, actor, at); err != nil {
				return err
			}
		}
		if !replace {
			return nil
		}
		for _, id := range slices.Sorted(maps.Keys(old)) {
			if _, keep := in[id]; keep {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM software_catalog WHERE id = ?`, id); err != nil {
				return fmt.Errorf("remove software entry %s: %w", id, err)
			}
			before := old[id]
			if err := auditChange(ctx, tx, auditSoftwareRemove, id, &before, nil, toSoftwareJSON, actor, at); err != nil {
				return err
			}
			ch.Removed++
		}
		return nil
	})
	if err != nil {
		return model.RegisterChange{}, fmt.Errorf("import software catalogue: %w", err)
	}
	return ch, nil
}

// putSoftware inserts or updates e.
func putSoftware(ctx context.Context, tx *sql.Tx, e model.SoftwareEntry) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO software_catalog (`+softwareCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			verdict = excluded.verdict, name_pattern = excluded.name_pattern, publisher = excluded.publisher,
			source = excluded.source, min_version = excluded.min_version, max_version = excluded.max_version,
			reason = excluded.reason, owner_unit = excluded.owner_unit,
			updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		e.ID, e.Verdict, e.NamePattern, e.Publisher, e.Source, e.MinVersion, e.MaxVersion, e.Reason, e.OwnerUnit,
		nanos(e.UpdatedAt), e.UpdatedBy); err != nil {
		return fmt.Errorf("write software entry %s: %w", e.ID, err)
	}
	return nil
}

// DeleteSoftwareEntry removes the catalogue entry with id, audited;
// ErrNotFound if absent.
func (db *DB) DeleteSoftwareEntry(ctx context.Context, id, actor string, at time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		before, err := scanSoftware(tx.QueryRowContext(ctx, `SELECT `+softwareCols+` FROM software_catalog WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("software entry %s: %w", id, model.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM software_catalog WHERE id = ?`, id); err != nil {
			return err
		}
		return auditChange(ctx, tx, auditSoftwareRemove, id, &before, nil, toSoftwareJSON, actor, at)
	})
	if err != nil {
		return fmt.Errorf("delete software entry: %w", err)
	}
	return nil
}
