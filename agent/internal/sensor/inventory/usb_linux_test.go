package inventory

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// USB devices from a sysfs skeleton. No fixture archive holds
// sys/bus/usb; the mass-storage device is the one of the real udev record
// b11:0 (node_exporter_udev.ttar: VID c096, PID ee31, port 1.1 behind
// 0000:00:14.0, driver usb-storage), the rest is the usual company of a
// PC: its root hub, a hub, a webcam and a keyboard.
func TestLinuxUSB(t *testing.T) {
	root := t.TempDir()
	s := sysTree{t, root}
	dev := func(name, path string, attrs map[string]string) {
		for k, v := range attrs {
			s.file(filepath.Join("sys", path, k), v)
		}
		s.link(filepath.Join("sys/bus/usb/devices", name), filepath.Join("sys", path))
	}
	iface := func(dev, path, name, class string) {
		s.file(filepath.Join("sys", path, name, "bInterfaceClass"), class)
		s.link(filepath.Join("sys/bus/usb/devices", name), filepath.Join("sys", path, name))
	}
	bus := "devices/pci0000:00/0000:00:14.0/usb1"
	dev("usb1", bus, map[string]string{"idVendor": "1d6b", "idProduct": "0002", "bDeviceClass": "09",
		"manufacturer": "Linux 6.1.0-26-amd64 xhci-hcd", "product": "xHCI Host Controller", "serial": "0000:00:14.0"})
	iface("usb1", bus, "1-0:1.0", "09")
	dev("1-1", bus+"/1-1", map[string]string{"idVendor": "8087", "idProduct": "8000", "bDeviceClass": "09"})
	iface("1-1", bus+"/1-1", "1-1:1.0", "09")
	dev("1-1.1", bus+"/1-1/1-1.1", map[string]string{"idVendor": "c096", "idProduct": "ee31", "bDeviceClass": "00"})
	iface("1-1.1", bus+"/1-1/1-1.1", "1-1.1:1.0", "08")
	dev("1-1.2", bus+"/1-1/1-1.2", map[string]string{"idVendor": "046d", "idProduct": "0825", "bDeviceClass": "ef", "serial": "F1E2D3C4"})
	for i, c := range []string{"0e", "0e", "01", "01"} {
		iface("1-1.2", bus+"/1-1/1-1.2", "1-1.2:1."+string(rune('0'+i)), c)
	}
	dev("1-2", bus+"/1-2", map[string]string{"idVendor": "413C", "idProduct": "2113", "bDeviceClass": "00",
		"manufacturer": "DELL", "product": "Dell KB216 Wired Keyboard"})
	iface("1-2", bus+"/1-2", "1-2:1.0", "03")
	iface("1-2", bus+"/1-2", "1-2:1.1", "03")
	// A device whose attributes are gone (unplugged mid-walk) is skipped.
	s.file("sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/bDeviceClass", "00")
	s.link("sys/bus/usb/devices/1-3", "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3")

	ids := usbIDsFrom(writeUSBIDs(t, usbIDsSample))
	got, err := linuxUSB(context.Background(), root, ids)
	if err != nil {
		t.Fatalf("linuxUSB: %v", err)
	}
	want := []wire.USBDevice{
		{Path: "1-1", VID: "8087", PID: "8000", Vendor: "Intel Corp.", Product: "Integrated Rate Matching Hub", Class: "hub"},
		{Path: "1-1.1", VID: "c096", PID: "ee31", Class: "mass-storage"},
		{Path: "1-1.2", VID: "046d", PID: "0825", Vendor: "Logitech, Inc.", Product: "Webcam C270", Serial: "F1E2D3C4", Class: "video"},
		{Path: "1-2", VID: "413c", PID: "2113", Vendor: "DELL", Product: "Dell KB216 Wired Keyboard", Class: "hid"},
		{Path: "usb1", VID: "1d6b", PID: "0002", Vendor: "Linux 6.1.0-26-amd64 xhci-hcd", Product: "xHCI Host Controller", Serial: "0000:00:14.0", Class: "hub"},
	}
	if d := hwDiff(got, want); d != "" {
		t.Errorf("linuxUSB differs (-want +got):\n%s", d)
	}
}

func TestLinuxUSBNoBus(t *testing.T) {
	got, err := linuxUSB(context.Background(), t.TempDir(), nil)
	if err != nil || got != nil {
		t.Errorf("linuxUSB(no sys/bus/usb) = %v, %v; want nil, nil", got, err)
	}
}
