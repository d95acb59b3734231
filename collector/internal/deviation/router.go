package deviation

import (
	"cmp"
	"slices"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Recipient is someone a deviation is routed to: the assignee it is filed
// under, and where and in which language to tell them.
type Recipient struct {
	// Assignee is "person:<id>" for a registered person, SecurityOfficer
	// for the configured fallback officer, or UnitManager(unit) for a unit
	// whose chain of units has no manager.
	Assignee string
	Email    string // "" when there is no address to mail
	Lang     string // "nb" or "en"
	Name     string
}

// PersonAssignee is the assignee that stands for a registered person.
func PersonAssignee(id string) string { return "person:" + id }

// Router routes deviations by the organisation register (S1.2): to the
// information security officers, and to the line manager nearest above the
// subject's unit. It is a snapshot; build a new one when the register
// changes. A Router is safe for concurrent use.
type Router struct {
	units    map[string]model.Unit
	people   map[string]model.Person
	children map[string][]string // unit -> its sub-units, sorted
	officers []Recipient
}

// NewRouter returns a Router over units and people. fallback is the
// security officer of the collector's configuration, routed to when no
// person holds the sikkerhet role; its Assignee defaults to SecurityOfficer.
func NewRouter(units []model.Unit, people []model.Person, fallback Recipient) *Router {
	r := &Router{
		units:    make(map[string]model.Unit, len(units)),
		people:   make(map[string]model.Person, len(people)),
		children: make(map[string][]string),
	}
	for _, u := range units {
		r.units[u.ID] = u
	}
	for _, u := range units {
		if _, ok := r.units[u.Parent]; ok && u.Parent != u.ID {
			r.children[u.Parent] = append(r.children[u.Parent], u.ID)
		}
	}
	for _, c := range r.children {
		slices.Sort(c)
	}
	for _, p := range people {
		r.people[p.ID] = p
	}
	for _, p := range model.SecurityOfficers(people) {
		r.officers = append(r.officers, recipientOf(p))
	}
	slices.SortFunc(r.officers, func(a, b Recipient) int { return cmp.Compare(a.Assignee, b.Assignee) })
	if len(r.officers) == 0 {
		if fallback.Assignee == "" {
			fallback.Assignee = SecurityOfficer
		}
		if fallback.Lang == "" {
			fallback.Lang = model.OrgLangs[0]
		}
		r.officers = []Recipient{fallback}
	}
	return r
}

func recipientOf(p model.Person) Recipient {
	lang := p.Lang
	if lang == "" {
		lang = model.OrgLangs[0]
	}
	return Recipient{Assignee: PersonAssignee(p.ID), Email: p.Email, Lang: lang, Name: p.Name}
}

// Route returns who a deviation about a subject of unit goes to: every
// security officer (or the fallback), then the nearest superior: the unit's
// manager, or, when it has none, the manager of the nearest unit above it.
// A known unit with no manager anywhere above it gets UnitManager(unit)
// without an address, so that the deviation stays filed under the unit.
// With no unit, or one the register does not know, only the officers. A
// person is listed once, even when both officer and manager.
func (r *Router) Route(unit string) []Recipient {
	out := slices.Clone(r.officers)
	if _, ok := r.units[unit]; !ok {
		return out
	}
	seen := map[string]bool{}
	for u := unit; u != "" && !seen[u]; u = r.units[u].Parent {
		seen[u] = true
		m, ok := r.people[r.units[u].Manager]
		if !ok {
			continue
		}
		rc := recipientOf(m)
		if !slices.ContainsFunc(out, func(x Recipient) bool { return x.Assignee == rc.Assignee }) {
			out = append(out, rc)
		}
		return out
	}
	return append(out, Recipient{Assignee: UnitManager(unit), Lang: model.OrgLangs[0]})
}

// Assignees returns the assignees of Route(unit), and UnitManager(unit)
// besides for a known unit, so that a deviation stays visible to whoever
// manages the unit later.
func (r *Router) Assignees(unit string) []string {
	var as []string
	for _, rc := range r.Route(unit) {
		as = append(as, rc.Assignee)
	}
	if _, ok := r.units[unit]; ok && !slices.Contains(as, UnitManager(unit)) {
		as = append(as, UnitManager(unit))
	}
	return as
}

// UnitsManagedBy returns, sorted, the units whose manager is the person with
// the UI user name username, and all units below them: those whose
// deviations a line manager (leder) sees and handles. None for an unknown
// or empty user name.
func (r *Router) UnitsManagedBy(username string) []string {
	if username == "" {
		return nil
	}
	var ids []string
	for _, p := range r.people {
		if p.Username == username {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	var walk func(u string)
	walk = func(u string) {
		if seen[u] {
			return
		}
		seen[u] = true
		out = append(out, u)
		for _, c := range r.children[u] {
			walk(c)
		}
	}
	for id, u := range r.units {
		if slices.Contains(ids, u.Manager) {
			walk(id)
		}
	}
	slices.Sort(out)
	return out
}
