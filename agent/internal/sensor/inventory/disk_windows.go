package inventory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// hwLiveDisks is this machine's disks, through \\.\PhysicalDriveN and the
// volume manager.
type hwLiveDisks struct{}

var _ winDiskSource = hwLiveDisks{}

// hwMaxIoctlOut bounds the output buffer of one IOCTL.
const hwMaxIoctlOut = 1 << 20

func hwOpen(path string, access uint32) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	return windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
}

func hwDrivePath(n int) string { return fmt.Sprintf(`\\.\PhysicalDrive%d`, n) }

// driveNumbers probes \\.\PhysicalDrive0, 1, …: numbers may have gaps after a
// drive left, so the probe goes on to 32 past the last drive found. Opening
// with no access right needs no privilege.
func (hwLiveDisks) driveNumbers(ctx context.Context) ([]int, error) {
	var out []int
	last := -1
	for n := 0; n < 256 && n-last <= 32; n++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		h, err := hwOpen(hwDrivePath(n), 0)
		if errors.Is(err, windows.ERROR_FILE_NOT_FOUND) || errors.Is(err, windows.ERROR_PATH_NOT_FOUND) {
			continue
		}
		if err == nil {
			windows.CloseHandle(h)
		}
		out, last = append(out, n), n
	}
	return out, nil
}

func (hwLiveDisks) driveIoctl(n int, code uint32, in []byte, outSize int) ([]byte, error) {
	h, err := hwOpen(hwDrivePath(n), 0)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	return hwIoctl(h, code, in, outSize)
}

// hwIoctl calls DeviceIoControl with an output buffer of outSize bytes,
// doubled while the call says it is too small.
func hwIoctl(h windows.Handle, code uint32, in []byte, outSize int) ([]byte, error) {
	var inp *byte
	if len(in) > 0 {
		inp = &in[0]
	}
	for size := max(outSize, 64); size <= hwMaxIoctlOut; size *= 2 {
		out := make([]byte, size)
		var got uint32
		err := windows.DeviceIoControl(h, code, inp, uint32(len(in)), &out[0], uint32(len(out)), &got, nil)
		if errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || errors.Is(err, windows.ERROR_MORE_DATA) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if int(got) > len(out) {
			return nil, fmt.Errorf("ioctl %#x returned %d bytes into %d", code, got, len(out))
		}
		return out[:got], nil
	}
	return nil, fmt.Errorf("ioctl %#x: output over %d bytes", code, hwMaxIoctlOut)
}

// readDrive reads the raw disk, which takes an administrator. size is a
// power of two no larger than winMaxSectorSize and off a multiple of the sector
// size, as reads of a disk device must be; the buffer is aligned to size.
func (hwLiveDisks) readDrive(n int, off uint64, size int) ([]byte, error) {
	if size <= 0 || size > winMaxSectorSize || size&(size-1) != 0 || off%uint64(size) != 0 {
		return nil, fmt.Errorf("read of %d bytes at %d is not sector-aligned", size, off)
	}
	h, err := hwOpen(hwDrivePath(n), windows.GENERIC_READ)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	buf := make([]byte, 2*size)
	skip := int(uintptr(unsafe.Pointer(&buf[0])) & uintptr(size-1))
	if skip != 0 {
		skip = size - skip
	}
	b := buf[skip : skip+size]
	ov := windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(off >> 32)}
	var got uint32
	if err := windows.ReadFile(h, b, &got, &ov); err != nil {
		return nil, err
	}
	return b[:got], nil
}

// volumes lists the volumes with their file system, mount paths and disk
// extents. A volume whose extents cannot be read (a CD or DVD drive) is left
// out: it is on no disk of ours.
func (hwLiveDisks) volumes(ctx context.Context) ([]winVolume, error) {
	buf := make([]uint16, windows.MAX_PATH+1)
	find, err := windows.FindFirstVolume(&buf[0], uint32(len(buf)))
	if err != nil {
		return nil, fmt.Errorf("find first volume: %w", err)
	}
	defer windows.FindVolumeClose(find)
	var out []winVolume
	for {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if v, ok := hwVolume(windows.UTF16ToString(buf)); ok {
			out = append(out, v)
		}
		err := windows.FindNextVolume(find, &buf[0], uint32(len(buf)))
		if errors.Is(err, windows.ERROR_NO_MORE_FILES) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("find next volume: %w", err)
		}
	}
}

// hwVolume reads the volume named name (\\?\Volume{…}\).
func hwVolume(name string) (winVolume, bool) {
	v := winVolume{name: name}
	h, err := hwOpen(strings.TrimSuffix(name, `\`), 0)
	if err != nil {
		return v, false
	}
	v.extents, err = hwIoctl(h, ioctlVolumeGetVolumeDiskExtents, nil, 8+24)
	windows.CloseHandle(h)
	if err != nil {
		return v, false
	}
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return v, false
	}
	// A locked BitLocker volume or an empty card reader has no file system
	// to tell of; the volume is listed all the same.
	label := make([]uint16, windows.MAX_PATH+1)
	fsName := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeInformation(p, &label[0], uint32(len(label)), &v.serial, nil, nil, &fsName[0], uint32(len(fsName))); err == nil {
		v.label, v.fsType = windows.UTF16ToString(label), windows.UTF16ToString(fsName)
	}
	for size := uint32(windows.MAX_PATH + 1); size <= 1<<16; size *= 2 {
		paths := make([]uint16, size)
		var need uint32
		err := windows.GetVolumePathNamesForVolumeName(p, &paths[0], size, &need)
		if errors.Is(err, windows.ERROR_MORE_DATA) {
			size = max(size, need/2)
			continue
		}
		if err == nil {
			v.paths = hwMultiSZ(paths)
		}
		break
	}
	return v, true
}

// hwMultiSZ splits a list of strings each ended by a NUL, the list ended by
// another NUL.
func hwMultiSZ(b []uint16) []string {
	var out []string
	for len(b) > 0 && b[0] != 0 {
		end := 0
		for end < len(b) && b[end] != 0 {
			end++
		}
		out = append(out, windows.UTF16ToString(b[:end]))
		b = b[min(end+1, len(b)):]
	}
	return out
}
