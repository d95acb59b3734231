package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// standing is a finding of rule about subject, observed at when.
func standing(rule, subject string, when time.Time) model.NewDeviation {
	return model.NewDeviation{
		Finding: model.Finding{
			Rule: rule, Subject: subject, Title: rule + " " + subject, Severity: model.SeverityHigh,
			Refs: []string{"S1.3"}, At: when, Facts: map[string]string{"subject": subject},
		},
		Assignees: []string{"role:sikkerhet"},
		DueAt:     when.Add(72 * time.Hour),
	}
}

func recordStanding(t *testing.T, st model.Store, rule string, scope []string, subjects []string, now time.Time) []string {
	t.Helper()
	var fs []model.NewDeviation
	for _, s := range subjects {
		fs = append(fs, standing(rule, s, now))
	}
	res, err := st.RecordStanding(t.Context(), rule, scope, fs, now)
	must(t, fmt.Sprintf("RecordStanding(%s, %q, %q)", rule, scope, subjects), err)
	return results(res)
}

// conditions renders a rule's standing conditions as
// "subject active since last cleared" lines, times as offsets from t0.
func conditions(t *testing.T, st model.Store, rule string) []string {
	t.Helper()
	cs, err := st.StandingConditions(t.Context(), rule)
	must(t, "StandingConditions("+rule+")", err)
	var out []string
	off := func(x time.Time) string {
		if x.IsZero() {
			return "-"
		}
		return x.Sub(t0).String()
	}
	for _, c := range cs {
		if c.Rule != rule && rule != "" {
			t.Errorf("StandingConditions(%s) returned a condition of %s", rule, c.Rule)
		}
		out = append(out, fmt.Sprintf("%s %v %s %s %s", c.Subject, c.Active, off(c.Since), off(c.LastSeen), off(c.ClearedAt)))
	}
	return out
}

func wantResults(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func wantConditions(t *testing.T, st model.Store, rule string, want []string) {
	t.Helper()
	if got := conditions(t, st, rule); !reflect.DeepEqual(got, want) {
		t.Errorf("StandingConditions(%s) =\n%q\nwant\n%q", rule, got, want)
	}
}

// testStandingLifecycle walks conditions through firing, restating,
// clearing, coming back, and a deviation closed by a person.
func testStandingLifecycle(t *testing.T, st model.Store) {
	const rule = "unregistered-host"
	h := time.Hour
	wantResults(t, "first evaluation", recordStanding(t, st, rule, nil, []string{"host:a", "host:b"}, at(h)),
		[]string{"AVVIK-2026-1 true", "AVVIK-2026-2 true"})

	// Restating adds no occurrence and no result; only last seen moves.
	wantResults(t, "restated", recordStanding(t, st, rule, nil, []string{"host:b", "host:a"}, at(2*h)), nil)
	for _, id := range []string{"AVVIK-2026-1", "AVVIK-2026-2"} {
		if d, tl := getDeviation(t, st, id); d.Count != 1 || len(tl) != 1 {
			t.Errorf("%s after restating: count %d, timeline %q; want 1, the created entry", id, d.Count, timelineRows(tl))
		}
	}
	wantConditions(t, st, rule, []string{"host:a true 1h0m0s 2h0m0s -", "host:b true 1h0m0s 2h0m0s -"})

	// b clears: its open deviation is told, and stays open.
	wantResults(t, "b cleared", recordStanding(t, st, rule, nil, []string{"host:a"}, at(3*h)), []string{"AVVIK-2026-2 false"})
	d, tl := getDeviation(t, st, "AVVIK-2026-2")
	if d.Status != model.StatusNew || d.Count != 1 || !d.UpdatedAt.Equal(at(3*h)) {
		t.Errorf("AVVIK-2026-2 after clearing: status %q, count %d, updated %v; want ny, 1, %v", d.Status, d.Count, d.UpdatedAt, at(3*h))
	}
	if got, want := timelineRows(tl), []string{"created system " + rule + " host:b", "cleared system condition cleared"}; !reflect.DeepEqual(got, want) {
		t.Errorf("AVVIK-2026-2 timeline = %q, want %q", got, want)
	} else if tl[1].Type != model.TimelineCleared || !tl[1].At.Equal(at(3*h)) {
		t.Errorf("cleared entry %+v, want type %q at %v", tl[1], model.TimelineCleared, at(3*h))
	}
	if log := audit(t, st, 0); len(log) == 0 || log[len(log)-1].Action != "deviation.cleared" || log[len(log)-1].Subject != "AVVIK-2026-2" {
		t.Errorf("audit = %q, want deviation.cleared AVVIK-2026-2 last", auditActions(log))
	}
	wantConditions(t, st, rule, []string{"host:a true 1h0m0s 3h0m0s -", "host:b false 1h0m0s 2h0m0s 3h0m0s"})
	// Staying clear changes nothing.
	wantResults(t, "b still clear", recordStanding(t, st, rule, nil, []string{"host:a"}, at(4*h)), nil)

	// b comes back while its deviation is open: an occurrence.
	wantResults(t, "b back", recordStanding(t, st, rule, nil, []string{"host:a", "host:b"}, at(5*h)), []string{"AVVIK-2026-2 false"})
	if d, _ := getDeviation(t, st, "AVVIK-2026-2"); d.Count != 2 || !d.LastSeen.Equal(at(5*h)) {
		t.Errorf("AVVIK-2026-2 after b came back: count %d, last seen %v; want 2, %v", d.Count, d.LastSeen, at(5*h))
	}
	wantConditions(t, st, rule, []string{"host:a true 1h0m0s 5h0m0s -", "host:b true 5h0m0s 5h0m0s -"})

	// A person closes a's deviation while a still stands: restating does not
	// reopen it.
	must(t, "SetDeviationStatus", st.SetDeviationStatus(t.Context(), "AVVIK-2026-1", model.StatusHandling, "kari", "", at(5*h)))
	must(t, "SetDeviationStatus", st.SetDeviationStatus(t.Context(), "AVVIK-2026-1", model.StatusClosed, "kari", "registered", at(5*h)))
	wantResults(t, "a restated after closing", recordStanding(t, st, rule, nil, []string{"host:a", "host:b"}, at(6*h)), nil)
	if ds := listDeviations(t, st, model.DeviationQuery{Status: "open", Limit: 10}); !reflect.DeepEqual(devIDs(ds), []string{"AVVIK-2026-2"}) {
		t.Errorf("open deviations = %q, want [AVVIK-2026-2]", devIDs(ds))
	}
	// a clears (nothing open to tell), then comes back: a new deviation.
	wantResults(t, "a cleared after closing", recordStanding(t, st, rule, nil, []string{"host:b"}, at(7*h)), nil)
	if _, tl := getDeviation(t, st, "AVVIK-2026-1"); tl[len(tl)-1].Type == model.TimelineCleared {
		t.Errorf("closed AVVIK-2026-1 got a cleared entry: %q", timelineRows(tl))
	}
	wantResults(t, "a back", recordStanding(t, st, rule, nil, []string{"host:a", "host:b"}, at(8*h)), []string{"AVVIK-2026-3 true"})
	if d, _ := getDeviation(t, st, "AVVIK-2026-3"); d.Subject != "host:a" || d.Status != model.StatusNew {
		t.Errorf("AVVIK-2026-3 = subject %q, status %q; want host:a, ny", d.Subject, d.Status)
	}
}

// testStandingScope checks that only conditions in scope clear, and that
// rules keep to themselves.
func testStandingScope(t *testing.T, st model.Store) {
	const rule, other = "agent-silent", "duplicate-identity"
	h := time.Hour
	wantResults(t, "first", recordStanding(t, st, rule, nil, []string{"agent:x", "agent:y", "agent:z"}, at(h)),
		[]string{"AVVIK-2026-1 true", "AVVIK-2026-2 true", "AVVIK-2026-3 true"})
	wantResults(t, "other rule", recordStanding(t, st, other, nil, []string{"identity:S1"}, at(h)), []string{"AVVIK-2026-4 true"})

	// Scope x and y: y clears, z stands untouched; the same subject twice
	// in fs counts once; a subject of fs outside scope still counts.
	res, err := st.RecordStanding(t.Context(), rule, []string{"agent:x", "agent:y", "agent:y"},
		[]model.NewDeviation{standing(rule, "agent:x", at(2*h)), standing(rule, "agent:w", at(2*h)), standing(rule, "agent:w", at(2*h))}, at(2*h))
	must(t, "RecordStanding(scoped)", err)
	wantResults(t, "scoped", results(res), []string{"AVVIK-2026-5 true", "AVVIK-2026-2 false"})
	wantConditions(t, st, rule, []string{
		"agent:w true 2h0m0s 2h0m0s -", "agent:x true 1h0m0s 2h0m0s -",
		"agent:y false 1h0m0s 1h0m0s 2h0m0s", "agent:z true 1h0m0s 1h0m0s -",
	})
	// An empty scope with no findings changes nothing; nil clears the rule.
	wantResults(t, "empty scope", recordStanding(t, st, rule, []string{}, nil, at(3*h)), nil)
	wantResults(t, "whole rule clear", recordStanding(t, st, rule, nil, nil, at(4*h)),
		[]string{"AVVIK-2026-5 false", "AVVIK-2026-1 false", "AVVIK-2026-3 false"})
	wantConditions(t, st, other, []string{"identity:S1 true 1h0m0s 1h0m0s -"})
	all, err := st.StandingConditions(t.Context(), "")
	must(t, "StandingConditions(all)", err)
	if len(all) != 5 || all[0].Rule != rule || all[4].Rule != other {
		t.Errorf("StandingConditions(\"\") = %+v, want the 5 conditions by rule and subject", all)
	}
}

func testStandingInvalid(t *testing.T, st model.Store) {
	ctx := t.Context()
	good := standing("unregistered-host", "host:a", at(0))
	for _, c := range []struct {
		rule string
		f    model.NewDeviation
	}{
		{"", good},
		{"agent-silent", good},
		{"unregistered-host", standing("unregistered-host", "", at(0))},
		{"unregistered-host", func() model.NewDeviation {
			f := standing("unregistered-host", "host:b", at(0))
			f.Severity = "urgent"
			return f
		}()},
	} {
		_, err := st.RecordStanding(ctx, c.rule, nil, []model.NewDeviation{good, c.f}, at(0))
		wantErr(t, fmt.Sprintf("RecordStanding(%q, %s %q %q)", c.rule, c.f.Rule, c.f.Subject, c.f.Severity), err, model.ErrInvalid)
	}
	if cs, err := st.StandingConditions(ctx, ""); err != nil || len(cs) != 0 {
		t.Errorf("StandingConditions after refused calls = %+v, %v; want none", cs, err)
	}
	if ds := listDeviations(t, st, model.DeviationQuery{Limit: 10}); len(ds) != 0 {
		t.Errorf("deviations after refused calls = %q, want none", devIDs(ds))
	}
}

func testHostAccounts(t *testing.T, st model.Store) {
	createAgent(t, st, "bg", "pc-02")
	createAgent(t, st, "ag", "pc-01")
	accs, err := st.HostAccounts(t.Context())
	must(t, "HostAccounts on agents without inventory", err)
	if len(accs) != 0 {
		t.Errorf("HostAccounts without inventory = %+v, want none", accs)
	}
	inv := snapshot(t, invB())
	ingest(t, st, invBatch(t, "ag", 1, inv))
	accs, err = st.HostAccounts(t.Context())
	must(t, "HostAccounts", err)
	want := []model.HostAccounts{{AgentID: "ag", Users: inv.Users, Sessions: inv.Sessions}}
	if !reflect.DeepEqual(accs, want) {
		t.Errorf("HostAccounts =\n%+v\nwant\n%+v", accs, want)
	}
}
