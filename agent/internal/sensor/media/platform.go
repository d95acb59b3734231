package media

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Kinds of OS event the platform reports.
const (
	osArrive  = "arrive"  // a medium (or its storage interface) appeared; decide now
	osVolumes = "volumes" // the medium's volumes can be read now (block devices exist)
	osLeave   = "leave"   // the medium went away
	osMount   = "mount"   // a volume was mounted
	osUnmount = "unmount" // a volume was unmounted
)

// osEvent is one thing the platform saw happen.
type osEvent struct {
	Kind string // os… kinds
	// Device identifies the medium: at least Name (or DevPath), with its USB
	// identity and class where the platform knows them already.
	Device wire.MediaDevice
	Mount  *wire.MediaMountInfo // osMount, osUnmount
	At     time.Time
}

// platform is what the operating system gives the media sensor. Linux uses
// the kernel's uevent socket, sysfs and /proc/self/mountinfo; Windows uses
// CM_Register_Notification, SetupAPI and the volume APIs. Tests use a fake.
type platform interface {
	// Scan lists the removable media attached now, with identity and
	// volume names (facts are read through OpenVolume).
	Scan() ([]wire.MediaDevice, error)
	// Describe completes a device named by an event (identity, size,
	// volumes) from what the OS holds now.
	Describe(dev wire.MediaDevice) (wire.MediaDevice, error)
	// Watch sends events until ctx ends or watching fails.
	Watch(ctx context.Context, out chan<- osEvent) error
	// OpenVolume opens a volume (a partition, or the whole medium) for raw
	// reading, returning its size in bytes.
	OpenVolume(dev wire.MediaDevice, vol string) (io.ReaderAt, int64, io.Closer, error)
	// Mounts returns the mount points of the medium's volumes now
	// (volume name -> mount info).
	Mounts(dev wire.MediaDevice) map[string]wire.MediaMountInfo
	// Block deauthorises (Linux) or disables (Windows) the device.
	Block(dev wire.MediaDevice) error
}

// platformOptions configure newPlatform, which each OS provides.
type platformOptions struct {
	// SysRoot is where sysfs is mounted (Linux; "/sys" when empty).
	SysRoot string
	// IncludeLoop reports loop devices as media of class wire.MediaLoop
	// (tests and benchmarks drive the sensor with them).
	IncludeLoop bool
	Logger      *slog.Logger
}
