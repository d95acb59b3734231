package main

import (
	"bufio"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// hist is a lock-free latency histogram: 0.1 ms buckets up to 60 s, and the
// maximum. Quantiles are exact to the bucket width.
type hist struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Int64
}

const (
	histWidth   = 100 * time.Microsecond
	histBuckets = int(60 * time.Second / histWidth)
)

func (h *hist) add(d time.Duration) {
	d = max(d, 0)
	i := min(int(d/histWidth), histBuckets-1)
	h.buckets[i].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1) as the upper edge of its
// bucket, capped at the maximum seen; 0 when empty.
func (h *hist) quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			if i == histBuckets-1 { // the overflow bucket: all we know is the maximum
				return time.Duration(h.max.Load())
			}
			return min(time.Duration(i+1)*histWidth, time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// write saves the non-empty buckets as lines "upper edge in µs, count", the
// maximum as the last line "max µs, 0".
func (h *hist) write(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range h.buckets {
		if n := h.buckets[i].Load(); n > 0 {
			fmt.Fprintf(w, "%d %d\n", (time.Duration(i+1) * histWidth).Microseconds(), n)
		}
	}
	fmt.Fprintf(w, "max %d\n", time.Duration(h.max.Load()).Microseconds())
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
