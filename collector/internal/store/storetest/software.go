package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// swEntry is a software catalogue entry with its ID set.
func swEntry(verdict, name, publisher, source, minV, maxV, reason string) model.SoftwareEntry {
	e := model.SoftwareEntry{Verdict: verdict, NamePattern: name, Publisher: publisher, Source: source,
		MinVersion: minV, MaxVersion: maxV, Reason: reason}
	e.ID = e.Key()
	return e
}

func swStamped(e model.SoftwareEntry, by string, when time.Time) model.SoftwareEntry {
	e.UpdatedBy, e.UpdatedAt = by, when
	return e
}

func softwareCatalog(t *testing.T, st model.Store) []model.SoftwareEntry {
	t.Helper()
	es, err := st.SoftwareCatalog(t.Context())
	must(t, "SoftwareCatalog", err)
	for i := range es {
		es[i].UpdatedAt = es[i].UpdatedAt.UTC()
	}
	return es
}

// softwareAudit checks the audit events of catalogue changes: action and
// subject in order, by actor at when, before and after present as the action
// says, the after side naming the entry's pattern.
func softwareAudit(t *testing.T, what string, es []model.AuditEvent, actor string, when time.Time, want ...string) {
	t.Helper()
	var got []string
	for _, e := range es {
		got = append(got, e.Action+" "+e.Subject)
		if e.Actor != actor || !e.At.Equal(when) {
			t.Errorf("%s: audit %s %s by %q at %v, want by %q at %v", what, e.Action, e.Subject, e.Actor, e.At, actor, when)
		}
		var d struct{ Before, After *struct{ ID, Name string } }
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Errorf("%s: audit %s %s detail %q: %v", what, e.Action, e.Subject, e.Detail, err)
			continue
		}
		wantBefore, wantAfter := e.Action != "software.catalog.add", e.Action != "software.catalog.remove"
		if (d.Before != nil) != wantBefore || (d.After != nil) != wantAfter {
			t.Errorf("%s: audit %s detail %s: before/after present %v/%v, want %v/%v", what, e.Action, e.Detail,
				d.Before != nil, d.After != nil, wantBefore, wantAfter)
		}
		for _, side := range []*struct{ ID, Name string }{d.Before, d.After} {
			if side != nil && (side.ID != e.Subject || side.Name == "") {
				t.Errorf("%s: audit %s detail %s does not describe %s", what, e.Action, e.Detail, e.Subject)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: audit %q, want %q", what, got, want)
	}
}

func testSoftwareCatalogImport(t *testing.T, st model.Store) {
	ctx := t.Context()
	if es := softwareCatalog(t, st); len(es) != 0 {
		t.Errorf("SoftwareCatalog on an empty store = %+v, want none", es)
	}
	a := swEntry("denied", "uTorrent", "", "windows", "", "", "Peer-to-peer file sharing")
	b := swEntry("approved", "Firefox*", "Mozilla*", "", "115.0", "", "Standard browser")
	c := swEntry("denied", "*miner*", "", "", "", "", "Crypto mining")
	d := swEntry("approved", "openssl", "", "dpkg", "3.0.2-0ubuntu1.10", "", "")

	ch, err := st.ImportSoftwareCatalog(ctx, []model.SoftwareEntry{a, b}, false, "drift", at(time.Hour))
	must(t, "ImportSoftwareCatalog(a, b)", err)
	if want := (model.RegisterChange{Added: 2}); ch != want {
		t.Errorf("ImportSoftwareCatalog(a, b) = %+v, want %+v", ch, want)
	}
	want := []model.SoftwareEntry{swStamped(b, "drift", at(time.Hour)), swStamped(a, "drift", at(time.Hour))}
	if got := softwareCatalog(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("SoftwareCatalog =\n%+v\nwant (by ID)\n%+v", got, want)
	}
	log := audit(t, st, 0)
	softwareAudit(t, "first import", log, "drift", at(time.Hour), "software.catalog.add "+a.ID, "software.catalog.add "+b.ID)
	seen := lastSeq(log)

	// Merge: a unchanged (stamps are not data), b updated, c added. The ID
	// comes from the fields, whatever the caller set.
	b2 := b
	b2.MinVersion, b2.Reason = "128.0", "Standard browser, ESR"
	c.ID = "whatever"
	ch, err = st.ImportSoftwareCatalog(ctx, []model.SoftwareEntry{swStamped(a, "someone", at(0)), b2, c}, false, "sikkerhet", at(2*time.Hour))
	must(t, "ImportSoftwareCatalog(a, b2, c)", err)
	if want := (model.RegisterChange{Added: 1, Updated: 1, Unchanged: 1}); ch != want {
		t.Errorf("ImportSoftwareCatalog(a, b2, c) = %+v, want %+v", ch, want)
	}
	c.ID = c.Key()
	want = []model.SoftwareEntry{swStamped(b2, "sikkerhet", at(2*time.Hour)), swStamped(c, "sikkerhet", at(2*time.Hour)), swStamped(a, "drift", at(time.Hour))}
	if got := softwareCatalog(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("SoftwareCatalog after merge =\n%+v\nwant\n%+v", got, want)
	}
	log = audit(t, st, seen)
	softwareAudit(t, "merge", log, "sikkerhet", at(2*time.Hour), "software.catalog.update "+b.ID, "software.catalog.add "+c.ID)
	if len(log) == 2 && (!strings.Contains(log[0].Detail, `"115.0"`) || !strings.Contains(log[0].Detail, `"128.0"`)) {
		t.Errorf("update audit detail %s: want the min version before and after", log[0].Detail)
	}
	seen = lastSeq(log)

	// Replace: the catalogue becomes d and b2; a and c go.
	ch, err = st.ImportSoftwareCatalog(ctx, []model.SoftwareEntry{d, b2}, true, "admin", at(3*time.Hour))
	must(t, "ImportSoftwareCatalog(replace: d, b2)", err)
	if want := (model.RegisterChange{Added: 1, Removed: 2, Unchanged: 1}); ch != want {
		t.Errorf("ImportSoftwareCatalog(replace: d, b2) = %+v, want %+v", ch, want)
	}
	want = []model.SoftwareEntry{swStamped(b2, "sikkerhet", at(2*time.Hour)), swStamped(d, "admin", at(3*time.Hour))}
	if got := softwareCatalog(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("SoftwareCatalog after replace =\n%+v\nwant\n%+v", got, want)
	}
	log = audit(t, st, seen)
	softwareAudit(t, "replace", log, "admin", at(3*time.Hour), "software.catalog.add "+d.ID,
		"software.catalog.remove "+c.ID, "software.catalog.remove "+a.ID)
	seen = lastSeq(log)

	// Delete one, audited; a second time it is not found.
	must(t, "DeleteSoftwareEntry", st.DeleteSoftwareEntry(ctx, d.ID, "drift", at(4*time.Hour)))
	if err := st.DeleteSoftwareEntry(ctx, d.ID, "drift", at(4*time.Hour)); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("DeleteSoftwareEntry(gone) = %v, want ErrNotFound", err)
	}
	softwareAudit(t, "delete", audit(t, st, seen), "drift", at(4*time.Hour), "software.catalog.remove "+d.ID)
	if got := softwareCatalog(t, st); len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("SoftwareCatalog after delete = %+v", got)
	}
}

func testSoftwareCatalogRefused(t *testing.T, st model.Store) {
	ctx := t.Context()
	base := swEntry("denied", "utorrent", "", "", "", "", "")
	_, err := st.ImportSoftwareCatalog(ctx, []model.SoftwareEntry{base}, false, "drift", at(0))
	must(t, "ImportSoftwareCatalog(base)", err)
	seen := lastSeq(audit(t, st, 0))
	for _, tc := range []struct {
		name string
		in   []model.SoftwareEntry
		want error
	}{
		{"repeated ID", []model.SoftwareEntry{swEntry("denied", "x", "", "", "", "", "one"), swEntry("denied", "X", "", "", "", "", "two")}, model.ErrConflict},
		{"bad verdict", []model.SoftwareEntry{swEntry("maybe", "x", "", "", "", "", "")}, model.ErrInvalid},
		{"no name", []model.SoftwareEntry{swEntry("denied", "", "", "", "", "", "")}, model.ErrInvalid},
		{"bad glob", []model.SoftwareEntry{swEntry("denied", "x[0-9]", "", "", "", "", "")}, model.ErrInvalid},
		{"bad source", []model.SoftwareEntry{swEntry("denied", "x", "", "snap", "", "", "")}, model.ErrInvalid},
		{"empty range", []model.SoftwareEntry{swEntry("approved", "x", "", "dpkg", "1.0", "1.0~rc1", "")}, model.ErrInvalid},
	} {
		// With replace, so that a write before the refusal would show.
		if _, err := st.ImportSoftwareCatalog(ctx, tc.in, true, "drift", at(time.Hour)); !errors.Is(err, tc.want) {
			t.Errorf("%s: ImportSoftwareCatalog = %v, want %v", tc.name, err, tc.want)
		}
	}
	if got := softwareCatalog(t, st); len(got) != 1 || got[0].ID != base.ID {
		t.Errorf("refused imports wrote: %+v", got)
	}
	if log := audit(t, st, seen); len(log) != 0 {
		t.Errorf("refused imports audited %q", auditActions(log))
	}
}
