// Package classify tells removable media from fixed disks by walking a block
// device's sysfs ancestry: USB mass storage, memory cards and optical drives.
// It reads a sysfs tree below any root, so it builds and is tested on every
// platform; on Linux the root is "/sys".
package classify

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Kinds of block device.
const (
	KindUSBStorage = "usb-storage"
	KindMemoryCard = "memory-card"
	KindOptical    = "optical"
	KindFixed      = "fixed" // not removable: reported so callers can ignore it
)

// ErrNotBlock is returned by ByDevPath for a device path that is not a block
// device.
var ErrNotBlock = errors.New("not a block device")

// Device is one disk (not a partition) and what it is.
type Device struct {
	Name       string // sdb, mmcblk0, sr0
	Kind       string // KindUSBStorage, KindMemoryCard, KindOptical or KindFixed
	Bus        string // usb, mmc, ata, scsi, nvme, virtio, xen; "" when the ancestry does not say
	VID, PID   string // 4 lower-case hex digits, USB only
	Vendor     string // the USB device's manufacturer, else the block device's vendor
	Product    string // the USB device's product, else the block device's model (or the card's name)
	Serial     string // the USB device's serial, else the block device's (or the card's)
	SizeBytes  uint64
	Removable  bool     // the kernel says so, or Kind is not KindFixed
	USBPath    string   // the USB device's sysfs name (1-2), USB only
	Partitions []string // sdb1, sdb2, sorted
	DevPath    string   // the block device's path below sysfs, as a uevent's DEVPATH
}

// skipPrefixes are the virtual block devices Scan leaves out.
var skipPrefixes = []string{"loop", "ram", "zram", "dm-", "md"}

// Scan classifies every disk below sysRoot/class/block and sysRoot/block,
// leaving out partitions and virtual devices (loop, ram, zram, dm, md). The
// devices come sorted by name.
func Scan(sysRoot string) ([]Device, error) {
	root := resolveRoot(sysRoot)
	seen := map[string]bool{}
	var devs []Device
	found := false
	for _, sub := range []string{"class/block", "block"} {
		ents, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(sub)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list block devices: %w", err)
		}
		found = true
		for _, e := range ents {
			name := e.Name()
			if seen[name] || slices.ContainsFunc(skipPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
				continue
			}
			dir, err := filepath.EvalSymlinks(filepath.Join(root, filepath.FromSlash(sub), name))
			if err != nil || isPartition(dir) {
				continue
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				continue
			}
			seen[name] = true
			devs = append(devs, classify(root, dir))
		}
	}
	if !found {
		return nil, fmt.Errorf("list block devices below %s: %w", sysRoot, fs.ErrNotExist)
	}
	slices.SortFunc(devs, func(a, b Device) int { return cmp.Compare(a.Name, b.Name) })
	return devs, nil
}

// ByDevPath classifies the disk at devpath, a path below sysRoot as a uevent's
// DEVPATH gives it (/devices/…/block/sdb). A partition's devpath classifies
// the disk holding it.
func ByDevPath(sysRoot, devpath string) (Device, error) {
	root := resolveRoot(sysRoot)
	clean := filepath.FromSlash(strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+devpath)), "/"))
	dir, err := filepath.EvalSymlinks(filepath.Join(root, clean))
	if err != nil {
		return Device{}, fmt.Errorf("resolve %s: %w", devpath, err)
	}
	if isPartition(dir) {
		dir = filepath.Dir(dir)
	}
	if !slices.Contains(strings.Split(relPath(root, dir), "/"), "block") {
		return Device{}, fmt.Errorf("classify %s: %w", devpath, ErrNotBlock)
	}
	return classify(root, dir), nil
}

// resolveRoot returns sysRoot with its symlinks resolved, so that resolved
// device paths can be made relative to it.
func resolveRoot(sysRoot string) string {
	if r, err := filepath.EvalSymlinks(sysRoot); err == nil {
		return r
	}
	return filepath.Clean(sysRoot)
}

// classify reads the disk at resolved sysfs directory dir below root.
func classify(root, dir string) Device {
	d := Device{
		Name:      filepath.Base(dir),
		DevPath:   relPath(root, dir),
		SizeBytes: sectors(dir),
		Removable: attr(dir, "removable") == "1",
	}
	usb := usbAncestor(root, dir)
	d.Bus = busOf(d.DevPath, usb != "")
	if usb != "" {
		d.USBPath = filepath.Base(usb)
		d.VID = strings.ToLower(attr(usb, "idVendor"))
		d.PID = strings.ToLower(attr(usb, "idProduct"))
		d.Vendor = attr(usb, "manufacturer")
		d.Product = attr(usb, "product")
		d.Serial = attr(usb, "serial")
	}
	dev := deviceDir(dir)
	d.Vendor = cmp.Or(d.Vendor, attr(dev, "vendor"))
	d.Product = cmp.Or(d.Product, attr(dev, "model"), attr(dev, "name"))
	d.Serial = cmp.Or(d.Serial, attr(dev, "serial"), attr(dir, "serial"))

	switch {
	case optical(d.Name, dir):
		d.Kind = KindOptical
	case usb != "":
		d.Kind = KindUSBStorage
	case (d.Bus == "mmc" || strings.HasPrefix(d.Name, "mmcblk")) && attr(dev, "type") == "MMC":
		// The MMC card type is, in practice, eMMC soldered to the board: the
		// system disk of many laptops and thin clients, not a medium. SD
		// cards say "SD" (or "SD combo"), SDIO cards are no storage.
		d.Kind = KindFixed
	case d.Bus == "mmc" || strings.HasPrefix(d.Name, "mmcblk"):
		d.Kind = KindMemoryCard
	default:
		d.Kind = KindFixed
	}
	d.Removable = d.Removable || d.Kind != KindFixed

	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), d.Name) && isPartition(filepath.Join(dir, e.Name())) {
			d.Partitions = append(d.Partitions, e.Name())
		}
	}
	slices.Sort(d.Partitions)
	return d
}

// usbAncestor returns the directory of the nearest ancestor of dir (below
// root) that is a USB device, one with idVendor and idProduct; "" if none.
func usbAncestor(root, dir string) string {
	for p := filepath.Dir(dir); len(p) > len(root) && strings.HasPrefix(p, root); p = filepath.Dir(p) {
		if fileExists(filepath.Join(p, "idVendor")) && fileExists(filepath.Join(p, "idProduct")) {
			return p
		}
		if q := filepath.Dir(p); q == p {
			break
		}
	}
	return ""
}

// optical reports whether the disk name at dir is an optical drive: an sr*
// device, a SCSI device of type 5 (CD/DVD), or one whose capability has
// GENHD_FL_CD (8, set by kernels before 5.17).
func optical(name, dir string) bool {
	if strings.HasPrefix(name, "sr") && strings.Trim(name[2:], "0123456789") == "" && len(name) > 2 {
		return true
	}
	if attr(deviceDir(dir), "type") == "5" {
		return true
	}
	c, err := strconv.ParseUint(attr(dir, "capability"), 16, 64)
	return err == nil && c&8 != 0 && !strings.HasPrefix(name, "mmcblk") && !strings.HasPrefix(name, "nvme")
}

// busOf tells the bus from a device path's components, nearest the root
// bus first: usb (when a USB device was found), nvme, mmc, virtio, xen, ata, scsi.
func busOf(devpath string, usb bool) string {
	if usb {
		return "usb"
	}
	var nvme, mmc, virtio, xen, ata, scsi bool
	for _, c := range strings.Split(devpath, "/") {
		switch {
		case c == "nvme" || strings.HasPrefix(c, "nvme-subsys") || strings.HasPrefix(c, "nvme-fabrics"):
			nvme = true
		case c == "mmc_host" || numbered(c, "mmc"):
			mmc = true
		case numbered(c, "virtio"):
			virtio = true
		case strings.HasPrefix(c, "vbd-"):
			xen = true
		case numbered(c, "ata"):
			ata = true
		case numbered(c, "host"):
			scsi = true
		}
	}
	switch {
	case nvme:
		return "nvme"
	case mmc:
		return "mmc"
	case virtio:
		return "virtio"
	case xen:
		return "xen"
	case ata:
		return "ata"
	case scsi:
		return "scsi"
	}
	return ""
}

// numbered reports whether s is prefix followed by a decimal number.
func numbered(s, prefix string) bool {
	n, ok := strings.CutPrefix(s, prefix)
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}

// deviceDir returns the directory of the device a disk at dir hangs on (the
// SCSI device, the MMC card): its "device" link, else the parent of its
// "block" directory.
func deviceDir(dir string) string {
	if d, err := filepath.EvalSymlinks(filepath.Join(dir, "device")); err == nil {
		return d
	}
	if p := filepath.Dir(dir); filepath.Base(p) == "block" {
		return filepath.Dir(p)
	}
	return filepath.Join(dir, "device")
}

func isPartition(dir string) bool { return fileExists(filepath.Join(dir, "partition")) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// attr returns a sysfs attribute trimmed of blanks and NULs, "" when it is
// missing or unreadable.
func attr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return ""
	}
	return strings.Trim(string(b), " \t\r\n\x00")
}

// sectors returns the size attribute (512-byte sectors) in bytes.
func sectors(dir string) uint64 {
	n, err := strconv.ParseUint(attr(dir, "size"), 10, 64)
	if err != nil || n > (1<<64-1)/512 {
		return 0
	}
	return n * 512
}

// relPath returns dir relative to root, slash-separated with a leading slash.
func relPath(root, dir string) string {
	r, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(r, "..") {
		return filepath.ToSlash(dir)
	}
	return "/" + filepath.ToSlash(r)
}
