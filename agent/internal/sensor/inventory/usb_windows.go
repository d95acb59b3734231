package inventory

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
)

// hwBusReportedDeviceDesc is DEVPKEY_Device_BusReportedDeviceDesc: the
// product string a USB device reported (Windows 7 and later).
var hwBusReportedDeviceDesc = windows.DEVPROPKEY{
	FmtID: windows.DEVPROPGUID{Data1: 0x540b947e, Data2: 0x8b40, Data3: 0x45bc, Data4: [8]byte{0xa8, 0xa2, 0x6a, 0x0b, 0x89, 0x4c, 0xbd, 0xa2}},
	PID:   4,
}

// hwUSBNodes lists the present device nodes of the USB enumerator: devices
// and the interfaces of composite devices.
func hwUSBNodes(ctx context.Context) ([]winUSBNode, error) {
	set, err := windows.SetupDiGetClassDevsEx(nil, "USB", 0, windows.DIGCF_ALLCLASSES|windows.DIGCF_PRESENT, 0, "")
	if err != nil {
		return nil, fmt.Errorf("list usb devices: %w", err)
	}
	defer set.Close()
	var out []winUSBNode
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		data, err := set.EnumDeviceInfo(i)
		if errors.Is(err, windows.ERROR_NO_MORE_ITEMS) {
			return out, nil
		}
		if err != nil {
			continue
		}
		id, err := set.DeviceInstanceID(data)
		if err != nil {
			continue
		}
		n := winUSBNode{instanceID: id}
		if v, err := set.DeviceRegistryProperty(data, windows.SPDRP_COMPATIBLEIDS); err == nil {
			n.compatibleIDs, _ = v.([]string)
		}
		if v, err := set.DeviceRegistryProperty(data, windows.SPDRP_DEVICEDESC); err == nil {
			n.description, _ = v.(string)
		}
		if v, err := windows.SetupDiGetDeviceProperty(set, data, &hwBusReportedDeviceDesc); err == nil {
			n.busReported, _ = v.(string)
		}
		out = append(out, n)
	}
}
