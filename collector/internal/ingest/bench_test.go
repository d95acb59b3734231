package ingest

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// BenchmarkIngestQUIC sends batches of 100 health records over real QUIC with
// mTLS into SQLite from 1, 10 and 100 concurrent agent connections, and reports
// records/s and the p99 time from sending a batch to its ack.
func BenchmarkIngestQUIC(b *testing.B) {
	for _, conns := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			h := newHarness(b)
			const batch = 100
			clients := make([]*clientState, conns)
			for i := range clients {
				c := h.dial(h.agentTLS(fmt.Sprintf("bench%03d", i)))
				clients[i] = &clientState{conn: c}
			}
			var next atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, cs := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for next.Add(1) <= int64(b.N) {
						recs := records(int(cs.seq)+1, batch)
						cs.seq += batch
						t0 := time.Now()
						var ack wire.Ack
						if err := exchange(cs.conn, wire.FrameBatch, wire.Batch{Records: recs}, wire.FrameAck, &ack); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(len(lat)*batch)/el.Seconds(), "records/s")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ack_ms")
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

type clientState struct {
	conn *quic.Conn
	seq  uint64
}

// BenchmarkRawInsert is the raw batched-insert rate of the same SQLite schema,
// measured in the same run for comparison.
func BenchmarkRawInsert(b *testing.B) {
	path := filepath.Join(b.TempDir(), "raw.db")
	n := max(b.N*100, 100)
	b.ResetTimer()
	rate, err := sqlstore.RawInsertRate(path, n, 100)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "records/s")
	b.ReportMetric(0, "ns/op")
}
