package traffic

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Decoder turns captured frames into Packets with gopacket's
// DecodingLayerParser: every layer is decoded in place into a layer value the
// Decoder owns, so decoding a frame allocates nothing. It knows Ethernet,
// 802.1Q and 802.1ad tags (any depth), 802.3 LLC/SNAP, Linux cooked captures
// (SLL and SLL2), BSD loopback (null), raw IPv4 and IPv6, IPv4, IPv6 with its
// extension headers, TCP, UDP, ICMPv4, ICMPv6 and ARP, and recognises LLDP
// and CDP. IP carried in IP (protocols 4 and 41) counts as its inner
// packet. A Decoder is used by one goroutine at a time.
type Decoder struct {
	eth   layers.Ethernet
	vlan  vlanLayer
	llc   layers.LLC
	snap  layers.SNAP
	sll   sllLayer
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	arp   layers.ARP
	ip4   layers.IPv4
	ip6   layers.IPv6
	ext   layers.IPv6ExtensionSkipper
	frag6 layers.IPv6Fragment
	tcp   tcpLayer
	udp   udpLayer
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6

	// One parser per first layer, all sharing the layers above.
	ethernet, cooked, cooked2, null, raw4, raw6 *gopacket.DecodingLayerParser
	decoded                                     []gopacket.LayerType
}

// vlanLayer is an 802.1Q or 802.1ad tag that remembers the first (outer)
// tag of the frame: the parser decodes every tag of a stack into it.
type vlanLayer struct {
	layers.Dot1Q
	outer uint16
	tags  int
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (v *vlanLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := v.Dot1Q.DecodeFromBytes(data, df); err != nil {
		return err
	}
	if v.tags == 0 {
		v.outer = v.VLANIdentifier
	}
	v.tags++
	return nil
}

// sllLayer is a Linux cooked (SLL) header read as tshark reads it: the
// address field is 8 bytes whatever length it declares, so a header that
// declares more (seen in real captures) still leads to its protocol.
type sllLayer struct {
	layers.LinuxSLL
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (s *sllLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 16 {
		df.SetTruncated()
		return errTruncatedLink
	}
	s.PacketType = layers.LinuxSLLPacketType(binary.BigEndian.Uint16(data[0:2]))
	s.AddrType = binary.BigEndian.Uint16(data[2:4])
	s.AddrLen = binary.BigEndian.Uint16(data[4:6])
	s.Addr = data[6 : 6+min(int(s.AddrLen), 8)]
	s.EthernetType = layers.EthernetType(binary.BigEndian.Uint16(data[14:16]))
	s.BaseLayer = layers.BaseLayer{Contents: data[:16], Payload: data[16:]}
	return nil
}

// tcpLayer is the TCP header as the flow table needs it: ports, flags and
// where the payload starts. It fails where layers.TCP fails (header or data
// offset cut short, data offset below 5) but leaves the options alone, and
// ends the decoding: nothing above TCP is decoded.
type tcpLayer struct {
	layers.BaseLayer
	SrcPort, DstPort layers.TCPPort
}

// LayerType implements gopacket.DecodingLayer.
func (t *tcpLayer) LayerType() gopacket.LayerType { return layers.LayerTypeTCP }

// CanDecode implements gopacket.DecodingLayer.
func (t *tcpLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeTCP }

// NextLayerType implements gopacket.DecodingLayer: none.
func (t *tcpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (t *tcpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 20 {
		df.SetTruncated()
		return errTruncatedTCP
	}
	t.SrcPort = layers.TCPPort(binary.BigEndian.Uint16(data[0:2]))
	t.DstPort = layers.TCPPort(binary.BigEndian.Uint16(data[2:4]))
	off := int(data[12]>>4) * 4
	switch {
	case off < 20:
		return errTCPDataOffset
	case off > len(data):
		df.SetTruncated()
		t.BaseLayer = layers.BaseLayer{Contents: data}
		return errTruncatedTCP
	}
	t.BaseLayer = layers.BaseLayer{Contents: data[:off], Payload: data[off:]}
	return nil
}

// udpLayer is layers.UDP ending the decoding: nothing above UDP is
// decoded.
type udpLayer struct {
	layers.UDP
}

// NextLayerType implements gopacket.DecodingLayer: none.
func (u *udpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }

type decodeError string

func (e decodeError) Error() string { return string(e) }

const (
	errTruncatedLink = decodeError("link layer header truncated")
	errTruncatedTCP  = decodeError("TCP header truncated")
	errTCPDataOffset = decodeError("TCP data offset below 5")
)

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	var dlc gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	// The extension skipper first: the fragment header, put later, takes
	// its own layer type back from it.
	for _, l := range []gopacket.DecodingLayer{
		&d.eth, &d.vlan, &d.llc, &d.snap, &d.sll, &d.sll2, &d.loop, &d.arp,
		&d.ip4, &d.ip6, &d.ext, &d.frag6, &d.tcp, &d.udp, &d.icmp4, &d.icmp6,
	} {
		dlc = dlc.Put(l)
	}
	parser := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(dlc)
		p.IgnoreUnsupported = true
		return p
	}
	d.ethernet = parser(layers.LayerTypeEthernet)
	d.cooked = parser(layers.LayerTypeLinuxSLL)
	d.cooked2 = parser(layers.LayerTypeLinuxSLL2)
	d.null = parser(layers.LayerTypeLoopback)
	d.raw4 = parser(layers.LayerTypeIPv4)
	d.raw6 = parser(layers.LayerTypeIPv6)
	return d
}

// Skip reasons that Decode returns; others are "link type N" and
// "malformed LAYER".
const (
	SkipTruncated    = "truncated"
	SkipNotIP        = "not IP"
	SkipIPv4Fragment = "IPv4 fragment"
	SkipIPv6Fragment = "IPv6 fragment"
	SkipEmpty        = "empty frame"
)

// linkTypeReasons holds the skip reason of each link type below 512, so
// that an unsupported link type costs no allocation.
var linkTypeReasons = func() (r [512]string) {
	for i := range r {
		r[i] = "link type " + strconv.Itoa(i)
	}
	return r
}()

// LinkTypeSkip is the skip reason of an unsupported link type.
func LinkTypeSkip(link layers.LinkType) string {
	if int(link) < len(linkTypeReasons) {
		return linkTypeReasons[link]
	}
	return "link type " + strconv.Itoa(int(link))
}

// SupportsLinkType reports whether Decode reads frames of the link type.
func SupportsLinkType(link layers.LinkType) bool {
	switch link {
	case layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
		layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw, linkTypeRawBSD, linkTypeRawOpenBSD,
		layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return true
	}
	return false
}

// DLT_RAW as some BSDs number it in their capture files (LINKTYPE_RAW is
// 101 in files; libpcap maps these two to it).
const (
	linkTypeRawBSD     layers.LinkType = 12
	linkTypeRawOpenBSD layers.LinkType = 14
)

// Decode decodes one frame of the link type into p, overwriting all of it.
// It returns "" when p holds something useful: an IP packet (Proto != 0 or
// valid addresses) or a layer 2 protocol the decoder recognises (L2Proto).
// Otherwise it returns a short, stable reason to count the frame under
// ("link type 127", "truncated", "not IP", "IPv4 fragment", "malformed
// TCP"...). Decode never panics on damaged frames and allocates nothing.
//
// The first fragment of a fragmented IP packet gives its ports; later
// fragments are skipped as "IPv4 fragment" or "IPv6 fragment": their
// transport header is elsewhere and no port is invented for them.
func (d *Decoder) Decode(link layers.LinkType, data []byte, ci gopacket.CaptureInfo, p *Packet) (skip string) {
	*p = Packet{At: ci.Timestamp}
	var parser *gopacket.DecodingLayerParser
	switch link {
	case layers.LinkTypeEthernet:
		parser = d.ethernet
	case layers.LinkTypeLinuxSLL:
		parser = d.cooked
	case layers.LinkTypeLinuxSLL2:
		parser = d.cooked2
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		parser = d.null
	case layers.LinkTypeIPv4:
		parser = d.raw4
	case layers.LinkTypeIPv6:
		parser = d.raw6
	case layers.LinkTypeRaw, linkTypeRawBSD, linkTypeRawOpenBSD:
		if len(data) == 0 {
			return SkipEmpty
		}
		switch data[0] >> 4 {
		case 4:
			parser = d.raw4
		case 6:
			parser = d.raw6
		default:
			return SkipNotIP
		}
	default:
		return LinkTypeSkip(link)
	}
	if len(data) == 0 {
		return SkipEmpty
	}
	d.vlan.tags = 0
	err := parser.DecodeLayers(data, &d.decoded)
	var l2payload []byte
	ipDone, transport := false, false
	for _, typ := range d.decoded {
		switch typ {
		case layers.LayerTypeEthernet:
			copy(p.SrcMAC[:], d.eth.SrcMAC)
			copy(p.DstMAC[:], d.eth.DstMAC)
			p.HasMAC = true
			p.EtherType, l2payload = uint16(d.eth.EthernetType), d.eth.Payload
			if d.eth.EthernetType == layers.EthernetTypeLLC {
				p.EtherType = 0
			}
		case layers.LayerTypeDot1Q:
			p.EtherType, l2payload = uint16(d.vlan.Type), d.vlan.Payload
			if d.vlan.Type < 0x0600 {
				p.EtherType = 0
			}
		case layers.LayerTypeSNAP:
			p.EtherType, l2payload = uint16(d.snap.Type), d.snap.Payload
			oc := d.snap.OrganizationalCode
			if d.snap.Type == layers.EthernetTypeCiscoDiscovery && oc[0] == 0 && oc[1] == 0 && oc[2] == 0x0c {
				p.L2Proto, p.Payload, p.Length = "cdp", d.snap.Payload, len(data)
				return ""
			}
		case layers.LayerTypeLinuxSLL:
			if d.sll.AddrLen == 6 {
				copy(p.SrcMAC[:], d.sll.Addr)
				p.HasMAC = true
			}
			p.EtherType, l2payload = uint16(d.sll.EthernetType), d.sll.Payload
		case layers.LayerTypeLinuxSLL2:
			if d.sll2.AddrLength == 6 {
				copy(p.SrcMAC[:], d.sll2.Addr)
				p.HasMAC = true
			}
			p.EtherType, l2payload = uint16(d.sll2.ProtocolType), d.sll2.Payload
		case layers.LayerTypeARP:
			p.L2Proto, p.Payload, p.Length = "arp", d.arp.Contents, len(data)
		case layers.LayerTypeIPv4:
			p.Src = netip.AddrFrom4([4]byte(d.ip4.SrcIP))
			p.Dst = netip.AddrFrom4([4]byte(d.ip4.DstIP))
			p.Proto, p.Length = uint8(d.ip4.Protocol), int(d.ip4.Length)
			ipDone = true
		case layers.LayerTypeIPv6:
			p.Src = netip.AddrFrom16([16]byte(d.ip6.SrcIP))
			p.Dst = netip.AddrFrom16([16]byte(d.ip6.DstIP))
			p.Proto, p.Length = uint8(d.ip6.NextHeader), int(d.ip6.Length)+40
			if d.ip6.Length == 0 { // jumbogram
				p.Length = 40 + len(d.ip6.Payload)
			}
			ipDone = true
		case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			p.Proto = uint8(d.ext.NextHeader)
		case layers.LayerTypeIPv6Fragment:
			p.Proto = uint8(d.frag6.NextHeader)
		case layers.LayerTypeTCP:
			p.SPort, p.DPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.TCPFlags = d.tcp.Contents[13] & 0x1f
			p.Payload, transport = d.tcp.Payload, true
		case layers.LayerTypeUDP:
			p.SPort, p.DPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.Payload, transport = d.udp.Payload, true
		case layers.LayerTypeICMPv4:
			p.DPort = uint16(d.icmp4.TypeCode)
			p.Payload, transport = wholeLayer(d.icmp4.Contents, d.icmp4.Payload), true
		case layers.LayerTypeICMPv6:
			p.DPort = uint16(d.icmp6.TypeCode)
			p.Payload, transport = wholeLayer(d.icmp6.Contents, d.icmp6.Payload), true
		}
	}
	if d.vlan.tags > 0 {
		p.VLAN = d.vlan.outer
	}
	if err != nil {
		if len(d.decoded) == 0 && !parser.Truncated {
			if len(data) < linkHeaderLen(link) {
				return SkipTruncated
			}
		}
		if parser.Truncated || err == errTruncatedLink {
			return SkipTruncated
		}
		return malformed(d.failed(parser))
	}
	if p.L2Proto != "" {
		return ""
	}
	if !ipDone {
		switch p.EtherType {
		case uint16(layers.EthernetTypeLinkLayerDiscovery):
			p.L2Proto, p.Payload, p.Length = "lldp", l2payload, len(data)
			return ""
		case uint16(layers.EthernetTypeARP):
			// Decoded above unless it was empty.
			return SkipTruncated
		}
		return SkipNotIP
	}
	if transport {
		return ""
	}
	// IP without a decoded transport layer: a fragment, a protocol the
	// decoder does not know, or a transport header cut short.
	if d.frag4() || d.fragment6() {
		first, fl := d.firstFragment()
		if !first {
			if d.frag4() {
				return SkipIPv4Fragment
			}
			return SkipIPv6Fragment
		}
		return fragmentPorts(p, fl)
	}
	switch p.Proto {
	case 6, 17, 1, 58:
		// The transport layer had no bytes at all.
		return SkipTruncated
	}
	return ""
}

// wholeLayer is a layer's header and payload as one slice (they are
// adjacent in the frame).
func wholeLayer(contents, payload []byte) []byte {
	return contents[: len(contents)+len(payload) : len(contents)+len(payload)]
}

// frag4 reports whether the last packet decoded was an IPv4 fragment.
func (d *Decoder) frag4() bool {
	return d.lastIP() == layers.LayerTypeIPv4 && (d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0)
}

// fragment6 reports whether the last packet decoded was an IPv6 fragment.
func (d *Decoder) fragment6() bool {
	for _, t := range d.decoded {
		if t == layers.LayerTypeIPv6Fragment {
			return d.frag6.FragmentOffset != 0 || d.frag6.MoreFragments
		}
	}
	return false
}

// lastIP is the IP layer type of the frame (the decoder follows no
// tunnels, so there is at most one).
func (d *Decoder) lastIP() gopacket.LayerType {
	for i := len(d.decoded) - 1; i >= 0; i-- {
		if t := d.decoded[i]; t == layers.LayerTypeIPv4 || t == layers.LayerTypeIPv6 {
			return t
		}
	}
	return gopacket.LayerTypeZero
}

// firstFragment reports whether the fragment decoded is the first one of
// its packet, and returns what follows its header.
func (d *Decoder) firstFragment() (bool, []byte) {
	if d.frag4() {
		return d.ip4.FragOffset == 0, d.ip4.Payload
	}
	return d.frag6.FragmentOffset == 0, d.frag6.Payload
}

// fragmentPorts fills the ports of a first fragment from the transport
// header at its start.
func fragmentPorts(p *Packet, b []byte) string {
	switch p.Proto {
	case 6, 17:
		if len(b) < 4 {
			return SkipTruncated
		}
		p.SPort, p.DPort = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
		if p.Proto == 6 && len(b) >= 14 {
			p.TCPFlags = b[13] & 0x1f
		}
		p.Payload = nil
	case 1, 58:
		if len(b) < 2 {
			return SkipTruncated
		}
		p.DPort = binary.BigEndian.Uint16(b)
		p.Payload = b
	}
	return ""
}

// linkHeaderLen is the shortest frame of a link type that holds its header.
func linkHeaderLen(link layers.LinkType) int {
	switch link {
	case layers.LinkTypeEthernet:
		return 14
	case layers.LinkTypeLinuxSLL:
		return 16
	case layers.LinkTypeLinuxSLL2:
		return 20
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return 4
	}
	return 20
}

// failed is the layer type whose decoding failed: the one after the last
// decoded layer.
func (d *Decoder) failed(parser *gopacket.DecodingLayerParser) gopacket.LayerType {
	if len(d.decoded) == 0 {
		switch parser {
		case d.ethernet:
			return layers.LayerTypeEthernet
		case d.cooked:
			return layers.LayerTypeLinuxSLL
		case d.cooked2:
			return layers.LayerTypeLinuxSLL2
		case d.null:
			return layers.LayerTypeLoopback
		case d.raw4:
			return layers.LayerTypeIPv4
		}
		return layers.LayerTypeIPv6
	}
	var next gopacket.LayerType
	switch d.decoded[len(d.decoded)-1] {
	case layers.LayerTypeEthernet:
		next = d.eth.NextLayerType()
	case layers.LayerTypeDot1Q:
		next = d.vlan.NextLayerType()
	case layers.LayerTypeLLC:
		next = d.llc.NextLayerType()
	case layers.LayerTypeSNAP:
		next = d.snap.NextLayerType()
	case layers.LayerTypeLinuxSLL:
		next = d.sll.NextLayerType()
	case layers.LayerTypeLinuxSLL2:
		next = d.sll2.NextLayerType()
	case layers.LayerTypeLoopback:
		next = d.loop.NextLayerType()
	case layers.LayerTypeIPv4:
		next = d.ip4.NextLayerType()
	case layers.LayerTypeIPv6:
		next = d.ip6.NextLayerType()
	case layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
		next = d.ext.NextLayerType()
	case layers.LayerTypeIPv6Fragment:
		next = d.frag6.NextLayerType()
	}
	return next
}

// malformed is the skip reason of a frame whose layer of the type failed
// to decode for another reason than missing bytes.
func malformed(t gopacket.LayerType) string {
	switch t {
	case layers.LayerTypeEthernet:
		return "malformed Ethernet"
	case layers.LayerTypeDot1Q:
		return "malformed 802.1Q"
	case layers.LayerTypeLLC, layers.LayerTypeSNAP:
		return "malformed LLC"
	case layers.LayerTypeLinuxSLL, layers.LayerTypeLinuxSLL2:
		return "malformed Linux SLL"
	case layers.LayerTypeLoopback:
		return "malformed loopback"
	case layers.LayerTypeARP:
		return "malformed ARP"
	case layers.LayerTypeIPv4:
		return "malformed IPv4"
	case layers.LayerTypeIPv6, layers.LayerTypeIPv6HopByHop, layers.LayerTypeIPv6Routing,
		layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Fragment:
		return "malformed IPv6"
	case layers.LayerTypeTCP:
		return "malformed TCP"
	case layers.LayerTypeUDP:
		return "malformed UDP"
	case layers.LayerTypeICMPv4, layers.LayerTypeICMPv6:
		return "malformed ICMP"
	}
	return "malformed"
}
