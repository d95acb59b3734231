package web

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fakeSoftwareCatalog is the fake store's software catalogue, by ID; its
// zero value is empty. The fakeStore's mutex guards it.
type fakeSoftwareCatalog struct {
	entries map[string]model.SoftwareEntry
}

var _ model.SoftwareCatalogStore = (*fakeStore)(nil)

func (f *fakeStore) SoftwareCatalog(context.Context) ([]model.SoftwareEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]model.SoftwareEntry, 0, len(f.swcat.entries))
	for _, id := range slices.Sorted(maps.Keys(f.swcat.entries)) {
		out = append(out, f.swcat.entries[id])
	}
	return out, nil
}

// ImportSoftwareCatalog checks entries as the real stores do
// (model.CheckSoftwareEntry, no repeated ID; not the version order) and
// writes nothing when one fails.
func (f *fakeStore) ImportSoftwareCatalog(_ context.Context, entries []model.SoftwareEntry, replace bool, actor string, at time.Time) (model.RegisterChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ch model.RegisterChange
	seen := map[string]bool{}
	for _, e := range entries {
		if err := model.CheckSoftwareEntry(e); err != nil {
			return ch, err
		}
		if seen[e.Key()] {
			return ch, fmt.Errorf("software entry %q twice: %w", e.Key(), model.ErrConflict)
		}
		seen[e.Key()] = true
	}
	if f.swcat.entries == nil {
		f.swcat.entries = make(map[string]model.SoftwareEntry)
	}
	audit := func(action, id string) {
		f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: action, Subject: id})
	}
	for _, e := range entries {
		e.ID, e.UpdatedAt, e.UpdatedBy = e.Key(), at, actor
		old, ok := f.swcat.entries[e.ID]
		action := "software.catalog.update"
		switch {
		case !ok:
			ch.Added++
			action = "software.catalog.add"
		case sameSoftwareEntry(old, e):
			ch.Unchanged++
			continue
		default:
			ch.Updated++
		}
		f.swcat.entries[e.ID] = e
		audit(action, e.ID)
	}
	if replace {
		for _, id := range slices.Sorted(maps.Keys(f.swcat.entries)) {
			if !seen[id] {
				delete(f.swcat.entries, id)
				ch.Removed++
				audit("software.catalog.remove", id)
			}
		}
	}
	return ch, nil
}

func sameSoftwareEntry(a, b model.SoftwareEntry) bool {
	a.UpdatedAt, a.UpdatedBy, b.UpdatedAt, b.UpdatedBy = time.Time{}, "", time.Time{}, ""
	return a == b
}

func (f *fakeStore) DeleteSoftwareEntry(_ context.Context, id, actor string, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.swcat.entries[id]; !ok {
		return notFound("software entry", id)
	}
	delete(f.swcat.entries, id)
	f.audit = append(f.audit, model.AuditEvent{Seq: int64(len(f.audit) + 1), At: at, Actor: actor, Action: "software.catalog.remove", Subject: id})
	return nil
}

// softwareEntries returns the fake's catalogue by ID.
func (f *fakeStore) softwareEntries() map[string]model.SoftwareEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.swcat.entries)
}

func (f *fakeStore) EachHostSoftware(context.Context, func(agentID, hostname string, pkgs []wire.Package) error) error {
	return nil
}
