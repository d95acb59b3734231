package traffic_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/traffic"
	"github.com/sonevakt/sonevakt/agent/internal/sensor/traffic/gencap"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// benchCapture writes a gencap capture into a b.TempDir() file once and
// returns its bytes, so each iteration reads the same capture from memory.
func benchCapture(b *testing.B, opts gencap.Options) []byte {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.pcap")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gencap.Write(f, opts); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func benchZones(b *testing.B) *zone.Map {
	b.Helper()
	m, err := zone.Parse("zones.yaml", gencap.ZonesYAML())
	if err != nil {
		b.Fatalf("parse gencap's zones: %v", err)
	}
	return m
}

// BenchmarkAnalyzeCapture is the offline analysis of a generated capture
// (200 000 packets, 10 000 flows, a fifth over IPv6, a tenth in VLANs) with
// zone classification and firewall verdicts, on one goroutine.
func BenchmarkAnalyzeCapture(b *testing.B) {
	const packets = 200_000
	data := benchCapture(b, gencap.Options{Packets: packets, Flows: 10_000, Seed: 1, IPv6Share: 0.2, VLANShare: 0.1})
	zones := benchZones(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := traffic.Analyze(bytes.NewReader(data), traffic.AnalyzeOptions{Zones: zones})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Packets != packets {
			b.Fatalf("Analyze read %d packets, want %d", rep.Packets, packets)
		}
	}
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkAnalyzeMillionFlows holds 1 000 000 concurrent flows (2 000 000
// packets, their order shuffled so every flow is live until the end) and
// reports the memory the Go runtime took from the system for it, next to
// packets/s. Run it with -benchtime 1x: one iteration takes seconds.
func BenchmarkAnalyzeMillionFlows(b *testing.B) {
	const packets, flows = 2_000_000, 1_000_000
	data := benchCapture(b, gencap.Options{Packets: packets, Flows: flows, Seed: 1, IPv6Share: 0.2, VLANShare: 0.1})
	zones := benchZones(b)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := traffic.Analyze(bytes.NewReader(data), traffic.AnalyzeOptions{Zones: zones, MaxFlows: flows})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Evicted != 0 || len(rep.Flows) < flows*99/100 {
			b.Fatalf("Analyze kept %d flows and evicted %d, want about %d and none", len(rep.Flows), rep.Evicted, flows)
		}
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(float64(after.Sys-before.Sys)/(1<<20), "MiB-sys-growth")
}
