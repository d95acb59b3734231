package identity

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

func systemParts() parts {
	var p parts
	guid, _ := machineGUID()
	p.add("machine-guid", guid)
	if raw, err := rawSMBIOS(); err == nil {
		if ids, err := parseRawSMBIOS(raw); err == nil {
			p.add("product-uuid", ids.UUID)
			p.add("product-serial", ids.ProductSerial)
			p.add("board-serial", ids.BoardSerial)
		}
	}
	macs, _ := hardwareMACs()
	for _, m := range macs {
		p.add("mac", m)
	}
	return p
}

// machineGUID returns the MachineGuid that Windows Setup writes under
// HKLM\SOFTWARE\Microsoft\Cryptography, read from the 64-bit view of the
// registry (the only one that holds it) even in a 32-bit process.
func machineGUID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if err != nil {
		return "", fmt.Errorf("open cryptography key: %w", err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	if err != nil {
		return "", fmt.Errorf("read MachineGuid: %w", err)
	}
	return strings.ToLower(strings.Trim(v, "{} ")), nil
}

var procGetSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

// rawSMBIOS returns the SMBIOS table as GetSystemFirmwareTable('RSMB') gives
// it; no privilege is needed.
func rawSMBIOS() ([]byte, error) {
	const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'
	if err := procGetSystemFirmwareTable.Find(); err != nil {
		return nil, err
	}
	for range 3 {
		n, _, err := procGetSystemFirmwareTable.Call(rsmb, 0, 0, 0)
		if n == 0 {
			return nil, fmt.Errorf("get smbios table size: %w", err)
		}
		buf := make([]byte, n)
		m, _, err := procGetSystemFirmwareTable.Call(rsmb, 0, uintptr(unsafe.Pointer(&buf[0])), n)
		if m == 0 {
			return nil, fmt.Errorf("get smbios table: %w", err)
		}
		if m <= n {
			return buf[:m], nil
		}
		// The table grew between the two calls; ask again.
	}
	return nil, errors.New("get smbios table: size keeps changing")
}

// hardwareMACs returns the permanent addresses of the hardware NICs: rows of
// the interface table marked HardwareInterface and not FilterInterface (a
// filter driver's row repeats its NIC's address), that are not on USB.
func hardwareMACs() ([]string, error) {
	var t *windows.MibIfTable2
	if err := windows.GetIfTable2Ex(windows.MibIfTableNormalWithoutStatistics, &t); err != nil {
		return nil, fmt.Errorf("get interface table: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(t))
	// InterfaceAndOperStatusFlags bits, lowest first (netioapi.h).
	const hardwareInterface, filterInterface = 1 << 0, 1 << 1
	var out []string
	for _, r := range unsafe.Slice(&t.Table[0], t.NumEntries) {
		if r.InterfaceAndOperStatusFlags&hardwareInterface == 0 || r.InterfaceAndOperStatusFlags&filterInterface != 0 {
			continue
		}
		if r.PhysicalAddressLength != 6 || onUSB(r.InterfaceGuid) {
			continue
		}
		if hw := net.HardwareAddr(r.PermanentPhysicalAddress[:6]); usableMAC(hw) {
			out = append(out, hw.String())
		}
	}
	return out, nil
}

// onUSB reports whether the network adapter with interface GUID g is a USB
// device, by the Plug and Play instance id Windows keeps for its connection.
func onUSB(g windows.GUID) bool {
	const netClass = `SYSTEM\CurrentControlSet\Control\Network\{4D36E972-E325-11CE-BFC1-08002BE10318}\`
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, netClass+g.String()+`\Connection`, registry.QUERY_VALUE)
	if err != nil {
		return false
	}
	defer k.Close()
	id, _, err := k.GetStringValue("PnPInstanceId")
	return err == nil && strings.HasPrefix(strings.ToUpper(id), `USB\`)
}
