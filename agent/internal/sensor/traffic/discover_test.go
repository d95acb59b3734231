package traffic

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// discT0 is when the test packets are captured.
var discT0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func discHW(t testing.TB, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// discFrame serialises layers into an Ethernet frame.
func discFrame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(buf.Bytes())
}

// discPacket fills a Packet from a frame the way the decoder does, through
// gopacket's own (allocating) decoding, so that these tests do not depend on
// decode.go. ok is false for frames it has nothing for.
func discPacket(data []byte, lt layers.LinkType, at time.Time) (p Packet, ok bool) {
	pkt := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{NoCopy: true})
	p = Packet{At: at, Length: len(data)}
	var l2payload []byte
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.Ethernet:
			copy(p.SrcMAC[:], l.SrcMAC)
			copy(p.DstMAC[:], l.DstMAC)
			p.HasMAC, p.EtherType, l2payload = true, uint16(l.EthernetType), l.Payload
		case *layers.Dot11:
			// 802.11: the transmitter, as a decoder that read radiotap
			// would give it.
			copy(p.SrcMAC[:], l.Address2)
			copy(p.DstMAC[:], l.Address1)
			p.HasMAC = true
		case *layers.LinuxSLL:
			if l.AddrLen == 6 {
				copy(p.SrcMAC[:], l.Addr)
				p.HasMAC = true
			}
			p.EtherType, l2payload = uint16(l.EthernetType), l.Payload
		case *layers.LinuxSLL2:
			if l.AddrLength == 6 {
				copy(p.SrcMAC[:], l.Addr)
				p.HasMAC = true
			}
			p.EtherType, l2payload = uint16(l.ProtocolType), l.Payload
		case *layers.Dot1Q:
			if p.VLAN == 0 {
				p.VLAN = l.VLANIdentifier
			}
			p.EtherType, l2payload = uint16(l.Type), l.Payload
		case *layers.SNAP:
			p.EtherType, l2payload = uint16(l.Type), l.Payload
			if l.OrganizationalCode[0] == 0 && l.OrganizationalCode[1] == 0 && l.OrganizationalCode[2] == 0x0c && l.Type == 0x2000 {
				p.L2Proto, p.Payload = "cdp", l.Payload
				return p, true
			}
			if l.Type == layers.EthernetTypeARP {
				// In zeek_arp-who-has-radiotap.pcap radiotap announces an
				// FCS that the capture does not hold, and gopacket takes
				// the ARP target's address for it; the ARP packet runs to
				// the end of the frame, as tshark reads it.
				p.L2Proto, p.Payload = "arp", l.Payload[:cap(l.Payload)]
				return p, true
			}
		case *layers.ARP:
			p.L2Proto, p.Payload = "arp", l.Contents
			return p, true
		case *layers.IPv4:
			p.Src, _ = netip.AddrFromSlice(l.SrcIP.To4())
			p.Dst, _ = netip.AddrFromSlice(l.DstIP.To4())
			p.Proto, p.Length = uint8(l.Protocol), int(l.Length)
		case *layers.IPv6:
			p.Src, _ = netip.AddrFromSlice(l.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(l.DstIP)
			p.Proto, p.Length = uint8(l.NextHeader), int(l.Length)+40
			if l.NextHeader == layers.IPProtocolICMPv6 {
				p.Payload = l.Payload
			}
		case *layers.ICMPv6:
			p.DPort = uint16(l.TypeCode)
			return p, true
		case *layers.UDP:
			p.SPort, p.DPort, p.Payload = uint16(l.SrcPort), uint16(l.DstPort), l.Payload
			return p, true
		case *layers.TCP:
			p.SPort, p.DPort, p.Payload = uint16(l.SrcPort), uint16(l.DstPort), l.Payload
			return p, true
		}
	}
	if p.EtherType == 0x88cc && l2payload != nil {
		p.L2Proto, p.Payload = "lldp", l2payload
		return p, true
	}
	return p, p.Proto != 0
}

// discMust decodes a frame built by the tests.
func discMust(t testing.TB, frame []byte) Packet {
	t.Helper()
	p, ok := discPacket(frame, layers.LinkTypeEthernet, discT0)
	if !ok {
		t.Fatalf("test frame decodes to nothing: % x", frame)
	}
	return p
}

var (
	discBcast = "ff:ff:ff:ff:ff:ff"
	discMACA  = "00:00:0c:11:22:33" // Cisco
	discMACB  = "90:b1:1c:99:49:29" // Dell
	discMACC  = "f8:ed:a5:c0:a4:f1"
)

func discARP(t testing.TB, op uint16, sha string, spa string, tha string, tpa string) []byte {
	t.Helper()
	return discFrame(t,
		&layers.Ethernet{SrcMAC: discHW(t, sha), DstMAC: discHW(t, discBcast), EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: op, SourceHwAddress: discHW(t, sha), SourceProtAddress: net.ParseIP(spa).To4(),
			DstHwAddress: discHW(t, tha), DstProtAddress: net.ParseIP(tpa).To4()})
}

// discWant is what a test expects of one device (the fields it checks).
type discWant struct {
	MAC, Name, VendorClass, Port, Platform string
	IPs                                    []string
	SeenBy                                 []string
	VLAN                                   uint16
}

func discGot(n wire.Neighbour) discWant {
	return discWant{MAC: n.MAC, Name: n.Name, VendorClass: n.VendorClass, Port: n.Port, Platform: n.Platform,
		IPs: n.IPs, SeenBy: n.SeenBy, VLAN: n.VLAN}
}

func discCheck(t *testing.T, name string, got []wire.Neighbour, want []discWant) {
	t.Helper()
	g := make([]discWant, len(got))
	for i, n := range got {
		g[i] = discGot(n)
	}
	if len(want) == 0 {
		want = []discWant{}
	}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("%s: devices\n got %+v\nwant %+v", name, g, want)
	}
}

func TestDiscoverARP(t *testing.T) {
	arp := []string{wire.ViaARP}
	tests := []struct {
		name  string
		frame []byte
		want  []discWant
	}{
		{"request", discARP(t, 1, discMACA, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"),
			[]discWant{{MAC: discMACA, IPs: []string{"10.0.0.2"}, SeenBy: arp}}},
		{"reply", discARP(t, 2, discMACC, "10.0.0.1", discMACA, "10.0.0.2"),
			[]discWant{{MAC: discMACC, IPs: []string{"10.0.0.1"}, SeenBy: arp}}},
		{"gratuitous", discARP(t, 1, discMACB, "192.168.1.7", discBcast, "192.168.1.7"),
			[]discWant{{MAC: discMACB, IPs: []string{"192.168.1.7"}, SeenBy: arp}}},
		{"probe from 0.0.0.0", discARP(t, 1, discMACB, "0.0.0.0", "00:00:00:00:00:00", "192.168.1.7"),
			[]discWant{{MAC: discMACB, SeenBy: arp}}},
		{"broadcast sender", discARP(t, 1, discBcast, "10.0.0.9", "00:00:00:00:00:00", "10.0.0.1"), nil},
		{"zero sender", discARP(t, 2, "00:00:00:00:00:00", "10.0.0.9", discMACA, "10.0.0.1"), nil},
		{"multicast sender", discARP(t, 2, "01:00:5e:00:00:01", "10.0.0.9", discMACA, "10.0.0.1"), nil},
		{"broadcast sender address", discARP(t, 2, discMACA, "255.255.255.255", discMACA, "10.0.0.1"),
			[]discWant{{MAC: discMACA, SeenBy: arp}}},
		{"unknown operation", func() []byte {
			f := discARP(t, 1, discMACA, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1")
			f[14+7] = 9
			return f
		}(), nil},
	}
	for _, tt := range tests {
		d := NewDiscoverer(nil)
		p := discMust(t, tt.frame)
		d.Observe(&p)
		discCheck(t, tt.name, d.Devices(), tt.want)
	}
}

func TestDiscoverVendorAndTimes(t *testing.T) {
	o, err := LoadOUI(filepath.Join("testdata", "oui_ieee.txt"))
	if err != nil {
		t.Fatal(err)
	}
	d := NewDiscoverer(o)
	f := discARP(t, 1, discMACA, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1")
	for _, at := range []time.Time{discT0.Add(time.Second), discT0, discT0.Add(3 * time.Second)} {
		p := discMust(t, f)
		p.At = at
		p.VLAN = 42
		d.Observe(&p)
	}
	devs := d.Devices()
	if len(devs) != 1 {
		t.Fatalf("devices = %+v, want one", devs)
	}
	n := devs[0]
	if n.Vendor != "Cisco Systems, Inc" || n.VLAN != 42 {
		t.Errorf("vendor, VLAN = %q, %d, want Cisco Systems, Inc, 42", n.Vendor, n.VLAN)
	}
	if n.First != discT0.UnixNano() || n.Last != discT0.Add(3*time.Second).UnixNano() {
		t.Errorf("first, last = %d, %d, want %d, %d", n.First, n.Last, discT0.UnixNano(), discT0.Add(3*time.Second).UnixNano())
	}
}

// discDHCP builds a DHCPv4 message in a frame from src to dst.
func discDHCP(t testing.TB, srcMAC string, src, dst string, msg layers.DHCPv4) []byte {
	t.Helper()
	sport, dport := layers.UDPPort(68), layers.UDPPort(67)
	if msg.Operation == layers.DHCPOpReply {
		sport, dport = 67, 68
	}
	if msg.ClientIP == nil {
		msg.ClientIP = net.IPv4zero
	}
	for _, f := range []*net.IP{&msg.YourClientIP, &msg.NextServerIP, &msg.RelayAgentIP} {
		if *f == nil {
			*f = net.IPv4zero
		}
	}
	msg.HardwareType, msg.HardwareLen = layers.LinkTypeEthernet, 6
	msg.Options = append(msg.Options, layers.NewDHCPOption(layers.DHCPOptEnd, nil))
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	udp := &layers.UDP{SrcPort: sport, DstPort: dport}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return discFrame(t, &layers.Ethernet{SrcMAC: discHW(t, srcMAC), DstMAC: discHW(t, discBcast), EthernetType: layers.EthernetTypeIPv4},
		ip, udp, &msg)
}

func discDHCPOpt(code layers.DHCPOpt, v ...byte) layers.DHCPOption {
	return layers.NewDHCPOption(code, v)
}

func discDHCPType(mt layers.DHCPMsgType) layers.DHCPOption {
	return discDHCPOpt(layers.DHCPOptMessageType, byte(mt))
}

func TestDiscoverDHCP(t *testing.T) {
	client := discHW(t, discMACB)
	server := discMACA
	dhcp := []string{wire.ViaDHCP}
	discover := layers.DHCPv4{Operation: layers.DHCPOpRequest, Xid: 7, ClientHWAddr: client, Options: layers.DHCPOptions{
		discDHCPType(layers.DHCPMsgTypeDiscover),
		discDHCPOpt(layers.DHCPOptRequestIP, 192, 168, 1, 50),
		layers.NewDHCPOption(layers.DHCPOptHostname, []byte("laptop-17")),
		layers.NewDHCPOption(layers.DHCPOptClassID, []byte("MSFT 5.0")),
	}}
	offer := layers.DHCPv4{Operation: layers.DHCPOpReply, Xid: 7, ClientHWAddr: client, YourClientIP: net.IPv4(192, 168, 1, 50).To4(),
		Options: layers.DHCPOptions{
			discDHCPType(layers.DHCPMsgTypeOffer),
			discDHCPOpt(layers.DHCPOptServerID, 192, 168, 1, 1),
			layers.NewDHCPOption(layers.DHCPOptClassID, []byte("ArubaAP")), // the server's, not the client's
		}}
	ack := offer
	ack.Options = layers.DHCPOptions{discDHCPType(layers.DHCPMsgTypeAck), discDHCPOpt(layers.DHCPOptServerID, 192, 168, 1, 1)}
	nak := offer
	nak.YourClientIP = nil
	nak.Options = layers.DHCPOptions{discDHCPType(layers.DHCPMsgTypeNak), discDHCPOpt(layers.DHCPOptServerID, 192, 168, 1, 1)}
	relayedAck := ack
	relayedAck.RelayAgentIP = net.IPv4(10, 1, 0, 1).To4()
	renew := layers.DHCPv4{Operation: layers.DHCPOpRequest, Xid: 8, ClientHWAddr: client, ClientIP: net.IPv4(192, 168, 1, 50).To4(),
		Options: layers.DHCPOptions{discDHCPType(layers.DHCPMsgTypeRequest)}}
	decline := layers.DHCPv4{Operation: layers.DHCPOpRequest, Xid: 9, ClientHWAddr: client, Options: layers.DHCPOptions{
		discDHCPType(layers.DHCPMsgTypeDecline), discDHCPOpt(layers.DHCPOptRequestIP, 192, 168, 1, 50)}}
	fqdn := layers.DHCPv4{Operation: layers.DHCPOpRequest, Xid: 10, ClientHWAddr: client, Options: layers.DHCPOptions{
		discDHCPType(layers.DHCPMsgTypeDiscover),
		discDHCPOpt(81, append([]byte{0x05, 0, 0}, "\x02pc\x07example\x03org\x00"...)...)}}
	fqdnASCII := fqdn
	fqdnASCII.Options = layers.DHCPOptions{discDHCPType(layers.DHCPMsgTypeDiscover),
		discDHCPOpt(81, append([]byte{0x01, 0, 0}, "pc2.example.org"...)...)}
	badChaddr := discover
	badChaddr.ClientHWAddr = discHW(t, discBcast)

	fromClient := func(m layers.DHCPv4) []byte { return discDHCP(t, discMACB, "0.0.0.0", "255.255.255.255", m) }
	fromServer := func(m layers.DHCPv4) []byte { return discDHCP(t, server, "192.168.1.1", "255.255.255.255", m) }
	serverDev := discWant{MAC: server, IPs: []string{"192.168.1.1"}, SeenBy: dhcp}

	tests := []struct {
		name   string
		frames [][]byte
		vlan   uint16
		want   []discWant
	}{
		{"discover", [][]byte{fromClient(discover)}, 0,
			[]discWant{{MAC: discMACB, Name: "laptop-17", VendorClass: "MSFT 5.0", IPs: []string{"192.168.1.50"}, SeenBy: dhcp}}},
		{"offer: the server only", [][]byte{fromServer(offer)}, 0, []discWant{serverDev}},
		{"discover, offer, ack", [][]byte{fromClient(discover), fromServer(offer), fromServer(ack)}, 0,
			[]discWant{serverDev, {MAC: discMACB, Name: "laptop-17", VendorClass: "MSFT 5.0", IPs: []string{"192.168.1.50"}, SeenBy: dhcp}}},
		{"nak forgets the request", [][]byte{fromClient(discover), fromServer(nak)}, 0,
			[]discWant{serverDev, {MAC: discMACB, Name: "laptop-17", VendorClass: "MSFT 5.0", SeenBy: dhcp}}},
		{"nak keeps an acked address", [][]byte{fromClient(discover), fromServer(ack), fromServer(nak)}, 0,
			[]discWant{serverDev, {MAC: discMACB, Name: "laptop-17", VendorClass: "MSFT 5.0", IPs: []string{"192.168.1.50"}, SeenBy: dhcp}}},
		{"decline forgets the address", [][]byte{fromClient(discover), fromServer(ack), fromClient(decline)}, 0,
			[]discWant{serverDev, {MAC: discMACB, Name: "laptop-17", VendorClass: "MSFT 5.0", SeenBy: dhcp}}},
		{"renewing client's ciaddr", [][]byte{fromClient(renew)}, 7,
			[]discWant{{MAC: discMACB, IPs: []string{"192.168.1.50"}, SeenBy: dhcp, VLAN: 7}}},
		{"relayed ack: not the client's VLAN, the relay is not the server", [][]byte{
			discDHCP(t, discMACC, "10.1.0.1", "192.168.1.1", relayedAck)}, 9,
			[]discWant{{MAC: discMACB, IPs: []string{"192.168.1.50"}, SeenBy: dhcp}}},
		{"client FQDN in DNS form", [][]byte{fromClient(fqdn)}, 0,
			[]discWant{{MAC: discMACB, Name: "pc.example.org", SeenBy: dhcp}}},
		{"client FQDN in ASCII", [][]byte{fromClient(fqdnASCII)}, 0,
			[]discWant{{MAC: discMACB, Name: "pc2.example.org", SeenBy: dhcp}}},
		{"broadcast chaddr", [][]byte{fromClient(badChaddr)}, 0, nil},
	}
	for _, tt := range tests {
		d := NewDiscoverer(nil)
		for _, f := range tt.frames {
			p := discMust(t, f)
			p.VLAN = tt.vlan
			d.Observe(&p)
		}
		discCheck(t, tt.name, d.Devices(), tt.want)
	}

	// Cut by a short snap length before the options: the client by its
	// own frame, nothing from a reply or a relayed request.
	for _, tt := range []struct {
		name  string
		frame []byte
		want  []discWant
	}{
		{"client request", fromClient(discover), []discWant{{MAC: discMACB, SeenBy: dhcp}}},
		{"client request sent from another MAC", discDHCP(t, discMACC, "0.0.0.0", "255.255.255.255", discover), nil},
		{"server reply", fromServer(ack), nil},
	} {
		d := NewDiscoverer(nil)
		p := discMust(t, tt.frame)
		p.Payload = p.Payload[:100]
		d.Observe(&p)
		discCheck(t, "cut before the options: "+tt.name, d.Devices(), tt.want)
	}
}

// discNDP builds an ICMPv6 neighbour discovery message in a frame.
func discNDP(t testing.TB, srcMAC, src, dst string, typ uint8, body gopacket.SerializableLayer) []byte {
	t.Helper()
	ip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolICMPv6, HopLimit: 255, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return discFrame(t, &layers.Ethernet{SrcMAC: discHW(t, srcMAC), DstMAC: discHW(t, "33:33:00:00:00:01"), EthernetType: layers.EthernetTypeIPv6},
		ip, icmp, body)
}

func TestDiscoverNDP(t *testing.T) {
	ndp := []string{wire.ViaNDP}
	lla := func(typ layers.ICMPv6Opt, mac string) layers.ICMPv6Options {
		return layers.ICMPv6Options{{Type: typ, Data: discHW(t, mac)}}
	}
	tests := []struct {
		name  string
		frame []byte
		want  []discWant
	}{
		{"neighbour solicitation", discNDP(t, discMACA, "fe80::1", "ff02::1:ff00:2", 135,
			&layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP("fe80::2"), Options: lla(layers.ICMPv6OptSourceAddress, discMACA)}),
			[]discWant{{MAC: discMACA, IPs: []string{"fe80::1"}, SeenBy: ndp}}},
		{"solicitation without option: the frame's source", discNDP(t, discMACA, "2001:db8::1", "2001:db8::2", 135,
			&layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP("2001:db8::2")}),
			[]discWant{{MAC: discMACA, IPs: []string{"2001:db8::1"}, SeenBy: ndp}}},
		{"duplicate address detection: the MAC only", discNDP(t, discMACB, "::", "ff02::1:ff00:2", 135,
			&layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP("fe80::2")}),
			[]discWant{{MAC: discMACB, SeenBy: ndp}}},
		{"neighbour advertisement: the target", discNDP(t, discMACB, "fe80::2", "fe80::1", 136,
			&layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: net.ParseIP("2001:db8::2"), Options: lla(layers.ICMPv6OptTargetAddress, discMACB)}),
			[]discWant{{MAC: discMACB, IPs: []string{"2001:db8::2"}, SeenBy: ndp}}},
		{"router solicitation", discNDP(t, discMACB, "fe80::2", "ff02::2", 133,
			&layers.ICMPv6RouterSolicitation{Options: lla(layers.ICMPv6OptSourceAddress, discMACB)}),
			[]discWant{{MAC: discMACB, IPs: []string{"fe80::2"}, SeenBy: ndp}}},
		{"router advertisement", discNDP(t, discMACA, "fe80::1", "ff02::1", 134,
			&layers.ICMPv6RouterAdvertisement{HopLimit: 64, RouterLifetime: 1800, Options: lla(layers.ICMPv6OptSourceAddress, discMACC)}),
			[]discWant{{MAC: discMACC, IPs: []string{"fe80::1"}, SeenBy: ndp}}},
		{"redirect: router and target", discNDP(t, discMACA, "fe80::1", "fe80::2", 137,
			&layers.ICMPv6Redirect{TargetAddress: net.ParseIP("fe80::3"), DestinationAddress: net.ParseIP("2001:db8::9"),
				Options: lla(layers.ICMPv6OptTargetAddress, discMACC)}),
			[]discWant{{MAC: discMACA, IPs: []string{"fe80::1"}, SeenBy: ndp}, {MAC: discMACC, IPs: []string{"fe80::3"}, SeenBy: ndp}}},
		{"option of length zero", func() []byte {
			f := discNDP(t, discMACA, "fe80::1", "ff02::1:ff00:2", 135,
				&layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP("fe80::2"), Options: lla(layers.ICMPv6OptSourceAddress, discMACA)})
			f[14+40+24+1] = 0
			return f
		}(), nil},
		{"option overrun", func() []byte {
			f := discNDP(t, discMACA, "fe80::1", "ff02::1:ff00:2", 135,
				&layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP("fe80::2"), Options: lla(layers.ICMPv6OptSourceAddress, discMACA)})
			f[14+40+24+1] = 2
			return f
		}(), nil},
		{"nonzero code", func() []byte {
			f := discNDP(t, discMACA, "fe80::1", "ff02::1:ff00:2", 135,
				&layers.ICMPv6NeighborSolicitation{TargetAddress: net.ParseIP("fe80::2"), Options: lla(layers.ICMPv6OptSourceAddress, discMACA)})
			f[14+40+1] = 1
			return f
		}(), nil},
	}
	for _, tt := range tests {
		d := NewDiscoverer(nil)
		p := discMust(t, tt.frame)
		d.Observe(&p)
		discCheck(t, tt.name, d.Devices(), tt.want)
	}
}

// discLLDPValue is one LLDP TLV of the given type.
func discLLDPValue(typ layers.LLDPTLVType, v []byte) layers.LinkLayerDiscoveryValue {
	return layers.LinkLayerDiscoveryValue{Type: typ, Length: uint16(len(v)), Value: v}
}

// discLLDPMgmt is a management address TLV value.
func discLLDPMgmt(addr netip.Addr) []byte {
	fam, raw := byte(1), addr.AsSlice()
	if addr.Is6() {
		fam = 2
	}
	v := []byte{byte(1 + len(raw)), fam}
	v = append(v, raw...)
	v = append(v, 2, 0, 0, 0, 1, 0) // interface numbering ifIndex 1, no OID
	return v
}

func discLLDP(t testing.TB, srcMAC string, vlan uint16, l *layers.LinkLayerDiscovery) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: discHW(t, srcMAC), DstMAC: discHW(t, "01:80:c2:00:00:0e"), EthernetType: layers.EthernetTypeLinkLayerDiscovery}
	if vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		return discFrame(t, eth, &layers.Dot1Q{VLANIdentifier: vlan, Type: layers.EthernetTypeLinkLayerDiscovery}, l)
	}
	return discFrame(t, eth, l)
}

func TestDiscoverLLDP(t *testing.T) {
	lldp := []string{wire.ViaLLDP}
	switchMAC := discHW(t, discMACA)
	full := &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeMACAddr, ID: switchMAC},
		PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte("Gi1/0/24")},
		TTL:       120,
		Values: []layers.LinkLayerDiscoveryValue{
			discLLDPValue(layers.LLDPTLVPortDescription, []byte("uplink to core")),
			discLLDPValue(layers.LLDPTLVSysName, []byte("sw-rådhus-2")),
			discLLDPValue(layers.LLDPTLVSysDescription, []byte("Cisco IOS Software, C2960 Software\r\nTechnical Support\x00junk")),
			discLLDPValue(layers.LLDPTLVMgmtAddress, discLLDPMgmt(netip.MustParseAddr("10.20.0.2"))),
			discLLDPValue(layers.LLDPTLVMgmtAddress, discLLDPMgmt(netip.MustParseAddr("2001:db8::2"))),
		},
	}
	macPort := &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeLocal, ID: []byte("host-7")},
		PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeMACAddr, ID: discHW(t, discMACB)},
		TTL:       120,
		Values:    []layers.LinkLayerDiscoveryValue{discLLDPValue(layers.LLDPTLVPortDescription, []byte("eth0"))},
	}
	bare := &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeLocal, ID: []byte("host-7")},
		PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeMACAddr, ID: discHW(t, discMACB)},
		TTL:       120,
	}
	wrongOrder := discLLDP(t, discMACB, 0, bare)
	// Swap the chassis and port ID TLVs' types.
	wrongOrder[14] = byte(layers.LLDPTLVPortID) << 1
	tests := []struct {
		name  string
		frame []byte
		want  []discWant
	}{
		{"switch with chassis MAC", discLLDP(t, "00:00:0c:11:22:99", 30, full),
			[]discWant{{MAC: discMACA, Name: "sw-rådhus-2", Port: "Gi1/0/24", Platform: "Cisco IOS Software, C2960 Software  Technical Support",
				IPs: []string{"10.20.0.2", "2001:db8::2"}, SeenBy: lldp, VLAN: 30}}},
		{"host: port description over a MAC port ID", discLLDP(t, discMACB, 0, macPort),
			[]discWant{{MAC: discMACB, Port: "eth0", SeenBy: lldp}}},
		{"host: the MAC port ID when nothing else", discLLDP(t, discMACB, 0, bare),
			[]discWant{{MAC: discMACB, Port: discMACB, SeenBy: lldp}}},
		{"mandatory TLVs out of order", wrongOrder, nil},
	}
	for _, tt := range tests {
		d := NewDiscoverer(nil)
		p := discMust(t, tt.frame)
		d.Observe(&p)
		discCheck(t, tt.name, d.Devices(), tt.want)
	}
}

// discCDPPacket builds a CDP version 2 packet from TLVs (type, value).
func discCDPPacket(tlvs ...any) []byte {
	b := []byte{2, 180, 0, 0}
	for i := 0; i+1 < len(tlvs); i += 2 {
		v := tlvs[i+1].([]byte)
		b = binary.BigEndian.AppendUint16(b, uint16(tlvs[i].(int)))
		b = binary.BigEndian.AppendUint16(b, uint16(4+len(v)))
		b = append(b, v...)
	}
	return b
}

// discCDPAddrList is a CDP address list value.
func discCDPAddrList(addrs ...string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(addrs)))
	for _, s := range addrs {
		a := netip.MustParseAddr(s)
		if a.Is4() {
			b = append(b, 1, 1, 0xcc, 0, 4)
		} else {
			b = append(b, 2, 8, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd, 0, 16)
		}
		b = append(b, a.AsSlice()...)
	}
	return b
}

func discCDP(t testing.TB, srcMAC string, cdp []byte) []byte {
	t.Helper()
	return discFrame(t,
		&layers.Ethernet{SrcMAC: discHW(t, srcMAC), DstMAC: discHW(t, "01:00:0c:cc:cc:cc"), EthernetType: layers.EthernetTypeLLC},
		&layers.LLC{DSAP: 0xaa, SSAP: 0xaa, Control: 3},
		&layers.SNAP{OrganizationalCode: []byte{0, 0, 0x0c}, Type: layers.EthernetType(0x2000)},
		gopacket.Payload(cdp))
}

func TestDiscoverCDP(t *testing.T) {
	cdp := []string{wire.ViaCDP}
	full := discCDPPacket(
		discCDPDeviceID, []byte("core-sw1.kommune.no"),
		discCDPAddrs, discCDPAddrList("10.20.0.1", "2001:db8::1"),
		discCDPPortID, []byte("GigabitEthernet0/1"),
		4, []byte{0, 0, 0, 0x28}, // capabilities: not used
		discCDPPlatform, []byte("cisco WS-C2960-24TT-L"),
		discCDPMgmtAddr, discCDPAddrList("10.99.0.1"),
	)
	truncated := full[:len(full)-10]
	tests := []struct {
		name  string
		frame []byte
		want  []discWant
	}{
		{"switch", discCDP(t, discMACA, full),
			[]discWant{{MAC: discMACA, Name: "core-sw1.kommune.no", Port: "GigabitEthernet0/1", Platform: "cisco WS-C2960-24TT-L",
				IPs: []string{"10.20.0.1", "10.99.0.1", "2001:db8::1"}, SeenBy: cdp}}},
		{"truncated: what came before", discCDP(t, discMACA, truncated),
			[]discWant{{MAC: discMACA, Name: "core-sw1.kommune.no", Port: "GigabitEthernet0/1", Platform: "cisco WS-C2960-24TT-L",
				IPs: []string{"10.20.0.1", "2001:db8::1"}, SeenBy: cdp}}},
		{"address count larger than the list", discCDP(t, discMACA, discCDPPacket(
			discCDPAddrs, append(discCDPAddrList("10.20.0.1"), 0, 0)[0:4+9])), // count 1, one address
			[]discWant{{MAC: discMACA, IPs: []string{"10.20.0.1"}, SeenBy: cdp}}},
		{"unknown version", discCDP(t, discMACA, append([]byte{9}, full[1:]...)), nil},
		{"no TLV", discCDP(t, discMACA, full[:4]), nil},
	}
	for _, tt := range tests {
		d := NewDiscoverer(nil)
		p := discMust(t, tt.frame)
		d.Observe(&p)
		discCheck(t, tt.name, d.Devices(), tt.want)
	}
}

func TestDiscoverNameRank(t *testing.T) {
	d := NewDiscoverer(nil)
	lldp := discLLDP(t, discMACA, 0, &layers.LinkLayerDiscovery{
		ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeMACAddr, ID: discHW(t, discMACA)},
		PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte("Gi0/1")},
		TTL:       120,
		Values:    []layers.LinkLayerDiscoveryValue{discLLDPValue(layers.LLDPTLVSysName, []byte("sw1"))},
	})
	cdp := discCDP(t, discMACA, discCDPPacket(discCDPDeviceID, []byte("sw1.kommune.no"), discCDPPortID, []byte("GigabitEthernet0/1")))
	for _, f := range [][]byte{cdp, lldp, cdp} {
		p := discMust(t, f)
		d.Observe(&p)
	}
	discCheck(t, "LLDP over CDP", d.Devices(), []discWant{{MAC: discMACA, Name: "sw1", Port: "Gi0/1", SeenBy: []string{wire.ViaCDP, wire.ViaLLDP}}})
}

func TestDiscoverTakeChanged(t *testing.T) {
	d := NewDiscoverer(nil)
	observe := func(f []byte, at time.Duration) {
		p := discMust(t, f)
		p.At = discT0.Add(at)
		d.Observe(&p)
	}
	macs := func(ns []wire.Neighbour) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.MAC+" "+strings.Join(n.IPs, ","))
		}
		return out
	}
	step := func(name string, want ...string) {
		t.Helper()
		if got := macs(d.TakeChanged()); !slices.Equal(got, want) {
			t.Errorf("%s: TakeChanged = %q, want %q", name, got, want)
		}
	}
	step("nothing yet")
	observe(discARP(t, 1, discMACB, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"), 0)
	observe(discARP(t, 2, discMACA, "10.0.0.1", discMACB, "10.0.0.2"), 0)
	step("two new", discMACA+" 10.0.0.1", discMACB+" 10.0.0.2")
	step("taken")
	observe(discARP(t, 1, discMACB, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"), time.Minute)
	step("seen again, nothing new")
	if n := d.Devices(); len(n) != 2 || n[1].Last != discT0.Add(time.Minute).UnixNano() {
		t.Errorf("Devices after a repeat = %+v, want two with B last seen a minute later", n)
	}
	observe(discARP(t, 1, discMACB, "10.0.0.3", "00:00:00:00:00:00", "10.0.0.1"), 2*time.Minute)
	step("new address", discMACB+" 10.0.0.2,10.0.0.3")
	p := discMust(t, discNDP(t, discMACB, "fe80::2", "ff02::2", 133, &layers.ICMPv6RouterSolicitation{}))
	d.Observe(&p)
	step("new protocol", discMACB+" 10.0.0.2,10.0.0.3,fe80::2")
	if got := d.Devices()[1].SeenBy; !slices.Equal(got, []string{wire.ViaARP, wire.ViaNDP}) {
		t.Errorf("SeenBy = %q, want arp, ndp", got)
	}
	p = discMust(t, discARP(t, 1, discMACB, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"))
	p.VLAN = 5
	d.Observe(&p)
	step("new VLAN", discMACB+" 10.0.0.2,10.0.0.3,fe80::2")
	step("taken again")
	if n := len(d.Devices()); n != 2 {
		t.Errorf("Devices = %d, want 2 after every take", n)
	}
}

func TestDiscoverBounds(t *testing.T) {
	d := NewDiscoverer(nil)
	d.max = 3
	for i := range 5 {
		mac := net.HardwareAddr{0, 0x0c, 0x29, 0, 0, byte(i + 1)}.String()
		p := discMust(t, discARP(t, 1, mac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.254"))
		d.Observe(&p)
	}
	if n, dropped := len(d.Devices()), d.Dropped(); n != 3 || dropped != 2 {
		t.Errorf("5 devices into room for 3: kept %d, dropped %d, want 3, 2", n, dropped)
	}
	// A known device still learns.
	p := discMust(t, discARP(t, 1, "00:0c:29:00:00:01", "10.0.0.99", "00:00:00:00:00:00", "10.0.0.254"))
	d.Observe(&p)
	if ips := d.Devices()[0].IPs; !slices.Contains(ips, "10.0.0.99") {
		t.Errorf("known device at the bound: IPs %q, want 10.0.0.99 among them", ips)
	}

	// Addresses per device: the one seen longest ago gives way.
	d = NewDiscoverer(nil)
	for i := range discMaxIPs + 3 {
		p := discMust(t, discARP(t, 1, discMACA, netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}).String(), "00:00:00:00:00:00", "10.0.0.254"))
		p.At = discT0.Add(time.Duration(i) * time.Second)
		d.Observe(&p)
	}
	ips := d.Devices()[0].IPs
	if len(ips) != discMaxIPs || slices.Contains(ips, "10.1.0.3") || !slices.Contains(ips, "10.1.0.4") || !slices.Contains(ips, "10.1.0.35") {
		t.Errorf("%d addresses for one device: kept %q, want the newest %d", discMaxIPs+3, ips, discMaxIPs)
	}
}

// discValidFrames are one well-formed frame of each protocol.
func discValidFrames(t testing.TB) map[string][]byte {
	t.Helper()
	client := discHW(t, discMACB)
	return map[string][]byte{
		"arp": discARP(t, 1, discMACA, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"),
		"dhcp": discDHCP(t, discMACB, "0.0.0.0", "255.255.255.255", layers.DHCPv4{Operation: layers.DHCPOpRequest, ClientHWAddr: client,
			Options: layers.DHCPOptions{discDHCPType(layers.DHCPMsgTypeRequest), discDHCPOpt(layers.DHCPOptRequestIP, 10, 0, 0, 5),
				layers.NewDHCPOption(layers.DHCPOptHostname, []byte("pc-5")), layers.NewDHCPOption(layers.DHCPOptClassID, []byte("android-dhcp-14"))}}),
		"ndp": discNDP(t, discMACA, "fe80::1", "ff02::1:ff00:2", 135, &layers.ICMPv6NeighborSolicitation{
			TargetAddress: net.ParseIP("fe80::2"), Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: discHW(t, discMACA)}}}),
		"lldp": discLLDP(t, discMACB, 0, &layers.LinkLayerDiscovery{
			ChassisID: layers.LLDPChassisID{Subtype: layers.LLDPChassisIDSubTypeMACAddr, ID: discHW(t, discMACA)},
			PortID:    layers.LLDPPortID{Subtype: layers.LLDPPortIDSubtypeIfaceName, ID: []byte("Gi1/0/24")},
			TTL:       120,
			Values: []layers.LinkLayerDiscoveryValue{discLLDPValue(layers.LLDPTLVSysName, []byte("sw1")),
				discLLDPValue(layers.LLDPTLVMgmtAddress, discLLDPMgmt(netip.MustParseAddr("10.20.0.2")))},
		}),
		"cdp": discCDP(t, discMACA, discCDPPacket(discCDPDeviceID, []byte("sw1"), discCDPAddrs, discCDPAddrList("10.20.0.1", "2001:db8::1"),
			discCDPPortID, []byte("Gi0/1"), discCDPPlatform, []byte("cisco"))),
	}
}

// discCheckSane fails when a device is not something a packet could
// rightly say: a usable MAC in canonical form, usable addresses, clean text,
// sorted protocols.
func discCheckSane(t testing.TB, devs []wire.Neighbour) {
	t.Helper()
	for _, n := range devs {
		hw, err := net.ParseMAC(n.MAC)
		if err != nil || len(hw) != 6 || hw.String() != n.MAC || !discUsableMAC([6]byte(hw)) {
			t.Errorf("device MAC %q is not a usable lower-case MAC", n.MAC)
		}
		for _, s := range n.IPs {
			a, err := netip.ParseAddr(s)
			if err != nil || !discUsableIP(a) || a.String() != s {
				t.Errorf("device %s: address %q is not usable", n.MAC, s)
			}
		}
		if !slices.IsSortedFunc(n.IPs, func(a, b string) int {
			return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
		}) {
			t.Errorf("device %s: addresses %q not sorted", n.MAC, n.IPs)
		}
		for _, s := range []string{n.Name, n.VendorClass, n.Port, n.Platform} {
			if !utf8.ValidString(s) || len(s) > discMaxText || strings.TrimSpace(s) != s || strings.ContainsAny(s, "\x00\r\n\t") {
				t.Errorf("device %s: text %q is not clean", n.MAC, s)
			}
		}
		if len(n.SeenBy) == 0 || !slices.IsSorted(n.SeenBy) {
			t.Errorf("device %s: seen by %q", n.MAC, n.SeenBy)
		}
	}
}

func TestDiscoverMalformed(t *testing.T) {
	for proto, frame := range discValidFrames(t) {
		full := discMust(t, frame)
		ref := NewDiscoverer(nil)
		ref.Observe(&full)
		want := ref.Devices()
		if len(want) == 0 {
			t.Fatalf("%s: the valid frame gives no device", proto)
		}
		known := map[string]wire.Neighbour{}
		for _, n := range want {
			known[n.MAC] = n
		}
		// Every truncation: no panic, and nothing the whole packet does
		// not say.
		for cut := 0; cut < len(full.Payload); cut++ {
			p := full
			p.Payload = full.Payload[:cut]
			d := NewDiscoverer(nil)
			d.Observe(&p)
			for _, n := range d.Devices() {
				w, ok := known[n.MAC]
				if !ok {
					t.Errorf("%s cut to %d bytes: device %s the whole packet does not name", proto, cut, n.MAC)
					continue
				}
				for _, ip := range n.IPs {
					if !slices.Contains(w.IPs, ip) {
						t.Errorf("%s cut to %d bytes: device %s address %s the whole packet does not give", proto, cut, n.MAC, ip)
					}
				}
				for _, pair := range [][2]string{{n.Name, w.Name}, {n.Port, w.Port}, {n.Platform, w.Platform}, {n.VendorClass, w.VendorClass}} {
					if pair[0] != "" && pair[0] != pair[1] {
						t.Errorf("%s cut to %d bytes: device %s text %q, the whole packet says %q", proto, cut, n.MAC, pair[0], pair[1])
					}
				}
			}
		}
		// Garbage of the same length: all zeros and all ones say nothing.
		for _, fill := range []byte{0x00, 0xff} {
			p := full
			p.Payload = slices.Repeat([]byte{fill}, len(full.Payload))
			d := NewDiscoverer(nil)
			d.Observe(&p)
			if devs := d.Devices(); len(devs) != 0 {
				t.Errorf("%s payload of %#x bytes: devices %+v, want none", proto, fill, devs)
			}
		}
		// Random damage: no panic, nothing insane.
		rng := rand.New(rand.NewPCG(1, uint64(len(proto))))
		d := NewDiscoverer(nil)
		for range 2000 {
			b := slices.Clone(full.Payload)
			for range 1 + rng.IntN(4) {
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			}
			p := full
			p.Payload = b
			d.Observe(&p)
		}
		discCheckSane(t, d.Devices())
	}
}

// discFuzzPacket makes a Packet of the kind the first byte selects with the
// rest as its payload.
func discFuzzPacket(data []byte) Packet {
	p := Packet{At: discT0, HasMAC: true, SrcMAC: [6]byte{0x00, 0x0c, 0x29, 1, 2, 3}, DstMAC: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, VLAN: 3}
	if len(data) == 0 {
		return p
	}
	kind, payload := data[0]%6, data[1:]
	p.Payload = payload
	switch kind {
	case 0:
		p.L2Proto = "arp"
	case 1:
		p.L2Proto = "lldp"
	case 2:
		p.L2Proto = "cdp"
	case 3:
		p.Src, p.Dst = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("255.255.255.255")
		p.Proto, p.SPort, p.DPort = 17, 67, 68
	case 4:
		p.Src, p.Dst = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("ff02::1")
		p.Proto = 58
	case 5:
		p.Src, p.Dst = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
		p.Proto, p.SPort, p.DPort = 6, 40000, 443
	}
	return p
}

func FuzzObserve(f *testing.F) {
	kinds := map[string]byte{"arp": 0, "lldp": 1, "cdp": 2, "dhcp": 3, "ndp": 4}
	for proto, frame := range discValidFrames(f) {
		p := discMust(f, frame)
		f.Add(append([]byte{kinds[proto]}, p.Payload...))
	}
	f.Add([]byte{5, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDiscoverer(nil)
		p := discFuzzPacket(data)
		d.Observe(&p)
		d.Observe(&p)
		devs := d.Devices()
		discCheckSane(t, devs)
		if len(devs) > 1+discObsIPs && p.L2Proto != "" {
			t.Errorf("one packet gave %d devices", len(devs))
		}
		if p.Proto == 6 && len(devs) != 0 {
			t.Errorf("TCP gave devices %+v", devs)
		}
	})
}

func TestDiscoverConcurrent(t *testing.T) {
	d := NewDiscoverer(nil)
	frames := discValidFrames(t)
	pkts := make([]Packet, 0, len(frames))
	for _, f := range frames {
		pkts = append(pkts, discMust(t, f))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			p := pkts[i%len(pkts)]
			p.At = discT0.Add(time.Duration(i) * time.Millisecond)
			d.Observe(&p)
		}
	}()
	total := 0
	for range 200 {
		total += len(d.TakeChanged())
		_ = d.Devices()
	}
	wg.Wait()
	total += len(d.TakeChanged())
	if n := len(d.Devices()); n == 0 || total < n {
		t.Errorf("%d devices, %d taken as changed; every device must be taken at least once", n, total)
	}
}

func TestObserveNoAlloc(t *testing.T) {
	d := NewDiscoverer(nil)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	seg := &layers.TCP{SrcPort: 40000, DstPort: 443, ACK: true, Window: 100}
	if err := seg.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	tcp := discMust(t, discFrame(t,
		&layers.Ethernet{SrcMAC: discHW(t, discMACA), DstMAC: discHW(t, discMACB), EthernetType: layers.EthernetTypeIPv4},
		ip, seg, gopacket.Payload("hello")))
	dns := tcp
	dns.Proto, dns.SPort, dns.DPort = 17, 5353, 53
	echo := tcp
	echo.Proto, echo.Payload = 58, []byte{128, 0, 0, 0}
	arp := discMust(t, discARP(t, 1, discMACA, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"))
	d.Observe(&arp) // known from now on
	for name, p := range map[string]*Packet{"TCP": &tcp, "UDP": &dns, "ICMPv6 echo": &echo, "ARP of a known device": &arp} {
		if allocs := testing.AllocsPerRun(1000, func() { d.Observe(p) }); allocs != 0 {
			t.Errorf("Observe(%s) allocates %.1f times, want 0", name, allocs)
		}
	}
	if n := len(d.Devices()); n != 1 {
		t.Errorf("devices = %d, want the ARP sender only", n)
	}
}

func BenchmarkObserveTCP(b *testing.B) {
	d := NewDiscoverer(nil)
	p := Packet{At: discT0, HasMAC: true, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 6, SPort: 40000, DPort: 443}
	b.ReportAllocs()
	for b.Loop() {
		d.Observe(&p)
	}
}

func BenchmarkObserveARP(b *testing.B) {
	d := NewDiscoverer(nil)
	p := discMust(b, discARP(b, 1, discMACA, "10.0.0.2", "00:00:00:00:00:00", "10.0.0.1"))
	b.ReportAllocs()
	for b.Loop() {
		d.Observe(&p)
	}
}

// discCapturePath is a shared capture; they live beside the repository, in
// ../shared/testdata/pcap.
func discCapturePath(name string) string {
	return filepath.Join("..", "..", "..", "..", "..", "shared", "testdata", "pcap", name)
}

// discReadPcap feeds a capture file (pcap or pcapng) to a Discoverer,
// counting the packets read and those given to it.
func discReadPcap(t *testing.T, d *Discoverer, name string) (read, observed int) {
	t.Helper()
	path := discCapturePath(name)
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("capture %s: %v", name, err)
		}
		t.Skipf("capture %s not here: %v", name, err)
	}
	defer f.Close()
	var src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
		LinkType() layers.LinkType
	}
	if strings.HasSuffix(name, ".pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return 0, 0 // an empty capture has no section to read
		}
		src = r
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		src = r
	}
	for {
		data, ci, err := src.ReadPacketData()
		if err != nil {
			break
		}
		read++
		p, ok := discPacket(data, src.LinkType(), ci.Timestamp)
		if ok {
			observed++
			d.Observe(&p)
		}
	}
	return read, observed
}

// discTshark runs tshark over a capture and returns the rows of the fields
// asked for, of the packets that match filter; ok is false when tshark
// cannot read the file.
func discTshark(t *testing.T, path, filter string, fields ...string) (rows [][]string, ok bool) {
	t.Helper()
	args := []string{"-r", path, "-Y", filter, "-T", "fields", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Logf("tshark cannot read %s: %v", path, err)
		return nil, false
	}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			rows = append(rows, strings.Split(line, "\t"))
		}
	}
	return rows, true
}

// TestDiscoverSharedCaptures reads every shared capture and checks the
// devices against what tshark reads in the same file: every ARP sender and
// DHCP client tshark sees is found, with its address and host name, and
// every device found is a MAC address tshark saw in discovery traffic.
func TestDiscoverSharedCaptures(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark is not installed (Debian package tshark)")
		}
		t.Skip("tshark is not installed (Debian package tshark)")
	}
	names, err := filepath.Glob(discCapturePath("*"))
	if err != nil || len(names) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no shared captures in %s", discCapturePath(""))
		}
		t.Skipf("no shared captures in %s", discCapturePath(""))
	}
	total := 0
	for _, path := range names {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			d := NewDiscoverer(nil)
			discReadPcap(t, d, name)
			devs := d.Devices()
			total += len(devs)
			discCheckSane(t, devs)
			rows, ok := discTshark(t, path, "arp || dhcp || lldp || cdp || (icmpv6.type >= 133 && icmpv6.type <= 137)",
				"eth.src", "sll.src.eth", "wlan.ta", "icmpv6.opt.linkaddr", "lldp.chassis.id.mac", // 0-4: MAC addresses
				"arp.src.hw_mac", "arp.src.proto_ipv4", // 5, 6
				"dhcp.hw.mac_addr", "dhcp.type", "dhcp.option.hostname") // 7, 8, 9
			if !ok {
				return
			}
			byMAC := map[string]wire.Neighbour{}
			for _, n := range devs {
				byMAC[n.MAC] = n
			}
			seen := map[string]bool{}
			for _, row := range rows {
				row = append(row, make([]string, 10)...)
				for _, i := range []int{0, 1, 2, 3, 4, 5, 7} {
					seen[row[i]] = true
				}
				if mac, ip := row[5], row[6]; mac != "" && ip != "" && ip != "0.0.0.0" {
					if n, ok := byMAC[mac]; !ok || !slices.Contains(n.IPs, ip) {
						t.Errorf("ARP sender %s at %s: not found (devices %+v)", mac, ip, devs)
					}
				}
				if mac, name := row[7], row[9]; mac != "" && row[8] == "1" && name != "" {
					if n, ok := byMAC[mac]; !ok || n.Name != name {
						t.Errorf("DHCP client %s named %q: not found (devices %+v)", mac, name, devs)
					}
				}
			}
			for _, n := range devs {
				if !seen[n.MAC] {
					t.Errorf("device %s: tshark sees no such MAC address in discovery traffic", n.MAC)
				}
			}
		})
	}
	if total == 0 {
		t.Errorf("no device in any shared capture")
	}
}

func TestDiscoverZeekDHCP(t *testing.T) {
	ouiNeedReal(t)
	d := NewDiscoverer(DefaultOUI())
	read, observed := discReadPcap(t, d, "zeek_dhcp.pcap")
	if read != 9 || observed != 9 {
		t.Fatalf("read %d packets, observed %d, want 9 and 9", read, observed)
	}
	devs := d.Devices()
	discCheckSane(t, devs)
	discCheck(t, "zeek_dhcp.pcap", devs, []discWant{
		// The DHCP server, which sent its own replies.
		{MAC: "00:0c:29:40:0e:ef", IPs: []string{"128.2.6.152"}, SeenBy: []string{wire.ViaDHCP}},
		// The client: its host name, and the address it was given; the
		// one it asked for first was refused. The server's vendor class
		// (ArubaAP) is not the client's.
		{MAC: "90:b1:1c:99:49:29", Name: "btest.is.cool", IPs: []string{"128.2.6.189"}, SeenBy: []string{wire.ViaDHCP}},
	})
	if len(devs) == 2 {
		if !strings.Contains(devs[0].Vendor, "VMware") || !strings.Contains(devs[1].Vendor, "Dell") {
			t.Errorf("vendors %q, %q, want VMware and Dell", devs[0].Vendor, devs[1].Vendor)
		}
		if devs[1].First >= devs[1].Last || devs[1].First == 0 {
			t.Errorf("client first %d, last %d: want the times of its first and last packets", devs[1].First, devs[1].Last)
		}
	}
}

func TestDiscoverSnapLength(t *testing.T) {
	// A capture with a snap length of 96 bytes: DHCP requests and replies
	// cut inside the fixed header.
	d := NewDiscoverer(nil)
	read, _ := discReadPcap(t, d, "gopacket_pcapng_test202.pcapng")
	if read != 6 {
		t.Fatalf("read %d packets, want 6", read)
	}
	discCheck(t, "gopacket_pcapng_test202.pcapng", d.Devices(), []discWant{
		{MAC: "00:0b:82:01:fc:42", SeenBy: []string{wire.ViaDHCP}},
	})
}

func TestDiscoverRadiotapARP(t *testing.T) {
	d := NewDiscoverer(nil)
	read, _ := discReadPcap(t, d, "zeek_arp-who-has-radiotap.pcap")
	if read != 2 {
		t.Fatalf("read %d packets, want 2", read)
	}
	// As tshark reads it: who has 10.0.0.1, tell 10.0.0.2; 10.0.0.1 is at
	// f8:ed:a5:c0:a4:f1.
	discCheck(t, "zeek_arp-who-has-radiotap.pcap", d.Devices(), []discWant{
		{MAC: "78:31:c1:c6:3f:c2", IPs: []string{"10.0.0.2"}, SeenBy: []string{wire.ViaARP}},
		{MAC: "f8:ed:a5:c0:a4:f1", IPs: []string{"10.0.0.1"}, SeenBy: []string{wire.ViaARP}},
	})
}

func TestDiscCleanText(t *testing.T) {
	long := strings.Repeat("å", discMaxText) // two bytes each
	tests := []struct{ in, want string }{
		{"sw1", "sw1"},
		{"  padded\t", "padded"},
		{"two\r\nlines", "two  lines"},
		{"c-string\x00garbage", "c-string"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{"bell\x07", "bell"},
		{"rådhus", "rådhus"},
		{long, long[:discMaxText]},
		{strings.Repeat("a", discMaxText+10), strings.Repeat("a", discMaxText)},
		{"", ""},
	}
	for _, tt := range tests {
		if got := discCleanText(tt.in, discMaxText); got != tt.want {
			t.Errorf("discCleanText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := discCleanText([]byte(tt.in), discMaxText); got != tt.want {
			t.Errorf("discCleanText([]byte(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
