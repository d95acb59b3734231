package inventory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Disks on Windows, decoded portably so that it is tested on Linux: the
// output buffers of the disk and volume IOCTLs (layouts per winioctl.h, all
// little-endian, offsets as the x64 and x86 compilers lay them out, which
// agree for these structures), and how drives, partitions and volumes join
// up. disk_windows.go makes the calls.

// IOCTL codes: CTL_CODE(device type, function, METHOD_BUFFERED, FILE_ANY_ACCESS).
const (
	ioctlStorageQueryProperty       = 0x2d<<16 | 0x0500<<2 // IOCTL_STORAGE_QUERY_PROPERTY
	ioctlDiskGetDriveGeometryEx     = 0x07<<16 | 0x0028<<2 // IOCTL_DISK_GET_DRIVE_GEOMETRY_EX
	ioctlDiskGetDriveLayoutEx       = 0x07<<16 | 0x0014<<2 // IOCTL_DISK_GET_DRIVE_LAYOUT_EX
	ioctlVolumeGetVolumeDiskExtents = 0x56<<16 | 0x0000<<2 // IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS
)

// storagePropertyQuery is a STORAGE_PROPERTY_QUERY asking for the
// StorageDeviceProperty (0) by PropertyStandardQuery (0): two DWORDs and a
// byte, padded to 12.
var storagePropertyQuery = make([]byte, 12)

// winStorageDevice is what a STORAGE_DEVICE_DESCRIPTOR says about a drive.
type winStorageDevice struct {
	vendor, product, serial string
	bus                     uint32 // STORAGE_BUS_TYPE
	removable               bool
	size                    uint32 // the descriptor's full size, which may exceed the buffer
}

// parseStorageDevice decodes a STORAGE_DEVICE_DESCRIPTOR: Version, Size
// (DWORDs at 0, 4), DeviceType, DeviceTypeModifier, RemovableMedia,
// CommandQueueing (bytes at 8–11), the offsets of the vendor, product,
// revision and serial strings (DWORDs at 12, 16, 20, 24; 0 for none), BusType
// (at 28), RawPropertiesLength (32), the raw properties from 36. The strings
// are NUL-terminated ASCII at their offsets from the structure's start.
func parseStorageDevice(b []byte) (winStorageDevice, error) {
	if len(b) < 36 {
		return winStorageDevice{}, fmt.Errorf("storage device descriptor of %d bytes", len(b))
	}
	le := binary.LittleEndian
	d := winStorageDevice{size: le.Uint32(b[4:8]), removable: b[10] != 0, bus: le.Uint32(b[28:32])}
	str := func(at int) string {
		off := le.Uint32(b[at : at+4])
		if off == 0 || off == 0xffffffff || uint64(off) >= uint64(len(b)) || uint64(off) >= uint64(d.size) {
			return ""
		}
		return hwString(b[off:])
	}
	d.vendor, d.product, d.serial = str(12), str(16), str(24)
	return d, nil
}

// storageBusNames name the STORAGE_BUS_TYPE values, in their order.
var storageBusNames = []string{
	"", "scsi", "atapi", "ata", "1394", "ssa", "fibre", "usb", "raid", "iscsi", "sas", "sata", "sd", "mmc",
	"virtual", "file-backed-virtual", "spaces", "nvme", "scm", "ufs", "nvmeof",
}

// storageBusName names a STORAGE_BUS_TYPE.
func storageBusName(t uint32) string {
	if int(t) < len(storageBusNames) {
		return storageBusNames[t]
	}
	return fmt.Sprintf("bus-%d", t)
}

// parseDiskGeometryEx decodes a DISK_GEOMETRY_EX: a DISK_GEOMETRY
// (Cylinders LARGE_INTEGER at 0, MediaType at 8, TracksPerCylinder 12,
// SectorsPerTrack 16, BytesPerSector 20) then DiskSize (LARGE_INTEGER at 24).
func parseDiskGeometryEx(b []byte) (size uint64, sectorSize uint32, err error) {
	if len(b) < 32 {
		return 0, 0, fmt.Errorf("disk geometry of %d bytes", len(b))
	}
	le := binary.LittleEndian
	return le.Uint64(b[24:32]), le.Uint32(b[20:24]), nil
}

// Partition styles (PARTITION_STYLE).
const (
	partitionStyleMBR = 0
	partitionStyleGPT = 1
	partitionStyleRAW = 2
)

// layoutPartition is one PARTITION_INFORMATION_EX of a drive layout.
type layoutPartition struct {
	number         uint32
	offset, length uint64
	style          uint32
	mbrType        byte     // MBR: the partition type byte
	gptType        [16]byte // GPT: the partition type GUID as stored
}

// Partition type GUIDs as Windows stores them (first three fields
// little-endian).
var (
	gptBasicData = winGUIDBytes(0xebd0a0a2, 0xb9e5, 0x4433, [8]byte{0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7})
)

func winGUIDBytes(a uint32, b, c uint16, d [8]byte) [16]byte {
	var g [16]byte
	binary.LittleEndian.PutUint32(g[0:], a)
	binary.LittleEndian.PutUint16(g[4:], b)
	binary.LittleEndian.PutUint16(g[6:], c)
	copy(g[8:], d[:])
	return g
}

// Sizes of the layout structures: DRIVE_LAYOUT_INFORMATION_EX is
// PartitionStyle and PartitionCount (DWORDs), a union of the MBR
// (Signature, CheckSum) and GPT (DiskId GUID, StartingUsableOffset,
// UsableLength, MaxPartitionCount: 36 bytes, padded to 40) layouts, then the
// PARTITION_INFORMATION_EX array at 48. Each PARTITION_INFORMATION_EX is 144
// bytes: PartitionStyle (0), StartingOffset (8), PartitionLength (16),
// PartitionNumber (24), RewritePartition and IsServicePartition (28, 29),
// then at 32 the MBR (PartitionType, BootIndicator, RecognizedPartition,
// HiddenSectors, PartitionId) or GPT (PartitionType GUID, PartitionId GUID,
// Attributes, Name[36] WCHAR: 112 bytes) union.
const (
	driveLayoutHeader = 48
	partitionInfoSize = 144
)

// parseDriveLayoutEx decodes a DRIVE_LAYOUT_INFORMATION_EX into its used
// partitions: MBR layouts list four entries per table, unused ones with
// type 0, and extended-partition containers, which hold no file system.
func parseDriveLayoutEx(b []byte) ([]layoutPartition, error) {
	if len(b) < driveLayoutHeader {
		return nil, fmt.Errorf("drive layout of %d bytes", len(b))
	}
	le := binary.LittleEndian
	count := le.Uint32(b[4:8])
	if uint64(count)*partitionInfoSize > uint64(len(b)-driveLayoutHeader) {
		return nil, fmt.Errorf("drive layout of %d bytes claims %d partitions", len(b), count)
	}
	var out []layoutPartition
	for i := range int(count) {
		e := b[driveLayoutHeader+i*partitionInfoSize:][:partitionInfoSize]
		p := layoutPartition{
			style:  le.Uint32(e[0:4]),
			offset: le.Uint64(e[8:16]),
			length: le.Uint64(e[16:24]),
			number: le.Uint32(e[24:28]),
		}
		switch p.style {
		case partitionStyleMBR:
			p.mbrType = e[32]
			if p.mbrType == 0 || p.mbrType == 0x05 || p.mbrType == 0x0f || p.mbrType == 0x85 {
				continue
			}
		case partitionStyleGPT:
			copy(p.gptType[:], e[32:48])
			if p.gptType == ([16]byte{}) {
				continue
			}
		}
		if p.length == 0 {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// mayHoldBitLocker reports whether a partition's type is one BitLocker
// encrypts in place: GPT basic data, MBR NTFS/exFAT (0x07) and FAT (BitLocker
// To Go). EFI system, recovery, reserved and foreign partitions are not
// looked at.
func (p layoutPartition) mayHoldBitLocker() bool {
	switch p.style {
	case partitionStyleGPT:
		return p.gptType == gptBasicData
	case partitionStyleMBR:
		switch p.mbrType {
		case 0x01, 0x04, 0x06, 0x07, 0x0b, 0x0c, 0x0e:
			return true
		}
	case partitionStyleRAW:
		return true
	}
	return false
}

// diskExtent is one DISK_EXTENT of a volume.
type diskExtent struct {
	disk           uint32
	offset, length uint64
}

// parseVolumeDiskExtents decodes a VOLUME_DISK_EXTENTS:
// NumberOfDiskExtents (DWORD, padded to 8), then DISK_EXTENTs of 24 bytes
// (DiskNumber DWORD padded to 8, StartingOffset, ExtentLength).
func parseVolumeDiskExtents(b []byte) ([]diskExtent, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("volume disk extents of %d bytes", len(b))
	}
	le := binary.LittleEndian
	n := le.Uint32(b[0:4])
	if uint64(n)*24 > uint64(len(b)-8) {
		return nil, fmt.Errorf("volume disk extents of %d bytes claim %d extents", len(b), n)
	}
	out := make([]diskExtent, n)
	for i := range out {
		e := b[8+i*24:][:24]
		out[i] = diskExtent{disk: le.Uint32(e[0:4]), offset: le.Uint64(e[8:16]), length: le.Uint64(e[16:24])}
	}
	return out, nil
}

// BitLocker's identifiers in a volume header: the volume GUID
// 4967d63b-2e29-4ad8-8399-f6a339e3d001, and 92a84d3b-dd80-4d0e-9e4e-b1e3284eaed8
// for a volume encrypted as it is written ("used space only").
var bitLockerGUIDs = [][16]byte{
	winGUIDBytes(0x4967d63b, 0x2e29, 0x4ad8, [8]byte{0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01}),
	winGUIDBytes(0x92a84d3b, 0xdd80, 0x4d0e, [8]byte{0x9e, 0x4e, 0xb1, 0xe3, 0x28, 0x4e, 0xae, 0xd8}),
}

// bitLockerHeader reports whether the first sector of a partition, as it lies
// on the disk, is a BitLocker volume header: "-FVE-FS-" in place of the OEM
// name at offset 3 (Vista and later), or, for BitLocker To Go whose header
// still reads as FAT ("MSWIN4.1"), the BitLocker GUID at offset 160 or 424.
// The sector must come from the raw disk: through the volume, BitLocker's
// filter shows an unlocked volume's decrypted boot sector.
func bitLockerHeader(sector []byte) bool {
	if len(sector) >= 11 && string(sector[3:11]) == "-FVE-FS-" {
		return true
	}
	for _, off := range []int{160, 424} {
		if len(sector) < off+16 {
			continue
		}
		for _, g := range bitLockerGUIDs {
			if bytes.Equal(sector[off:off+16], g[:]) {
				return true
			}
		}
	}
	return false
}

// winVolume is a mounted or mountable volume as Windows lists it.
type winVolume struct {
	name    string // \\?\Volume{…}\
	label   string
	fsType  string // NTFS, FAT32, exFAT, ReFS; "" for a locked or raw volume
	serial  uint32
	paths   []string // where it is mounted: C:\, C:\mnt\data\
	extents []byte   // VOLUME_DISK_EXTENTS
}

// winDiskSource is what the Windows disk inventory reads: the live system
// (disk_windows.go), recorded buffers in tests.
type winDiskSource interface {
	// driveNumbers returns the N of the \\.\PhysicalDriveN present.
	driveNumbers(ctx context.Context) ([]int, error)
	// driveIoctl returns the output of IOCTL code with input in on drive n,
	// of at least outSize bytes' room (more if the call asks for more).
	driveIoctl(n int, code uint32, in []byte, outSize int) ([]byte, error)
	// readDrive reads size bytes of drive n at byte offset off.
	readDrive(n int, off uint64, size int) ([]byte, error)
	volumes(ctx context.Context) ([]winVolume, error)
}

// winMaxSectorSize bounds the sector read for the BitLocker check.
const winMaxSectorSize = 4096

// windowsDisks lists the physical drives of src with their partitions, each
// joined to the volume that starts at its offset. Problems with one drive or
// volume are warned about and the rest still listed.
func windowsDisks(ctx context.Context, src winDiskSource, warn func(string, ...any)) ([]wire.Disk, error) {
	numbers, err := src.driveNumbers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list drives: %w", err)
	}
	vols, err := src.volumes(ctx)
	if err != nil {
		warn("list volumes: %v", err)
	}
	type at struct {
		disk   uint32
		offset uint64
	}
	byStart := map[at]winVolume{}
	for _, v := range vols {
		ext, err := parseVolumeDiskExtents(v.extents)
		if err != nil {
			warn("volume %s: %v", v.name, err)
			continue
		}
		// A volume spanning several extents (a dynamic disk's spanned or
		// striped volume) is no partition's own.
		if len(ext) == 1 {
			byStart[at{ext[0].disk, ext[0].offset}] = v
		}
	}
	var disks []wire.Disk
	for _, n := range numbers {
		if err := ctx.Err(); err != nil {
			return disks, err
		}
		d, err := windowsDisk(src, n, func(n uint32, off uint64) (winVolume, bool) {
			v, ok := byStart[at{n, off}]
			return v, ok
		})
		if err != nil {
			warn("drive %d: %v", n, err)
		}
		disks = append(disks, d)
	}
	slices.SortFunc(disks, func(a, b wire.Disk) int { return cmp.Compare(a.Name, b.Name) })
	return disks, nil
}

// windowsDisk reads drive n; volume finds the volume starting at an offset.
// What could be read is returned with the first error met.
func windowsDisk(src winDiskSource, n int, volume func(disk uint32, offset uint64) (winVolume, bool)) (wire.Disk, error) {
	d := wire.Disk{Name: fmt.Sprintf("PhysicalDrive%d", n)}
	var errs []error
	b, err := src.driveIoctl(n, ioctlStorageQueryProperty, storagePropertyQuery, 1024)
	if err == nil && len(b) >= 8 {
		if size := binary.LittleEndian.Uint32(b[4:8]); int(size) > len(b) && size <= 64<<10 {
			b, err = src.driveIoctl(n, ioctlStorageQueryProperty, storagePropertyQuery, int(size))
		}
	}
	if err == nil {
		var sd winStorageDevice
		if sd, err = parseStorageDevice(b); err == nil {
			d.Model, d.Serial, d.Bus = sd.product, sd.serial, storageBusName(sd.bus)
			d.Removable = sd.removable || d.Bus == "usb" || d.Bus == "sd" || d.Bus == "mmc"
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("query storage device: %w", err))
	}
	sectorSize := uint32(512)
	if b, err := src.driveIoctl(n, ioctlDiskGetDriveGeometryEx, nil, 256); err != nil {
		errs = append(errs, fmt.Errorf("get geometry: %w", err))
	} else if size, ss, err := parseDiskGeometryEx(b); err != nil {
		errs = append(errs, err)
	} else {
		d.SizeBytes = size
		if ss >= 512 && ss <= winMaxSectorSize && ss&(ss-1) == 0 {
			sectorSize = ss
		}
	}
	b, err = src.driveIoctl(n, ioctlDiskGetDriveLayoutEx, nil, driveLayoutHeader+16*partitionInfoSize)
	if err != nil {
		errs = append(errs, fmt.Errorf("get drive layout: %w", err))
		return d, errors.Join(errs...)
	}
	parts, err := parseDriveLayoutEx(b)
	if err != nil {
		errs = append(errs, err)
	}
	for _, lp := range parts {
		p := wire.Partition{Name: fmt.Sprintf("Harddisk%dPartition%d", n, lp.number), SizeBytes: lp.length}
		if v, ok := volume(uint32(n), lp.offset); ok {
			p.FSType, p.Label = v.fsType, v.label
			if v.serial != 0 {
				p.UUID = fmt.Sprintf("%04X-%04X", v.serial>>16, v.serial&0xffff)
			}
			p.Mountpoint = volumeMountpoint(v.paths)
		}
		if lp.mayHoldBitLocker() {
			sector, err := src.readDrive(n, lp.offset, int(sectorSize))
			switch {
			case err != nil || len(sector) < 512:
				// Reading the raw disk takes an administrator.
				p.Encryption = "unknown"
			case bitLockerHeader(sector):
				p.Encrypted, p.Encryption = true, "bitlocker"
			}
		}
		d.Partitions = append(d.Partitions, p)
	}
	slices.SortFunc(d.Partitions, func(a, b wire.Partition) int { return cmp.Compare(a.Name, b.Name) })
	return d, errors.Join(errs...)
}

// volumeMountpoint picks the mountpoint to show of a volume's: a drive
// letter before a folder, then the shortest.
func volumeMountpoint(paths []string) string {
	var best string
	for _, p := range paths {
		if best == "" || len(p) < len(best) || len(p) == len(best) && strings.Compare(p, best) < 0 {
			best = p
		}
	}
	return best
}
