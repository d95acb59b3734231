// Package traffic is the agent's traffic sensor: it captures packets (live,
// or from a pcap/pcapng file), decodes them without allocating, keeps a
// bounded table of flows with both directions merged, classifies each flow's
// ends by zone and judges cross-zone flows against the firewall map, and
// discovers the devices on the local segment from ARP, DHCP, IPv6 neighbour
// discovery, LLDP and CDP.
//
// The parts, each in its own file:
//   - decode.go: Decoder, link layer to transport, into a Packet;
//   - flow.go: Table, the flow table (5-tuple, idle/active timeouts, memory bound);
//   - discover.go: Discoverer, neighbours from the same packets;
//   - analyze.go: Analyze, a capture file to a Report (the `traffic --pcap` command);
//   - capture_*.go: live capture (AF_PACKET on Linux, Npcap on Windows);
//   - sensor.go: the sensor "traffic", emitting flows and neighbours records.
package traffic

import (
	"net/netip"
	"time"
)

// Packet is what the Decoder makes of one captured frame: the flat facts the
// flow table and the discoverer need. A Decoder reuses one Packet; nothing in
// it may be kept past the next Decode (Payload aliases the frame).
type Packet struct {
	At time.Time
	// Link layer; zero MACs when the link type has none (raw IP, loopback).
	SrcMAC, DstMAC [6]byte
	HasMAC         bool
	EtherType      uint16 // of the innermost layer 2 header
	VLAN           uint16 // outer 802.1Q/802.1ad VLAN id, 0 when untagged
	// Network and transport; Proto is 0 for a frame without IP.
	Src, Dst     netip.Addr
	Proto        uint8  // IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6
	SPort, DPort uint16 // ICMP: type and code in DPort as type<<8 | code
	TCPFlags     uint8  // FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10
	Length       int    // IP total length (the bytes a flow counts); frame length without IP
	// Payload is what follows the innermost decoded header: the UDP or TCP
	// payload; for ICMP and ICMPv6 the whole message from its type byte; for
	// a frame without IP the layer 2 payload (the ARP packet, the LLDPDU,
	// the CDP packet after its SNAP header). It aliases the frame.
	Payload []byte
	// L2Proto names a layer 2 protocol the decoder recognised without IP:
	// "arp", "lldp", "cdp"; "" otherwise.
	L2Proto string
}

// TCP flags as Packet.TCPFlags holds them.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagPSH = 0x08
	FlagACK = 0x10
)
