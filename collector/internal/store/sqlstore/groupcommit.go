package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Group commit. Thousands of agents each sending a batch of a few records
// would cost a write transaction and a sync to disk per batch, and the one
// writer would fall behind the acks the agents wait for. Instead, Ingest
// calls queue their batches, and the ingester applies every batch waiting
// when the writer is free in one transaction, each under a savepoint of its
// own so that one failing batch (an unknown agent) fails alone. A batch's
// caller returns once that transaction has committed: acks still follow the
// commit. Under light load a group is one batch and nothing is waited for.

// Group bounds: enough to amortise a commit, few enough that the writer
// yields to the other writes (deviations, registers) between groups.
const (
	maxGroupBatches = 512
	maxGroupRecords = 20000
)

// errStoreClosed refuses a batch offered to a closed store.
var errStoreClosed = errors.New("store closed")

// busyAfter is how long a batch may wait for room in the queue before it is
// refused as busy: the agent then retries after a pause on the same
// connection, rather than timing out its ack and reconnecting, which would
// add handshakes to a collector already behind.
const busyAfter = 5 * time.Second

// ingestReq is one Ingest call waiting for its group.
type ingestReq struct {
	ctx               context.Context
	b                 model.IngestBatch
	facts             []byte
	hostname, version string
	received          int64
	res               model.IngestResult
	err               error
	done              chan struct{}
}

type ingester struct {
	db        *DB
	busyAfter time.Duration
	q         chan *ingestReq
	stop      chan struct{}
	once      sync.Once
	wg        sync.WaitGroup
}

func newIngester(db *DB) *ingester {
	g := &ingester{db: db, busyAfter: busyAfter, q: make(chan *ingestReq, maxGroupBatches), stop: make(chan struct{})}
	g.wg.Add(1)
	go g.run()
	return g
}

// submit queues req and waits until its group committed or failed (then
// req.res and req.err hold the outcome), or ctx ends first: then the batch
// may still be stored, and the agent, seeing no ack, sends it again.
func (g *ingester) submit(ctx context.Context, req *ingestReq) error {
	select {
	case g.q <- req:
	default:
		t := time.NewTimer(g.busyAfter)
		defer t.Stop()
		select {
		case g.q <- req:
		case <-t.C:
			return fmt.Errorf("%d batches wait for the writer: %w", cap(g.q), model.ErrBusy)
		case <-ctx.Done():
			return ctx.Err()
		case <-g.stop:
			return errStoreClosed
		}
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the ingester once the group in hand is done; batches still
// queued fail with errStoreClosed.
func (g *ingester) close() {
	if g == nil {
		return
	}
	g.once.Do(func() { close(g.stop) })
	g.wg.Wait()
	for {
		select {
		case r := <-g.q:
			r.err = errStoreClosed
			close(r.done)
		default:
			return
		}
	}
}

func (g *ingester) run() {
	defer g.wg.Done()
	group := make([]*ingestReq, 0, maxGroupBatches)
	for {
		select {
		case <-g.stop:
			return
		case r := <-g.q:
			group = append(group[:0], r)
		}
		records := len(group[0].b.Records)
	gather:
		for len(group) < maxGroupBatches && records < maxGroupRecords {
			select {
			case r := <-g.q:
				group = append(group, r)
				records += len(r.b.Records)
			default:
				break gather
			}
		}
		g.db.ingestGroup(group)
		clear(group)
	}
}

// ingestGroup applies the batches of group in one write transaction and
// tells each caller its outcome. A caller that has given up is skipped.
func (db *DB) ingestGroup(group []*ingestReq) {
	live := group[:0:0]
	for _, r := range group {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// Statements run without the callers' cancellation: a cancelled
	// statement would end the transaction the whole group shares.
	ctx := context.WithoutCancel(live[0].ctx)
	err := db.write(ctx, func(tx *sql.Tx) error {
		if len(live) == 1 {
			r := live[0]
			r.res, r.err = db.ingestTx(ctx, tx, r)
			return r.err
		}
		for _, r := range live {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT batch"); err != nil {
				return err
			}
			r.res, r.err = db.ingestTx(ctx, tx, r)
			if r.err != nil {
				if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT batch"); err != nil {
					return fmt.Errorf("roll back a failed batch: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT batch"); err != nil {
				return err
			}
		}
		return nil
	})
	for _, r := range live {
		if err != nil && r.err == nil {
			r.err = err // the group's commit failed: nothing of it is stored
		}
		if r.err != nil {
			r.res = model.IngestResult{}
		}
		close(r.done)
	}
}
