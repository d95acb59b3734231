package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Media fixtures: a SanDisk stick (n picks its serial) as the agent reports
// it, with one unencrypted FAT volume.

func stick(n int) wire.MediaDevice {
	return wire.MediaDevice{
		Class: wire.MediaUSBStorage, Name: "sdb", Bus: "usb", VID: "0781", PID: "5583",
		Vendor: "SanDisk", Product: "Ultra Fit", Serial: fmt.Sprintf("4C53000%d", n), SizeBytes: 32_000_000_000,
		DevPath: "/devices/pci0000:00/0000:00:14.0/usb3/3-2",
		Volumes: []wire.MediaVolume{{Name: "sdb1", SizeBytes: 32_000_000_000, FSType: "vfat", Label: "KINGSTON", Encrypted: "no", MarkingChecked: true}},
	}
}

func mediaEvent(action string, d wire.MediaDevice) wire.MediaEvent {
	ev := wire.MediaEvent{Action: action, Device: d}
	switch action {
	case wire.MediaPresent, wire.MediaAdd:
		ev.Decision = &wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleAuditDefault, Mode: wire.MediaModeAudit}
	case wire.MediaMount, wire.MediaUnmount:
		ev.Mount = &wire.MediaMountInfo{Volume: "sdb1", Point: "/media/kari/KINGSTON", FSType: "vfat", User: "kari"}
	}
	return ev
}

// mediaAt is the observed time of media record seq.
func mediaAt(seq uint64) time.Time { return at(time.Duration(seq) * time.Second) }

// mediaBatch is a batch of media records numbered from first, carried both as
// records and, decoded, as the batch's Media.
func mediaBatch(t *testing.T, agentID string, first uint64, evs ...wire.MediaEvent) model.IngestBatch {
	t.Helper()
	var recs []wire.Record
	var ms []model.MediaRecord
	for i, ev := range evs {
		seq := first + uint64(i)
		r, err := wire.NewRecord(wire.KindMedia, mediaAt(seq), ev)
		must(t, "wire.NewRecord", err)
		r.Seq = seq
		recs = append(recs, r)
		ms = append(ms, model.MediaRecord{Seq: seq, At: mediaAt(seq), Event: ev})
	}
	b := batch(agentID, recs)
	b.Media = ms
	return b
}

func mediaLog(t *testing.T, st model.Store, q model.MediaLogQuery) []model.MediaEvent {
	t.Helper()
	es, err := st.MediaLog(t.Context(), q)
	must(t, fmt.Sprintf("MediaLog(%+v)", q), err)
	return es
}

func pending(t *testing.T, st model.Store, limit int) []model.MediaEvent {
	t.Helper()
	es, err := st.PendingMedia(t.Context(), limit)
	must(t, fmt.Sprintf("PendingMedia(%d)", limit), err)
	return es
}

// mediaRows renders media events as "agent seq action key" lines.
func mediaRows(es []model.MediaEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s %d %s %s", e.AgentID, e.Seq, e.Event.Action, e.Event.Device.Key()))
	}
	return out
}

func mediaIDs(es []model.MediaEvent) []int64 {
	var ids []int64
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func testMediaIngest(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag", "pc-01")
	if es := mediaLog(t, st, model.MediaLogQuery{Limit: 10}); len(es) != 0 {
		t.Errorf("MediaLog on an empty store = %q, want none", mediaRows(es))
	}

	evs := []wire.MediaEvent{mediaEvent(wire.MediaAdd, stick(1)), mediaEvent(wire.MediaMount, stick(1)), mediaEvent(wire.MediaRemove, stick(1))}
	b := mediaBatch(t, "ag", 1, evs...)
	// A record of another kind in the same batch adds nothing to the log.
	b.Records = append(b.Records, records(10, 10, "x")...)
	res := ingest(t, st, b)
	if res.Inserted != 4 || res.Media != 3 {
		t.Errorf("Ingest(3 media records and 1 other) = %+v, want Inserted 4, Media 3", res)
	}

	es := mediaLog(t, st, model.MediaLogQuery{Limit: 10})
	if len(es) != 3 {
		t.Fatalf("MediaLog after one batch = %q, want 3 events", mediaRows(es))
	}
	for i, e := range es {
		seq := uint64(3 - i) // newest first
		want := model.MediaEvent{ID: e.ID, AgentID: "ag", Hostname: "pc-01", Seq: seq, At: mediaAt(seq), ReceivedAt: at(time.Hour), Event: evs[seq-1]}
		e.At, e.ReceivedAt = e.At.UTC(), e.ReceivedAt.UTC()
		if !reflect.DeepEqual(e, want) {
			t.Errorf("MediaLog[%d] =\n%+v\nwant\n%+v", i, e, want)
		}
		if i > 0 && e.ID >= es[i-1].ID {
			t.Errorf("MediaLog ids %v: want them decreasing (newest first)", mediaIDs(es))
		}
	}
	if got := pending(t, st, 10); !reflect.DeepEqual(mediaIDs(got), []int64{es[2].ID, es[1].ID, es[0].ID}) {
		t.Errorf("PendingMedia ids = %v, want %v (oldest first)", mediaIDs(got), []int64{es[2].ID, es[1].ID, es[0].ID})
	}
	if got := pending(t, st, 2); len(got) != 2 || got[0].ID != es[2].ID {
		t.Errorf("PendingMedia(2) = %q, want the two oldest", mediaRows(got))
	}

	// Resent: nothing new in the log.
	res = ingest(t, st, b)
	if res.Inserted != 0 || res.Media != 0 {
		t.Errorf("Ingest(resent batch) = %+v, want Inserted 0, Media 0", res)
	}
	// Overlapping: only the new record reaches the log.
	res = ingest(t, st, mediaBatch(t, "ag", 2, evs[1], evs[2], mediaEvent(wire.MediaAdd, stick(2))))
	if res.Inserted != 1 || res.Media != 1 {
		t.Errorf("Ingest(overlapping batch) = %+v, want Inserted 1, Media 1", res)
	}
	want := []string{"ag 4 add 0781:5583:4C530002", "ag 3 remove 0781:5583:4C530001", "ag 2 mount 0781:5583:4C530001", "ag 1 add 0781:5583:4C530001"}
	if got := mediaRows(mediaLog(t, st, model.MediaLogQuery{Limit: 10})); !reflect.DeepEqual(got, want) {
		t.Errorf("MediaLog after resend and overlap = %q, want %q", got, want)
	}
	_, err := st.MediaLog(ctx, model.MediaLogQuery{})
	wantErr(t, "MediaLog without a limit", err, model.ErrInvalid)
	_, err = st.PendingMedia(ctx, 0)
	wantErr(t, "PendingMedia(0)", err, model.ErrInvalid)
}

func testMediaLogPaging(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc-01")
	createAgent(t, st, "bg", "pc-02")
	// Twelve events, alternating agents and sticks 1..3.
	for i := range 12 {
		agent := []string{"ag", "bg"}[i%2]
		ingest(t, st, mediaBatch(t, agent, uint64(i+1), mediaEvent(wire.MediaPresent, stick(i%3+1))))
	}
	all := mediaLog(t, st, model.MediaLogQuery{Limit: 100})
	if len(all) != 12 {
		t.Fatalf("MediaLog = %d events, want 12", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("MediaLog ids %v: want them decreasing", mediaIDs(all))
		}
	}
	if all[0].AgentID != "bg" || all[0].Hostname != "pc-02" || all[0].Seq != 12 {
		t.Errorf("newest event = %s %s seq %d, want bg pc-02 seq 12", all[0].AgentID, all[0].Hostname, all[0].Seq)
	}

	// Page through, five at a time.
	page := func(q model.MediaLogQuery) []model.MediaEvent {
		var got []model.MediaEvent
		for {
			es := mediaLog(t, st, q)
			if len(es) > q.Limit {
				t.Fatalf("MediaLog(%+v) = %d events, above the limit", q, len(es))
			}
			if len(es) == 0 {
				return got
			}
			got = append(got, es...)
			q.BeforeID = es[len(es)-1].ID
		}
	}
	if got := page(model.MediaLogQuery{Limit: 5}); !reflect.DeepEqual(mediaIDs(got), mediaIDs(all)) {
		t.Errorf("paged MediaLog ids = %v, want %v", mediaIDs(got), mediaIDs(all))
	}

	filter := func(keep func(model.MediaEvent) bool) []int64 {
		var ids []int64
		for _, e := range all {
			if keep(e) {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	key2 := stick(2).Key()
	for _, tc := range []struct {
		q    model.MediaLogQuery
		keep func(model.MediaEvent) bool
	}{
		{model.MediaLogQuery{AgentID: "ag", Limit: 2}, func(e model.MediaEvent) bool { return e.AgentID == "ag" }},
		{model.MediaLogQuery{Key: key2, Limit: 3}, func(e model.MediaEvent) bool { return e.Event.Device.Key() == key2 }},
		{model.MediaLogQuery{AgentID: "bg", Key: key2, Limit: 1}, func(e model.MediaEvent) bool {
			return e.AgentID == "bg" && e.Event.Device.Key() == key2
		}},
		{model.MediaLogQuery{AgentID: "nope", Limit: 1}, func(model.MediaEvent) bool { return false }},
	} {
		if got, want := mediaIDs(page(tc.q)), tc.keep; !reflect.DeepEqual(got, filter(want)) {
			t.Errorf("paged MediaLog(%+v) ids = %v, want %v", tc.q, got, filter(want))
		}
	}
	// BeforeID alone: strictly older events.
	mid := all[6].ID
	if got := mediaLog(t, st, model.MediaLogQuery{BeforeID: mid, Limit: 100}); !reflect.DeepEqual(mediaIDs(got), mediaIDs(all[7:])) {
		t.Errorf("MediaLog(before %d) ids = %v, want %v", mid, mediaIDs(got), mediaIDs(all[7:]))
	}
}

// Media register.

func entry(vid, pid, serial, note string) model.MediaEntry {
	return model.MediaEntry{
		VID: vid, PID: pid, Serial: serial, MarkingID: "NK-" + serial, OwnerUnit: "helse",
		Classification: "intern", EncryptionRequired: true, Note: note,
	}
}

func stamped(e model.MediaEntry, by string, when time.Time) model.MediaEntry {
	e.UpdatedBy, e.UpdatedAt = by, when
	return e
}

func register(t *testing.T, st model.Store) []model.MediaEntry {
	t.Helper()
	es, err := st.MediaRegister(t.Context())
	must(t, "MediaRegister", err)
	for i := range es {
		es[i].UpdatedAt = es[i].UpdatedAt.UTC()
	}
	return es
}

func audit(t *testing.T, st model.Store, afterSeq int64) []model.AuditEvent {
	t.Helper()
	es, err := st.ListAudit(t.Context(), afterSeq, 1000)
	must(t, "ListAudit", err)
	return normAudit(es)
}

func lastSeq(es []model.AuditEvent) int64 {
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].Seq
}

// registerAudit checks audit events of register changes: action and subject
// in order, with before and after present as the action says.
func registerAudit(t *testing.T, what string, es []model.AuditEvent, actor string, when time.Time, want ...string) {
	t.Helper()
	var got []string
	for _, e := range es {
		got = append(got, e.Action+" "+e.Subject)
		if e.Actor != actor || !e.At.Equal(when) {
			t.Errorf("%s: audit %s %s by %q at %v, want by %q at %v", what, e.Action, e.Subject, e.Actor, e.At, actor, when)
		}
		var d struct{ Before, After json.RawMessage }
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Errorf("%s: audit %s %s detail %q: %v", what, e.Action, e.Subject, e.Detail, err)
			continue
		}
		none := func(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }
		wantBefore, wantAfter := e.Action != "media.register.add", e.Action != "media.register.remove"
		if none(d.Before) == wantBefore || none(d.After) == wantAfter {
			t.Errorf("%s: audit %s %s detail %s: want before %v, after %v", what, e.Action, e.Subject, e.Detail, wantBefore, wantAfter)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: audit = %q, want %q", what, got, want)
	}
}

func testMediaRegisterImport(t *testing.T, st model.Store) {
	ctx := t.Context()
	if es := register(t, st); len(es) != 0 {
		t.Errorf("MediaRegister on an empty store = %+v, want none", es)
	}
	a := entry("0781", "5583", "4C530001", "Kari's stick")
	b := entry("0951", "1666", "", "every DataTraveler 3.0")
	c := entry("", "", "SER-C", "a card without USB identity")
	d := entry("090c", "1000", "D1", "")

	// Merge into the empty register.
	ch, err := st.ImportMediaRegister(ctx, []model.MediaEntry{b, a}, false, "drift", at(time.Hour))
	must(t, "ImportMediaRegister(b, a)", err)
	if want := (model.RegisterChange{Added: 2}); ch != want {
		t.Errorf("ImportMediaRegister(b, a) = %+v, want %+v", ch, want)
	}
	want := []model.MediaEntry{stamped(a, "drift", at(time.Hour)), stamped(b, "drift", at(time.Hour))}
	if got := register(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("MediaRegister = %+v, want %+v (by key)", got, want)
	}
	log := audit(t, st, 0)
	registerAudit(t, "first import", log, "drift", at(time.Hour), "media.register.add "+b.Key(), "media.register.add "+a.Key())
	seen := lastSeq(log)

	// Merge: a unchanged (stamps are not data), b updated, c added.
	b2 := b
	b2.Note, b2.EncryptionRequired = "every DataTraveler 3.0, encrypted", false
	ch, err = st.ImportMediaRegister(ctx, []model.MediaEntry{stamped(a, "someone", at(0)), b2, c}, false, "sikkerhet", at(2*time.Hour))
	must(t, "ImportMediaRegister(a, b2, c)", err)
	if want := (model.RegisterChange{Added: 1, Updated: 1, Unchanged: 1}); ch != want {
		t.Errorf("ImportMediaRegister(a, b2, c) = %+v, want %+v", ch, want)
	}
	// By key, byte for byte: digits sort before ':'.
	want = []model.MediaEntry{stamped(a, "drift", at(time.Hour)), stamped(b2, "sikkerhet", at(2*time.Hour)), stamped(c, "sikkerhet", at(2*time.Hour))}
	if got := register(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("MediaRegister after merge =\n%+v\nwant\n%+v", got, want)
	}
	log = audit(t, st, seen)
	registerAudit(t, "merge", log, "sikkerhet", at(2*time.Hour), "media.register.update "+b.Key(), "media.register.add "+c.Key())
	if len(log) == 2 && (!strings.Contains(log[0].Detail, "every DataTraveler 3.0,") || !strings.Contains(log[0].Detail, `"every DataTraveler 3.0"`)) {
		t.Errorf("update audit detail %s: want the note before and after", log[0].Detail)
	}
	seen = lastSeq(log)

	// Replace: the register becomes b2 and d; a and c go.
	ch, err = st.ImportMediaRegister(ctx, []model.MediaEntry{d, b2}, true, "admin", at(3*time.Hour))
	must(t, "ImportMediaRegister(replace: d, b2)", err)
	if want := (model.RegisterChange{Added: 1, Removed: 2, Unchanged: 1}); ch != want {
		t.Errorf("ImportMediaRegister(replace: d, b2) = %+v, want %+v", ch, want)
	}
	want = []model.MediaEntry{stamped(d, "admin", at(3*time.Hour)), stamped(b2, "sikkerhet", at(2*time.Hour))}
	if got := register(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("MediaRegister after replace =\n%+v\nwant\n%+v", got, want)
	}
	log = audit(t, st, seen)
	var gotActions []string
	for _, e := range log {
		gotActions = append(gotActions, e.Action+" "+e.Subject)
	}
	registerAudit(t, "replace", log, "admin", at(3*time.Hour), gotActions...)
	if len(log) != 3 || !containsAll(gotActions, "media.register.add "+d.Key(), "media.register.remove "+a.Key(), "media.register.remove "+c.Key()) {
		t.Errorf("replace audit = %q, want d added, a and c removed", gotActions)
	}
	seen = lastSeq(log)

	// Delete one entry.
	must(t, "DeleteMediaEntry(d)", st.DeleteMediaEntry(ctx, d.Key(), "admin", at(4*time.Hour)))
	wantErr(t, "DeleteMediaEntry(d) again", st.DeleteMediaEntry(ctx, d.Key(), "admin", at(4*time.Hour)), model.ErrNotFound)
	if got := register(t, st); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("MediaRegister after delete = %+v, want %+v", got, want[1:])
	}
	log = audit(t, st, seen)
	registerAudit(t, "delete", log, "admin", at(4*time.Hour), "media.register.remove "+d.Key())
	seen = lastSeq(log)

	// Replace with nothing empties the register.
	ch, err = st.ImportMediaRegister(ctx, nil, true, "admin", at(5*time.Hour))
	must(t, "ImportMediaRegister(replace: none)", err)
	if want := (model.RegisterChange{Removed: 1}); ch != want {
		t.Errorf("ImportMediaRegister(replace: none) = %+v, want %+v", ch, want)
	}
	if got := register(t, st); len(got) != 0 {
		t.Errorf("MediaRegister after replace with none = %+v, want none", got)
	}
	registerAudit(t, "replace with none", audit(t, st, seen), "admin", at(5*time.Hour), "media.register.remove "+b.Key())
}

func containsAll(xs []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, x := range xs {
			found = found || x == w
		}
		if !found {
			return false
		}
	}
	return true
}

func testMediaRegisterConflict(t *testing.T, st model.Store) {
	ctx := t.Context()
	a := entry("0781", "5583", "4C530001", "")
	b := entry("0951", "1666", "X", "")
	c := entry("090c", "1000", "Y", "")
	_, err := st.ImportMediaRegister(ctx, []model.MediaEntry{a}, false, "drift", at(0))
	must(t, "ImportMediaRegister(a)", err)
	before, log := register(t, st), audit(t, st, 0)

	for _, replace := range []bool{false, true} {
		b2 := b
		b2.Note = "again"
		_, err := st.ImportMediaRegister(ctx, []model.MediaEntry{b, c, b2}, replace, "drift", at(time.Hour))
		wantErr(t, fmt.Sprintf("ImportMediaRegister(b, c, b again; replace %v)", replace), err, model.ErrConflict)
		if err != nil && !strings.Contains(err.Error(), b.Key()) {
			t.Errorf("ImportMediaRegister with a repeated key = %v, want the key %s named", err, b.Key())
		}
		if got := register(t, st); !reflect.DeepEqual(got, before) {
			t.Errorf("MediaRegister after a refused import = %+v, want %+v", got, before)
		}
		if got := audit(t, st, 0); len(got) != len(log) {
			t.Errorf("audit after a refused import: %d events, want %d", len(got), len(log))
		}
	}
}
