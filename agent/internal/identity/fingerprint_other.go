//go:build !linux && !windows

package identity

import "net"

// systemParts returns the MACs of the interfaces that have a globally unique
// one. Agents run on Linux and Windows; elsewhere this is enough to develop
// on.
func systemParts() parts {
	var p parts
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback == 0 && usableMAC(ifc.HardwareAddr) && ifc.HardwareAddr[0]&2 == 0 {
			p.add("mac", ifc.HardwareAddr.String())
		}
	}
	return p
}
