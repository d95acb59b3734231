package web

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// BenchmarkSSEFanout opens 100 event streams over real HTTP (as 100 open
// browsers would) and publishes changes at 1 000 a minute, compressed ten
// times (one every 6 ms). One op is one publish; ns/op is the time Publish
// itself takes (the ingest path pays only that). Reported beside it: the
// events each client got (coalesced by the hub's gap) and the time from a
// change to its arrival at a client, p50 and p99, which includes the wait
// for the gap — what a reader sees.
//
// Run: go test -run '^$' -bench BenchmarkSSEFanout -benchtime 1000x ./collector/internal/web
func BenchmarkSSEFanout(b *testing.B) {
	const (
		clients  = 100
		interval = 60 * time.Second / 1000 / 10 // 1 000 a minute, ten times faster
	)
	st := newFakeStore()
	hub := NewHub(HubOptions{})
	srv, err := New(Config{Store: st, Live: hub})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if err := st.CreateUser(ctx, model.User{Name: "drift", PasswordHash: "x", Role: model.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer hub.Close()

	// Each client records when its change events arrive.
	receipts := make([][]time.Time, clients)
	var wg sync.WaitGroup
	var streams []*sseStream
	for i := range clients {
		cookie, _, err := srv.newSession(ctx, "drift")
		if err != nil {
			b.Fatal(err)
		}
		s, err := openEvents(b, ts.URL, &http.Cookie{Name: sessionCookie, Value: cookie})
		if err != nil {
			b.Fatal(err)
		}
		if s.resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /events = %d", s.resp.StatusCode)
		}
		streams = append(streams, s)
		if ev := <-s.events; ev.name != "hello" {
			b.Fatalf("first event %q, want hello", ev.name)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range s.events {
				if ev.name == "change" {
					receipts[i] = append(receipts[i], ev.at)
				}
			}
		}()
	}

	published := make([]time.Time, 0, b.N)
	var spent time.Duration
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; b.Loop(); i++ {
		<-tick.C
		t0 := time.Now()
		hub.Publish(topics[i%len(topics)])
		spent += time.Since(t0)
		published = append(published, t0)
	}
	b.StopTimer()
	time.Sleep(DefaultLiveGap + 200*time.Millisecond) // the last coalesced events
	for _, s := range streams {
		s.close()
	}
	wg.Wait()

	// An event carries every change published since the one before it
	// arrived; its latency is counted from the oldest of those.
	var lat []float64
	events := 0
	for _, rs := range receipts {
		events += len(rs)
		next := 0
		for _, at := range rs {
			if next >= len(published) || published[next].After(at) {
				continue
			}
			lat = append(lat, float64(at.Sub(published[next]))/float64(time.Millisecond))
			for next < len(published) && !published[next].After(at) {
				next++
			}
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	n := len(published)
	if n == 0 {
		return
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(n), "ns/op")
	b.ReportMetric(float64(events)/clients, "events/client")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkHubPublish is the cost of one Publish with 1 000 subscribers and
// nobody reading (the worst case for the ingest path: every pending set
// already set, every wake slot full).
func BenchmarkHubPublish(b *testing.B) {
	hub := NewHub(HubOptions{})
	defer hub.Close()
	for range DefaultLiveSubscribers {
		if _, err := hub.subscribe(allTopics); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		hub.Publish(topics[i%len(topics)])
	}
}
