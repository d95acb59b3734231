package web

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// fakeOrg is the fake store's organisation register (model.OrgStore, on
// fakeStore): maps by key, made on first use. It checks units and people
// with model.CheckOrg like the real stores, and audits every change;
// storetest is the conformance reference.
type fakeOrg struct {
	units     map[string]model.Unit
	people    map[string]model.Person
	suppliers map[string]model.SupplierPerson
	shared    map[string]model.SharedSolution
	err       error // when set, every org method returns it
}

// sortedValues returns m's values sorted by key.
func sortedValues[T any](m map[string]T) []T {
	out := make([]T, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, m[k])
	}
	return out
}

// fakeImport applies an import to *m under f.mu, as model.OrgStore
// describes; check sees the kind's entries after the change.
func fakeImport[T any](f *fakeStore, m *map[string]T, items []T, key func(T) string, stamp func(T, time.Time, string) T,
	check func(after map[string]T) error, action string, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	var ch model.RegisterChange
	if f.org.err != nil {
		return ch, f.org.err
	}
	next := map[string]T{}
	if !replace {
		maps.Copy(next, *m)
	}
	seen := map[string]bool{}
	for _, v := range items {
		k := key(v)
		if k == "" {
			return ch, fmt.Errorf("%s without a key: %w", action, model.ErrInvalid)
		}
		if seen[k] {
			return ch, fmt.Errorf("%s %s repeated: %w", action, k, model.ErrConflict)
		}
		seen[k] = true
		next[k] = stamp(v, at, actor)
	}
	if err := check(next); err != nil {
		return ch, err
	}
	for _, v := range items {
		k := key(v)
		old, ok := (*m)[k]
		switch {
		case !ok:
			ch.Added++
			f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: action + ".add", Subject: k})
		case reflect.DeepEqual(stamp(old, at, actor), next[k]):
			ch.Unchanged++
			next[k] = old
		default:
			ch.Updated++
			f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: action + ".update", Subject: k})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(*m)) {
		if _, keep := next[k]; !keep {
			ch.Removed++
			f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: action + ".remove", Subject: k})
		}
	}
	*m = next
	return ch, nil
}

func stampUnit(u model.Unit, at time.Time, actor string) model.Unit {
	u.UpdatedAt, u.UpdatedBy = at, actor
	return u
}

func stampPerson(p model.Person, at time.Time, actor string) model.Person {
	if p.Lang == "" {
		p.Lang = "nb"
	}
	p.UpdatedAt, p.UpdatedBy = at, actor
	return p
}

func stampSupplier(s model.SupplierPerson, at time.Time, actor string) model.SupplierPerson {
	s.UpdatedAt, s.UpdatedBy = at, actor
	return s
}

func stampShared(s model.SharedSolution, at time.Time, actor string) model.SharedSolution {
	s.UpdatedAt, s.UpdatedBy = at, actor
	return s
}

func noCheck[T any](map[string]T) error { return nil }

func (f *fakeStore) Units(context.Context) ([]model.Unit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedValues(f.org.units), f.org.err
}

func (f *fakeStore) People(context.Context) ([]model.Person, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedValues(f.org.people), f.org.err
}

func (f *fakeStore) SupplierPeople(context.Context) ([]model.SupplierPerson, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedValues(f.org.suppliers), f.org.err
}

func (f *fakeStore) SharedSolutions(context.Context) ([]model.SharedSolution, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return sortedValues(f.org.shared), f.org.err
}

func (f *fakeStore) ImportUnits(_ context.Context, units []model.Unit, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	people := sortedValues(f.org.people)
	return fakeImport(f, &f.org.units, units, func(u model.Unit) string { return u.ID }, stampUnit,
		func(after map[string]model.Unit) error { return model.CheckOrg(sortedValues(after), people, people) },
		"org.unit", replace, actor, at)
}

func (f *fakeStore) ImportPeople(_ context.Context, people []model.Person, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	units, before := sortedValues(f.org.units), sortedValues(f.org.people)
	return fakeImport(f, &f.org.people, people, func(p model.Person) string { return p.ID }, stampPerson,
		func(after map[string]model.Person) error { return model.CheckOrg(units, sortedValues(after), before) },
		"org.person", replace, actor, at)
}

func (f *fakeStore) ImportSupplierPeople(_ context.Context, sps []model.SupplierPerson, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeImport(f, &f.org.suppliers, sps, func(s model.SupplierPerson) string { return s.ID }, stampSupplier,
		noCheck[model.SupplierPerson], "org.supplier", replace, actor, at)
}

func (f *fakeStore) ImportSharedSolutions(_ context.Context, ss []model.SharedSolution, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fakeImport(f, &f.org.shared, ss, func(s model.SharedSolution) string { return s.Host }, stampShared,
		noCheck[model.SharedSolution], "org.shared", replace, actor, at)
}

// fakeDelete removes key from *m when check accepts what remains.
func fakeDelete[T any](f *fakeStore, m map[string]T, key string, check func(after map[string]T) error, action, actor string, at time.Time) error {
	if _, ok := m[key]; !ok {
		return fmt.Errorf("%s %s: %w", action, key, model.ErrNotFound)
	}
	after := maps.Clone(m)
	delete(after, key)
	if err := check(after); err != nil {
		return err
	}
	delete(m, key)
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: action + ".remove", Subject: key})
	return nil
}

func (f *fakeStore) DeleteOrgEntry(_ context.Context, kind, id, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.org.err != nil {
		return f.org.err
	}
	units, people := sortedValues(f.org.units), sortedValues(f.org.people)
	switch kind {
	case model.OrgUnits:
		return fakeDelete(f, f.org.units, id, func(after map[string]model.Unit) error { return model.CheckOrg(sortedValues(after), people, people) },
			"org.unit", actor, at)
	case model.OrgPeople:
		return fakeDelete(f, f.org.people, id, func(after map[string]model.Person) error { return model.CheckOrg(units, sortedValues(after), people) },
			"org.person", actor, at)
	case model.OrgSuppliers:
		return fakeDelete(f, f.org.suppliers, id, noCheck[model.SupplierPerson], "org.supplier", actor, at)
	case model.OrgSharedSolutions:
		return fakeDelete(f, f.org.shared, id, noCheck[model.SharedSolution], "org.shared", actor, at)
	}
	return fmt.Errorf("kind %q: %w", kind, model.ErrInvalid)
}

// orgAuditActions returns the actions of the organisation register's audit
// entries, in order.
func (f *fakeStore) orgAuditActions() []string {
	var out []string
	for _, e := range f.auditEvents() {
		if strings.HasPrefix(e.Action, "org.") {
			out = append(out, e.Action+" "+e.Subject)
		}
	}
	return out
}
