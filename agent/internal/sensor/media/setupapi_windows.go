package media

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// SetupAPI (setupapi.dll), through x/sys/windows' wrappers: listing the
// devices that expose an interface, and disabling a device.

// winDevicesWith lists the instance ids of the present devices exposing
// interface class guid: SetupDiGetClassDevsW(&guid, NULL, NULL,
// DIGCF_PRESENT|DIGCF_DEVICEINTERFACE), SetupDiEnumDeviceInfo,
// SetupDiGetDeviceInstanceIdW.
func winDevicesWith(guid winGUID) ([]string, error) {
	g := windows.GUID(guid)
	set, err := windows.SetupDiGetClassDevsEx(&g, "", 0, windows.DIGCF_PRESENT|windows.DIGCF_DEVICEINTERFACE, 0, "")
	if err != nil {
		return nil, fmt.Errorf("list devices of interface %v: %w", g, err)
	}
	defer set.Close()
	var ids []string
	for i := 0; ; i++ {
		data, err := set.EnumDeviceInfo(i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			return ids, nil
		}
		if err != nil {
			continue
		}
		if id, err := set.DeviceInstanceID(data); err == nil {
			ids = append(ids, id)
		}
	}
}

// winDisabledUSB lists the present USB devices (not their functions) that
// are disabled: a medium blocked earlier shows no disk, only this node.
func winDisabledUSB() ([]string, error) {
	set, err := windows.SetupDiGetClassDevsEx(nil, "USB", 0, windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, 0, "")
	if err != nil {
		return nil, fmt.Errorf("list usb devices: %w", err)
	}
	defer set.Close()
	var ids []string
	for i := 0; ; i++ {
		data, err := set.EnumDeviceInfo(i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			return ids, nil
		}
		if err != nil || !winDisabled(data.DevInst) {
			continue
		}
		if id, err := set.DeviceInstanceID(data); err == nil {
			ids = append(ids, id)
		}
	}
}

// winDisable disables the device node id in every hardware profile:
// SetupDiSetClassInstallParamsW with an SP_PROPCHANGE_PARAMS
// {ClassInstallHeader{cbSize = sizeof(SP_CLASSINSTALL_HEADER) = 8,
// DIF_PROPERTYCHANGE}, StateChange DICS_DISABLE, Scope DICS_FLAG_GLOBAL,
// HwProfile 0} (20 bytes, all DWORDs: the same with x86's 1-byte packing of
// setupapi.h; see
// https://learn.microsoft.com/en-us/windows-hardware/drivers/ddi/setupapi/ns-setupapi-_sp_propchange_params),
// then SetupDiCallClassInstaller(DIF_PROPERTYCHANGE). The drivers unload and
// the node's disks and volumes go; the node stays, disabled, while the
// device is plugged in.
//
// The setting is kept by Windows for the device instance: the same device
// (same serial number, or without one the same port) stays disabled when
// plugged in again, until it is enabled (Device Manager, pnputil
// /enable-device). It takes an administrator or LocalSystem.
func winDisable(id string) error {
	enumerator, _, _ := strings.Cut(id, `\`)
	set, err := windows.SetupDiGetClassDevsEx(nil, enumerator, 0, windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, 0, "")
	if err != nil {
		return fmt.Errorf("disable %s: list %s devices: %w", id, enumerator, err)
	}
	defer set.Close()
	var data *windows.DevInfoData
	for i := 0; ; i++ {
		d, err := set.EnumDeviceInfo(i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			break
		}
		if err != nil {
			continue
		}
		if got, err := set.DeviceInstanceID(d); err == nil && strings.EqualFold(got, id) {
			data = d
			break
		}
	}
	if data == nil {
		return fmt.Errorf("disable %s: not attached", id)
	}
	if winDisabled(data.DevInst) {
		return nil // blocked before, and still
	}
	params := windows.PropChangeParams{
		ClassInstallHeader: *windows.MakeClassInstallHeader(windows.DIF_PROPERTYCHANGE),
		StateChange:        windows.DICS_DISABLE,
		Scope:              windows.DICS_FLAG_GLOBAL,
	}
	if err := set.SetClassInstallParams(data, &params.ClassInstallHeader, uint32(unsafe.Sizeof(params))); err != nil {
		return winDisableError(id, "set class install parameters", err)
	}
	if err := set.CallClassInstaller(windows.DIF_PROPERTYCHANGE, data); err != nil {
		return winDisableError(id, "call class installer", err)
	}
	if ip, err := set.DeviceInstallParams(data); err == nil && ip.Flags&(windows.DI_NEEDRESTART|windows.DI_NEEDREBOOT) != 0 {
		return fmt.Errorf("disable %s: Windows disables it only at the next restart (the device is in use)", id)
	}
	if !winDisabled(data.DevInst) {
		return fmt.Errorf("disable %s: the class installer succeeded but the device is not disabled", id)
	}
	return nil
}

// winDisableError says why disabling failed, with what to do where that is
// known.
func winDisableError(id, step string, err error) error {
	switch {
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return fmt.Errorf("disable %s: %s: %w (needs an administrator or LocalSystem; the agent service runs as LocalSystem)", id, step, err)
	case errors.Is(err, windows.ERROR_IN_WOW64):
		return fmt.Errorf("disable %s: %s: %w (a 32-bit agent cannot change devices on 64-bit Windows)", id, step, err)
	case errors.Is(err, windows.ERROR_NOT_DISABLEABLE):
		return fmt.Errorf("disable %s: %s: %w (Windows says the device cannot be disabled)", id, step, err)
	}
	return fmt.Errorf("disable %s: %s: %w", id, step, err)
}
