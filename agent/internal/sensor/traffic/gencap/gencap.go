// Package gencap writes synthetic packet captures for the traffic sensor's
// benchmarks: a classic pcap of Ethernet frames holding TCP, UDP and ICMP
// flows between the zones of ZonesYAML, generated deterministically from a
// seed. It owns nothing the agent runs; it is a test and benchmark tool.
package gencap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Snaplen is the capture length of every record: frames are longer on the
// wire (up to 1514 bytes, kept as the original length) but only their first
// Snaplen bytes, the headers, are written.
const Snaplen = 128

// Start is the timestamp of the first packet.
var Start = time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)

// Gap is the time between two consecutive packets: 2 million packets span
// 20 seconds, well inside any idle timeout.
const Gap = 10 * time.Microsecond

// Options is what Write generates.
type Options struct {
	// Packets is the number of records written.
	Packets int
	// Flows is the number of flows (distinct 5-tuples) the packets belong
	// to; every flow has at least one packet, so at most Packets flows
	// are made. The packets of all flows are shuffled together, so the
	// flows are live at once across the file.
	Flows int
	// Seed makes the capture: the same Options give the same bytes.
	Seed int64
	// IPv6Share is the fraction of flows over IPv6 (0 to 1).
	IPv6Share float64
	// VLANShare is the fraction of flows carried in an 802.1Q tag (a
	// quarter of them in an 802.1ad tag around it) (0 to 1).
	VLANShare float64
	// Zones are the prefixes flow ends are drawn from: each end picks one
	// prefix of its family at random, then a host inside it. Nil means
	// DefaultZones.
	Zones []netip.Prefix
}

// Stats is what Write wrote.
type Stats struct {
	// Packets and Flows are the records and the flows written.
	Packets, Flows int
	// TCP, UDP and ICMP count the flows by protocol; IPv6 and VLAN count
	// the flows over IPv6 and in a VLAN tag.
	TCP, UDP, ICMP, IPv6, VLAN int
	// WireBytes is the sum of the frames' original lengths; FileBytes is
	// the size of the capture written.
	WireBytes, FileBytes int64
}

// DefaultZones are the prefixes of ZonesYAML's zones, IPv4 and IPv6, and
// two unlisted (external) prefixes: the benchmarking block 198.18.0.0/15 and
// the documentation block 2001:db8::/32.
func DefaultZones() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("192.168.0.0/16"), // intern
		netip.MustParsePrefix("10.9.0.0/16"),    // helse
		netip.MustParsePrefix("10.20.0.0/16"),   // skole
		netip.MustParsePrefix("198.18.0.0/15"),  // external
		netip.MustParsePrefix("fd00:1::/48"),    // intern
		netip.MustParsePrefix("fd00:9::/48"),    // helse
		netip.MustParsePrefix("fd00:20::/48"),   // skole
		netip.MustParsePrefix("2001:db8::/32"),  // external
	}
}

// Well-known destination ports the flows use.
var (
	tcpPorts = []uint16{443, 443, 443, 80, 22, 445, 3389, 8080, 5432, 1433, 389, 636}
	udpPorts = []uint16{53, 53, 123, 161, 514, 5060, 1812, 443}
)

// flow is one generated flow; the client is the side that opens it.
type flow struct {
	client, server [16]byte
	v6             bool
	proto          uint8
	qinq           bool
	vlan           uint16
	sport, dport   uint16
	n, pos         uint32 // packets in all, packets written
	cseq, sseq     uint32
}

// Write writes a pcap capture of opts.Packets records to w and returns what
// it wrote. The capture is Ethernet, snaplen Snaplen, with microsecond
// timestamps from Start, one Gap apart.
func Write(w io.Writer, opts Options) (Stats, error) {
	if opts.Packets < 0 || opts.Flows < 0 {
		return Stats{}, fmt.Errorf("generate capture: negative packets (%d) or flows (%d)", opts.Packets, opts.Flows)
	}
	if opts.Packets > 0 && opts.Flows == 0 {
		return Stats{}, errors.New("generate capture: packets need at least one flow")
	}
	if opts.Packets > math.MaxInt32 {
		return Stats{}, fmt.Errorf("generate capture: %d packets is more than %d", opts.Packets, math.MaxInt32)
	}
	zones := opts.Zones
	if zones == nil {
		zones = DefaultZones()
	}
	var v4, v6 []netip.Prefix
	for _, p := range zones {
		if p.Addr().Is4() {
			v4 = append(v4, p.Masked())
		} else {
			v6 = append(v6, p.Masked())
		}
	}
	if opts.Packets > 0 && len(v4) == 0 && len(v6) == 0 {
		return Stats{}, errors.New("generate capture: no zone prefixes")
	}

	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15))
	nflows := min(opts.Flows, opts.Packets)
	flows := make([]flow, nflows)
	var st Stats
	st.Flows = nflows
	for i := range flows {
		f := &flows[i]
		f.v6 = len(v4) == 0 || (len(v6) > 0 && rng.Float64() < opts.IPv6Share)
		pick := v4
		if f.v6 {
			pick = v6
			st.IPv6++
		}
		f.client = randomHost(rng, pick[rng.IntN(len(pick))])
		f.server = randomHost(rng, pick[rng.IntN(len(pick))])
		f.sport = uint16(32768 + rng.IntN(28232))
		switch r := rng.IntN(100); {
		case r < 70:
			f.proto = 6
			f.dport = tcpPorts[rng.IntN(len(tcpPorts))]
			f.cseq, f.sseq = rng.Uint32(), rng.Uint32()
			st.TCP++
		case r < 95:
			f.proto = 17
			f.dport = udpPorts[rng.IntN(len(udpPorts))]
			st.UDP++
		default:
			f.proto = 1 // ICMPv6 (58) for IPv6 flows; sport is the echo identifier
			st.ICMP++
		}
		if rng.Float64() < opts.VLANShare {
			f.vlan = uint16(1 + rng.IntN(4094))
			f.qinq = rng.IntN(4) == 0
			st.VLAN++
		}
	}

	// Every flow gets one packet, the rest are shared out by exponential
	// weights (mean 1), so flow sizes vary as they do on a network.
	if nflows > 0 {
		weights := make([]float64, nflows)
		var sum float64
		for i := range weights {
			weights[i] = rng.ExpFloat64()
			sum += weights[i]
		}
		rest := opts.Packets - nflows
		given := 0
		for i := range flows {
			extra := int(float64(rest) * weights[i] / sum)
			flows[i].n = uint32(1 + extra)
			given += extra
		}
		for i := 0; given < rest; i = (i + 1) % nflows {
			flows[i].n++
			given++
		}
	}
	// The order of packets: each flow's index as often as it has packets,
	// shuffled.
	order := make([]int32, 0, opts.Packets)
	for i := range flows {
		for range flows[i].n {
			order = append(order, int32(i))
		}
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })

	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		return st, fmt.Errorf("write pcap header: %w", err)
	}
	buf := make([]byte, 0, 1600)
	at := Start
	for _, fi := range order {
		f := &flows[fi]
		frame, wire := f.next(rng, buf[:0])
		f.pos++
		ci := gopacket.CaptureInfo{Timestamp: at, CaptureLength: min(len(frame), Snaplen), Length: wire}
		if err := pw.WritePacket(ci, frame[:ci.CaptureLength]); err != nil {
			return st, fmt.Errorf("write packet %d: %w", st.Packets+1, err)
		}
		st.Packets++
		st.WireBytes += int64(wire)
		at = at.Add(Gap)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write capture: %w", err)
	}
	st.FileBytes = cw.n
	return st, nil
}

// randomHost returns an address inside p other than its first and last.
func randomHost(rng *rand.Rand, p netip.Prefix) [16]byte {
	a := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], rng.Uint64())
		binary.BigEndian.PutUint64(b[8:], rng.Uint64())
		out := a
		for i := range out {
			// Bits of byte i at or past the prefix length come from b.
			keep := min(max(bits-8*i, 0), 8)
			mask := byte(0xff << (8 - keep))
			out[i] = a[i]&mask | b[i]&^mask
		}
		if out != a && !allOnes(out, bits) {
			return out
		}
	}
}

// allOnes reports whether every host bit past bits is set.
func allOnes(a [16]byte, bits int) bool {
	for i := range a {
		keep := min(max(bits-8*i, 0), 8)
		host := byte(0xff >> keep)
		if a[i]&host != host {
			return false
		}
	}
	return true
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
