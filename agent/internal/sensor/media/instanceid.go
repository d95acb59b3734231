package media

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// What Windows says about a device's identity, decoded on every OS so that it
// is tested on Linux. Windows names a device node by its instance id
// (USB\VID_0781&PID_5583\4C530001230322116363: enumerator, device id,
// instance), a device interface by its symbolic link
// (\\?\USB#VID_0781&PID_5583#4C530001230322116363#{a5dcbf10-…}), and
// describes a disk in a STORAGE_DEVICE_DESCRIPTOR. The facts are gathered by
// cfgmgr_windows.go and volume_windows.go; which removable medium a node
// belongs to is decided here.

// winInstanceID is what a device instance id says.
type winInstanceID struct {
	// Enumerator is the bus driver that named the node: USB, USBSTOR, SD,
	// SCSI, IDE, STORAGE, … (upper-cased).
	Enumerator string
	// Kind is the device type of a storage node (USBSTOR\DISK&…,
	// SCSI\CDROM&…): DISK, CDROM, … (upper-cased), "" for other nodes.
	Kind string
	// VID and PID are as written (USB: 4 hex digits; SD: the card's
	// manufacturer id and product name).
	VID, PID string
	// Vendor, Product and Revision are the VEN_, PROD_ and REV_ parts of a
	// storage node, with Windows' underscores turned back into blanks.
	Vendor, Product, Revision string
	// Interface is the function number of a USB composite device's child
	// node (…&MI_01), -1 for every other node.
	Interface int
	// Serial is the serial number in the instance part, "" when Windows made
	// the instance part up (a device without a usable serial number).
	Serial string
}

// winParseInstanceID parses an instance id; ok is false for what does not
// have the three parts enumerator\device\instance.
func winParseInstanceID(id string) (winInstanceID, bool) {
	parts := strings.Split(id, `\`)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return winInstanceID{}, false
	}
	w := winInstanceID{Enumerator: strings.ToUpper(parts[0]), Interface: -1}
	for i, tok := range strings.Split(parts[1], "&") {
		k, v, found := strings.Cut(tok, "_")
		switch key := strings.ToUpper(k); {
		case found && key == "VID":
			w.VID = v
		case found && key == "PID":
			w.PID = v
		case found && key == "MI":
			if n, err := strconv.ParseUint(v, 16, 8); err == nil {
				w.Interface = int(n)
			}
		case found && key == "VEN":
			w.Vendor = winUnderscores(v)
		case found && key == "PROD":
			w.Product = winUnderscores(v)
		case found && key == "REV":
			w.Revision = winUnderscores(v)
		case i == 0 && !found && tok != "":
			// USBSTOR\DISK&VEN_…, SCSI\CDROM&VEN_…
			w.Kind = strings.ToUpper(tok)
		}
	}
	serial := parts[2]
	if winGeneratedInstance(serial) {
		serial = ""
	}
	if serial != "" && (w.Enumerator == "USBSTOR" || w.Enumerator == "SCSI") {
		// USBSTOR appends the logical unit: 4C530001230322116363&0.
		if i := strings.LastIndexByte(serial, '&'); i > 0 && winIsDecimal(serial[i+1:]) {
			serial = serial[:i]
		}
	}
	w.Serial = serial
	return w, true
}

// winGeneratedInstance reports whether an instance part was made up by
// Windows for a device with no usable serial number: such a part starts with
// a digit and an ampersand (7&2A8C1F5&0&1).
func winGeneratedInstance(s string) bool {
	return len(s) >= 2 && s[1] == '&'
}

// winUnderscores turns the underscores Windows puts for blanks in the
// storage parts of an id back into blanks.
func winUnderscores(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "_", " "))
}

func winIsDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// winLinkInstanceID returns the instance id of the device a device interface
// belongs to, from the interface's symbolic link:
// \\?\USBSTOR#Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00#4C530001230322116363&0#{53f56307-…}
// is USBSTOR\Disk&Ven_SanDisk&Prod_Ultra_Fit&Rev_1.00\4C530001230322116363&0.
// The last #{…} (the interface class, and any reference string after it) is
// dropped and the first two # are the separators: an instance part may hold
// # of its own (STORAGE\Volume\_??_USBSTOR#Disk&…#{53f56307-…}).
func winLinkInstanceID(link string) (string, bool) {
	rest, ok := strings.CutPrefix(link, `\\?\`)
	if !ok {
		if rest, ok = strings.CutPrefix(link, `\??\`); !ok {
			return "", false
		}
	}
	i := strings.LastIndex(rest, "#{")
	if i <= 0 {
		return "", false
	}
	rest = rest[:i]
	if strings.Count(rest, "#") < 2 {
		return "", false
	}
	rest = strings.Replace(rest, "#", `\`, 2)
	if _, ok := winParseInstanceID(rest); !ok {
		return "", false
	}
	return rest, true
}

// winKey is how instance ids and symbolic links are compared: Windows treats
// them without regard to case.
func winKey(s string) string { return strings.ToUpper(s) }

// winNode is what Windows says about one device node.
type winNode struct {
	ID            string   // the instance id
	CompatibleIDs []string // USB\Class_08&SubClass_06&Prot_50, …
	// BusReported is DEVPKEY_Device_BusReportedDeviceDesc: the product
	// string the device itself reported.
	BusReported  string
	FriendlyName string // SPDRP_FRIENDLYNAME: "SanDisk Ultra Fit USB Device"
	// RemovalPolicy is SPDRP_REMOVAL_POLICY (CM_REMOVAL_POLICY_…), 0 when
	// unknown.
	RemovalPolicy uint32
}

// Removal policies (cfgmgr32.h).
const (
	winRemovalExpectNone     = 1 // CM_REMOVAL_POLICY_EXPECT_NO_REMOVAL
	winRemovalExpectOrderly  = 2 // CM_REMOVAL_POLICY_EXPECT_ORDERLY_REMOVAL
	winRemovalExpectSurprise = 3 // CM_REMOVAL_POLICY_EXPECT_SURPRISE_REMOVAL
)

// winStorage is what a STORAGE_DEVICE_DESCRIPTOR says about a disk or an
// optical drive.
type winStorage struct {
	Vendor, Product, Serial string
	Bus                     uint32 // STORAGE_BUS_TYPE
	RemovableMedia          bool
}

// STORAGE_BUS_TYPE values (winioctl.h) that matter here.
const (
	winBusSCSI              = 0x01
	winBusATAPI             = 0x02
	winBusATA               = 0x03
	winBusUSB               = 0x07
	winBusRAID              = 0x08
	winBusISCSI             = 0x09
	winBusSAS               = 0x0a
	winBusSATA              = 0x0b
	winBusSD                = 0x0c
	winBusMMC               = 0x0d
	winBusVirtual           = 0x0e
	winBusFileBackedVirtual = 0x0f
	winBusSpaces            = 0x10
	winBusNVMe              = 0x11
)

// winStorageDescriptorQuery is the STORAGE_PROPERTY_QUERY that asks
// IOCTL_STORAGE_QUERY_PROPERTY for the StorageDeviceProperty (0) by
// PropertyStandardQuery (0): two DWORDs and a BYTE[1], padded to 12 bytes.
var winStorageDescriptorQuery = [12]byte{}

// winParseStorageDescriptor decodes a STORAGE_DEVICE_DESCRIPTOR (winioctl.h;
// the same offsets on x86, x64 and arm64): Version and Size (DWORDs at 0
// and 4), DeviceType, DeviceTypeModifier, RemovableMedia, CommandQueueing
// (BYTEs at 8–11), the offsets of the vendor, product, revision and serial
// strings (DWORDs at 12, 16, 20, 24; 0 for none), BusType (28),
// RawPropertiesLength (32). The strings are NUL-terminated ASCII at their
// offsets from the structure's start.
func winParseStorageDescriptor(b []byte) (winStorage, error) {
	if len(b) < 36 {
		return winStorage{}, fmt.Errorf("storage device descriptor of %d bytes, want at least 36", len(b))
	}
	le := binary.LittleEndian
	size := min(uint64(le.Uint32(b[4:])), uint64(len(b)))
	str := func(at int) string {
		off := uint64(le.Uint32(b[at:]))
		if off < 36 || off >= size {
			return ""
		}
		s := b[off:size]
		if i := strings.IndexByte(string(s), 0); i >= 0 {
			s = s[:i]
		}
		return strings.TrimSpace(strings.ToValidUTF8(string(s), ""))
	}
	return winStorage{Vendor: str(12), Product: str(16), Serial: str(24), Bus: le.Uint32(b[28:]), RemovableMedia: b[10] != 0}, nil
}

// winStorageNumber is a STORAGE_DEVICE_NUMBER: which disk (or CD-ROM drive)
// a disk, partition or volume handle leads to.
type winStorageNumber struct {
	Type      uint32 // DEVICE_TYPE: FILE_DEVICE_DISK (7), FILE_DEVICE_CD_ROM (2), …
	Number    uint32 // N of \\.\PhysicalDriveN, \\.\CdRomN
	Partition uint32 // 1-based partition number, 0 for the whole device (and ^0 where partitions do not apply)
}

// sameDevice reports whether two numbers name the same disk or drive.
func (n winStorageNumber) sameDevice(o winStorageNumber) bool {
	return n.Type == o.Type && n.Number == o.Number
}

// Device types (DEVICE_TYPE, winioctl.h).
const (
	winDeviceCDROM = 0x02 // FILE_DEVICE_CD_ROM
	winDeviceDisk  = 0x07 // FILE_DEVICE_DISK
)

// winParseStorageNumber decodes a STORAGE_DEVICE_NUMBER (winioctl.h): three
// DWORDs, DeviceType, DeviceNumber, PartitionNumber (12 bytes).
func winParseStorageNumber(b []byte) (winStorageNumber, error) {
	if len(b) < 12 {
		return winStorageNumber{}, fmt.Errorf("storage device number of %d bytes, want 12", len(b))
	}
	le := binary.LittleEndian
	return winStorageNumber{Type: le.Uint32(b), Number: le.Uint32(b[4:]), Partition: le.Uint32(b[8:])}, nil
}

// winParseDiskSize decodes the DiskSize of a DISK_GEOMETRY_EX (winioctl.h):
// a DISK_GEOMETRY (24 bytes: Cylinders LARGE_INTEGER, MediaType,
// TracksPerCylinder, SectorsPerTrack, BytesPerSector) then DiskSize (a
// LARGE_INTEGER at 24).
func winParseDiskSize(b []byte) (uint64, error) {
	if len(b) < 32 {
		return 0, fmt.Errorf("disk geometry of %d bytes, want at least 32", len(b))
	}
	return binary.LittleEndian.Uint64(b[24:]), nil
}

// winParseSectorSize decodes BytesPerSector of a DISK_GEOMETRY (a DWORD at
// 20 of its 24 bytes).
func winParseSectorSize(b []byte) (uint32, error) {
	if len(b) < 24 {
		return 0, fmt.Errorf("disk geometry of %d bytes, want 24", len(b))
	}
	return binary.LittleEndian.Uint32(b[20:]), nil
}

// winParseLength decodes a GET_LENGTH_INFORMATION (winioctl.h): one
// LARGE_INTEGER, the length in bytes.
func winParseLength(b []byte) (int64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("length information of %d bytes, want 8", len(b))
	}
	n := int64(binary.LittleEndian.Uint64(b))
	if n < 0 {
		return 0, fmt.Errorf("length %d", n)
	}
	return n, nil
}

// winUSBClass returns the mass-storage medium class a USB device's
// compatible ids (or those of its functions) say: USB\Class_08&SubClass_xx
// is mass storage; subclass 02 (ATAPI) and 05 (SFF-8070i) are optical
// drives, as on Linux.
func winUSBClass(ids []string) (class string, ok bool) {
	for _, id := range ids {
		rest, found := strings.CutPrefix(strings.ToUpper(id), `USB\CLASS_`)
		if !found || len(rest) < 2 || rest[:2] != "08" {
			continue
		}
		class = wire.MediaUSBStorage
		if sub, found := strings.CutPrefix(rest[2:], "&SUBCLASS_"); found && len(sub) >= 2 && (sub[:2] == "02" || sub[:2] == "05") {
			class = wire.MediaOptical
		}
		return class, true
	}
	return "", false
}

// winUSBMedium describes the USB device node dev as a removable medium: it
// is one when it, or one of its functions (the child nodes of a composite
// device), is of the mass-storage class. The name of a medium on Windows is
// the instance id of its root node, which stays the same from its arrival to
// its removal; so is its device path.
func winUSBMedium(dev winNode, functions []winNode) (wire.MediaDevice, bool) {
	id, ok := winParseInstanceID(dev.ID)
	if !ok || id.Enumerator != "USB" || id.Interface >= 0 || !winIsHex4(id.VID) || !winIsHex4(id.PID) {
		return wire.MediaDevice{}, false
	}
	class, ok := winUSBClass(dev.CompatibleIDs)
	for _, f := range functions {
		if ok {
			break
		}
		class, ok = winUSBClass(f.CompatibleIDs)
	}
	if !ok {
		return wire.MediaDevice{}, false
	}
	return wire.MediaDevice{Class: class, Name: dev.ID, DevPath: dev.ID, Bus: "usb",
		VID: strings.ToLower(id.VID), PID: strings.ToLower(id.PID), Serial: id.Serial,
		Product: dev.BusReported}, true
}

func winIsHex4(s string) bool {
	_, err := strconv.ParseUint(s, 16, 16)
	return len(s) == 4 && err == nil
}

// winDiskFacts is what Windows says about a disk or an optical drive and the
// nodes above it.
type winDiskFacts struct {
	Iface winIface // winIfaceDisk or winIfaceCDROM
	// Chain is the drive's own node, then its parent, and so on up to (not
	// including) the root of the device tree.
	Chain   []winNode
	Storage winStorage // zero when the descriptor could not be read
}

// winDiskMedium decides which removable medium a disk or optical drive
// belongs to, and describes it:
//
//   - below a USB device (USBSTOR, or SCSI for USB Attached SCSI): that
//     device is the medium, of class usb-storage (optical for a CD-ROM);
//   - an optical drive on another bus: the drive is the medium;
//   - a card in a built-in reader (the SD enumerator, an SD or MMC bus, or
//     removable media in a node Windows expects to be removed): the card's
//     disk is the medium, of class memory-card;
//   - anything else is a fixed disk: ok is false.
func winDiskMedium(f winDiskFacts) (wire.MediaDevice, bool) {
	if len(f.Chain) == 0 {
		return wire.MediaDevice{}, false
	}
	drive := f.Chain[0]
	id, ok := winParseInstanceID(drive.ID)
	if !ok {
		return wire.MediaDevice{}, false
	}
	optical := f.Iface == winIfaceCDROM || id.Kind == "CDROM"
	st := f.Storage
	vendor := cmp.Or(id.Vendor, st.Vendor)
	product := cmp.Or(id.Product, st.Product)
	if id.Enumerator == "SD" {
		product = cmp.Or(id.PID, st.Product)
		vendor = st.Vendor
	}

	for i, n := range f.Chain[1:] {
		u, ok := winParseInstanceID(n.ID)
		if !ok || u.Enumerator != "USB" || u.Interface >= 0 {
			continue // not a USB device, or one function of a composite one
		}
		var functions []winNode
		if i > 0 {
			functions = f.Chain[i : i+1] // the function the drive hangs below
		}
		d, ok := winUSBMedium(n, functions)
		if !ok {
			// A USB device that names no class we know, yet holds a
			// disk: storage all the same.
			if !winIsHex4(u.VID) || !winIsHex4(u.PID) {
				return wire.MediaDevice{}, false
			}
			d = wire.MediaDevice{Name: n.ID, DevPath: n.ID, Bus: "usb",
				VID: strings.ToLower(u.VID), PID: strings.ToLower(u.PID), Serial: u.Serial, Product: n.BusReported}
		}
		d.Class = wire.MediaUSBStorage
		if optical {
			d.Class = wire.MediaOptical
		}
		d.Vendor = vendor
		d.Product = cmp.Or(d.Product, product, drive.FriendlyName)
		return d, true
	}

	d := wire.MediaDevice{Name: drive.ID, DevPath: drive.ID, Vendor: vendor,
		Product: cmp.Or(product, drive.FriendlyName), Serial: cmp.Or(id.Serial, st.Serial), Bus: winBusName(st.Bus, id.Enumerator)}
	switch {
	case optical:
		d.Class = wire.MediaOptical
	case id.Enumerator == "SD" || st.Bus == winBusSD || st.Bus == winBusMMC:
		d.Class = wire.MediaMemoryCard
	case st.RemovableMedia && (drive.RemovalPolicy == winRemovalExpectOrderly || drive.RemovalPolicy == winRemovalExpectSurprise) && !winFixedBus(st.Bus):
		d.Class = wire.MediaMemoryCard
	default:
		return wire.MediaDevice{}, false
	}
	return d, true
}

// winFixedBus reports whether a storage bus holds only fixed disks, whatever
// the drive says about removable media.
func winFixedBus(bus uint32) bool {
	switch bus {
	case winBusRAID, winBusISCSI, winBusSAS, winBusVirtual, winBusFileBackedVirtual, winBusSpaces, winBusNVMe:
		return true
	}
	return false
}

// winBusName names a drive's bus as the Linux side does: usb, mmc, ata,
// scsi, nvme; from the storage bus type, else the enumerator.
func winBusName(bus uint32, enumerator string) string {
	switch bus {
	case winBusUSB:
		return "usb"
	case winBusSD, winBusMMC:
		return "mmc"
	case winBusATA, winBusATAPI, winBusSATA:
		return "ata"
	case winBusSCSI, winBusSAS:
		return "scsi"
	case winBusNVMe:
		return "nvme"
	}
	switch enumerator {
	case "SD":
		return "mmc"
	case "IDE":
		return "ata"
	case "SCSI":
		return "scsi"
	}
	return ""
}

// winUTF16 decodes a NUL-terminated little-endian UTF-16 string from b.
func winUTF16(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// winMultiSZ splits a REG_MULTI_SZ: UTF-16 strings each ended by a NUL, the
// list ended by another.
func winMultiSZ(b []byte) []string {
	var out []string
	var cur []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c != 0 {
			cur = append(cur, c)
			continue
		}
		if len(cur) == 0 {
			break
		}
		out = append(out, string(utf16.Decode(cur)))
		cur = cur[:0]
	}
	if len(cur) > 0 {
		out = append(out, string(utf16.Decode(cur)))
	}
	return out
}
