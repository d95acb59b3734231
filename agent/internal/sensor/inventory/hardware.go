package inventory

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The hardware section: the machine's DMI/SMBIOS identity, its disks with
// their partitions, file systems and encryption, and the USB devices attached.
// Each OS's fillHardware lives in hardware_<os>.go: Linux reads sysfs, the
// udev database and mountinfo below a root (hardware_linux.go, disk_linux.go,
// usb_linux.go); Windows asks the registry, the SMBIOS table, disk IOCTLs and
// SetupAPI (hardware_windows.go, disk_windows.go, usb_windows.go), with the
// decoding of what those return kept portable (hardware_smbios.go,
// disk_ioctl.go, usb_setupapi.go) so that it is tested on Linux. USB names
// missing from a device come from usb.ids (usbids.go).

func init() {
	addPart(wire.SectionHardware, fillHardware)
}

// chassisName returns the kind of machine an SMBIOS chassis type (DSP0134,
// 7.4.1; bit 7 is the lock flag) says it is: desktop, laptop, server … ""
// when the type is unknown or unassigned.
func chassisName(t int) string {
	switch t & 0x7f {
	case 1:
		return "other"
	case 3, 4, 5, 6, 7, 13, 15, 16, 24, 35, 36: // desktop, low profile, pizza box, mini tower, tower, all in one, space-saving, lunch box, sealed-case PC, mini PC, stick PC
		return "desktop"
	case 8, 9, 10, 14, 31, 32: // portable, laptop, notebook, sub notebook, convertible, detachable
		return "laptop"
	case 11: // hand held
		return "handheld"
	case 12:
		return "docking-station"
	case 30:
		return "tablet"
	case 17, 23, 25, 28: // main server chassis, rack mount, multi-system, blade
		return "server"
	case 18, 19, 20, 21, 22, 26, 27, 29: // expansion, sub-, bus expansion, peripheral, RAID chassis, compact PCI, advanced TCA, blade enclosure
		return "enclosure"
	case 33, 34: // IoT gateway, embedded PC
		return "embedded"
	}
	return ""
}

// smbiosVirtual reports whether an SMBIOS system vendor and product name
// are a hypervisor's; such a machine's chassis is "vm" whatever type the
// hypervisor put in its chassis structure.
func smbiosVirtual(vendor, product string) bool {
	v, p := strings.ToLower(vendor), strings.ToLower(product)
	switch {
	case v == "qemu", v == "bochs", v == "xen", v == "innotek gmbh", v == "parallels software international inc.",
		v == "amazon ec2" && !strings.Contains(p, "metal"), v == "google" && p == "google compute engine",
		v == "openstack foundation", v == "nutanix" && p == "ahv":
		return true
	case v == "vmware, inc." || strings.HasPrefix(p, "vmware"):
		return true
	case v == "microsoft corporation" && p == "virtual machine":
		return true
	case p == "kvm", p == "virtualbox", p == "hvm domu", p == "bhyve", p == "openstack nova", p == "openstack compute":
		return true
	}
	return false
}

// smbiosPlaceholders are the values firmware vendors leave in SMBIOS strings
// they did not fill in; they identify nothing.
var smbiosPlaceholders = []string{
	"to be filled by o.e.m.", "default string", "not specified", "not applicable", "not available",
	"system serial number", "system product name", "system manufacturer", "system version",
	"chassis serial number", "base board serial number", "invalid", "none", "n/a", "na", "oem", "o.e.m.",
	"0", "00000000", "0000000000", "123456789", "0123456789", "1234567890", "xxxxxxxxxxxx",
	"serial", "asset tag", "asset-1234567890", "no asset tag", "no asset information", "unknown",
}

// smbiosValue cleans an SMBIOS string (see hwString) and returns "" for the
// firmware placeholders that mean "no value".
func smbiosValue(b []byte) string {
	s := hwString(b)
	for _, p := range smbiosPlaceholders {
		if strings.EqualFold(s, p) {
			return ""
		}
	}
	return s
}

// smbiosUUIDValue returns an SMBIOS/DMI system UUID in lower case, "" when it
// is a placeholder: all zeros or all ones (DSP0134 7.2.1), or not a UUID.
func smbiosUUIDValue(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) != 36 {
		return ""
	}
	digits := strings.ReplaceAll(s, "-", "")
	if len(digits) != 32 || strings.Trim(digits, "0123456789abcdef") != "" {
		return ""
	}
	if strings.Trim(digits, "0") == "" || strings.Trim(digits, "f") == "" {
		return ""
	}
	return s
}

// hwString turns what a firmware table, sysfs file or device descriptor holds
// into a clean string: NULs and control characters dropped, surrounding space
// trimmed, invalid UTF-8 replaced, so that the record encodes.
func hwString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	b = bytes.TrimSpace(b)
	clean := true
	for _, c := range b {
		if c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
