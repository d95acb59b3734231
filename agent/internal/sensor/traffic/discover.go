package traffic

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Discoverer learns the devices on the local segment from the discovery
// traffic among the captured packets: ARP, DHCPv4, IPv6 neighbour discovery,
// LLDP and CDP. Devices are known by MAC address. The capture goroutine calls
// Observe while another goroutine takes the devices; only discovery packets
// take the lock.
type Discoverer struct {
	oui *OUI
	max int

	mu      sync.Mutex
	devs    map[[6]byte]*discDevice
	changed []*discDevice // devices with changed set, in no order
	dropped uint64
}

// Bounds of what a Discoverer keeps.
const (
	discMaxDevices = 65536 // devices; more are dropped and counted
	discMaxIPs     = 32    // addresses per device; the one seen longest ago gives way
	discObsIPs     = 8     // addresses taken from one packet
	discMaxText    = 256   // bytes of a name, port or platform
)

// Protocols a device was seen by, as bits in alphabetical order of their
// names so that SeenBy comes out sorted.
const (
	discViaARP uint8 = 1 << iota
	discViaCDP
	discViaDHCP
	discViaLLDP
	discViaNDP
)

var discViaNames = [...]string{wire.ViaARP, wire.ViaCDP, wire.ViaDHCP, wire.ViaLLDP, wire.ViaNDP}

// discRank orders the sources of names, ports and platforms: a value from a
// source of lower rank never replaces one from a higher rank, so a device
// that speaks both LLDP and CDP does not flip between two names.
func discRank(via uint8) uint8 {
	switch via {
	case discViaLLDP:
		return 3
	case discViaCDP:
		return 2
	case discViaDHCP:
		return 1
	}
	return 0
}

// discDevice is what is known of one device.
type discDevice struct {
	mac                               [6]byte
	vendor                            string
	ips                               []discIP
	name, vendorClass, port, platform string
	nameRank, portRank, platformRank  uint8
	via                               uint8
	first, last                       int64
	vlan                              uint16
	changed                           bool
}

// discIP is one address of a device. A tentative address is one a DHCP
// client asked for and no other packet confirmed yet; a DHCP NAK for the
// client removes it.
type discIP struct {
	addr      netip.Addr
	last      int64
	tentative bool
}

// discObs is what one packet says about one device.
type discObs struct {
	mac                               [6]byte
	via                               uint8
	ips                               [discObsIPs]netip.Addr
	nIPs                              int
	tentative                         bool // the addresses are DHCP requests
	name, vendorClass, port, platform string
	noVLAN                            bool // the packet's VLAN is not the device's (relayed DHCP)
}

func (o *discObs) addIP(a netip.Addr) {
	a = a.Unmap()
	if !discUsableIP(a) || o.nIPs == len(o.ips) {
		return
	}
	for _, b := range o.ips[:o.nIPs] {
		if a == b {
			return
		}
	}
	o.ips[o.nIPs] = a
	o.nIPs++
}

// NewDiscoverer returns a Discoverer that names vendors from o (which may be
// nil).
func NewDiscoverer(o *OUI) *Discoverer {
	return &Discoverer{oui: o, max: discMaxDevices, devs: make(map[[6]byte]*discDevice)}
}

// Observe learns from one decoded packet. Packets that are not discovery
// traffic cost a few comparisons and no allocation.
func (d *Discoverer) Observe(p *Packet) {
	if !IsDiscovery(p) {
		return
	}
	switch {
	case p.L2Proto == "arp":
		d.observeARP(p)
	case p.L2Proto == "lldp":
		d.observeLLDP(p)
	case p.L2Proto == "cdp":
		d.observeCDP(p)
	case p.Proto == 17:
		d.observeDHCP(p)
	case p.Proto == 58:
		d.observeNDP(p)
	}
}

// IsDiscovery reports whether a packet is one the Discoverer learns from:
// ARP, LLDP or CDP, DHCP between ports 67 and 68, or an ICMPv6 router or
// neighbour discovery message (types 133 to 137). It is cheap, so that a
// caller can put off loading what discovery needs until such a packet comes.
func IsDiscovery(p *Packet) bool {
	switch {
	case p.L2Proto != "":
		return p.L2Proto == "arp" || p.L2Proto == "lldp" || p.L2Proto == "cdp"
	case p.Proto == 17:
		return discDHCPPort(p.SPort) && discDHCPPort(p.DPort)
	case p.Proto == 58:
		return len(p.Payload) > 0 && p.Payload[0] >= 133 && p.Payload[0] <= 137
	}
	return false
}

func discDHCPPort(port uint16) bool { return port == 67 || port == 68 }

// Devices returns every device known, sorted by MAC address, each with its
// addresses sorted (IPv4 before IPv6) and the protocols it was seen by
// sorted.
func (d *Discoverer) Devices() []wire.Neighbour {
	d.mu.Lock()
	defer d.mu.Unlock()
	devs := make([]*discDevice, 0, len(d.devs))
	for _, dev := range d.devs {
		devs = append(devs, dev)
	}
	return discNeighbours(devs)
}

// TakeChanged returns the devices that are new or changed (a new address,
// name, vendor class, port, platform, VLAN or protocol) since the last call,
// sorted by MAC address, or nil when none is.
func (d *Discoverer) TakeChanged() []wire.Neighbour {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.changed) == 0 {
		return nil
	}
	devs := d.changed
	d.changed = nil
	for _, dev := range devs {
		dev.changed = false
	}
	return discNeighbours(devs)
}

// Dropped returns the number of devices not kept because the Discoverer
// was full.
func (d *Discoverer) Dropped() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// discNeighbours converts devices to neighbours, sorted by MAC address.
// The caller holds the lock.
func discNeighbours(devs []*discDevice) []wire.Neighbour {
	slices.SortFunc(devs, func(a, b *discDevice) int { return bytes.Compare(a.mac[:], b.mac[:]) })
	out := make([]wire.Neighbour, len(devs))
	for i, dev := range devs {
		out[i] = dev.neighbour()
	}
	return out
}

func (dev *discDevice) neighbour() wire.Neighbour {
	n := wire.Neighbour{
		MAC:         net.HardwareAddr(dev.mac[:]).String(),
		Name:        dev.name,
		Vendor:      dev.vendor,
		VendorClass: dev.vendorClass,
		First:       dev.first,
		Last:        dev.last,
		Port:        dev.port,
		Platform:    dev.platform,
		VLAN:        dev.vlan,
		SeenBy:      []string{},
	}
	if len(dev.ips) > 0 {
		addrs := make([]netip.Addr, len(dev.ips))
		for i, ip := range dev.ips {
			addrs[i] = ip.addr
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		n.IPs = make([]string, len(addrs))
		for i, a := range addrs {
			n.IPs[i] = a.String()
		}
	}
	for i, name := range discViaNames {
		if dev.via&(1<<i) != 0 {
			n.SeenBy = append(n.SeenBy, name)
		}
	}
	return n
}

// learn merges what a packet said about a device.
func (d *Discoverer) learn(o *discObs, p *Packet) {
	if !discUsableMAC(o.mac) {
		return
	}
	var at int64
	if !p.At.IsZero() {
		at = p.At.UnixNano()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	dev := d.devs[o.mac]
	if dev == nil {
		if len(d.devs) >= d.max {
			d.dropped++
			return
		}
		dev = &discDevice{mac: o.mac, vendor: d.oui.Vendor(o.mac), first: at, last: at}
		d.devs[o.mac] = dev
		d.markLocked(dev)
	}
	if at != 0 {
		if dev.first == 0 || at < dev.first {
			dev.first = at
		}
		if at > dev.last {
			dev.last = at
		}
	}
	changed := false
	if dev.via&o.via == 0 {
		dev.via |= o.via
		changed = true
	}
	for _, a := range o.ips[:o.nIPs] {
		if dev.addIP(a, at, o.tentative) {
			changed = true
		}
	}
	rank := discRank(o.via)
	if discSet(&dev.name, &dev.nameRank, o.name, rank) {
		changed = true
	}
	if discSet(&dev.port, &dev.portRank, o.port, rank) {
		changed = true
	}
	if discSet(&dev.platform, &dev.platformRank, o.platform, rank) {
		changed = true
	}
	if o.vendorClass != "" && o.vendorClass != dev.vendorClass {
		dev.vendorClass = o.vendorClass
		changed = true
	}
	if p.VLAN != 0 && !o.noVLAN && p.VLAN != dev.vlan {
		dev.vlan = p.VLAN
		changed = true
	}
	if changed {
		d.markLocked(dev)
	}
}

// forget removes a device's addresses that drop says to: those a DHCP
// client asked for and was refused (a NAK), or one it declined because
// another device uses it.
func (d *Discoverer) forget(mac [6]byte, drop func(discIP) bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dev := d.devs[mac]
	if dev == nil {
		return
	}
	n := len(dev.ips)
	dev.ips = slices.DeleteFunc(dev.ips, drop)
	if len(dev.ips) != n {
		d.markLocked(dev)
	}
}

func (d *Discoverer) markLocked(dev *discDevice) {
	if !dev.changed {
		dev.changed = true
		d.changed = append(d.changed, dev)
	}
}

// addIP adds or refreshes an address and reports whether it is new.
func (dev *discDevice) addIP(a netip.Addr, at int64, tentative bool) bool {
	for i := range dev.ips {
		ip := &dev.ips[i]
		if ip.addr == a {
			if at > ip.last {
				ip.last = at
			}
			if !tentative {
				ip.tentative = false
			}
			return false
		}
	}
	ip := discIP{addr: a, last: at, tentative: tentative}
	if len(dev.ips) < discMaxIPs {
		dev.ips = append(dev.ips, ip)
		return true
	}
	oldest := 0
	for i := range dev.ips {
		if dev.ips[i].last < dev.ips[oldest].last {
			oldest = i
		}
	}
	dev.ips[oldest] = ip
	return true
}

// discSet sets a text field unless v is empty or comes from a source of
// lower rank than the present value, and reports whether the value changed.
func discSet(field *string, rank *uint8, v string, r uint8) bool {
	if v == "" || r < *rank {
		return false
	}
	*rank = r
	if v == *field {
		return false
	}
	*field = v
	return true
}

// discUsableMAC reports whether a MAC address can be a device's: not zero,
// not a group (multicast or broadcast) address.
func discUsableMAC(m [6]byte) bool {
	return m != [6]byte{} && m[0]&0x01 == 0
}

// discUsableIP reports whether an address can be a device's own.
func discUsableIP(a netip.Addr) bool {
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
		return false
	}
	return a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// observeARP learns the sender of an ARP request or reply (gratuitous ARP
// included): its MAC address, and its IPv4 address unless it probes with
// 0.0.0.0.
func (d *Discoverer) observeARP(p *Packet) {
	b := p.Payload
	if len(b) < 28 || binary.BigEndian.Uint16(b[0:2]) != 1 || binary.BigEndian.Uint16(b[2:4]) != 0x0800 ||
		b[4] != 6 || b[5] != 4 {
		return
	}
	if op := binary.BigEndian.Uint16(b[6:8]); op != 1 && op != 2 {
		return
	}
	o := discObs{via: discViaARP}
	copy(o.mac[:], b[8:14])
	o.addIP(netip.AddrFrom4([4]byte(b[14:18])))
	d.learn(&o, p)
}

// DHCP message types (option 53).
const (
	discDHCPDiscover = 1
	discDHCPRequest  = 3
	discDHCPDecline  = 4
	discDHCPAck      = 5
	discDHCPNak      = 6
	discDHCPInform   = 8
)

var discDHCPCookie = []byte{99, 130, 83, 99}

// discDHCPOptions is what a DHCPv4 message's options say.
type discDHCPOptions struct {
	msgType     byte
	hostName    []byte
	fqdn        []byte // option 81, as sent
	vendorClass []byte
	requested   netip.Addr
	server      netip.Addr
}

// parse reads the options after the magic cookie. An option cut short (a
// capture's snap length) ends them: those before it are whole.
func (o *discDHCPOptions) parse(b []byte) {
	for len(b) > 0 {
		code := b[0]
		if code == 0 {
			b = b[1:]
			continue
		}
		if code == 255 || len(b) < 2 || len(b) < 2+int(b[1]) {
			return
		}
		v := b[2 : 2+int(b[1])]
		b = b[2+len(v):]
		switch code {
		case 53:
			if len(v) == 1 {
				o.msgType = v[0]
			}
		case 12:
			o.hostName = v
		case 81:
			o.fqdn = v
		case 60:
			o.vendorClass = v
		case 50:
			if len(v) == 4 {
				o.requested = netip.AddrFrom4([4]byte(v))
			}
		case 54:
			if len(v) == 4 {
				o.server = netip.AddrFrom4([4]byte(v))
			}
		}
	}
}

// observeDHCP learns from a DHCPv4 message: from a client's, its MAC
// address (chaddr), host name (option 12, or 81), vendor class (60) and the
// addresses it has (ciaddr) or asks for (50, kept as tentative until
// confirmed, dropped on a NAK; a DECLINE drops the address declined); from a
// server's ACK the address it gives the client (yiaddr), and the server
// itself (54) when it sent the frame. The vendor class in a server's reply
// is the server's and is not taken.
func (d *Discoverer) observeDHCP(p *Packet) {
	b := p.Payload
	if len(b) < 34 || (b[0] != 1 && b[0] != 2) || b[1] != 1 || b[2] != 6 {
		return
	}
	if len(b) < 240 {
		// Cut before the options by a short snap length: a client's
		// request still names the client when the frame came from it.
		if b[0] == 1 && p.HasMAC && bytes.Equal(b[28:34], p.SrcMAC[:]) && [4]byte(b[24:28]) == [4]byte{} {
			d.learn(&discObs{mac: p.SrcMAC, via: discViaDHCP}, p)
		}
		return
	}
	if !bytes.Equal(b[236:240], discDHCPCookie) {
		return
	}
	var opts discDHCPOptions
	opts.parse(b[240:])
	ciaddr := netip.AddrFrom4([4]byte(b[12:16]))
	yiaddr := netip.AddrFrom4([4]byte(b[16:20]))
	relayed := !netip.AddrFrom4([4]byte(b[24:28])).IsUnspecified()
	var client [6]byte
	copy(client[:], b[28:34])

	if b[0] == 1 { // from a client
		o := discObs{mac: client, via: discViaDHCP, noVLAN: relayed}
		o.name = discCleanText(opts.hostName, discMaxText)
		if o.name == "" {
			o.name = discFQDN(opts.fqdn)
		}
		o.vendorClass = discCleanText(opts.vendorClass, discMaxText)
		switch opts.msgType {
		case discDHCPRequest, discDHCPInform:
			// A client in RENEWING or REBINDING, or informing, has ciaddr.
			o.addIP(ciaddr)
		}
		d.learn(&o, p)
		switch opts.msgType {
		case discDHCPDiscover, discDHCPRequest:
			if opts.requested.IsValid() {
				t := discObs{mac: client, via: discViaDHCP, tentative: true, noVLAN: relayed}
				t.addIP(opts.requested)
				d.learn(&t, p)
			}
		case discDHCPDecline:
			if r := opts.requested; r.IsValid() {
				d.forget(client, func(ip discIP) bool { return ip.addr == r })
			}
		}
		return
	}

	// From a server (or a relay).
	switch opts.msgType {
	case discDHCPAck:
		o := discObs{mac: client, via: discViaDHCP, noVLAN: relayed}
		o.addIP(yiaddr)
		if o.nIPs > 0 {
			d.learn(&o, p)
		}
	case discDHCPNak:
		d.forget(client, func(ip discIP) bool { return ip.tentative })
	}
	if opts.server.IsValid() && p.HasMAC && p.Src.Unmap() == opts.server {
		s := discObs{mac: p.SrcMAC, via: discViaDHCP}
		s.addIP(opts.server)
		d.learn(&s, p)
	}
}

// discFQDN returns the name in a DHCP client FQDN option (81, RFC 4702):
// three bytes of flags and codes, then the name, in DNS wire form when flag
// E is set.
func discFQDN(v []byte) string {
	if len(v) < 4 {
		return ""
	}
	flags, name := v[0], v[3:]
	if flags&0x04 == 0 {
		return discCleanText(name, discMaxText)
	}
	var sb strings.Builder
	for len(name) > 0 && name[0] != 0 {
		l := int(name[0])
		if l > 63 || 1+l > len(name) {
			return ""
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.Write(name[1 : 1+l])
		name = name[1+l:]
	}
	return discCleanText(sb.String(), discMaxText)
}

// observeNDP learns from IPv6 router and neighbour solicitations and
// advertisements and redirects: link-layer addresses with the addresses
// they belong to.
func (d *Discoverer) observeNDP(p *Packet) {
	b := p.Payload
	if len(b) < 4 || b[1] != 0 || !p.Src.Is6() {
		return
	}
	typ := b[0]
	var optAt int
	switch typ {
	case 133: // router solicitation
		optAt = 8
	case 134: // router advertisement
		optAt = 16
	case 135, 136: // neighbour solicitation, advertisement
		optAt = 24
	case 137: // redirect
		optAt = 40
	default:
		return
	}
	if len(b) < optAt {
		return
	}
	// Options; a zero length or an overrun makes the message invalid
	// (RFC 4861 section 4.6).
	var srcLL, tgtLL [6]byte
	var hasSrcLL, hasTgtLL bool
	for opts := b[optAt:]; len(opts) > 0; {
		if len(opts) < 2 {
			return
		}
		l := int(opts[1]) * 8
		if l == 0 || l > len(opts) {
			return
		}
		switch opts[0] {
		case 1:
			copy(srcLL[:], opts[2:8])
			hasSrcLL = true
		case 2:
			copy(tgtLL[:], opts[2:8])
			hasTgtLL = true
		}
		opts = opts[l:]
	}
	src := p.Src
	switch typ {
	case 133, 134, 135:
		// The sender, by its source link-layer address option or the
		// frame. A duplicate address detection probe (from ::) gives the
		// MAC address only.
		o := discObs{via: discViaNDP}
		switch {
		case hasSrcLL:
			o.mac = srcLL
		case p.HasMAC:
			o.mac = p.SrcMAC
		default:
			return
		}
		o.addIP(src)
		d.learn(&o, p)
	case 136:
		// The target address belongs to the advertiser.
		o := discObs{via: discViaNDP}
		switch {
		case hasTgtLL:
			o.mac = tgtLL
		case p.HasMAC:
			o.mac = p.SrcMAC
		default:
			return
		}
		o.addIP(netip.AddrFrom16([16]byte(b[8:24])))
		d.learn(&o, p)
	case 137:
		// The router that redirects, and the better first hop when the
		// redirect names its link-layer address.
		if p.HasMAC {
			r := discObs{mac: p.SrcMAC, via: discViaNDP}
			r.addIP(src)
			d.learn(&r, p)
		}
		if hasTgtLL {
			t := discObs{mac: tgtLL, via: discViaNDP}
			t.addIP(netip.AddrFrom16([16]byte(b[8:24])))
			d.learn(&t, p)
		}
	}
}

// LLDP TLV types and subtypes used here (IEEE 802.1AB).
const (
	discLLDPEnd       = 0
	discLLDPChassisID = 1
	discLLDPPortID    = 2
	discLLDPTTL       = 3
	discLLDPPortDesc  = 4
	discLLDPSysName   = 5
	discLLDPSysDesc   = 6
	discLLDPMgmtAddr  = 8

	discLLDPSubMAC  = 4 // chassis ID subtype MAC address
	discLLDPSubAddr = 5 // chassis ID subtype network address
	discLLDPPortMAC = 3 // port ID subtype MAC address
	discLLDPPortNet = 4 // port ID subtype network address
)

// observeLLDP learns from an LLDPDU: the chassis (by its MAC address, or
// the frame's source), the port, the system name and description and the
// management addresses.
func (d *Discoverer) observeLLDP(p *Packet) {
	b := p.Payload
	o := discObs{via: discViaLLDP}
	var hasChassisMAC, portIsText bool
	var portID, portDesc string
	n := 0
tlvs:
	for len(b) >= 2 {
		t := int(b[0] >> 1)
		l := int(b[0]&1)<<8 | int(b[1])
		if len(b) < 2+l {
			break // truncated capture: keep what came before
		}
		v := b[2 : 2+l]
		b = b[2+l:]
		// An LLDPDU starts with the chassis ID, port ID and TTL, in order.
		if n < 3 && t != n+1 {
			return
		}
		n++
		switch t {
		case discLLDPEnd:
			break tlvs
		case discLLDPChassisID:
			if l < 2 {
				return
			}
			switch {
			case v[0] == discLLDPSubMAC && l == 7:
				copy(o.mac[:], v[1:])
				hasChassisMAC = true
			case v[0] == discLLDPSubAddr:
				o.addIP(discFamilyAddr(v[1:]))
			}
		case discLLDPPortID:
			if l < 2 {
				return
			}
			switch v[0] {
			case discLLDPPortMAC:
				if l == 7 {
					portID = net.HardwareAddr(v[1:]).String()
				}
			case discLLDPPortNet:
				if a := discFamilyAddr(v[1:]); a.IsValid() {
					portID = a.String()
				}
			default:
				portID = discCleanText(v[1:], discMaxText)
				portIsText = portID != ""
			}
		case discLLDPTTL:
			if l < 2 {
				return
			}
		case discLLDPPortDesc:
			portDesc = discCleanText(v, discMaxText)
		case discLLDPSysName:
			o.name = discCleanText(v, discMaxText)
		case discLLDPSysDesc:
			o.platform = discCleanText(v, discMaxText)
		case discLLDPMgmtAddr:
			// Address string length (counting the family byte), family,
			// address, then interface and OID fields not used here.
			if l >= 1 {
				if al := int(v[0]); al >= 2 && 1+al <= l {
					o.addIP(discFamilyAddr(v[1 : 1+al]))
				}
			}
		}
	}
	if n < 3 {
		return
	}
	if !hasChassisMAC {
		if !p.HasMAC {
			return
		}
		o.mac = p.SrcMAC
	}
	switch {
	case portIsText:
		o.port = portID
	case portDesc != "":
		o.port = portDesc
	default:
		o.port = portID
	}
	d.learn(&o, p)
}

// discFamilyAddr reads an address prefixed by its IANA address family
// (1 IPv4, 2 IPv6), or returns the zero Addr.
func discFamilyAddr(v []byte) netip.Addr {
	switch {
	case len(v) == 5 && v[0] == 1:
		return netip.AddrFrom4([4]byte(v[1:]))
	case len(v) == 17 && v[0] == 2:
		return netip.AddrFrom16([16]byte(v[1:]))
	}
	return netip.Addr{}
}

// CDP TLV types used here.
const (
	discCDPDeviceID = 0x0001
	discCDPAddrs    = 0x0002
	discCDPPortID   = 0x0003
	discCDPPlatform = 0x0006
	discCDPMgmtAddr = 0x0016
)

// observeCDP learns from a CDP packet (after its SNAP header): the device
// ID, addresses, port and platform of the frame's sender.
func (d *Discoverer) observeCDP(p *Packet) {
	b := p.Payload
	if !p.HasMAC || len(b) < 4 || (b[0] != 1 && b[0] != 2) {
		return
	}
	b = b[4:] // version, TTL, checksum
	o := discObs{mac: p.SrcMAC, via: discViaCDP}
	n := 0
	for len(b) >= 4 {
		t := binary.BigEndian.Uint16(b[0:2])
		l := int(binary.BigEndian.Uint16(b[2:4]))
		if l < 4 || l > len(b) {
			break
		}
		v := b[4:l]
		b = b[l:]
		n++
		switch t {
		case discCDPDeviceID:
			o.name = discCleanText(v, discMaxText)
		case discCDPAddrs, discCDPMgmtAddr:
			discCDPAddresses(v, &o)
		case discCDPPortID:
			o.port = discCleanText(v, discMaxText)
		case discCDPPlatform:
			o.platform = discCleanText(v, discMaxText)
		}
	}
	if n == 0 {
		return
	}
	d.learn(&o, p)
}

// discCDPAddresses reads a CDP address list: a count, then each address as
// protocol type, protocol length, protocol, address length, address. IPv4
// is NLPID 0xcc; IPv6 an 802.2 header ending in EtherType 0x86dd.
func discCDPAddresses(v []byte, o *discObs) {
	if len(v) < 4 {
		return
	}
	count := binary.BigEndian.Uint32(v[0:4])
	v = v[4:]
	for ; count > 0 && len(v) >= 2; count-- {
		pl := int(v[1])
		if len(v) < 2+pl+2 {
			return
		}
		proto := v[2 : 2+pl]
		al := int(binary.BigEndian.Uint16(v[2+pl : 4+pl]))
		if len(v) < 4+pl+al {
			return
		}
		addr := v[4+pl : 4+pl+al]
		v = v[4+pl+al:]
		switch {
		case pl == 1 && proto[0] == 0xcc && al == 4:
			o.addIP(netip.AddrFrom4([4]byte(addr)))
		case pl == 8 && proto[6] == 0x86 && proto[7] == 0xdd && al == 16:
			o.addIP(netip.AddrFrom16([16]byte(addr)))
		}
	}
}

// discCleanText makes wire text fit to keep and report: a NUL ends it,
// control characters become spaces, invalid UTF-8 becomes U+FFFD, spaces
// are trimmed at both ends and the result is cut to at most max bytes on a
// character boundary.
func discCleanText[T string | []byte](s T, max int) string {
	plain := len(s) <= max
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= 0x20 && s[i] < 0x7f
	}
	if plain && (len(s) == 0 || (s[0] != ' ' && s[len(s)-1] != ' ')) {
		return string(s)
	}
	var sb strings.Builder
	for _, r := range string(s) {
		if r == 0 {
			break
		}
		if !unicode.IsPrint(r) {
			r = ' '
		}
		if sb.Len()+utf8.RuneLen(r) > max+1 { // +1: a trailing space is trimmed below
			break
		}
		sb.WriteRune(r)
	}
	out := strings.TrimSpace(sb.String())
	for len(out) > max {
		_, size := utf8.DecodeLastRuneInString(out)
		out = strings.TrimSpace(out[:len(out)-size])
	}
	return out
}
