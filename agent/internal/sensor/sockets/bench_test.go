package sockets

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// BenchmarkRound reads this machine's connection table with its processes
// and classifies it, as a sensor round does after its first.
func BenchmarkRound(b *testing.B) {
	procs := newProcCache(system{})
	ctx := context.Background()
	var total int
	b.ReportAllocs()
	for b.Loop() {
		es, n, err := readTable(ctx, system{}, procs)
		if err != nil {
			b.Fatalf("readTable: %v", err)
		}
		classify(es, n, nil, true)
		total = n
	}
	b.ReportMetric(float64(total), "conns")
}

// BenchmarkLookup looks flows up in a cached table of 10 000 connections
// and 100 listeners.
func BenchmarkLookup(b *testing.B) {
	src := &fakeSource{created: map[int32]int64{}, procs: map[int32]wire.FlowProcess{}}
	for i := range 10000 {
		src.stats = append(src.stats, tcp(fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250+1, 40000+i%20000), "192.0.2.1:443", "ESTABLISHED", int32(1000+i%300)))
	}
	for i := range 100 {
		src.stats = append(src.stats, tcp(fmt.Sprintf("0.0.0.0:%d", 8000+i), "0.0.0.0:0", "LISTEN", int32(10+i)))
	}
	r := newResolver(time.Hour, src, time.Now)
	exact := [2]netip.AddrPort{netip.MustParseAddrPort("10.0.4.7:41006"), netip.MustParseAddrPort("192.0.2.1:443")}
	inbound := [2]netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:8042"), netip.MustParseAddrPort("192.0.2.9:50000")}
	if r.Lookup(protoTCP, exact[0], exact[1]) == nil || r.Lookup(protoTCP, inbound[0], inbound[1]) == nil {
		b.Fatal("benchmark flows not found")
	}
	for _, bc := range []struct {
		name string
		flow [2]netip.AddrPort
	}{{"exact", exact}, {"listener", inbound}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r.Lookup(protoTCP, bc.flow[0], bc.flow[1])
			}
		})
	}
}
