package storetest

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// auditSince returns the audit entries after seq.
func auditSince(t *testing.T, st model.Store, seq int64) []model.AuditEvent {
	t.Helper()
	es, err := st.ListAudit(t.Context(), seq, 1000)
	must(t, "ListAudit", err)
	return es
}

func lastAuditSeq(t *testing.T, st model.Store) int64 {
	t.Helper()
	es := auditSince(t, st, 0)
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

func timelineTypes(tl []model.TimelineEvent) []string {
	var out []string
	for _, e := range tl {
		out = append(out, e.Type)
	}
	return out
}

func testExceptionGrant(t *testing.T, st model.Store) {
	ctx := t.Context()
	res := recordFindings(t, st, []model.NewDeviation{finding(1, "a1", 1, at(0)), finding(2, "a1", 2, at(0))}, nil, at(0))
	id := res[0].ID
	for _, tc := range []struct {
		name    string
		id      string
		reason  string
		expires time.Time
		kind    error
	}{
		{"no reason", id, "  ", at(24 * time.Hour), model.ErrInvalid},
		{"expired", id, "ok", at(0), model.ErrInvalid},
		{"beyond a year", id, "ok", at(0).AddDate(1, 0, 1), model.ErrInvalid},
		{"unknown deviation", "AVVIK-1999-1", "ok", at(24 * time.Hour), model.ErrNotFound},
	} {
		_, err := st.GrantException(ctx, tc.id, tc.reason, "sikker", tc.expires, at(time.Hour))
		wantErr(t, "GrantException "+tc.name, err, tc.kind)
	}
	seq := lastAuditSeq(t, st)
	expires := at(0).AddDate(1, 0, 0)
	x, err := st.GrantException(ctx, id, "lånt kamera, kryptert", "sikker", expires, at(0))
	must(t, "GrantException", err)
	want := model.Exception{ID: "UNNTAK-2026-1", Rule: "unknown-media", Subject: "media:" + stick(1).Key(),
		Reason: "lånt kamera, kryptert", ApprovedBy: "sikker", CreatedAt: at(0), Expires: expires, DeviationID: id}
	if !reflect.DeepEqual(x, want) {
		t.Errorf("GrantException = %+v, want %+v", x, want)
	}
	d, tl := getDeviation(t, st, id)
	if d.Status != model.StatusClosed {
		t.Errorf("deviation status = %q, want %q", d.Status, model.StatusClosed)
	}
	lastTL := tl[len(tl)-1]
	if lastTL.Type != model.TimelineStatus || lastTL.Text != "exception UNNTAK-2026-1: lånt kamera, kryptert" || lastTL.Actor != "sikker" {
		t.Errorf("last timeline entry = %+v", lastTL)
	}
	if !slices.Contains(timelineTypes(tl), model.TimelineException) {
		t.Errorf("timeline %v has no %s entry", timelineTypes(tl), model.TimelineException)
	}
	if got, want := auditActions(auditSince(t, st, seq)), []string{"exception.grant UNNTAK-2026-1", "deviation.status " + id}; !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	// A closed deviation takes no exception.
	_, err = st.GrantException(ctx, id, "igjen", "sikker", expires, at(time.Hour))
	wantErr(t, "GrantException on a closed deviation", err, model.ErrInvalid)

	// The second gets the next number.
	x2, err := st.GrantException(ctx, res[1].ID, "test", "admin", at(48*time.Hour), at(time.Hour))
	must(t, "GrantException", err)
	if x2.ID != "UNNTAK-2026-2" {
		t.Errorf("second exception id = %s", x2.ID)
	}
	all, err := st.ListExceptions(ctx)
	must(t, "ListExceptions", err)
	if len(all) != 2 || all[0].ID != x2.ID || all[1].ID != x.ID {
		t.Errorf("ListExceptions = %+v, want newest first", all)
	}
}

func exceptionIDs(xs []model.Exception) []string {
	var out []string
	for _, x := range xs {
		out = append(out, x.ID)
	}
	return out
}

func testExceptionActive(t *testing.T, st model.Store) {
	ctx := t.Context()
	res := recordFindings(t, st, []model.NewDeviation{finding(1, "a1", 1, at(0)), finding(2, "a1", 2, at(0))}, nil, at(0))
	x1, err := st.GrantException(ctx, res[0].ID, "kort", "sikker", at(24*time.Hour), at(0))
	must(t, "GrantException", err)
	x2, err := st.GrantException(ctx, res[1].ID, "lang", "sikker", at(240*time.Hour), at(0))
	must(t, "GrantException", err)
	active := func(now time.Time) []string {
		xs, err := st.ActiveExceptions(ctx, now)
		must(t, "ActiveExceptions", err)
		return exceptionIDs(xs)
	}
	if got := active(at(time.Hour)); !reflect.DeepEqual(got, []string{x1.ID, x2.ID}) {
		t.Errorf("active at 1h = %v", got)
	}
	if got := active(at(24 * time.Hour)); !reflect.DeepEqual(got, []string{x2.ID}) {
		t.Errorf("active at expiry of %s = %v", x1.ID, got)
	}
	seq := lastAuditSeq(t, st)
	must(t, "RevokeException", st.RevokeException(ctx, x2.ID, "admin", at(2*time.Hour)))
	if got := active(at(3 * time.Hour)); !reflect.DeepEqual(got, []string{x1.ID}) {
		t.Errorf("active after revoking %s = %v", x2.ID, got)
	}
	es := auditSince(t, st, seq)
	if len(es) != 1 || es[0].Action != "exception.revoke" || es[0].Subject != x2.ID || es[0].Actor != "admin" {
		t.Fatalf("revoke audit = %+v", es)
	}
	var detail struct {
		Before, After *struct {
			RevokedAt string `json:"revoked_at"`
		}
	}
	if err := json.Unmarshal([]byte(es[0].Detail), &detail); err != nil || detail.Before == nil || detail.After == nil ||
		detail.Before.RevokedAt != "" || detail.After.RevokedAt == "" {
		t.Errorf("revoke audit detail = %s (%v)", es[0].Detail, err)
	}
	wantErr(t, "RevokeException twice", st.RevokeException(ctx, x2.ID, "admin", at(3*time.Hour)), model.ErrInvalid)
	wantErr(t, "RevokeException unknown", st.RevokeException(ctx, "UNNTAK-1999-1", "admin", at(3*time.Hour)), model.ErrNotFound)
}

// personal is finding n with personal data involved.
func personal(n int, when time.Time) model.NewDeviation {
	f := finding(n, "a1", uint64(n), when)
	f.Rule, f.PersonalData = "unmarked-media", true
	return f
}

func testBreachDecide(t *testing.T, st model.Store) {
	ctx := t.Context()
	res := recordFindings(t, st, []model.NewDeviation{personal(1, at(0)), finding(2, "a1", 2, at(0))}, nil, at(0))
	id, plain := res[0].ID, res[1].ID
	ok := model.BreachDecision{DeviationID: id, Decision: model.BreachNoNotify, Rationale: "kryptert", DecidedBy: "sikker", DecidedAt: at(time.Hour)}
	for _, tc := range []struct {
		name string
		mod  func(*model.BreachDecision)
		kind error
	}{
		{"no personal data", func(d *model.BreachDecision) { d.DeviationID = plain }, model.ErrInvalid},
		{"unknown", func(d *model.BreachDecision) { d.DeviationID = "AVVIK-1999-1" }, model.ErrNotFound},
		{"no rationale", func(d *model.BreachDecision) { d.Rationale = " " }, model.ErrInvalid},
		{"bad decision", func(d *model.BreachDecision) { d.Decision = "maybe" }, model.ErrInvalid},
		{"notify without time", func(d *model.BreachDecision) { d.Decision = model.BreachNotify }, model.ErrInvalid},
	} {
		d := ok
		tc.mod(&d)
		wantErr(t, "DecideBreach "+tc.name, st.DecideBreach(ctx, d), tc.kind)
	}
	seq := lastAuditSeq(t, st)
	must(t, "DecideBreach", st.DecideBreach(ctx, ok))
	second := model.BreachDecision{DeviationID: id, Decision: model.BreachNotify, Rationale: "likevel melde", Art34: true,
		NotifiedAt: at(2 * time.Hour), Reference: "DT-22/123", DecidedBy: "admin", DecidedAt: at(3 * time.Hour)}
	must(t, "DecideBreach again", st.DecideBreach(ctx, second))
	if got, want := auditActions(auditSince(t, st, seq)), []string{"breach.decide " + id, "breach.decide " + id}; !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	_, tl := getDeviation(t, st, id)
	var n int
	for _, e := range tl {
		if e.Type == model.TimelineBreachDecision {
			n++
		}
	}
	if n != 2 {
		t.Errorf("timeline has %d breach decisions, want 2: %v", n, timelineTypes(tl))
	}
	if cur, err := st.GetBreachDecision(ctx, id); err != nil || cur == nil || cur.Decision != model.BreachNotify || cur.Reference != "DT-22/123" {
		t.Errorf("GetBreachDecision = %+v, %v; want the second decision", cur, err)
	}
	if cur, err := st.GetBreachDecision(ctx, plain); err != nil || cur != nil {
		t.Errorf("GetBreachDecision(undecided) = %+v, %v; want nil", cur, err)
	}
	reg, err := st.BreachRegister(ctx)
	must(t, "BreachRegister", err)
	if len(reg) != 1 || reg[0].Deviation.ID != id || reg[0].Decision == nil {
		t.Fatalf("BreachRegister = %+v, want %s decided", reg, id)
	}
	got := *reg[0].Decision
	got.NotifiedAt, got.DecidedAt = got.NotifiedAt.UTC(), got.DecidedAt.UTC()
	if !reflect.DeepEqual(got, second) {
		t.Errorf("register decision = %+v, want %+v", got, second)
	}
	if !reg[0].Deviation.BreachDue.Equal(at(72 * time.Hour)) {
		t.Errorf("breach due = %v, want T0 + 72 h", reg[0].Deviation.BreachDue)
	}
}

func testBreachEscalate(t *testing.T, st model.Store) {
	ctx := t.Context()
	res := recordFindings(t, st, []model.NewDeviation{personal(1, at(0)), personal(2, at(0)), personal(3, at(0)), finding(4, "a1", 4, at(0))}, nil, at(0))
	undecided, decided, closed := res[0].ID, res[1].ID, res[2].ID
	must(t, "DecideBreach", st.DecideBreach(ctx, model.BreachDecision{DeviationID: decided, Decision: model.BreachNoNotify,
		Rationale: "ingen risiko", DecidedBy: "sikker", DecidedAt: at(time.Hour)}))
	must(t, "SetDeviationStatus", st.SetDeviationStatus(ctx, closed, model.StatusRejected, "sikker", "feil", at(time.Hour)))
	escalate := func(now time.Time) []string {
		ids, err := st.EscalateBreaches(ctx, now)
		must(t, "EscalateBreaches", err)
		return ids
	}
	if got := escalate(at(72 * time.Hour)); len(got) != 0 {
		t.Errorf("escalated at the deadline: %v", got)
	}
	seq := lastAuditSeq(t, st)
	if got := escalate(at(72*time.Hour + time.Second)); !reflect.DeepEqual(got, []string{undecided}) {
		t.Errorf("escalated after the deadline: %v, want [%s]", got, undecided)
	}
	if got := escalate(at(100 * time.Hour)); len(got) != 0 {
		t.Errorf("escalated again: %v", got)
	}
	if got, want := auditActions(auditSince(t, st, seq)), []string{"breach.escalate " + undecided}; !reflect.DeepEqual(got, want) {
		t.Errorf("audit = %v, want %v", got, want)
	}
	_, tl := getDeviation(t, st, undecided)
	if tt := timelineTypes(tl); tt[len(tt)-1] != model.TimelineEscalated {
		t.Errorf("timeline = %v, want it to end escalated", tt)
	}
	reg, err := st.BreachRegister(ctx)
	must(t, "BreachRegister", err)
	if len(reg) != 3 {
		t.Fatalf("register has %d entries, want 3", len(reg))
	}
	for _, be := range reg {
		if wantEsc := be.Deviation.ID == undecided; be.EscalatedAt.IsZero() == wantEsc {
			t.Errorf("%s escalated at %v", be.Deviation.ID, be.EscalatedAt)
		}
		if wantOver := be.Deviation.ID != decided; be.Overdue(at(100*time.Hour)) != wantOver {
			t.Errorf("%s overdue = %v, want %v", be.Deviation.ID, !wantOver, wantOver)
		}
	}
}
