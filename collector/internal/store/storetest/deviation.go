package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// finding is an unknown-media finding about stick n seen on agentID in the
// record seq, observed at when.
func finding(n int, agentID string, seq uint64, when time.Time) model.NewDeviation {
	subject := "media:" + stick(n).Key()
	return model.NewDeviation{
		Finding: model.Finding{
			Rule: "unknown-media", Subject: subject, AgentID: agentID,
			Title: "Unregistered removable medium " + stick(n).Key(), Severity: model.SeverityHigh,
			Refs: []string{"S1.3", "S6.1"}, At: when,
			Facts:    map[string]string{"vid": "0781", "pid": "5583", "serial": stick(n).Serial, "class": "usb-storage"},
			Evidence: []model.EvidenceRef{{AgentID: agentID, Seq: seq, Kind: "media"}},
		},
		Assignees: []string{"role:sikkerhet", "unit:helse"},
		DueAt:     when.Add(5 * 24 * time.Hour),
	}
}

func recordFindings(t *testing.T, st model.Store, fs []model.NewDeviation, evaluated []int64, now time.Time) []model.RecordResult {
	t.Helper()
	res, err := st.RecordFindings(t.Context(), fs, model.Judged{Media: evaluated}, now)
	must(t, fmt.Sprintf("RecordFindings(%d findings)", len(fs)), err)
	if len(res) != len(fs) {
		t.Fatalf("RecordFindings(%d findings) = %d results", len(fs), len(res))
	}
	return res
}

func getDeviation(t *testing.T, st model.Store, id string) (model.Deviation, []model.TimelineEvent) {
	t.Helper()
	d, tl, err := st.GetDeviation(t.Context(), id)
	must(t, "GetDeviation("+id+")", err)
	return normDeviation(d), tl
}

func normDeviation(d model.Deviation) model.Deviation {
	for _, p := range []*time.Time{&d.CreatedAt, &d.UpdatedAt, &d.DueAt, &d.FirstSeen, &d.LastSeen, &d.BreachT0, &d.BreachDue} {
		*p = p.UTC()
	}
	return d
}

// timelineRows renders a timeline as "type actor text" lines.
func timelineRows(tl []model.TimelineEvent) []string {
	var out []string
	for _, e := range tl {
		out = append(out, e.Type+" "+e.Actor+" "+e.Text)
	}
	return out
}

func results(rs []model.RecordResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %v", r.ID, r.Created))
	}
	return out
}

func devIDs(ds []model.Deviation) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

// auditActions renders audit events as "action subject" lines.
func auditActions(es []model.AuditEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Action+" "+e.Subject)
	}
	return out
}

func testDeviationCreateGet(t *testing.T, st model.Store) {
	ctx := t.Context()
	f := finding(1, "ag", 7, at(time.Minute))
	now := at(2 * time.Minute)
	res := recordFindings(t, st, []model.NewDeviation{f}, nil, now)
	if want := []string{"AVVIK-2026-1 true"}; !reflect.DeepEqual(results(res), want) {
		t.Fatalf("RecordFindings = %q, want %q", results(res), want)
	}
	d, tl := getDeviation(t, st, "AVVIK-2026-1")
	want := model.Deviation{
		ID: "AVVIK-2026-1", Rule: f.Rule, Subject: f.Subject, AgentID: "ag", Title: f.Title, Severity: model.SeverityHigh,
		Refs: f.Refs, Status: model.StatusNew, Assignees: f.Assignees, CreatedAt: now, UpdatedAt: now, DueAt: f.DueAt,
		FirstSeen: f.At, LastSeen: f.At, Count: 1, Facts: f.Facts, Evidence: f.Evidence,
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("GetDeviation =\n%+v\nwant\n%+v", d, want)
	}
	if got, want := timelineRows(tl), []string{"created system " + f.Title}; !reflect.DeepEqual(got, want) {
		t.Errorf("timeline = %q, want %q", got, want)
	} else if !tl[0].At.Equal(now) || tl[0].Seq <= 0 {
		t.Errorf("created entry: seq %d at %v, want a seq, at %v", tl[0].Seq, tl[0].At, now)
	}
	log := audit(t, st, 0)
	if got, want := auditActions(log), []string{"deviation.create AVVIK-2026-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %q, want %q", got, want)
	} else if log[0].Actor != "system" || !log[0].At.Equal(now) {
		t.Errorf("audit of creation by %q at %v, want system at %v", log[0].Actor, log[0].At, now)
	}

	// Personal data opens the breach clock at the finding's time.
	p := finding(2, "ag", 8, at(3*time.Minute))
	p.PersonalData, p.BreachDue = true, p.At.Add(72*time.Hour)
	res = recordFindings(t, st, []model.NewDeviation{p}, nil, now)
	d, _ = getDeviation(t, st, res[0].ID)
	if !d.PersonalData || !d.BreachT0.Equal(p.At) || !d.BreachDue.Equal(p.BreachDue) {
		t.Errorf("deviation with personal data: PersonalData %v, T0 %v, due %v; want true, %v, %v", d.PersonalData, d.BreachT0, d.BreachDue, p.At, p.BreachDue)
	}

	// A finding with nothing but its key.
	bare := model.NewDeviation{Finding: model.Finding{Rule: "agent-silent", Subject: "agent:ag", Severity: model.SeverityLow, At: at(0)}}
	res = recordFindings(t, st, []model.NewDeviation{bare}, nil, now)
	d, _ = getDeviation(t, st, res[0].ID)
	want = model.Deviation{ID: "AVVIK-2026-3", Rule: "agent-silent", Subject: "agent:ag", Severity: model.SeverityLow,
		Status: model.StatusNew, CreatedAt: now, UpdatedAt: now, FirstSeen: at(0), LastSeen: at(0), Count: 1}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("bare deviation =\n%+v\nwant\n%+v", d, want)
	}

	_, _, err := st.GetDeviation(ctx, "AVVIK-2026-99")
	wantErr(t, "GetDeviation(unknown)", err, model.ErrNotFound)
	for _, bad := range []model.NewDeviation{
		{Finding: model.Finding{Subject: "x", Severity: model.SeverityLow}},
		{Finding: model.Finding{Rule: "x", Severity: model.SeverityLow}},
		{Finding: model.Finding{Rule: "x", Subject: "y", Severity: "urgent"}},
	} {
		_, err := st.RecordFindings(ctx, []model.NewDeviation{finding(9, "ag", 1, at(0)), bad}, model.Judged{}, now)
		wantErr(t, fmt.Sprintf("RecordFindings(%+v)", bad.Finding), err, model.ErrInvalid)
	}
	if ds := listDeviations(t, st, model.DeviationQuery{Limit: 100}); len(ds) != 3 {
		t.Errorf("deviations after refused calls = %q, want the 3 recorded before", devIDs(ds))
	}
}

func listDeviations(t *testing.T, st model.Store, q model.DeviationQuery) []model.Deviation {
	t.Helper()
	ds, err := st.ListDeviations(t.Context(), q)
	must(t, fmt.Sprintf("ListDeviations(%+v)", q), err)
	return ds
}

func testDeviationDedupe(t *testing.T, st model.Store) {
	// In one call: the second finding about stick 1 is an occurrence of
	// the first, seen on another agent; stick 2 opens its own.
	f1 := finding(1, "ag", 1, at(time.Minute))
	f2 := finding(1, "bg", 4, at(3*time.Minute))
	f3 := finding(2, "ag", 2, at(2*time.Minute))
	res := recordFindings(t, st, []model.NewDeviation{f1, f2, f3}, nil, at(time.Hour))
	if want := []string{"AVVIK-2026-1 true", "AVVIK-2026-1 false", "AVVIK-2026-2 true"}; !reflect.DeepEqual(results(res), want) {
		t.Fatalf("RecordFindings = %q, want %q", results(res), want)
	}
	d, tl := getDeviation(t, st, "AVVIK-2026-1")
	if d.Count != 2 || !d.FirstSeen.Equal(f1.At) || !d.LastSeen.Equal(f2.At) || d.AgentID != "ag" || !d.UpdatedAt.Equal(at(time.Hour)) {
		t.Errorf("after two occurrences: count %d, first %v, last %v, agent %s, updated %v", d.Count, d.FirstSeen, d.LastSeen, d.AgentID, d.UpdatedAt)
	}
	if want := append(f1.Evidence, f2.Evidence...); !reflect.DeepEqual(d.Evidence, want) {
		t.Errorf("evidence = %+v, want %+v", d.Evidence, want)
	}
	wantTL := []string{"created system " + f1.Title, "occurrence system seen on agent bg"}
	if got := timelineRows(tl); !reflect.DeepEqual(got, wantTL) {
		t.Errorf("timeline = %q, want %q", got, wantTL)
	}

	// Across calls: the same agent again, and an older observation, add
	// occurrences without timeline entries; bg again adds none either.
	older := finding(1, "ag", 3, at(0))
	res = recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 5, at(4*time.Minute)), older, finding(1, "bg", 6, at(5*time.Minute))}, nil, at(2*time.Hour))
	if want := []string{"AVVIK-2026-1 false", "AVVIK-2026-1 false", "AVVIK-2026-1 false"}; !reflect.DeepEqual(results(res), want) {
		t.Errorf("RecordFindings again = %q, want %q", results(res), want)
	}
	d, tl = getDeviation(t, st, "AVVIK-2026-1")
	if d.Count != 5 || !d.FirstSeen.Equal(at(0)) || !d.LastSeen.Equal(at(5*time.Minute)) || !d.UpdatedAt.Equal(at(2*time.Hour)) {
		t.Errorf("after five occurrences: count %d, first %v, last %v, updated %v", d.Count, d.FirstSeen, d.LastSeen, d.UpdatedAt)
	}
	if got := timelineRows(tl); !reflect.DeepEqual(got, wantTL) {
		t.Errorf("timeline = %q, want %q", got, wantTL)
	}
	// A third agent is news.
	recordFindings(t, st, []model.NewDeviation{finding(1, "cg", 1, at(6*time.Minute))}, nil, at(3*time.Hour))
	if _, tl = getDeviation(t, st, "AVVIK-2026-1"); len(tl) != 3 || tl[2].Text != "seen on agent cg" {
		t.Errorf("timeline after agent cg = %q, want an occurrence on cg last", timelineRows(tl))
	}

	// The same subject under another rule is another deviation.
	other := finding(1, "ag", 9, at(time.Minute))
	other.Rule = "unmarked-media"
	res = recordFindings(t, st, []model.NewDeviation{other}, nil, at(3*time.Hour))
	if want := []string{"AVVIK-2026-3 true"}; !reflect.DeepEqual(results(res), want) {
		t.Errorf("same subject, other rule = %q, want %q", results(res), want)
	}
	// Only creations are audited.
	if got, want := auditActions(audit(t, st, 0)), []string{"deviation.create AVVIK-2026-1", "deviation.create AVVIK-2026-2", "deviation.create AVVIK-2026-3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %q, want %q", got, want)
	}

	// Evidence keeps the newest 50 references.
	var many []model.NewDeviation
	for i := range 60 {
		many = append(many, finding(3, "ag", uint64(100+i), at(time.Duration(i)*time.Second)))
	}
	res = recordFindings(t, st, many, nil, at(4*time.Hour))
	d, _ = getDeviation(t, st, res[0].ID)
	if d.Count != 60 || len(d.Evidence) != 50 || d.Evidence[0].Seq != 110 || d.Evidence[49].Seq != 159 {
		t.Errorf("60 occurrences: count %d, %d evidence refs (%+v … %+v); want 60, seqs 110..159", d.Count, len(d.Evidence), first(d.Evidence), last(d.Evidence))
	}
}

func first(es []model.EvidenceRef) model.EvidenceRef {
	if len(es) == 0 {
		return model.EvidenceRef{}
	}
	return es[0]
}

func last(es []model.EvidenceRef) model.EvidenceRef {
	if len(es) == 0 {
		return model.EvidenceRef{}
	}
	return es[len(es)-1]
}

func testDeviationNumbering(t *testing.T, st model.Store) {
	in2026 := time.Date(2026, time.December, 31, 12, 0, 0, 0, time.UTC)
	in2027 := time.Date(2027, time.January, 1, 0, 0, 1, 0, time.UTC)
	// 00:30 in Oslo on New Year's Day is still 2026 in UTC.
	oslo := time.FixedZone("CET", 3600)
	late2026 := time.Date(2027, time.January, 1, 0, 30, 0, 0, oslo)
	for i, tc := range []struct {
		now  time.Time
		want string
	}{
		{in2026, "AVVIK-2026-1"},
		{in2026, "AVVIK-2026-2"},
		{in2027, "AVVIK-2027-1"},
		{late2026, "AVVIK-2026-3"},
		{in2027, "AVVIK-2027-2"},
	} {
		res := recordFindings(t, st, []model.NewDeviation{finding(i+1, "ag", 1, at(0))}, nil, tc.now)
		if res[0].ID != tc.want || !res[0].Created {
			t.Errorf("finding %d at %v: %s (created %v), want %s", i, tc.now, res[0].ID, res[0].Created, tc.want)
		}
	}
	// Ten and more sort by number, not by text.
	for i := range 8 {
		recordFindings(t, st, []model.NewDeviation{finding(10+i, "ag", 1, at(0))}, nil, in2026)
	}
	ds := listDeviations(t, st, model.DeviationQuery{Limit: 5})
	if want := []string{"AVVIK-2027-2", "AVVIK-2027-1", "AVVIK-2026-3", "AVVIK-2026-11", "AVVIK-2026-10"}; !reflect.DeepEqual(devIDs(ds), want) {
		t.Errorf("ListDeviations(limit 5) = %q, want %q (by creation, then number)", devIDs(ds), want)
	}
}

func testDeviationStatus(t *testing.T, st model.Store) {
	ctx := t.Context()
	res := recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 1, at(0)), finding(2, "ag", 2, at(0)), finding(3, "ag", 3, at(0))}, nil, at(time.Minute))
	d1, d2, d3 := res[0].ID, res[1].ID, res[2].ID
	seen := lastSeq(audit(t, st, 0))

	step := func(id, status, reason string, when time.Time, kind error) {
		t.Helper()
		err := st.SetDeviationStatus(ctx, id, status, "kari", reason, when)
		what := fmt.Sprintf("SetDeviationStatus(%s, %q, reason %q)", id, status, reason)
		if kind == nil {
			must(t, what, err)
			return
		}
		wantErr(t, what, err, kind)
	}
	step(d1, model.StatusClosed, "fixed", at(time.Hour), model.ErrInvalid) // not handled yet
	step(d1, model.StatusNew, "", at(time.Hour), model.ErrInvalid)
	step(d1, "open", "", at(time.Hour), model.ErrInvalid)
	step(d1, "", "", at(time.Hour), model.ErrInvalid)
	step("AVVIK-2026-99", model.StatusHandling, "", at(time.Hour), model.ErrNotFound)
	step(d1, model.StatusHandling, "", at(2*time.Hour), nil)
	// Under behandling is still open: the same finding is an occurrence.
	if res := recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 4, at(2*time.Hour))}, nil, at(2*time.Hour)); res[0].ID != d1 || res[0].Created {
		t.Errorf("finding while %s is under behandling = %q, want an occurrence of it", d1, results(res))
	}
	step(d1, model.StatusHandling, "", at(2*time.Hour), model.ErrInvalid)
	step(d1, model.StatusNew, "", at(2*time.Hour), model.ErrInvalid)
	step(d1, model.StatusClosed, "", at(3*time.Hour), model.ErrInvalid)
	step(d1, model.StatusClosed, "  ", at(3*time.Hour), model.ErrInvalid)
	step(d1, model.StatusClosed, "the stick was registered", at(3*time.Hour), nil)
	step(d1, model.StatusHandling, "", at(4*time.Hour), model.ErrInvalid)
	step(d1, model.StatusRejected, "no", at(4*time.Hour), model.ErrInvalid)
	step(d1, model.StatusNew, "", at(4*time.Hour), model.ErrInvalid)
	step(d2, model.StatusRejected, "", at(time.Hour), model.ErrInvalid)
	step(d2, model.StatusRejected, "a test stick", at(time.Hour), nil)
	step(d2, model.StatusClosed, "x", at(time.Hour), model.ErrInvalid)
	step(d3, model.StatusHandling, "looking", at(time.Hour), nil)
	step(d3, model.StatusRejected, "false alarm", at(2*time.Hour), nil)

	d, tl := getDeviation(t, st, d1)
	if d.Status != model.StatusClosed || !d.UpdatedAt.Equal(at(3*time.Hour)) {
		t.Errorf("%s: status %q, updated %v; want %q, %v", d1, d.Status, d.UpdatedAt, model.StatusClosed, at(3*time.Hour))
	}
	want := []string{"created system " + d.Title, "status kari ", "status kari the stick was registered"}
	if got := timelineRows(tl); !reflect.DeepEqual(got, want) {
		t.Fatalf("timeline of %s = %q, want %q", d1, got, want)
	}
	for i, w := range []map[string]string{{"from": "ny", "to": "under behandling"}, {"from": "under behandling", "to": "lukket"}} {
		var got map[string]string
		if err := json.Unmarshal([]byte(tl[i+1].Detail), &got); err != nil || got["from"] != w["from"] || got["to"] != w["to"] {
			t.Errorf("status entry %d detail = %s (%v), want from %q to %q", i, tl[i+1].Detail, err, w["from"], w["to"])
		}
	}
	if !tl[2].At.Equal(at(3 * time.Hour)) {
		t.Errorf("closing entry at %v, want %v", tl[2].At, at(3*time.Hour))
	}
	for id, want := range map[string]string{d2: model.StatusRejected, d3: model.StatusRejected} {
		if d, _ := getDeviation(t, st, id); d.Status != want {
			t.Errorf("%s: status %q, want %q", id, d.Status, want)
		}
	}
	log := audit(t, st, seen)
	wantLog := []string{"deviation.status " + d1, "deviation.status " + d1, "deviation.status " + d2, "deviation.status " + d3, "deviation.status " + d3}
	if got := auditActions(log); !reflect.DeepEqual(got, wantLog) {
		t.Errorf("audit of status changes = %q, want %q", got, wantLog)
	}
	for _, e := range log {
		if e.Actor != "kari" {
			t.Errorf("audit %s %s by %q, want kari", e.Action, e.Subject, e.Actor)
		}
	}

	// Closed and rejected deviations leave room: the same finding opens a
	// new one, and then adds occurrences to it.
	res = recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 10, at(5*time.Hour)), finding(2, "ag", 11, at(5*time.Hour)), finding(1, "ag", 12, at(5*time.Hour))}, nil, at(5*time.Hour))
	if want := []string{"AVVIK-2026-4 true", "AVVIK-2026-5 true", "AVVIK-2026-4 false"}; !reflect.DeepEqual(results(res), want) {
		t.Errorf("findings after closing = %q, want %q", results(res), want)
	}
	if d, _ := getDeviation(t, st, d1); d.Count != 2 || d.Status != model.StatusClosed {
		t.Errorf("closed %s after new findings: count %d, status %q; want 2, closed", d1, d.Count, d.Status)
	}
	open := listDeviations(t, st, model.DeviationQuery{Status: "open", Subject: finding(1, "", 0, at(0)).Subject, Limit: 10})
	if got := devIDs(open); !reflect.DeepEqual(got, []string{"AVVIK-2026-4"}) {
		t.Errorf("open deviations about stick 1 = %q, want [AVVIK-2026-4]", got)
	}
}

func testDeviationComment(t *testing.T, st model.Store) {
	ctx := t.Context()
	res := recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 1, at(0))}, nil, at(time.Minute))
	id := res[0].ID
	must(t, "CommentDeviation", st.CommentDeviation(ctx, id, "kari", "asked the owner", at(time.Hour)))
	wantErr(t, "CommentDeviation(empty)", st.CommentDeviation(ctx, id, "kari", " ", at(time.Hour)), model.ErrInvalid)
	wantErr(t, "CommentDeviation(unknown)", st.CommentDeviation(ctx, "AVVIK-2026-99", "kari", "x", at(time.Hour)), model.ErrNotFound)
	// Comments stay possible after closing.
	must(t, "SetDeviationStatus", st.SetDeviationStatus(ctx, id, model.StatusRejected, "kari", "owner's own stick", at(2*time.Hour)))
	must(t, "CommentDeviation after rejecting", st.CommentDeviation(ctx, id, "ola", "agreed", at(3*time.Hour)))

	d, tl := getDeviation(t, st, id)
	want := []string{"created system " + d.Title, "comment kari asked the owner", "status kari owner's own stick", "comment ola agreed"}
	if got := timelineRows(tl); !reflect.DeepEqual(got, want) {
		t.Errorf("timeline = %q, want %q", got, want)
	}
	for i := 1; i < len(tl); i++ {
		if tl[i].Seq <= tl[i-1].Seq {
			t.Errorf("timeline seqs %d, %d: want them increasing", tl[i-1].Seq, tl[i].Seq)
		}
	}
	if !tl[1].At.Equal(at(time.Hour)) {
		t.Errorf("comment at %v, want %v", tl[1].At, at(time.Hour))
	}
	wantLog := []string{"deviation.create " + id, "deviation.comment " + id, "deviation.status " + id, "deviation.comment " + id}
	if got := auditActions(audit(t, st, 0)); !reflect.DeepEqual(got, wantLog) {
		t.Errorf("audit = %q, want %q", got, wantLog)
	}
}

func testDeviationList(t *testing.T, st model.Store) {
	ctx := t.Context()
	// AVVIK-2026-1..4, created an hour apart; 5 and 6 at the same time.
	mk := func(n int, agent, rule string, now time.Time) string {
		f := finding(n, agent, 1, at(0))
		f.Rule = rule
		if n == 4 {
			f.Severity = model.SeverityLow
		}
		return recordFindings(t, st, []model.NewDeviation{f}, nil, now)[0].ID
	}
	d1 := mk(1, "ag", "unknown-media", at(1*time.Hour))
	d2 := mk(2, "bg", "unknown-media", at(2*time.Hour))
	d3 := mk(1, "ag", "unmarked-media", at(3*time.Hour))
	d4 := mk(3, "bg", "unmarked-media", at(4*time.Hour))
	d5 := mk(4, "ag", "unknown-media", at(5*time.Hour))
	d6 := mk(5, "ag", "unknown-media", at(5*time.Hour))
	must(t, "SetDeviationStatus", st.SetDeviationStatus(ctx, d2, model.StatusHandling, "kari", "", at(6*time.Hour)))
	must(t, "SetDeviationStatus", st.SetDeviationStatus(ctx, d3, model.StatusRejected, "kari", "duplicate", at(6*time.Hour)))
	must(t, "SetDeviationStatus", st.SetDeviationStatus(ctx, d4, model.StatusHandling, "kari", "", at(6*time.Hour)))
	must(t, "SetDeviationStatus", st.SetDeviationStatus(ctx, d4, model.StatusClosed, "kari", "done", at(6*time.Hour)))

	for _, tc := range []struct {
		q    model.DeviationQuery
		want []string
	}{
		{model.DeviationQuery{Limit: 10}, []string{d6, d5, d4, d3, d2, d1}},
		{model.DeviationQuery{Limit: 3}, []string{d6, d5, d4}},
		{model.DeviationQuery{Status: "open", Limit: 10}, []string{d6, d5, d2, d1}},
		{model.DeviationQuery{Status: model.StatusNew, Limit: 10}, []string{d6, d5, d1}},
		{model.DeviationQuery{Status: model.StatusHandling, Limit: 10}, []string{d2}},
		{model.DeviationQuery{Status: model.StatusClosed, Limit: 10}, []string{d4}},
		{model.DeviationQuery{Status: model.StatusRejected, Limit: 10}, []string{d3}},
		{model.DeviationQuery{Rule: "unmarked-media", Limit: 10}, []string{d4, d3}},
		{model.DeviationQuery{AgentID: "bg", Limit: 10}, []string{d4, d2}},
		{model.DeviationQuery{Subject: finding(1, "", 0, at(0)).Subject, Limit: 10}, []string{d3, d1}},
		{model.DeviationQuery{Status: "open", Rule: "unknown-media", AgentID: "ag", Limit: 10}, []string{d6, d5, d1}},
		{model.DeviationQuery{AgentID: "nope", Limit: 10}, nil},
		{model.DeviationQuery{Severity: model.SeverityLow, Limit: 10}, []string{d5}},
		{model.DeviationQuery{Status: "open", Severity: model.SeverityHigh, Limit: 10}, []string{d6, d2, d1}},
	} {
		if got := devIDs(listDeviations(t, st, tc.q)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListDeviations(%+v) = %q, want %q", tc.q, got, tc.want)
		}
	}
	// Listed deviations are whole.
	ds := listDeviations(t, st, model.DeviationQuery{Status: model.StatusClosed, Limit: 1})
	if d, _ := getDeviation(t, st, d4); len(ds) != 1 || !reflect.DeepEqual(normDeviation(ds[0]), d) {
		t.Errorf("ListDeviations entry = %+v, want %+v as GetDeviation has it", ds, d)
	}
	_, err := st.ListDeviations(ctx, model.DeviationQuery{})
	wantErr(t, "ListDeviations without a limit", err, model.ErrInvalid)
	_, err = st.ListDeviations(ctx, model.DeviationQuery{Status: "closed", Limit: 10})
	wantErr(t, "ListDeviations(status closed)", err, model.ErrInvalid)
}

func testDeviationEvaluated(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag", "pc-01")
	ingest(t, st, mediaBatch(t, "ag", 1, mediaEvent(wire.MediaAdd, stick(1)), mediaEvent(wire.MediaAdd, stick(2)), mediaEvent(wire.MediaAdd, stick(3))))
	evs := pending(t, st, 10)
	if len(evs) != 3 {
		t.Fatalf("PendingMedia = %q, want 3 events", mediaRows(evs))
	}
	// A refused call marks nothing.
	_, err := st.RecordFindings(ctx, []model.NewDeviation{{Finding: model.Finding{Rule: "x", Severity: model.SeverityLow}}}, model.Judged{Media: []int64{evs[0].ID}}, at(time.Hour))
	wantErr(t, "RecordFindings(finding without subject)", err, model.ErrInvalid)
	if got := pending(t, st, 10); len(got) != 3 {
		t.Errorf("PendingMedia after a refused call = %q, want all 3", mediaRows(got))
	}

	// The first two judged: one finding, one clean.
	recordFindings(t, st, []model.NewDeviation{finding(1, "ag", evs[0].Seq, evs[0].At)}, []int64{evs[0].ID, evs[1].ID}, at(time.Hour))
	if got := pending(t, st, 10); !reflect.DeepEqual(mediaIDs(got), []int64{evs[2].ID}) {
		t.Errorf("PendingMedia after judging two = %v, want [%d]", mediaIDs(got), evs[2].ID)
	}
	log := mediaLog(t, st, model.MediaLogQuery{Limit: 10})
	for _, e := range log {
		if want := e.ID != evs[2].ID; e.Evaluated != want {
			t.Errorf("media event %d: Evaluated %v, want %v", e.ID, e.Evaluated, want)
		}
	}
	// No findings at all still marks; marking twice is harmless.
	recordFindings(t, st, nil, []int64{evs[2].ID, evs[0].ID, 999999}, at(2*time.Hour))
	if got := pending(t, st, 10); len(got) != 0 {
		t.Errorf("PendingMedia after judging all = %q, want none", mediaRows(got))
	}
}

// Checks on several handles of one store's data.

func testDeviationReopen(t *testing.T, open func() model.Store) {
	st := open()
	createAgent(t, st, "ag", "pc-01")
	ingest(t, st, mediaBatch(t, "ag", 1, mediaEvent(wire.MediaAdd, stick(1)), mediaEvent(wire.MediaAdd, stick(2))))
	evs := pending(t, st, 10)
	res := recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 1, at(0))}, []int64{evs[0].ID}, at(time.Hour))
	must(t, "Close", st.Close())

	st = open()
	defer func() { must(t, "Close", st.Close()) }()
	if got := pending(t, st, 10); !reflect.DeepEqual(mediaIDs(got), []int64{evs[1].ID}) {
		t.Errorf("PendingMedia after reopening = %v, want [%d]", mediaIDs(got), evs[1].ID)
	}
	again := recordFindings(t, st, []model.NewDeviation{finding(1, "ag", 2, at(time.Minute)), finding(2, "ag", 3, at(time.Minute))}, nil, at(2*time.Hour))
	if want := []string{res[0].ID + " false", "AVVIK-2026-2 true"}; !reflect.DeepEqual(results(again), want) {
		t.Errorf("findings after reopening = %q, want %q", results(again), want)
	}
	if d, _ := getDeviation(t, st, res[0].ID); d.Count != 2 {
		t.Errorf("%s after reopening: count %d, want 2", res[0].ID, d.Count)
	}
}

func testDeviationReplicas(t *testing.T, open func() model.Store) {
	a, b := open(), open()
	defer func() { must(t, "Close", a.Close()); must(t, "Close", b.Close()) }()
	const n = 16
	results := make(chan model.RecordResult, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		st := []model.Store{a, b}[i%2]
		wg.Go(func() {
			res, err := st.RecordFindings(t.Context(), []model.NewDeviation{finding(1, "ag", uint64(i+1), at(0))}, model.Judged{}, at(time.Hour))
			if err != nil {
				errs <- err
				return
			}
			results <- res[0]
		})
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Errorf("RecordFindings on two handles at once = %v", err)
	}
	created, ids := 0, map[string]bool{}
	for r := range results {
		ids[r.ID] = true
		if r.Created {
			created++
		}
	}
	if created != 1 || len(ids) != 1 {
		t.Errorf("the same finding on two handles at once: %d created, ids %v; want 1 created, one id", created, ids)
	}
	ds := listDeviations(t, b, model.DeviationQuery{Limit: 10})
	if len(ds) != 1 || ds[0].Count != n {
		t.Errorf("deviations = %+v, want one with count %d", ds, n)
	}
}
