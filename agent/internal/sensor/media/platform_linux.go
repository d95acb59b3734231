package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/media/classify"
	"github.com/sonevakt/sonevakt/agent/internal/sensor/media/uevent"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// settle is how long a new disk's partitions are waited for before its
// volumes are read: the kernel adds them right after the disk.
const settle = 150 * time.Millisecond

// linuxPlatform finds media in sysfs, follows them through the kernel's
// uevents (no udev needed), reads volumes from /dev and mounts from
// /proc/self/mountinfo, and blocks a medium the way USBGuard does.
type linuxPlatform struct {
	sys         string
	dev         string // where device nodes are: /dev
	mountinfo   string
	includeLoop bool
	log         *slog.Logger

	mu       sync.Mutex
	listener *uevent.Listener
	// reported are the disks reported (scanned or arrived), by name.
	reported map[string]bool
	// loops are the attachments of the loop devices reported (see
	// attachment).
	loops map[string]string
	// arrivals are the USB mass-storage devices reported arriving, by
	// sysfs name (1-2), with their device paths.
	arrivals map[string]string
}

var _ platform = (*linuxPlatform)(nil)

func newPlatform(opts platformOptions) (platform, error) {
	p := &linuxPlatform{sys: cmp.Or(opts.SysRoot, "/sys"), dev: "/dev", mountinfo: mountinfoPath,
		includeLoop: opts.IncludeLoop, log: opts.Logger,
		reported: map[string]bool{}, loops: map[string]string{}, arrivals: map[string]string{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if st, err := os.Stat(p.sys); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("media sysfs %s: not a directory", p.sys)
	}
	return p, nil
}

// listen opens the uevent socket once. Scan calls it before listing, so
// that whatever changes after the listing waits in the socket for Watch.
func (p *linuxPlatform) listen() (*uevent.Listener, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener != nil {
		return p.listener, nil
	}
	l, err := uevent.Listen()
	if err != nil {
		return nil, err
	}
	p.listener = l
	return l, nil
}

// Close closes the uevent socket.
func (p *linuxPlatform) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener == nil {
		return nil
	}
	err := p.listener.Close()
	p.listener = nil
	return err
}

// Scan implements platform: the removable disks below sysfs, and the loop
// devices with a backing file when loop devices are included.
func (p *linuxPlatform) Scan() ([]wire.MediaDevice, error) {
	if _, err := p.listen(); err != nil {
		p.log.Warn("uevents unavailable; media arriving later are missed", "err", err)
	}
	devs, err := classify.Scan(p.sys)
	if err != nil {
		return nil, err
	}
	var out []wire.MediaDevice
	for _, d := range devs {
		if d.Kind != classify.KindFixed {
			out = append(out, p.fromClassify(d))
		}
	}
	if p.includeLoop {
		ents, _ := os.ReadDir(filepath.Join(p.sys, "block"))
		for _, e := range ents {
			if d, ok := p.loopDevice(e.Name()); ok {
				out = append(out, d)
			}
		}
	}
	p.mu.Lock()
	for _, d := range out {
		p.reported[d.Name] = true
		if d.Class == wire.MediaLoop {
			p.loops[d.Name] = p.attachment(d)
		}
	}
	p.mu.Unlock()
	return out, nil
}

// fromClassify turns a classified disk into a medium with its volumes: its
// partitions, or the whole disk when it has none and holds something.
func (p *linuxPlatform) fromClassify(d classify.Device) wire.MediaDevice {
	m := wire.MediaDevice{Class: d.Kind, Name: d.Name, Bus: d.Bus, VID: d.VID, PID: d.PID, Vendor: d.Vendor,
		Product: d.Product, Serial: d.Serial, SizeBytes: d.SizeBytes, DevPath: d.DevPath}
	m.Volumes = volumesOf(filepath.Join(p.sys, "class", "block"), d.Name, d.Partitions, d.SizeBytes)
	return m
}

// volumesOf lists a disk's volumes with the sizes sysfs gives (dir holds
// one entry per block device).
func volumesOf(dir, disk string, parts []string, size uint64) []wire.MediaVolume {
	var vols []wire.MediaVolume
	for _, part := range parts {
		vols = append(vols, wire.MediaVolume{Name: part, SizeBytes: sectorsAt(filepath.Join(dir, part, "size"))})
	}
	if len(vols) == 0 && size > 0 {
		vols = append(vols, wire.MediaVolume{Name: disk, SizeBytes: size})
	}
	return vols
}

// loopDevice describes loop device name when it has a backing file.
func (p *linuxPlatform) loopDevice(name string) (wire.MediaDevice, bool) {
	if !isLoop(name) {
		return wire.MediaDevice{}, false
	}
	dir := filepath.Join(p.sys, "block", name)
	backing := readAttr(filepath.Join(dir, "loop", "backing_file"))
	if backing == "" {
		return wire.MediaDevice{}, false
	}
	d := wire.MediaDevice{Class: wire.MediaLoop, Name: name, Bus: "loop", Serial: backing,
		SizeBytes: sectorsAt(filepath.Join(dir, "size")), DevPath: "/devices/virtual/block/" + name}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		if root, err := filepath.EvalSymlinks(p.sys); err == nil {
			if rel, err := filepath.Rel(root, real); err == nil && !strings.HasPrefix(rel, "..") {
				d.DevPath = "/" + filepath.ToSlash(rel)
			}
		}
	}
	var parts []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), name+"p") && fileExists(filepath.Join(dir, e.Name(), "partition")) {
			parts = append(parts, e.Name())
		}
	}
	slices.Sort(parts)
	d.Volumes = volumesOf(dir, name, parts, d.SizeBytes)
	return d, true
}

// attachment names one attachment of a loop device: its backing file and
// the disk sequence number the kernel gives each attachment (kernels since
// 5.15), so that a detach and an attach of the same file are told apart
// even when their uevents are read late.
func (p *linuxPlatform) attachment(d wire.MediaDevice) string {
	return d.Serial + "\x00" + readAttr(filepath.Join(p.sys, "block", d.Name, "diskseq"))
}

// isLoop reports whether name is a loop disk (loop0, not loop0p1).
func isLoop(name string) bool {
	n, ok := strings.CutPrefix(name, "loop")
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}

// Describe implements platform.
func (p *linuxPlatform) Describe(dev wire.MediaDevice) (wire.MediaDevice, error) {
	if isLoop(dev.Name) {
		if d, ok := p.loopDevice(dev.Name); ok && p.includeLoop {
			return d, nil
		}
		return wire.MediaDevice{}, fmt.Errorf("loop device %s has no backing file", dev.Name)
	}
	if validName(dev.Name) {
		d, err := classify.ByDevPath(p.sys, "/class/block/"+dev.Name)
		if err == nil {
			return p.fromClassify(d), nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, classify.ErrNotBlock) {
			return wire.MediaDevice{}, err
		}
	}
	// A USB device: its identity, and the volumes of the first disk found below it.
	if dev.DevPath != "" {
		usb := filepath.Join(p.sys, filepath.FromSlash(strings.TrimPrefix(filepath.Clean("/"+dev.DevPath), "/")))
		if fileExists(filepath.Join(usb, "idVendor")) {
			d := usbIdentity(usb)
			d.Name, d.DevPath = dev.Name, dev.DevPath
			devs, _ := classify.Scan(p.sys)
			for _, c := range devs {
				if c.USBPath == filepath.Base(usb) && c.Kind != classify.KindFixed {
					return p.fromClassify(c), nil
				}
			}
			return d, nil
		}
	}
	return wire.MediaDevice{}, fmt.Errorf("%s: no such device in %s", dev.Name, p.sys)
}

// usbIdentity reads a USB device's identity from its sysfs directory.
func usbIdentity(dir string) wire.MediaDevice {
	return wire.MediaDevice{Class: wire.MediaUSBStorage, Bus: "usb",
		VID: strings.ToLower(readAttr(filepath.Join(dir, "idVendor"))), PID: strings.ToLower(readAttr(filepath.Join(dir, "idProduct"))),
		Vendor: readAttr(filepath.Join(dir, "manufacturer")), Product: readAttr(filepath.Join(dir, "product")),
		Serial: readAttr(filepath.Join(dir, "serial"))}
}

// OpenVolume implements platform: the volume's device node, read-only.
func (p *linuxPlatform) OpenVolume(dev wire.MediaDevice, vol string) (io.ReaderAt, int64, io.Closer, error) {
	if !validName(vol) || (vol != dev.Name && !slices.ContainsFunc(dev.Volumes, func(v wire.MediaVolume) bool { return v.Name == vol })) {
		return nil, 0, nil, fmt.Errorf("volume %q is not one of %s", vol, dev.Name)
	}
	return openDevice(filepath.Join(p.dev, vol))
}

// openDevice opens a block device (or an image file) read-only and returns
// its size: BLKGETSIZE64 for a device, else the end of the file.
func openDevice(path string) (io.ReaderAt, int64, io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, 0, nil, err
	}
	if st, err := f.Stat(); err == nil && st.Mode()&os.ModeDevice != 0 {
		if n, err := unix.IoctlGetUint64(int(f.Fd()), unix.BLKGETSIZE64); err == nil && n <= 1<<62 {
			return f, int64(n), f, nil
		}
	}
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, 0, nil, fmt.Errorf("size of %s: %w", path, err)
	}
	return f, n, f, nil
}

// Mounts implements platform.
func (p *linuxPlatform) Mounts(dev wire.MediaDevice) map[string]wire.MediaMountInfo {
	got, err := mountsNow(p.mountinfo, func(e mountEntry) (string, string, bool) {
		vol := volumeOf(p.sys, e)
		ok := vol != "" && (vol == dev.Name || slices.ContainsFunc(dev.Volumes, func(v wire.MediaVolume) bool { return v.Name == vol }))
		return dev.Name, vol, ok
	})
	if err != nil {
		p.log.Warn("read mounts", "err", err)
		return nil
	}
	out := map[string]wire.MediaMountInfo{}
	for _, id := range slices.Sorted(maps.Keys(got)) {
		if _, dup := out[got[id].info.Volume]; !dup {
			out[got[id].info.Volume] = got[id].info
		}
	}
	return out
}

// Block implements platform. A USB device is deauthorised (its drivers are
// unbound and its disks go away, as USBGuard does it); a loop device is
// detached; an optical drive on a SCSI bus is deleted from it. A memory card
// has no such switch.
func (p *linuxPlatform) Block(dev wire.MediaDevice) error {
	switch {
	case dev.Class == wire.MediaLoop:
		return detachLoop(filepath.Join(p.dev, dev.Name), dev.Name)
	case dev.Class == wire.MediaMemoryCard:
		return errors.New("no way to block an mmc memory card on Linux")
	}
	if usb := p.usbDeviceOf(dev); usb != "" {
		return writeAttr(filepath.Join(p.sys, "bus", "usb", "devices", usb, "authorized"), "0")
	}
	if dev.Class == wire.MediaOptical && validName(dev.Name) {
		return writeAttr(filepath.Join(p.sys, "block", dev.Name, "device", "delete"), "1")
	}
	return fmt.Errorf("no way to block %s (class %s, bus %q) on Linux", dev.Name, dev.Class, dev.Bus)
}

// usbDeviceOf returns the sysfs name (1-2) of the USB device dev is or
// hangs below, "" when none.
func (p *linuxPlatform) usbDeviceOf(dev wire.MediaDevice) string {
	if dev.DevPath == "" {
		return ""
	}
	root := filepath.Clean(p.sys)
	dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(filepath.Clean("/"+dev.DevPath), "/")))
	for ; len(dir) > len(root); dir = filepath.Dir(dir) {
		if fileExists(filepath.Join(dir, "idVendor")) && fileExists(filepath.Join(dir, "idProduct")) {
			if name := filepath.Base(dir); !strings.HasPrefix(name, "usb") {
				return name
			}
			return "" // a root hub: never deauthorise a whole bus
		}
	}
	return ""
}

// detachLoop detaches a loop device from its backing file (LOOP_CLR_FD);
// a loop device in use is detached by the kernel once its last user closes it.
func detachLoop(path, name string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("detach %s: %w", name, err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0); err != nil {
		return fmt.Errorf("detach %s: %w", name, err)
	}
	return nil
}

// Watch implements platform: kernel uevents and mount-table changes.
func (p *linuxPlatform) Watch(ctx context.Context, out chan<- osEvent) error {
	l, err := p.listen()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // the socket outlives no reader: Close follows Watch
	defer cancel()
	send := func(ev osEvent) bool {
		if ev.At.IsZero() {
			ev.At = time.Now()
		}
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	mountErr := make(chan error, 1)
	wg.Go(func() {
		mountErr <- watchMounts(ctx, p.mountinfo, p.resolveMount, send)
	})
	type next struct {
		ev  uevent.Event
		err error
	}
	uevents := make(chan next)
	wg.Go(func() {
		for {
			ev, err := l.Next(ctx)
			select {
			case uevents <- next{ev, err}:
			case <-ctx.Done():
				return
			}
			if err != nil && !errors.Is(err, unix.ENOBUFS) {
				return
			}
		}
	})

	w := &watch{p: p, send: send, pending: map[string]time.Time{}}
	for {
		var settled <-chan time.Time
		var timer *time.Timer
		if at, ok := w.nextSettled(); ok {
			timer = time.NewTimer(time.Until(at))
			settled = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-mountErr:
			// Arrivals and blocks matter more than mounts: go on without.
			if err != nil && ctx.Err() == nil {
				p.log.Error("mounts are not reported", "err", err)
			}
			mountErr = nil
		case n := <-uevents:
			switch {
			case errors.Is(n.err, unix.ENOBUFS):
				p.log.Warn("uevents lost; listing media again", "err", n.err)
				w.rescan()
			case n.err != nil:
				if ctx.Err() != nil {
					return nil
				}
				return n.err
			default:
				w.uevent(n.ev)
			}
		case <-settled:
			w.settled()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// resolveMount names the medium and volume a mount entry mounts, for the
// media reported only.
func (p *linuxPlatform) resolveMount(e mountEntry) (string, string, bool) {
	vol := volumeOf(p.sys, e)
	if !validName(vol) {
		return "", "", false
	}
	disk := vol
	if dir, err := filepath.EvalSymlinks(filepath.Join(p.sys, "class", "block", vol)); err == nil && fileExists(filepath.Join(dir, "partition")) {
		disk = filepath.Base(filepath.Dir(dir))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return disk, vol, p.reported[disk]
}

// watch is the state of one Watch: the disks whose volumes are read once
// their partitions have settled.
type watch struct {
	p       *linuxPlatform
	send    func(osEvent) bool
	pending map[string]time.Time // disk name -> when to read its volumes
}

func (w *watch) nextSettled() (time.Time, bool) {
	var first time.Time
	for _, at := range w.pending {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first, !first.IsZero()
}

// uevent turns one kernel uevent into platform events.
func (w *watch) uevent(ev uevent.Event) {
	p := w.p
	name := cmp.Or(ev.DevName, filepath.Base(ev.DevPath))
	switch {
	case ev.Subsystem == "usb" && ev.DevType == "usb_interface" && ev.Action == "add":
		if !massStorage(ev.Env["INTERFACE"]) {
			return
		}
		devpath := filepath.ToSlash(filepath.Dir(filepath.FromSlash(ev.DevPath)))
		usb := filepath.Base(devpath)
		// Every storage interface arrives: a second one of the same
		// device is known to the sensor, and one that comes back after
		// a block (authorized set to 1 again) is blocked again.
		p.mu.Lock()
		p.arrivals[usb] = devpath
		p.mu.Unlock()
		d := usbIdentity(filepath.Join(p.sys, filepath.FromSlash(strings.TrimPrefix(devpath, "/"))))
		d.Name, d.DevPath = usb, devpath
		if strings.HasPrefix(ev.Env["INTERFACE"], "8/2/") || strings.HasPrefix(ev.Env["INTERFACE"], "8/5/") {
			d.Class = wire.MediaOptical // ATAPI (MMC) command set: a CD/DVD drive
		}
		w.send(osEvent{Kind: osArrive, Device: d})

	case ev.Subsystem == "usb" && ev.DevType == "usb_device" && ev.Action == "remove":
		usb := filepath.Base(ev.DevPath)
		p.mu.Lock()
		_, ok := p.arrivals[usb]
		delete(p.arrivals, usb)
		p.mu.Unlock()
		if ok {
			w.send(osEvent{Kind: osLeave, Device: wire.MediaDevice{Name: usb, DevPath: ev.DevPath}})
		}

	case ev.Subsystem == "block" && ev.DevType == "disk" && isLoop(name):
		if p.includeLoop && (ev.Action == "add" || ev.Action == "change" || ev.Action == "remove") {
			w.loopChanged(name, ev.DevPath)
		}

	case ev.Subsystem == "block" && ev.DevType == "disk":
		switch ev.Action {
		case "add":
			d, err := classify.ByDevPath(p.sys, ev.DevPath)
			if err != nil || d.Kind == classify.KindFixed {
				return
			}
			p.mu.Lock()
			p.reported[name] = true
			p.mu.Unlock()
			w.pending[name] = time.Now().Add(settle)
		case "remove":
			w.left(name, ev.DevPath)
		case "change":
			w.mediaChanged(name, ev)
		}

	case ev.Subsystem == "block" && ev.DevType == "partition":
		disk := filepath.Base(filepath.Dir(filepath.FromSlash(ev.DevPath)))
		p.mu.Lock()
		known := p.reported[disk]
		p.mu.Unlock()
		if known && (ev.Action == "add" || ev.Action == "remove") {
			// More partitions to come, or a table rewritten: read
			// the volumes once it is quiet.
			w.pending[disk] = time.Now().Add(settle)
		}
	}
}

// loopChanged follows a loop device's backing file: one appearing (losetup
// sends "change" on attach, and "add" only when it creates the device)
// arrives, one going ("change" on detach) leaves.
func (w *watch) loopChanged(name, devpath string) {
	p := w.p
	d, attached := p.loopDevice(name)
	now := ""
	if attached {
		now = p.attachment(d)
	}
	p.mu.Lock()
	known, was := p.loops[name]
	p.mu.Unlock()
	switch {
	case attached && was && known == now:
		return // the same attachment (the second "change" of an attach)
	case was:
		w.left(name, devpath)
	}
	if !attached {
		return
	}
	p.mu.Lock()
	p.loops[name] = now
	p.reported[name] = true
	p.mu.Unlock()
	arrive := d
	arrive.Volumes = nil
	w.send(osEvent{Kind: osArrive, Device: arrive})
	w.pending[name] = time.Now().Add(settle)
}

// mediaChanged follows the disc in an optical drive: a disc going is the
// medium leaving, a disc coming is a medium arriving in the drive.
func (w *watch) mediaChanged(name string, ev uevent.Event) {
	p := w.p
	if ev.Env["DISK_MEDIA_CHANGE"] != "1" {
		return
	}
	d, err := classify.ByDevPath(p.sys, ev.DevPath)
	if err != nil || d.Kind != classify.KindOptical {
		return
	}
	p.mu.Lock()
	was := p.reported[name]
	p.mu.Unlock()
	if was {
		w.left(name, "")
	}
	p.mu.Lock()
	p.reported[name] = true
	p.mu.Unlock()
	w.pending[name] = time.Now().Add(settle)
}

// left reports a disk gone.
func (w *watch) left(name, devpath string) {
	p := w.p
	delete(w.pending, name)
	p.mu.Lock()
	was := p.reported[name]
	delete(p.reported, name)
	delete(p.loops, name)
	p.mu.Unlock()
	if was {
		w.send(osEvent{Kind: osLeave, Device: wire.MediaDevice{Name: name, DevPath: devpath}})
	}
}

// settled reads the volumes of the disks whose partitions have settled.
func (w *watch) settled() {
	now := time.Now()
	for _, name := range slices.Sorted(maps.Keys(w.pending)) {
		if w.pending[name].After(now) {
			continue
		}
		delete(w.pending, name)
		d, err := w.p.Describe(wire.MediaDevice{Name: name})
		if err != nil {
			continue // gone already (blocked, or pulled): its leave follows
		}
		if d.Class == wire.MediaLoop {
			w.p.mu.Lock()
			same := w.p.loops[name] == w.p.attachment(d)
			w.p.mu.Unlock()
			if !same {
				continue
			}
		}
		w.send(osEvent{Kind: osVolumes, Device: d})
	}
}

// rescan compares what is attached now with what was reported, after
// uevents were lost.
func (w *watch) rescan() {
	p := w.p
	p.mu.Lock()
	before := maps.Clone(p.reported)
	p.mu.Unlock()
	devs, err := p.Scan()
	if err != nil {
		p.log.Warn("list removable media", "err", err)
		return
	}
	now := map[string]bool{}
	for _, d := range devs {
		now[d.Name] = true
		if !before[d.Name] {
			w.send(osEvent{Kind: osVolumes, Device: d})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(before)) {
		if !now[name] {
			w.left(name, "")
		}
	}
}

// massStorage reports whether a USB interface (INTERFACE=class/subclass/protocol,
// decimal) is mass storage.
func massStorage(iface string) bool { return strings.HasPrefix(iface, "8/") }

// validName reports whether name can be a block device's name: one path
// element.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readAttr returns a sysfs attribute trimmed of blanks and NULs, "" when it
// is missing or unreadable.
func readAttr(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.Trim(string(b), " \t\r\n\x00")
}

// writeAttr writes an existing sysfs attribute.
func writeAttr(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(value); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// sectorsAt reads a size attribute (512-byte sectors) in bytes.
func sectorsAt(path string) uint64 {
	n, err := strconv.ParseUint(readAttr(path), 10, 64)
	if err != nil || n > (1<<64-1)/512 {
		return 0
	}
	return n * 512
}
