package inventory

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func fillHardware(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	hw := &wire.Hardware{}
	bios, err := hwBIOSKey()
	if err != nil {
		warn("read bios key: %v", err)
	}
	raw, err := hwRawSMBIOS()
	if err != nil {
		warn("read smbios table: %v", err)
	}
	if hw.System, err = windowsSystem(bios, raw); err != nil {
		warn("%v", err)
	}
	disks, errDisks := windowsDisks(ctx, hwLiveDisks{}, warn)
	hw.Disks = disks
	nodes, errUSB := hwUSBNodes(ctx)
	hw.USB = windowsUSB(nodes, systemUSBIDs)
	inv.Hardware = hw
	return errors.Join(errDisks, errUSB)
}

// hwBIOSValues are the values of HKLM\HARDWARE\DESCRIPTION\System\BIOS that
// windowsSystem uses.
var hwBIOSValues = []string{"SystemManufacturer", "SystemProductName", "BIOSVendor", "BIOSVersion"}

// hwBIOSKey reads the BIOS key Windows fills from SMBIOS at boot.
func hwBIOSKey() (map[string]string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `HARDWARE\DESCRIPTION\System\BIOS`, registry.QUERY_VALUE)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	vals := map[string]string{}
	for _, n := range hwBIOSValues {
		if s, _, err := k.GetStringValue(n); err == nil {
			vals[n] = s
		}
	}
	return vals, nil
}

var hwGetSystemFirmwareTable = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetSystemFirmwareTable")

// hwRawSMBIOS returns the SMBIOS table as GetSystemFirmwareTable('RSMB')
// gives it; no privilege is needed. The call returns the size it needs when
// the buffer is too small, and 0 on failure.
func hwRawSMBIOS() ([]byte, error) {
	const rsmb = 'R'<<24 | 'S'<<16 | 'M'<<8 | 'B'
	if err := hwGetSystemFirmwareTable.Find(); err != nil {
		return nil, err
	}
	n, _, err := hwGetSystemFirmwareTable.Call(rsmb, 0, 0, 0)
	for range 3 {
		if n == 0 {
			return nil, fmt.Errorf("get smbios table size: %w", err)
		}
		if n > 1<<24 {
			return nil, fmt.Errorf("smbios table of %d bytes", n)
		}
		buf := make([]byte, n)
		var m uintptr
		m, _, err = hwGetSystemFirmwareTable.Call(rsmb, 0, uintptr(unsafe.Pointer(&buf[0])), n)
		if m != 0 && m <= n {
			return buf[:m], nil
		}
		// The table grew between the two calls; m is its new size.
		n = m
	}
	return nil, errors.New("get smbios table: size keeps changing")
}
