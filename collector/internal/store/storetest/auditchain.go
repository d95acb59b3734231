package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// chainStore returns st's audit chain, skipping the test for a driver
// without one.
func chainStore(t *testing.T, st model.Store) model.AuditChainStore {
	t.Helper()
	cs, ok := st.(model.AuditChainStore)
	if !ok {
		t.Skipf("%T keeps no audit chain", st)
	}
	return cs
}

// readChain reads the whole chain.
func readChain(t *testing.T, cs model.AuditChainStore, from, to int64) []model.AuditEntry {
	t.Helper()
	var es []model.AuditEntry
	must(t, "EachAuditEntry", cs.EachAuditEntry(t.Context(), from, to, func(e model.AuditEntry) error {
		es = append(es, e)
		return nil
	}))
	return es
}

// wantChain checks that es link from the genesis hash, seq by seq, each hash
// covering its content.
func wantChain(t *testing.T, es []model.AuditEntry) {
	t.Helper()
	prev := model.GenesisHash
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d, want %d", i, e.Seq, i+1)
		}
		if want := e.Rehash(prev); !bytes.Equal(e.Hash, want) {
			t.Fatalf("entry seq %d: hash %x, want %x", e.Seq, e.Hash, want)
		}
		if e.AtNanos != e.At.UnixNano() && !(e.AtNanos == 0 && e.At.IsZero()) {
			t.Errorf("entry seq %d: AtNanos %d and At %v differ", e.Seq, e.AtNanos, e.At)
		}
		prev = e.Hash
	}
}

func testAuditChainAppendRead(t *testing.T, st model.Store) {
	ctx := t.Context()
	cs := chainStore(t, st)
	_, err := cs.AuditHead(ctx)
	wantErr(t, "AuditHead on empty log", err, model.ErrNotFound)
	if n, err := cs.FirstAuditSeqSince(ctx, at(0)); err != nil || n != 0 {
		t.Errorf("FirstAuditSeqSince on empty log = %d, %v; want 0, nil", n, err)
	}
	for i := range 5 {
		_, err := st.AppendAudit(ctx, auditFixture(i))
		must(t, "AppendAudit", err)
	}
	// A change that audits itself links into the same chain.
	must(t, "SetPolicy", st.SetPolicy(ctx, wire.Policy{Version: 2, HealthInterval: 30, InventoryInterval: 1800, RenewAfter: 0.75}))
	es := readChain(t, cs, 0, 0)
	if len(es) != 6 {
		t.Fatalf("EachAuditEntry = %d entries, want 6", len(es))
	}
	wantChain(t, es)
	for i := range 5 {
		want := auditFixture(i)
		if got := es[i]; !got.At.Equal(want.At) || got.Actor != want.Actor || got.Detail != want.Detail || got.Subject != want.Subject {
			t.Errorf("entry %d = %+v, want %+v", i, got.AuditEvent, want)
		}
	}
	head, err := cs.AuditHead(ctx)
	must(t, "AuditHead", err)
	if head.Seq != 6 || !bytes.Equal(head.Hash, es[5].Hash) {
		t.Errorf("AuditHead = seq %d %x, want seq 6 %x", head.Seq, head.Hash, es[5].Hash)
	}
	if got := readChain(t, cs, 2, 4); len(got) != 3 || got[0].Seq != 2 || got[2].Seq != 4 {
		t.Errorf("EachAuditEntry(2, 4) = %d entries from %d", len(got), got[0].Seq)
	}
	if n, err := cs.FirstAuditSeqSince(ctx, at(2*time.Second)); err != nil || n != 3 {
		t.Errorf("FirstAuditSeqSince(+2s) = %d, %v; want 3", n, err)
	}
	stop := errors.New("stop")
	calls := 0
	err = cs.EachAuditEntry(ctx, 0, 0, func(model.AuditEntry) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachAuditEntry with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func testAuditChainConcurrent(t *testing.T, st model.Store) {
	cs := chainStore(t, st)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				if _, err := st.AppendAudit(t.Context(), auditFixture(w*100+i)); err != nil {
					t.Errorf("AppendAudit = %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	es := readChain(t, cs, 0, 0)
	if len(es) != 90 {
		t.Fatalf("chain has %d entries, want 90", len(es))
	}
	wantChain(t, es)
}

func testAuditCheckpoints(t *testing.T, st model.Store) {
	ctx := t.Context()
	cs := chainStore(t, st)
	_, err := cs.LastAuditCheckpoint(ctx)
	wantErr(t, "LastAuditCheckpoint with none", err, model.ErrNotFound)
	_, err = cs.SaveAuditCheckpoint(ctx, model.AuditCheckpoint{Seq: 1})
	wantErr(t, "SaveAuditCheckpoint without head", err, model.ErrInvalid)
	var saved []model.AuditCheckpoint
	for i, seq := range []int64{3, 1, 3, 7} {
		c := model.AuditCheckpoint{Seq: seq, Head: hash("head"), At: at(time.Duration(i) * time.Minute), Fingerprint: "fp", Signature: hash("sig")}
		id, err := cs.SaveAuditCheckpoint(ctx, c)
		must(t, "SaveAuditCheckpoint", err)
		c.ID = id
		saved = append(saved, c)
	}
	got, err := cs.AuditCheckpoints(ctx, 2, 7)
	must(t, "AuditCheckpoints(2, 7)", err)
	if len(got) != 3 || got[0].Seq != 3 || got[1].Seq != 3 || got[0].ID >= got[1].ID || got[2].Seq != 7 {
		t.Errorf("AuditCheckpoints(2, 7) = %+v, want seqs 3, 3, 7 by id", got)
	}
	if c := got[2]; !c.At.Equal(saved[3].At) || c.Fingerprint != "fp" || !bytes.Equal(c.Head, saved[3].Head) || !bytes.Equal(c.Signature, saved[3].Signature) {
		t.Errorf("checkpoint read back = %+v, want %+v", c, saved[3])
	}
	all, err := cs.AuditCheckpoints(ctx, 0, 0)
	must(t, "AuditCheckpoints(0, 0)", err)
	if len(all) != 4 {
		t.Errorf("AuditCheckpoints(0, 0) = %d, want 4", len(all))
	}
	last, err := cs.LastAuditCheckpoint(ctx)
	must(t, "LastAuditCheckpoint", err)
	if last.ID != saved[3].ID {
		t.Errorf("LastAuditCheckpoint = id %d, want %d", last.ID, saved[3].ID)
	}
}
