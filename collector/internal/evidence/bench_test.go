package evidence_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/evidence"
)

// benchScale reads SONEVAKT_EVIDENCE_BENCH_SCALE: 1 is the full
// size (5 000 hosts, 100 000 deviation events, 10 million flow-hours);
// the default 0.01 keeps CI quick.
func benchScale(b *testing.B) float64 {
	s := os.Getenv("SONEVAKT_EVIDENCE_BENCH_SCALE")
	if s == "" {
		return 0.01
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 10 {
		b.Fatalf("SONEVAKT_EVIDENCE_BENCH_SCALE=%q: want a number in (0, 10]", s)
	}
	return f
}

// peakHeap samples HeapInuse until stop is called and returns the highest
// seen.
func peakHeap() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// BenchmarkExport exports a year of synthetic history: at scale 1 the
// issue's 5 000 hosts, 100 000 deviation events and 10 million flow-hours
// (budget 30 s; memory must not grow with the period). It reports the
// peak heap in use during the export and the bundle's size.
func BenchmarkExport(b *testing.B) {
	scale := benchScale(b)
	h := history{
		hosts:     max(20, int(5000*scale)),
		devEvents: max(50, int(100_000*scale)),
		media:     max(20, int(20_000*scale)),
		flowHours: max(100, int(10_000_000*scale)),
		pkgs:      60,
		audit:     max(100, int(200_000*scale)),
	}
	// SONEVAKT_EVIDENCE_BENCH_DIR keeps the seeded store between runs (it is
	// seeded when it holds none); seeding the full size takes minutes.
	dir := os.Getenv("SONEVAKT_EVIDENCE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	_, statErr := os.Stat(filepath.Join(dir, "sonevakt.db"))
	db := openStore(b, dir)
	if statErr != nil {
		start := time.Now()
		seed(b, dir, h)
		b.Logf("seeded %+v in %v", h, time.Since(start).Round(time.Millisecond))
	}
	key, _, err := evidence.LoadOrCreateKey(dir)
	if err != nil {
		b.Fatal(err)
	}
	opt := evidence.Options{From: yearFrom, To: yearTo, Key: key, Actor: "bench",
		BuildMap: func(ctx context.Context) (configmap.Map, error) {
			return configmap.Build(ctx, db, configmap.BuildOptions{})
		}}
	out := filepath.Join(dir, "bundle.zip")
	runtime.GC()
	var peak, size uint64
	b.ReportAllocs()
	for b.Loop() {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		stop := peakHeap()
		if _, err := evidence.Export(b.Context(), f, db, opt); err != nil {
			b.Fatal(err)
		}
		peak = max(peak, stop())
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		if st, err := os.Stat(out); err == nil {
			size = uint64(st.Size())
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(size)/(1<<20), "bundle-MiB")
	if rep := evidence.Verify(out, evidence.Trust{PublicKey: key.Public().(ed25519.PublicKey)}); !rep.OK() {
		b.Fatalf("the benchmark's bundle does not verify: %v", rep.Failures())
	}
}
