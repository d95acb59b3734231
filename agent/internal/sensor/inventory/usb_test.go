package inventory

import (
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestUSBClass(t *testing.T) {
	for _, c := range []struct {
		name   string
		dev    byte
		ifaces []byte
		want   string
	}{
		{"hub", 0x09, []byte{0x09}, "hub"},
		{"device class wins", 0x02, []byte{0x02, 0x0a}, "comm"},
		{"flash drive", 0x00, []byte{0x08}, "mass-storage"},
		{"keyboard", 0x00, []byte{0x03, 0x03}, "hid"},
		{"webcam (IAD)", 0xef, []byte{0x0e, 0x0e, 0x01, 0x01}, "video"},
		{"headset", 0x00, []byte{0x01, 0x01, 0x01, 0x03}, "audio"},
		{"phone with storage", 0x00, []byte{0xff, 0x08, 0x03}, "mass-storage"},
		{"bluetooth", 0xe0, []byte{0xe0, 0xe0}, "wireless"},
		{"vendor only", 0x00, []byte{0xff}, "vendor-specific"},
		{"unassigned interface class", 0x00, []byte{0x42}, "class-42"},
		{"misc without interfaces", 0xef, nil, "misc"},
		{"no interfaces", 0x00, nil, ""},
		{"unassigned device class", 0x42, nil, "class-42"},
	} {
		if got := usbClass(c.dev, c.ifaces); got != c.want {
			t.Errorf("usbClass(%#02x, % x) (%s) = %q, want %q", c.dev, c.ifaces, c.name, got, c.want)
		}
	}
}

func TestParseUSBInstanceID(t *testing.T) {
	for _, c := range []struct {
		id   string
		want usbInstanceID
		ok   bool
	}{
		{`USB\VID_0781&PID_5567\4C530001230531104523`, usbInstanceID{vid: 0x0781, pid: 0x5567, iface: -1, serial: "4C530001230531104523"}, true},
		{`USB\VID_046D&PID_C52B\5&2A5E1C5E&0&2`, usbInstanceID{vid: 0x046d, pid: 0xc52b, iface: -1}, true},
		{`USB\VID_046D&PID_C52B&MI_02\6&1B3C5D7E&0&0002`, usbInstanceID{vid: 0x046d, pid: 0xc52b, iface: 2}, true},
		{`usb\vid_8087&pid_0026\5&3a4b5c6d&0&14`, usbInstanceID{vid: 0x8087, pid: 0x0026, iface: -1}, true},
		{`USB\ROOT_HUB30\4&1A2B3C4D&0&0`, usbInstanceID{}, false},
		{`USBSTOR\DISK&VEN_SANDISK&PROD_CRUZER_BLADE&REV_1.00\4C530001230531104523&0`, usbInstanceID{}, false},
		{`USB\VID_ZZZZ&PID_5567\X`, usbInstanceID{}, false},
		{`USB\VID_0781\X`, usbInstanceID{}, false},
		{`HID\VID_046D&PID_C52B&MI_00\7&1&0&0000`, usbInstanceID{}, false},
	} {
		got, ok := parseUSBInstanceID(c.id)
		if got != c.want || ok != c.ok {
			t.Errorf("parseUSBInstanceID(%q) = %+v, %v; want %+v, %v", c.id, got, ok, c.want, c.ok)
		}
	}
}

// A PC's USB enumerator as SetupAPI lists it: nodes with the instance and
// compatible ids, descriptions and bus-reported names Windows gives such
// devices (written after Device Manager, not recorded from a machine).
func TestWindowsUSB(t *testing.T) {
	nodes := []winUSBNode{
		{instanceID: `USB\ROOT_HUB30\4&1A2B3C4D&0&0`, compatibleIDs: []string{`USB\ROOT_HUB30`}, description: "USB Root Hub (USB 3.0)"},
		{instanceID: `USB\VID_8087&PID_0026\5&3A4B5C6D&0&14`, compatibleIDs: []string{`USB\Class_e0&SubClass_01&Prot_01`, `USB\Class_e0&SubClass_01`, `USB\Class_e0`},
			description: "Intel(R) Wireless Bluetooth(R)"},
		{instanceID: `USB\VID_0781&PID_5567\4C530001230531104523`, compatibleIDs: []string{`USB\Class_08&SubClass_06&Prot_50`, `USB\Class_08&SubClass_06`, `USB\Class_08`},
			description: "USB Mass Storage Device", busReported: "Cruzer Blade"},
		{instanceID: `USB\VID_046D&PID_C52B\5&2A5E1C5E&0&2`, compatibleIDs: []string{`USB\DevClass_00&SubClass_00&Prot_00`, `USB\DevClass_00&SubClass_00`, `USB\DevClass_00`, `USB\COMPOSITE`},
			description: "USB Composite Device", busReported: "USB Receiver"},
		{instanceID: `USB\VID_046D&PID_C52B&MI_00\6&1B3C5D7E&0&0000`, compatibleIDs: []string{`USB\Class_03&SubClass_01&Prot_01`, `USB\Class_03&SubClass_01`, `USB\Class_03`},
			description: "USB Input Device"},
		{instanceID: `USB\VID_046D&PID_C52B&MI_02\6&1B3C5D7E&0&0002`, compatibleIDs: []string{`USB\Class_03&SubClass_00&Prot_00`, `USB\Class_03`},
			description: "USB Input Device"},
		{instanceID: `USB\VID_046D&PID_0825\F1E2D3C4`, compatibleIDs: []string{`USB\DevClass_EF&SubClass_02&Prot_01`, `USB\DevClass_EF&SubClass_02`, `USB\DevClass_EF`, `USB\COMPOSITE`},
			description: "USB Composite Device"},
		{instanceID: `USB\VID_046D&PID_0825&MI_00\7&2&0&0000`, compatibleIDs: []string{`USB\Class_0e&SubClass_03&Prot_00`, `USB\Class_0e`}, description: "USB Video Device"},
		{instanceID: `USB\VID_046D&PID_0825&MI_02\7&2&0&0002`, compatibleIDs: []string{`USB\Class_01&SubClass_01&Prot_00`, `USB\Class_01`}, description: "USB Audio Device"},
		{instanceID: `USB\VID_1A86&PID_7523\5&1&0&3`, description: "USB-SERIAL CH340 (COM3)"},
	}
	want := []wire.USBDevice{
		{Path: `USB\VID_046D&PID_0825\F1E2D3C4`, VID: "046d", PID: "0825", Vendor: "Logitech, Inc.", Product: "Webcam C270", Serial: "F1E2D3C4", Class: "video"},
		{Path: `USB\VID_046D&PID_C52B\5&2A5E1C5E&0&2`, VID: "046d", PID: "c52b", Vendor: "Logitech, Inc.", Product: "USB Receiver", Class: "hid"},
		{Path: `USB\VID_0781&PID_5567\4C530001230531104523`, VID: "0781", PID: "5567", Product: "Cruzer Blade", Serial: "4C530001230531104523", Class: "mass-storage"},
		{Path: `USB\VID_1A86&PID_7523\5&1&0&3`, VID: "1a86", PID: "7523", Product: "USB-SERIAL CH340 (COM3)"},
		{Path: `USB\VID_8087&PID_0026\5&3A4B5C6D&0&14`, VID: "8087", PID: "0026", Vendor: "Intel Corp.", Product: "Intel(R) Wireless Bluetooth(R)", Class: "wireless"},
	}
	got := windowsUSB(nodes, usbIDsFrom(writeUSBIDs(t, usbIDsSample)))
	if d := hwDiff(got, want); d != "" {
		t.Errorf("windowsUSB differs (-want +got):\n%s", d)
	}
}
