package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// evidenceStore returns st's evidence streams, skipping the test for a
// driver without them.
func evidenceStore(t *testing.T, st model.Store) model.EvidenceStore {
	t.Helper()
	es, ok := st.(model.EvidenceStore)
	if !ok {
		t.Skipf("%T streams no evidence", st)
	}
	return es
}

// errStop is what the streaming checks' fn returns to stop a stream.
var errStop = errors.New("stop")

// wantStops checks that each stream stops at fn's first error and returns
// it: each is called with a fn that fails at once.
func wantStops(t *testing.T, streams map[string]func(stop func() error) error) {
	t.Helper()
	for name, each := range streams {
		calls := 0
		err := each(func() error { calls++; return errStop })
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("%s with a failing fn = %v after %d calls, want the fn's error after 1", name, err, calls)
		}
	}
}

// evidenceDeviations lays out four deviations over a day:
//
//	AVVIK-2026-1 created +0, under behandling +30m, closed +1h
//	AVVIK-2026-2 created +2h, still new (a comment at +2h30m)
//	AVVIK-2026-3 created +3h, rejected +5h
//	AVVIK-2026-4 created +6h, still new
func evidenceDeviations(t *testing.T, st model.Store) {
	t.Helper()
	ctx := t.Context()
	for i, created := range []time.Duration{0, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour} {
		res := recordFindings(t, st, []model.NewDeviation{finding(i+1, "ag", uint64(i+1), at(created))}, nil, at(created))
		if want := fmt.Sprintf("AVVIK-2026-%d", i+1); res[0].ID != want || !res[0].Created {
			t.Fatalf("RecordFindings(finding %d) = %+v, want %s created", i+1, res[0], want)
		}
	}
	must(t, "SetDeviationStatus(1, handling)", st.SetDeviationStatus(ctx, "AVVIK-2026-1", model.StatusHandling, "kari", "", at(30*time.Minute)))
	must(t, "SetDeviationStatus(1, closed)", st.SetDeviationStatus(ctx, "AVVIK-2026-1", model.StatusClosed, "kari", "fixed", at(time.Hour)))
	must(t, "CommentDeviation(2)", st.CommentDeviation(ctx, "AVVIK-2026-2", "ola", "looking", at(150*time.Minute)))
	must(t, "SetDeviationStatus(3, rejected)", st.SetDeviationStatus(ctx, "AVVIK-2026-3", model.StatusRejected, "kari", "ours", at(5*time.Hour)))
}

func testEvidenceDeviations(t *testing.T, st model.Store) {
	ctx := t.Context()
	es := evidenceStore(t, st)
	each := func(from, to time.Time) []model.Deviation {
		t.Helper()
		var ds []model.Deviation
		must(t, fmt.Sprintf("EachDeviationIn(%v, %v)", from, to), es.EachDeviationIn(ctx, from, to, func(d model.Deviation) error {
			ds = append(ds, normDeviation(d))
			return nil
		}))
		return ds
	}
	if ds := each(time.Time{}, time.Time{}); len(ds) != 0 {
		t.Errorf("EachDeviationIn on an empty store = %q, want none", devIDs(ds))
	}
	evidenceDeviations(t, st)
	h := func(n float64) time.Time { return at(time.Duration(n * float64(time.Hour))) }
	for _, c := range []struct {
		from, to time.Time
		want     []string
	}{
		// Closed before the period: left out; changed after it: in.
		{h(1.5), h(4), []string{"AVVIK-2026-2", "AVVIK-2026-3"}},
		// Created at the period's end: not yet.
		{h(2), h(3), []string{"AVVIK-2026-2"}},
		{h(0), h(1), []string{"AVVIK-2026-1"}},
		// Closed exactly at from: changed at or after from.
		{h(1), h(2), []string{"AVVIK-2026-1"}},
		{h(0.5), time.Time{}, []string{"AVVIK-2026-1", "AVVIK-2026-2", "AVVIK-2026-3", "AVVIK-2026-4"}},
		{h(5.5), time.Time{}, []string{"AVVIK-2026-2", "AVVIK-2026-4"}},
		{h(-1), h(0), nil},
	} {
		ds := each(c.from, c.to)
		if got := devIDs(ds); !reflect.DeepEqual(got, c.want) {
			t.Errorf("EachDeviationIn(%v, %v) = %q, want %q", c.from.Sub(t0), c.to.Sub(t0), got, c.want)
			continue
		}
		// Every deviation comes whole, as GetDeviation has it.
		for _, d := range ds {
			if want, _ := getDeviation(t, st, d.ID); !reflect.DeepEqual(d, want) {
				t.Errorf("EachDeviationIn: %s =\n%+v\nwant (GetDeviation)\n%+v", d.ID, d, want)
			}
		}
	}
	wantStops(t, map[string]func(func() error) error{
		"EachDeviationIn": func(stop func() error) error {
			return es.EachDeviationIn(ctx, time.Time{}, time.Time{}, func(model.Deviation) error { return stop() })
		},
	})
}

func testEvidenceTimeline(t *testing.T, st model.Store) {
	ctx := t.Context()
	es := evidenceStore(t, st)
	evidenceDeviations(t, st)
	// Ten more deviations in one call, so that ids of two digits sort among
	// those of one; a comment on the tenth.
	var more []model.NewDeviation
	for i := range 10 {
		more = append(more, finding(10+i, "ag", uint64(10+i), at(7*time.Hour)))
	}
	recordFindings(t, st, more, nil, at(7*time.Hour))
	must(t, "CommentDeviation(10)", st.CommentDeviation(ctx, "AVVIK-2026-10", "ola", "ten", at(8*time.Hour)))

	// What GetDeviation holds, by deviation.
	timelines := map[string][]model.TimelineEvent{}
	for n := 1; n <= 14; n++ {
		id := fmt.Sprintf("AVVIK-2026-%d", n)
		_, tl := getDeviation(t, st, id)
		timelines[id] = tl
	}
	type row struct {
		id string
		e  model.TimelineEvent
	}
	each := func(from, to time.Time) []row {
		t.Helper()
		var rs []row
		must(t, "EachTimelineIn", es.EachTimelineIn(ctx, from, to, func(id string, e model.TimelineEvent) error {
			rs = append(rs, row{id, e})
			return nil
		}))
		return rs
	}
	h := func(n float64) time.Time { return at(time.Duration(n * float64(time.Hour))) }
	for _, c := range []struct{ from, to time.Time }{
		{time.Time{}, time.Time{}}, {h(0), h(1)}, {h(0.5), h(3)}, {h(2.5), time.Time{}}, {h(7), h(8)}, {h(8), h(9)}, {h(9), time.Time{}},
	} {
		got := each(c.from, c.to)
		// Grouped by deviation, each deviation's entries in seq order.
		done := map[string]bool{}
		for i, r := range got {
			if i > 0 && got[i-1].id == r.id {
				if got[i-1].e.Seq >= r.e.Seq {
					t.Errorf("EachTimelineIn(%v, %v): %s seq %d after %d", c.from.Sub(t0), c.to.Sub(t0), r.id, r.e.Seq, got[i-1].e.Seq)
				}
				continue
			}
			if done[r.id] {
				t.Errorf("EachTimelineIn(%v, %v): entries of %s not together", c.from.Sub(t0), c.to.Sub(t0), r.id)
			}
			done[r.id] = true
		}
		// Exactly the entries of the period.
		var want []string
		for id, tl := range timelines {
			for _, e := range tl {
				if !e.At.Before(c.from) && (c.to.IsZero() || e.At.Before(c.to)) {
					want = append(want, timelineLine(id, e))
				}
			}
		}
		var lines []string
		for _, r := range got {
			lines = append(lines, timelineLine(r.id, r.e))
		}
		slices.Sort(lines)
		slices.Sort(want)
		if !slices.Equal(lines, want) {
			t.Errorf("EachTimelineIn(%v, %v) =\n%q\nwant\n%q", c.from.Sub(t0), c.to.Sub(t0), lines, want)
		}
	}
	if n := len(each(h(0.5), h(1.5))); n != 2 {
		t.Errorf("EachTimelineIn(+30m, +1h30m) = %d entries, want AVVIK-2026-1's two status changes", n)
	}
	wantStops(t, map[string]func(func() error) error{
		"EachTimelineIn": func(stop func() error) error {
			return es.EachTimelineIn(ctx, time.Time{}, time.Time{}, func(string, model.TimelineEvent) error { return stop() })
		},
	})
}

func timelineLine(id string, e model.TimelineEvent) string {
	return fmt.Sprintf("%s %d %s %s %s %q %s", id, e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Type, e.Text, e.Detail)
}

func normMedia(e model.MediaEvent) model.MediaEvent {
	e.At, e.ReceivedAt = e.At.UTC(), e.ReceivedAt.UTC()
	return e
}

func testEvidenceMedia(t *testing.T, st model.Store) {
	ctx := t.Context()
	es := evidenceStore(t, st)
	each := func(from, to time.Time) []model.MediaEvent {
		t.Helper()
		var out []model.MediaEvent
		must(t, "EachMediaEventIn", es.EachMediaEventIn(ctx, from, to, func(e model.MediaEvent) error {
			out = append(out, normMedia(e))
			return nil
		}))
		return out
	}
	if got := each(time.Time{}, time.Time{}); len(got) != 0 {
		t.Errorf("EachMediaEventIn on an empty store = %q, want none", mediaRows(got))
	}
	createAgent(t, st, "a1", "pc-01")
	createAgent(t, st, "a2", "pc-02")
	// a2's batch comes first, so its events take the lower ids; a1's
	// records 1-5 and a2's 1-3 are observed at the same seconds.
	ingest(t, st, mediaBatch(t, "a2", 1, mediaEvent(wire.MediaAdd, stick(2)), mediaEvent(wire.MediaMount, stick(2)), mediaEvent(wire.MediaRemove, stick(2))))
	ingest(t, st, mediaBatch(t, "a1", 1, mediaEvent(wire.MediaPresent, stick(1)), mediaEvent(wire.MediaAdd, stick(3)),
		mediaEvent(wire.MediaMount, stick(3)), mediaEvent(wire.MediaUnmount, stick(3)), mediaEvent(wire.MediaRemove, stick(3))))
	// One judged, so Evaluated comes through too.
	first := pending(t, st, 1)
	_, err := st.RecordFindings(ctx, nil, model.Judged{Media: mediaIDs(first)}, at(time.Hour))
	must(t, "RecordFindings(one media event judged)", err)

	all := mediaLog(t, st, model.MediaLogQuery{Limit: 100})
	if len(all) != 8 {
		t.Fatalf("MediaLog = %d events, want 8", len(all))
	}
	for i := range all {
		all[i] = normMedia(all[i])
	}
	slices.SortFunc(all, func(a, b model.MediaEvent) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID)) })
	for _, c := range []struct{ from, to time.Time }{
		{time.Time{}, time.Time{}}, {mediaAt(2), mediaAt(4)}, {mediaAt(4), time.Time{}}, {mediaAt(1), mediaAt(2)}, {mediaAt(6), mediaAt(9)}, {at(0), mediaAt(1)},
	} {
		var want []model.MediaEvent
		for _, e := range all {
			if !e.At.Before(c.from) && (c.to.IsZero() || e.At.Before(c.to)) {
				want = append(want, e)
			}
		}
		if got := each(c.from, c.to); !reflect.DeepEqual(got, want) {
			t.Errorf("EachMediaEventIn(%v, %v) =\n%q\nwant (MediaLog by time and id)\n%q", c.from.Sub(t0), c.to.Sub(t0), mediaRows(got), mediaRows(want))
			if len(got) == len(want) {
				for i := range got {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Errorf("event %d =\n%+v\nwant\n%+v", i, got[i], want[i])
					}
				}
			}
		}
	}
	if got := each(mediaAt(2), mediaAt(3)); len(got) != 2 || got[0].AgentID != "a2" || got[1].AgentID != "a1" {
		t.Errorf("EachMediaEventIn(second 2) = %q, want a2's then a1's (by id at the same time)", mediaRows(got))
	}
	wantStops(t, map[string]func(func() error) error{
		"EachMediaEventIn": func(stop func() error) error {
			return es.EachMediaEventIn(ctx, time.Time{}, time.Time{}, func(model.MediaEvent) error { return stop() })
		},
	})
}

// zonePairRows renders a zone matrix, times in UTC.
func zonePairRows(ps []model.ZonePair) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s>%s flows=%d hosts=%d %d/%d denied=%d %s..%s", p.From, p.To, p.Flows, p.Hosts,
			p.Packets, p.Bytes, p.Denied, p.First.UTC().Format(time.RFC3339Nano), p.Last.UTC().Format(time.RFC3339Nano)))
	}
	return out
}

func testEvidenceZoneMatrix(t *testing.T, st model.Store) {
	ctx := t.Context()
	es := evidenceStore(t, st)
	if ps, err := es.EvidenceZoneMatrix(ctx, time.Time{}, time.Time{}); err != nil || len(ps) != 0 {
		t.Errorf("EvidenceZoneMatrix on an empty store = %q, %v; want none", zonePairRows(ps), err)
	}
	// Three agents over three hours; zone names whose byte order is not a
	// language's ("DMZ" before "dmz", "Økonomi" after both), counts past 32
	// bits, one flow seen by two agents, one judged denied in one hour and
	// allowed in another, one under two processes (two rows, one flow).
	m := func(n int) time.Time { return hour0.Add(time.Duration(n) * time.Minute) }
	const big = 5_000_000_000
	seqs := map[string]uint64{}
	send := func(agent string, start time.Time, fs ...wire.Flow) {
		seqs[agent]++
		ingest(t, st, flowsBatch(t, agent, seqs[agent], interval(start, fs...)))
	}
	for _, a := range []string{"a1", "a2", "a3"} {
		createAgent(t, st, a, "pc-"+a)
	}
	for hr := range 3 {
		base := m(60 * hr)
		for _, a := range []string{"a1", "a2"} {
			send(a, base,
				xflow("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", 10, 1000, base, base.Add(time.Second), wire.VerdictAllowed, "curl"),
				xflow("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", 1, 100, base, base.Add(2*time.Second), wire.VerdictAllowed, "wget"),
				xflow("10.1.0.5", "192.0.2.1", wire.ProtoUDP, 53, "kontor", "external", big, 3*big, base, base, wire.VerdictAllowed, ""))
		}
		verdict := wire.VerdictAllowed
		if hr == 1 {
			verdict = wire.VerdictDenied
		}
		send("a3", base.Add(5*time.Minute),
			xflow("10.9.0.1", "10.1.0.5", wire.ProtoTCP, 22, "DMZ", "kontor", 3, 300, base.Add(5*time.Minute), base.Add(6*time.Minute), verdict, "sshd"),
			xflow("10.9.0.2", "10.1.0.5", wire.ProtoTCP, 22, "dmz", "kontor", 4, 400, base.Add(5*time.Minute), base.Add(6*time.Minute), wire.VerdictDenied, ""),
			xflow("10.1.0.7", "10.30.0.1", wire.ProtoTCP, 8080+uint16(hr), "kontor", "Økonomi", 5, 500, base.Add(5*time.Minute), base.Add(7*time.Minute), wire.VerdictAllowed, ""))
	}
	// Many small rows, so that any split of the rows into ranges has
	// several rows in each.
	for i := range 40 {
		send("a1", m(150+i%10), xflow(fmt.Sprintf("10.1.1.%d", i), "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", 1, 64, m(150+i%10), m(150+i%10), wire.VerdictDenied, ""))
	}

	want := []string{
		"DMZ>kontor flows=1 hosts=1 3/300 denied=1 " + rfc(m(65)) + ".." + rfc(m(66)),
		"dmz>kontor flows=1 hosts=1 4/400 denied=1 " + rfc(m(65)) + ".." + rfc(m(66)),
		fmt.Sprintf("kontor>external flows=1 hosts=2 %d/%d denied=0 %s..%s", 2*big, 6*big, rfc(m(60)), rfc(m(60))),
		"kontor>helse flows=1 hosts=2 22/2200 denied=0 " + rfc(m(60)) + ".." + rfc(m(60).Add(2*time.Second)),
		"kontor>Økonomi flows=1 hosts=1 5/500 denied=0 " + rfc(m(65)) + ".." + rfc(m(67)),
	}
	ps, err := es.EvidenceZoneMatrix(ctx, m(60), m(120))
	must(t, "EvidenceZoneMatrix(second hour)", err)
	if got := zonePairRows(ps); !reflect.DeepEqual(got, want) {
		t.Errorf("EvidenceZoneMatrix(second hour) =\n%q\nwant\n%q", got, want)
	}
	// The same as ZoneMatrix, whatever the period.
	for _, c := range []struct{ from, to time.Time }{
		{time.Time{}, time.Time{}}, {m(0), m(60)}, {m(60), m(120)}, {m(60), time.Time{}}, {time.Time{}, m(120)},
		{m(120), m(180)}, {m(30), m(90)}, {m(180), time.Time{}}, {m(-60), m(0)},
	} {
		want, err := st.ZoneMatrix(ctx, c.from, c.to)
		must(t, "ZoneMatrix", err)
		got, err := es.EvidenceZoneMatrix(ctx, c.from, c.to)
		must(t, "EvidenceZoneMatrix", err)
		if g, w := zonePairRows(got), zonePairRows(want); !reflect.DeepEqual(g, w) {
			t.Errorf("EvidenceZoneMatrix(%v, %v) =\n%q\nwant (ZoneMatrix)\n%q", c.from.Sub(hour0), c.to.Sub(hour0), g, w)
		}
	}
	// Every hour: three times the flows of one hour, the denied one
	// counted once, the 40 small ones as 40 flows.
	all, err := es.EvidenceZoneMatrix(ctx, time.Time{}, time.Time{})
	must(t, "EvidenceZoneMatrix(no bounds)", err)
	wantAll := []string{
		"DMZ>kontor flows=1 hosts=1 9/900 denied=1 " + rfc(m(5)) + ".." + rfc(m(126)),
		"dmz>kontor flows=1 hosts=1 12/1200 denied=1 " + rfc(m(5)) + ".." + rfc(m(126)),
		fmt.Sprintf("kontor>external flows=1 hosts=2 %d/%d denied=0 %s..%s", 6*big, 18*big, rfc(m(0)), rfc(m(120))),
		"kontor>helse flows=41 hosts=2 106/9160 denied=40 " + rfc(m(0)) + ".." + rfc(m(159)),
		"kontor>Økonomi flows=3 hosts=1 15/1500 denied=0 " + rfc(m(5)) + ".." + rfc(m(127)),
	}
	if got := zonePairRows(all); !reflect.DeepEqual(got, wantAll) {
		t.Errorf("EvidenceZoneMatrix(no bounds) =\n%q\nwant\n%q", got, wantAll)
	}
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
