package traffic

import (
	"fmt"
	"net/netip"

	"golang.org/x/net/bpf"
)

// The capture filter is a classic BPF program, the same on Linux (AF_PACKET)
// and Windows (Npcap). It keeps what the decoder and the discoverer read and
// drops the rest in the kernel:
//   - IPv4 and IPv6, ARP, LLDP;
//   - 802.1Q and 802.1ad tagged frames (whatever they carry);
//   - 802.3 frames with a length instead of a type (LLC, SNAP: CDP);
//   - but not TCP or UDP to or from an excluded address and port (the
//     agent's own uplink), untagged or under one 802.1Q tag.
//
// A kept frame is cut to snaplen bytes by the program's return value, which
// is how AF_PACKET's TPACKET_V3 ring learns the snap length.

// maxExclude bounds the exclude list; the program grows by about twenty
// instructions per IPv6 entry.
const maxExclude = 32

// EtherTypes the filter tests.
const (
	etherIPv4  = 0x0800
	etherARP   = 0x0806
	etherIPv6  = 0x86dd
	etherLLDP  = 0x88cc
	ether8021Q = 0x8100
	ether8021A = 0x88a8
	ether9100  = 0x9100 // pre-standard QinQ
	etherMin   = 0x0600 // smaller values are 802.3 lengths
)

// filterLink is the frame layout a filter is built for.
type filterLink int

const (
	filterEthernet filterLink = iota // Ethernet II / 802.3 frames
	filterRawIP                      // the frame is an IPv4 or IPv6 packet
)

// buildFilter assembles the capture filter for frames of the given layout,
// cutting kept frames to snaplen bytes and dropping TCP and UDP to and from
// every address and port in exclude.
func buildFilter(link filterLink, snaplen int, exclude []netip.AddrPort) ([]bpf.Instruction, error) {
	if snaplen < 1 || snaplen > 262144 {
		return nil, fmt.Errorf("build capture filter: snaplen %d out of range 1-262144", snaplen)
	}
	if len(exclude) > maxExclude {
		return nil, fmt.Errorf("build capture filter: %d excluded addresses, at most %d", len(exclude), maxExclude)
	}
	var v4, v6 []netip.AddrPort
	for _, ap := range exclude {
		a := ap.Addr().Unmap()
		switch {
		case !a.IsValid() || ap.Port() == 0:
			return nil, fmt.Errorf("build capture filter: exclude %s: want address:port", ap)
		case a.Is4():
			v4 = append(v4, netip.AddrPortFrom(a, ap.Port()))
		default:
			v6 = append(v6, netip.AddrPortFrom(a.WithZone(""), ap.Port()))
		}
	}
	a := &asm{keep: uint32(snaplen)}
	switch link {
	case filterEthernet:
		a.ethernet(v4, v6)
	case filterRawIP:
		a.rawIP(v4, v6)
	default:
		return nil, fmt.Errorf("build capture filter: unknown link layout %d", link)
	}
	prog, err := a.assemble()
	if err != nil {
		return nil, fmt.Errorf("build capture filter: %w", err)
	}
	return prog, nil
}

// asm collects a program whose unconditional jumps name labels; conditional
// jumps only ever skip a few instructions, so they never outgrow their
// 8-bit offsets however long the exclude list is.
type asm struct {
	keep   uint32
	prog   []bpf.Instruction
	labels map[string]int
	jumps  map[int]string // index of a bpf.Jump -> its label
}

func (a *asm) emit(ins ...bpf.Instruction) { a.prog = append(a.prog, ins...) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

// jumpTo emits an unconditional jump to a label defined later.
func (a *asm) jumpTo(name string) {
	if a.jumps == nil {
		a.jumps = map[int]string{}
	}
	a.jumps[len(a.prog)] = name
	a.emit(bpf.Jump{})
}

// ifNotEqSkip emits "if A != v, skip the next n instructions".
func (a *asm) ifNotEqSkip(v uint32, n uint8) {
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipFalse: n})
}

// onEq emits "if A == v then <one instruction>", the instruction following.
func (a *asm) onEq(v uint32, then bpf.Instruction) {
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: v, SkipFalse: 1}, then)
}

func (a *asm) retKeep() bpf.Instruction { return bpf.RetConstant{Val: a.keep} }

func retDrop() bpf.Instruction { return bpf.RetConstant{Val: 0} }

func (a *asm) assemble() ([]bpf.Instruction, error) {
	for at, name := range a.jumps {
		to, ok := a.labels[name]
		if !ok || to <= at {
			return nil, fmt.Errorf("jump to undefined or backward label %q", name)
		}
		a.prog[at] = bpf.Jump{Skip: uint32(to - at - 1)}
	}
	if _, err := bpf.Assemble(a.prog); err != nil {
		return nil, err
	}
	return a.prog, nil
}

// ethernet lays out the program for Ethernet frames.
func (a *asm) ethernet(v4, v6 []netip.AddrPort) {
	excl := len(v4)+len(v6) > 0
	a.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.emit(bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: etherMin, SkipFalse: 0, SkipTrue: 1}, a.retKeep()) // 802.3 length: LLC/SNAP
	a.onEq(etherARP, a.retKeep())
	a.onEq(etherLLDP, a.retKeep())
	if !excl {
		a.onEq(etherIPv4, a.retKeep())
		a.onEq(etherIPv6, a.retKeep())
		a.onEq(ether8021Q, a.retKeep())
		a.onEq(ether8021A, a.retKeep())
		a.onEq(ether9100, a.retKeep())
		a.emit(retDrop())
		return
	}
	a.ifNotEqSkip(etherIPv4, 1)
	a.jumpTo("v4@14")
	a.ifNotEqSkip(etherIPv6, 1)
	a.jumpTo("v6@14")
	a.ifNotEqSkip(ether8021Q, 1)
	a.jumpTo("dot1q")
	a.onEq(ether8021A, a.retKeep())
	a.onEq(ether9100, a.retKeep())
	a.emit(retDrop())

	// One 802.1Q tag: IP behind it is checked at offset 18; anything else
	// under a tag is kept (ARP, LLDP, a second tag).
	a.label("dot1q")
	a.emit(bpf.LoadAbsolute{Off: 16, Size: 2})
	a.ifNotEqSkip(etherIPv4, 1)
	a.jumpTo("v4@18")
	a.ifNotEqSkip(etherIPv6, 1)
	a.jumpTo("v6@18")
	a.emit(a.retKeep())

	a.label("v4@14")
	a.ipv4(14, v4)
	a.label("v6@14")
	a.ipv6(14, v6)
	a.label("v4@18")
	a.ipv4(18, v4)
	a.label("v6@18")
	a.ipv6(18, v6)
}

// rawIP lays out the program for frames that are IP packets.
func (a *asm) rawIP(v4, v6 []netip.AddrPort) {
	a.emit(bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4})
	if len(v4)+len(v6) == 0 {
		a.onEq(4, a.retKeep())
		a.onEq(6, a.retKeep())
		a.emit(retDrop())
		return
	}
	a.ifNotEqSkip(4, 1)
	a.jumpTo("v4@0")
	a.ifNotEqSkip(6, 1)
	a.jumpTo("v6@0")
	a.emit(retDrop())
	a.label("v4@0")
	a.ipv4(0, v4)
	a.label("v6@0")
	a.ipv6(0, v6)
}

// tcpOrUDP emits: A holds the IP protocol; keep the frame unless it is TCP
// or UDP.
func (a *asm) tcpOrUDP() {
	a.emit(
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17, SkipTrue: 1},
		a.retKeep(),
	)
}

// ipv4 emits the exclude check of an IPv4 header at offset l; it ends in a
// return on every path.
func (a *asm) ipv4(l uint32, ex []netip.AddrPort) {
	if len(ex) == 0 {
		a.emit(a.retKeep())
		return
	}
	a.emit(bpf.LoadAbsolute{Off: l + 9, Size: 1})
	a.tcpOrUDP()
	// A later fragment carries no ports.
	a.emit(bpf.LoadAbsolute{Off: l + 6, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipFalse: 1}, a.retKeep(),
		bpf.LoadMemShift{Off: l})
	for _, ap := range ex {
		b := ap.Addr().As4()
		addr := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		for _, side := range [2]uint32{0, 4} { // source, destination
			a.emit(
				bpf.LoadAbsolute{Off: l + 12 + side, Size: 4},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: addr, SkipFalse: 3},
				bpf.LoadIndirect{Off: l + side/2, Size: 2},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ap.Port()), SkipFalse: 1},
				retDrop(),
			)
		}
	}
	a.emit(a.retKeep())
}

// ipv6 emits the exclude check of an IPv6 header at offset l. Only TCP and
// UDP right behind the fixed header are recognised; a packet with extension
// headers is kept.
func (a *asm) ipv6(l uint32, ex []netip.AddrPort) {
	if len(ex) == 0 {
		a.emit(a.retKeep())
		return
	}
	a.emit(bpf.LoadAbsolute{Off: l + 6, Size: 1})
	a.tcpOrUDP()
	for _, ap := range ex {
		b := ap.Addr().As16()
		for _, side := range [2]uint32{0, 16} { // source, destination
			// Four words must match: on a mismatch at word i, skip the
			// rest of this side's block.
			for i := uint32(0); i < 4; i++ {
				w := uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
				rest := uint8(2*(3-i) + 3) // the words after this one, then the port check
				a.emit(
					bpf.LoadAbsolute{Off: l + 8 + side + 4*i, Size: 4},
					bpf.JumpIf{Cond: bpf.JumpEqual, Val: w, SkipFalse: rest},
				)
			}
			a.emit(
				bpf.LoadAbsolute{Off: l + 40 + side/8, Size: 2},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ap.Port()), SkipFalse: 1},
				retDrop(),
			)
		}
	}
	a.emit(a.retKeep())
}
