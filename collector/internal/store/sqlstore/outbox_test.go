package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

func outboxIDs(ps []model.OutboxPending) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

var outboxT0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func outboxMsg(id string) model.OutboxMessage {
	return model.OutboxMessage{ID: id, Channel: model.ChannelEmail, To: "ola@example.no", Lang: "nb", Subject: "Avvik åpnet", Text: "Hei"}
}

func TestOutbox(t *testing.T) {
	eachDialectHandles(t, func(t *testing.T, open func() *DB) {
		ctx := t.Context()
		db := open()
		ob := db.Outbox()
		t0 := outboxT0
		if err := ob.Enqueue(ctx, []model.OutboxMessage{outboxMsg("b"), outboxMsg("a")}, t0); err != nil {
			t.Fatal(err)
		}
		// A second enqueue of the same id is ignored, even with other content.
		dup := outboxMsg("a")
		dup.Subject = "changed"
		hook := model.OutboxMessage{ID: "c", Channel: model.ChannelWebhook, To: "https://hooks.example/s", Lang: "en",
			Subject: "Deviation opened", JSON: []byte(`{"id":"AVVIK-2026-1","ø":"\u00f8"}`)}
		if err := ob.Enqueue(ctx, []model.OutboxMessage{dup, hook}, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []model.OutboxMessage{{ID: "x"}, {Channel: model.ChannelEmail, To: "a@b"}, {ID: "x", Channel: model.ChannelEmail}} {
			if err := ob.Enqueue(ctx, []model.OutboxMessage{outboxMsg("d"), bad}, t0); !errors.Is(err, model.ErrInvalid) {
				t.Errorf("Enqueue(%+v) = %v, want ErrInvalid", bad, err)
			}
		}
		if _, err := ob.Entry(ctx, "d"); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("Entry(d) after refused enqueues = %v, want ErrNotFound (nothing written)", err)
		}

		if due, err := ob.Due(ctx, t0.Add(-time.Second), 10); err != nil || len(due) != 0 {
			t.Fatalf("Due(before) = %v, %v, want none", outboxIDs(due), err)
		}
		due, err := ob.Due(ctx, t0.Add(time.Second), 10)
		if err != nil {
			t.Fatal(err)
		}
		// Due at t0, t0 and t0+1s: by due time, then id.
		if got, want := outboxIDs(due), []string{"a", "b", "c"}; !slices.Equal(got, want) {
			t.Fatalf("Due = %v, want %v", got, want)
		}
		wantA := model.OutboxPending{OutboxMessage: outboxMsg("a"), CreatedAt: t0, NextAt: t0}
		if got := normPending(due[0]); !reflect.DeepEqual(got, wantA) {
			t.Errorf("Due[a] =\n%+v\nwant\n%+v", got, wantA)
		}
		wantC := model.OutboxPending{OutboxMessage: hook, CreatedAt: t0.Add(time.Second), NextAt: t0.Add(time.Second)}
		if got := normPending(due[2]); !reflect.DeepEqual(got, wantC) {
			t.Errorf("Due[c] =\n%+v\nwant\n%+v", got, wantC)
		}
		// Leased: not due again until the lease runs out.
		if again, _ := ob.Due(ctx, t0.Add(2*time.Second), 10); len(again) != 0 {
			t.Errorf("Due(leased) = %v, want none", outboxIDs(again))
		}
		if e, err := ob.Entry(ctx, "b"); err != nil || !e.NextAt.Equal(t0.Add(time.Second+model.OutboxLease)) {
			t.Errorf("Entry(b) after Due = next %v, %v; want leased until %v", e.NextAt, err, t0.Add(time.Second+model.OutboxLease))
		}

		if err := ob.Delivered(ctx, "a", t0.Add(3*time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := ob.Delivered(ctx, "a", t0.Add(4*time.Second)); err != nil {
			t.Errorf("Delivered(a again) = %v, want nil", err)
		}
		if err := ob.Failed(ctx, "b", "connection refused", t0.Add(time.Minute), false); err != nil {
			t.Fatal(err)
		}
		if err := ob.Failed(ctx, "c", "410 Gone", t0, true); err != nil {
			t.Fatal(err)
		}
		if err := ob.Failed(ctx, "a", "late", t0, false); err != nil {
			t.Errorf("Failed(delivered) = %v, want nil", err)
		}
		if err := ob.Delivered(ctx, "nope", t0); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("Delivered(unknown) = %v, want ErrNotFound", err)
		}
		if err := ob.Failed(ctx, "nope", "x", t0, false); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("Failed(unknown) = %v, want ErrNotFound", err)
		}

		db.Close()
		db = open() // survives a restart
		ob = db.Outbox()
		later := t0.Add(model.OutboxLease + time.Hour)
		due, err = ob.Due(ctx, later, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := outboxIDs(due), []string{"b"}; !slices.Equal(got, want) {
			t.Fatalf("Due after reopen = %v, want %v (delivered and given-up are never due)", got, want)
		}
		if due[0].Attempts != 1 || due[0].LastError != "connection refused" || !due[0].NextAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("Due[b] = attempts %d, error %q, next %v", due[0].Attempts, due[0].LastError, due[0].NextAt)
		}
		a, err := ob.Entry(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		wantA.DeliveredAt, wantA.Attempts, wantA.NextAt = t0.Add(3*time.Second), 1, t0.Add(time.Second+model.OutboxLease)
		if got := normPending(a); !reflect.DeepEqual(got, wantA) {
			t.Errorf("Entry(a) =\n%+v\nwant\n%+v", got, wantA)
		}
		c, err := ob.Entry(ctx, "c")
		if err != nil {
			t.Fatal(err)
		}
		wantC.Failed, wantC.LastError, wantC.Attempts, wantC.NextAt = true, "410 Gone", 1, t0
		if got := normPending(c); !reflect.DeepEqual(got, wantC) {
			t.Errorf("Entry(c) =\n%+v\nwant\n%+v", got, wantC)
		}
		if _, err := ob.Entry(ctx, "nope"); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("Entry(unknown) = %v, want ErrNotFound", err)
		}
		// Limit and order by due time.
		if err := ob.Enqueue(ctx, []model.OutboxMessage{outboxMsg("d")}, t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		due, err = ob.Due(ctx, later.Add(model.OutboxLease), 1)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := outboxIDs(due), []string{"d"}; !slices.Equal(got, want) {
			t.Errorf("Due(limit 1) = %v, want %v", got, want)
		}
	})
}

func normPending(p model.OutboxPending) model.OutboxPending {
	p.CreatedAt, p.NextAt, p.DeliveredAt = p.CreatedAt.UTC(), p.NextAt.UTC(), p.DeliveredAt.UTC()
	return p
}

// TestOutboxReplicas: dispatchers on two handles (two collectors sharing
// the store) asking for due messages at once never both get one.
func TestOutboxReplicas(t *testing.T) {
	eachDialectHandles(t, func(t *testing.T, open func() *DB) {
		ctx := t.Context()
		one, two := open().Outbox(), open().Outbox()
		const n = 40
		var msgs []model.OutboxMessage
		for i := range n {
			msgs = append(msgs, outboxMsg(fmt.Sprintf("m%02d", i)))
		}
		if err := one.Enqueue(ctx, msgs, outboxT0); err != nil {
			t.Fatal(err)
		}
		got := make([][]string, 2)
		var wg sync.WaitGroup
		for i, ob := range []*Outbox{one, two} {
			wg.Go(func() {
				for range n {
					due, err := ob.Due(ctx, outboxT0, 3)
					if err != nil {
						t.Errorf("Due on handle %d = %v", i+1, err)
						return
					}
					got[i] = append(got[i], outboxIDs(due)...)
				}
			})
		}
		wg.Wait()
		all := slices.Concat(got[0], got[1])
		slices.Sort(all)
		if want := outboxIDs(pendingOf(msgs)); !slices.Equal(all, want) {
			t.Errorf("the two dispatchers got %d messages between them (%v and %v), want each of the %d once", len(all), got[0], got[1], n)
		}
	})
}

func pendingOf(msgs []model.OutboxMessage) []model.OutboxPending {
	var ps []model.OutboxPending
	for _, m := range msgs {
		ps = append(ps, model.OutboxPending{OutboxMessage: m})
	}
	return ps
}

// TestNoteNotification: outcomes land on the deviation's timeline and in the
// audit log once per delivery and outcome, however often noted.
func TestNoteNotification(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		t0 := outboxT0
		res, err := db.RecordFindings(ctx, []model.NewDeviation{{Finding: model.Finding{Rule: "unknown-media", Subject: "media:1",
			Title: "Unknown medium", Severity: model.SeverityMedium, At: t0}}}, model.Judged{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		dev := res[0].ID
		ob := db.Outbox()
		mail := model.NotificationNote{Deviation: dev, Delivery: dev + "/created/mail:isa@k.no", Channel: model.ChannelEmail, To: "isa@k.no",
			Delivered: true, Attempts: 3, At: t0.Add(time.Minute)}
		hook := model.NotificationNote{Deviation: dev, Delivery: dev + "/created/webhook:1", Channel: model.ChannelWebhook, To: "https://h.example/s",
			Attempts: 20, Error: "503 Service Unavailable", At: t0.Add(2 * time.Minute)}
		// The webhook given up, then (a redelivery after all) delivered:
		// two outcomes of one delivery, each noted once.
		hookLater := hook
		hookLater.Delivered, hookLater.Error, hookLater.Attempts, hookLater.At = true, "", 21, t0.Add(3*time.Minute)
		for range 2 {
			for _, n := range []model.NotificationNote{mail, hook, hookLater} {
				if err := ob.NoteNotification(ctx, n); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, tl, err := db.GetDeviation(ctx, dev)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range tl {
			if e.Type != model.TimelineNotification {
				continue
			}
			var d struct{ Delivery, Channel, To, Outcome, Error string }
			if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
				t.Fatalf("detail %q: %v", e.Detail, err)
			}
			got = append(got, fmt.Sprintf("%s %s %q %s/%s/%s/%s/%q", e.At.UTC().Format("15:04"), e.Actor, e.Text, d.Delivery, d.Channel, d.To, d.Outcome, d.Error))
		}
		want := []string{
			fmt.Sprintf(`08:01 system "E-mail to isa@k.no delivered" %s/email/isa@k.no/delivered/""`, mail.Delivery),
			fmt.Sprintf(`08:02 system "Webhook to https://h.example/s given up after 20 attempts: 503 Service Unavailable" %s/webhook/https://h.example/s/failed/"503 Service Unavailable"`, hook.Delivery),
			fmt.Sprintf(`08:03 system "Webhook to https://h.example/s delivered" %s/webhook/https://h.example/s/delivered/""`, hook.Delivery),
		}
		if !slices.Equal(got, want) {
			t.Errorf("notification entries =\n%q\nwant\n%q", got, want)
		}
		audit, err := db.ListAudit(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, a := range audit {
			if a.Action == auditDeviationNotification && a.Subject == dev && a.Actor == actorSystem {
				n++
			}
		}
		if n != 3 {
			t.Errorf("audit has %d %s entries for %s, want 3", n, auditDeviationNotification, dev)
		}
		err = ob.NoteNotification(ctx, model.NotificationNote{Deviation: "AVVIK-2026-99", Delivery: "x", Channel: model.ChannelEmail, At: t0})
		if !errors.Is(err, model.ErrNotFound) || !strings.Contains(err.Error(), "AVVIK-2026-99") {
			t.Errorf("NoteNotification(unknown deviation) = %v, want ErrNotFound naming it", err)
		}
		if err := ob.NoteNotification(ctx, model.NotificationNote{Deviation: dev, Channel: model.ChannelEmail}); !errors.Is(err, model.ErrInvalid) {
			t.Errorf("NoteNotification(no delivery) = %v, want ErrInvalid", err)
		}
	})
}
