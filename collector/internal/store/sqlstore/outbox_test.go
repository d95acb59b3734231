package sqlstore

import (
	"errors"
	"path/filepath"
	"slices"
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

func TestOutbox(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sonevakt.db")
	db := mustOpen(t, path)
	ob := db.Outbox()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

	msg := func(id string) model.OutboxMessage {
		return model.OutboxMessage{ID: id, Channel: model.ChannelEmail, To: "ola@example.no", Lang: "nb", Subject: "Avvik åpnet", Text: "Hei"}
	}
	if err := ob.Enqueue(ctx, []model.OutboxMessage{msg("b"), msg("a")}, t0); err != nil {
		t.Fatal(err)
	}
	// A second enqueue of the same id is ignored, even with other content.
	dup := msg("a")
	dup.Subject = "changed"
	if err := ob.Enqueue(ctx, []model.OutboxMessage{dup, msg("c")}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Enqueue(ctx, []model.OutboxMessage{{ID: "x"}}, t0); !errors.Is(err, model.ErrInvalid) {
		t.Errorf("Enqueue(no channel) = %v, want ErrInvalid", err)
	}

	if due, err := ob.Due(ctx, t0.Add(-time.Second), 10); err != nil || len(due) != 0 {
		t.Fatalf("Due(before) = %v, %v, want none", outboxIDs(due), err)
	}
	due, err := ob.Due(ctx, t0.Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outboxIDs(due), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("Due = %v, want %v", got, want)
	}
	if due[0].Subject != "Avvik åpnet" || due[0].Attempts != 0 || !due[0].CreatedAt.Equal(t0) {
		t.Errorf("Due[0] = %+v", due[0])
	}
	// Leased: not due again until the lease runs out.
	if again, _ := ob.Due(ctx, t0.Add(2*time.Second), 10); len(again) != 0 {
		t.Errorf("Due(leased) = %v, want none", outboxIDs(again))
	}

	if err := ob.Delivered(ctx, "a", t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := ob.Failed(ctx, "b", "connection refused", t0.Add(time.Minute), false); err != nil {
		t.Fatal(err)
	}
	if err := ob.Failed(ctx, "c", "550 no such user", t0, true); err != nil {
		t.Fatal(err)
	}
	if err := ob.Failed(ctx, "a", "late", t0, false); err != nil {
		t.Errorf("Failed(delivered) = %v, want nil", err)
	}
	if err := ob.Delivered(ctx, "nope", t0); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Delivered(unknown) = %v, want ErrNotFound", err)
	}

	db.Close()
	db = mustOpen(t, path) // survives reopen
	ob = db.Outbox()
	later := t0.Add(model.OutboxLease + time.Hour)
	due, err = ob.Due(ctx, later, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outboxIDs(due), []string{"b"}; !slices.Equal(got, want) {
		t.Fatalf("Due after reopen = %v, want %v (delivered and given-up are never due)", got, want)
	}
	if due[0].Attempts != 1 || due[0].LastError != "connection refused" {
		t.Errorf("Due[b] = attempts %d, error %q", due[0].Attempts, due[0].LastError)
	}
	a, err := ob.Entry(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !a.DeliveredAt.Equal(t0.Add(3*time.Second)) || a.Attempts != 1 || a.Subject != "Avvik åpnet" || a.Failed {
		t.Errorf("Entry(a) = %+v", a)
	}
	c, err := ob.Entry(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Failed || c.LastError != "550 no such user" || !c.DeliveredAt.IsZero() {
		t.Errorf("Entry(c) = %+v", c)
	}
	if _, err := ob.Entry(ctx, "nope"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Entry(unknown) = %v, want ErrNotFound", err)
	}
	// Limit and order by due time.
	if err := ob.Enqueue(ctx, []model.OutboxMessage{msg("d")}, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	due, err = ob.Due(ctx, later.Add(model.OutboxLease), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := outboxIDs(due), []string{"d"}; !slices.Equal(got, want) {
		t.Errorf("Due(limit 1) = %v, want %v", got, want)
	}
}
