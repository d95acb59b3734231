package gencap

import (
	"encoding/binary"
	"math/rand/v2"
)

// TCP flags.
const (
	fin = 0x01
	syn = 0x02
	psh = 0x08
	ack = 0x10
)

// next appends the flow's next frame to buf: its first bytes up to Snaplen
// (headers, then zero payload), and returns them with the frame's length on
// the wire. Checksums are those of the whole frame, whose payload is zeros.
func (f *flow) next(rng *rand.Rand, buf []byte) ([]byte, int) {
	fromClient := true
	var ipLen int // IP header, transport header and payload
	var flags uint8
	var seq, ackn uint32
	var icmpType uint8
	l3 := 20
	if f.v6 {
		l3 = 40
	}
	switch f.proto {
	case 6:
		fromClient, flags, ipLen = f.tcpStep(rng, l3)
		if fromClient {
			seq, ackn = f.cseq, f.sseq
		} else {
			seq, ackn = f.sseq, f.cseq
		}
		adv := uint32(ipLen - l3 - 20)
		if flags&(syn|fin) != 0 {
			adv++
		}
		if fromClient {
			f.cseq += adv
		} else {
			f.sseq += adv
		}
		if flags&syn != 0 && flags&ack == 0 {
			ackn = 0
		}
	case 17:
		fromClient = f.pos%2 == 0
		switch {
		case f.dport == 53 && fromClient:
			ipLen = l3 + 8 + 20 + rng.IntN(40)
		case f.dport == 53:
			ipLen = l3 + 8 + 40 + rng.IntN(450)
		default:
			ipLen = l3 + 8 + 50 + rng.IntN(1400-l3)
		}
	default:
		fromClient = f.pos%2 == 0
		ipLen = l3 + 8 + 56 // ping's default 56 bytes of data
		switch {
		case fromClient && f.v6:
			icmpType = 128
		case fromClient:
			icmpType = 8
		case f.v6:
			icmpType = 129
		default:
			icmpType = 0
		}
	}

	src, dst := f.client, f.server
	sport, dport := f.sport, f.dport
	if !fromClient {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	// Ethernet: locally administered MACs made from the addresses.
	b := append(buf, 0x02, 0x00, dst[12], dst[13], dst[14], dst[15])
	b = append(b, 0x02, 0x00, src[12], src[13], src[14], src[15])
	l2 := 14
	if f.vlan != 0 {
		if f.qinq {
			b = binary.BigEndian.AppendUint16(b, 0x88a8)
			b = binary.BigEndian.AppendUint16(b, 100+f.vlan%16) // the provider's tag
			l2 += 4
		}
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, f.vlan)
		l2 += 4
	}
	ipProto := f.proto
	if f.v6 {
		b = binary.BigEndian.AppendUint16(b, 0x86dd)
		if ipProto == 1 {
			ipProto = 58
		}
		b = binary.BigEndian.AppendUint32(b, 0x60000000)
		b = binary.BigEndian.AppendUint16(b, uint16(ipLen-40))
		b = append(b, ipProto, 64)
		b = append(b, src[:]...)
		b = append(b, dst[:]...)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		ip := len(b)
		b = append(b, 0x45, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(ipLen))
		b = binary.BigEndian.AppendUint16(b, uint16(f.pos)) // identification
		b = append(b, 0x40, 0, 64, ipProto, 0, 0)           // DF, TTL, protocol, checksum
		b = append(b, src[12:]...)
		b = append(b, dst[12:]...)
		binary.BigEndian.PutUint16(b[ip+10:], fold(sum(b[ip:ip+20], 0)))
	}
	l4 := len(b)
	l4Len := ipLen - l3
	switch f.proto {
	case 6:
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
		b = binary.BigEndian.AppendUint32(b, seq)
		b = binary.BigEndian.AppendUint32(b, ackn)
		b = append(b, 5<<4, flags, 0xfa, 0xf0, 0, 0, 0, 0) // header length, flags, window 64240
	case 17:
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
		b = binary.BigEndian.AppendUint16(b, uint16(l4Len))
		b = append(b, 0, 0)
	default:
		b = append(b, icmpType, 0, 0, 0)
		b = binary.BigEndian.AppendUint16(b, f.sport)
		b = binary.BigEndian.AppendUint16(b, uint16(f.pos/2+1))
	}
	// The checksum: the payload is zeros, so only the header and the
	// pseudo-header (not for ICMPv4) count.
	var s uint32
	if !(f.proto == 1 && !f.v6) {
		if f.v6 {
			s = sum(src[:], s)
			s = sum(dst[:], s)
		} else {
			s = sum(src[12:], s)
			s = sum(dst[12:], s)
		}
		s += uint32(ipProto) + uint32(l4Len)
	}
	c := fold(sum(b[l4:], s))
	if f.proto == 17 && c == 0 {
		c = 0xffff
	}
	switch f.proto {
	case 6:
		binary.BigEndian.PutUint16(b[l4+16:], c)
	case 17:
		binary.BigEndian.PutUint16(b[l4+6:], c)
	default:
		binary.BigEndian.PutUint16(b[l4+2:], c)
	}

	wire := max(60, l2+ipLen) // short frames are padded on the wire
	for len(b) < min(wire, Snaplen) {
		b = append(b, 0)
	}
	return b, wire
}

// tcpStep returns the direction, flags and IP length of a TCP flow's next
// packet: SYN, SYN-ACK and ACK, then a request and responses (the server's
// mostly full-sized), then a FIN from each side when the flow has at least
// five packets.
func (f *flow) tcpStep(rng *rand.Rand, l3 int) (fromClient bool, flags uint8, ipLen int) {
	hdr := l3 + 20
	p, n := f.pos, f.n
	switch {
	case p == 0:
		return true, syn, hdr
	case p == 1:
		return false, syn | ack, hdr
	case n >= 5 && p == n-2:
		return true, fin | ack, hdr
	case n >= 5 && p == n-1:
		return false, fin | ack, hdr
	case p == 2 && n >= 6:
		return true, ack, hdr
	}
	if (p-3)%3 == 0 || n < 6 && p == 2 {
		return true, psh | ack, hdr + 80 + rng.IntN(520) // a request
	}
	if rng.IntN(10) < 7 {
		return false, ack, 1500 // a full segment
	}
	return false, psh | ack, hdr + 1 + rng.IntN(1500-hdr)
}

// sum adds b as big-endian 16-bit words to s (the Internet checksum before
// folding).
func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

// fold folds s to 16 bits and complements it.
func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
