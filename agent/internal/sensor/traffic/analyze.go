package traffic

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sonevakt/sonevakt/pkg/wire"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

// ErrNotCapture is returned by Analyze for input that is neither pcap nor
// pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// VerdictIntraZone is the verdict Analyze gives a flow whose ends are in one
// zone: the firewall map does not judge it.
const VerdictIntraZone = "intra-zone"

// AnalyzeOptions is how Analyze reads a capture.
type AnalyzeOptions struct {
	// Zones classifies flow ends and judges cross-zone flows; nil means
	// no zones (every address "external", verdicts VerdictNoMap).
	Zones *zone.Map
	// Discover, when set, is called with every decoded packet (the CLI
	// passes Discoverer.Observe). The Packet is valid during the call only.
	Discover func(*Packet)
	// MaxFlows bounds the flow table (1 << 20 when 0).
	MaxFlows int
}

// Report is what Analyze found in a capture: the `traffic --pcap --json`
// object.
type Report struct {
	// Packets are the records read.
	Packets uint64 `json:"packets"`
	// Skipped are records read but not counted in a flow, and damaged
	// records, by reason.
	Skipped map[string]uint64 `json:"skipped"`
	// Flows are all flows, inside a zone or crossing zones, in order of
	// source, destination, protocol and ports.
	Flows []ReportFlow `json:"flows"`
	// ZoneMatrix counts flows by (from, to) zone pair, from being the
	// zone of the side that opened them.
	ZoneMatrix []ZoneCell `json:"zone_matrix"`
	// Devices are the devices discovered; Analyze leaves them empty for
	// the caller that owns the discoverer.
	Devices []wire.Neighbour `json:"devices"`
	// Evicted are flows dropped because the table was full (then the
	// counts are incomplete).
	Evicted uint64 `json:"evicted,omitempty"`
	// First and Last are the times of the first and last packets, Unix
	// nanoseconds.
	First int64 `json:"first,omitempty"`
	Last  int64 `json:"last,omitempty"`
}

// ReportFlow is one flow of a Report, oriented from the side that opened it.
type ReportFlow struct {
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Proto   string `json:"proto"`
	SPort   uint16 `json:"sport"`
	DPort   uint16 `json:"dport"` // ICMP: type<<8 | code of the request
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"` // IP length, both directions
	// RevPackets are the packets from Dst to Src.
	RevPackets uint64 `json:"rev_packets"`
	SrcZone    string `json:"src_zone"`
	DstZone    string `json:"dst_zone"`
	CrossZone  bool   `json:"cross_zone"`
	// Verdict is wire.VerdictAllowed or wire.VerdictDenied for a flow
	// between zones, VerdictIntraZone inside one, wire.VerdictNoMap without
	// zones.
	Verdict string `json:"verdict"`
	Rule    string `json:"rule,omitempty"`
	VLAN    uint16 `json:"vlan,omitempty"`
}

// ZoneCell is the traffic from one zone to another (or inside one).
type ZoneCell struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Flows   uint64 `json:"flows"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Denied are the flows the firewall map does not allow.
	Denied uint64 `json:"denied"`
}

// packetSource is what Analyze needs of pcapgo's two readers.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Analyze reads a pcap or pcapng capture (pcap possibly gzipped) and
// returns its flows, classified and judged by opts.Zones. Every interface of
// a pcapng is read with its own link type. Records of unsupported link
// types and frames the decoder cannot use are counted in Skipped by reason;
// a damaged record ends the reading (the rest of the file cannot be framed)
// and is counted as "damaged record" or "truncated record". Analyze fails
// only when r does not hold a capture at all (ErrNotCapture) or cannot be
// read.
func Analyze(r io.Reader, opts AnalyzeOptions) (*Report, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("read capture: %w", err)
	case len(magic) == 0:
		return nil, fmt.Errorf("empty input: %w", ErrNotCapture)
	}
	var src packetSource
	mixed := false
	var link layers.LinkType
	switch {
	case len(magic) == 4 && binary.LittleEndian.Uint32(magic) == 0x0a0d0d0a:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("read pcapng header: %w", err)
		}
		src, mixed = ng, true
	case len(magic) == 4 && isPcapMagic(binary.LittleEndian.Uint32(magic)):
		// The buffered bytes move to the pcap reader, which reads the
		// rest itself.
		head, _ := br.Peek(br.Buffered())
		pr, err := newPcapReader(head, r, pcapBufferSize)
		if err != nil {
			return nil, fmt.Errorf("read pcap header: %w", err)
		}
		src, link = pr, pr.LinkType()
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read pcap header: %w", err)
		}
		src, link = pr, pr.LinkType()
	default:
		return nil, fmt.Errorf("%w (it starts with %x)", ErrNotCapture, magic)
	}

	maxFlows := opts.MaxFlows
	if maxFlows <= 0 {
		maxFlows = 1 << 20
	}
	a := &analysis{
		src: src, mixed: mixed, link: link, opts: opts,
		table: NewTable(TableConfig{MaxFlows: maxFlows, Zones: opts.Zones, AllFlows: true}),
		dec:   NewDecoder(),
		rep:   &Report{Skipped: map[string]uint64{}},
		batch: make([]Packet, addBatchMax),
	}
	damage := a.scan()
	a.flush()
	if damage != "" {
		a.rep.Skipped[damage]++
	}
	rep := a.rep
	if !a.first.IsZero() {
		rep.First, rep.Last = a.first.UnixNano(), a.last.UnixNano()
	}
	rep.Flows = make([]ReportFlow, 0, a.table.Len())
	fl := a.table.report(a.last, "pcap", func(f *wire.Flow) { rep.add(f, opts.Zones) })
	rep.Evicted = fl.Stats.Evicted
	rep.matrix()
	return rep, nil
}

// analysis is the state of one Analyze.
type analysis struct {
	src         packetSource
	mixed       bool            // pcapng: each record has its interface's link type
	link        layers.LinkType // pcap: the file's link type
	opts        AnalyzeOptions
	table       *Table
	dec         *Decoder
	rep         *Report
	first, last time.Time
	// batch[:n] are packets for the table, added together by flush.
	batch []Packet
	n     int
}

// flush adds the batched packets to the table.
func (a *analysis) flush() {
	a.table.AddBatch(a.batch[:a.n])
	a.n = 0
}

// scan reads every record into the table. It returns "" at the end of the
// capture, or the reason of the damage that ended it: "truncated record",
// or "damaged record" for a record the reader refused or panicked on.
func (a *analysis) scan() (damage string) {
	reading := false
	defer func() {
		// Only the reader's panics are damage; others are bugs.
		if reading {
			if r := recover(); r != nil {
				damage = "damaged record"
			}
		}
	}()
	for {
		reading = true
		data, ci, err := a.src.ZeroCopyReadPacketData()
		reading = false
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				return ""
			case errors.Is(err, io.ErrUnexpectedEOF):
				return "truncated record"
			}
			return "damaged record"
		}
		a.rep.Packets++
		if a.first.IsZero() || ci.Timestamp.Before(a.first) {
			a.first = ci.Timestamp
		}
		if ci.Timestamp.After(a.last) {
			a.last = ci.Timestamp
		}
		lt := a.link
		if a.mixed {
			lt = recordLinkType(ci)
		}
		// Decoded in place into the batch: it is taken when it holds
		// an IP packet.
		p := &a.batch[a.n]
		if skip := a.dec.Decode(lt, data, ci, p); skip != "" {
			a.rep.Skipped[skip]++
			continue
		}
		if a.opts.Discover != nil {
			a.opts.Discover(p)
		}
		if p.Src.IsValid() {
			p.Payload = nil // it aliases the reader's buffer
			if a.n++; a.n == len(a.batch) {
				a.flush()
			}
		}
	}
}

func isPcapMagic(m uint32) bool {
	switch m {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return true
	}
	return false
}

// recordLinkType is the link type of a pcapng record, as the reader puts
// it in the ancillary data.
func recordLinkType(ci gopacket.CaptureInfo) layers.LinkType {
	if len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			return lt
		}
	}
	return layers.LinkType(0xffff) // unknown: skipped as "link type 65535"
}

// add appends a flow from the table's report.
func (r *Report) add(f *wire.Flow, zones *zone.Map) {
	rf := ReportFlow{
		Src: f.Src, Dst: f.Dst, Proto: f.Proto, SPort: f.SPort, DPort: f.DPort,
		Packets: f.Packets, Bytes: f.Bytes, RevPackets: f.RevPackets,
		SrcZone: f.SrcZone, DstZone: f.DstZone, CrossZone: f.SrcZone != f.DstZone,
		Verdict: f.Verdict, Rule: f.Rule, VLAN: f.VLAN,
	}
	if !rf.CrossZone && zones != nil {
		rf.Verdict, rf.Rule = VerdictIntraZone, ""
	}
	r.Flows = append(r.Flows, rf)
}

// matrix sets the zone matrix and the devices of r from its flows.
func (r *Report) matrix() {
	r.Devices = []wire.Neighbour{}
	type pair struct{ from, to string }
	cells := map[pair]*ZoneCell{}
	for _, f := range r.Flows {
		c := cells[pair{f.SrcZone, f.DstZone}]
		if c == nil {
			c = &ZoneCell{From: f.SrcZone, To: f.DstZone}
			cells[pair{f.SrcZone, f.DstZone}] = c
		}
		c.Flows++
		c.Packets += f.Packets
		c.Bytes += f.Bytes
		if f.Verdict == wire.VerdictDenied {
			c.Denied++
		}
	}
	r.ZoneMatrix = make([]ZoneCell, 0, len(cells))
	for _, c := range cells {
		r.ZoneMatrix = append(r.ZoneMatrix, *c)
	}
	slices.SortFunc(r.ZoneMatrix, func(a, b ZoneCell) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
}

// WriteJSON writes r as one JSON object and a newline, byte for byte what
// a json.Encoder with SetIndent("", "  ") writes, several times faster on
// a report of many flows: the flows are written without reflection.
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	b := make([]byte, 0, 4096)
	b = append(b, "{\n  \"packets\": "...)
	b = strconv.AppendUint(b, r.Packets, 10)
	b, err := appendIndented(b, ",\n  \"skipped\": ", r.Skipped)
	if err != nil {
		return err
	}
	b = append(b, ",\n  \"flows\": "...)
	switch {
	case r.Flows == nil:
		b = append(b, "null"...)
	case len(r.Flows) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, '[')
		for i := range r.Flows {
			if i > 0 {
				b = append(b, ',')
			}
			b = r.Flows[i].appendJSON(b)
			if len(b) > 1<<15 {
				if _, err := bw.Write(b); err != nil {
					return err
				}
				b = b[:0]
			}
		}
		b = append(b, "\n  ]"...)
	}
	if b, err = appendIndented(b, ",\n  \"zone_matrix\": ", r.ZoneMatrix); err != nil {
		return err
	}
	if b, err = appendIndented(b, ",\n  \"devices\": ", r.Devices); err != nil {
		return err
	}
	if r.Evicted != 0 {
		b = strconv.AppendUint(append(b, ",\n  \"evicted\": "...), r.Evicted, 10)
	}
	if r.First != 0 {
		b = strconv.AppendInt(append(b, ",\n  \"first\": "...), r.First, 10)
	}
	if r.Last != 0 {
		b = strconv.AppendInt(append(b, ",\n  \"last\": "...), r.Last, 10)
	}
	b = append(b, "\n}\n"...)
	if _, err := bw.Write(b); err != nil {
		return err
	}
	return bw.Flush()
}

// appendIndented appends key and v as encoding/json indents a value two
// spaces deep.
func appendIndented(b []byte, key string, v any) ([]byte, error) {
	j, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return b, fmt.Errorf("encode report: %w", err)
	}
	return append(append(b, key...), j...), nil
}

// appendJSON appends f as an element of the report's flows array.
func (f *ReportFlow) appendJSON(b []byte) []byte {
	b = append(b, "\n    {\n      \"src\": "...)
	b = appendJSONString(b, f.Src)
	b = append(b, ",\n      \"dst\": "...)
	b = appendJSONString(b, f.Dst)
	b = append(b, ",\n      \"proto\": "...)
	b = appendJSONString(b, f.Proto)
	b = append(b, ",\n      \"sport\": "...)
	b = strconv.AppendUint(b, uint64(f.SPort), 10)
	b = append(b, ",\n      \"dport\": "...)
	b = strconv.AppendUint(b, uint64(f.DPort), 10)
	b = append(b, ",\n      \"packets\": "...)
	b = strconv.AppendUint(b, f.Packets, 10)
	b = append(b, ",\n      \"bytes\": "...)
	b = strconv.AppendUint(b, f.Bytes, 10)
	b = append(b, ",\n      \"rev_packets\": "...)
	b = strconv.AppendUint(b, f.RevPackets, 10)
	b = append(b, ",\n      \"src_zone\": "...)
	b = appendJSONString(b, f.SrcZone)
	b = append(b, ",\n      \"dst_zone\": "...)
	b = appendJSONString(b, f.DstZone)
	b = append(b, ",\n      \"cross_zone\": "...)
	b = strconv.AppendBool(b, f.CrossZone)
	b = append(b, ",\n      \"verdict\": "...)
	b = appendJSONString(b, f.Verdict)
	if f.Rule != "" {
		b = append(b, ",\n      \"rule\": "...)
		b = appendJSONString(b, f.Rule)
	}
	if f.VLAN != 0 {
		b = append(b, ",\n      \"vlan\": "...)
		b = strconv.AppendUint(b, uint64(f.VLAN), 10)
	}
	return append(b, "\n    }"...)
}

// appendJSONString appends s quoted as encoding/json quotes it: printable
// ASCII without quote, backslash and HTML's <, > and & as it is, anything
// else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			j, _ := json.Marshal(s) // a string always encodes
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
