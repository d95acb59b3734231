package identity

import (
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

func systemParts() parts {
	return sysfsParts("/", ethtoolPermAddr)
}

// ethtoolPermAddr asks a NIC's driver for its permanent address
// (ETHTOOL_GPERMADDR), which needs no privilege and holds even while the
// current address is randomised or set by hand.
func ethtoolPermAddr(ifname string) (net.HardwareAddr, error) {
	if len(ifname) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("interface name %q too long", ifname)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open ethtool socket: %w", err)
	}
	defer unix.Close(fd)

	const maxAddrLen = 32 // MAX_ADDR_LEN
	var pa struct {       // struct ethtool_perm_addr
		cmd  uint32
		size uint32
		data [maxAddrLen]byte
	}
	pa.cmd, pa.size = unix.ETHTOOL_GPERMADDR, maxAddrLen
	var ifr struct { // struct ifreq with ifr_data; padded past the kernel's size
		name [unix.IFNAMSIZ]byte
		data unsafe.Pointer
		_    [24]byte
	}
	copy(ifr.name[:], ifname)
	ifr.data = unsafe.Pointer(&pa)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return nil, fmt.Errorf("ethtool permanent address of %s: %w", ifname, errno)
	}
	if pa.size > maxAddrLen {
		return nil, fmt.Errorf("ethtool permanent address of %s: %d bytes", ifname, pa.size)
	}
	return net.HardwareAddr(pa.data[:pa.size]), nil
}
