package media

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The logic of the Windows platform, on every OS so that it is tested on
// Linux: how the notifications of CM_Register_Notification become platform
// events, how disks and volumes join up into media, and how a raw volume is
// read. platform_windows.go feeds it; what it asks of the system goes
// through winSystem, which tests fake.
//
// A medium on Windows is named by the instance id of its root device node:
// the USB device (USB\VID_0781&PID_5583\4C530001230322116363) for USB
// storage, else the drive's own node (SD\…, SCSI\CdRom&…). That name holds
// from the first notification (the USB device enumerated, before any driver
// has loaded) to the last (the node removed), so every event names the
// medium the same way. Its volumes are named by their volume GUID paths
// (\\?\Volume{…}\).

// winIface is the device interface class a notification is about.
type winIface int

const (
	winIfaceNone   winIface = iota // a device instance, not an interface
	winIfaceUSB                    // GUID_DEVINTERFACE_USB_DEVICE
	winIfaceDisk                   // GUID_DEVINTERFACE_DISK
	winIfaceCDROM                  // GUID_DEVINTERFACE_CDROM
	winIfaceVolume                 // GUID_DEVINTERFACE_VOLUME
)

// winGUID is a GUID as guiddef.h lays it out.
type winGUID struct {
	Data1 uint32
	Data2 uint16
	Data3 uint16
	Data4 [8]byte
}

// bytes returns the GUID's 16 bytes in memory order (little-endian fields).
func (g winGUID) bytes() [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[0:], g.Data1)
	binary.LittleEndian.PutUint16(b[4:], g.Data2)
	binary.LittleEndian.PutUint16(b[6:], g.Data3)
	copy(b[8:], g.Data4[:])
	return b
}

// The device interface classes watched (usbiodef.h, ntddstor.h).
var (
	winGUIDUSBDevice = winGUID{0xa5dcbf10, 0x6530, 0x11d2, [8]byte{0x90, 0x1f, 0x00, 0xc0, 0x4f, 0xb9, 0x51, 0xed}}
	winGUIDDisk      = winGUID{0x53f56307, 0xb6bf, 0x11d0, [8]byte{0x94, 0xf2, 0x00, 0xa0, 0xc9, 0x1e, 0xfb, 0x8b}}
	winGUIDCDROM     = winGUID{0x53f56308, 0xb6bf, 0x11d0, [8]byte{0x94, 0xf2, 0x00, 0xa0, 0xc9, 0x1e, 0xfb, 0x8b}}
	winGUIDVolume    = winGUID{0x53f5630d, 0xb6bf, 0x11d0, [8]byte{0x94, 0xf2, 0x00, 0xa0, 0xc9, 0x1e, 0xfb, 0x8b}}
)

// winIfaces pairs each watched interface class with its GUID.
var winIfaces = []struct {
	iface winIface
	guid  winGUID
}{
	{winIfaceUSB, winGUIDUSBDevice},
	{winIfaceDisk, winGUIDDisk},
	{winIfaceCDROM, winGUIDCDROM},
	{winIfaceVolume, winGUIDVolume},
}

// CM_NOTIFY_ACTION values (cfgmgr32.h) acted on.
const (
	winActionInterfaceArrival   = 0 // CM_NOTIFY_ACTION_DEVICEINTERFACEARRIVAL
	winActionInterfaceRemoval   = 1 // CM_NOTIFY_ACTION_DEVICEINTERFACEREMOVAL
	winActionInstanceEnumerated = 7 // CM_NOTIFY_ACTION_DEVICEINSTANCEENUMERATED
	winActionInstanceRemoved    = 9 // CM_NOTIFY_ACTION_DEVICEINSTANCEREMOVED
)

// CM_NOTIFY_FILTER_TYPE values (cfgmgr32.h).
const (
	winFilterInterface = 0 // CM_NOTIFY_FILTER_TYPE_DEVICEINTERFACE
	winFilterInstance  = 2 // CM_NOTIFY_FILTER_TYPE_DEVICEINSTANCE
)

// Kinds of notification.
type winNoteKind int

const (
	winNoteArrival    winNoteKind = iota + 1 // an interface was enabled
	winNoteRemoval                           // an interface was disabled
	winNoteEnumerated                        // a device node appeared
	winNoteRemoved                           // a device node was removed
)

// winNote is one notification.
type winNote struct {
	Kind  winNoteKind
	Iface winIface // of an interface notification
	// Name is the interface's symbolic link, or the device's instance id.
	Name string
	At   time.Time
}

// winParseEventData decodes a CM_NOTIFY_EVENT_DATA (cfgmgr32.h) the callback
// copied: FilterType and Reserved (DWORDs at 0 and 4), then the union at 8:
// for an interface the class GUID (16 bytes) and the symbolic link from 24,
// for a device instance the instance id from 8, both NUL-terminated UTF-16.
// ok is false for the actions and interface classes not watched.
func winParseEventData(action uint32, b []byte) (winNote, bool) {
	if len(b) < 8 {
		return winNote{}, false
	}
	switch filter := binary.LittleEndian.Uint32(b); {
	case filter == winFilterInterface && len(b) >= 24:
		var n winNote
		switch action {
		case winActionInterfaceArrival:
			n.Kind = winNoteArrival
		case winActionInterfaceRemoval:
			n.Kind = winNoteRemoval
		default:
			return winNote{}, false
		}
		guid := [16]byte(b[8:24])
		for _, w := range winIfaces {
			if w.guid.bytes() == guid {
				n.Iface = w.iface
			}
		}
		n.Name = winUTF16(b[24:])
		if n.Iface == winIfaceNone || n.Name == "" {
			return winNote{}, false
		}
		return n, true
	case filter == winFilterInstance:
		var n winNote
		switch action {
		case winActionInstanceEnumerated:
			n.Kind = winNoteEnumerated
		case winActionInstanceRemoved:
			n.Kind = winNoteRemoved
		default:
			return winNote{}, false
		}
		n.Name = winUTF16(b[8:])
		if n.Name == "" {
			return winNote{}, false
		}
		return n, true
	}
	return winNote{}, false
}

// Timing of the Windows watch.
const (
	// winSettle is how long after a volume came or went its medium's
	// volumes are read: the mount manager names the volume and more
	// partitions follow.
	winSettle = 500 * time.Millisecond
	// winDiskWait is how long after a disk came its medium is read when no
	// volume follows.
	winDiskWait = 3 * time.Second
	// winPoll is how often mount points, optical discs and media without
	// a drive are looked at: Windows notifies of none of these.
	winPoll = time.Second
	// winOrphanAge is how long a volume whose disk is not known yet waits
	// for it (notifications of different classes come in any order).
	winOrphanAge = 30 * time.Second
)

// winSystem is what the watch asks Windows; platform_windows.go answers
// through cfgmgr32, SetupAPI and the volume APIs.
type winSystem interface {
	// usbMedium describes the removable medium a USB device node (or one
	// function of a composite device) is; false when it is none.
	usbMedium(id string) (wire.MediaDevice, bool)
	// diskMedium describes the removable medium the disk or optical drive
	// behind an interface link belongs to; false for a fixed disk.
	diskMedium(link string, iface winIface) (wire.MediaDevice, bool)
	// storageNumber asks IOCTL_STORAGE_GET_DEVICE_NUMBER of a disk, drive
	// or volume interface.
	storageNumber(link string) (winStorageNumber, error)
	// volumeName returns the volume GUID path of a volume interface.
	volumeName(link string) (string, error)
	// mountPoints lists a volume's drive letters and mounted folders.
	mountPoints(vol string) []string
	// mountInfo describes the volume mounted at point.
	mountInfo(vol, point string) wire.MediaMountInfo
	// present reports whether a device node is in the device tree, not on
	// its way out (a disabled node is present).
	present(id string) bool
	// hasMedia reports whether an optical drive holds a disc.
	hasMedia(link string) bool
}

// winSeen is one medium as a listing found it, with what the watch follows.
type winSeen struct {
	Device  wire.MediaDevice
	Disks   []winSeenDisk
	Volumes []winSeenVolume
}

// winSeenDisk is one disk or optical drive of a medium.
type winSeenDisk struct {
	Link     string
	Number   winStorageNumber
	Numbered bool // Number could be read
	Optical  bool
	Media    bool   // an optical drive holds a disc
	Size     uint64 // bytes, 0 unknown
}

// winSeenVolume is one volume of a medium.
type winSeenVolume struct {
	Link   string // the volume interface's symbolic link
	Name   string // \\?\Volume{…}\, "" until the mount manager names it
	Number winStorageNumber
	Point  string // the mount point followed, "" none
	User   string // who the mount was reported for
}

// winDiskOf is a disk found by a listing and the medium it belongs to.
type winDiskOf struct {
	Medium wire.MediaDevice
	Disk   winSeenDisk
}

// winAssemble joins the disks found (with their media) and the volumes found
// into media: disks of one medium together, each volume to the disk with its
// device number. The volume of an optical drive without a disc is followed
// but not listed in the device; a volume on no removable disk is left out. alone are media found without a disk (a
// disabled USB device), added unless one of the disks names them.
func winAssemble(disks []winDiskOf, vols []winSeenVolume, alone []wire.MediaDevice) []winSeen {
	byName := map[string]*winSeen{}
	var order []string
	add := func(d wire.MediaDevice) *winSeen {
		k := winKey(d.Name)
		if s := byName[k]; s != nil {
			return s
		}
		d.Volumes = nil
		s := &winSeen{Device: d}
		byName[k] = s
		order = append(order, k)
		return s
	}
	for _, d := range disks {
		s := add(d.Medium)
		s.Disks = append(s.Disks, d.Disk)
		if !d.Disk.Optical || d.Disk.Media {
			s.Device.SizeBytes += d.Disk.Size
		}
	}
	for _, v := range vols {
		for _, k := range order {
			if s := byName[k]; slices.ContainsFunc(s.Disks, func(d winSeenDisk) bool { return d.Numbered && d.Number.sameDevice(v.Number) }) {
				s.Volumes = append(s.Volumes, v)
				break
			}
		}
	}
	for _, d := range alone {
		add(d)
	}
	out := make([]winSeen, 0, len(order))
	for _, k := range order {
		s := byName[k]
		slices.SortFunc(s.Volumes, func(a, b winSeenVolume) int {
			return cmp.Or(cmp.Compare(a.Number.Number, b.Number.Number), cmp.Compare(a.Number.Partition, b.Number.Partition), cmp.Compare(a.Name, b.Name))
		})
		for _, v := range s.Volumes {
			if v.Name != "" && winVolumeReadable(s.Disks, v) {
				s.Device.Volumes = append(s.Device.Volumes, wire.MediaVolume{Name: v.Name})
			}
		}
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b winSeen) int { return cmp.Compare(a.Device.Name, b.Device.Name) })
	return out
}

// winWatch turns notifications and polls into platform events. It follows
// each medium from its first notification to its removal: its disks (by
// interface link and device number), its volumes, their mount points, and
// the discs in its optical drives.
type winWatch struct {
	sys   winSystem
	media map[string]*winMedium // by winKey of the medium's name
	// orphans are volumes that came before their disk, by winKey of link.
	orphans map[string]winOrphan
}

// winMedium is what the watch follows of one medium.
type winMedium struct {
	dev     wire.MediaDevice          // identity, without volumes
	disks   map[string]*winSeenDisk   // by winKey of link
	volumes map[string]*winSeenVolume // by winKey of link
	// readAt is when the medium's volumes are to be read (osVolumes); zero
	// when nothing is due.
	readAt time.Time
	// shown says the medium's volumes went out (or a listing found them):
	// its mount points and discs are followed from then on.
	shown bool
}

type winOrphan struct {
	vol winSeenVolume
	at  time.Time
}

func newWinWatch(sys winSystem) *winWatch {
	return &winWatch{sys: sys, media: map[string]*winMedium{}, orphans: map[string]winOrphan{}}
}

// track starts following a medium.
func (w *winWatch) track(dev wire.MediaDevice) *winMedium {
	dev.Volumes = nil
	m := &winMedium{dev: dev, disks: map[string]*winSeenDisk{}, volumes: map[string]*winSeenVolume{}}
	w.media[winKey(dev.Name)] = m
	return m
}

// seed follows the media a listing found when the sensor started: they are
// reported by the sensor already, their mount points as found.
func (w *winWatch) seed(seen []winSeen) {
	for _, s := range seen {
		if w.media[winKey(s.Device.Name)] != nil {
			continue
		}
		m := w.track(s.Device)
		m.shown = true
		w.fill(m, s)
	}
}

// fill sets a medium's disks and volumes from a listing, keeping the mount
// points followed already; an optical drive without a disc has none.
func (w *winWatch) fill(m *winMedium, s winSeen) {
	old := m.volumes
	m.disks = map[string]*winSeenDisk{}
	m.volumes = map[string]*winSeenVolume{}
	for _, d := range s.Disks {
		m.disks[winKey(d.Link)] = &d
	}
	for _, v := range s.Volumes {
		switch o := old[winKey(v.Link)]; {
		case !winVolumeReadable(s.Disks, v):
			v.Point, v.User = "", "" // the letter of an empty drive is no mount
		case o != nil:
			v.Point, v.User = o.Point, o.User
		}
		m.volumes[winKey(v.Link)] = &v
	}
}

// resync compares a fresh listing with what is followed, after
// notifications were lost: media gone leave, media new are read now (the
// sensor decides on them then), the rest take the listing's disks and
// volumes.
func (w *winWatch) resync(seen []winSeen, now time.Time) []osEvent {
	listed := map[string]winSeen{}
	for _, s := range seen {
		listed[winKey(s.Device.Name)] = s
	}
	var evs []osEvent
	for _, k := range slices.Sorted(maps.Keys(w.media)) {
		if _, ok := listed[k]; !ok && !w.sys.present(w.media[k].dev.Name) {
			evs = append(evs, w.leave(k, now))
		}
	}
	for _, s := range seen {
		m := w.media[winKey(s.Device.Name)]
		if m == nil {
			m = w.track(s.Device)
			m.readAt = now
			w.fill(m, s)
			continue
		}
		w.fill(m, s)
	}
	return evs
}

// note applies one notification.
func (w *winWatch) note(n winNote) []osEvent {
	switch {
	case n.Kind == winNoteEnumerated:
		return w.usbArrived(n.Name, n.At)
	case n.Kind == winNoteRemoved:
		if k := winKey(n.Name); w.media[k] != nil {
			return []osEvent{w.leave(k, n.At)}
		}
	case n.Kind == winNoteArrival && n.Iface == winIfaceUSB:
		if id, ok := winLinkInstanceID(n.Name); ok {
			return w.usbArrived(id, n.At)
		}
	case n.Kind == winNoteArrival && (n.Iface == winIfaceDisk || n.Iface == winIfaceCDROM):
		return w.diskArrived(n.Name, n.Iface, n.At)
	case n.Kind == winNoteArrival && n.Iface == winIfaceVolume:
		w.volumeArrived(n.Name, n.At)
	case n.Kind == winNoteRemoval && n.Iface == winIfaceUSB:
		if id, ok := winLinkInstanceID(n.Name); ok {
			return w.rootGone(id, n.At)
		}
	case n.Kind == winNoteRemoval && (n.Iface == winIfaceDisk || n.Iface == winIfaceCDROM):
		return w.diskGone(n.Name, n.At)
	case n.Kind == winNoteRemoval && n.Iface == winIfaceVolume:
		return w.volumeGone(n.Name, n.At)
	}
	return nil
}

// usbArrived reports a USB mass-storage device the moment its node appears
// (or its interface is enabled), before its disk exists, so that the sensor
// can decide on it and block it early.
func (w *winWatch) usbArrived(id string, at time.Time) []osEvent {
	if w.media[winKey(id)] != nil {
		return nil
	}
	dev, ok := w.sys.usbMedium(id)
	if !ok || w.media[winKey(dev.Name)] != nil {
		return nil
	}
	w.track(dev)
	return []osEvent{{Kind: osArrive, Device: dev, At: at}}
}

// diskArrived follows a new disk or optical drive. The medium it belongs to
// arrives with it when no notification told of it before (a card in a
// built-in reader, an optical drive, a USB device first seen through its
// disk); its volumes are read once they have come, or after winDiskWait.
func (w *winWatch) diskArrived(link string, iface winIface, at time.Time) []osEvent {
	dev, ok := w.sys.diskMedium(link, iface)
	if !ok {
		return nil
	}
	var evs []osEvent
	m := w.media[winKey(dev.Name)]
	if m == nil {
		m = w.track(dev)
		evs = append(evs, osEvent{Kind: osArrive, Device: dev, At: at})
	}
	d := &winSeenDisk{Link: link, Optical: iface == winIfaceCDROM}
	if n, err := w.sys.storageNumber(link); err == nil {
		d.Number, d.Numbered = n, true
	}
	if d.Optical {
		d.Media = w.sys.hasMedia(link)
	}
	m.disks[winKey(link)] = d
	if m.readAt.IsZero() {
		m.readAt = at.Add(winDiskWait)
	}
	if d.Numbered {
		for _, k := range slices.Sorted(maps.Keys(w.orphans)) {
			if o := w.orphans[k]; o.vol.Number.sameDevice(d.Number) {
				v := o.vol
				m.volumes[k] = &v
				delete(w.orphans, k)
				m.readAt = at.Add(winSettle)
			}
		}
	}
	return evs
}

// volumeArrived follows a new volume on a disk of a medium followed; its
// medium's volumes are read once no more come for winSettle.
func (w *winWatch) volumeArrived(link string, at time.Time) {
	n, err := w.sys.storageNumber(link)
	if err != nil {
		return // a volume that spans disks, or one gone already
	}
	v := winSeenVolume{Link: link, Number: n}
	v.Name, _ = w.sys.volumeName(link)
	m := w.mediumOf(n)
	if m == nil {
		w.orphans[winKey(link)] = winOrphan{vol: v, at: at}
		return
	}
	m.volumes[winKey(link)] = &v
	m.readAt = at.Add(winSettle)
}

// mediumOf returns the medium with the disk or drive n names.
func (w *winWatch) mediumOf(n winStorageNumber) *winMedium {
	for _, k := range slices.Sorted(maps.Keys(w.media)) {
		m := w.media[k]
		for _, d := range m.disks {
			if d.Numbered && d.Number.sameDevice(n) {
				return m
			}
		}
	}
	return nil
}

// rootGone handles the interface of a medium's root node going: the medium
// leaves when its node left the tree too; a disabled node (a medium blocked)
// stays until it is unplugged.
func (w *winWatch) rootGone(id string, at time.Time) []osEvent {
	k := winKey(id)
	if w.media[k] == nil || w.sys.present(id) {
		return nil
	}
	return []osEvent{w.leave(k, at)}
}

// diskGone forgets a disk (with its volumes); a medium whose root is the
// drive itself leaves with it unless the drive's node stays (disabled).
func (w *winWatch) diskGone(link string, at time.Time) []osEvent {
	k := winKey(link)
	for _, mk := range slices.Sorted(maps.Keys(w.media)) {
		m := w.media[mk]
		d := m.disks[k]
		if d == nil {
			continue
		}
		delete(m.disks, k)
		for vk, v := range m.volumes {
			if d.Numbered && v.Number.sameDevice(d.Number) {
				delete(m.volumes, vk)
			}
		}
		if id, ok := winLinkInstanceID(link); ok && winKey(id) == mk {
			return w.rootGone(id, at)
		}
		return nil
	}
	return nil
}

// volumeGone forgets a volume, reports it unmounted when it was mounted, and
// has the medium's volumes read again: a card left its reader, or a
// partition was deleted.
func (w *winWatch) volumeGone(link string, at time.Time) []osEvent {
	k := winKey(link)
	delete(w.orphans, k)
	for _, mk := range slices.Sorted(maps.Keys(w.media)) {
		m := w.media[mk]
		v := m.volumes[k]
		if v == nil {
			continue
		}
		delete(m.volumes, k)
		if !m.shown {
			return nil
		}
		if len(m.disks) > 0 {
			m.readAt = at.Add(winSettle)
		}
		if v.Point != "" && v.Name != "" {
			return []osEvent{{Kind: osUnmount, Device: winIdentity(m.dev), At: at,
				Mount: &wire.MediaMountInfo{Volume: v.Name, Point: v.Point, User: v.User}}}
		}
		return nil
	}
	return nil
}

// leave stops following the medium with key k.
func (w *winWatch) leave(k string, at time.Time) osEvent {
	m := w.media[k]
	delete(w.media, k)
	return osEvent{Kind: osLeave, Device: winIdentity(m.dev), At: at}
}

// winIdentity is what an event names a medium by.
func winIdentity(d wire.MediaDevice) wire.MediaDevice {
	d.Volumes = nil
	return d
}

// tick does what is due at now: media whose node went without a
// notification leave, discs that came or went in optical drives are
// reported, volumes that settled are read, and mount points that came or went
// are reported.
func (w *winWatch) tick(now time.Time) []osEvent {
	for k, o := range w.orphans {
		if now.Sub(o.at) > winOrphanAge {
			delete(w.orphans, k)
		}
	}
	var evs []osEvent
	for _, k := range slices.Sorted(maps.Keys(w.media)) {
		m := w.media[k]
		if len(m.disks) == 0 && !w.sys.present(m.dev.Name) {
			evs = append(evs, w.leave(k, now))
			continue
		}
		for _, dk := range slices.Sorted(maps.Keys(m.disks)) {
			d := m.disks[dk]
			if !d.Optical {
				continue
			}
			has := w.sys.hasMedia(d.Link)
			if has == d.Media {
				continue
			}
			// A disc came or went: the medium that was (the drive
			// with its disc, or empty) leaves and the drive is read
			// afresh, as on Linux.
			d.Media = has
			if m.shown {
				evs = append(evs, osEvent{Kind: osLeave, Device: winIdentity(m.dev), At: now})
				m.shown = false
			}
			for _, v := range m.volumes {
				v.Point, v.User = "", ""
			}
			m.readAt = now.Add(winSettle)
		}
		if !m.readAt.IsZero() && !now.Before(m.readAt) {
			m.readAt = time.Time{}
			// A medium without a drive now was blocked or is leaving:
			// nothing to read.
			if len(m.disks) > 0 {
				evs = append(evs, osEvent{Kind: osVolumes, Device: winIdentity(m.dev), At: now})
				m.shown = true
			}
		}
		if m.shown {
			evs = append(evs, w.mounts(m, now)...)
		}
	}
	return evs
}

// mounts reports the mount points of a medium's volumes that came or went
// since the last look. A volume's mount point is its first drive letter,
// else its first mounted folder.
func (w *winWatch) mounts(m *winMedium, now time.Time) []osEvent {
	var evs []osEvent
	for _, k := range slices.Sorted(maps.Keys(m.volumes)) {
		v := m.volumes[k]
		if !w.readable(m, v) {
			continue
		}
		if v.Name == "" {
			if v.Name, _ = w.sys.volumeName(v.Link); v.Name == "" {
				continue
			}
		}
		p := winPrimaryPoint(w.sys.mountPoints(v.Name))
		if p == v.Point {
			continue
		}
		if v.Point != "" {
			evs = append(evs, osEvent{Kind: osUnmount, Device: winIdentity(m.dev), At: now,
				Mount: &wire.MediaMountInfo{Volume: v.Name, Point: v.Point, User: v.User}})
		}
		v.Point, v.User = p, ""
		if p != "" {
			mi := w.sys.mountInfo(v.Name, p)
			mi.Volume, mi.Point = v.Name, p
			v.User = mi.User
			evs = append(evs, osEvent{Kind: osMount, Device: winIdentity(m.dev), At: now, Mount: &mi})
		}
	}
	return evs
}

// readable reports whether a volume of m holds something.
func (w *winWatch) readable(m *winMedium, v *winSeenVolume) bool {
	for _, d := range m.disks {
		if d.Numbered && d.Number.sameDevice(v.Number) {
			return !d.Optical || d.Media
		}
	}
	return true
}

// winVolumeReadable reports whether a volume holds something: not the
// volume of an optical drive without a disc, whose drive letter stays all
// the same.
func winVolumeReadable(disks []winSeenDisk, v winSeenVolume) bool {
	for _, d := range disks {
		if d.Numbered && d.Number.sameDevice(v.Number) {
			return !d.Optical || d.Media
		}
	}
	return true
}

// winPrimaryPoint picks the mount point a volume is reported at from what
// GetVolumePathNamesForVolumeNameW lists: its first drive letter (E:\), else
// its first mounted folder, else "".
func winPrimaryPoint(paths []string) string {
	for _, p := range paths {
		if winDriveRoot(p) {
			return p
		}
	}
	if len(paths) > 0 {
		return paths[0]
	}
	return ""
}

// winDriveRoot reports whether p is a drive letter's root, E:\.
func winDriveRoot(p string) bool {
	return len(p) == 3 && (p[0]|0x20) >= 'a' && (p[0]|0x20) <= 'z' && p[1] == ':' && p[2] == '\\'
}

// winFSType names the file system GetVolumeInformationW reports as the
// volume probe (and Linux) name it.
func winFSType(name string) string {
	switch strings.ToUpper(name) {
	case "":
		return ""
	case "FAT", "FAT12", "FAT16", "FAT32":
		return "vfat"
	case "CDFS":
		return "iso9660"
	}
	return strings.ToLower(name)
}

// winBlockTarget returns the device node that blocking dev disables: a USB
// device (every disk and card of it goes with it), or an optical drive on
// another bus. A card in a built-in reader has no node of its own that
// outlives it: disabling the reader would block every card after it.
func winBlockTarget(dev wire.MediaDevice) (string, error) {
	id := cmp.Or(dev.DevPath, dev.Name)
	w, ok := winParseInstanceID(id)
	switch {
	case !ok:
		return "", fmt.Errorf("%q is not a Windows device instance id", id)
	case w.Enumerator == "USB" && w.Interface < 0 && winIsHex4(w.VID) && winIsHex4(w.PID):
		return id, nil
	case w.Kind == "CDROM":
		return id, nil
	case dev.Class == wire.MediaMemoryCard:
		return "", errors.New("no way to block a card in a built-in reader on Windows without disabling the reader for every card")
	}
	return "", fmt.Errorf("no way to block %s (class %s) on Windows", id, dev.Class)
}

// winMaxRead bounds one raw read of a volume.
const winMaxRead = 1 << 20

// winAlignedReader reads a raw volume. Windows reads a volume opened for raw
// access only in whole sectors, at offsets and into memory aligned to the
// sector size; this reader reads the aligned blocks that cover what is asked
// and copies the asked part out.
type winAlignedReader struct {
	// read reads len(p) bytes at off; it is called with off, len(p) and
	// the address of p multiples of block (len(p) is less only at the
	// volume's end, where it is what is left).
	read func(p []byte, off int64) (int, error)
	size int64 // the volume's size in bytes, a multiple of its sector size
	// block is a power of two and a multiple of the sector size.
	block int
}

var _ io.ReaderAt = (*winAlignedReader)(nil)

// winReadBlock is the block a volume with sectors of sector bytes is read
// in: 4 KiB (a multiple of every common sector size: 512, 2048, 4096), or
// the sector size when that is a larger power of two.
func winReadBlock(sector uint32) int {
	if sector > 4096 && sector <= 1<<16 && sector&(sector-1) == 0 {
		return int(sector)
	}
	return 4096
}

// ReadAt implements io.ReaderAt.
func (r *winAlignedReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	if left := r.size - off; int64(len(want)) > left {
		want = want[:left]
	}
	bs := int64(r.block)
	n := 0
	var buf []byte
	for n < len(want) {
		pos := off + int64(n)
		start := pos &^ (bs - 1)
		end := (pos + int64(len(want)-n) + bs - 1) &^ (bs - 1)
		end = min(end, start+winMaxRead, r.size)
		if need := int(end - start); len(buf) < need {
			buf = winAlignedBuffer(need, r.block)
		}
		got, err := r.read(buf[:end-start], start)
		if got > int(end-start) {
			got = int(end - start)
		}
		if avail := int64(got) - (pos - start); avail > 0 {
			n += copy(want[n:], buf[pos-start:int64(got)])
		}
		if err != nil {
			return n, err
		}
		if int64(got) < end-start {
			return n, io.ErrUnexpectedEOF
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// winAlignedBuffer returns n bytes whose address is a multiple of align (a
// power of two). Go does not move heap memory, so the address holds.
func winAlignedBuffer(n, align int) []byte {
	b := make([]byte, n+align)
	skip := int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) & uintptr(align-1))
	if skip != 0 {
		skip = align - skip
	}
	return b[skip : skip+n : skip+n]
}
