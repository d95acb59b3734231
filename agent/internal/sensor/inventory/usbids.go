package inventory

import (
	"bytes"
	"cmp"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// usb.ids, the USB ID repository (http://www.linux-usb.org/usb-ids.html) as
// Debian ships it in package hwdata (and usbutils), names USB vendors and
// products by their ids:
//
//	046d  Logitech, Inc.
//		c52b  Unifying Receiver
//			00  interface name (skipped)
//	C 00  (Defined at Interface level)   ← classes and other lists follow; not read
//
// It is read once, on the first lookup, into two sorted tables of ids with
// offsets into one string of names: about 25 000 entries in ~700 KB, searched
// by binary search without a map's overhead.

// usbIDsPaths are where distributions put usb.ids, below the root.
var usbIDsPaths = []string{"usr/share/hwdata/usb.ids", "usr/share/misc/usb.ids", "var/lib/usbutils/usb.ids"}

// systemUSBIDs is this machine's usb.ids.
var systemUSBIDs = newUSBIDs("/")

// usbIDs is a usb.ids file, loaded on first use. The zero of the file (none
// found, unreadable) names nothing.
type usbIDs struct {
	paths []string

	once     sync.Once
	names    string       // every name back to back
	vendors  []usbIDEntry // by id
	products []usbIDEntry // by vendor<<16 | product
}

// usbIDEntry locates one name in usbIDs.names.
type usbIDEntry struct {
	id       uint32
	off, end uint32
}

// newUSBIDs returns the usb.ids of the machine whose root is root: the first
// of usbIDsPaths that exists.
func newUSBIDs(root string) *usbIDs {
	u := &usbIDs{}
	for _, p := range usbIDsPaths {
		u.paths = append(u.paths, filepath.Join(root, p))
	}
	return u
}

// usbIDsFrom returns a usbIDs read from the file at path.
func usbIDsFrom(path string) *usbIDs { return &usbIDs{paths: []string{path}} }

func (u *usbIDs) load() {
	for _, p := range u.paths {
		b, err := os.ReadFile(p)
		if err == nil {
			u.parse(b)
			return
		}
	}
}

// parse reads the vendor and product lines of usb.ids data b, up to the
// first list that is not vendors (classes, "C 00").
func (u *usbIDs) parse(b []byte) {
	var names []byte
	vendor := -1 // the vendor whose products follow; -1 outside a vendor
	add := func(tab *[]usbIDEntry, id uint32, name []byte) {
		name = bytes.TrimSpace(name)
		if len(name) == 0 || uint64(len(names))+uint64(len(name)) > math.MaxUint32 {
			return
		}
		off := uint32(len(names))
		names = append(names, name...)
		*tab = append(*tab, usbIDEntry{id: id, off: off, end: uint32(len(names))})
	}
	for line := range bytes.Lines(b) {
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0 || line[0] == '#':
		case line[0] == '\t':
			if vendor < 0 || len(line) < 7 || line[1] == '\t' || line[5] != ' ' {
				continue
			}
			if pid, ok := usbHex4(line[1:5]); ok {
				add(&u.products, uint32(vendor)<<16|uint32(pid), line[6:])
			}
		default:
			vid, ok := usbHex4(line[:min(4, len(line))])
			if !ok || len(line) < 6 || line[4] != ' ' {
				// The vendors end where the device classes ("C 00  …")
				// and the other lists begin.
				u.finish(names)
				return
			}
			vendor = int(vid)
			add(&u.vendors, uint32(vid), line[5:])
		}
	}
	u.finish(names)
}

func (u *usbIDs) finish(names []byte) {
	u.names = string(names)
	byID := func(a, b usbIDEntry) int { return cmp.Compare(a.id, b.id) }
	slices.SortStableFunc(u.vendors, byID)
	slices.SortStableFunc(u.products, byID)
	u.vendors = slices.Clip(u.vendors)
	u.products = slices.Clip(u.products)
}

// usbHex4 parses exactly four hexadecimal digits.
func usbHex4(b []byte) (uint16, bool) {
	if len(b) != 4 {
		return 0, false
	}
	var n uint16
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint16(c)
	}
	return n, true
}

// find returns the name with id in tab, "" when there is none.
func (u *usbIDs) find(tab []usbIDEntry, id uint32) string {
	i, ok := slices.BinarySearchFunc(tab, id, func(e usbIDEntry, id uint32) int { return cmp.Compare(e.id, id) })
	if !ok {
		return ""
	}
	return u.names[tab[i].off:tab[i].end]
}

// lookup returns the names usb.ids gives vendor vid and its product pid.
func (u *usbIDs) lookup(vid, pid uint16) (vendor, product string) {
	if u == nil {
		return "", ""
	}
	u.once.Do(u.load)
	return u.find(u.vendors, uint32(vid)), u.find(u.products, uint32(vid)<<16|uint32(pid))
}
