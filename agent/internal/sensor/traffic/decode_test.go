package traffic

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var (
	decMAC1 = net.HardwareAddr{0x00, 0x0c, 0x29, 0x01, 0x02, 0x03}
	decMAC2 = net.HardwareAddr{0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}
	decT0   = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
)

// decSerialize builds a frame from layers, fixing lengths and checksums.
func decSerialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	for _, l := range ls {
		var nl gopacket.NetworkLayer
		for _, m := range ls {
			if n, ok := m.(gopacket.NetworkLayer); ok {
				nl = n
			}
		}
		switch l := l.(type) {
		case *layers.TCP:
			_ = l.SetNetworkLayerForChecksum(nl)
		case *layers.UDP:
			_ = l.SetNetworkLayerForChecksum(nl)
		case *layers.ICMPv6:
			_ = l.SetNetworkLayerForChecksum(nl)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

func decEth(typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: decMAC1, DstMAC: decMAC2, EthernetType: typ}
}

func decIPv4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func decIPv6(src, dst string, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

func decTCP(sport, dport uint16, syn, ack bool) *layers.TCP {
	return &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: syn, ACK: ack, DataOffset: 5, Window: 1000}
}

func decUDP(sport, dport uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
}

// decTCPFrame is an Ethernet/IPv4/TCP SYN with 100 bytes of payload.
func decTCPFrame(t testing.TB) []byte {
	return decSerialize(t, decEth(layers.EthernetTypeIPv4), decIPv4("10.200.1.18", "10.50.1.54", layers.IPProtocolTCP),
		decTCP(40000, 443, true, false), gopacket.Payload(make([]byte, 100)))
}

// decVLANFrame is an 802.1Q-tagged Ethernet/IPv6/UDP datagram.
func decVLANFrame(t testing.TB) []byte {
	return decSerialize(t, decEth(layers.EthernetTypeDot1Q),
		&layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv6},
		decIPv6("fd00:1::5", "2001:db8::53", layers.IPProtocolUDP), decUDP(53000, 53), gopacket.Payload(make([]byte, 40)))
}

// decSLL is a Linux cooked header before an IPv4 packet.
func decSLL(addrLen uint16, payload []byte) []byte {
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], 4) // sent by us
	binary.BigEndian.PutUint16(h[2:], 1) // Ethernet
	binary.BigEndian.PutUint16(h[4:], addrLen)
	copy(h[6:14], decMAC1)
	binary.BigEndian.PutUint16(h[14:], 0x0800)
	return append(h, payload...)
}

// decSLL2 is a Linux cooked v2 header before a packet of the EtherType.
func decSLL2(etherType uint16, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], etherType)
	binary.BigEndian.PutUint32(h[4:], 2)
	binary.BigEndian.PutUint16(h[8:], 1)
	h[10] = 0
	h[11] = 6
	copy(h[12:], decMAC2)
	return append(h, payload...)
}

func decNull(family uint32, payload []byte) []byte {
	h := make([]byte, 4)
	binary.LittleEndian.PutUint32(h, family)
	return append(h, payload...)
}

// decIPv4Frag is an IPv4 fragment of a UDP datagram: offset in 8-byte units.
func decIPv4Frag(t testing.TB, offset uint16, more bool, payload []byte) []byte {
	ip := decIPv4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	ip.FragOffset = offset
	if more {
		ip.Flags = layers.IPv4MoreFragments
	}
	return decSerialize(t, decEth(layers.EthernetTypeIPv4), ip, gopacket.Payload(payload))
}

func decIPv6Frag(t testing.TB, offset uint16, more bool, payload []byte) []byte {
	ip := decIPv6("2001:db8::1", "2001:db8::2", layers.IPProtocolIPv6Fragment)
	frag := &layers.IPv6Fragment{NextHeader: layers.IPProtocolUDP, FragmentOffset: offset, MoreFragments: more, Identification: 7}
	return decSerialize(t, decEth(layers.EthernetTypeIPv6), ip, frag, gopacket.Payload(payload))
}

// decUDPHeader is a UDP header from sport to dport and its payload.
func decUDPHeader(sport, dport uint16, n int) []byte {
	b := make([]byte, 8+n)
	binary.BigEndian.PutUint16(b, sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+n))
	return b
}

// decCDP is an 802.3 frame with LLC/SNAP (Cisco OUI, PID 0x2000) and a
// CDP body.
func decCDP() []byte {
	body := []byte{2, 180, 0, 0, 0, 1, 0, 8, 's', 'w', '0', '1'}
	f := slices.Concat([]byte(decMAC2), []byte(decMAC1), []byte{0, 0},
		[]byte{0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00}, body)
	f[0], f[1], f[2], f[3], f[4], f[5] = 0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc
	binary.BigEndian.PutUint16(f[12:], uint16(len(f)-14))
	return f
}

func TestDecode(t *testing.T) {
	ipv4UDP := decSerialize(t, decIPv4("192.168.1.10", "10.9.0.7", layers.IPProtocolUDP), decUDP(5353, 5353), gopacket.Payload([]byte("hi")))
	ipv6TCP := decSerialize(t, decIPv6("::1", "::1", layers.IPProtocolTCP), decTCP(58799, 8080, false, true))
	lldp := slices.Concat([]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, decMAC1, []byte{0x88, 0xcc, 2, 7, 4, 1, 2, 3, 4, 5, 6, 0, 0})
	arp := decSerialize(t, decEth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: decMAC1, SourceProtAddress: []byte{10, 0, 0, 1},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2}})
	icmp4 := decSerialize(t, decEth(layers.EthernetTypeIPv4), decIPv4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1})
	ip6 := decIPv6("fe80::1", "ff02::1", layers.IPProtocolICMPv6)
	icmp6 := decSerialize(t, decEth(layers.EthernetTypeIPv6), ip6,
		&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}, gopacket.Payload(make([]byte, 20)))
	qinq := decSerialize(t, decEth(layers.EthernetTypeQinQ),
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4},
		decIPv4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), decUDP(1234, 161))
	// IPv6 with hop-by-hop and destination options before UDP.
	ext := slices.Concat(
		[]byte{0x60, 0, 0, 0, 0, 16 + 8 + 4, 0, 64}, net.ParseIP("2001:db8::1"), net.ParseIP("2001:db8::2"),
		[]byte{60, 0, 1, 4, 0, 0, 0, 0}, // hop-by-hop: next destination options, PadN
		[]byte{17, 0, 1, 4, 0, 0, 0, 0}, // destination options: next UDP
		decUDPHeader(546, 547, 4))
	gre := decSerialize(t, decEth(layers.EthernetTypeIPv4), decIPv4("10.0.0.1", "10.0.0.2", layers.IPProtocolGRE), gopacket.Payload(make([]byte, 8)))

	tests := []struct {
		name string
		link layers.LinkType
		data []byte
		skip string
		want Packet // compared on the fields set below
	}{
		{"ethernet ipv4 tcp syn", layers.LinkTypeEthernet, decTCPFrame(t), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x0800,
			Src: netip.MustParseAddr("10.200.1.18"), Dst: netip.MustParseAddr("10.50.1.54"),
			Proto: 6, SPort: 40000, DPort: 443, TCPFlags: FlagSYN, Length: 140}},
		{"vlan ipv6 udp", layers.LinkTypeEthernet, decVLANFrame(t), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x86dd, VLAN: 42,
			Src: netip.MustParseAddr("fd00:1::5"), Dst: netip.MustParseAddr("2001:db8::53"),
			Proto: 17, SPort: 53000, DPort: 53, Length: 88}},
		{"802.1ad qinq outer tag", layers.LinkTypeEthernet, qinq, "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x0800, VLAN: 100,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Proto: 17, SPort: 1234, DPort: 161, Length: 28}},
		{"raw ipv4", layers.LinkTypeRaw, ipv4UDP, "", Packet{
			Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("10.9.0.7"),
			Proto: 17, SPort: 5353, DPort: 5353, Length: 30}},
		{"raw ipv6 (link type 229)", layers.LinkTypeIPv6, ipv6TCP, "", Packet{
			Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("::1"),
			Proto: 6, SPort: 58799, DPort: 8080, TCPFlags: FlagACK, Length: 60}},
		{"raw, not IP", layers.LinkTypeRaw, []byte{0x20, 1, 2}, SkipNotIP, Packet{}},
		{"linux sll", layers.LinkTypeLinuxSLL, decSLL(6, ipv4UDP), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), EtherType: 0x0800,
			Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("10.9.0.7"),
			Proto: 17, SPort: 5353, DPort: 5353, Length: 30}},
		{"linux sll oversized address", layers.LinkTypeLinuxSLL, decSLL(50438, ipv4UDP), "", Packet{
			EtherType: 0x0800,
			Src:       netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("10.9.0.7"),
			Proto: 17, SPort: 5353, DPort: 5353, Length: 30}},
		{"linux sll2", layers.LinkTypeLinuxSLL2, decSLL2(0x86dd, ipv6TCP), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC2), EtherType: 0x86dd,
			Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("::1"),
			Proto: 6, SPort: 58799, DPort: 8080, TCPFlags: FlagACK, Length: 60}},
		{"linux sll2 rarp", layers.LinkTypeLinuxSLL2, decSLL2(0x8035, make([]byte, 28)), SkipNotIP, Packet{}},
		{"null ipv4", layers.LinkTypeNull, decNull(2, ipv4UDP), "", Packet{
			Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("10.9.0.7"),
			Proto: 17, SPort: 5353, DPort: 5353, Length: 30}},
		{"null ipv6 darwin", layers.LinkTypeNull, decNull(30, ipv6TCP), "", Packet{
			Src: netip.MustParseAddr("::1"), Dst: netip.MustParseAddr("::1"),
			Proto: 6, SPort: 58799, DPort: 8080, TCPFlags: FlagACK, Length: 60}},
		{"icmpv4 echo", layers.LinkTypeEthernet, icmp4, "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x0800,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Proto: 1, DPort: 8 << 8, Length: 28}},
		{"icmpv6 neighbour solicitation", layers.LinkTypeEthernet, icmp6, "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x86dd,
			Src: netip.MustParseAddr("fe80::1"), Dst: netip.MustParseAddr("ff02::1"),
			Proto: 58, DPort: 135 << 8, Length: 64}},
		{"ipv6 extension headers", layers.LinkTypeEthernet, slices.Concat([]byte(decMAC2), []byte(decMAC1), []byte{0x86, 0xdd}, []byte(ext)), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x86dd,
			Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
			Proto: 17, SPort: 546, DPort: 547, Length: 68}},
		{"ip protocol without decoder", layers.LinkTypeEthernet, gre, "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x0800,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Proto: 47, Length: 28}},
		{"ip in ip: the inner packet", layers.LinkTypeEthernet, decSerialize(t, decEth(layers.EthernetTypeIPv4),
			decIPv4("192.0.2.1", "192.0.2.2", layers.IPProtocolIPv4), decIPv4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), decUDP(1234, 53)), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x0800,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Proto: 17, SPort: 1234, DPort: 53, Length: 28}},
		{"arp", layers.LinkTypeEthernet, arp, "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x0806, L2Proto: "arp", Length: 60}},
		{"lldp", layers.LinkTypeEthernet, lldp, "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte{0x01, 0x80, 0xc2, 0, 0, 0x0e}, EtherType: 0x88cc, L2Proto: "lldp", Length: 25}},
		{"cdp", layers.LinkTypeEthernet, decCDP(), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte{0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc}, EtherType: 0x2000, L2Proto: "cdp", Length: 34}},
		{"first ipv4 fragment", layers.LinkTypeEthernet, decIPv4Frag(t, 0, true, decUDPHeader(7000, 2049, 32)), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x0800,
			Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"),
			Proto: 17, SPort: 7000, DPort: 2049, Length: 60}},
		{"later ipv4 fragment", layers.LinkTypeEthernet, decIPv4Frag(t, 5, false, make([]byte, 16)), SkipIPv4Fragment, Packet{}},
		{"first ipv6 fragment", layers.LinkTypeEthernet, decIPv6Frag(t, 0, true, decUDPHeader(7000, 2049, 32)), "", Packet{
			HasMAC: true, SrcMAC: [6]byte(decMAC1), DstMAC: [6]byte(decMAC2), EtherType: 0x86dd,
			Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"),
			Proto: 17, SPort: 7000, DPort: 2049, Length: 88}},
		{"later ipv6 fragment", layers.LinkTypeEthernet, decIPv6Frag(t, 5, false, make([]byte, 16)), SkipIPv6Fragment, Packet{}},
		{"not IP", layers.LinkTypeEthernet, decSerialize(t, decEth(0x88b5), gopacket.Payload(make([]byte, 46))), SkipNotIP, Packet{}},
		{"radiotap", layers.LinkTypeIEEE80211Radio, make([]byte, 40), "link type 127", Packet{}},
		{"brcm-tag", layers.LinkType(281), make([]byte, 40), "link type 281", Packet{}},
		{"empty", layers.LinkTypeEthernet, nil, SkipEmpty, Packet{}},
		{"short ethernet", layers.LinkTypeEthernet, make([]byte, 10), SkipTruncated, Packet{}},
		{"ipv4 header cut", layers.LinkTypeEthernet, decTCPFrame(t)[:30], SkipTruncated, Packet{}},
		{"tcp header cut", layers.LinkTypeEthernet, decTCPFrame(t)[:40], SkipTruncated, Packet{}},
		{"no transport bytes", layers.LinkTypeEthernet, decTCPFrame(t)[:34], SkipTruncated, Packet{}},
	}
	d := NewDecoder()
	for _, tt := range tests {
		var p Packet
		skip := d.Decode(tt.link, tt.data, gopacket.CaptureInfo{Timestamp: decT0}, &p)
		if skip != tt.skip {
			t.Errorf("%s: Decode = %q, want %q", tt.name, skip, tt.skip)
			continue
		}
		if skip != "" {
			continue
		}
		got := p
		got.At, got.Payload = time.Time{}, nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Decode gave\n%+v, want\n%+v", tt.name, got, tt.want)
		}
		if !p.At.Equal(decT0) {
			t.Errorf("%s: At = %v, want %v", tt.name, p.At, decT0)
		}
	}
}

// TestDecodePayload checks what Payload holds for each kind of packet.
func TestDecodePayload(t *testing.T) {
	d := NewDecoder()
	var p Packet
	frame := decTCPFrame(t)
	if d.Decode(layers.LinkTypeEthernet, frame, gopacket.CaptureInfo{}, &p) != "" || len(p.Payload) != 100 || &p.Payload[0] != &frame[54] {
		t.Errorf("TCP payload: %d bytes, want the 100 bytes after the header, aliasing the frame", len(p.Payload))
	}
	cdp := decCDP()
	if d.Decode(layers.LinkTypeEthernet, cdp, gopacket.CaptureInfo{}, &p) != "" || len(p.Payload) != 12 || p.Payload[0] != 2 {
		t.Errorf("CDP payload %x, want the CDP packet after the SNAP header", p.Payload)
	}
	icmp := decSerialize(t, decEth(layers.EthernetTypeIPv4), decIPv4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, gopacket.Payload([]byte("ping")))
	if d.Decode(layers.LinkTypeEthernet, icmp, gopacket.CaptureInfo{}, &p) != "" || len(p.Payload) != 12 || p.Payload[0] != 8 {
		t.Errorf("ICMP payload %x, want the whole message from its type", p.Payload)
	}
}

// TestDecodeTruncatedNeverPanics decodes every prefix of every kind of
// frame, and damaged copies of them.
func TestDecodeTruncatedNeverPanics(t *testing.T) {
	frames := [][]byte{decTCPFrame(t), decVLANFrame(t), decCDP(), decIPv6Frag(t, 0, true, decUDPHeader(1, 2, 3))}
	d := NewDecoder()
	var p Packet
	for _, f := range frames {
		for _, link := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeRaw} {
			for n := range len(f) + 1 {
				if skip := d.Decode(link, f[:n], gopacket.CaptureInfo{}, &p); skip == "" {
					decCheckSane(t, f[:n], &p)
				}
				b := slices.Clone(f[:n])
				for i := range b {
					b[i] ^= 0xff
					if skip := d.Decode(link, b, gopacket.CaptureInfo{}, &p); skip == "" {
						decCheckSane(t, b, &p)
					}
					b[i] ^= 0xff
				}
			}
		}
	}
}

// decCheckSane fails when a decoded packet is not something useful.
func decCheckSane(t testing.TB, data []byte, p *Packet) {
	t.Helper()
	if p.L2Proto == "" && !p.Src.IsValid() {
		t.Fatalf("Decode(%x) = \"\" with neither IP nor a layer 2 protocol: %+v", data, p)
	}
	if len(p.Payload) > len(data) {
		t.Fatalf("Decode(%x): payload of %d bytes from a %d-byte frame", data, len(p.Payload), len(data))
	}
}

func TestDecodeNoAlloc(t *testing.T) {
	d := NewDecoder()
	var p Packet
	for name, frame := range map[string][]byte{"ethernet/ipv4/tcp": decTCPFrame(t), "vlan/ipv6/udp": decVLANFrame(t)} {
		ci := gopacket.CaptureInfo{Timestamp: decT0}
		allocs := testing.AllocsPerRun(1000, func() {
			if skip := d.Decode(layers.LinkTypeEthernet, frame, ci, &p); skip != "" {
				t.Fatal(skip)
			}
		})
		if allocs != 0 {
			t.Errorf("Decode(%s) allocates %.1f times per packet, want 0", name, allocs)
		}
	}
}

// decCaptureFrames reads the frames of the shared captures (at most max
// per file), with their link types.
func decCaptureFrames(tb testing.TB, max int) (links []layers.LinkType, frames [][]byte) {
	files, _ := filepath.Glob(filepath.Join(anPcapDir, "*.pcap*"))
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			tb.Fatal(err)
		}
		var next func() ([]byte, gopacket.CaptureInfo, error)
		link := layers.LinkTypeNull
		if filepath.Ext(path) == ".pcapng" {
			r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
			if err != nil {
				f.Close()
				continue
			}
			next = r.ReadPacketData
		} else {
			r, err := pcapgo.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			next, link = r.ReadPacketData, r.LinkType()
		}
		for range max {
			data, ci, err := next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					tb.Logf("%s: %v", path, err)
				}
				break
			}
			lt := link
			if len(ci.AncillaryData) > 0 {
				lt = recordLinkType(ci)
			}
			links, frames = append(links, lt), append(frames, data)
		}
		f.Close()
	}
	return links, frames
}

// decFuzzLinks are the link types a fuzz input's first byte selects.
var decFuzzLinks = []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeIEEE80211Radio}

func FuzzDecode(f *testing.F) {
	links, frames := decCaptureFrames(f, 200)
	for i, data := range frames {
		sel := slices.Index(decFuzzLinks, links[i])
		if sel < 0 {
			sel = len(decFuzzLinks) - 1
		}
		f.Add(append([]byte{byte(sel)}, data...))
	}
	f.Add(append([]byte{0}, decTCPFrame(f)...))
	f.Add(append([]byte{0}, decVLANFrame(f)...))
	f.Add(append([]byte{0}, decCDP()...))
	d := NewDecoder()
	tab := NewTable(TableConfig{MaxFlows: 64})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		link := decFuzzLinks[int(in[0])%len(decFuzzLinks)]
		data := in[1:]
		var p Packet
		if skip := d.Decode(link, data, gopacket.CaptureInfo{Timestamp: decT0}, &p); skip == "" {
			decCheckSane(t, data, &p)
			tab.Add(&p)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame []byte
	}{{"ethernet-ipv4-tcp", decTCPFrame(b)}, {"vlan-ipv6-udp", decVLANFrame(b)}} {
		b.Run(bc.name, func(b *testing.B) {
			d := NewDecoder()
			var p Packet
			ci := gopacket.CaptureInfo{Timestamp: decT0}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				d.Decode(layers.LinkTypeEthernet, bc.frame, ci, &p)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}
