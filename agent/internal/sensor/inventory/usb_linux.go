package inventory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// linuxUSB lists the USB devices of the machine whose root is root: the
// entries of sys/bus/usb/devices that are devices (root hubs "usb1" and
// ports "1-1.2"), not interfaces ("1-1.2:1.0"). A device's class is its own,
// or that of its interfaces when it leaves the class to them. Names the
// device does not give come from ids.
func linuxUSB(ctx context.Context, root string, ids *usbIDs) ([]wire.USBDevice, error) {
	dir := filepath.Join(root, "sys/bus/usb/devices")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list usb devices: %w", err)
	}
	var out []wire.USBDevice
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if strings.Contains(e.Name(), ":") {
			continue
		}
		d, ok := sysfsUSBDevice(filepath.Join(dir, e.Name()), ids)
		if ok {
			d.Path = e.Name()
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b wire.USBDevice) int { return cmp.Compare(a.Path, b.Path) })
	return out, nil
}

// sysfsUSBDevice reads the USB device at sysfs directory dir; ok is false
// when dir is no device.
func sysfsUSBDevice(dir string, ids *usbIDs) (wire.USBDevice, bool) {
	vid, ok1 := parseHex16(sysAttr(dir, "idVendor"))
	pid, ok2 := parseHex16(sysAttr(dir, "idProduct"))
	if !ok1 || !ok2 {
		return wire.USBDevice{}, false
	}
	d := wire.USBDevice{
		VID:     fmt.Sprintf("%04x", vid),
		PID:     fmt.Sprintf("%04x", pid),
		Vendor:  sysAttr(dir, "manufacturer"),
		Product: sysAttr(dir, "product"),
		Serial:  sysAttr(dir, "serial"),
	}
	var ifaces []byte
	for _, n := range sysListDir(dir) {
		if !strings.Contains(n, ":") {
			continue
		}
		if c, err := strconv.ParseUint(sysAttr(filepath.Join(dir, n), "bInterfaceClass"), 16, 8); err == nil {
			ifaces = append(ifaces, byte(c))
		}
	}
	if c, err := strconv.ParseUint(sysAttr(dir, "bDeviceClass"), 16, 8); err == nil {
		d.Class = usbClass(byte(c), ifaces)
	} else {
		d.Class = usbClass(0, ifaces)
	}
	if d.Vendor == "" || d.Product == "" {
		v, p := ids.lookup(vid, pid)
		d.Vendor, d.Product = cmp.Or(d.Vendor, v), cmp.Or(d.Product, p)
	}
	return d, true
}
