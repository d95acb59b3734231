package spool

import (
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// benchRecord is a typical small record: a media event or a health report.
func benchRecord() wire.Record {
	return wire.Record{Kind: wire.KindMedia, ObservedAt: 1_700_000_000_000_000_000, Body: make([]byte, 200)}
}

func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
	}{{"nosync", true}, {"sync", false}} {
		b.Run(bc.name, func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), Options{NoSync: bc.noSync, MaxBytes: 1 << 30})
			r := benchRecord()
			b.ReportAllocs()
			b.SetBytes(int64(len(r.Body)))
			for b.Loop() {
				if _, err := s.Append(r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkAppendParallel is many sensors appending at once, durably.
func BenchmarkAppendParallel(b *testing.B) {
	s := mustOpen(b, b.TempDir(), Options{MaxBytes: 1 << 30})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := benchRecord()
		for pb.Next() {
			if _, err := s.Append(r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkLeaseCommit drains a backlog of b.N records in batches of 1000, as
// the uplink does after a long outage.
func BenchmarkLeaseCommit(b *testing.B) {
	s := mustOpen(b, b.TempDir(), Options{MaxBytes: 1 << 30})
	s.opts.NoSync = true // fill fast; the drain below is durable
	r := benchRecord()
	for range b.N {
		if _, err := s.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	s.opts.NoSync = false
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for {
		rs, err := s.Lease(1000, 0)
		if err != nil {
			b.Fatal(err)
		}
		if rs == nil {
			break
		}
		n += len(rs)
		if err := s.Commit(rs[len(rs)-1].Seq); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n != b.N {
		b.Fatalf("leased %d records, want %d", n, b.N)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
