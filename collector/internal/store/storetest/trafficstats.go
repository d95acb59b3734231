package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// statsStore returns st's intra-zone counts and capture statuses, skipping
// the test for a driver without them.
func statsStore(t *testing.T, st model.Store) model.TrafficStatsStore {
	t.Helper()
	ss, ok := st.(model.TrafficStatsStore)
	if !ok {
		t.Skipf("%T keeps no traffic statistics", st)
	}
	return ss
}

// statsInterval is a flows body of [start, start+1m) from source with the
// given intra-zone counts and no cross-zone flows.
func statsInterval(start time.Time, source string, stats wire.CaptureStats, zones ...wire.ZoneCount) wire.Flows {
	return wire.Flows{Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Source: source, Zones: zones, Stats: stats}
}

func zoneHours(t *testing.T, ss model.TrafficStatsStore, from, to time.Time) []model.ZoneHour {
	t.Helper()
	zs, err := ss.ZoneHours(t.Context(), from, to)
	must(t, fmt.Sprintf("ZoneHours(%v, %v)", from, to), err)
	return zs
}

func testTrafficZoneHours(t *testing.T, st model.Store) {
	ss := statsStore(t, st)
	if zs := zoneHours(t, ss, time.Time{}, time.Time{}); len(zs) != 0 {
		t.Errorf("ZoneHours on an empty store = %+v, want none", zs)
	}
	createAgent(t, st, "a1", "pc-01")
	createAgent(t, st, "a2", "pc-02")
	m := func(n int) time.Time { return hour0.Add(time.Duration(n) * time.Minute) }
	zc := func(zone string, flows, packets, bytes uint64) wire.ZoneCount {
		return wire.ZoneCount{Zone: zone, Flows: flows, Packets: packets, Bytes: bytes}
	}
	const big = 6_000_000_000 // past 32 bits
	cs := wire.CaptureStats{Packets: 10}
	b := flowsBatch(t, "a1", 1,
		statsInterval(m(0), "capture:eth0", cs, zc("kontor", 2, 20, 2000), zc("helse", 1, 5, big)),
		statsInterval(m(1), "capture:eth0", cs, zc("kontor", 1, 10, 1000)),
		statsInterval(m(70), "capture:eth0", cs, zc("kontor", 1, 1, 100), zc("Økonomi", 1, 1, 1)))
	res := ingest(t, st, b)
	if res.Inserted != 3 {
		t.Errorf("Ingest(3 flows records) = %+v, want Inserted 3", res)
	}
	ingest(t, st, b) // resent: counted once
	ingest(t, st, flowsBatch(t, "a2", 1,
		statsInterval(m(5), "sockets", cs, zc("kontor", 4, 40, 4000), zc("DMZ", 1, 2, 3)),
		statsInterval(m(130), "sockets", cs, zc("helse", 1, 1, 1))))

	for _, c := range []struct {
		from, to time.Time
		want     []model.ZoneHour
	}{
		{m(0), m(60), []model.ZoneHour{
			{Zone: "DMZ", Flows: 1, Packets: 2, Bytes: 3},
			{Zone: "helse", Flows: 1, Packets: 5, Bytes: big},
			{Zone: "kontor", Flows: 7, Packets: 70, Bytes: 7000},
		}},
		{time.Time{}, time.Time{}, []model.ZoneHour{
			{Zone: "DMZ", Flows: 1, Packets: 2, Bytes: 3},
			{Zone: "helse", Flows: 2, Packets: 6, Bytes: big + 1},
			{Zone: "kontor", Flows: 8, Packets: 71, Bytes: 7100},
			{Zone: "Økonomi", Flows: 1, Packets: 1, Bytes: 1},
		}},
		{m(60), time.Time{}, []model.ZoneHour{
			{Zone: "helse", Flows: 1, Packets: 1, Bytes: 1},
			{Zone: "kontor", Flows: 1, Packets: 1, Bytes: 100},
			{Zone: "Økonomi", Flows: 1, Packets: 1, Bytes: 1},
		}},
		{time.Time{}, m(120), []model.ZoneHour{
			{Zone: "DMZ", Flows: 1, Packets: 2, Bytes: 3},
			{Zone: "helse", Flows: 1, Packets: 5, Bytes: big},
			{Zone: "kontor", Flows: 8, Packets: 71, Bytes: 7100},
			{Zone: "Økonomi", Flows: 1, Packets: 1, Bytes: 1},
		}},
		// Hours, not minutes: the hour of m(70) starts before m(65).
		{m(65), m(120), nil},
		{m(180), time.Time{}, nil},
	} {
		got := zoneHours(t, ss, c.from, c.to)
		for i := range got {
			got[i].Hour = got[i].Hour.UTC()
		}
		if len(got) == 0 && len(c.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ZoneHours(%v, %v) =\n%+v\nwant\n%+v", c.from.Sub(hour0), c.to.Sub(hour0), got, c.want)
		}
	}
}

func testTrafficCaptureStatus(t *testing.T, st model.Store) {
	ctx := t.Context()
	ss := statsStore(t, st)
	cs, err := ss.CaptureStatuses(ctx, "")
	must(t, "CaptureStatuses on an empty store", err)
	if len(cs) != 0 {
		t.Errorf("CaptureStatuses on an empty store = %+v, want none", cs)
	}
	createAgent(t, st, "a1", "pc-01")
	createAgent(t, st, "a2", "pc-02")
	createAgent(t, st, "B1", "pc-03") // sorts before a1 by bytes
	m := func(n int) time.Time { return hour0.Add(time.Duration(n) * time.Minute) }
	full := wire.CaptureStats{Packets: 1_000_000, Dropped: 7, Skipped: map[string]uint64{"not IP": 3, "truncated": 1},
		Evicted: 2, ActiveFlows: 4096}
	broken := wire.CaptureStats{Error: "no CAP_NET_RAW"}
	ok := wire.CaptureStats{Packets: 10}

	ingest(t, st, flowsBatch(t, "a1", 1,
		statsInterval(m(0), "capture:eth0", ok),
		statsInterval(m(1), "capture:eth0", full),
		statsInterval(m(1), "sockets", ok)))
	// a2's capture failed; a later batch brings an older record, which must
	// not replace the newer status.
	ingest(t, st, flowsBatch(t, "a2", 2, statsInterval(m(5), "capture:eth0", broken)))
	ingest(t, st, flowsBatch(t, "a2", 1, statsInterval(m(4), "capture:eth0", ok)))
	ingest(t, st, flowsBatch(t, "B1", 1, statsInterval(m(9), "capture:Ethernet 2", ok)))

	end := func(n int) time.Time { return m(n).Add(time.Minute) } // a record is observed at its interval's end
	want := []model.CaptureStatus{
		{AgentID: "B1", Source: "capture:Ethernet 2", At: end(9), Stats: ok},
		{AgentID: "a1", Source: "capture:eth0", At: end(1), Stats: full},
		{AgentID: "a1", Source: "sockets", At: end(1), Stats: ok},
		{AgentID: "a2", Source: "capture:eth0", At: end(5), Stats: broken},
	}
	statuses := func(agentID string) []model.CaptureStatus {
		t.Helper()
		cs, err := ss.CaptureStatuses(ctx, agentID)
		must(t, fmt.Sprintf("CaptureStatuses(%q)", agentID), err)
		for i := range cs {
			cs[i].At = cs[i].At.UTC()
		}
		return cs
	}
	if got := statuses(""); !reflect.DeepEqual(got, want) {
		t.Errorf("CaptureStatuses(every agent) =\n%+v\nwant\n%+v", got, want)
	}
	if got := statuses("a1"); !reflect.DeepEqual(got, want[1:3]) {
		t.Errorf("CaptureStatuses(a1) =\n%+v\nwant\n%+v", got, want[1:3])
	}
	if got := statuses("nobody"); len(got) != 0 {
		t.Errorf("CaptureStatuses(nobody) = %+v, want none", got)
	}
	// The capture works again: the newer status replaces the error.
	ingest(t, st, flowsBatch(t, "a2", 3, statsInterval(m(6), "capture:eth0", ok)))
	if got, w := statuses("a2"), []model.CaptureStatus{{AgentID: "a2", Source: "capture:eth0", At: end(6), Stats: ok}}; !reflect.DeepEqual(got, w) {
		t.Errorf("CaptureStatuses(a2) after a working interval =\n%+v\nwant\n%+v", got, w)
	}
}
