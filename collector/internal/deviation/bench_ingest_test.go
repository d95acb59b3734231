package deviation

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// BenchmarkIngestRules measures ingest throughput on the estate of
// sqliteEstate (5 000 hosts, 500 000 inventory items) with the rules off
// and on. Each batch is 500 records from one agent, one of them a media
// event of an unknown stick; with the rules on, the engine runs beside
// ingest and judges every media event as it is woken after each commit, as
// the collector does (the host and software rules run on their own clock,
// or when an inventory arrives, which these batches carry none of). The budget: ingest with
// rules on within 20 % of ingest without them.
func BenchmarkIngestRules(b *testing.B) {
	db := sqliteEstate(b)
	ctx := b.Context()
	const batch = 500
	seqs := map[string]uint64{}
	var n int
	next := func() model.IngestBatch {
		id := fmt.Sprintf("agent-%05d", n%5000)
		n++
		seq := seqs[id] + 1
		if seq == 1 {
			seq = 2 // the estate stored seq 1
		}
		at := hostsNow.Add(time.Duration(n) * time.Millisecond)
		bt := model.IngestBatch{AgentID: id, ReceivedAt: at}
		for i := range batch {
			kind, body := wire.KindHealth, any(map[string]any{"uptime_s": n, "spool_records": i})
			if i == 0 {
				ev := wire.MediaEvent{Action: wire.MediaAdd, Device: wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdb",
					VID: "0781", PID: "5583", Serial: fmt.Sprintf("STICK%03d", n%100)}}
				kind, body = wire.KindMedia, ev
				bt.Media = append(bt.Media, model.MediaRecord{Seq: seq, At: at, Event: ev})
			}
			r, err := wire.NewRecord(kind, at, body)
			if err != nil {
				b.Fatal(err)
			}
			r.Seq = seq
			seq++
			bt.Records = append(bt.Records, r)
		}
		seqs[id] = seq - 1
		return bt
	}
	run := func(b *testing.B, rules bool) {
		var e *Engine
		var stop func()
		if rules {
			e = New(Config{Store: db, Now: time.Now})
			rctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Go(func() { e.Run(rctx) })
			stop = func() { cancel(); wg.Wait() }
			// The collector's start: the first full evaluation of the host
			// and software rules runs before the timed batches.
			time.Sleep(3 * time.Second)
		}
		var records int
		for b.Loop() {
			b.StopTimer()
			bt := next()
			b.StartTimer()
			res, err := db.Ingest(ctx, bt)
			if err != nil {
				b.Fatal(err)
			}
			records += res.Inserted
			if e != nil && res.Media > 0 {
				e.Wake() // as the collector's OnCommit does; no inventory, so no host wake
			}
		}
		b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		if stop != nil {
			stop()
		}
	}
	b.Run("rules=off", func(b *testing.B) { run(b, false) })
	b.Run("rules=on", func(b *testing.B) { run(b, true) })
}
