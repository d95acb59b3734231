package sockets

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		in      map[string]string
		want    options
		wantErr string // part of the error; "" for none
	}{
		{in: nil, want: options{interval: time.Minute, includeListen: true}},
		{in: map[string]string{"interval": "5s", "include_listen": "false"}, want: options{interval: 5 * time.Second}},
		{in: map[string]string{"interval": " 1h "}, want: options{interval: time.Hour, includeListen: true}},
		{in: map[string]string{"interval": "4s"}, wantErr: `interval "4s"`},
		{in: map[string]string{"interval": "2h"}, wantErr: `interval "2h"`},
		{in: map[string]string{"interval": "60"}, wantErr: `interval "60"`},
		{in: map[string]string{"include_listen": "ja"}, wantErr: `include_listen "ja"`},
		{in: map[string]string{"intervall": "60s"}, wantErr: `option "intervall" unknown: want one of include_listen, interval`},
	}
	for _, tt := range tests {
		got, err := parseOptions(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseOptions(%v) error %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseOptions(%v) error %v, want one containing %q", tt.in, err, tt.wantErr)
		case tt.wantErr == "" && got != tt.want:
			t.Errorf("parseOptions(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if _, err := New(sensor.Env{Options: map[string]string{"bogus": "1"}}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("New with option bogus: error %v, want one naming it", err)
	}
}

func TestParseConn(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		in     psnet.ConnectionStat
		want   conn
		wantOK bool
	}{
		{"tcp established", tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 7),
			conn{protoTCP, ap("10.0.0.1:40000"), ap("8.8.8.8:443"), "ESTABLISHED", 7}, true},
		{"tcp listen has no remote", tcp("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 1),
			conn{protoTCP, ap("0.0.0.0:22"), netip.AddrPort{}, "LISTEN", 1}, true},
		{"windows state names", tcp("10.0.0.1:40000", "8.8.8.8:443", "FIN_WAIT_1", 7),
			conn{protoTCP, ap("10.0.0.1:40000"), ap("8.8.8.8:443"), "FIN_WAIT1", 7}, true},
		{"windows SYN_RECEIVED", tcp("10.0.0.1:80", "8.8.8.8:5000", "SYN_RECEIVED", 7),
			conn{protoTCP, ap("10.0.0.1:80"), ap("8.8.8.8:5000"), "SYN_RECV", 7}, true},
		{"mapped IPv4 unmapped", tcp("[::ffff:10.0.0.1]:80", "[::ffff:10.1.0.1]:5000", "ESTABLISHED", 3),
			conn{protoTCP, ap("10.0.0.1:80"), ap("10.1.0.1:5000"), "ESTABLISHED", 3}, true},
		{"ipv6", tcp("[fd00::1]:80", "[2001:db8::2]:5000", "CLOSE_WAIT", 3),
			conn{protoTCP, ap("[fd00::1]:80"), ap("[2001:db8::2]:5000"), "CLOSE_WAIT", 3}, true},
		{"udp connected", udp("10.0.0.1:5353", "10.0.0.2:53", 4),
			conn{protoUDP, ap("10.0.0.1:5353"), ap("10.0.0.2:53"), "ESTABLISHED", 4}, true},
		{"udp unconnected linux", udp("0.0.0.0:68", "0.0.0.0:0", 4),
			conn{protoUDP, ap("0.0.0.0:68"), netip.AddrPort{}, "LISTEN", 4}, true},
		{"udp unconnected windows", stat(2, "[::]:5353", "", "", 4),
			conn{protoUDP, ap("[::]:5353"), netip.AddrPort{}, "LISTEN", 4}, true},
		{"unix socket skipped", stat(5, "", "", "NONE", 4), conn{}, false},
		{"bad local address", tcp("nonsense:1", "8.8.8.8:1", "ESTABLISHED", 4), conn{}, false},
	}
	for _, tt := range tests {
		got, ok := parseConn(tt.in)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("%s: parseConn(%+v) = %v, %v; want %v, %v", tt.name, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// testPolicy has two zones and leaves the rest external.
func testPolicy(version uint64) wire.Policy {
	return wire.Policy{Version: version, Zones: &wire.ZonePolicy{Zones: []wire.ZoneDef{
		{Name: "intern", Kind: "internal", Prefixes: []string{"10.0.0.0/16", "fd00::/16"}},
		{Name: "helse", Kind: "sensitive", Prefixes: []string{"10.9.0.0/16"}},
	}}}
}

func testMap(t *testing.T) *zone.Map {
	t.Helper()
	m, err := zone.FromPolicy(*testPolicy(1).Zones)
	if err != nil {
		t.Fatalf("zone.FromPolicy: %v", err)
	}
	return m
}

// entries parses a table as readTable would, with pid as the process.
func entries(t *testing.T, stats ...psnet.ConnectionStat) []entry {
	t.Helper()
	var es []entry
	for _, s := range stats {
		c, ok := parseConn(s)
		if !ok {
			t.Fatalf("parseConn(%+v) refused", s)
		}
		e := entry{conn: c}
		if c.pid > 0 {
			e.proc = &wire.FlowProcess{PID: c.pid}
		}
		es = append(es, e)
	}
	return es
}

// short renders a socket for comparison: "tcp 10.0.0.1:1>8.8.8.8:2 intern>external ESTABLISHED 7".
func short(s wire.Socket) string {
	return s.Proto + " " + s.Local + ">" + s.Remote + " " + s.LocalZone + ">" + s.RemoteZone + " " + s.State + " " + itoa(pidOf(s.Process))
}

func itoa(p int32) string {
	if p == 0 {
		return "-"
	}
	var b []byte
	for ; p > 0; p /= 10 {
		b = append([]byte{byte('0' + p%10)}, b...)
	}
	return string(b)
}

func TestClassify(t *testing.T) {
	table := entries(t,
		tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 7),        // intern > external
		tcp("10.0.0.1:40001", "10.0.0.2:443", "ESTABLISHED", 7),       // inside intern
		tcp("10.0.0.1:40002", "10.9.1.1:5432", "CLOSE_WAIT", 8),       // intern > helse, closing
		tcp("10.0.0.1:40003", "8.8.8.8:443", "TIME_WAIT", 0),          // no owner any more
		tcp("10.0.0.1:40004", "8.8.8.8:443", "SYN_SENT", 7),           // not connected
		tcp("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 1),                   // every address
		tcp("127.0.0.1:631", "0.0.0.0:0", "LISTEN", 1),                // loopback only
		tcp("10.9.0.5:5432", "0.0.0.0:0", "LISTEN", 9),                // helse address
		tcp("[::1]:25", "[::]:0", "LISTEN", 1),                        // loopback only
		udp("10.0.0.1:5000", "10.9.0.53:53", 4),                       // intern > helse
		udp("10.0.0.1:5001", "10.0.0.53:53", 4),                       // inside intern
		udp("0.0.0.0:68", "0.0.0.0:0", 4),                             // every address
		udp("127.0.0.53:53", "0.0.0.0:0", 5),                          // loopback only
		tcp("[fd00::1]:40000", "[2001:db8::1]:443", "ESTABLISHED", 0), // intern > external, owner unknown
	)
	tests := []struct {
		name          string
		m             *zone.Map
		includeListen bool
		want          []string
	}{
		{"zones with listeners", testMap(t), true, []string{
			"tcp 0.0.0.0:22> > LISTEN 1",
			"tcp 10.0.0.1:40000>8.8.8.8:443 intern>external ESTABLISHED 7",
			"tcp 10.0.0.1:40002>10.9.1.1:5432 intern>helse CLOSE_WAIT 8",
			"tcp 10.9.0.5:5432> helse> LISTEN 9",
			"tcp [fd00::1]:40000>[2001:db8::1]:443 intern>external ESTABLISHED -",
			"udp 0.0.0.0:68> > LISTEN 4",
			"udp 10.0.0.1:5000>10.9.0.53:53 intern>helse ESTABLISHED 4",
		}},
		{"zones without listeners", testMap(t), false, []string{
			"tcp 10.0.0.1:40000>8.8.8.8:443 intern>external ESTABLISHED 7",
			"tcp 10.0.0.1:40002>10.9.1.1:5432 intern>helse CLOSE_WAIT 8",
			"tcp [fd00::1]:40000>[2001:db8::1]:443 intern>external ESTABLISHED -",
			"udp 10.0.0.1:5000>10.9.0.53:53 intern>helse ESTABLISHED 4",
		}},
		{"no map: nothing crosses", nil, true, []string{
			"tcp 0.0.0.0:22> > LISTEN 1",
			"tcp 10.9.0.5:5432> > LISTEN 9",
			"udp 0.0.0.0:68> > LISTEN 4",
		}},
		{"no map, no listeners", nil, false, nil},
	}
	for _, tt := range tests {
		body := classify(table, 99, tt.m, tt.includeListen)
		if body.Total != 99 {
			t.Errorf("%s: Total = %d, want 99", tt.name, body.Total)
		}
		var got []string
		for _, s := range body.Conns {
			got = append(got, short(s))
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s: classify =\n%s\nwant\n%s", tt.name, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

// harness runs a sensor's rounds on a fake table and a fake clock.
type harness struct {
	t      *testing.T
	src    *fakeSource
	s      *Sensor
	now    time.Time
	policy wire.Policy
}

func newHarness(t *testing.T, opts options) *harness {
	h := &harness{t: t, src: &fakeSource{created: map[int32]int64{}, procs: map[int32]wire.FlowProcess{}},
		now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), policy: testPolicy(1)}
	h.s = newSensor(sensor.Env{Policy: func() wire.Policy { return h.policy }}, h.src, opts)
	h.s.now = func() time.Time { return h.now }
	return h
}

// round runs one round and returns the record's body, nil when none was
// emitted.
func (h *harness) round() *wire.Sockets {
	h.t.Helper()
	var recs []wire.Record
	h.s.round(context.Background(), func(r wire.Record) { recs = append(recs, r) })
	switch len(recs) {
	case 0:
		return nil
	case 1:
	default:
		h.t.Fatalf("round emitted %d records, want at most 1", len(recs))
	}
	if recs[0].Kind != wire.KindSockets {
		h.t.Fatalf("record kind %q, want %q", recs[0].Kind, wire.KindSockets)
	}
	var body wire.Sockets
	if err := recs[0].DecodeBody(&body); err != nil {
		h.t.Fatalf("decode sockets record: %v", err)
	}
	return &body
}

func TestRoundEmitsOnlyChanges(t *testing.T) {
	h := newHarness(t, options{interval: time.Minute, includeListen: true})
	h.src.procs[7] = wire.FlowProcess{PID: 7, Name: "curl", Exe: "/usr/bin/curl", User: "kari"}
	crossing := tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 7)
	inside := tcp("10.0.0.1:40001", "10.0.0.2:443", "ESTABLISHED", 7)
	h.src.set(crossing, inside)

	body := h.round()
	if body == nil {
		t.Fatal("first round emitted nothing")
	}
	if body.Total != 2 || len(body.Conns) != 1 {
		t.Fatalf("first record: total %d, %d conns; want 2 and 1", body.Total, len(body.Conns))
	}
	if p := body.Conns[0].Process; p == nil || *p != h.src.procs[7] {
		t.Errorf("first record process = %+v, want %+v", p, h.src.procs[7])
	}

	steps := []struct {
		name  string
		apply func()
		emit  bool
	}{
		{"same table", func() { h.now = h.now.Add(time.Minute) }, false},
		{"an intra-zone connection more", func() {
			h.src.set(crossing, inside, tcp("10.0.0.1:40002", "10.0.0.3:22", "ESTABLISHED", 7))
		}, false},
		{"the crossing connection starts to close", func() {
			h.src.set(tcp("10.0.0.1:40000", "8.8.8.8:443", "CLOSE_WAIT", 7), inside)
		}, false},
		{"a new listener", func() { h.src.set(crossing, inside, tcp("0.0.0.0:80", "0.0.0.0:0", "LISTEN", 9)) }, true},
		{"unchanged again", func() {}, false},
		{"an hour after the last record", func() { h.now = h.now.Add(time.Hour) }, true},
		{"a policy without zones", func() { h.policy = wire.Policy{Version: 2} }, true},
		{"the same policy", func() {}, false},
		{"zones again", func() { h.policy = testPolicy(3) }, true},
		{"the pid now is another program", func() {
			h.src.created[7] = 12345
			h.src.procs[7] = wire.FlowProcess{PID: 7, Name: "wget", Exe: "/usr/bin/wget", User: "kari"}
		}, true},
		{"the crossing connection is gone", func() { h.src.set(inside, tcp("0.0.0.0:80", "0.0.0.0:0", "LISTEN", 9)) }, true},
	}
	for _, st := range steps {
		st.apply()
		if got := h.round(); (got != nil) != st.emit {
			t.Errorf("%s: emitted %v, want %v", st.name, got != nil, st.emit)
		}
	}
}

func TestRoundKeepsProcessesCached(t *testing.T) {
	h := newHarness(t, options{interval: time.Minute, includeListen: true})
	h.src.set(
		tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 7),
		tcp("10.0.0.1:40001", "8.8.8.8:443", "ESTABLISHED", 7),
		tcp("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 1),
		tcp("10.0.0.1:22", "10.0.0.9:50000", "ESTABLISHED", 0),
	)
	h.round()
	if _, procs := h.src.counts(); procs != 2 {
		t.Fatalf("first round read %d processes, want 2 (pids 7 and 1)", procs)
	}
	h.round()
	h.round()
	if _, procs := h.src.counts(); procs != 2 {
		t.Errorf("after three rounds %d process reads, want still 2", procs)
	}
	h.src.created[7] = 99 // pid 7 reused
	h.round()
	if _, procs := h.src.counts(); procs != 3 {
		t.Errorf("after pid reuse %d process reads, want 3", procs)
	}
	h.src.set(tcp("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 1))
	h.round()
	if _, ok := h.s.procs.procs[7]; ok {
		t.Error("pid 7 left the table but is still cached")
	}
}

func TestRoundSurvivesErrors(t *testing.T) {
	h := newHarness(t, options{interval: time.Minute, includeListen: true})
	h.src.err = context.DeadlineExceeded
	if body := h.round(); body != nil {
		t.Errorf("a failed read emitted %+v", body)
	}
	h.src.err = nil
	h.policy = wire.Policy{Version: 5, Zones: &wire.ZonePolicy{Zones: []wire.ZoneDef{{Name: "a", Kind: "internal", Prefixes: []string{"not a prefix"}}}}}
	h.src.set(tcp("10.0.0.1:40000", "8.8.8.8:443", "ESTABLISHED", 7), tcp("0.0.0.0:22", "0.0.0.0:0", "LISTEN", 1))
	body := h.round()
	if body == nil || len(body.Conns) != 1 || body.Conns[0].State != "LISTEN" || body.Conns[0].LocalZone != "" {
		t.Errorf("with an invalid zone policy: %+v, want only the listener, without zones", body)
	}
}

// stretch is a resource guard's pace that slows the sensor by factor and
// counts rounds.
type stretch struct {
	mu           sync.Mutex
	factor       int
	begins, ends int
	asked        []time.Duration
}

func (p *stretch) Begin() func() {
	p.mu.Lock()
	p.begins++
	p.mu.Unlock()
	return func() { p.mu.Lock(); p.ends++; p.mu.Unlock() }
}

func (p *stretch) Interval(d time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, d)
	return d * time.Duration(p.factor)
}

func (p *stretch) rounds() (int, int) { p.mu.Lock(); defer p.mu.Unlock(); return p.begins, p.ends }

// Run brackets each round for the resource guard and waits the interval the
// guard stretched: with a 1-minute interval slowed 3x, rounds come at 0,
// 3 and 6 minutes.
func TestRunHonoursPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, options{interval: time.Minute, includeListen: true})
		p := &stretch{factor: 3}
		h.s.pace = p
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- h.s.Run(ctx, func(wire.Record) {}) }()
		want := []struct {
			after  time.Duration
			rounds int
		}{{0, 1}, {2 * time.Minute, 1}, {time.Minute, 2}, {2 * time.Minute, 2}, {time.Minute, 3}}
		for i, w := range want {
			time.Sleep(w.after)
			synctest.Wait()
			if b, e := p.rounds(); b != w.rounds || e != w.rounds {
				t.Fatalf("step %d: %d rounds begun, %d ended; want %d", i, b, e, w.rounds)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
		for _, d := range p.asked {
			if d != time.Minute {
				t.Errorf("asked the guard for %v, want the sensor's own interval of 1m", d)
			}
		}
	})
}
