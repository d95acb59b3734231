package traffic

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/windows"
)

// Live capture on Windows goes through Npcap's wpcap.dll, which gopacket's
// pcap package loads at run time (no cgo). Without Npcap the DLL is missing
// and capture says so; the agent runs on without it.

// npcapMu serialises pcap.LoadWinPCAP, which keeps unguarded state.
var npcapMu sync.Mutex

// npcapLoad loads wpcap.dll (a no-op once loaded) and tells a missing DLL
// apart from other errors.
func npcapLoad() error {
	npcapMu.Lock()
	defer npcapMu.Unlock()
	if err := pcap.LoadWinPCAP(); err != nil {
		return fmt.Errorf("%w (%v)", ErrNpcapMissing, err)
	}
	return nil
}

// pcapSource is a capture on one interface through Npcap.
type pcapSource struct {
	h    *pcap.Handle
	link layers.LinkType
}

// openLive opens a capture on the interface iface: a Windows interface
// name ("Ethernet", as net.Interfaces gives it) or an Npcap device name
// (\Device\NPF_{GUID}).
func openLive(iface string, cfg captureConfig) (source, error) {
	if err := npcapLoad(); err != nil {
		return nil, fmt.Errorf("open capture %s: %w", iface, err)
	}
	dev, err := npcapDevice(iface)
	if err != nil {
		return nil, fmt.Errorf("open capture %s: %w", iface, err)
	}
	snaplen := cmpOr(cfg.Snaplen, defaultSnaplen)
	in, err := pcap.NewInactiveHandle(dev)
	if err != nil {
		return nil, fmt.Errorf("open capture %s (%s): %w", iface, dev, err)
	}
	defer in.CleanUp()
	for _, set := range []func() error{
		func() error { return in.SetSnapLen(snaplen) },
		func() error { return in.SetPromisc(cfg.Promisc) },
		func() error { return in.SetTimeout(cmpOr(cfg.PollTimeout, defaultPollTimeout)) },
		func() error { return in.SetBufferSize(cmpOr(cfg.RingBytes, defaultRingBytes)) },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("open capture %s (%s): %w", iface, dev, err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, fmt.Errorf("open capture %s (%s): %w", iface, dev, err)
	}
	link := h.LinkType()
	layout, filtered := filterEthernet, true
	switch link {
	case layers.LinkTypeEthernet:
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		layout = filterRawIP
	default:
		// Npcap's loopback adapter (null link) and others: no filter,
		// the snap length alone applies.
		filtered = false
	}
	if filtered {
		prog, err := buildFilter(layout, snaplen, cfg.Exclude)
		if err == nil {
			err = setPcapFilter(h, prog)
		}
		if err != nil {
			h.Close()
			return nil, fmt.Errorf("open capture %s (%s): %w", iface, dev, err)
		}
	}
	return &pcapSource{h: h, link: link}, nil
}

// setPcapFilter installs a classic BPF program on the handle.
func setPcapFilter(h *pcap.Handle, prog []bpf.Instruction) error {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("assemble filter: %w", err)
	}
	ins := make([]pcap.BPFInstruction, len(raw))
	for i, r := range raw {
		ins[i] = pcap.BPFInstruction{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := h.SetBPFInstructionFilter(ins); err != nil {
		return fmt.Errorf("set filter: %w", err)
	}
	return nil
}

// npcapDevice maps a Windows interface name to its Npcap device: the
// adapter's GUID names it (\Device\NPF_{GUID}); the device must be one
// Npcap lists.
func npcapDevice(iface string) (string, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return "", fmt.Errorf("list Npcap devices: %w", err)
	}
	has := func(name string) bool {
		for _, d := range devs {
			if strings.EqualFold(d.Name, name) {
				return true
			}
		}
		return false
	}
	if strings.HasPrefix(strings.ToLower(iface), `\device\npf_`) {
		if has(iface) {
			return iface, nil
		}
		return "", fmt.Errorf("Npcap has no device %s", iface)
	}
	if guid, err := adapterGUID(iface); err == nil {
		if dev := `\Device\NPF_` + guid; has(dev) {
			return dev, nil
		}
	}
	// Fall back on Npcap's description, then on a shared address.
	for _, d := range devs {
		if strings.EqualFold(d.Description, iface) {
			return d.Name, nil
		}
	}
	if ifi, err := net.InterfaceByName(iface); err == nil {
		if addrs, err := ifi.Addrs(); err == nil {
			for _, d := range devs {
				for _, da := range d.Addresses {
					for _, a := range addrs {
						if n, ok := a.(*net.IPNet); ok && n.IP.Equal(da.IP) {
							return d.Name, nil
						}
					}
				}
			}
		}
	}
	return "", fmt.Errorf("no Npcap device for interface %q", iface)
}

// adapterGUID returns the adapter name ("{GUID}") of the interface whose
// friendly name is iface.
func adapterGUID(iface string) (string, error) {
	size := uint32(16 << 10)
	for range 4 {
		buf := make([]byte, size)
		first := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0]))
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC, windows.GAA_FLAG_SKIP_ANYCAST|windows.GAA_FLAG_SKIP_MULTICAST|windows.GAA_FLAG_SKIP_DNS_SERVER, 0, first, &size)
		if errors.Is(err, windows.ERROR_BUFFER_OVERFLOW) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("GetAdaptersAddresses: %w", err)
		}
		for a := first; a != nil; a = a.Next {
			if strings.EqualFold(windows.UTF16PtrToString(a.FriendlyName), iface) {
				return windows.BytePtrToString(a.AdapterName), nil
			}
		}
		return "", fmt.Errorf("no adapter named %q", iface)
	}
	return "", fmt.Errorf("GetAdaptersAddresses: buffer keeps growing")
}

// ReadPacket implements source.
func (s *pcapSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, pcap.NextErrorTimeoutExpired) {
			return nil, ci, errTimeout
		}
		return nil, ci, fmt.Errorf("read capture: %w", err)
	}
	return data, ci, nil
}

// LinkType implements source.
func (s *pcapSource) LinkType() layers.LinkType { return s.link }

// Stats implements source: the driver's counters since the handle opened.
func (s *pcapSource) Stats() (packets, dropped uint64) {
	st, err := s.h.Stats()
	if err != nil || st == nil {
		return 0, 0
	}
	return uint64(st.PacketsReceived), uint64(st.PacketsDropped + st.PacketsIfDropped)
}

// Close implements source.
func (s *pcapSource) Close() error {
	s.h.Close()
	return nil
}

// ancillaryVLAN: Npcap leaves VLAN tags in the frame.
func ancillaryVLAN(*gopacket.CaptureInfo) (uint16, bool) { return 0, false }
