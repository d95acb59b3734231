package model

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Kinds of entry in the organisation register, as the API names them.
const (
	OrgUnits           = "units"
	OrgPeople          = "people"
	OrgSuppliers       = "suppliers"
	OrgSharedSolutions = "shared-solutions"
)

// OrgKinds lists the organisation register's kinds, in the order pages show
// them.
var OrgKinds = []string{OrgUnits, OrgPeople, OrgSuppliers, OrgSharedSolutions}

// Roles a person in the organisation register may hold (S10.1). A role is a
// short lower-case word; these are the ones the collector acts on.
const (
	OrgRoleLeder     = "leder"     // line manager (nærmeste leder)
	OrgRoleSikkerhet = "sikkerhet" // information security officer
	OrgRoleDrift     = "drift"     // operations
)

// Languages a person may get notifications in; the first is the default.
var OrgLangs = []string{"nb", "en"}

// Unit is an organisational unit (S10.1): a slug id, a name, the unit above
// it and its line manager.
type Unit struct {
	ID        string // short slug: "helse"
	Name      string
	Parent    string // the unit above; "" for a top unit
	Manager   string // the person id of its line manager; "" when none
	UpdatedAt time.Time
	UpdatedBy string
}

// Person is someone in the organisation: contact data, unit and roles, and
// the UI user name by which the collector knows them when they log in.
type Person struct {
	ID        string // short slug: "kari.nordmann"
	Name      string
	Email     string
	Phone     string
	Unit      string   // unit id; "" when none
	Roles     []string // OrgRole… and others, each a slug, no repeats
	Username  string   // the UI user name; "" when none
	Lang      string   // one of OrgLangs
	UpdatedAt time.Time
	UpdatedBy string
}

// HasRole reports whether p holds role.
func (p Person) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

// SupplierPerson is one of a supplier's staff with access to the
// municipality's systems (S2.2), the accounts they use on hosts and their
// signed confidentiality declaration (S2.3).
type SupplierPerson struct {
	ID                 string // short slug
	Name               string
	Supplier           string   // the company
	Email              string   // "" when unknown
	Accounts           []string // account names on hosts: "acme-svc", `DOMAIN\acme.ola`
	DeclarationSigned  time.Time
	DeclarationSHA256  string    // lower-case hex of the signed document; "" when none
	DeclarationExpires time.Time // zero: does not expire
	UpdatedAt          time.Time
	UpdatedBy          string
}

// DeclarationValid reports whether the confidentiality declaration is
// signed and, at now, not expired.
func (s SupplierPerson) DeclarationValid(now time.Time) bool {
	if s.DeclarationSigned.IsZero() || s.DeclarationSHA256 == "" {
		return false
	}
	return s.DeclarationExpires.IsZero() || now.Before(s.DeclarationExpires)
}

// SharedSolution is a machine allowed to reach several zones (the
// strategy's "delt løsning", S5.2) with its recorded risk acceptance. The
// acceptor is a person id as it was when accepted; it is not checked
// against the register, so that the record outlives the person's entry.
type SharedSolution struct {
	Host           string   // agent id or hostname; the key
	Zones          []string // the zones it may reach, at least two, no repeats
	RiskAcceptedBy string   // person id
	RiskAcceptedAt time.Time
	DocumentSHA256 string    // lower-case hex of the risk assessment document
	Expires        time.Time // zero: does not expire
	Note           string
	UpdatedAt      time.Time
	UpdatedBy      string
}

// Org is the organisation register as a whole.
type Org struct {
	Units     []Unit
	People    []Person
	Suppliers []SupplierPerson
	Shared    []SharedSolution
}

// OrgStore keeps the organisation register. Each kind lists sorted by its
// key (byte order) and imports like AssetStore.ImportAssets: in one
// transaction, with replace the kind becomes exactly the given entries,
// without it they are added or updated by key; every entry added, updated
// or removed is audited with actor, before and after. An import or delete
// that would leave units and people inconsistent (see CheckOrg) is refused
// with ErrConflict naming why; a repeated key is ErrConflict, a malformed
// entry ErrInvalid. Either way nothing is written.
type OrgStore interface {
	Units(ctx context.Context) ([]Unit, error)
	People(ctx context.Context) ([]Person, error)
	SupplierPeople(ctx context.Context) ([]SupplierPerson, error)
	SharedSolutions(ctx context.Context) ([]SharedSolution, error)

	ImportUnits(ctx context.Context, units []Unit, replace bool, actor string, at time.Time) (RegisterChange, error)
	ImportPeople(ctx context.Context, people []Person, replace bool, actor string, at time.Time) (RegisterChange, error)
	ImportSupplierPeople(ctx context.Context, sp []SupplierPerson, replace bool, actor string, at time.Time) (RegisterChange, error)
	ImportSharedSolutions(ctx context.Context, ss []SharedSolution, replace bool, actor string, at time.Time) (RegisterChange, error)

	// DeleteOrgEntry removes the entry of kind (one of OrgKinds) with id,
	// audited; ErrNotFound if absent, ErrInvalid for an unknown kind,
	// ErrConflict when others refer to it.
	DeleteOrgEntry(ctx context.Context, kind, id, actor string, at time.Time) error
}

// ValidSlug reports whether s is a register id: 1 to 64 bytes of lower-case
// letters, digits, '.', '_' and '-', starting with a letter or digit.
func ValidSlug(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidEmail reports whether s is a bare e-mail address (local@domain, no
// display name or angle brackets).
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
}

// ValidSHA256 reports whether s is a SHA-256 digest in lower-case hex.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// SecurityOfficers returns the people who hold the sikkerhet role, in the
// order given.
func SecurityOfficers(people []Person) []Person {
	var out []Person
	for _, p := range people {
		if p.HasRole(OrgRoleSikkerhet) {
			out = append(out, p)
		}
	}
	return out
}

// UnitCycle returns the parent chain that leads from unit id back to a unit
// already on it ("a -> b -> a"), or "" when the chain ends. parent maps a
// unit id to its parent's.
func UnitCycle(id string, parent map[string]string) string {
	seen := map[string]bool{}
	chain := []string{}
	for u := id; u != ""; u = parent[u] {
		chain = append(chain, u)
		if seen[u] {
			return strings.Join(chain, " -> ")
		}
		seen[u] = true
	}
	return ""
}

// OrgProblems says what makes units and people inconsistent, one sentence
// per problem, in a fixed order: a unit whose parent or manager is not
// registered, a parent chain that returns to itself, a person whose unit is
// not registered, a UI user name held by two people, and people without any
// security officer (sikkerhet) among them.
func OrgProblems(units []Unit, people []Person) []string {
	var ps []string
	parent := make(map[string]string, len(units))
	for _, u := range units {
		parent[u.ID] = u.Parent
	}
	person := make(map[string]bool, len(people))
	for _, p := range people {
		person[p.ID] = true
	}
	for _, u := range units {
		if _, ok := parent[u.Parent]; u.Parent != "" && !ok {
			ps = append(ps, fmt.Sprintf("unit %s: parent %s is not a registered unit", u.ID, u.Parent))
		}
		if u.Manager != "" && !person[u.Manager] {
			ps = append(ps, fmt.Sprintf("unit %s: manager %s is not a registered person", u.ID, u.Manager))
		}
	}
	reported := map[string]bool{}
	for _, u := range units {
		if c := UnitCycle(u.ID, parent); c != "" && !reported[u.ID] {
			ps = append(ps, fmt.Sprintf("unit %s: the parent chain %s is a cycle", u.ID, c))
			for _, id := range strings.Split(c, " -> ") {
				reported[id] = true
			}
		}
	}
	users := map[string]string{}
	for _, p := range people {
		if _, ok := parent[p.Unit]; p.Unit != "" && !ok {
			ps = append(ps, fmt.Sprintf("person %s: unit %s is not a registered unit", p.ID, p.Unit))
		}
		if p.Username == "" {
			continue
		}
		if other, dup := users[p.Username]; dup {
			ps = append(ps, fmt.Sprintf("person %s: user name %s is also %s's", p.ID, p.Username, other))
		}
		users[p.Username] = p.ID
	}
	if len(people) > 0 && len(SecurityOfficers(people)) == 0 {
		ps = append(ps, "no person holds the sikkerhet role; at least one information security officer must be registered")
	}
	return ps
}

// CheckOrg returns nil when units and people are consistent (OrgProblems
// finds nothing), else ErrConflict naming every problem. before are the
// people as registered until now: when the change takes away the last
// security officer, the error names who that was.
func CheckOrg(units []Unit, people, before []Person) error {
	ps := OrgProblems(units, people)
	if len(ps) == 0 {
		return nil
	}
	if len(people) > 0 && len(SecurityOfficers(people)) == 0 {
		var gone []string
		for _, p := range SecurityOfficers(before) {
			gone = append(gone, p.ID)
		}
		if len(gone) > 0 {
			ps[len(ps)-1] = fmt.Sprintf("the change removes the last information security officer (sikkerhet): %s", strings.Join(gone, ", "))
		}
	}
	return fmt.Errorf("organisation register: %s: %w", strings.Join(ps, "; "), ErrConflict)
}
