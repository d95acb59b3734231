package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkMediaToDeviation measures, per insertion of a new medium (a loop
// device attached to a fresh FAT image), the time from the attach that makes
// the kernel send its uevent to the unknown-media deviation being visible
// through the collector's API, and reports p50 and p99. Run it with
// -benchtime 200x for the budget's 200 insertions (make bench does).
func BenchmarkMediaToDeviation(b *testing.B) {
	needRoot(b, "losetup", "mkfs.vfat")
	c := mediaCollector(b, "audit")
	mediaAgent(b, c)
	dir := b.TempDir()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		img := stickImage(b, dir, fmt.Sprintf("s%04d.img", i), "BENCH")
		b.StartTimer()
		start := time.Now()
		out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
		if err != nil {
			b.Fatalf("losetup: %v: %s", err, out)
		}
		dev := strings.TrimSpace(string(out))
		for {
			dvs, err := c.deviations("unknown-media")
			if err != nil {
				b.Fatal(err)
			}
			if slices.ContainsFunc(dvs, func(d apiDeviation) bool { return strings.HasSuffix(d.Subject, img) }) {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("no deviation for %s after 30 s", img)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		detach(dev, img)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
