package inventory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The Windows disk inventory on buffers laid out as winioctl.h documents
// the structures (no Windows machine recorded them): see disk_ioctl.go for
// the offsets.

var diskLE = binary.LittleEndian

// storageDescriptor builds a STORAGE_DEVICE_DESCRIPTOR with its strings
// after the fixed part, as drivers return it.
func storageDescriptor(vendor, product, serial string, bus uint32, removable bool) []byte {
	b := make([]byte, 40)
	diskLE.PutUint32(b[0:], 40)
	b[8] = 0 // DIRECT_ACCESS_DEVICE
	if removable {
		b[10] = 1
	}
	b[11] = 1
	for i, s := range []string{vendor, product, "1.0", serial} {
		if s == "" {
			continue
		}
		diskLE.PutUint32(b[12+4*i:], uint32(len(b)))
		b = append(append(b, s...), 0)
	}
	diskLE.PutUint32(b[28:], bus)
	diskLE.PutUint32(b[4:], uint32(len(b)))
	return b
}

// diskGeometryEx builds a DISK_GEOMETRY_EX followed by the DISK_PARTITION_INFO
// and DISK_DETECTION_INFO the call appends (left zero).
func diskGeometryEx(size uint64, sector uint32) []byte {
	b := make([]byte, 32+8+24)
	diskLE.PutUint64(b[0:], size/uint64(sector)/63/255)
	diskLE.PutUint32(b[8:], 12) // FixedMedia
	diskLE.PutUint32(b[12:], 255)
	diskLE.PutUint32(b[16:], 63)
	diskLE.PutUint32(b[20:], sector)
	diskLE.PutUint64(b[24:], size)
	return b
}

// layoutEntry is one partition for driveLayout.
type layoutEntry struct {
	number         uint32
	offset, length uint64
	mbrType        byte
	gptType        [16]byte
	name           string
}

// driveLayout builds a DRIVE_LAYOUT_INFORMATION_EX of style with entries.
func driveLayout(style uint32, entries ...layoutEntry) []byte {
	b := make([]byte, driveLayoutHeader+len(entries)*partitionInfoSize)
	diskLE.PutUint32(b[0:], style)
	diskLE.PutUint32(b[4:], uint32(len(entries)))
	if style == partitionStyleGPT {
		copy(b[8:], "disk-guid-bytes!")
		diskLE.PutUint64(b[24:], 17408)
		diskLE.PutUint32(b[40:], 128)
	} else {
		diskLE.PutUint32(b[8:], 0x5f3a1c2e) // disk signature
	}
	for i, e := range entries {
		p := b[driveLayoutHeader+i*partitionInfoSize:]
		diskLE.PutUint32(p[0:], style)
		diskLE.PutUint64(p[8:], e.offset)
		diskLE.PutUint64(p[16:], e.length)
		diskLE.PutUint32(p[24:], e.number)
		if style == partitionStyleGPT {
			copy(p[32:], e.gptType[:])
			copy(p[48:], "partition-guid!!")
			for j, r := range e.name {
				diskLE.PutUint16(p[72+2*j:], uint16(r))
			}
		} else {
			p[32] = e.mbrType
			p[34] = 1 // RecognizedPartition
			diskLE.PutUint32(p[36:], uint32(e.offset/512))
		}
	}
	return b
}

// volumeExtents builds a VOLUME_DISK_EXTENTS.
func volumeExtents(ext ...diskExtent) []byte {
	b := make([]byte, 8+24*len(ext))
	diskLE.PutUint32(b[0:], uint32(len(ext)))
	for i, e := range ext {
		p := b[8+24*i:]
		diskLE.PutUint32(p[0:], e.disk)
		diskLE.PutUint64(p[8:], e.offset)
		diskLE.PutUint64(p[16:], e.length)
	}
	return b
}

// Volume boot sectors as they lie on the disk.
func bootSector(oem string, guidAt int, guid [16]byte) []byte {
	s := make([]byte, 512)
	copy(s, []byte{0xeb, 0x58, 0x90})
	copy(s[3:], oem)
	if guidAt > 0 {
		copy(s[guidAt:], guid[:])
	}
	s[510], s[511] = 0x55, 0xaa
	return s
}

var (
	gptEFI      = winGUIDBytes(0xc12a7328, 0xf81f, 0x11d2, [8]byte{0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b})
	gptMSR      = winGUIDBytes(0xe3c9e316, 0x0b5c, 0x4db8, [8]byte{0x81, 0x7d, 0xf9, 0x2d, 0xf0, 0x02, 0x15, 0xae})
	gptRecovery = winGUIDBytes(0xde94bba4, 0x06d1, 0x4d40, [8]byte{0xa1, 0x6a, 0xbf, 0xd5, 0x01, 0x79, 0xd6, 0xac})
)

const diskMiB = 1 << 20

// fakeDisks is a winDiskSource of buffers.
type fakeDisks struct {
	drives  []int
	ioctl   map[int]map[uint32][]byte // drive → code → output; missing: error
	sectors map[int]map[uint64][]byte // drive → offset → sector; missing: access denied
	vols    []winVolume
	volErr  error
}

var errDiskAccessDenied = errors.New("Access is denied.")

func (f fakeDisks) driveNumbers(context.Context) ([]int, error) { return f.drives, nil }

func (f fakeDisks) driveIoctl(n int, code uint32, in []byte, outSize int) ([]byte, error) {
	if code == ioctlStorageQueryProperty && (len(in) != 12 || diskLE.Uint32(in[0:]) != 0 || diskLE.Uint32(in[4:]) != 0) {
		return nil, fmt.Errorf("query %x is not StorageDeviceProperty, PropertyStandardQuery", in)
	}
	b, ok := f.ioctl[n][code]
	if !ok {
		return nil, fmt.Errorf("ioctl %#x on drive %d: The device is not ready.", code, n)
	}
	// Like the driver, the query fills what fits of the descriptor; its
	// Size field says how much there is.
	if code == ioctlStorageQueryProperty && len(b) > outSize {
		return b[:outSize], nil
	}
	return b, nil
}

func (f fakeDisks) readDrive(n int, off uint64, size int) ([]byte, error) {
	s, ok := f.sectors[n][off]
	if !ok {
		return nil, errDiskAccessDenied
	}
	if size < 512 || size > len(s) {
		return nil, fmt.Errorf("read of %d bytes", size)
	}
	return s[:size], nil
}

func (f fakeDisks) volumes(context.Context) ([]winVolume, error) { return f.vols, f.volErr }

func TestWindowsDisks(t *testing.T) {
	longModel := strings.Repeat("M", 1100) // a descriptor over the first 1024-byte try
	src := fakeDisks{
		drives: []int{0, 1, 2, 3, 4},
		ioctl: map[int]map[uint32][]byte{
			0: {
				ioctlStorageQueryProperty:   storageDescriptor("", "Samsung SSD 980 PRO 1TB", "0025_3851_1234_5678.", 17, false),
				ioctlDiskGetDriveGeometryEx: diskGeometryEx(1000204886016, 512),
				ioctlDiskGetDriveLayoutEx: driveLayout(partitionStyleGPT,
					layoutEntry{number: 1, offset: 1 * diskMiB, length: 100 * diskMiB, gptType: gptEFI, name: "EFI system partition"},
					layoutEntry{number: 2, offset: 101 * diskMiB, length: 16 * diskMiB, gptType: gptMSR, name: "Microsoft reserved partition"},
					layoutEntry{number: 3, offset: 117 * diskMiB, length: 952000 * diskMiB, gptType: gptBasicData, name: "Basic data partition"},
					layoutEntry{number: 4, offset: 952117 * diskMiB, length: 750 * diskMiB, gptType: gptRecovery},
				),
			},
			1: {
				ioctlStorageQueryProperty:   storageDescriptor("SanDisk", "Cruzer Blade", "4C530001230531104523", 7, true),
				ioctlDiskGetDriveGeometryEx: diskGeometryEx(15631122432, 512),
				ioctlDiskGetDriveLayoutEx: driveLayout(partitionStyleMBR,
					layoutEntry{number: 1, offset: 1 * diskMiB, length: 14906 * diskMiB, mbrType: 0x0c},
					layoutEntry{}, layoutEntry{}, layoutEntry{}),
			},
			2: {
				ioctlStorageQueryProperty:   storageDescriptor("", "WDC WD40EZRZ-00GXCB0", "WD-WCC7K1234567", 11, false),
				ioctlDiskGetDriveGeometryEx: diskGeometryEx(4000787030016, 4096),
				ioctlDiskGetDriveLayoutEx: driveLayout(partitionStyleMBR,
					layoutEntry{number: 1, offset: 1 * diskMiB, length: 2000000 * diskMiB, mbrType: 0x07},
					layoutEntry{number: 0, offset: 2000001 * diskMiB, length: 1000000 * diskMiB, mbrType: 0x0f},
					layoutEntry{}, layoutEntry{},
					layoutEntry{number: 2, offset: 2000002 * diskMiB, length: 999999 * diskMiB, mbrType: 0x07},
					layoutEntry{}, layoutEntry{}, layoutEntry{}),
			},
			3: {
				ioctlStorageQueryProperty: storageDescriptor("", "Virtual Disk", "", 14, false),
				ioctlDiskGetDriveLayoutEx: driveLayout(partitionStyleRAW),
			},
			4: {
				ioctlStorageQueryProperty:   storageDescriptor("", longModel, "", 10, false),
				ioctlDiskGetDriveGeometryEx: diskGeometryEx(1<<40, 512),
				ioctlDiskGetDriveLayoutEx:   driveLayout(partitionStyleGPT),
			},
		},
		sectors: map[int]map[uint64][]byte{
			0: {1 * diskMiB: bootSector("MSDOS5.0", 0, [16]byte{}), 117 * diskMiB: bootSector("-FVE-FS-", 160, bitLockerGUIDs[0]), 952117 * diskMiB: bootSector("NTFS    ", 0, [16]byte{})},
			1: {1 * diskMiB: bootSector("MSWIN4.1", 424, bitLockerGUIDs[0])},
		},
		vols: []winVolume{
			{name: `\\?\Volume{0a1b}\`, fsType: "NTFS", label: "", serial: 0x1a2b3c4d, paths: []string{`C:\`},
				extents: volumeExtents(diskExtent{0, 117 * diskMiB, 952000 * diskMiB})},
			{name: `\\?\Volume{0a1c}\`, fsType: "FAT32", extents: volumeExtents(diskExtent{0, 1 * diskMiB, 100 * diskMiB})},
			{name: `\\?\Volume{0a1d}\`, fsType: "NTFS", label: "Recovery", extents: volumeExtents(diskExtent{0, 952117 * diskMiB, 750 * diskMiB})},
			{name: `\\?\Volume{0b00}\`, fsType: "FAT32", label: "KEY", serial: 0x00c0ffee, paths: []string{`E:\`},
				extents: volumeExtents(diskExtent{1, 1 * diskMiB, 14906 * diskMiB})},
			{name: `\\?\Volume{0c00}\`, fsType: "NTFS", label: "Data", serial: 0xdeadbeef, paths: []string{`D:\Data\`, `D:\`, `F:\`},
				extents: volumeExtents(diskExtent{2, 1 * diskMiB, 2000000 * diskMiB})},
			// A volume spanning two disks belongs to no partition.
			{name: `\\?\Volume{0d00}\`, fsType: "NTFS", paths: []string{`S:\`},
				extents: volumeExtents(diskExtent{2, 2000002 * diskMiB, 999999 * diskMiB}, diskExtent{1, 1 * diskMiB, 1})},
			{name: `\\?\Volume{0e00}\`, extents: []byte{2, 0, 0, 0, 0, 0, 0, 0}},
		},
	}
	var warnings []string
	got, err := windowsDisks(context.Background(), src, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
	if err != nil {
		t.Fatalf("windowsDisks: %v", err)
	}
	want := []wire.Disk{
		{Name: "PhysicalDrive0", Model: "Samsung SSD 980 PRO 1TB", Serial: "0025_3851_1234_5678.", SizeBytes: 1000204886016, Bus: "nvme",
			Partitions: []wire.Partition{
				{Name: "Harddisk0Partition1", SizeBytes: 100 * diskMiB, FSType: "FAT32"},
				{Name: "Harddisk0Partition2", SizeBytes: 16 * diskMiB},
				{Name: "Harddisk0Partition3", SizeBytes: 952000 * diskMiB, FSType: "NTFS", UUID: "1A2B-3C4D", Mountpoint: `C:\`, Encrypted: true, Encryption: "bitlocker"},
				{Name: "Harddisk0Partition4", SizeBytes: 750 * diskMiB, FSType: "NTFS", Label: "Recovery"},
			}},
		{Name: "PhysicalDrive1", Model: "Cruzer Blade", Serial: "4C530001230531104523", SizeBytes: 15631122432, Bus: "usb", Removable: true,
			Partitions: []wire.Partition{
				{Name: "Harddisk1Partition1", SizeBytes: 14906 * diskMiB, FSType: "FAT32", Label: "KEY", UUID: "00C0-FFEE", Mountpoint: `E:\`, Encrypted: true, Encryption: "bitlocker"},
			}},
		{Name: "PhysicalDrive2", Model: "WDC WD40EZRZ-00GXCB0", Serial: "WD-WCC7K1234567", SizeBytes: 4000787030016, Bus: "sata",
			Partitions: []wire.Partition{
				{Name: "Harddisk2Partition1", SizeBytes: 2000000 * diskMiB, FSType: "NTFS", Label: "Data", UUID: "DEAD-BEEF", Mountpoint: `D:\`, Encryption: "unknown"},
				{Name: "Harddisk2Partition2", SizeBytes: 999999 * diskMiB, Encryption: "unknown"},
			}},
		{Name: "PhysicalDrive3", Model: "Virtual Disk", Bus: "virtual"},
		{Name: "PhysicalDrive4", Model: longModel, SizeBytes: 1 << 40, Bus: "sas"},
	}
	if d := hwDiff(got, want); d != "" {
		t.Errorf("windowsDisks differs (-want +got):\n%s", d)
	}
	wantWarn := []string{
		`volume \\?\Volume{0e00}\: volume disk extents of 8 bytes claim 2 extents`,
		`drive 3: get geometry: ioctl 0x700a0 on drive 3: The device is not ready.`,
	}
	if d := hwDiff(warnings, wantWarn); d != "" {
		t.Errorf("windowsDisks warnings differ (-want +got):\n%s", d)
	}
}

func TestWindowsDisksNoVolumes(t *testing.T) {
	src := fakeDisks{drives: []int{0}, volErr: errors.New("find first volume: Access is denied."), ioctl: map[int]map[uint32][]byte{0: {
		ioctlStorageQueryProperty:   storageDescriptor("", "KINGSTON SA400S37240G", "50026B7782A1B2C3", 11, false),
		ioctlDiskGetDriveGeometryEx: diskGeometryEx(240057409536, 512),
		ioctlDiskGetDriveLayoutEx:   driveLayout(partitionStyleMBR, layoutEntry{number: 1, offset: diskMiB, length: 228936 * diskMiB, mbrType: 0x83}),
	}}}
	var warnings []string
	got, err := windowsDisks(context.Background(), src, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
	want := []wire.Disk{{Name: "PhysicalDrive0", Model: "KINGSTON SA400S37240G", Serial: "50026B7782A1B2C3", SizeBytes: 240057409536, Bus: "sata",
		Partitions: []wire.Partition{{Name: "Harddisk0Partition1", SizeBytes: 228936 * diskMiB}}}}
	if err != nil || hwDiff(got, want) != "" {
		t.Errorf("windowsDisks = %+v, %v; want %+v", got, err, want)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "list volumes: ") {
		t.Errorf("warnings = %q, want one about listing volumes", warnings)
	}
}

func TestParseStorageDevice(t *testing.T) {
	good := storageDescriptor("ATA", "ST1000DM010", "Z9A1B2C3", 11, false)
	badOffsets := append([]byte(nil), good...)
	diskLE.PutUint32(badOffsets[12:], 0xffffffff)        // "none"
	diskLE.PutUint32(badOffsets[16:], uint32(len(good))) // past the end
	for _, c := range []struct {
		name    string
		in      []byte
		want    winStorageDevice
		wantErr bool
	}{
		{"descriptor", good, winStorageDevice{vendor: "ATA", product: "ST1000DM010", serial: "Z9A1B2C3", bus: 11, size: uint32(len(good))}, false},
		{"offsets out of range", badOffsets, winStorageDevice{serial: "Z9A1B2C3", bus: 11, size: uint32(len(good))}, false},
		{"truncated: strings past the buffer", good[:40], winStorageDevice{bus: 11, size: uint32(len(good))}, false},
		{"short", good[:20], winStorageDevice{}, true},
	} {
		got, err := parseStorageDevice(c.in)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("%s: parseStorageDevice = %+v, %v; want %+v, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestParseDriveLayoutExShort(t *testing.T) {
	b := driveLayout(partitionStyleGPT, layoutEntry{number: 1, offset: diskMiB, length: diskMiB, gptType: gptBasicData})
	for _, n := range []int{0, 47, len(b) - 1} {
		if _, err := parseDriveLayoutEx(b[:n]); err == nil {
			t.Errorf("parseDriveLayoutEx(%d of %d bytes) succeeded, want an error", n, len(b))
		}
	}
	got, err := parseDriveLayoutEx(b)
	want := []layoutPartition{{number: 1, offset: diskMiB, length: diskMiB, style: partitionStyleGPT, gptType: gptBasicData}}
	if err != nil || len(got) != 1 || got[0] != want[0] {
		t.Errorf("parseDriveLayoutEx = %+v, %v; want %+v", got, err, want)
	}
}

func TestBitLockerHeader(t *testing.T) {
	for _, c := range []struct {
		name   string
		sector []byte
		want   bool
	}{
		{"BitLocker (Windows 7 and later)", bootSector("-FVE-FS-", 160, bitLockerGUIDs[0]), true},
		{"BitLocker, signature only (Vista)", bootSector("-FVE-FS-", 0, [16]byte{}), true},
		{"BitLocker To Go on FAT", bootSector("MSWIN4.1", 424, bitLockerGUIDs[0]), true},
		{"used space only", bootSector("MSWIN4.1", 424, bitLockerGUIDs[1]), true},
		{"plain FAT32", bootSector("MSWIN4.1", 0, [16]byte{}), false},
		{"NTFS", bootSector("NTFS    ", 0, [16]byte{}), false},
		{"exFAT", bootSector("EXFAT   ", 0, [16]byte{}), false},
		{"short read", []byte("\xeb\x58\x90-FVE"), false},
	} {
		if got := bitLockerHeader(c.sector); got != c.want {
			t.Errorf("bitLockerHeader(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStorageBusName(t *testing.T) {
	for in, want := range map[uint32]string{0: "", 1: "scsi", 3: "ata", 7: "usb", 10: "sas", 11: "sata", 12: "sd", 14: "virtual", 16: "spaces", 17: "nvme", 20: "nvmeof", 99: "bus-99"} {
		if got := storageBusName(in); got != want {
			t.Errorf("storageBusName(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestIoctlCodes(t *testing.T) {
	// The values winioctl.h's CTL_CODE macros expand to.
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"IOCTL_STORAGE_QUERY_PROPERTY", ioctlStorageQueryProperty, 0x002d1400},
		{"IOCTL_DISK_GET_DRIVE_GEOMETRY_EX", ioctlDiskGetDriveGeometryEx, 0x000700a0},
		{"IOCTL_DISK_GET_DRIVE_LAYOUT_EX", ioctlDiskGetDriveLayoutEx, 0x00070050},
		{"IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS", ioctlVolumeGetVolumeDiskExtents, 0x00560000},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#08x, want %#08x", c.name, c.got, c.want)
		}
	}
}
