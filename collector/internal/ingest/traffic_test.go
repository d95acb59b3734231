package ingest

import (
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TestFlowsAndNeighbours sends flows and neighbours records over QUIC and
// finds them decoded into the hourly flows and the devices seen; a body that
// does not decode is stored raw and projected nowhere.
func TestFlowsAndNeighbours(t *testing.T) {
	h := newHarness(t)
	c := h.dial(h.agentTLS("agent1"))
	start := time.Date(2026, 3, 2, 9, 10, 0, 0, time.UTC)
	flows := wire.Flows{Start: start.UnixNano(), End: start.Add(time.Minute).UnixNano(), Source: "capture:eth0",
		Flows: []wire.Flow{
			{Proto: wire.ProtoTCP, Src: "10.1.0.5", Dst: "10.20.0.9", SPort: 50123, DPort: 443, SrcZone: "kontor", DstZone: "helse",
				Packets: 12, Bytes: 3400, First: start.UnixNano(), Last: start.Add(time.Second).UnixNano(), Verdict: wire.VerdictDenied,
				Process: &wire.FlowProcess{PID: 77, Name: "curl", User: "kari"}},
			{Proto: wire.ProtoUDP, Src: "10.1.0.5", Dst: "10.1.0.1", DPort: 53, SrcZone: "kontor", DstZone: "kontor", Packets: 2, Bytes: 150},
		},
		Zones: []wire.ZoneCount{{Zone: "kontor", Flows: 1, Packets: 2, Bytes: 150}}}
	rf, err := wire.NewRecord(wire.KindFlows, start.Add(time.Minute), flows)
	if err != nil {
		t.Fatal(err)
	}
	rf.Seq = 1
	nb := wire.Neighbours{Source: "capture:eth0", Devices: []wire.Neighbour{
		{MAC: "00:1b:a9:01:02:03", IPs: []string{"10.1.0.50"}, Name: "printer", SeenBy: []string{wire.ViaDHCP}, First: 1, Last: 2}}}
	rn, err := wire.NewRecord(wire.KindNeighbours, start.Add(time.Minute), nb)
	if err != nil {
		t.Fatal(err)
	}
	rn.Seq = 2
	junk := wire.Record{Seq: 3, Kind: wire.KindFlows, ObservedAt: start.UnixNano(), Body: []byte{0xa1, 0x01}}
	junkN := wire.Record{Seq: 4, Kind: wire.KindNeighbours, ObservedAt: start.UnixNano(), Body: []byte{0xff}}

	var ack wire.Ack
	if err := exchange(c, wire.FrameBatch, wire.Batch{Records: []wire.Record{rf, rn, junk, junkN}}, wire.FrameAck, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.MaxSeq != 4 || ack.Stored != 4 {
		t.Errorf("ack = %+v, want MaxSeq 4, Stored 4 (undecodable bodies kept raw)", ack)
	}
	ctx := t.Context()
	fs, err := h.st.Flows(ctx, model.FlowQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Dst != "10.20.0.9" || fs[0].Process != "curl" || fs[0].Packets != 12 ||
		!fs[0].Hour.Equal(start.Truncate(time.Hour)) || fs[0].Seq != 1 {
		t.Errorf("Flows = %+v, want the one cross-zone flow of record 1", fs)
	}
	ns, err := h.st.Neighbours(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Name != "printer" || len(ns[0].SeenByAgents) != 1 || ns[0].SeenByAgents[0] != "agent1" {
		t.Errorf("Neighbours = %+v, want the printer seen by agent1", ns)
	}
	recs, err := h.st.Records(ctx, "agent1", 0, 10)
	if err != nil || len(recs) != 4 {
		t.Errorf("Records = %d, %v; want all 4 stored", len(recs), err)
	}
}
