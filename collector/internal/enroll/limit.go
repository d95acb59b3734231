package enroll

import (
	"sync"
	"time"
)

// limiter is a token bucket per key. Buckets that are full again are forgotten,
// so memory follows the number of recently active sources.
type limiter struct {
	burst, rate float64
	mu          sync.Mutex
	buckets     map[string]*bucket
	lastSweep   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst, rate float64) *limiter {
	return &limiter{burst: burst, rate: rate, buckets: map[string]*bucket{}}
}

func (l *limiter) refill(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.at = now
	}
	if now.Sub(l.lastSweep) > time.Minute {
		l.lastSweep = now
		for k, x := range l.buckets {
			if x.tokens+now.Sub(x.at).Seconds()*l.rate >= l.burst {
				delete(l.buckets, k)
			}
		}
	}
	return b
}

// allow takes one token and reports whether there was one.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// take takes a token if there is one.
func (l *limiter) take(key string, now time.Time) { l.allow(key, now) }

// empty reports whether the bucket has no whole token left.
func (l *limiter) empty(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refill(key, now).tokens < 1
}
