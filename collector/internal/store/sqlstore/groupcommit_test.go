package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// holdWriter occupies the writer until the returned func is called, so that
// the batches offered meanwhile queue up and form one group.
func holdWriter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	go func() {
		_ = db.write(context.Background(), func(*sql.Tx) error {
			close(held)
			<-done
			return nil
		})
	}()
	<-held
	return func() { close(done) }
}

// TestGroupCommit: batches that wait for the writer together are stored in
// one group, and the one for an unknown agent fails alone.
func TestGroupCommit(t *testing.T) {
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		var ids []string
		for range 3 {
			id, err := db.sampleAgent(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		ids = append(ids, "no-such-agent")
		release := holdWriter(t, db)
		results := make([]error, len(ids))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Go(func() {
				_, results[i] = db.Ingest(ctx, model.IngestBatch{AgentID: id, ReceivedAt: time.Now(), Records: records(1, 5)})
			})
		}
		// All four queued behind the held writer (one taken by the ingester).
		deadline := time.Now().Add(10 * time.Second)
		for len(db.ingester.q) < len(ids)-1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		release()
		wg.Wait()
		for i, id := range ids {
			switch err := results[i]; {
			case id == "no-such-agent" && !errors.Is(err, model.ErrNotFound):
				t.Errorf("Ingest(unknown agent) = %v, want ErrNotFound", err)
			case id != "no-such-agent" && err != nil:
				t.Errorf("Ingest(%s) = %v, want it stored beside the failing batch", id, err)
			case id != "no-such-agent":
				if got, err := db.Records(ctx, id, 0, 100); err != nil || len(got) != 5 {
					t.Errorf("Records(%s) = %d records, %v; want 5", id, len(got), err)
				}
			}
		}
	})
}

// TestGroupCommitBusy: with the writer held and the queue full, a further
// batch is refused as busy after the wait, and stores nothing.
func TestGroupCommitBusy(t *testing.T) {
	db := mustOpen(t, t.TempDir()+"/s.db")
	db.ingester.busyAfter = 50 * time.Millisecond
	ctx := t.Context()
	id, err := db.sampleAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, db)
	defer release()
	// A group in the ingester's hands (it may gather up to a queue's worth
	// before it blocks on the writer), a full queue behind it; the rest are
	// refused as busy themselves.
	waiting, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := range 2*cap(db.ingester.q) + 2 {
		go db.Ingest(waiting, model.IngestBatch{AgentID: id, ReceivedAt: time.Now(), Records: records(uint64(i+1), 1)})
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(db.ingester.q) < cap(db.ingester.q) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := len(db.ingester.q); n != cap(db.ingester.q) {
		t.Fatalf("queue holds %d, want it full (%d)", n, cap(db.ingester.q))
	}
	_, err = db.Ingest(ctx, model.IngestBatch{AgentID: id, ReceivedAt: time.Now(), Records: records(9000, 1)})
	if !errors.Is(err, model.ErrBusy) {
		t.Fatalf("Ingest with the queue full = %v, want ErrBusy", err)
	}
}
