package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Traffic fixtures: a PC in zone "kontor" (internal) talking to the health
// zone "helse" (sensitive) and to the internet ("external").

// hour0 is the hour of t0, where the traffic fixtures start.
var hour0 = t0.Truncate(time.Hour)

// xflow is a cross-zone flow of one interval, seen between first and last.
func xflow(src, dst, proto string, dport uint16, srcZone, dstZone string, packets, bytes uint64, first, last time.Time, verdict, process string) wire.Flow {
	f := wire.Flow{Proto: proto, Src: src, Dst: dst, SPort: 40000, DPort: dport, SrcZone: srcZone, DstZone: dstZone,
		Packets: packets, Bytes: bytes, First: first.UnixNano(), Last: last.UnixNano(), Verdict: verdict}
	if verdict == wire.VerdictAllowed {
		f.Rule = "fw-1"
	}
	if process != "" {
		f.Process = &wire.FlowProcess{PID: 4242, Name: process, Exe: "/usr/bin/" + process, User: "kari"}
	}
	return f
}

// interval is a flows body of the interval [start, start+1m) from the
// capture on eth0.
func interval(start time.Time, flows ...wire.Flow) wire.Flows {
	return wire.Flows{Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Source: "capture:eth0", Flows: flows,
		Stats: wire.CaptureStats{Packets: 1000}}
}

// flowsBatch is a batch of flows records numbered from first, carried both as
// records and, decoded, as the batch's Flows.
func flowsBatch(t *testing.T, agentID string, first uint64, bodies ...wire.Flows) model.IngestBatch {
	t.Helper()
	var recs []wire.Record
	var fs []model.FlowRecord
	for i, body := range bodies {
		seq := first + uint64(i)
		when := time.Unix(0, body.End)
		r, err := wire.NewRecord(wire.KindFlows, when, body)
		must(t, "wire.NewRecord", err)
		r.Seq = seq
		recs = append(recs, r)
		fs = append(fs, model.FlowRecord{Seq: seq, At: when, Flows: body})
	}
	b := batch(agentID, recs)
	b.Flows = fs
	return b
}

func flows(t *testing.T, st model.Store, q model.FlowQuery) []model.FlowHour {
	t.Helper()
	fs, err := st.Flows(t.Context(), q)
	must(t, fmt.Sprintf("Flows(%+v)", q), err)
	return fs
}

func pendingFlows(t *testing.T, st model.Store, limit int) []model.FlowHour {
	t.Helper()
	fs, err := st.PendingFlows(t.Context(), limit)
	must(t, fmt.Sprintf("PendingFlows(%d)", limit), err)
	return fs
}

// flowRows renders hourly flows as "HH agent src>dst proto/port zones
// packets/bytes process verdict" lines.
func flowRows(fs []model.FlowHour) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%02d %s %s>%s %s/%d %s>%s %d/%d %s %s", f.Hour.UTC().Hour(), f.AgentID, f.Src, f.Dst,
			f.Proto, f.DPort, f.SrcZone, f.DstZone, f.Packets, f.Bytes, f.Process, f.Verdict))
	}
	return out
}

func flowIDs(fs []model.FlowHour) []int64 {
	var ids []int64
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

func testTrafficIngest(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag", "pc-01")
	if fs := flows(t, st, model.FlowQuery{Limit: 10}); len(fs) != 0 {
		t.Errorf("Flows on an empty store = %q, want none", flowRows(fs))
	}
	m := func(n int) time.Time { return hour0.Add(time.Duration(n) * time.Minute) }
	toHelse := func(packets, bytes uint64, first, last time.Time) wire.Flow {
		return xflow("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", packets, bytes, first, last, wire.VerdictDenied, "curl")
	}
	intra := xflow("10.1.0.5", "10.1.0.6", wire.ProtoTCP, 22, "kontor", "kontor", 9, 900, m(1), m(1), wire.VerdictAllowed, "")
	r1 := interval(m(1), toHelse(10, 1000, m(1), m(1).Add(30*time.Second)), intra)
	r1.Zones = []wire.ZoneCount{{Zone: "kontor", Flows: 1, Packets: 9, Bytes: 900}}
	dns := xflow("10.1.0.5", "192.0.2.53", wire.ProtoUDP, 53, "kontor", "external", 2, 150, m(2), m(2), wire.VerdictAllowed, "")
	r2 := interval(m(2), toHelse(5, 500, m(2), m(2).Add(10*time.Second)), dns)
	b := flowsBatch(t, "ag", 1, r1, r2)
	// A record of another kind in the same batch adds no flows.
	b.Records = append(b.Records, records(10, 10, "x")...)
	res := ingest(t, st, b)
	if res.Inserted != 3 || res.Flows != 3 {
		t.Errorf("Ingest(2 flows records with 3 cross-zone flows, 1 other) = %+v, want Inserted 3, Flows 3", res)
	}
	want := []string{
		"09 ag 10.1.0.5>192.0.2.53 udp/53 kontor>external 2/150  allowed",
		"09 ag 10.1.0.5>10.20.0.9 tcp/443 kontor>helse 15/1500 curl denied",
	}
	got := flows(t, st, model.FlowQuery{Limit: 10})
	if rows := flowRows(got); !reflect.DeepEqual(rows, want) {
		t.Fatalf("Flows after one batch =\n%q\nwant\n%q", rows, want)
	}
	helse := got[1]
	wantRow := model.FlowHour{ID: helse.ID, Hour: hour0, AgentID: "ag", Hostname: "pc-01", Seq: 2, Src: "10.1.0.5", Dst: "10.20.0.9",
		Proto: wire.ProtoTCP, DPort: 443, SrcZone: "kontor", DstZone: "helse", Process: "curl", User: "kari",
		Packets: 15, Bytes: 1500, First: m(1), Last: m(2).Add(10 * time.Second), Verdict: wire.VerdictDenied}
	helse.Hour, helse.First, helse.Last = helse.Hour.UTC(), helse.First.UTC(), helse.Last.UTC()
	if !reflect.DeepEqual(helse, wantRow) {
		t.Errorf("hourly flow =\n%+v\nwant\n%+v", helse, wantRow)
	}

	// Resent: nothing changes.
	if res := ingest(t, st, b); res.Inserted != 0 || res.Flows != 0 {
		t.Errorf("Ingest(resent batch) = %+v, want Inserted 0, Flows 0", res)
	}
	if rows := flowRows(flows(t, st, model.FlowQuery{Limit: 10})); !reflect.DeepEqual(rows, want) {
		t.Errorf("Flows after a resend =\n%q\nwant\n%q", rows, want)
	}
	// Overlapping, into the next hour: only the new record counts, in a new
	// row of its own hour.
	r3 := interval(m(61), toHelse(1, 60, m(61), m(61)))
	if res := ingest(t, st, flowsBatch(t, "ag", 2, r2, r3)); res.Inserted != 1 || res.Flows != 1 {
		t.Errorf("Ingest(overlapping batch) = %+v, want Inserted 1, Flows 1", res)
	}
	want = append([]string{"10 ag 10.1.0.5>10.20.0.9 tcp/443 kontor>helse 1/60 curl denied"}, want...)
	if rows := flowRows(flows(t, st, model.FlowQuery{Limit: 10})); !reflect.DeepEqual(rows, want) {
		t.Errorf("Flows after an overlapping batch =\n%q\nwant\n%q", rows, want)
	}

	_, err := st.Flows(ctx, model.FlowQuery{})
	wantErr(t, "Flows without a limit", err, model.ErrInvalid)
	_, err = st.PendingFlows(ctx, 0)
	wantErr(t, "PendingFlows(0)", err, model.ErrInvalid)
}

func testTrafficQuery(t *testing.T, st model.Store) {
	createAgent(t, st, "a1", "pc-01")
	createAgent(t, st, "a2", "pc-02")
	m := func(n int) time.Time { return hour0.Add(time.Duration(n) * time.Minute) }
	ingest(t, st, flowsBatch(t, "a1", 1,
		interval(m(0),
			xflow("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", 10, 1000, m(0), m(0), wire.VerdictDenied, ""),
			xflow("10.1.0.5", "192.0.2.1", wire.ProtoTCP, 443, "kontor", "external", 4, 400, m(0), m(0), wire.VerdictAllowed, "")),
		interval(m(120),
			xflow("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", 1, 100, m(120), m(121), wire.VerdictDenied, ""))))
	ingest(t, st, flowsBatch(t, "a2", 1,
		interval(m(5),
			xflow("10.1.0.7", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", 3, 300, m(5), m(6), wire.VerdictAllowed, ""),
			xflow("10.20.0.9", "10.1.0.7", wire.ProtoUDP, 514, "helse", "kontor", 2, 200, m(5), m(5), wire.VerdictAllowed, ""))))

	for _, c := range []struct {
		q    model.FlowQuery
		want []string
	}{
		{model.FlowQuery{AgentID: "a2", Limit: 10}, []string{
			"09 a2 10.20.0.9>10.1.0.7 udp/514 helse>kontor 2/200  allowed",
			"09 a2 10.1.0.7>10.20.0.9 tcp/443 kontor>helse 3/300  allowed",
		}},
		{model.FlowQuery{Zone: "external", Limit: 10}, []string{"09 a1 10.1.0.5>192.0.2.1 tcp/443 kontor>external 4/400  allowed"}},
		{model.FlowQuery{Verdict: wire.VerdictDenied, Limit: 10}, []string{
			"11 a1 10.1.0.5>10.20.0.9 tcp/443 kontor>helse 1/100  denied",
			"09 a1 10.1.0.5>10.20.0.9 tcp/443 kontor>helse 10/1000  denied",
		}},
		{model.FlowQuery{From: hour0.Add(time.Hour), Limit: 10}, []string{"11 a1 10.1.0.5>10.20.0.9 tcp/443 kontor>helse 1/100  denied"}},
		{model.FlowQuery{AgentID: "a1", To: hour0.Add(time.Hour), Limit: 1}, []string{"09 a1 10.1.0.5>192.0.2.1 tcp/443 kontor>external 4/400  allowed"}},
		{model.FlowQuery{SrcZone: "helse", Limit: 10}, []string{"09 a2 10.20.0.9>10.1.0.7 udp/514 helse>kontor 2/200  allowed"}},
		{model.FlowQuery{SrcZone: "kontor", DstZone: "helse", AgentID: "a2", Limit: 10}, []string{"09 a2 10.1.0.7>10.20.0.9 tcp/443 kontor>helse 3/300  allowed"}},
		{model.FlowQuery{DstZone: "kontor", Zone: "external", Limit: 10}, nil},
		{model.FlowQuery{AgentID: "nobody", Limit: 10}, nil},
	} {
		if got := flowRows(flows(t, st, c.q)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Flows(%+v) =\n%q\nwant\n%q", c.q, got, c.want)
		}
	}

	pairs, err := st.ZoneMatrix(t.Context(), hour0, hour0.Add(time.Hour))
	must(t, "ZoneMatrix", err)
	var rows []string
	for _, p := range pairs {
		rows = append(rows, fmt.Sprintf("%s>%s flows=%d hosts=%d %d/%d denied=%d %s..%s", p.From, p.To, p.Flows, p.Hosts,
			p.Packets, p.Bytes, p.Denied, p.First.UTC().Format("15:04"), p.Last.UTC().Format("15:04")))
	}
	want := []string{
		"helse>kontor flows=1 hosts=1 2/200 denied=0 09:05..09:05",
		"kontor>external flows=1 hosts=1 4/400 denied=0 09:00..09:00",
		"kontor>helse flows=2 hosts=2 13/1300 denied=1 09:00..09:06",
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("ZoneMatrix(first hour) =\n%q\nwant\n%q", rows, want)
	}
	pairs, err = st.ZoneMatrix(t.Context(), time.Time{}, time.Time{})
	must(t, "ZoneMatrix(no bounds)", err)
	if len(pairs) != 3 || pairs[2].Packets != 14 || pairs[2].Flows != 2 {
		t.Errorf("ZoneMatrix(no bounds) = %+v, want 3 pairs, kontor>helse with 14 packets over 2 flows", pairs)
	}
}

func testTrafficJudged(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc-01")
	m := func(n int) time.Time { return hour0.Add(time.Duration(n) * time.Minute) }
	f1 := xflow("10.1.0.5", "10.20.0.9", wire.ProtoTCP, 443, "kontor", "helse", 10, 1000, m(0), m(0), wire.VerdictDenied, "")
	f2 := xflow("10.1.0.5", "192.0.2.1", wire.ProtoTCP, 443, "kontor", "external", 4, 400, m(0), m(0), wire.VerdictAllowed, "")
	f3 := xflow("10.1.0.5", "192.0.2.2", wire.ProtoTCP, 80, "kontor", "external", 4, 400, m(0), m(0), wire.VerdictAllowed, "")
	ingest(t, st, flowsBatch(t, "ag", 1, interval(m(0), f1, f2, f3)))
	// A media event beside them: judging flows leaves it pending.
	ingest(t, st, mediaBatch(t, "ag", 2, mediaEvent(wire.MediaAdd, stick(1))))

	fs := pendingFlows(t, st, 10)
	if len(fs) != 3 || fs[0].ID >= fs[1].ID || fs[1].ID >= fs[2].ID {
		t.Fatalf("PendingFlows = %q (ids %v), want 3, oldest first", flowRows(fs), flowIDs(fs))
	}
	if got := pendingFlows(t, st, 2); !reflect.DeepEqual(flowIDs(got), flowIDs(fs[:2])) {
		t.Errorf("PendingFlows(2) = %v, want %v", flowIDs(got), flowIDs(fs[:2]))
	}
	// A refused call marks nothing.
	_, err := st.RecordFindings(t.Context(), []model.NewDeviation{{Finding: model.Finding{Rule: "x", Severity: model.SeverityLow}}},
		model.Judged{Flows: flowIDs(fs)}, at(time.Hour))
	wantErr(t, "RecordFindings(finding without subject)", err, model.ErrInvalid)
	if got := pendingFlows(t, st, 10); len(got) != 3 {
		t.Errorf("PendingFlows after a refused call = %q, want all 3", flowRows(got))
	}

	nd := finding(1, "ag", 1, m(0))
	nd.Rule, nd.Subject = "cross-zone-flow", "flow:ag:kontor>helse:tcp/443"
	res := recordFindings(t, st, []model.NewDeviation{nd}, nil, at(time.Hour))
	// recordFindings marks media only; mark the first two flows now.
	_, err = st.RecordFindings(t.Context(), nil, model.Judged{Flows: flowIDs(fs[:2])}, at(time.Hour))
	must(t, "RecordFindings(no findings, two flows judged)", err)
	if got := pendingFlows(t, st, 10); !reflect.DeepEqual(flowIDs(got), []int64{fs[2].ID}) {
		t.Errorf("PendingFlows after judging two = %v, want [%d]", flowIDs(got), fs[2].ID)
	}
	if got := pending(t, st, 10); len(got) != 1 {
		t.Errorf("PendingMedia after judging flows = %q, want the one event", mediaRows(got))
	}
	for _, f := range flows(t, st, model.FlowQuery{Limit: 10}) {
		if want := f.ID != fs[2].ID; f.Evaluated != want {
			t.Errorf("hourly flow %d: Evaluated %v, want %v", f.ID, f.Evaluated, want)
		}
	}
	if d, _ := getDeviation(t, st, res[0].ID); d.Subject != nd.Subject {
		t.Errorf("deviation %s: subject %q, want %q", res[0].ID, d.Subject, nd.Subject)
	}

	// Counts that grow after judging do not make a row pending again.
	ingest(t, st, flowsBatch(t, "ag", 3, interval(m(1), f1)))
	if got := pendingFlows(t, st, 10); !reflect.DeepEqual(flowIDs(got), []int64{fs[2].ID}) {
		t.Errorf("PendingFlows after a judged row grew = %v, want [%d]", flowIDs(got), fs[2].ID)
	}
	// Media and flows in one call; unknown ids and marking twice are harmless.
	evs := pending(t, st, 10)
	_, err = st.RecordFindings(t.Context(), nil, model.Judged{Media: mediaIDs(evs), Flows: []int64{fs[2].ID, fs[0].ID, 999999}}, at(2*time.Hour))
	must(t, "RecordFindings(media and flows judged)", err)
	if got, gotMedia := pendingFlows(t, st, 10), pending(t, st, 10); len(got) != 0 || len(gotMedia) != 0 {
		t.Errorf("pending after judging all = flows %q, media %q; want none", flowRows(got), mediaRows(gotMedia))
	}
}

// neighbourRows renders devices as "mac ips name vendor seen_by agents
// first-last" lines.
func neighbourRows(ns []model.Neighbour) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s %v %q %q %v %v %d-%d", n.MAC, n.IPs, n.Name, n.Vendor, n.SeenBy, n.SeenByAgents, n.First, n.Last))
	}
	return out
}

func neighboursBatch(t *testing.T, agentID string, seq uint64, devs ...wire.Neighbour) model.IngestBatch {
	t.Helper()
	body := wire.Neighbours{Source: "capture:eth0", Devices: devs}
	r, err := wire.NewRecord(wire.KindNeighbours, at(time.Duration(seq)*time.Second), body)
	must(t, "wire.NewRecord", err)
	r.Seq = seq
	b := batch(agentID, []wire.Record{r})
	b.Neighbours = []model.NeighbourRecord{{Seq: seq, At: at(time.Duration(seq) * time.Second), Neighbours: body}}
	return b
}

func testTrafficNeighbours(t *testing.T, st model.Store) {
	createAgent(t, st, "a1", "pc-01")
	createAgent(t, st, "a2", "pc-02")
	ns, err := st.Neighbours(t.Context())
	must(t, "Neighbours", err)
	if len(ns) != 0 {
		t.Errorf("Neighbours on an empty store = %q, want none", neighbourRows(ns))
	}
	printer := wire.Neighbour{MAC: "00:1B:A9:01:02:03", IPs: []string{"10.1.0.50"}, Vendor: "Brother", SeenBy: []string{wire.ViaARP}, First: 100, Last: 200}
	phone := wire.Neighbour{MAC: "3c:22:fb:00:00:01", IPs: []string{"fe80::1"}, SeenBy: []string{wire.ViaNDP}, First: 150, Last: 150}
	ingest(t, st, neighboursBatch(t, "a1", 1, printer, phone))

	// The printer again, from another agent, renamed by DHCP with a new
	// address; and an older sighting whose name must not win.
	later := wire.Neighbour{MAC: "00:1b:a9:01:02:03", IPs: []string{"10.1.0.51", "10.1.0.50"}, Name: "printer-2", SeenBy: []string{wire.ViaDHCP},
		First: 300, Last: 400}
	older := wire.Neighbour{MAC: "00:1b:a9:01:02:03", Name: "old-name", Vendor: "Other", SeenBy: []string{wire.ViaARP}, First: 50, Last: 60}
	b := neighboursBatch(t, "a2", 1, later, older, wire.Neighbour{MAC: ""})
	ingest(t, st, b)
	// Resent: nothing changes.
	ingest(t, st, b)

	ns, err = st.Neighbours(t.Context())
	must(t, "Neighbours", err)
	want := []string{
		`00:1b:a9:01:02:03 [10.1.0.50 10.1.0.51] "printer-2" "Brother" [arp dhcp] [a1 a2] 50-400`,
		`3c:22:fb:00:00:01 [fe80::1] "" "" [ndp] [a1] 150-150`,
	}
	if got := neighbourRows(ns); !reflect.DeepEqual(got, want) {
		t.Errorf("Neighbours =\n%q\nwant\n%q", got, want)
	}
}
