package notify

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
)

// scriptedSender fails with the errors it is given, in turn, then succeeds.
type scriptedSender struct {
	errs  []error
	sends int
}

func (s *scriptedSender) Send(context.Context, Message) error {
	s.sends++
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

// clock is a settable time for a Dispatcher's Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// linearBackoff waits n minutes after n failed attempts, without jitter.
func linearBackoff(n int) time.Duration { return time.Duration(n) * time.Minute }

// TestDispatcherRetriesOnClock drives the dispatcher's passes with an
// injected clock: a failed attempt is retried exactly when its backoff ends,
// not before, and the outcome reaches Done once.
func TestDispatcherRetriesOnClock(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := &clock{t0}
	ob := openOutbox(t)
	send := &scriptedSender{errs: []error{errors.New("503 Service Unavailable"), errors.New("connection refused")}}
	var done []Pending
	d := &Dispatcher{Outbox: ob, Senders: map[string]Sender{ChannelWebhook: send}, Backoff: linearBackoff,
		Now: clk.now, Logger: testLogger(t), Done: func(_ context.Context, p Pending) { done = append(done, p) }}
	m := Message{ID: "AVVIK-2026-1/created/webhook:1", Channel: ChannelWebhook, To: "https://hooks.example/s", JSON: []byte(`{}`)}
	if err := ob.Enqueue(t.Context(), []Message{m}, t0); err != nil {
		t.Fatal(err)
	}
	retries := map[string]time.Time{}
	pass := func(at time.Time) {
		t.Helper()
		clk.t = at
		if _, err := d.drain(t.Context(), testLogger(t), retries); err != nil {
			t.Fatalf("drain at %v: %v", at, err)
		}
	}
	steps := []struct {
		at        time.Duration // since t0
		sends     int           // attempts made so far
		next      time.Duration // when the next attempt is due, since t0
		delivered bool
	}{
		{0, 1, time.Minute, false},                // fails; 1 min backoff
		{59 * time.Second, 1, time.Minute, false}, // not yet due
		{time.Minute, 2, 3 * time.Minute, false},  // fails again; 2 min backoff
		{3*time.Minute - time.Second, 2, 3 * time.Minute, false},
		{3 * time.Minute, 3, 0, true}, // delivered
		{time.Hour, 3, 0, true},       // never again
	}
	for _, st := range steps {
		pass(t0.Add(st.at))
		p, err := ob.Entry(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if send.sends != st.sends || p.Attempts != st.sends || p.DeliveredAt.IsZero() == st.delivered {
			t.Fatalf("at +%v: %d sends, entry %+v; want %d sends, delivered %v", st.at, send.sends, p, st.sends, st.delivered)
		}
		if !st.delivered && (!p.NextAt.Equal(t0.Add(st.next)) || retries[m.ID] != t0.Add(st.next)) {
			t.Errorf("at +%v: next attempt at %v (dispatcher wakes at %v), want %v", st.at, p.NextAt, retries[m.ID], t0.Add(st.next))
		}
		if !st.delivered && p.LastError == "" {
			t.Errorf("at +%v: the failure's error is not recorded", st.at)
		}
	}
	if len(done) != 1 || done[0].ID != m.ID || !done[0].DeliveredAt.Equal(t0.Add(3*time.Minute)) || done[0].Attempts != 3 || done[0].Failed {
		t.Errorf("Done calls = %+v, want one for %s delivered at +3m after 3 attempts", done, m.ID)
	}
}

// TestDispatcherGivesUpOnClock: the attempt that exhausts the budget, or a
// permanent error, gives the message up and tells Done why.
func TestDispatcherGivesUpOnClock(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clk := &clock{t0}
	ob := openOutbox(t)
	down := &scriptedSender{errs: []error{errors.New("refused 1"), errors.New("refused 2"), errors.New("refused 3")}}
	gone := &scriptedSender{errs: []error{Permanent(errors.New("410 Gone"))}}
	var done []Pending
	d := &Dispatcher{Outbox: ob, Senders: map[string]Sender{ChannelEmail: down, ChannelWebhook: gone}, Backoff: linearBackoff,
		MaxAttempts: 2, Now: clk.now, Done: func(_ context.Context, p Pending) { done = append(done, p) }}
	msgs := []Message{{ID: "mail", Channel: ChannelEmail, To: "isa@kommune.example"}, {ID: "hook", Channel: ChannelWebhook, To: "https://h.example/"}}
	if err := ob.Enqueue(t.Context(), msgs, t0); err != nil {
		t.Fatal(err)
	}
	retries := map[string]time.Time{}
	for _, at := range []time.Duration{0, time.Minute, 24 * time.Hour} {
		clk.t = t0.Add(at)
		if _, err := d.drain(t.Context(), testLogger(t), retries); err != nil {
			t.Fatal(err)
		}
	}
	if down.sends != 2 || gone.sends != 1 {
		t.Errorf("sends: mail %d, webhook %d; want 2 (the budget) and 1 (permanent)", down.sends, gone.sends)
	}
	want := map[string]string{"hook": "410 Gone", "mail": "refused 2"}
	if len(done) != 2 {
		t.Fatalf("Done calls = %+v, want 2", done)
	}
	for _, p := range done {
		if !p.Failed || !p.DeliveredAt.IsZero() || p.LastError != want[p.ID] {
			t.Errorf("Done(%s) = failed %v, error %q; want given up with %q", p.ID, p.Failed, p.LastError, want[p.ID])
		}
	}
}

// TestNoteNotification: outcomes noted on a deviation's timeline once each,
// with who was told, by which channel and when, and in the audit log.
func TestNoteNotification(t *testing.T) {
	ctx := t.Context()
	db, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "sonevakt.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	res, err := db.RecordFindings(ctx, []model.NewDeviation{{Finding: model.Finding{Rule: "unknown-media", Subject: "media:1",
		Title: "Unknown medium", Severity: model.SeverityMedium, At: t0}}}, model.Judged{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	dev := res[0].ID
	ob := db.Outbox()
	notes := []model.NotificationNote{
		{Deviation: dev, Delivery: dev + "/created/mail:isa@k.no", Channel: ChannelEmail, To: "isa@k.no", Delivered: true, Attempts: 3, At: t0.Add(time.Minute)},
		{Deviation: dev, Delivery: dev + "/created/webhook:1", Channel: ChannelWebhook, To: "https://h.example/s", Attempts: 20, Error: "503 Service Unavailable", At: t0.Add(2 * time.Minute)},
	}
	for range 2 { // the repeat is ignored
		for _, n := range notes {
			if err := ob.NoteNotification(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, tl, err := db.GetDeviation(ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	var got []model.TimelineEvent
	for _, e := range tl {
		if e.Type == model.TimelineNotification {
			got = append(got, e)
		}
	}
	if len(got) != 2 {
		t.Fatalf("timeline has %d notification entries, want 2: %+v", len(got), tl)
	}
	wants := []struct{ text, outcome string }{
		{"E-mail to isa@k.no delivered", "delivered"},
		{"Webhook to https://h.example/s given up after 20 attempts: 503 Service Unavailable", "failed"},
	}
	for i, w := range wants {
		var detail struct{ Delivery, Channel, To, Outcome string }
		if err := json.Unmarshal([]byte(got[i].Detail), &detail); err != nil {
			t.Fatalf("detail %q: %v", got[i].Detail, err)
		}
		if got[i].Text != w.text || got[i].Actor != "system" || !got[i].At.Equal(notes[i].At) ||
			detail.Delivery != notes[i].Delivery || detail.Channel != notes[i].Channel || detail.Outcome != w.outcome {
			t.Errorf("entry %d = %+v, want %q at %v with delivery %s, outcome %s", i, got[i], w.text, notes[i].At, notes[i].Delivery, w.outcome)
		}
	}
	audit, err := db.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range audit {
		if a.Action == "deviation.notification" && a.Subject == dev && a.Actor == "system" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("audit has %d deviation.notification entries for %s, want 2", n, dev)
	}
	err = ob.NoteNotification(ctx, model.NotificationNote{Deviation: "AVVIK-2026-99", Delivery: "x", Channel: ChannelEmail, At: t0})
	if !errors.Is(err, model.ErrNotFound) || !strings.Contains(err.Error(), "AVVIK-2026-99") {
		t.Errorf("NoteNotification(unknown deviation) = %v, want ErrNotFound naming it", err)
	}
}
