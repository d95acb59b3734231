package media

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Disks, drives and volumes through their handles: device numbers, storage
// descriptors, sizes, mount points, and raw reads. Opening a device or volume
// with no access right (0) needs no privilege and is enough for the
// FILE_ANY_ACCESS IOCTLs; reading a volume raw takes GENERIC_READ, which the
// service has as LocalSystem.

// IOCTL codes: CTL_CODE(DeviceType, Function, METHOD_BUFFERED (0), Access)
// = DeviceType<<16 | Access<<14 | Function<<2 (winioctl.h).
const (
	winIoctlStorageCheckVerify2     = 0x2d<<16 | 0x0200<<2          // IOCTL_STORAGE_CHECK_VERIFY2, FILE_ANY_ACCESS
	winIoctlStorageGetDeviceNumber  = 0x2d<<16 | 0x0420<<2          // IOCTL_STORAGE_GET_DEVICE_NUMBER, FILE_ANY_ACCESS
	winIoctlStorageQueryProperty    = 0x2d<<16 | 0x0500<<2          // IOCTL_STORAGE_QUERY_PROPERTY, FILE_ANY_ACCESS
	winIoctlDiskGetDriveGeometry    = 0x07<<16 | 0x0000<<2          // IOCTL_DISK_GET_DRIVE_GEOMETRY, FILE_ANY_ACCESS
	winIoctlDiskGetDriveGeometryEx  = 0x07<<16 | 0x0028<<2          // IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, FILE_ANY_ACCESS
	winIoctlDiskGetLengthInfo       = 0x07<<16 | 0x01<<14 | 0x17<<2 // IOCTL_DISK_GET_LENGTH_INFO, FILE_READ_ACCESS
	winFsctlAllowExtendedDasdIO     = 0x09<<16 | 0x20<<2 | 3        // FSCTL_ALLOW_EXTENDED_DASD_IO, METHOD_NEITHER, FILE_ANY_ACCESS
	winIoctlMaxOutput               = 64 << 10
	winFileReadOnlyVolume           = 0x00080000 // FILE_READ_ONLY_VOLUME, a GetVolumeInformationW flag
	winActiveConsoleSessionNone     = 0xffffffff // WTSGetActiveConsoleSessionId: no session attached to the console
	winWTSUserName                  = 5          // WTS_INFO_CLASS WTSUserName
	winWTSDomainName                = 7          // WTS_INFO_CLASS WTSDomainName
	winWTSCurrentServer             = 0          // WTS_CURRENT_SERVER_HANDLE
	winStorageDescriptorInitialSize = 1024
)

var (
	winWtsapi32                   = windows.NewLazySystemDLL("wtsapi32.dll")
	winWTSQuerySessionInformation = winWtsapi32.NewProc("WTSQuerySessionInformationW")
)

// winOpen opens a device, drive or volume path (no trailing backslash)
// sharing it for reading and writing.
func winOpen(path string, access uint32) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	return windows.CreateFile(p, access, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, nil, windows.OPEN_EXISTING, 0, 0)
}

// winIoctl calls DeviceIoControl with an output buffer of outSize bytes,
// grown while the call says it is too small.
func winIoctl(h windows.Handle, code uint32, in []byte, outSize int) ([]byte, error) {
	var inp *byte
	if len(in) > 0 {
		inp = &in[0]
	}
	for size := max(outSize, 8); size <= winIoctlMaxOutput; size *= 2 {
		out := make([]byte, size)
		var got uint32
		err := windows.DeviceIoControl(h, code, inp, uint32(len(in)), &out[0], uint32(len(out)), &got, nil)
		if errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || errors.Is(err, windows.ERROR_MORE_DATA) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return out[:min(int(got), len(out))], nil
	}
	return nil, fmt.Errorf("ioctl %#x: output over %d bytes", code, winIoctlMaxOutput)
}

// winPathIoctl opens path with no access right and calls one IOCTL.
func winPathIoctl(path string, code uint32, in []byte, outSize int) ([]byte, error) {
	return winPathIoctlAs(path, 0, code, in, outSize)
}

// winPathIoctlAs opens path with the access rights given and calls one IOCTL.
func winPathIoctlAs(path string, access, code uint32, in []byte, outSize int) ([]byte, error) {
	h, err := winOpen(path, access)
	if err != nil {
		return nil, err
	}
	defer windows.CloseHandle(h)
	return winIoctl(h, code, in, outSize)
}

// winStorageNumberOf reads the STORAGE_DEVICE_NUMBER behind a disk, drive
// or volume path.
func winStorageNumberOf(path string) (winStorageNumber, error) {
	b, err := winPathIoctl(strings.TrimSuffix(path, `\`), winIoctlStorageGetDeviceNumber, nil, 12)
	if err != nil {
		return winStorageNumber{}, fmt.Errorf("device number of %s: %w", path, err)
	}
	return winParseStorageNumber(b)
}

// winStorageOf reads the STORAGE_DEVICE_DESCRIPTOR of a disk or drive; the
// descriptor's Size says how much there is when the first buffer is short.
func winStorageOf(path string) (winStorage, error) {
	b, err := winPathIoctl(path, winIoctlStorageQueryProperty, winStorageDescriptorQuery[:], winStorageDescriptorInitialSize)
	if err != nil {
		return winStorage{}, err
	}
	if len(b) >= 8 {
		if size := int(b[4]) | int(b[5])<<8 | int(b[6])<<16 | int(b[7])<<24; size > len(b) && size <= winIoctlMaxOutput {
			if b, err = winPathIoctl(path, winIoctlStorageQueryProperty, winStorageDescriptorQuery[:], size); err != nil {
				return winStorage{}, err
			}
		}
	}
	return winParseStorageDescriptor(b)
}

// winDiskSizeOf reads a disk's size from its DISK_GEOMETRY_EX; 0 when there
// is no medium in it.
func winDiskSizeOf(path string) uint64 {
	b, err := winPathIoctl(path, winIoctlDiskGetDriveGeometryEx, nil, 256)
	if err != nil {
		return 0
	}
	n, _ := winParseDiskSize(b)
	return n
}

// winHasMedia reports whether a drive holds a medium:
// IOCTL_STORAGE_CHECK_VERIFY2 on a handle opened with FILE_READ_ATTRIBUTES
// (which mounts no file system) succeeds when it does, or says the medium
// changed, and fails with ERROR_NOT_READY when it does not. A drive that
// cannot be asked (gone, or busy being removed) counts as empty.
func winHasMedia(path string) bool {
	_, err := winPathIoctlAs(path, windows.FILE_READ_ATTRIBUTES, winIoctlStorageCheckVerify2, nil, 8)
	return err == nil || errors.Is(err, windows.ERROR_MEDIA_CHANGED)
}

// winVolumeNameOf returns the volume GUID path (\\?\Volume{…}\) of a volume
// interface: GetVolumeNameForVolumeMountPointW on the interface path with a
// trailing backslash, else the volume of FindFirstVolumeW/FindNextVolumeW
// with the same device and partition number.
func winVolumeNameOf(link string) (string, error) {
	if p, err := windows.UTF16PtrFromString(strings.TrimSuffix(link, `\`) + `\`); err == nil {
		buf := make([]uint16, windows.MAX_PATH+1)
		if err := windows.GetVolumeNameForVolumeMountPoint(p, &buf[0], uint32(len(buf))); err == nil {
			return windows.UTF16ToString(buf), nil
		}
	}
	want, err := winStorageNumberOf(link)
	if err != nil {
		return "", err
	}
	var found string
	err = winEachVolume(func(name string) bool {
		if n, err := winStorageNumberOf(name); err == nil && n == want {
			found = name
			return false
		}
		return true
	})
	if found != "" {
		return found, nil
	}
	if err == nil {
		err = errors.New("the mount manager lists no such volume")
	}
	return "", fmt.Errorf("name of volume %s: %w", link, err)
}

// winEachVolume calls f with each volume GUID path the mount manager lists
// (FindFirstVolumeW, FindNextVolumeW) until f returns false.
func winEachVolume(f func(name string) bool) error {
	buf := make([]uint16, windows.MAX_PATH+1)
	find, err := windows.FindFirstVolume(&buf[0], uint32(len(buf)))
	if err != nil {
		return fmt.Errorf("find first volume: %w", err)
	}
	defer windows.FindVolumeClose(find)
	for {
		if !f(windows.UTF16ToString(buf)) {
			return nil
		}
		err := windows.FindNextVolume(find, &buf[0], uint32(len(buf)))
		if errors.Is(err, windows.ERROR_NO_MORE_FILES) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("find next volume: %w", err)
		}
	}
}

// winMountPoints lists a volume's drive letters and mounted folders
// (GetVolumePathNamesForVolumeNameW, a REG_MULTI_SZ-like list).
func winMountPoints(vol string) []string {
	p, err := windows.UTF16PtrFromString(vol)
	if err != nil {
		return nil
	}
	for size := uint32(windows.MAX_PATH + 1); size <= 1<<15; size *= 2 {
		buf := make([]uint16, size)
		var need uint32
		err := windows.GetVolumePathNamesForVolumeName(p, &buf[0], size, &need)
		if errors.Is(err, windows.ERROR_MORE_DATA) {
			size = max(size, need/2)
			continue
		}
		if err != nil {
			return nil
		}
		return winMultiSZ(unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 2*len(buf)))
	}
	return nil
}

// winVolumeInfo returns a volume's file system name and whether it is
// mounted read-only (GetVolumeInformationW); it fails for a drive without a
// medium and for a volume the system cannot read (a locked BitLocker volume).
func winVolumeInfo(root string) (fsName string, readOnly bool, err error) {
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return "", false, err
	}
	fs := make([]uint16, windows.MAX_PATH+1)
	var flags uint32
	if err := windows.GetVolumeInformation(p, nil, 0, nil, nil, &flags, &fs[0], uint32(len(fs))); err != nil {
		return "", false, err
	}
	return windows.UTF16ToString(fs), flags&winFileReadOnlyVolume != 0, nil
}

// winMountInfo describes a volume mounted at point. Its user is the user
// of the interactive console session (see winConsoleUser).
func winMountInfo(vol, point string) wire.MediaMountInfo {
	mi := wire.MediaMountInfo{Volume: vol, Point: point, User: winConsoleUser()}
	if fs, ro, err := winVolumeInfo(vol); err == nil {
		mi.FSType, mi.ReadOnly = winFSType(fs), ro
	}
	return mi
}

// winConsoleUser returns DOMAIN\user of the session attached to the
// physical console (WTSGetActiveConsoleSessionId, then
// WTSQuerySessionInformationW for WTSUserName and WTSDomainName); "" when no
// one is logged on there. This is the interactive user at the machine when
// the volume was mounted, which Windows does on its own for any user: it is
// not proven to be the one who plugged the medium in (a Remote Desktop
// session, or a medium plugged at a locked screen, says otherwise).
func winConsoleUser() string {
	id := windows.WTSGetActiveConsoleSessionId()
	if id == winActiveConsoleSessionNone {
		return ""
	}
	user := winWTSString(id, winWTSUserName)
	if user == "" {
		return ""
	}
	if domain := winWTSString(id, winWTSDomainName); domain != "" {
		return domain + `\` + user
	}
	return user
}

// winWTSString asks WTSQuerySessionInformationW(WTS_CURRENT_SERVER_HANDLE,
// session, class, &buffer, &bytes) for a string and frees the buffer.
func winWTSString(session, class uint32) string {
	if winWTSQuerySessionInformation.Find() != nil {
		return ""
	}
	var buf *byte
	var size uint32
	r, _, _ := winWTSQuerySessionInformation.Call(winWTSCurrentServer, uintptr(session), uintptr(class),
		uintptr(unsafe.Pointer(&buf)), uintptr(unsafe.Pointer(&size)))
	if r == 0 || buf == nil {
		return ""
	}
	defer windows.WTSFreeMemory(uintptr(unsafe.Pointer(buf)))
	return winUTF16(unsafe.Slice(buf, size))
}

// winVolumeFile is a volume opened for raw reading.
type winVolumeFile struct {
	h    windows.Handle
	once sync.Once
}

// winOpenVolume opens a volume (\\?\Volume{…}\) for raw reading with
// GENERIC_READ, sharing it with the file system that has it mounted. Its
// size is IOCTL_DISK_GET_LENGTH_INFO's; its sector size
// IOCTL_DISK_GET_DRIVE_GEOMETRY's, with reads aligned to it (see
// winAlignedReader).
func winOpenVolume(vol string) (io.ReaderAt, int64, io.Closer, error) {
	h, err := winOpen(strings.TrimSuffix(vol, `\`), windows.GENERIC_READ)
	if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
		return nil, 0, nil, fmt.Errorf("open %s: %w (raw reads need an administrator or LocalSystem)", vol, err)
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("open %s: %w", vol, err)
	}
	f := &winVolumeFile{h: h}
	// A mounted file system checks raw reads against its own size; the
	// last sectors of the partition (where some formats keep a backup
	// header) are read past it.
	winIoctl(h, winFsctlAllowExtendedDasdIO, nil, 8)
	b, err := winIoctl(h, winIoctlDiskGetLengthInfo, nil, 8)
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("size of %s: %w", vol, err)
	}
	size, err := winParseLength(b)
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("size of %s: %w", vol, err)
	}
	var sector uint32
	if b, err := winIoctl(h, winIoctlDiskGetDriveGeometry, nil, 24); err == nil {
		sector, _ = winParseSectorSize(b)
	}
	return &winAlignedReader{read: f.readAt, size: size, block: winReadBlock(sector)}, size, f, nil
}

// readAt reads len(p) bytes at off: ReadFile with the offset in an
// OVERLAPPED, which on a handle opened for synchronous I/O returns when the
// read is done.
func (f *winVolumeFile) readAt(p []byte, off int64) (int, error) {
	ov := windows.Overlapped{Offset: uint32(off), OffsetHigh: uint32(off >> 32)}
	var got uint32
	err := windows.ReadFile(f.h, p, &got, &ov)
	if errors.Is(err, windows.ERROR_HANDLE_EOF) {
		return int(got), io.EOF
	}
	return int(got), err
}

// Close closes the volume.
func (f *winVolumeFile) Close() error {
	var err error
	f.once.Do(func() { err = windows.CloseHandle(f.h) })
	return err
}

// winSystemDisk returns the device number of the disk holding the Windows
// directory: never to be blocked (a Windows To Go or USB-booted system).
func winSystemDisk() (winStorageNumber, error) {
	dir, err := windows.GetWindowsDirectory()
	if err != nil {
		return winStorageNumber{}, err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return winStorageNumber{}, err
	}
	root := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumePathName(p, &root[0], uint32(len(root))); err != nil {
		return winStorageNumber{}, fmt.Errorf("volume of %s: %w", dir, err)
	}
	vol := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeNameForVolumeMountPoint(&root[0], &vol[0], uint32(len(vol))); err != nil {
		return winStorageNumber{}, fmt.Errorf("volume of %s: %w", dir, err)
	}
	return winStorageNumberOf(windows.UTF16ToString(vol))
}
