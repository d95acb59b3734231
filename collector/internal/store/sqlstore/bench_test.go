package sqlstore

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Each benchmark iteration stores benchRecords small records in batches of
// benchBatch, so that even -benchtime 2x measures a meaningful amount.
const (
	benchRecords = 50_000
	benchBatch   = 500
)

// BenchmarkIngest measures DB.Ingest: one agent, batches of 500 records with
// ~200-byte bodies, with all of Ingest's bookkeeping.
func BenchmarkIngest(b *testing.B) {
	benchIngest(b, mustOpen(b, filepath.Join(b.TempDir(), "bench.db")))
}

func benchIngest(b *testing.B, db *DB) {
	id, err := db.sampleAgent(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	var next uint64 = 1
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		recs := records(next, benchRecords)
		next += benchRecords
		b.StartTimer()
		for k := 0; k < len(recs); k += benchBatch {
			res, err := db.Ingest(b.Context(), model.IngestBatch{
				AgentID: id, Addr: "192.0.2.1:4000", ReceivedAt: time.Now(), Records: recs[k : k+benchBatch],
			})
			if err != nil {
				b.Fatal(err)
			}
			if res.Inserted != benchBatch {
				b.Fatalf("Ingest inserted %d, want %d", res.Inserted, benchBatch)
			}
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkIngestAgents measures DB.Ingest with 8 agents sending at once, as
// the ingest layer does with many connections.
func BenchmarkIngestAgents(b *testing.B) {
	benchIngestAgents(b, mustOpen(b, filepath.Join(b.TempDir(), "bench.db")))
}

func benchIngestAgents(b *testing.B, db *DB) {
	const agents = 8
	ids := make([]string, agents)
	for i := range ids {
		var err error
		if ids[i], err = db.sampleAgent(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	var next uint64 = 1
	for b.Loop() {
		b.StopTimer()
		recs := records(next, benchRecords/agents)
		next += benchRecords / agents
		b.StartTimer()
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				for k := 0; k < len(recs); k += benchBatch {
					end := min(k+benchBatch, len(recs))
					if _, err := db.Ingest(b.Context(), model.IngestBatch{AgentID: id, ReceivedAt: time.Now(), Records: recs[k:end]}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.N*(benchRecords/agents)*agents)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkIngestManyAgents measures what a large fleet at a low rate
// sends: 1 000 agents at once, each batch two records, so that the cost is
// per batch (a transaction and a sync each without group commit).
func BenchmarkIngestManyAgents(b *testing.B) {
	benchIngestMany(b, mustOpen(b, filepath.Join(b.TempDir(), "bench.db")))
}

func benchIngestMany(b *testing.B, db *DB) {
	const agents, perBatch, batches = 1000, 2, 10
	ids := make([]string, agents)
	for i := range ids {
		var err error
		if ids[i], err = db.sampleAgent(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	var next uint64 = 1
	for b.Loop() {
		b.StopTimer()
		recs := records(next, perBatch*batches)
		next += perBatch * batches
		b.StartTimer()
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				for k := 0; k < len(recs); k += perBatch {
					if _, err := db.Ingest(b.Context(), model.IngestBatch{AgentID: id, ReceivedAt: time.Now(), Records: recs[k : k+perBatch]}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	n := float64(b.N * agents * batches)
	b.ReportMetric(n/b.Elapsed().Seconds(), "batches/s")
	b.ReportMetric(n*perBatch/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRawInsert measures the same records through a plain prepared
// INSERT, one transaction per 500 rows, into the same schema: the floor that
// BenchmarkIngest is compared with.
func BenchmarkRawInsert(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
	id, err := db.sampleAgent(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	var next uint64 = 1
	for b.Loop() {
		b.StopTimer()
		recs := records(next, benchRecords)
		next += benchRecords
		b.StartTimer()
		if err := db.rawInsert(b.Context(), id, recs, benchBatch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/b.Elapsed().Seconds(), "records/s")
}

// TestRawInsertRate checks the exported helper the collector's benchmark uses.
func TestRawInsertRate(t *testing.T) {
	rate, err := RawInsertRate(filepath.Join(t.TempDir(), "raw.db"), 2000, 500)
	if err != nil {
		t.Fatalf("RawInsertRate = %v", err)
	}
	if rate <= 0 {
		t.Errorf("RawInsertRate = %v records/s, want > 0", rate)
	}
	t.Logf("raw insert: %.0f records/s", rate)
	recs := records(1, 1)
	if n := len(recs[0].Body); n < 150 || n > 250 {
		t.Errorf("sample body is %d bytes, want about 200", n)
	}
}

// BenchmarkIngestInventory measures a batch carrying one inventory delta (5
// packages upgraded) against a held snapshot of 2 000 packages: snapshot
// read and decode, apply, history rows, software rebuild, snapshot write.
func BenchmarkIngestInventory(b *testing.B) {
	db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
	id, err := db.sampleAgent(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	snap := func(round int) wire.Inventory {
		inv := wire.Inventory{Host: &wire.Host{Hostname: "bench", OS: "linux"}}
		for i := range 2000 {
			v := "1.0-1"
			if i < 5 {
				v = fmt.Sprintf("1.%d-1", round)
			}
			inv.Software = append(inv.Software, wire.Package{Name: fmt.Sprintf("package-%04d", i), Version: v, Arch: "amd64", Source: "dpkg"})
		}
		inv.Normalize()
		inv.Hash, err = wire.InventoryHash(inv)
		if err != nil {
			b.Fatal(err)
		}
		inv.Full = true
		return inv
	}
	send := func(seq uint64, inv wire.Inventory) model.IngestResult {
		r, err := wire.NewRecord(wire.KindInventory, time.Now(), inv)
		if err != nil {
			b.Fatal(err)
		}
		r.Seq = seq
		res, err := db.Ingest(b.Context(), model.IngestBatch{AgentID: id, ReceivedAt: time.Now(), Records: []wire.Record{r},
			Inventories: []model.InventoryRecord{{Seq: seq, At: r.Time(), Inv: inv}}})
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	prev := snap(0)
	send(1, prev)
	seq := uint64(1)
	for b.Loop() {
		b.StopTimer()
		seq++
		cur := snap(int(seq))
		d, err := wire.Diff(prev, cur)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if res := send(seq, d); res.InventoryHash != cur.Hash || res.InventoryFull {
			b.Fatalf("delta not applied: %+v", res)
		}
		prev = cur
	}
}
