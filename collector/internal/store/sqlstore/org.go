package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

var _ model.OrgStore = (*DB)(nil)

// orgKind is how one kind of the organisation register is stored, checked
// and audited; importOrg and deleteOrg do the rest alike for every kind.
type orgKind[T any] struct {
	what   string // in messages: "unit"
	action string // audit action prefix: "org.unit" (+ ".add", ".update", ".remove")
	table  string
	keyCol string
	key    func(T) string
	clean  func(T) (T, error)
	same   func(a, b T) bool
	read   func(ctx context.Context, q querier) ([]T, error)
	put    func(ctx context.Context, tx *sql.Tx, v T) error
	toJSON func(T) any
	stamp  func(v T, at time.Time, actor string) T
	// check refuses (ErrConflict) a register that would be inconsistent
	// after the change; before and after are the kind's entries.
	check func(ctx context.Context, tx *sql.Tx, before, after []T) error
}

// importOrg writes items of kind k in one transaction, as
// model.OrgStore's imports describe.
func importOrg[T any](ctx context.Context, db *DB, k orgKind[T], items []T, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	in := make(map[string]T, len(items))
	keys := make([]string, 0, len(items))
	for _, v := range items {
		v, err := k.clean(v)
		if err != nil {
			return model.RegisterChange{}, err
		}
		key := k.key(v)
		if _, dup := in[key]; dup {
			return model.RegisterChange{}, fmt.Errorf("%s %s repeated: %w", k.what, key, model.ErrConflict)
		}
		in[key] = k.stamp(v, at, actor)
		keys = append(keys, key)
	}
	var ch model.RegisterChange
	err := db.write(ctx, func(tx *sql.Tx) error {
		cur, err := k.read(ctx, tx)
		if err != nil {
			return fmt.Errorf("read %ss: %w", k.what, err)
		}
		old := make(map[string]T, len(cur))
		for _, v := range cur {
			old[k.key(v)] = v
		}
		var after []T
		for _, v := range cur {
			if _, rewritten := in[k.key(v)]; !rewritten && !replace {
				after = append(after, v)
			}
		}
		for _, key := range keys {
			after = append(after, in[key])
		}
		if err := k.check(ctx, tx, cur, after); err != nil {
			return err
		}
		for _, key := range keys {
			v := in[key]
			before, ok := old[key]
			if ok && k.same(before, v) {
				ch.Unchanged++
				continue
			}
			action := k.action + ".add"
			var b *T
			if ok {
				action, b = k.action+".update", &before
				ch.Updated++
			} else {
				ch.Added++
			}
			if err := k.put(ctx, tx, v); err != nil {
				return fmt.Errorf("write %s %s: %w", k.what, key, err)
			}
			if err := auditChange(ctx, tx, action, key, b, &v, k.toJSON, actor, at); err != nil {
				return err
			}
		}
		if !replace {
			return nil
		}
		for _, key := range slices.Sorted(maps.Keys(old)) {
			if _, keep := in[key]; keep {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+k.table+` WHERE `+k.keyCol+` = ?`, key); err != nil {
				return fmt.Errorf("remove %s %s: %w", k.what, key, err)
			}
			before := old[key]
			if err := auditChange(ctx, tx, k.action+".remove", key, &before, nil, k.toJSON, actor, at); err != nil {
				return err
			}
			ch.Removed++
		}
		return nil
	})
	if err != nil {
		return model.RegisterChange{}, err
	}
	return ch, nil
}

// deleteOrg removes the entry of kind k with key, audited.
func deleteOrg[T any](ctx context.Context, db *DB, k orgKind[T], key, actor string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		cur, err := k.read(ctx, tx)
		if err != nil {
			return fmt.Errorf("read %ss: %w", k.what, err)
		}
		i := slices.IndexFunc(cur, func(v T) bool { return k.key(v) == key })
		if i < 0 {
			return fmt.Errorf("%s %s: %w", k.what, key, model.ErrNotFound)
		}
		before := cur[i]
		if err := k.check(ctx, tx, cur, slices.Delete(slices.Clone(cur), i, i+1)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+k.table+` WHERE `+k.keyCol+` = ?`, key); err != nil {
			return fmt.Errorf("remove %s %s: %w", k.what, key, err)
		}
		return auditChange(ctx, tx, k.action+".remove", key, &before, nil, k.toJSON, actor, at)
	})
}

// jsonList stores a list of strings; none is "[]".
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// fromJSONList reads what jsonList stored; "[]" is nil.
func fromJSONList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("read list %.40q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// cleanList drops empty items and repeats, keeping the first of each;
// none is nil. bad reports an item that may not be stored.
func cleanList(l []string, bad func(string) bool) ([]string, string) {
	var out []string
	for _, s := range l {
		s = strings.TrimSpace(s)
		if s == "" || slices.Contains(out, s) {
			continue
		}
		if bad(s) {
			return nil, s
		}
		out = append(out, s)
	}
	return out, ""
}

// Units

const unitCols = `id, name, parent, manager, updated_at, updated_by`

func readUnits(ctx context.Context, q querier) ([]model.Unit, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+unitCols+` FROM org_units ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Unit
	for rows.Next() {
		var u model.Unit
		var updated int64
		if err := rows.Scan(&u.ID, &u.Name, &u.Parent, &u.Manager, &updated, &u.UpdatedBy); err != nil {
			return nil, err
		}
		u.UpdatedAt = fromNanos(updated)
		out = append(out, u)
	}
	return out, rows.Err()
}

// unitJSON is a unit as audit details show it.
type unitJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Parent    string    `json:"parent,omitempty"`
	Manager   string    `json:"manager,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

var unitKind = orgKind[model.Unit]{
	what: "unit", action: "org.unit", table: "org_units", keyCol: "id",
	key: func(u model.Unit) string { return u.ID },
	clean: func(u model.Unit) (model.Unit, error) {
		switch {
		case !model.ValidSlug(u.ID):
			return u, fmt.Errorf("unit id %q: %w", u.ID, model.ErrInvalid)
		case strings.TrimSpace(u.Name) == "":
			return u, fmt.Errorf("unit %s without a name: %w", u.ID, model.ErrInvalid)
		case u.Parent != "" && !model.ValidSlug(u.Parent), u.Manager != "" && !model.ValidSlug(u.Manager):
			return u, fmt.Errorf("unit %s: parent %q or manager %q is not an id: %w", u.ID, u.Parent, u.Manager, model.ErrInvalid)
		}
		return u, nil
	},
	same: func(a, b model.Unit) bool {
		return a.ID == b.ID && a.Name == b.Name && a.Parent == b.Parent && a.Manager == b.Manager
	},
	read: readUnits,
	put: func(ctx context.Context, tx *sql.Tx, u model.Unit) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO org_units (`+unitCols+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, parent = excluded.parent, manager = excluded.manager,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			u.ID, u.Name, u.Parent, u.Manager, nanos(u.UpdatedAt), u.UpdatedBy)
		return err
	},
	toJSON: func(u model.Unit) any {
		return unitJSON{u.ID, u.Name, u.Parent, u.Manager, u.UpdatedAt.UTC(), u.UpdatedBy}
	},
	stamp: func(u model.Unit, at time.Time, actor string) model.Unit {
		u.UpdatedAt, u.UpdatedBy = at, actor
		return u
	},
	check: func(ctx context.Context, tx *sql.Tx, _, after []model.Unit) error {
		people, err := readPeople(ctx, tx)
		if err != nil {
			return fmt.Errorf("read people: %w", err)
		}
		return model.CheckOrg(after, people, people)
	},
}

// Units returns the organisational units sorted by id.
func (db *DB) Units(ctx context.Context) ([]model.Unit, error) {
	us, err := readUnits(ctx, db.r)
	if err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	return us, nil
}

// ImportUnits writes units as model.OrgStore describes: ErrConflict when a
// parent or manager is not registered, parents form a cycle, or an id
// repeats; ErrInvalid for a malformed unit.
func (db *DB) ImportUnits(ctx context.Context, units []model.Unit, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	ch, err := importOrg(ctx, db, unitKind, units, replace, actor, at)
	if err != nil {
		return ch, fmt.Errorf("import units: %w", err)
	}
	return ch, nil
}

// People

const personCols = `id, name, email, phone, unit, roles, username, lang, updated_at, updated_by`

func readPeople(ctx context.Context, q querier) ([]model.Person, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+personCols+` FROM org_people ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Person
	for rows.Next() {
		var p model.Person
		var roles string
		var updated int64
		if err := rows.Scan(&p.ID, &p.Name, &p.Email, &p.Phone, &p.Unit, &roles, &p.Username, &p.Lang, &updated, &p.UpdatedBy); err != nil {
			return nil, err
		}
		if p.Roles, err = fromJSONList(roles); err != nil {
			return nil, fmt.Errorf("person %s: %w", p.ID, err)
		}
		p.UpdatedAt = fromNanos(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// personJSON is a person as audit details show it.
type personJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Phone     string    `json:"phone,omitempty"`
	Unit      string    `json:"unit,omitempty"`
	Roles     []string  `json:"roles,omitempty"`
	Username  string    `json:"username,omitempty"`
	Lang      string    `json:"lang"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

var personKind = orgKind[model.Person]{
	what: "person", action: "org.person", table: "org_people", keyCol: "id",
	key: func(p model.Person) string { return p.ID },
	clean: func(p model.Person) (model.Person, error) {
		switch {
		case !model.ValidSlug(p.ID):
			return p, fmt.Errorf("person id %q: %w", p.ID, model.ErrInvalid)
		case strings.TrimSpace(p.Name) == "":
			return p, fmt.Errorf("person %s without a name: %w", p.ID, model.ErrInvalid)
		case p.Email != "" && !model.ValidEmail(p.Email):
			return p, fmt.Errorf("person %s: e-mail %q: %w", p.ID, p.Email, model.ErrInvalid)
		case p.Unit != "" && !model.ValidSlug(p.Unit):
			return p, fmt.Errorf("person %s: unit %q: %w", p.ID, p.Unit, model.ErrInvalid)
		}
		if p.Lang == "" {
			p.Lang = model.OrgLangs[0]
		}
		if !slices.Contains(model.OrgLangs, p.Lang) {
			return p, fmt.Errorf("person %s: language %q: %w", p.ID, p.Lang, model.ErrInvalid)
		}
		var bad string
		if p.Roles, bad = cleanList(p.Roles, func(r string) bool { return !model.ValidSlug(r) }); bad != "" {
			return p, fmt.Errorf("person %s: role %q: %w", p.ID, bad, model.ErrInvalid)
		}
		return p, nil
	},
	same: func(a, b model.Person) bool {
		return a.ID == b.ID && a.Name == b.Name && a.Email == b.Email && a.Phone == b.Phone && a.Unit == b.Unit &&
			slices.Equal(a.Roles, b.Roles) && a.Username == b.Username && a.Lang == b.Lang
	},
	read: readPeople,
	put: func(ctx context.Context, tx *sql.Tx, p model.Person) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO org_people (`+personCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, phone = excluded.phone,
				unit = excluded.unit, roles = excluded.roles, username = excluded.username, lang = excluded.lang,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			p.ID, p.Name, p.Email, p.Phone, p.Unit, jsonList(p.Roles), p.Username, p.Lang, nanos(p.UpdatedAt), p.UpdatedBy)
		return err
	},
	toJSON: func(p model.Person) any {
		return personJSON{p.ID, p.Name, p.Email, p.Phone, p.Unit, p.Roles, p.Username, p.Lang, p.UpdatedAt.UTC(), p.UpdatedBy}
	},
	stamp: func(p model.Person, at time.Time, actor string) model.Person {
		p.UpdatedAt, p.UpdatedBy = at, actor
		return p
	},
	check: func(ctx context.Context, tx *sql.Tx, before, after []model.Person) error {
		units, err := readUnits(ctx, tx)
		if err != nil {
			return fmt.Errorf("read units: %w", err)
		}
		return model.CheckOrg(units, after, before)
	},
}

// People returns the people sorted by id.
func (db *DB) People(ctx context.Context) ([]model.Person, error) {
	ps, err := readPeople(ctx, db.r)
	if err != nil {
		return nil, fmt.Errorf("people: %w", err)
	}
	return ps, nil
}

// ImportPeople writes people as model.OrgStore describes: ErrConflict when
// a unit is not registered, a unit's manager would go, a user name belongs
// to two people, no security officer would remain, or an id repeats;
// ErrInvalid for a malformed person. An empty language is nb.
func (db *DB) ImportPeople(ctx context.Context, people []model.Person, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	ch, err := importOrg(ctx, db, personKind, people, replace, actor, at)
	if err != nil {
		return ch, fmt.Errorf("import people: %w", err)
	}
	return ch, nil
}

// Supplier personnel

const supplierCols = `id, name, supplier, email, accounts, declaration_signed, declaration_sha256, declaration_expires, updated_at, updated_by`

func readSuppliers(ctx context.Context, q querier) ([]model.SupplierPerson, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+supplierCols+` FROM org_suppliers ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.SupplierPerson
	for rows.Next() {
		var s model.SupplierPerson
		var accounts string
		var signed, expires, updated int64
		if err := rows.Scan(&s.ID, &s.Name, &s.Supplier, &s.Email, &accounts, &signed, &s.DeclarationSHA256, &expires, &updated, &s.UpdatedBy); err != nil {
			return nil, err
		}
		if s.Accounts, err = fromJSONList(accounts); err != nil {
			return nil, fmt.Errorf("supplier person %s: %w", s.ID, err)
		}
		s.DeclarationSigned, s.DeclarationExpires, s.UpdatedAt = fromNanos(signed), fromNanos(expires), fromNanos(updated)
		out = append(out, s)
	}
	return out, rows.Err()
}

// supplierJSON is a supplier person as audit details show it.
type supplierJSON struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Supplier           string     `json:"supplier"`
	Email              string     `json:"email,omitempty"`
	Accounts           []string   `json:"accounts,omitempty"`
	DeclarationSigned  *time.Time `json:"declaration_signed,omitempty"`
	DeclarationSHA256  string     `json:"declaration_sha256,omitempty"`
	DeclarationExpires *time.Time `json:"declaration_expires,omitempty"`
	UpdatedAt          time.Time  `json:"updated_at"`
	UpdatedBy          string     `json:"updated_by,omitempty"`
}

// optTime is t for JSON, nil for the zero time.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

var supplierKind = orgKind[model.SupplierPerson]{
	what: "supplier person", action: "org.supplier", table: "org_suppliers", keyCol: "id",
	key: func(s model.SupplierPerson) string { return s.ID },
	clean: func(s model.SupplierPerson) (model.SupplierPerson, error) {
		switch {
		case !model.ValidSlug(s.ID):
			return s, fmt.Errorf("supplier person id %q: %w", s.ID, model.ErrInvalid)
		case strings.TrimSpace(s.Name) == "", strings.TrimSpace(s.Supplier) == "":
			return s, fmt.Errorf("supplier person %s without a name or supplier: %w", s.ID, model.ErrInvalid)
		case s.Email != "" && !model.ValidEmail(s.Email):
			return s, fmt.Errorf("supplier person %s: e-mail %q: %w", s.ID, s.Email, model.ErrInvalid)
		case s.DeclarationSHA256 != "" && !model.ValidSHA256(s.DeclarationSHA256):
			return s, fmt.Errorf("supplier person %s: declaration SHA-256 %q: %w", s.ID, s.DeclarationSHA256, model.ErrInvalid)
		case s.DeclarationSigned.IsZero() != (s.DeclarationSHA256 == ""):
			return s, fmt.Errorf("supplier person %s: a declaration needs both its date and its hash: %w", s.ID, model.ErrInvalid)
		}
		var bad string
		if s.Accounts, bad = cleanList(s.Accounts, func(a string) bool { return strings.Contains(a, "|") }); bad != "" {
			return s, fmt.Errorf("supplier person %s: account %q holds |: %w", s.ID, bad, model.ErrInvalid)
		}
		return s, nil
	},
	same: func(a, b model.SupplierPerson) bool {
		return a.ID == b.ID && a.Name == b.Name && a.Supplier == b.Supplier && a.Email == b.Email &&
			slices.Equal(a.Accounts, b.Accounts) && a.DeclarationSigned.Equal(b.DeclarationSigned) &&
			a.DeclarationSHA256 == b.DeclarationSHA256 && a.DeclarationExpires.Equal(b.DeclarationExpires)
	},
	read: readSuppliers,
	put: func(ctx context.Context, tx *sql.Tx, s model.SupplierPerson) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO org_suppliers (`+supplierCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, supplier = excluded.supplier, email = excluded.email,
				accounts = excluded.accounts, declaration_signed = excluded.declaration_signed,
				declaration_sha256 = excluded.declaration_sha256, declaration_expires = excluded.declaration_expires,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			s.ID, s.Name, s.Supplier, s.Email, jsonList(s.Accounts), nanos(s.DeclarationSigned), s.DeclarationSHA256,
			nanos(s.DeclarationExpires), nanos(s.UpdatedAt), s.UpdatedBy)
		return err
	},
	toJSON: func(s model.SupplierPerson) any {
		return supplierJSON{s.ID, s.Name, s.Supplier, s.Email, s.Accounts, optTime(s.DeclarationSigned), s.DeclarationSHA256,
			optTime(s.DeclarationExpires), s.UpdatedAt.UTC(), s.UpdatedBy}
	},
	stamp: func(s model.SupplierPerson, at time.Time, actor string) model.SupplierPerson {
		s.UpdatedAt, s.UpdatedBy = at, actor
		return s
	},
	check: func(_ context.Context, _ *sql.Tx, _, after []model.SupplierPerson) error {
		owner := map[string]string{}
		for _, s := range after {
			for _, a := range s.Accounts {
				if other, dup := owner[strings.ToLower(a)]; dup {
					return fmt.Errorf("account %s belongs to both %s and %s: %w", a, other, s.ID, model.ErrConflict)
				}
				owner[strings.ToLower(a)] = s.ID
			}
		}
		return nil
	},
}

// SupplierPeople returns supplier personnel sorted by id.
func (db *DB) SupplierPeople(ctx context.Context) ([]model.SupplierPerson, error) {
	sps, err := readSuppliers(ctx, db.r)
	if err != nil {
		return nil, fmt.Errorf("supplier people: %w", err)
	}
	return sps, nil
}

// ImportSupplierPeople writes supplier personnel as model.OrgStore
// describes: ErrConflict when an account (ignoring case) would belong to two
// people or an id repeats; ErrInvalid for a malformed entry.
func (db *DB) ImportSupplierPeople(ctx context.Context, sps []model.SupplierPerson, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	ch, err := importOrg(ctx, db, supplierKind, sps, replace, actor, at)
	if err != nil {
		return ch, fmt.Errorf("import supplier people: %w", err)
	}
	return ch, nil
}

// Shared solutions

const sharedCols = `host, zones, risk_accepted_by, risk_accepted_at, document_sha256, expires, note, updated_at, updated_by`

func readShared(ctx context.Context, q querier) ([]model.SharedSolution, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+sharedCols+` FROM org_shared_solutions ORDER BY host`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.SharedSolution
	for rows.Next() {
		var s model.SharedSolution
		var zones string
		var accepted, expires, updated int64
		if err := rows.Scan(&s.Host, &zones, &s.RiskAcceptedBy, &accepted, &s.DocumentSHA256, &expires, &s.Note, &updated, &s.UpdatedBy); err != nil {
			return nil, err
		}
		if s.Zones, err = fromJSONList(zones); err != nil {
			return nil, fmt.Errorf("shared solution %s: %w", s.Host, err)
		}
		s.RiskAcceptedAt, s.Expires, s.UpdatedAt = fromNanos(accepted), fromNanos(expires), fromNanos(updated)
		out = append(out, s)
	}
	return out, rows.Err()
}

// sharedJSON is a shared solution as audit details show it.
type sharedJSON struct {
	Host           string     `json:"host"`
	Zones          []string   `json:"zones"`
	RiskAcceptedBy string     `json:"risk_accepted_by"`
	RiskAcceptedAt time.Time  `json:"risk_accepted_at"`
	DocumentSHA256 string     `json:"document_sha256"`
	Expires        *time.Time `json:"expires,omitempty"`
	Note           string     `json:"note,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
	UpdatedBy      string     `json:"updated_by,omitempty"`
}

var sharedKind = orgKind[model.SharedSolution]{
	what: "shared solution", action: "org.shared", table: "org_shared_solutions", keyCol: "host",
	key: func(s model.SharedSolution) string { return s.Host },
	clean: func(s model.SharedSolution) (model.SharedSolution, error) {
		var bad string
		s.Zones, bad = cleanList(s.Zones, func(z string) bool { return strings.ContainsFunc(z, func(r rune) bool { return r == '|' || r == ' ' }) })
		switch {
		case strings.TrimSpace(s.Host) == "" || strings.ContainsRune(s.Host, ' '):
			return s, fmt.Errorf("shared solution host %q: %w", s.Host, model.ErrInvalid)
		case bad != "" || len(s.Zones) < 2:
			return s, fmt.Errorf("shared solution %s: zones %q: want at least two: %w", s.Host, s.Zones, model.ErrInvalid)
		case !model.ValidSlug(s.RiskAcceptedBy) || s.RiskAcceptedAt.IsZero():
			return s, fmt.Errorf("shared solution %s: risk acceptance without who or when: %w", s.Host, model.ErrInvalid)
		case !model.ValidSHA256(s.DocumentSHA256):
			return s, fmt.Errorf("shared solution %s: document SHA-256 %q: %w", s.Host, s.DocumentSHA256, model.ErrInvalid)
		}
		return s, nil
	},
	same: func(a, b model.SharedSolution) bool {
		return a.Host == b.Host && slices.Equal(a.Zones, b.Zones) && a.RiskAcceptedBy == b.RiskAcceptedBy &&
			a.RiskAcceptedAt.Equal(b.RiskAcceptedAt) && a.DocumentSHA256 == b.DocumentSHA256 &&
			a.Expires.Equal(b.Expires) && a.Note == b.Note
	},
	read: readShared,
	put: func(ctx context.Context, tx *sql.Tx, s model.SharedSolution) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO org_shared_solutions (`+sharedCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (host) DO UPDATE SET zones = excluded.zones, risk_accepted_by = excluded.risk_accepted_by,
				risk_accepted_at = excluded.risk_accepted_at, document_sha256 = excluded.document_sha256,
				expires = excluded.expires, note = excluded.note, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
			s.Host, jsonList(s.Zones), s.RiskAcceptedBy, nanos(s.RiskAcceptedAt), s.DocumentSHA256, nanos(s.Expires), s.Note,
			nanos(s.UpdatedAt), s.UpdatedBy)
		return err
	},
	toJSON: func(s model.SharedSolution) any {
		return sharedJSON{s.Host, s.Zones, s.RiskAcceptedBy, s.RiskAcceptedAt.UTC(), s.DocumentSHA256, optTime(s.Expires),
			s.Note, s.UpdatedAt.UTC(), s.UpdatedBy}
	},
	stamp: func(s model.SharedSolution, at time.Time, actor string) model.SharedSolution {
		s.UpdatedAt, s.UpdatedBy = at, actor
		return s
	},
	check: func(context.Context, *sql.Tx, []model.SharedSolution, []model.SharedSolution) error { return nil },
}

// SharedSolutions returns the shared-solution machines sorted by host.
func (db *DB) SharedSolutions(ctx context.Context) ([]model.SharedSolution, error) {
	ss, err := readShared(ctx, db.r)
	if err != nil {
		return nil, fmt.Errorf("shared solutions: %w", err)
	}
	return ss, nil
}

// ImportSharedSolutions writes shared-solution machines as model.OrgStore
// describes: ErrConflict when a host repeats; ErrInvalid for an entry
// without a host, two zones, who accepted the risk and when, or the
// document's hash.
func (db *DB) ImportSharedSolutions(ctx context.Context, ss []model.SharedSolution, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	ch, err := importOrg(ctx, db, sharedKind, ss, replace, actor, at)
	if err != nil {
		return ch, fmt.Errorf("import shared solutions: %w", err)
	}
	return ch, nil
}

// DeleteOrgEntry removes one entry of the organisation register, audited:
// ErrNotFound if absent, ErrInvalid for an unknown kind, ErrConflict when a
// unit or person is still referred to or is the last security officer.
func (db *DB) DeleteOrgEntry(ctx context.Context, kind, id, actor string, at time.Time) error {
	var err error
	switch kind {
	case model.OrgUnits:
		err = deleteOrg(ctx, db, unitKind, id, actor, at)
	case model.OrgPeople:
		err = deleteOrg(ctx, db, personKind, id, actor, at)
	case model.OrgSuppliers:
		err = deleteOrg(ctx, db, supplierKind, id, actor, at)
	case model.OrgSharedSolutions:
		err = deleteOrg(ctx, db, sharedKind, id, actor, at)
	default:
		err = fmt.Errorf("kind %q: %w", kind, model.ErrInvalid)
	}
	if err != nil {
		return fmt.Errorf("delete from organisation register: %w", err)
	}
	return nil
}
