package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

var _ model.AssetStore = (*DB)(nil)

// Asset register audit actions.
const (
	auditAssetAdd    = "asset.add"
	auditAssetUpdate = "asset.update"
	auditAssetRemove = "asset.remove"
)

const assetCols = `tag, type, serial, hostname, owner_unit, responsible, operated_by, building, room, zone, status, note, updated_at, updated_by`

func scanAsset(s interface{ Scan(...any) error }) (model.Asset, error) {
	var a model.Asset
	var updated int64
	err := s.Scan(&a.Tag, &a.Type, &a.Serial, &a.Hostname, &a.OwnerUnit, &a.Responsible, &a.OperatedBy,
		&a.Building, &a.Room, &a.Zone, &a.Status, &a.Note, &updated, &a.UpdatedBy)
	a.UpdatedAt = fromNanos(updated)
	return a, err
}

// Assets returns the register sorted by tag, each asset's MACs sorted.
func (db *DB) Assets(ctx context.Context) ([]model.Asset, error) {
	as, err := readAssets(ctx, db.r)
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	return as, nil
}

func readAssets(ctx context.Context, q querier) ([]model.Asset, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+assetCols+` FROM assets ORDER BY tag`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []model.Asset
	at := make(map[string]int)
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, err
		}
		at[a.Tag] = len(as)
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	macs, err := q.QueryContext(ctx, `SELECT tag, mac FROM asset_macs ORDER BY tag, mac`)
	if err != nil {
		return nil, err
	}
	defer macs.Close()
	for macs.Next() {
		var tag, mac string
		if err := macs.Scan(&tag, &mac); err != nil {
			return nil, err
		}
		if i, ok := at[tag]; ok {
			as[i].MACs = append(as[i].MACs, mac)
		}
	}
	return as, macs.Err()
}

// assetJSON is an asset as audit details show it.
type assetJSON struct {
	Tag         string    `json:"tag"`
	Type        string    `json:"type"`
	Serial      string    `json:"serial,omitempty"`
	MACs        []string  `json:"macs,omitempty"`
	Hostname    string    `json:"hostname,omitempty"`
	OwnerUnit   string    `json:"owner_unit,omitempty"`
	Responsible string    `json:"responsible,omitempty"`
	OperatedBy  string    `json:"operated_by,omitempty"`
	Building    string    `json:"building,omitempty"`
	Room        string    `json:"room,omitempty"`
	Zone        string    `json:"zone,omitempty"`
	Status      string    `json:"status"`
	Note        string    `json:"note,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
	UpdatedBy   string    `json:"updated_by,omitempty"`
}

// toAssetJSON is an asset as its audit entries show it.
func toAssetJSON(a model.Asset) assetJSON {
	return assetJSON{a.Tag, a.Type, a.Serial, a.MACs, a.Hostname, a.OwnerUnit, a.Responsible, a.OperatedBy,
		a.Building, a.Room, a.Zone, a.Status, a.Note, a.UpdatedAt.UTC(), a.UpdatedBy}
}

// sameAsset reports whether two assets (MACs sorted) hold the same register
// data, whoever wrote them when.
func sameAsset(a, b model.Asset) bool {
	return slices.Equal(a.MACs, b.MACs) && a.Tag == b.Tag && a.Type == b.Type && a.Serial == b.Serial &&
		a.Hostname == b.Hostname && a.OwnerUnit == b.OwnerUnit && a.Responsible == b.Responsible &&
		a.OperatedBy == b.OperatedBy && a.Building == b.Building && a.Room == b.Room && a.Zone == b.Zone &&
		a.Status == b.Status && a.Note == b.Note
}

// cleanAsset checks a and brings it into stored form: MACs normalised,
// sorted and without repeats, status active when empty.
func cleanAsset(a model.Asset) (model.Asset, error) {
	if a.Tag == "" {
		return a, fmt.Errorf("asset without a tag: %w", model.ErrInvalid)
	}
	if !slices.Contains(model.AssetTypes, a.Type) {
		return a, fmt.Errorf("asset %s: type %q: %w", a.Tag, a.Type, model.ErrInvalid)
	}
	switch a.Status {
	case "":
		a.Status = model.AssetActive
	case model.AssetActive, model.AssetRetired:
	default:
		return a, fmt.Errorf("asset %s: status %q: %w", a.Tag, a.Status, model.ErrInvalid)
	}
	macs := make([]string, 0, len(a.MACs))
	for _, m := range a.MACs {
		mac, ok := model.NormalizeMAC(m)
		if !ok {
			return a, fmt.Errorf("asset %s: MAC %q: %w", a.Tag, m, model.ErrInvalid)
		}
		macs = append(macs, mac)
	}
	slices.Sort(macs)
	a.MACs = slices.Compact(macs)
	if len(a.MACs) == 0 {
		a.MACs = nil
	}
	return a, nil
}

// ImportAssets writes assets in one transaction: with replace the register
// becomes exactly assets, without it assets are added or updated by tag and
// the rest stay. MACs are kept normalised and sorted; an empty status is
// active. Assets that change get UpdatedAt at and UpdatedBy actor; unchanged
// ones keep theirs. Every asset added, updated or removed is audited with
// its before and after. ErrConflict when assets repeat a tag or a MAC would
// belong to two assets (among assets, or with an asset the import keeps);
// ErrInvalid for an asset without a tag, of an unknown type or status, or
// with a malformed MAC. Either way nothing is written.
func (db *DB) ImportAssets(ctx context.Context, assets []model.Asset, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	in := make(map[string]model.Asset, len(assets))
	tags := make([]string, 0, len(assets))
	macOwner := make(map[string]string) // mac -> tag, of the register after the import
	for _, a := range assets {
		a, err := cleanAsset(a)
		if err != nil {
			return model.RegisterChange{}, fmt.Errorf("import assets: %w", err)
		}
		if _, dup := in[a.Tag]; dup {
			return model.RegisterChange{}, fmt.Errorf("import assets: tag %s repeated: %w", a.Tag, model.ErrConflict)
		}
		for _, m := range a.MACs {
			if other, dup := macOwner[m]; dup {
				return model.RegisterChange{}, fmt.Errorf("import assets: MAC %s belongs to both %s and %s: %w", m, other, a.Tag, model.ErrConflict)
			}
			macOwner[m] = a.Tag
		}
		a.UpdatedAt, a.UpdatedBy = at, actor
		in[a.Tag] = a
		tags = append(tags, a.Tag)
	}

	var ch model.RegisterChange
	err := db.write(ctx, func(tx *sql.Tx) error {
		cur, err := readAssets(ctx, tx)
		if err != nil {
			return fmt.Errorf("read assets: %w", err)
		}
		old := make(map[string]model.Asset, len(cur))
		for _, a := range cur {
			old[a.Tag] = a
			if _, rewritten := in[a.Tag]; rewritten || replace {
				continue
			}
			// An asset the import keeps as it is keeps its MACs too.
			for _, m := range a.MACs {
				if other, taken := macOwner[m]; taken {
					return fmt.Errorf("MAC %s belongs to both %s and %s: %w", m, a.Tag, other, model.ErrConflict)
				}
			}
		}

		// Free the MACs of every asset that changes or goes before any is
		// written, so that a MAC may move from one asset to another.
		var changed []string
		for _, t := range tags {
			if before, ok := old[t]; ok && sameAsset(before, in[t]) {
				ch.Unchanged++
				continue
			}
			changed = append(changed, t)
		}
		var removed []string
		if replace {
			for _, t := range slices.Sorted(maps.Keys(old)) {
				if _, keep := in[t]; !keep {
					removed = append(removed, t)
				}
			}
		}
		for _, t := range slices.Concat(changed, removed) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM asset_macs WHERE tag = ?`, t); err != nil {
				return fmt.Errorf("free MACs of %s: %w", t, err)
			}
		}

		for _, t := range changed {
			a := in[t]
			before, ok := old[t]
			action := auditAssetAdd
			if ok {
				action = auditAssetUpdate
				ch.Updated++
			} else {
				ch.Added++
			}
			if err := putAsset(ctx, tx, a); err != nil {
				return err
			}
			var b *model.Asset
			if ok {
				b = &before
			}
			if err := auditAsset(ctx, tx, action, b, &a, actor, at); err != nil {
				return err
			}
		}
		for _, t := range removed {
			if _, err := tx.ExecContext(ctx, `DELETE FROM assets WHERE tag = ?`, t); err != nil {
				return fmt.Errorf("remove asset %s: %w", t, err)
			}
			before := old[t]
			if err := auditAsset(ctx, tx, auditAssetRemove, &before, nil, actor, at); err != nil {
				return err
			}
			ch.Removed++
		}
		return nil
	})
	if err != nil {
		return model.RegisterChange{}, fmt.Errorf("import assets: %w", err)
	}
	return ch, nil
}

// putAsset inserts or updates a and its MACs, whose rows must be free.
func putAsset(ctx context.Context, tx *sql.Tx, a model.Asset) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO assets (`+assetCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tag) DO UPDATE SET
			type = excluded.type, serial = excluded.serial, hostname = excluded.hostname,
			owner_unit = excluded.owner_unit, responsible = excluded.responsible, operated_by = excluded.operated_by,
			building = excluded.building, room = excluded.room, zone = excluded.zone, status = excluded.status,
			note = excluded.note, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		a.Tag, a.Type, a.Serial, a.Hostname, a.OwnerUnit, a.Responsible, a.OperatedBy, a.Building, a.Room,
		a.Zone, a.Status, a.Note, nanos(a.UpdatedAt), a.UpdatedBy); err != nil {
		return fmt.Errorf("write asset %s: %w", a.Tag, err)
	}
	for _, m := range a.MACs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO asset_macs (mac, tag) VALUES (?, ?)`, m, a.Tag); err != nil {
			if isDuplicate(err) {
				return fmt.Errorf("write asset %s: MAC %s is another asset's: %w", a.Tag, m, model.ErrConflict)
			}
			return fmt.Errorf("write asset %s: MAC %s: %w", a.Tag, m, err)
		}
	}
	return nil
}

func auditAsset(ctx context.Context, tx *sql.Tx, action string, before, after *model.Asset, actor string, at time.Time) error {
	tag := ""
	if before != nil {
		tag = before.Tag
	} else if after != nil {
		tag = after.Tag
	}
	return auditChange(ctx, tx, action, tag, before, after, toAssetJSON, actor, at)
}

// DeleteAsset removes the asset with tag and its MACs, audited; ErrNotFound
// if absent.
func (db *DB) DeleteAsset(ctx context.Context, tag, actor string, at time.Time) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		before, err := scanAsset(tx.QueryRowContext(ctx, `SELECT `+assetCols+` FROM assets WHERE tag = ?`, tag))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("asset %s: %w", tag, model.ErrNotFound)
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT mac FROM asset_macs WHERE tag = ? ORDER BY mac`, tag)
		if err != nil {
			return err
		}
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return err
			}
			before.MACs = append(before.MACs, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM asset_macs WHERE tag = ?`, tag); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM assets WHERE tag = ?`, tag); err != nil {
			return err
		}
		return auditAsset(ctx, tx, auditAssetRemove, &before, nil, actor, at)
	})
	if err != nil {
		return fmt.Errorf("delete asset: %w", err)
	}
	return nil
}
