package sockets

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// clock is a fake clock safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func TestResolverMatches(t *testing.T) {
	src := &fakeSource{created: map[int32]int64{}, procs: map[int32]wire.FlowProcess{}}
	src.set(
		tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 11),
		tcp("10.0.0.1:22", "10.0.0.9:50000", "ESTABLISHED", 12),
		tcp("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 13),
		tcp("10.0.0.1:8080", "0.0.0.0:0", "LISTEN", 14),
		tcp("0.0.0.0:8080", "0.0.0.0:0", "LISTEN", 15),
		tcp("[::]:443", "[::]:0", "LISTEN", 16),
		udp("10.0.0.1:5000", "10.0.0.53:53", 17),
		udp("0.0.0.0:5353", "0.0.0.0:0", 18),
		tcp("[::ffff:10.0.0.1]:9000", "[::ffff:10.0.0.7]:40000", "ESTABLISHED", 19),
		tcp("10.0.0.1:40001", "8.8.4.4:443", "TIME_WAIT", 0),
	)
	r := newResolver(time.Minute, src, newClock().now)
	ap := netip.MustParseAddrPort
	tests := []struct {
		name          string
		proto         uint8
		local, remote string
		want          int32 // 0: nil
	}{
		{"exact outbound", protoTCP, "10.0.0.1:40000", "8.8.8.8:443", 11},
		{"exact inbound beats the listener", protoTCP, "10.0.0.1:22", "10.0.0.9:50000", 12},
		{"sides swapped", protoTCP, "8.8.8.8:443", "10.0.0.1:40000", 11},
		{"inbound, connection gone: wildcard listener", protoTCP, "10.0.0.1:22", "10.0.0.8:41000", 13},
		{"listener on the very address beats the wildcard", protoTCP, "10.0.0.1:8080", "10.0.0.8:41000", 14},
		{"other address: wildcard", protoTCP, "10.0.0.2:8080", "10.0.0.8:41000", 15},
		{"IPv6 wildcard takes IPv4", protoTCP, "10.0.0.1:443", "10.0.0.8:41000", 16},
		{"IPv6 wildcard", protoTCP, "[fd00::1]:443", "[fd00::2]:41000", 16},
		{"IPv4 wildcard does not take IPv6", protoTCP, "[fd00::1]:22", "[fd00::2]:41000", 0},
		{"connected udp", protoUDP, "10.0.0.1:5000", "10.0.0.53:53", 17},
		{"unconnected udp", protoUDP, "10.0.0.1:5353", "224.0.0.251:5353", 18},
		{"udp does not match tcp", protoUDP, "10.0.0.1:40000", "8.8.8.8:443", 0},
		{"mapped addresses match plain ones", protoTCP, "10.0.0.1:9000", "10.0.0.7:40000", 19},
		{"plain addresses match mapped ones", protoTCP, "[::ffff:10.0.0.1]:9000", "[::ffff:10.0.0.7]:40000", 19},
		{"socket without owner", protoTCP, "10.0.0.1:40001", "8.8.4.4:443", 0},
		{"unknown flow", protoTCP, "10.0.0.1:40009", "8.8.8.8:443", 0},
		{"icmp", 1, "10.0.0.1:0", "8.8.8.8:0", 0},
	}
	for _, tt := range tests {
		if got := pidOf(r.Lookup(tt.proto, ap(tt.local), ap(tt.remote))); got != tt.want {
			t.Errorf("%s: Lookup(%d, %s, %s) = pid %d, want %d", tt.name, tt.proto, tt.local, tt.remote, got, tt.want)
		}
	}
	if reads, _ := src.counts(); reads != 1 {
		t.Errorf("%d table reads for lookups within maxAge, want 1", reads)
	}
}

func TestResolverRefreshesLazily(t *testing.T) {
	src := &fakeSource{created: map[int32]int64{}, procs: map[int32]wire.FlowProcess{}}
	src.set(tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 11))
	c := newClock()
	r := newResolver(2*time.Second, src, c.now)
	ap := netip.MustParseAddrPort
	known, later := [2]netip.AddrPort{ap("10.0.0.1:40000"), ap("8.8.8.8:443")}, [2]netip.AddrPort{ap("10.0.0.1:40001"), ap("8.8.8.8:443")}

	steps := []struct {
		name      string
		advance   time.Duration
		flow      [2]netip.AddrPort
		wantPID   int32
		wantReads int
	}{
		{"first lookup reads the table", 0, known, 11, 1},
		{"a hit reads nothing", 10 * time.Second, known, 11, 1},
		{"a miss in a stale table reads it", 0, later, 0, 2},
		{"a miss in a fresh table reads nothing", time.Second, later, 0, 2},
		{"a hit in a fresh table", 0, known, 11, 2},
		{"a miss once maxAge passed reads it", time.Second, later, 12, 3},
	}
	for i, st := range steps {
		if i == 5 {
			src.set(tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 11), tcp("10.0.0.1:40001", "8.8.8.8:443", "ESTABLISHED", 12))
		}
		c.add(st.advance)
		got := pidOf(r.Lookup(protoTCP, st.flow[0], st.flow[1]))
		reads, _ := src.counts()
		if got != st.wantPID || reads != st.wantReads {
			t.Errorf("%s: pid %d after %d table reads, want pid %d after %d", st.name, got, reads, st.wantPID, st.wantReads)
		}
	}
}

func TestResolverConcurrent(t *testing.T) {
	src := &fakeSource{created: map[int32]int64{}, procs: map[int32]wire.FlowProcess{}}
	for i := range 100 {
		src.stats = append(src.stats, tcp(fmt.Sprintf("10.0.0.1:%d", 40000+i), "8.8.8.8:443", "ESTABLISHED", int32(100+i)))
	}
	c := newClock()
	r := newResolver(time.Millisecond, src, c.now)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				n := (i*7 + g) % 120 // some miss
				local := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+n))
				p := r.Lookup(protoTCP, local, netip.MustParseAddrPort("8.8.8.8:443"))
				want := int32(0)
				if n < 100 {
					want = int32(100 + n)
				}
				if pidOf(p) != want {
					errs <- fmt.Sprintf("Lookup of port %d = pid %d, want %d", 40000+n, pidOf(p), want)
					return
				}
				if i%50 == 0 {
					c.add(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	src := &fakeSource{created: map[int32]int64{}, procs: map[int32]wire.FlowProcess{}}
	src.set(tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 11), tcp("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 13))
	r := newResolver(time.Hour, src, newClock().now)
	local, remote := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("8.8.8.8:443")
	inbound := netip.MustParseAddrPort("10.0.0.1:22")
	r.Lookup(protoTCP, local, remote)
	if n := testing.AllocsPerRun(100, func() {
		r.Lookup(protoTCP, local, remote)
		r.Lookup(protoTCP, inbound, remote)
	}); n != 0 {
		t.Errorf("Lookup allocates %v times per hit, want 0", n)
	}
}
