package inventory

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// USB devices, whatever the OS: class codes as usb.org defines them
// (https://www.usb.org/defined-class-codes) and the choice of one class for a
// device whose class is per interface.

// usbClassNames names the USB class codes.
var usbClassNames = map[byte]string{
	0x01: "audio",
	0x02: "comm",
	0x03: "hid",
	0x05: "physical",
	0x06: "image",
	0x07: "printer",
	0x08: "mass-storage",
	0x09: "hub",
	0x0a: "comm", // CDC data
	0x0b: "smart-card",
	0x0d: "content-security",
	0x0e: "video",
	0x0f: "healthcare",
	0x10: "audio-video",
	0x11: "billboard",
	0x12: "usb-c-bridge",
	0x3c: "i3c",
	0xdc: "diagnostic",
	0xe0: "wireless",
	0xef: "misc",
	0xfe: "application-specific",
	0xff: "vendor-specific",
}

// usbInterfacePriority orders interface classes by what they say about a
// device that has several: storage before the rest (what a security product
// watches for), then classes that name the device (a webcam has video and
// audio, a headset audio and HID), hubs and vendor classes last.
var usbInterfacePriority = []byte{0x08, 0x06, 0x07, 0x0b, 0x0d, 0xe0, 0x0e, 0x10, 0x01, 0x02, 0x0a, 0x0f, 0x05, 0x03, 0x12, 0x3c, 0x09, 0x11, 0xdc, 0xfe, 0xef, 0xff}

// usbClass returns the class name of a device with device class dev and
// interface classes ifaces: the device's own unless it defers to its
// interfaces (0x00) or is "miscellaneous" (0xef, interface association
// descriptors), then the most telling interface class.
func usbClass(dev byte, ifaces []byte) string {
	if dev != 0x00 && dev != 0xef {
		return usbClassName(dev)
	}
	best, other := -1, -1
	for _, c := range ifaces {
		if i := slices.Index(usbInterfacePriority, c); i >= 0 {
			if best < 0 || i < best {
				best = i
			}
		} else if other < 0 {
			other = int(c)
		}
	}
	switch {
	case best >= 0:
		return usbClassName(usbInterfacePriority[best])
	case other >= 0:
		return usbClassName(byte(other))
	case dev == 0xef:
		return usbClassName(dev)
	}
	return ""
}

// usbClassName names class code c; an unassigned code is named by its hex
// value.
func usbClassName(c byte) string {
	if n, ok := usbClassNames[c]; ok {
		return n
	}
	return fmt.Sprintf("class-%02x", c)
}

// parseHex16 parses a 16-bit hexadecimal id ("046d", "0x046D").
func parseHex16(s string) (uint16, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0x"), "0X")
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 16, 16)
	return uint16(n), err == nil
}
