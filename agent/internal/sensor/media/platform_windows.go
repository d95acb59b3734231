package media

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/windows"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// windowsPlatform finds media through SetupAPI and the device tree, follows
// them through CM_Register_Notification (Windows 8 and later), reads volumes
// raw through their volume GUID paths, and blocks a medium by disabling its
// USB device (or optical drive). The decisions are in winevents.go and
// instanceid.go; the calls are in cfgmgr_windows.go, setupapi_windows.go and
// volume_windows.go.
type windowsPlatform struct {
	log *slog.Logger
	sys winLive

	mu sync.Mutex
	// notes is the registration set, made by the first Scan (so that what
	// changes after the listing waits for Watch) or Watch.
	notes *winNotifications
	watch *winWatch
}

var (
	_ platform  = (*windowsPlatform)(nil)
	_ io.Closer = (*windowsPlatform)(nil)
)

func newPlatform(opts platformOptions) (platform, error) {
	p := &windowsPlatform{log: opts.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if opts.IncludeLoop {
		p.log.Info("media option include_loop has no effect on Windows")
	}
	p.watch = newWinWatch(p.sys)
	return p, nil
}

// listen registers for notifications once.
func (p *windowsPlatform) listen() (*winNotifications, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notes != nil {
		return p.notes, nil
	}
	n, err := winListen()
	if err != nil {
		return nil, err
	}
	p.notes = n
	return n, nil
}

// Close unregisters the notifications.
func (p *windowsPlatform) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notes != nil {
		p.notes.close()
		p.notes = nil
	}
	return nil
}

// Scan implements platform: the removable disks and optical drives present,
// grouped by medium, with their volumes; and the USB storage devices present
// but disabled (blocked before).
func (p *windowsPlatform) Scan() ([]wire.MediaDevice, error) {
	if _, err := p.listen(); err != nil {
		p.log.Warn("device notifications unavailable; media arriving later are missed", "err", err)
	}
	seen, err := p.sys.scan()
	p.mu.Lock()
	p.watch.seed(seen)
	p.mu.Unlock()
	out := make([]wire.MediaDevice, 0, len(seen))
	for _, s := range seen {
		out = append(out, s.Device)
	}
	return out, err
}

// Describe implements platform: the medium named by its root instance id,
// as a fresh listing shows it.
func (p *windowsPlatform) Describe(dev wire.MediaDevice) (wire.MediaDevice, error) {
	name := cmp.Or(dev.Name, dev.DevPath)
	seen, err := p.sys.scan()
	for _, s := range seen {
		if strings.EqualFold(s.Device.Name, name) {
			return s.Device, nil
		}
	}
	if d, ok := p.sys.usbMedium(name); ok {
		return d, nil // a USB device whose disk is not there (yet)
	}
	if err != nil {
		return wire.MediaDevice{}, err
	}
	return wire.MediaDevice{}, fmt.Errorf("%s: not attached", name)
}

// OpenVolume implements platform: the volume named by its GUID path, one of
// the medium's.
func (p *windowsPlatform) OpenVolume(dev wire.MediaDevice, vol string) (io.ReaderAt, int64, io.Closer, error) {
	if !strings.HasPrefix(vol, `\\?\Volume{`) || !slices.ContainsFunc(dev.Volumes, func(v wire.MediaVolume) bool { return v.Name == vol }) {
		return nil, 0, nil, fmt.Errorf("volume %q is not one of %s", vol, dev.Name)
	}
	return winOpenVolume(vol)
}

// Mounts implements platform: each volume's first drive letter (else first
// mounted folder), with the interactive console user.
func (p *windowsPlatform) Mounts(dev wire.MediaDevice) map[string]wire.MediaMountInfo {
	out := map[string]wire.MediaMountInfo{}
	for _, v := range dev.Volumes {
		if point := winPrimaryPoint(winMountPoints(v.Name)); point != "" {
			out[v.Name] = winMountInfo(v.Name, point)
		}
	}
	return out
}

// Block implements platform: the medium's USB device (or its optical drive)
// is disabled, never a disk holding the running Windows.
func (p *windowsPlatform) Block(dev wire.MediaDevice) error {
	id, err := winBlockTarget(dev)
	if err != nil {
		return err
	}
	if sysDisk, err := winSystemDisk(); err == nil {
		seen, _ := p.sys.scan()
		for _, s := range seen {
			if !strings.EqualFold(s.Device.Name, id) {
				continue
			}
			for _, d := range s.Disks {
				if d.Numbered && d.Number.sameDevice(sysDisk) {
					return fmt.Errorf("refusing to disable %s: it holds the running Windows", id)
				}
			}
		}
	} else {
		p.log.Warn("find the disk holding Windows", "err", err)
	}
	return winDisable(id)
}

// Watch implements platform: notifications as they come, and a poll every
// winPoll for what Windows does not notify of (mount points, discs).
func (p *windowsPlatform) Watch(ctx context.Context, out chan<- osEvent) error {
	n, err := p.listen()
	if err != nil {
		return err
	}
	send := func(evs []osEvent) bool {
		for _, ev := range evs {
			select {
			case out <- ev:
			case <-ctx.Done():
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(winPoll)
	defer tick.Stop()
	var dropped uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case raw := <-n.sink.ch:
			note, ok := winParseEventData(raw.action, raw.data)
			if !ok {
				continue
			}
			note.At = raw.at
			p.mu.Lock()
			evs := p.watch.note(note)
			p.mu.Unlock()
			if !send(evs) {
				return nil
			}
		case now := <-tick.C:
			var evs []osEvent
			if d := n.sink.dropped.Load(); d != dropped {
				p.log.Warn("device notifications lost; listing media again", "lost", d-dropped)
				dropped = d
				seen, err := p.sys.scan()
				if err != nil {
					p.log.Warn("list removable media", "err", err)
				}
				p.mu.Lock()
				evs = p.watch.resync(seen, now)
				p.mu.Unlock()
			}
			p.mu.Lock()
			evs = append(evs, p.watch.tick(now)...)
			p.mu.Unlock()
			if !send(evs) {
				return nil
			}
		}
	}
}

// winLive is the running Windows, as winevents.go's winSystem.
type winLive struct{}

var _ winSystem = winLive{}

// usbMedium implements winSystem: a USB device node, or the device a
// function node belongs to, with the compatible ids of its functions.
func (winLive) usbMedium(id string) (wire.MediaDevice, bool) {
	iid, ok := winParseInstanceID(id)
	if !ok || iid.Enumerator != "USB" {
		return wire.MediaDevice{}, false
	}
	dn, err := winLocate(id)
	if err != nil {
		return wire.MediaDevice{}, false
	}
	if iid.Interface >= 0 {
		if dn, ok = winRelative(winCMGetParent, dn); !ok {
			return wire.MediaDevice{}, false
		}
	}
	var functions []winNode
	for _, c := range winChildren(dn) {
		functions = append(functions, winNodeFacts(c))
	}
	return winUSBMedium(winNodeFacts(dn), functions)
}

// diskMedium implements winSystem: the drive's node and its parents, and
// its storage descriptor.
func (winLive) diskMedium(link string, iface winIface) (wire.MediaDevice, bool) {
	id, ok := winLinkInstanceID(link)
	if !ok {
		return wire.MediaDevice{}, false
	}
	dn, err := winLocate(id)
	if err != nil {
		return wire.MediaDevice{}, false
	}
	f := winDiskFacts{Iface: iface, Chain: winNodeChain(dn)}
	f.Storage, _ = winStorageOf(link)
	return winDiskMedium(f)
}

func (winLive) storageNumber(link string) (winStorageNumber, error) { return winStorageNumberOf(link) }
func (winLive) volumeName(link string) (string, error)              { return winVolumeNameOf(link) }
func (winLive) mountPoints(vol string) []string                     { return winMountPoints(vol) }
func (winLive) mountInfo(vol, point string) wire.MediaMountInfo     { return winMountInfo(vol, point) }
func (winLive) present(id string) bool                              { return winPresent(id) }
func (winLive) hasMedia(link string) bool                           { return winHasMedia(link) }

// scan lists the removable media present: each disk and optical drive of a
// removable medium with its device number, the volumes on them, and the
// disabled USB storage devices. What could be listed is returned with the
// errors met.
func (s winLive) scan() ([]winSeen, error) {
	var errs []error
	var disks []winDiskOf
	for _, c := range []struct {
		iface winIface
		guid  winGUID
	}{{winIfaceDisk, winGUIDDisk}, {winIfaceCDROM, winGUIDCDROM}} {
		ids, err := winDevicesWith(c.guid)
		if err != nil {
			errs = append(errs, err)
		}
		for _, id := range ids {
			links, err := winInterfaces(id, c.guid)
			if err != nil || len(links) == 0 {
				continue
			}
			link := links[0]
			dev, ok := s.diskMedium(link, c.iface)
			if !ok {
				continue
			}
			d := winSeenDisk{Link: link, Optical: c.iface == winIfaceCDROM}
			if n, err := winStorageNumberOf(link); err == nil {
				d.Number, d.Numbered = n, true
			}
			if d.Optical {
				d.Media = winHasMedia(link)
			}
			if !d.Optical || d.Media {
				d.Size = winDiskSizeOf(link)
			}
			disks = append(disks, winDiskOf{Medium: dev, Disk: d})
		}
	}

	var vols []winSeenVolume
	if len(disks) > 0 {
		links, err := winInterfaces("", winGUIDVolume)
		if err != nil {
			errs = append(errs, err)
		}
		for _, link := range links {
			n, err := winStorageNumberOf(link)
			if err != nil || !slices.ContainsFunc(disks, func(d winDiskOf) bool { return d.Disk.Numbered && d.Disk.Number.sameDevice(n) }) {
				continue // a volume of a fixed disk, or one spanning disks
			}
			v := winSeenVolume{Link: link, Number: n}
			if v.Name, err = winVolumeNameOf(link); err == nil {
				v.Point = winPrimaryPoint(winMountPoints(v.Name))
			}
			vols = append(vols, v)
		}
	}

	var alone []wire.MediaDevice
	ids, err := winDisabledUSB()
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range ids {
		if d, ok := s.usbMedium(id); ok {
			alone = append(alone, d)
		}
	}
	return winAssemble(disks, vols, alone), errors.Join(errs...)
}

// winInterfaces lists the present interfaces of class guid of device id
// ("" for every device): CM_Get_Device_Interface_ListW.
func winInterfaces(id string, guid winGUID) ([]string, error) {
	g := windows.GUID(guid)
	links, err := windows.CM_Get_Device_Interface_List(id, &g, windows.CM_GET_DEVICE_INTERFACE_LIST_PRESENT)
	if errors.Is(err, windows.ERROR_NO_SUCH_DEVICE_INTERFACE) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list interfaces %v of %q: %w", g, id, err)
	}
	return links, nil
}
