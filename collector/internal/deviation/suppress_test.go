package deviation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// openOf returns the open deviations of a rule as "id subject".
func openOf(t *testing.T, db *sqlstore.DB, rule string) []string {
	t.Helper()
	ds, err := db.ListDeviations(t.Context(), model.DeviationQuery{Status: "open", Rule: rule, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.ID+" "+d.Subject)
	}
	return out
}

// onlyOpen returns the one open deviation of the rule, failing otherwise.
func onlyOpen(t *testing.T, db *sqlstore.DB, rule string) (id, subject string) {
	t.Helper()
	open := openOf(t, db, rule)
	if len(open) != 1 {
		t.Fatalf("open %s deviations = %q, want one", rule, open)
	}
	id, subject, _ = strings.Cut(open[0], " ")
	return id, subject
}

func TestExceptionSetFilter(t *testing.T) {
	fs := []model.NewDeviation{
		{Finding: model.Finding{Rule: "r", Subject: "a"}},
		{Finding: model.Finding{Rule: "r", Subject: "b"}},
		{Finding: model.Finding{Rule: "q", Subject: "a"}},
	}
	for _, tc := range []struct {
		name string
		set  exceptionSet
		want []string
	}{
		{"nil", nil, []string{"r/a", "r/b", "q/a"}},
		{"rule and subject both", exceptionSet{{Rule: "r", Subject: "a"}: true}, []string{"r/b", "q/a"}},
		{"other rule", exceptionSet{{Rule: "x", Subject: "a"}: true}, []string{"r/a", "r/b", "q/a"}},
	} {
		var got []string
		for _, f := range tc.set.filter(slices.Clone(fs)) {
			got = append(got, f.Rule+"/"+f.Subject)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: filter = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestExceptionSuppressesEvents: an exception on a cross-zone flow closes
// its deviation and drops the finding until it expires or is revoked.
func TestExceptionSuppressesEvents(t *testing.T) {
	m, err := zone.Parse("zones.yaml", []byte(flowZones))
	if err != nil {
		t.Fatal(err)
	}
	db := sqliteStore(t, "pc")
	ctx := t.Context()
	h0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := h0.Add(time.Hour)
	e := New(Config{Store: db, ZoneMap: m, Now: func() time.Time { return now },
		Rules: rules.Config{rules.SharedSolution: {Disabled: true}}})
	seq := uint64(0)
	flowAt := func(at time.Time) {
		t.Helper()
		seq++
		ingestFlows(t, db, "pc", seq, at, crossFlow("10.1.0.1", "10.20.0.9", 80, "kontor", "helse", at))
		if err := e.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	flowAt(h0)
	id, subject := onlyOpen(t, db, rules.CrossZoneFlow)
	x, err := db.GrantException(ctx, id, "test system", "sikker", now.Add(24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if x.Subject != subject {
		t.Fatalf("exception subject %q, want %q", x.Subject, subject)
	}
	// While active: the same flow an hour later opens nothing.
	now = h0.Add(3 * time.Hour)
	flowAt(h0.Add(2 * time.Hour))
	if open := openOf(t, db, rules.CrossZoneFlow); len(open) != 0 {
		t.Fatalf("open with an active exception: %q", open)
	}
	// Expired: it comes back as a new deviation.
	now = x.Expires.Add(time.Minute)
	flowAt(h0.Add(26 * time.Hour))
	id2, subject2 := onlyOpen(t, db, rules.CrossZoneFlow)
	if id2 == id || subject2 != subject {
		t.Fatalf("after expiry open %s %s; want a new deviation about %s", id2, subject2, subject)
	}
	// Revoked: the same.
	x2, err := db.GrantException(ctx, id2, "igjen", "sikker", now.Add(24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	flowAt(h0.Add(28 * time.Hour))
	if open := openOf(t, db, rules.CrossZoneFlow); len(open) != 0 {
		t.Fatalf("open with an active exception: %q", open)
	}
	if err := db.RevokeException(ctx, x2.ID, "admin", now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	flowAt(h0.Add(30 * time.Hour))
	if id3, _ := onlyOpen(t, db, rules.CrossZoneFlow); id3 == id2 || id3 == id {
		t.Errorf("after revocation open %s; want a new deviation", id3)
	}
}

// TestExceptionSuppressesStanding: an exception on an unregistered host
// clears its condition; when it expires or is revoked, the condition arises
// again and opens a new deviation.
func TestExceptionSuppressesStanding(t *testing.T) {
	db := sqliteStore(t, "a1")
	ctx := t.Context()
	now := hostsNow
	e := New(Config{Store: db, Now: func() time.Time { return now }})
	eval := func() {
		t.Helper()
		if err := e.EvaluateHosts(ctx); err != nil {
			t.Fatal(err)
		}
	}
	active := func() bool {
		t.Helper()
		cs, err := db.StandingConditions(ctx, rules.UnregisteredHost)
		if err != nil || len(cs) != 1 {
			t.Fatalf("StandingConditions = %+v, %v", cs, err)
		}
		return cs[0].Active
	}
	eval()
	id, _ := onlyOpen(t, db, rules.UnregisteredHost)
	x, err := db.GrantException(ctx, id, "testmaskin", "sikker", now.Add(24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	eval()
	if open := openOf(t, db, rules.UnregisteredHost); len(open) != 0 || active() {
		t.Fatalf("with an active exception: open %q, condition active %v", open, active())
	}
	now = x.Expires
	eval()
	id2, _ := onlyOpen(t, db, rules.UnregisteredHost)
	if id2 == id || !active() {
		t.Fatalf("after expiry open %s, active %v; want a new deviation", id2, active())
	}
	x2, err := db.GrantException(ctx, id2, "igjen", "sikker", now.Add(24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	eval()
	if active() {
		t.Fatal("condition active with an active exception")
	}
	if err := db.RevokeException(ctx, x2.ID, "admin", now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	eval()
	if id3, _ := onlyOpen(t, db, rules.UnregisteredHost); id3 == id2 || id3 == id {
		t.Errorf("after revocation open %s; want a new deviation", id3)
	}
}
