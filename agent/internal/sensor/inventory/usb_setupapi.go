package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// USB devices on Windows, decoded portably so that it is tested on Linux:
// SetupAPI lists the device nodes the USB bus enumerated (usb_windows.go);
// their instance ids say vendor, product, serial and which nodes are the
// interfaces of a composite device, their compatible ids the class.

// winUSBNode is one device node of the USB enumerator.
type winUSBNode struct {
	instanceID    string   // USB\VID_0781&PID_5567\4C530001230531104523
	compatibleIDs []string // USB\Class_08&SubClass_06&Prot_50, …
	description   string   // the INF's name: "USB Mass Storage Device"
	busReported   string   // the product string the device reported
}

// usbInstanceID is what a USB device instance id says.
type usbInstanceID struct {
	vid, pid uint16
	// iface is the interface number of a composite device's child node
	// (…&MI_01), -1 for the device itself.
	iface int
	// serial is the device's serial number: the instance part, when the
	// device reported a unique serial. Windows makes up an instance part
	// with "&" in it for a device that did not.
	serial string
}

// parseUSBInstanceID parses "USB\VID_xxxx&PID_xxxx[&MI_xx]\instance"; ok is
// false for what has no VID and PID, such as a root hub (USB\ROOT_HUB30\…).
func parseUSBInstanceID(id string) (usbInstanceID, bool) {
	parts := strings.Split(id, `\`)
	if len(parts) != 3 || !strings.EqualFold(parts[0], "USB") {
		return usbInstanceID{}, false
	}
	u := usbInstanceID{iface: -1}
	var haveVID, havePID bool
	for _, tok := range strings.Split(parts[1], "&") {
		k, v, ok := strings.Cut(tok, "_")
		if !ok {
			continue
		}
		switch strings.ToUpper(k) {
		case "VID":
			u.vid, haveVID = parseHex16(v)
		case "PID":
			u.pid, havePID = parseHex16(v)
		case "MI":
			if n, err := strconv.ParseUint(v, 16, 8); err == nil {
				u.iface = int(n)
			}
		}
	}
	if !haveVID || !havePID {
		return usbInstanceID{}, false
	}
	if s := parts[2]; s != "" && !strings.Contains(s, "&") {
		u.serial = s
	}
	return u, true
}

// usbCompatibleClass returns the class in a node's compatible ids:
// USB\Class_XX (a device or interface class) or USB\DevClass_XX (the device
// class of a composite device, 00 when the interfaces name it).
func usbCompatibleClass(ids []string) (class byte, devClass, ok bool) {
	for _, id := range ids {
		rest, found := strings.CutPrefix(strings.ToUpper(id), `USB\`)
		if !found {
			continue
		}
		for _, p := range []string{"CLASS_", "DEVCLASS_"} {
			v, found := strings.CutPrefix(rest, p)
			if !found || len(v) < 2 {
				continue
			}
			if n, err := strconv.ParseUint(v[:2], 16, 8); err == nil {
				return byte(n), p == "DEVCLASS_", true
			}
		}
	}
	return 0, false, false
}

// windowsUSB turns the USB enumerator's nodes into devices: one per node that
// is a device, not one of its interfaces, with the class of its interfaces
// when it defers to them. Products are named as the device reported, else by
// ids, else by the INF's description.
func windowsUSB(nodes []winUSBNode, ids *usbIDs) []wire.USBDevice {
	type key struct{ vid, pid uint16 }
	ifaces := map[key][]byte{}
	for _, n := range nodes {
		id, ok := parseUSBInstanceID(n.instanceID)
		if !ok || id.iface < 0 {
			continue
		}
		if c, _, ok := usbCompatibleClass(n.compatibleIDs); ok {
			k := key{id.vid, id.pid}
			ifaces[k] = append(ifaces[k], c)
		}
	}
	var out []wire.USBDevice
	for _, n := range nodes {
		id, ok := parseUSBInstanceID(n.instanceID)
		if !ok || id.iface >= 0 {
			continue
		}
		d := wire.USBDevice{
			Path:   n.instanceID,
			VID:    fmt.Sprintf("%04x", id.vid),
			PID:    fmt.Sprintf("%04x", id.pid),
			Serial: id.serial,
		}
		switch c, dev, ok := usbCompatibleClass(n.compatibleIDs); {
		case ok && !dev:
			d.Class = usbClassName(c)
		case ok:
			d.Class = usbClass(c, ifaces[key{id.vid, id.pid}])
		default:
			d.Class = usbClass(0, ifaces[key{id.vid, id.pid}])
		}
		vendor, product := ids.lookup(id.vid, id.pid)
		d.Vendor = vendor
		d.Product = cmp.Or(hwString([]byte(n.busReported)), product, hwString([]byte(n.description)))
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b wire.USBDevice) int { return cmp.Compare(a.Path, b.Path) })
	return out
}
