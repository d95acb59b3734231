package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// usbIDsSample is a usb.ids in miniature, in the file's own layout: a
// header, vendors with products and interfaces, a vendor without products,
// then the class list, whose "C 08" must not read as vendor 0x0008's name.
const usbIDsSample = `#
#	List of USB ID's
#
# Version: 2025.07.26
#
# Syntax:
# vendor  vendor_name
#	device  device_name				<-- single tab
#		interface  interface_name		<-- two tabs

0008  Unnamed vendor of lower-case test
046d  Logitech, Inc.
	0825  Webcam C270
	c52b  Unifying Receiver
		00  keyboard interface
1d6b  Linux Foundation
	0001  1.1 root hub
	0002  2.0 root hub
	0003  3.0 root hub
8087  Intel Corp.
	8000  Integrated Rate Matching Hub
abcd  Unknown
	1234  UDisk
ffee  FNK Tech

# List of known device classes, subclasses and protocols
C 08  Mass Storage
	06  SCSI
AT 0001  Audio Terminal
HID 00  Unknown
`

func writeUSBIDs(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "usb.ids")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUSBIDsLookup(t *testing.T) {
	ids := usbIDsFrom(writeUSBIDs(t, usbIDsSample))
	crlf := usbIDsFrom(writeUSBIDs(t, strings.ReplaceAll(usbIDsSample, "\n", "\r\n")))
	for _, c := range []struct {
		vid, pid        uint16
		vendor, product string
	}{
		{0x046d, 0xc52b, "Logitech, Inc.", "Unifying Receiver"},
		{0x046d, 0x0825, "Logitech, Inc.", "Webcam C270"},
		{0x046d, 0x0000, "Logitech, Inc.", ""}, // interface lines are not products
		{0x1d6b, 0x0003, "Linux Foundation", "3.0 root hub"},
		{0xffee, 0x0001, "FNK Tech", ""},
		{0x0008, 0x0006, "Unnamed vendor of lower-case test", ""}, // "C 08 … 06  SCSI" is a class
		{0xabcd, 0x1234, "Unknown", "UDisk"},
		{0x1234, 0x5678, "", ""},
	} {
		for name, u := range map[string]*usbIDs{"lf": ids, "crlf": crlf} {
			v, p := u.lookup(c.vid, c.pid)
			if v != c.vendor || p != c.product {
				t.Errorf("%s: lookup(%04x, %04x) = %q, %q; want %q, %q", name, c.vid, c.pid, v, p, c.vendor, c.product)
			}
		}
	}
	if n := len(ids.vendors); n != 6 {
		t.Errorf("read %d vendors, want 6 (none from the class list)", n)
	}
}

func TestUSBIDsMissing(t *testing.T) {
	var none *usbIDs
	for _, u := range []*usbIDs{newUSBIDs(t.TempDir()), usbIDsFrom(filepath.Join(t.TempDir(), "nope")), none} {
		if v, p := u.lookup(0x1d6b, 0x0002); v != "" || p != "" {
			t.Errorf("lookup without usb.ids = %q, %q; want empty", v, p)
		}
	}
}

func TestUSBHex4(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"046d", 0x046d, true}, {"FFFF", 0xffff, true}, {"0000", 0, true},
		{"C 08", 0, false}, {"04g0", 0, false}, {"046", 0, false}, {"046d0", 0, false},
	} {
		got, ok := usbHex4([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("usbHex4(%q) = %#x, %v; want %#x, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// systemUSBIDsPath returns this machine's usb.ids, skipping the test when
// there is none, unless in CI, which must have it.
func systemUSBIDsPath(t testing.TB) string {
	for _, p := range usbIDsPaths {
		if _, err := os.Stat("/" + p); err == nil {
			return "/" + p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no usb.ids in %q: install the Debian package hwdata", usbIDsPaths)
	}
	t.Skipf("no usb.ids in %q (Debian package hwdata)", usbIDsPaths)
	return ""
}

// The real usb.ids of this machine, as hwdata ships it.
func TestUSBIDsSystem(t *testing.T) {
	ids := usbIDsFrom(systemUSBIDsPath(t))
	if v, p := ids.lookup(0x1d6b, 0x0002); v != "Linux Foundation" || p != "2.0 root hub" {
		t.Errorf("lookup(1d6b, 0002) = %q, %q; want %q, %q", v, p, "Linux Foundation", "2.0 root hub")
	}
	if len(ids.vendors) < 1000 || len(ids.products) < 10000 {
		t.Errorf("read %d vendors and %d products; a usb.ids has thousands", len(ids.vendors), len(ids.products))
	}
	if v, _ := systemUSBIDs.lookup(0x1d6b, 0x0001); v != "Linux Foundation" {
		t.Errorf("systemUSBIDs.lookup(1d6b, …) vendor = %q, want Linux Foundation", v)
	}
}

func BenchmarkUSBIDsLoad(b *testing.B) {
	path := systemUSBIDsPath(b)
	for b.Loop() {
		ids := usbIDsFrom(path)
		ids.lookup(0x1d6b, 0x0002)
	}
}
