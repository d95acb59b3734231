package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shirou/gopsutil/v4/host"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// Domain returns the computer's primary DNS suffix, "" when it has none: for a
// machine in an Active Directory domain, that domain's DNS name. It asks
// GetComputerNameEx(ComputerNameDnsDomain) rather than reading the Domain value
// under HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters itself.
func (system) Domain(context.Context, string) (string, error) {
	n := uint32(64)
	for range 4 {
		buf := make([]uint16, n)
		err := windows.GetComputerNameEx(windows.ComputerNameDnsDomain, &buf[0], &n)
		if err == nil {
			return windows.UTF16ToString(buf[:n]), nil
		}
		if !errors.Is(err, windows.ERROR_MORE_DATA) {
			return "", fmt.Errorf("get computer dns domain: %w", err)
		}
	}
	return "", errors.New("get computer dns domain: name keeps growing")
}

// MachineID returns the MachineGuid that Windows Setup writes under
// HKLM\SOFTWARE\Microsoft\Cryptography, lower case. It is read from the
// 64-bit view of the registry, the only one that holds it, even when the agent
// runs as a 32-bit process.
func (system) MachineID(context.Context, *host.InfoStat) (string, error) {
	return machineGUID()
}

func machineGUID() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\Cryptography`, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open cryptography key: %w", err)
	}
	defer k.Close()
	v, _, err := k.GetStringValue("MachineGuid")
	if errors.Is(err, registry.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read MachineGuid: %w", err)
	}
	return strings.ToLower(strings.Trim(v, "{} ")), nil
}
