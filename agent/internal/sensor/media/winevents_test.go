package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// eventData lays out a CM_NOTIFY_EVENT_DATA as cfgmgr32 hands it to the
// callback.
func eventData(filter uint32, guid *winGUID, name string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, filter)
	b = binary.LittleEndian.AppendUint32(b, 0)
	if guid != nil {
		g := guid.bytes()
		b = append(b, g[:]...)
	}
	return append(b, utf16z(name)...)
}

func TestWinGUIDBytes(t *testing.T) {
	// {53F56307-B6BF-11D0-94F2-00A0C91EFB8B} in memory.
	want := [16]byte{0x07, 0x63, 0xf5, 0x53, 0xbf, 0xb6, 0xd0, 0x11, 0x94, 0xf2, 0x00, 0xa0, 0xc9, 0x1e, 0xfb, 0x8b}
	if got := winGUIDDisk.bytes(); got != want {
		t.Errorf("winGUIDDisk.bytes() = % x, want % x", got, want)
	}
}

func TestWinParseEventData(t *testing.T) {
	hid := winGUID{0x4d1e55b2, 0xf16f, 0x11cf, [8]byte{0x88, 0xcb, 0x00, 0x11, 0x11, 0x00, 0x00, 0x30}}
	tests := []struct {
		name   string
		action uint32
		b      []byte
		want   winNote
		ok     bool
	}{
		{"disk arrival", winActionInterfaceArrival, eventData(winFilterInterface, &winGUIDDisk, tStickDisk),
			winNote{Kind: winNoteArrival, Iface: winIfaceDisk, Name: tStickDisk}, true},
		{"usb removal", winActionInterfaceRemoval, eventData(winFilterInterface, &winGUIDUSBDevice, tStickUSB),
			winNote{Kind: winNoteRemoval, Iface: winIfaceUSB, Name: tStickUSB}, true},
		{"volume arrival", winActionInterfaceArrival, eventData(winFilterInterface, &winGUIDVolume, tStickVol),
			winNote{Kind: winNoteArrival, Iface: winIfaceVolume, Name: tStickVol}, true},
		{"cd-rom arrival", winActionInterfaceArrival, eventData(winFilterInterface, &winGUIDCDROM, tDVDLink),
			winNote{Kind: winNoteArrival, Iface: winIfaceCDROM, Name: tDVDLink}, true},
		{"node enumerated", winActionInstanceEnumerated, eventData(winFilterInstance, nil, tStickID),
			winNote{Kind: winNoteEnumerated, Name: tStickID}, true},
		{"node removed", winActionInstanceRemoved, eventData(winFilterInstance, nil, tStickID),
			winNote{Kind: winNoteRemoved, Name: tStickID}, true},
		{"node started", 8, eventData(winFilterInstance, nil, tStickID), winNote{}, false},
		{"query remove", 2, eventData(winFilterInterface, &winGUIDDisk, tStickDisk), winNote{}, false},
		{"class not watched", winActionInterfaceArrival, eventData(winFilterInterface, &hid, `\\?\HID#VID_046D&PID_C52B&MI_00#8&2d4f5a1&0&0000#{4d1e55b2-f16f-11cf-88cb-001111000030}`), winNote{}, false},
		{"handle event", 6, eventData(1, &winGUIDDisk, ""), winNote{}, false},
		{"empty link", winActionInterfaceArrival, eventData(winFilterInterface, &winGUIDDisk, ""), winNote{}, false},
		{"short", winActionInterfaceArrival, []byte{0, 0, 0, 0}, winNote{}, false},
		{"cut in the guid", winActionInterfaceArrival, eventData(winFilterInterface, &winGUIDDisk, tStickDisk)[:20], winNote{}, false},
	}
	for _, tt := range tests {
		got, ok := winParseEventData(tt.action, tt.b)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: winParseEventData = %+v, %v, want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// Media as the fake system describes them.
var (
	tStick = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: tStickID, DevPath: tStickID, Bus: "usb",
		VID: "0781", PID: "5583", Serial: "4C530001230322116363", Product: "Ultra Fit"}
	tCard = wire.MediaDevice{Class: wire.MediaMemoryCard, Name: tCardID, DevPath: tCardID, Bus: "mmc", Product: "SD16G"}
	tDVD  = wire.MediaDevice{Class: wire.MediaOptical, Name: tDVDID, DevPath: tDVDID, Bus: "ata", Vendor: "HL-DT-ST", Product: "DVD+-RW GU90N"}

	tReaderID = `USB\VID_058F&PID_6366\058F63666485`
	tReader   = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: tReaderID, DevPath: tReaderID, Bus: "usb", VID: "058f", PID: "6366", Serial: "058F63666485"}
	tReaderDk = `\\?\USBSTOR#Disk&Ven_Generic-&Prod_SD/MMC&Rev_1.00#058F63666485&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`
	tReaderV1 = `\\?\STORAGE#Volume#_??_USBSTOR#Disk&Ven_Generic-&Prod_SD/MMC&Rev_1.00#058F63666485&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}`

	tComboID  = `USB\VID_1234&PID_5678\ABC0001`
	tComboFn  = `USB\VID_1234&PID_5678&MI_01\7&1C2D3E4F&0&0001`
	tComboHID = `USB\VID_1234&PID_5678&MI_00\7&1C2D3E4F&0&0000`
	tCombo    = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: tComboID, DevPath: tComboID, Bus: "usb", VID: "1234", PID: "5678", Serial: "ABC0001"}
)

// fakeWin is a winSystem with the devices a test puts in it.
type fakeWin struct {
	usb     map[string]wire.MediaDevice // usbMedium, by winKey of the node's id
	disks   map[string]wire.MediaDevice // diskMedium, by winKey of link
	numbers map[string]winStorageNumber // by winKey of link
	names   map[string]string           // volume GUID paths, by winKey of link
	points  map[string][]string         // by volume name
	absent  map[string]bool             // nodes not in the tree, by winKey of id
	discs   map[string]bool             // optical drives with a disc, by winKey of link
	user    string
}

func newFakeWin() *fakeWin {
	f := &fakeWin{usb: map[string]wire.MediaDevice{}, disks: map[string]wire.MediaDevice{}, numbers: map[string]winStorageNumber{},
		names: map[string]string{}, points: map[string][]string{}, absent: map[string]bool{}, discs: map[string]bool{}, user: `KOMMUNE\kari`}
	f.usb[winKey(tStickID)] = tStick
	f.usb[winKey(tReaderID)] = tReader
	f.usb[winKey(tComboFn)] = tCombo // the device of its storage function
	f.disks[winKey(tStickDisk)] = tStick
	f.disks[winKey(tCardDisk)] = tCard
	f.disks[winKey(tDVDLink)] = tDVD
	f.disks[winKey(tReaderDk)] = tReader
	f.numbers[winKey(tStickDisk)] = winStorageNumber{Type: winDeviceDisk, Number: 2}
	f.numbers[winKey(tStickVol)] = winStorageNumber{Type: winDeviceDisk, Number: 2, Partition: 1}
	f.numbers[winKey(tCardDisk)] = winStorageNumber{Type: winDeviceDisk, Number: 3}
	f.numbers[winKey(tCardVol)] = winStorageNumber{Type: winDeviceDisk, Number: 3, Partition: 1}
	f.numbers[winKey(tDVDLink)] = winStorageNumber{Type: winDeviceCDROM, Number: 0}
	f.numbers[winKey(tDVDVol)] = winStorageNumber{Type: winDeviceCDROM, Number: 0}
	f.numbers[winKey(tReaderDk)] = winStorageNumber{Type: winDeviceDisk, Number: 4}
	f.numbers[winKey(tReaderV1)] = winStorageNumber{Type: winDeviceDisk, Number: 4, Partition: 1}
	f.numbers[winKey(tSSDDisk)] = winStorageNumber{Type: winDeviceDisk, Number: 0}
	f.numbers[winKey(tSSDVol)] = winStorageNumber{Type: winDeviceDisk, Number: 0, Partition: 3}
	f.names[winKey(tStickVol)] = tStickVolume
	f.names[winKey(tCardVol)] = tCardVolume
	f.names[winKey(tDVDVol)] = tDVDVolume
	f.names[winKey(tReaderV1)] = `\\?\Volume{11111111-2222-3333-4444-555555555555}\`
	f.names[winKey(tSSDVol)] = `\\?\Volume{c1d2e3f4-0000-0000-0000-100000000000}\`
	f.points[tDVDVolume] = []string{`D:\`}
	f.points[`\\?\Volume{c1d2e3f4-0000-0000-0000-100000000000}\`] = []string{`C:\`}
	return f
}

func (f *fakeWin) usbMedium(id string) (wire.MediaDevice, bool) {
	d, ok := f.usb[winKey(id)]
	return d, ok && !f.absent[winKey(id)]
}

func (f *fakeWin) diskMedium(link string, iface winIface) (wire.MediaDevice, bool) {
	d, ok := f.disks[winKey(link)]
	return d, ok
}

func (f *fakeWin) storageNumber(link string) (winStorageNumber, error) {
	if n, ok := f.numbers[winKey(link)]; ok {
		return n, nil
	}
	return winStorageNumber{}, errors.New("the system cannot find the file specified")
}

func (f *fakeWin) volumeName(link string) (string, error) {
	if n, ok := f.names[winKey(link)]; ok {
		return n, nil
	}
	return "", errors.New("the mount manager lists no such volume")
}

func (f *fakeWin) mountPoints(vol string) []string { return f.points[vol] }

func (f *fakeWin) mountInfo(vol, point string) wire.MediaMountInfo {
	return wire.MediaMountInfo{Volume: vol, Point: point, FSType: "vfat", User: f.user}
}

func (f *fakeWin) present(id string) bool    { return !f.absent[winKey(id)] }
func (f *fakeWin) hasMedia(link string) bool { return f.discs[winKey(link)] }

// winStep is one thing that happens in a scenario, at ms after its start.
type winStep struct {
	ms     int
	note   *winNote
	tick   bool
	sys    func(*fakeWin)
	resync []winSeen
}

func enumerated(ms int, id string) winStep {
	return winStep{ms: ms, note: &winNote{Kind: winNoteEnumerated, Name: id}}
}
func removed(ms int, id string) winStep {
	return winStep{ms: ms, note: &winNote{Kind: winNoteRemoved, Name: id}}
}
func arrival(ms int, iface winIface, link string) winStep {
	return winStep{ms: ms, note: &winNote{Kind: winNoteArrival, Iface: iface, Name: link}}
}
func removal(ms int, iface winIface, link string) winStep {
	return winStep{ms: ms, note: &winNote{Kind: winNoteRemoval, Iface: iface, Name: link}}
}
func tick(ms int) winStep                 { return winStep{ms: ms, tick: true} }
func change(f func(*fakeWin)) winStep     { return winStep{sys: f} }
func resync(ms int, s ...winSeen) winStep { return winStep{ms: ms, resync: s} }

// eventLine says what an event says, in one line.
func eventLine(ev osEvent) string {
	s := ev.Kind + " " + ev.Device.Name
	if ev.Kind == osArrive {
		s += " " + ev.Device.Class + " " + ev.Device.Key()
	}
	if ev.Mount != nil {
		s += fmt.Sprintf(" %s at %s by %q", ev.Mount.Volume, ev.Mount.Point, ev.Mount.User)
	}
	return s
}

func TestWinWatch(t *testing.T) {
	stickSeen := winSeen{Device: tStick,
		Disks:   []winSeenDisk{{Link: tStickDisk, Number: winStorageNumber{Type: winDeviceDisk, Number: 2}, Numbered: true, Size: 61530439680}},
		Volumes: []winSeenVolume{{Link: tStickVol, Name: tStickVolume, Number: winStorageNumber{Type: winDeviceDisk, Number: 2, Partition: 1}, Point: `E:\`}}}
	dvdSeen := winSeen{Device: tDVD,
		Disks:   []winSeenDisk{{Link: tDVDLink, Number: winStorageNumber{Type: winDeviceCDROM}, Numbered: true, Optical: true}},
		Volumes: []winSeenVolume{{Link: tDVDVol, Name: tDVDVolume, Number: winStorageNumber{Type: winDeviceCDROM}, Point: `D:\`}}}
	cardSeen := winSeen{Device: tCard,
		Disks:   []winSeenDisk{{Link: tCardDisk, Number: winStorageNumber{Type: winDeviceDisk, Number: 3}, Numbered: true}},
		Volumes: []winSeenVolume{{Link: tCardVol, Name: tCardVolume, Number: winStorageNumber{Type: winDeviceDisk, Number: 3, Partition: 1}, Point: `F:\`}}}
	mountStick := change(func(f *fakeWin) { f.points[tStickVolume] = []string{`E:\`} })
	stickGone := change(func(f *fakeWin) { f.absent[winKey(tStickID)] = true; delete(f.points, tStickVolume) })

	tests := []struct {
		name  string
		seed  []winSeen
		steps []winStep
		want  []string
	}{{
		name: "usb stick plugged in, mounted and pulled out",
		steps: []winStep{
			enumerated(0, tStickID),
			enumerated(5, tStickDiskID), // the disk node: not a USB device
			arrival(200, winIfaceUSB, tStickUSB),
			arrival(300, winIfaceDisk, tStickDisk),
			arrival(650, winIfaceVolume, tStickVol),
			mountStick,
			tick(1000), // the volume settles at 1150
			tick(2000),
			tick(3000),
			stickGone,
			removal(10000, winIfaceVolume, tStickVol),
			removal(10010, winIfaceDisk, tStickDisk),
			removal(10020, winIfaceUSB, tStickUSB),
			removed(10030, tStickID),
			tick(12000),
		},
		want: []string{
			"arrive " + tStickID + " usb-storage 0781:5583:4C530001230322116363",
			"volumes " + tStickID,
			"mount " + tStickID + " " + tStickVolume + ` at E:\ by "KOMMUNE\\kari"`,
			"unmount " + tStickID + " " + tStickVolume + ` at E:\ by "KOMMUNE\\kari"`,
			"leave " + tStickID,
		},
	}, {
		name: "mount manager names the volume late, the letter comes later still",
		steps: []winStep{
			arrival(0, winIfaceUSB, tStickUSB),
			change(func(f *fakeWin) { delete(f.names, winKey(tStickVol)) }),
			arrival(100, winIfaceDisk, tStickDisk),
			arrival(400, winIfaceVolume, tStickVol),
			tick(1000),
			change(func(f *fakeWin) { f.names[winKey(tStickVol)] = tStickVolume }),
			tick(2000),
			mountStick,
			tick(3000),
			change(func(f *fakeWin) { f.points[tStickVolume] = []string{`C:\mnt\stick\`, `K:\`} }),
			tick(4000),
			change(func(f *fakeWin) { f.points[tStickVolume] = nil }),
			tick(5000),
		},
		want: []string{
			"arrive " + tStickID + " usb-storage 0781:5583:4C530001230322116363",
			"volumes " + tStickID,
			"mount " + tStickID + " " + tStickVolume + ` at E:\ by "KOMMUNE\\kari"`,
			"unmount " + tStickID + " " + tStickVolume + ` at E:\ by "KOMMUNE\\kari"`,
			"mount " + tStickID + " " + tStickVolume + ` at K:\ by "KOMMUNE\\kari"`,
			"unmount " + tStickID + " " + tStickVolume + ` at K:\ by "KOMMUNE\\kari"`,
		},
	}, {
		name: "blocked on arrival: the disabled node stays until it is unplugged",
		steps: []winStep{
			enumerated(0, tStickID),
			// The sensor disables it; the drivers that had started go.
			arrival(300, winIfaceDisk, tStickDisk),
			removal(320, winIfaceDisk, tStickDisk),
			removal(330, winIfaceUSB, tStickUSB),
			tick(1000),
			tick(5000), // the disk's wait is over, but it has no disk: nothing to read
			stickGone,
			tick(60000),
			removed(60010, tStickID),
		},
		want: []string{
			"arrive " + tStickID + " usb-storage 0781:5583:4C530001230322116363",
			"leave " + tStickID,
		},
	}, {
		name: "blocked medium listed at start leaves on its node's removal",
		seed: []winSeen{{Device: tStick}},
		steps: []winStep{
			tick(1000),
			removed(5000, tStickID),
			tick(6000),
		},
		want: []string{"leave " + tStickID},
	}, {
		name: "composite device known through its storage function",
		steps: []winStep{
			enumerated(0, tComboID), // no functions yet: not known as storage
			enumerated(40, tComboHID),
			enumerated(50, tComboFn),
			enumerated(60, tComboFn),
		},
		want: []string{"arrive " + tComboID + " usb-storage 1234:5678:ABC0001"},
	}, {
		name: "card in a built-in reader, volume notified before its disk",
		steps: []winStep{
			change(func(f *fakeWin) { f.points[tCardVolume] = []string{`F:\`} }),
			arrival(0, winIfaceVolume, tCardVol),
			arrival(20, winIfaceDisk, tCardDisk),
			tick(1000),
			change(func(f *fakeWin) { f.absent[winKey(tCardID)] = true; delete(f.points, tCardVolume) }),
			removal(5000, winIfaceVolume, tCardVol),
			removal(5010, winIfaceDisk, tCardDisk),
			tick(6000),
		},
		want: []string{
			"arrive " + tCardID + " memory-card ::",
			"volumes " + tCardID,
			"mount " + tCardID + " " + tCardVolume + ` at F:\ by "KOMMUNE\\kari"`,
			"unmount " + tCardID + " " + tCardVolume + ` at F:\ by "KOMMUNE\\kari"`,
			"leave " + tCardID,
		},
	}, {
		name: "cards swapped in a usb reader",
		steps: []winStep{
			enumerated(0, tReaderID),
			arrival(300, winIfaceDisk, tReaderDk),
			arrival(600, winIfaceVolume, tReaderV1),
			change(func(f *fakeWin) { f.points[`\\?\Volume{11111111-2222-3333-4444-555555555555}\`] = []string{`G:\`} }),
			tick(2000),
			removal(5000, winIfaceVolume, tReaderV1),
			tick(6000), // re-read: no volume now
			change(func(f *fakeWin) {
				f.names[winKey(tReaderV1)] = `\\?\Volume{66666666-7777-8888-9999-000000000000}\`
				f.points[`\\?\Volume{66666666-7777-8888-9999-000000000000}\`] = []string{`G:\`}
			}),
			arrival(8000, winIfaceVolume, tReaderV1),
			tick(9000),
		},
		want: []string{
			"arrive " + tReaderID + " usb-storage 058f:6366:058F63666485",
			"volumes " + tReaderID,
			"mount " + tReaderID + ` \\?\Volume{11111111-2222-3333-4444-555555555555}\ at G:\ by "KOMMUNE\\kari"`,
			"unmount " + tReaderID + ` \\?\Volume{11111111-2222-3333-4444-555555555555}\ at G:\ by "KOMMUNE\\kari"`,
			"volumes " + tReaderID,
			"volumes " + tReaderID,
			"mount " + tReaderID + ` \\?\Volume{66666666-7777-8888-9999-000000000000}\ at G:\ by "KOMMUNE\\kari"`,
		},
	}, {
		name: "media listed at start: no events until something changes",
		seed: []winSeen{stickSeen, cardSeen},
		steps: []winStep{
			mountStick,
			change(func(f *fakeWin) { f.points[tCardVolume] = []string{`F:\`} }),
			arrival(10, winIfaceUSB, tStickUSB), // queued while listing
			arrival(20, winIfaceDisk, tStickDisk),
			tick(1000),
			change(func(f *fakeWin) { f.points[tCardVolume] = nil }),
			tick(4000), // the stick's repeated disk arrival is read again, silently for the sensor
		},
		want: []string{
			"unmount " + tCardID + " " + tCardVolume + ` at F:\ by ""`,
			"volumes " + tStickID,
		},
	}, {
		name: "optical drive listed empty: a disc goes in and out",
		seed: []winSeen{dvdSeen},
		steps: []winStep{
			tick(1000), // the letter of an empty drive is no mount
			change(func(f *fakeWin) { f.discs[winKey(tDVDLink)] = true }),
			tick(2000),
			tick(3000),
			change(func(f *fakeWin) { f.discs[winKey(tDVDLink)] = false }),
			tick(4000),
			tick(5000),
		},
		want: []string{
			"leave " + tDVDID,
			"volumes " + tDVDID,
			"mount " + tDVDID + " " + tDVDVolume + ` at D:\ by "KOMMUNE\\kari"`,
			"leave " + tDVDID,
			"volumes " + tDVDID,
		},
	}, {
		name: "fixed disks and their volumes are not followed",
		steps: []winStep{
			arrival(0, winIfaceVolume, tSSDVol),
			arrival(10, winIfaceDisk, tSSDDisk),
			arrival(20, winIfaceVolume, `\\?\STORAGE#Volume#{dead}#0000000000100000#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}`),
			tick(1000),
			tick(40000),
			removal(41000, winIfaceVolume, tSSDVol),
		},
	}, {
		name: "notifications lost: a listing tells what came and went",
		steps: []winStep{
			enumerated(0, tStickID),
			arrival(300, winIfaceDisk, tStickDisk),
			arrival(600, winIfaceVolume, tStickVol),
			tick(2000),
			stickGone,
			change(func(f *fakeWin) { f.points[tCardVolume] = []string{`F:\`} }),
			resync(5000, cardSeen),
			tick(5000),
			tick(6000),
		},
		want: []string{
			"arrive " + tStickID + " usb-storage 0781:5583:4C530001230322116363",
			"volumes " + tStickID,
			"leave " + tStickID,
			"volumes " + tCardID,
		},
	}, {
		name: "built-in optical drive blocked: disabled, it stays until its node goes",
		seed: []winSeen{dvdSeen},
		steps: []winStep{
			removal(100, winIfaceVolume, tDVDVol),
			removal(110, winIfaceCDROM, tDVDLink),
			tick(1000),
			change(func(f *fakeWin) { f.absent[winKey(tDVDID)] = true }),
			tick(2000),
		},
		want: []string{"leave " + tDVDID},
	}, {
		name: "a medium that is unplugged before its disk comes",
		steps: []winStep{
			enumerated(0, tStickID),
			stickGone,
			removal(100, winIfaceUSB, tStickUSB), // never arrived: nothing to say
			tick(1000),
		},
		want: []string{
			"arrive " + tStickID + " usb-storage 0781:5583:4C530001230322116363",
			"leave " + tStickID,
		},
	}}
	t0 := time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeWin()
			w := newWinWatch(f)
			w.seed(tt.seed)
			var got []string
			for _, s := range tt.steps {
				at := t0.Add(time.Duration(s.ms) * time.Millisecond)
				var evs []osEvent
				switch {
				case s.sys != nil:
					s.sys(f)
				case s.note != nil:
					n := *s.note
					n.At = at
					evs = w.note(n)
				case s.resync != nil:
					evs = w.resync(s.resync, at)
				case s.tick:
					evs = w.tick(at)
				}
				for _, ev := range evs {
					if !ev.At.Equal(at) {
						t.Errorf("event %q at %v, want %v", eventLine(ev), ev.At, at)
					}
					if ev.Device.Name == "" || len(ev.Device.Volumes) != 0 {
						t.Errorf("event %q names device %+v", eventLine(ev), ev.Device)
					}
					got = append(got, eventLine(ev))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if len(w.orphans) != 0 && tt.name == "fixed disks and their volumes are not followed" {
				t.Errorf("orphan volumes kept: %v", w.orphans)
			}
		})
	}
}

func TestWinAssemble(t *testing.T) {
	disk := func(link string, typ, n uint32, optical, media bool, size uint64) winSeenDisk {
		return winSeenDisk{Link: link, Number: winStorageNumber{Type: typ, Number: n}, Numbered: true, Optical: optical, Media: media, Size: size}
	}
	vol := func(link, name string, typ, n, part uint32) winSeenVolume {
		return winSeenVolume{Link: link, Name: name, Number: winStorageNumber{Type: typ, Number: n, Partition: part}}
	}
	lun1 := `\\?\USBSTOR#Disk&Ven_Generic-&Prod_MS/MS-Pro&Rev_1.00#058F63666485&1#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}`
	disks := []winDiskOf{
		{tStick, disk(tStickDisk, winDeviceDisk, 2, false, false, 61530439680)},
		{tReader, disk(tReaderDk, winDeviceDisk, 4, false, false, 31914983424)},
		{tReader, disk(lun1, winDeviceDisk, 5, false, false, 0)}, // an empty slot
		{tDVD, disk(tDVDLink, winDeviceCDROM, 0, true, false, 0)},
	}
	vols := []winSeenVolume{
		vol(tStickVol+"2", `\\?\Volume{b}\`, winDeviceDisk, 2, 2),
		vol(tStickVol, `\\?\Volume{a}\`, winDeviceDisk, 2, 1),
		vol(tSSDVol, `\\?\Volume{c}\`, winDeviceDisk, 0, 3), // the system disk's
		vol(tReaderV1, "", winDeviceDisk, 4, 1),             // not named yet
		vol(tDVDVol, tDVDVolume, winDeviceCDROM, 0, 0),      // the empty drive's letter
	}
	blocked := wire.MediaDevice{Class: wire.MediaUSBStorage, Name: `USB\VID_0951&PID_1666\E0D55EA573DCF450`, VID: "0951", PID: "1666", Serial: "E0D55EA573DCF450"}
	got := winAssemble(disks, vols, []wire.MediaDevice{blocked, tStick})

	var names []string
	for _, s := range got {
		names = append(names, s.Device.Name)
	}
	if want := []string{tDVDID, tReaderID, tStickID, blocked.Name}; !slices.Equal(names, want) {
		t.Fatalf("media = %q, want %q", names, want)
	}
	wantVolumes := map[string][]wire.MediaVolume{
		tDVDID:       nil,
		tReaderID:    nil,
		tStickID:     {{Name: `\\?\Volume{a}\`}, {Name: `\\?\Volume{b}\`}},
		blocked.Name: nil,
	}
	for _, s := range got {
		if !reflect.DeepEqual(s.Device.Volumes, wantVolumes[s.Device.Name]) {
			t.Errorf("%s: volumes %+v, want %+v", s.Device.Name, s.Device.Volumes, wantVolumes[s.Device.Name])
		}
	}
	if got[0].Device.SizeBytes != 0 || len(got[0].Volumes) != 1 {
		t.Errorf("empty optical drive = size %d, %d volumes followed; want 0, 1", got[0].Device.SizeBytes, len(got[0].Volumes))
	}
	if r := got[1]; len(r.Disks) != 2 || r.Device.SizeBytes != 31914983424 || len(r.Volumes) != 1 {
		t.Errorf("card reader = %d disks, size %d, %d volumes; want 2, 31914983424, 1", len(r.Disks), r.Device.SizeBytes, len(r.Volumes))
	}
	if got[2].Device.SizeBytes != 61530439680 {
		t.Errorf("stick size = %d", got[2].Device.SizeBytes)
	}
}

func TestWinPrimaryPoint(t *testing.T) {
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{`E:\`}, `E:\`},
		{[]string{`C:\mnt\stick\`, `k:\`}, `k:\`},
		{[]string{`C:\mnt\stick\`}, `C:\mnt\stick\`},
		{nil, ""},
		{[]string{`E:`}, `E:`},
	}
	for _, tt := range tests {
		if got := winPrimaryPoint(tt.paths); got != tt.want {
			t.Errorf("winPrimaryPoint(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}

func TestWinFSType(t *testing.T) {
	for in, want := range map[string]string{"FAT32": "vfat", "FAT": "vfat", "exFAT": "exfat", "NTFS": "ntfs", "CDFS": "iso9660", "UDF": "udf", "ReFS": "refs", "": ""} {
		if got := winFSType(in); got != want {
			t.Errorf("winFSType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWinBlockTarget(t *testing.T) {
	tests := []struct {
		name    string
		dev     wire.MediaDevice
		want    string
		wantErr string
	}{
		{"usb stick", tStick, tStickID, ""},
		{"usb dvd drive", wire.MediaDevice{Class: wire.MediaOptical, Name: `USB\VID_0E8D&PID_1887\KE2D8AB1234`}, `USB\VID_0E8D&PID_1887\KE2D8AB1234`, ""},
		{"built-in dvd drive", tDVD, tDVDID, ""},
		{"card in a built-in reader", tCard, "", "built-in reader"},
		{"function of a composite device", wire.MediaDevice{Class: wire.MediaUSBStorage, Name: tComboFn}, "", "no way to block"},
		{"root hub", wire.MediaDevice{Class: wire.MediaUSBStorage, Name: `USB\ROOT_HUB30\4&2E3F9F1&0&0`}, "", "no way to block"},
		{"a linux name", wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdb", DevPath: "/devices/pci0000:00/usb1/1-2"}, "", "not a Windows device instance id"},
	}
	for _, tt := range tests {
		got, err := winBlockTarget(tt.dev)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: winBlockTarget = %q, %v, want %q, error with %q", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestWinReadBlock(t *testing.T) {
	for sector, want := range map[uint32]int{0: 4096, 512: 4096, 2048: 4096, 4096: 4096, 8192: 8192, 3000: 4096, 1 << 20: 4096} {
		if got := winReadBlock(sector); got != want {
			t.Errorf("winReadBlock(%d) = %d, want %d", sector, got, want)
		}
	}
}

// alignedDevice is a raw volume that, like Windows, refuses reads that are
// not aligned to its sector size.
type alignedDevice struct {
	t      *testing.T
	data   []byte
	sector int
	block  int
	reads  int
	fail   error
}

func (d *alignedDevice) read(p []byte, off int64) (int, error) {
	d.reads++
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	if off%int64(d.block) != 0 || len(p)%d.sector != 0 || addr%uintptr(d.block) != 0 {
		d.t.Errorf("unaligned read of %d bytes at %d into %#x", len(p), off, addr)
		return 0, errors.New("the parameter is incorrect")
	}
	if off+int64(len(p)) > int64(len(d.data)) {
		d.t.Errorf("read of %d bytes at %d past the end (%d)", len(p), off, len(d.data))
	}
	if d.fail != nil {
		return 0, d.fail
	}
	return copy(p, d.data[off:]), nil
}

func TestWinAlignedReader(t *testing.T) {
	for _, sector := range []int{512, 2048, 4096} {
		// A size that is a multiple of the sector, not of the block.
		size := 3*winMaxRead + 5*4096 + sector
		data := make([]byte, size)
		rnd := rand.New(rand.NewPCG(1, uint64(sector)))
		for i := range data {
			data[i] = byte(rnd.Uint32())
		}
		dev := &alignedDevice{t: t, data: data, sector: sector, block: winReadBlock(uint32(sector))}
		r := &winAlignedReader{read: dev.read, size: int64(size), block: dev.block}
		want := bytes.NewReader(data)
		check := func(off int64, n int) {
			t.Helper()
			got := make([]byte, n)
			exp := make([]byte, n)
			gn, gerr := r.ReadAt(got, off)
			en, eerr := want.ReadAt(exp, off)
			if gn != en || !errors.Is(gerr, eerr) || !bytes.Equal(got[:gn], exp[:en]) {
				t.Errorf("sector %d: ReadAt(%d bytes at %d) = %d, %v; want %d, %v", sector, n, off, gn, gerr, en, eerr)
			}
		}
		check(0, 512)
		check(3, 1)
		check(510, 4)
		check(int64(size)-1, 1)
		check(int64(size)-100, 200) // past the end
		check(int64(size), 10)
		check(int64(size)+4096, 10)
		check(4095, 2*winMaxRead+3) // several reads
		check(0, size)
		for range 200 {
			off := rnd.Int64N(int64(size))
			check(off, rnd.IntN(70000))
		}
	}

	dev := &alignedDevice{t: t, data: make([]byte, 8192), sector: 512, block: 4096, fail: errors.New("the device is not ready")}
	r := &winAlignedReader{read: dev.read, size: 8192, block: 4096}
	if n, err := r.ReadAt(make([]byte, 10), 100); n != 0 || err == nil || err.Error() != "the device is not ready" {
		t.Errorf("ReadAt on a failing device = %d, %v", n, err)
	}
	if _, err := r.ReadAt(make([]byte, 10), -1); err == nil {
		t.Error("ReadAt(-1) succeeded")
	}

	// A device that returns less than asked before the end.
	short := &winAlignedReader{size: 8192, block: 4096, read: func(p []byte, off int64) (int, error) { return 4096, nil }}
	if n, err := short.ReadAt(make([]byte, 8192), 0); n != 4096 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAt on a short device = %d, %v, want 4096, %v", n, err, io.ErrUnexpectedEOF)
	}
}

func TestWinBusName(t *testing.T) {
	tests := []struct {
		bus        uint32
		enumerator string
		want       string
	}{
		{winBusUSB, "USBSTOR", "usb"},
		{winBusSD, "SD", "mmc"},
		{winBusMMC, "", "mmc"},
		{winBusSATA, "SCSI", "ata"},
		{winBusATAPI, "IDE", "ata"},
		{winBusSAS, "SCSI", "scsi"},
		{winBusNVMe, "SCSI", "nvme"},
		{0, "SD", "mmc"},
		{0, "IDE", "ata"},
		{0, "SCSI", "scsi"},
		{0, "HID", ""},
	}
	for _, tt := range tests {
		if got := winBusName(tt.bus, tt.enumerator); got != tt.want {
			t.Errorf("winBusName(%#x, %q) = %q, want %q", tt.bus, tt.enumerator, got, tt.want)
		}
	}
}
