package sqlstore

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

var trafficHour = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// flowsBatch is a batch of one flows record per body, numbered from first,
// both raw and decoded; each record is observed at its interval's end.
func flowsBatch(tb testing.TB, agentID string, first uint64, bodies ...wire.Flows) model.IngestBatch {
	tb.Helper()
	b := model.IngestBatch{AgentID: agentID, ReceivedAt: trafficHour.Add(2 * time.Hour)}
	for i, body := range bodies {
		seq := first + uint64(i)
		at := time.Unix(0, body.End)
		r, err := wire.NewRecord(wire.KindFlows, at, body)
		if err != nil {
			tb.Fatal(err)
		}
		r.Seq = seq
		b.Records = append(b.Records, r)
		b.Flows = append(b.Flows, model.FlowRecord{Seq: seq, At: at, Flows: body})
	}
	return b
}

func minute(n int) time.Time { return trafficHour.Add(time.Duration(n) * time.Minute) }

func statsInterval(start time.Time, source, capErr string, zones ...wire.ZoneCount) wire.Flows {
	return wire.Flows{Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Source: source, Zones: zones,
		Stats: wire.CaptureStats{Packets: 10, Dropped: 1, Error: capErr}}
}

func TestTrafficStats(t *testing.T) { eachDialect(t, testTrafficStats) }

func testTrafficStats(t *testing.T, db *DB) {
	ctx := t.Context()
	a1, err := db.sampleAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := db.sampleAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kontor := func(flows, packets, bytes uint64) wire.ZoneCount {
		return wire.ZoneCount{Zone: "kontor", Flows: flows, Packets: packets, Bytes: bytes}
	}
	b := flowsBatch(t, a1, 1,
		statsInterval(minute(0), "capture:eth0", "", kontor(2, 20, 2000), wire.ZoneCount{Zone: "helse", Flows: 1, Packets: 5, Bytes: 500}),
		statsInterval(minute(1), "capture:eth0", "", kontor(1, 10, 1000)),
		statsInterval(minute(70), "capture:eth0", "", kontor(1, 1, 100)))
	if _, err := db.Ingest(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ingest(ctx, b); err != nil { // resent: counted once
		t.Fatal(err)
	}
	// a2's capture failed; a later batch brings an older record, which must
	// not replace the newer status.
	if _, err := db.Ingest(ctx, flowsBatch(t, a2, 2, statsInterval(minute(5), "capture:eth0", "no CAP_NET_RAW", kontor(4, 40, 4000)))); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Ingest(ctx, flowsBatch(t, a2, 1, statsInterval(minute(4), "capture:eth0", "", kontor(0, 0, 0)))); err != nil {
		t.Fatal(err)
	}

	zs, err := db.ZoneHours(ctx, trafficHour, trafficHour.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.ZoneHour{
		{Zone: "helse", Flows: 1, Packets: 5, Bytes: 500},
		{Zone: "kontor", Flows: 7, Packets: 70, Bytes: 7000},
	}
	if !reflect.DeepEqual(zs, want) {
		t.Errorf("ZoneHours(first hour) = %+v, want %+v", zs, want)
	}
	zs, err = db.ZoneHours(ctx, time.Time{}, time.Time{})
	if err != nil || len(zs) != 2 || zs[1].Bytes != 7100 {
		t.Errorf("ZoneHours(no bounds) = %+v, %v; want kontor with 7100 bytes", zs, err)
	}

	cs, err := db.CaptureStatuses(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cs {
		got[c.AgentID] = fmt.Sprintf("%s %s %q", c.Source, c.At.Format("15:04"), c.Stats.Error)
	}
	wantStatus := map[string]string{a1: `capture:eth0 10:11 ""`, a2: `capture:eth0 09:06 "no CAP_NET_RAW"`}
	if !reflect.DeepEqual(got, wantStatus) || len(cs) != 2 {
		t.Errorf("CaptureStatuses = %v, want %v", got, wantStatus)
	}
	if cs, err := db.CaptureStatuses(ctx, a2); err != nil || len(cs) != 1 || cs[0].Stats.Dropped != 1 {
		t.Errorf("CaptureStatuses(%s) = %+v, %v", a2, cs, err)
	}
}

// TestFlowCountsBounded checks that counts near the top of uint64 are kept
// at the bound instead of failing the batch.
func TestFlowCountsBounded(t *testing.T) { eachDialect(t, testFlowCountsBounded) }

func testFlowCountsBounded(t *testing.T, db *DB) {
	ctx := t.Context()
	id, err := db.sampleAgent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	huge := func(start time.Time) wire.Flows {
		body := statsInterval(start, "capture:eth0", "", wire.ZoneCount{Zone: "kontor", Flows: math.MaxUint64, Packets: math.MaxUint64, Bytes: math.MaxUint64})
		body.Flows = []wire.Flow{{Proto: wire.ProtoTCP, Src: "10.1.0.1", Dst: "10.20.0.1", DPort: 443, SrcZone: "kontor", DstZone: "helse",
			Packets: math.MaxUint64, Bytes: math.MaxUint64 - 1}}
		return body
	}
	if _, err := db.Ingest(ctx, flowsBatch(t, id, 1, huge(minute(0)), huge(minute(1)), huge(minute(2)))); err != nil {
		t.Fatalf("Ingest(huge counts) = %v", err)
	}
	// Another batch adds to the rows the first one wrote, at the bound.
	if _, err := db.Ingest(ctx, flowsBatch(t, id, 4, huge(minute(3)))); err != nil {
		t.Fatalf("Ingest(huge counts again) = %v", err)
	}
	fs, err := db.Flows(ctx, model.FlowQuery{Limit: 10})
	if err != nil || len(fs) != 1 || fs[0].Packets != maxCount || fs[0].Bytes != maxCount {
		t.Errorf("Flows = %+v, %v; want one row with counts %d", fs, err, uint64(maxCount))
	}
	if ps, err := db.ZoneMatrix(ctx, time.Time{}, time.Time{}); err != nil || len(ps) != 1 || ps[0].Bytes != maxCount {
		t.Errorf("ZoneMatrix = %+v, %v", ps, err)
	}
	if ps, err := db.EvidenceZoneMatrix(ctx, time.Time{}, time.Time{}); err != nil || len(ps) != 1 || ps[0].Bytes != maxCount || ps[0].Packets != maxCount {
		t.Errorf("EvidenceZoneMatrix = %+v, %v", ps, err)
	}
	if zs, err := db.ZoneHours(ctx, time.Time{}, time.Time{}); err != nil || len(zs) != 1 || zs[0].Flows != maxCount || zs[0].Bytes != maxCount {
		t.Errorf("ZoneHours = %+v, %v; want kontor with counts %d", zs, err, uint64(maxCount))
	}
}

// BenchmarkIngestFlows measures DB.Ingest of flows records carrying 200
// cross-zone flows each, in batches of 50 records (10 000 flows): the
// records and their hourly rows. One record per minute of capture, so most
// flows add to the row an earlier record of the hour opened, as a steady
// agent's do.
func BenchmarkIngestFlows(b *testing.B) {
	const (
		flowsPerRecord = 200
		recordsPerB    = 50
	)
	db := mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
	id, err := db.sampleAgent(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	body := func(seq uint64) wire.Flows {
		start := trafficHour.Add(time.Duration(seq) * time.Minute)
		fl := wire.Flows{Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Source: "capture:eth0",
			Zones: []wire.ZoneCount{{Zone: "kontor", Flows: 40, Packets: 4000, Bytes: 400_000}}, Stats: wire.CaptureStats{Packets: 100_000}}
		for i := range flowsPerRecord {
			fl.Flows = append(fl.Flows, wire.Flow{Proto: wire.ProtoTCP, Src: fmt.Sprintf("10.1.%d.%d", i/200, i%200+1),
				Dst: fmt.Sprintf("10.20.0.%d", i%50+1), SPort: uint16(40000 + i), DPort: uint16(443 + i%4),
				SrcZone: "kontor", DstZone: "helse", Packets: 30, Bytes: 24_000, First: start.UnixNano(), Last: start.Add(50 * time.Second).UnixNano(),
				Verdict: wire.VerdictDenied, Process: &wire.FlowProcess{PID: int32(1000 + i%7), Name: "firefox", User: "kari"}})
		}
		return fl
	}
	var next uint64 = 1
	for b.Loop() {
		b.StopTimer()
		bodies := make([]wire.Flows, recordsPerB)
		for i := range bodies {
			bodies[i] = body(next + uint64(i))
		}
		batch := flowsBatch(b, id, next, bodies...)
		next += recordsPerB
		b.StartTimer()
		res, err := db.Ingest(b.Context(), batch)
		if err != nil {
			b.Fatal(err)
		}
		if res.Inserted != recordsPerB || res.Flows != recordsPerB*flowsPerRecord {
			b.Fatalf("Ingest = %+v, want %d records and %d flows", res, recordsPerB, recordsPerB*flowsPerRecord)
		}
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*recordsPerB)/secs, "records/s")
	b.ReportMetric(float64(b.N*recordsPerB*flowsPerRecord)/secs, "flows/s")
}
