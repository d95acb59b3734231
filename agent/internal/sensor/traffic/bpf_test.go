package traffic

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

var (
	bpfMACA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xa}
	bpfMACB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xb}
)

// bpfFrame serializes ls with lengths and checksums fixed.
func bpfFrame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	var ip gopacket.NetworkLayer
	for _, l := range ls {
		if n, ok := l.(gopacket.NetworkLayer); ok {
			ip = n
		}
	}
	for _, l := range ls {
		if c, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok && ip != nil {
			if err := c.SetNetworkLayerForChecksum(ip); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize %v: %v", ls, err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func bpfEth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: bpfMACA, DstMAC: bpfMACB, EthernetType: t}
}

func bpfIPv4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func bpfIPv6(src, dst string, proto layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

func bpfTCP(sport, dport uint16) *layers.TCP {
	return &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: true, Window: 1024}
}

func bpfUDP(sport, dport uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
}

func bpfPayload(n int) gopacket.Payload { return make(gopacket.Payload, n) }

type bpfCase struct {
	name  string
	frame []byte
	keep  bool // kept with the exclude list
	plain bool // kept without it
}

func bpfEthernetCases(t *testing.T) []bpfCase {
	const (
		coll4 = "10.0.0.5"
		coll6 = "fd00::5"
	)
	v4opts := bpfIPv4("10.1.1.1", coll4, layers.IPProtocolTCP)
	v4opts.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}} // NOPs, EOL: IHL 6
	frag := bpfIPv4("10.1.1.1", coll4, layers.IPProtocolUDP)
	frag.FragOffset = 185
	return []bpfCase{
		{"ipv4 tcp other", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", "10.2.2.2", layers.IPProtocolTCP), bpfTCP(40000, 443), bpfPayload(600)), true, true},
		{"ipv4 tcp to collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", coll4, layers.IPProtocolTCP), bpfTCP(40000, 7443)), false, true},
		{"ipv4 tcp from collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4(coll4, "10.1.1.1", layers.IPProtocolTCP), bpfTCP(7443, 40000)), false, true},
		{"ipv4 udp to collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", coll4, layers.IPProtocolUDP), bpfUDP(40000, 7443), bpfPayload(1200)), false, true},
		{"ipv4 udp from collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4(coll4, "10.1.1.1", layers.IPProtocolUDP), bpfUDP(7443, 40000)), false, true},
		{"ipv4 collector other port", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", coll4, layers.IPProtocolTCP), bpfTCP(40000, 443)), true, true},
		{"ipv4 collector port on src side only", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", coll4, layers.IPProtocolTCP), bpfTCP(7443, 40000)), true, true},
		{"ipv4 other host same port", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", "10.0.0.6", layers.IPProtocolTCP), bpfTCP(40000, 7443)), true, true},
		{"ipv4 options to collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), v4opts, bpfTCP(40000, 7443)), false, true},
		{"ipv4 later fragment to collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), frag, bpfPayload(64)), true, true},
		{"ipv4 icmp to collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", coll4, layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}), true, true},
		{"ipv6 tcp to collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv6), bpfIPv6("fd00::1", coll6, layers.IPProtocolTCP), bpfTCP(40000, 7443)), false, true},
		{"ipv6 udp from collector", bpfFrame(t, bpfEth(layers.EthernetTypeIPv6), bpfIPv6(coll6, "fd00::1", layers.IPProtocolUDP), bpfUDP(7443, 40000)), false, true},
		{"ipv6 other host", bpfFrame(t, bpfEth(layers.EthernetTypeIPv6), bpfIPv6("fd00::1", "fd00::6", layers.IPProtocolTCP), bpfTCP(40000, 7443)), true, true},
		{"ipv6 host differs in last word only", bpfFrame(t, bpfEth(layers.EthernetTypeIPv6), bpfIPv6("fd00::1", "fd00::1:5", layers.IPProtocolTCP), bpfTCP(40000, 7443)), true, true},
		{"ipv6 collector other port", bpfFrame(t, bpfEth(layers.EthernetTypeIPv6), bpfIPv6("fd00::1", coll6, layers.IPProtocolUDP), bpfUDP(40000, 53)), true, true},
		{"ipv6 icmpv6", bpfFrame(t, bpfEth(layers.EthernetTypeIPv6), bpfIPv6("fe80::1", "ff02::1", layers.IPProtocolICMPv6), &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}, bpfPayload(24)), true, true},
		{"dot1q ipv4 to collector", bpfFrame(t, bpfEth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4}, bpfIPv4("10.1.1.1", coll4, layers.IPProtocolTCP), bpfTCP(40000, 7443)), false, true},
		{"dot1q ipv4 other", bpfFrame(t, bpfEth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4}, bpfIPv4("10.1.1.1", "10.2.2.2", layers.IPProtocolTCP), bpfTCP(40000, 7443)), true, true},
		{"dot1q ipv6 from collector", bpfFrame(t, bpfEth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv6}, bpfIPv6(coll6, "fd00::1", layers.IPProtocolTCP), bpfTCP(7443, 40000)), false, true},
		{"dot1q arp", bpfFrame(t, bpfEth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeARP}, bpfARP()), true, true},
		{"qinq", bpfFrame(t, bpfEth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q}, &layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4}, bpfIPv4("10.1.1.1", coll4, layers.IPProtocolTCP), bpfTCP(40000, 7443)), true, true},
		{"arp", bpfFrame(t, bpfEth(layers.EthernetTypeARP), bpfARP()), true, true},
		{"lldp", bpfFrame(t, bpfEth(layers.EthernetTypeLinkLayerDiscovery), bpfPayload(40)), true, true},
		{"802.3 snap (cdp)", bpfFrame(t, &layers.Ethernet{SrcMAC: bpfMACA, DstMAC: net.HardwareAddr{0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc}, EthernetType: layers.EthernetTypeLLC, Length: 50},
			&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3}, &layers.SNAP{OrganizationalCode: []byte{0, 0, 0x0c}, Type: 0x2000}, bpfPayload(42)), true, true},
		{"other ethertype", bpfFrame(t, bpfEth(0x88b5), bpfPayload(46)), false, false},
		{"ipx", bpfFrame(t, bpfEth(0x8137), bpfPayload(46)), false, false},
		{"runt", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, false, false},
	}
}

func bpfARP() *layers.ARP {
	return &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: bpfMACA, SourceProtAddress: []byte{10, 1, 1, 1},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 1, 1, 2}}
}

func bpfRun(t *testing.T, prog []bpf.Instruction, frame []byte) int {
	t.Helper()
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("NewVM: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// The kernel cuts a frame to the program's answer; the VM answers as is.
	return min(n, len(frame))
}

func TestFilterEthernet(t *testing.T) {
	const snap = 256
	exclude := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.5:7443"), netip.MustParseAddrPort("[fd00::5]:7443"), netip.MustParseAddrPort("192.0.2.1:53")}
	excl, err := buildFilter(filterEthernet, snap, exclude)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := buildFilter(filterEthernet, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range bpfEthernetCases(t) {
		for _, p := range []struct {
			prog []bpf.Instruction
			want bool
			kind string
		}{{excl, c.keep, "exclude"}, {plain, c.plain, "plain"}} {
			n := bpfRun(t, p.prog, c.frame)
			want := 0
			if p.want {
				want = min(snap, len(c.frame))
			}
			if n != want {
				t.Errorf("%s filter on %s (%d bytes) = %d, want %d", p.kind, c.name, len(c.frame), n, want)
			}
		}
	}
}

func TestFilterRawIP(t *testing.T) {
	exclude := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.5:7443"), netip.MustParseAddrPort("[fd00::5]:7443")}
	prog, err := buildFilter(filterRawIP, 96, exclude)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []bpfCase{
		{"ipv4 other", bpfFrame(t, bpfIPv4("10.1.1.1", "10.2.2.2", layers.IPProtocolTCP), bpfTCP(40000, 7443), bpfPayload(200)), true, true},
		{"ipv4 to collector", bpfFrame(t, bpfIPv4("10.1.1.1", "10.0.0.5", layers.IPProtocolUDP), bpfUDP(40000, 7443)), false, true},
		{"ipv6 from collector", bpfFrame(t, bpfIPv6("fd00::5", "fd00::1", layers.IPProtocolTCP), bpfTCP(7443, 40000)), false, true},
		{"ipv6 other", bpfFrame(t, bpfIPv6("fd00::7", "fd00::1", layers.IPProtocolTCP), bpfTCP(7443, 40000)), true, true},
		{"not ip", []byte{0x50, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, false},
	} {
		n := bpfRun(t, prog, c.frame)
		want := 0
		if c.keep {
			want = min(96, len(c.frame))
		}
		if n != want {
			t.Errorf("raw filter on %s = %d, want %d", c.name, n, want)
		}
	}
}

// TestFilterLongExcludeList checks that the jumps reach across the longest
// program: the last entry of a full list still drops its traffic, under a
// VLAN tag too.
func TestFilterLongExcludeList(t *testing.T) {
	var ex []netip.AddrPort
	for i := range maxExclude {
		ex = append(ex, netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(i + 1)}), uint16(1000+i)))
	}
	prog, err := buildFilter(filterEthernet, 256, ex)
	if err != nil {
		t.Fatal(err)
	}
	last := ex[len(ex)-1]
	tagged := bpfFrame(t, bpfEth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv6},
		bpfIPv6("fd00::ff", last.Addr().String(), layers.IPProtocolTCP), bpfTCP(40000, last.Port()))
	if n := bpfRun(t, prog, tagged); n != 0 {
		t.Errorf("tagged frame to the last excluded entry kept (%d bytes)", n)
	}
	v4 := bpfFrame(t, bpfEth(layers.EthernetTypeIPv4), bpfIPv4("10.1.1.1", "10.2.2.2", layers.IPProtocolTCP), bpfTCP(40000, 443))
	if n := bpfRun(t, prog, v4); n != len(v4) {
		t.Errorf("unrelated IPv4 frame = %d, want %d", n, len(v4))
	}
}

func TestFilterErrors(t *testing.T) {
	many := make([]netip.AddrPort, maxExclude+1)
	for i := range many {
		many[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 80)
	}
	for _, c := range []struct {
		name    string
		snaplen int
		ex      []netip.AddrPort
	}{
		{"snaplen zero", 0, nil},
		{"too many", 256, many},
		{"port zero", 256, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:0")}},
		{"no address", 256, []netip.AddrPort{{}}},
	} {
		if _, err := buildFilter(filterEthernet, c.snaplen, c.ex); err == nil {
			t.Errorf("buildFilter(%s) succeeded, want an error", c.name)
		}
	}
}
