package traffic

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Live capture on Linux reads an AF_PACKET socket through a ring shared with
// the kernel (TPACKET_V3 where the kernel has it), without cgo. The kernel
// runs the capture filter (bpf.go), which also sets the snap length, and
// fills blocks of frames that ReadPacket hands out without copying.

// afSource is a capture on one interface through an AF_PACKET ring.
type afSource struct {
	tp   *afpacket.TPacket
	link layers.LinkType
}

// blockTimeout is how long the kernel fills a ring block before it hands
// over a block that is not full.
const blockTimeout = 50 * time.Millisecond

// openLive opens a capture on the interface iface.
func openLive(iface string, cfg captureConfig) (source, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("open capture %s: %w", iface, err)
	}
	link, layout, err := linuxLinkType(ifi)
	if err != nil {
		return nil, fmt.Errorf("open capture %s: %w", iface, err)
	}
	snaplen := cmpOr(cfg.Snaplen, defaultSnaplen)
	prog, err := buildFilter(layout, snaplen, cfg.Exclude)
	if err != nil {
		return nil, fmt.Errorf("open capture %s: %w", iface, err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("open capture %s: assemble filter: %w", iface, err)
	}
	frame, block, blocks := captureRing(snaplen, cmpOr(cfg.RingBytes, defaultRingBytes))
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.OptFrameSize(frame),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(blockTimeout),
		afpacket.OptPollTimeout(cmpOr(cfg.PollTimeout, defaultPollTimeout)),
		afpacket.TPacketVersionHighestAvailable,
	)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("open capture %s: %w", iface, ErrNoPrivilege)
		}
		return nil, fmt.Errorf("open capture %s: %w", iface, err)
	}
	if err := tp.SetBPF(raw); err != nil {
		tp.Close()
		return nil, fmt.Errorf("open capture %s: set filter: %w", iface, err)
	}
	if cfg.Promisc {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, fmt.Errorf("open capture %s: promiscuous mode: %w", iface, err)
		}
	}
	return &afSource{tp: tp, link: link}, nil
}

// linuxLinkType tells how frames on the interface begin, from its ARPHRD
// hardware type: an Ethernet header, or straight the IP packet (tunnels,
// WireGuard, PPP).
func linuxLinkType(ifi *net.Interface) (layers.LinkType, filterLink, error) {
	b, err := os.ReadFile("/sys/class/net/" + ifi.Name + "/type")
	if err != nil {
		// No sysfs: an interface with a MAC address speaks Ethernet.
		if len(ifi.HardwareAddr) == 6 || ifi.Flags&net.FlagLoopback != 0 {
			return layers.LinkTypeEthernet, filterEthernet, nil
		}
		return layers.LinkTypeRaw, filterRawIP, nil
	}
	hw, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, 0, fmt.Errorf("read hardware type: %q", b)
	}
	switch hw {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return layers.LinkTypeEthernet, filterEthernet, nil
	case unix.ARPHRD_NONE, unix.ARPHRD_RAWIP, unix.ARPHRD_PPP, unix.ARPHRD_TUNNEL,
		unix.ARPHRD_TUNNEL6, unix.ARPHRD_SIT, unix.ARPHRD_IPGRE:
		return layers.LinkTypeRaw, filterRawIP, nil
	}
	return 0, 0, fmt.Errorf("hardware type %d is neither Ethernet nor IP", hw)
}

// ReadPacket implements source.
func (s *afSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) {
			return nil, ci, errTimeout
		}
		if errors.Is(err, afpacket.ErrPoll) {
			// POLLERR: the socket holds an error, ENETDOWN when the
			// interface went down or away.
			return nil, ci, fmt.Errorf("read capture: %w (interface down or removed)", err)
		}
		return nil, ci, fmt.Errorf("read capture: %w", err)
	}
	return data, ci, nil
}

// LinkType implements source.
func (s *afSource) LinkType() layers.LinkType { return s.link }

// Stats implements source: the kernel's counters since the socket opened
// (its packet count includes the drops).
func (s *afSource) Stats() (packets, dropped uint64) {
	v2, v3, err := s.tp.SocketStats()
	if err != nil {
		return 0, 0
	}
	return uint64(v2.Packets() + v3.Packets()), uint64(v2.Drops() + v3.Drops())
}

// Close implements source.
func (s *afSource) Close() error {
	s.tp.Close()
	return nil
}

// ancillaryVLAN returns the VLAN id of a tag the kernel took off the frame
// (VLAN offload), which afpacket passes beside the data.
func ancillaryVLAN(ci *gopacket.CaptureInfo) (uint16, bool) {
	for _, a := range ci.AncillaryData {
		if v, ok := a.(afpacket.AncillaryVLAN); ok {
			return uint16(v.VLAN), true
		}
	}
	return 0, false
}
