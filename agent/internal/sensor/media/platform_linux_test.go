package media

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor/media/uevent"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fakeSysfs writes files (path -> content; a path ending in / is a
// directory) below a new root and makes the symlinks (path -> target).
func fakeSysfs(t *testing.T, files, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		if dir, ok := strings.CutSuffix(p, "/"); ok {
			if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const (
	hubDir   = "devices/pci0000:00/0000:00:14.0/usb1"
	usbDir   = hubDir + "/1-2"
	ifDir    = usbDir + "/1-2:1.0"
	sdbDir   = ifDir + "/host6/target6:0:0/6:0:0:0/block/sdb"
	ataDir   = "devices/pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0"
	sr0Dir   = ataDir + "/block/sr0"
	loop0Dir = "devices/virtual/block/loop0"
	loop1Dir = "devices/virtual/block/loop1"
)

// laptopSys is a sysfs tree with a USB stick (sdb, two partitions) on port
// 1-2, a SATA DVD drive (sr0), and two loop devices, loop0 attached to an
// image and loop1 free.
func laptopSys(t *testing.T) string {
	return fakeSysfs(t, map[string]string{
		hubDir + "/idVendor":                     "1d6b\n",
		hubDir + "/idProduct":                    "0002\n",
		hubDir + "/authorized":                   "1\n",
		usbDir + "/idVendor":                     "0781\n",
		usbDir + "/idProduct":                    "5583\n",
		usbDir + "/manufacturer":                 "SanDisk\n",
		usbDir + "/product":                      "Ultra Fit\n",
		usbDir + "/serial":                       "4C530001230608117364\n",
		usbDir + "/authorized":                   "1\n",
		ifDir + "/bInterfaceClass":               "08\n",
		sdbDir + "/size":                         "16384\n",
		sdbDir + "/removable":                    "1\n",
		sdbDir + "/sdb1/partition":               "1\n",
		sdbDir + "/sdb1/size":                    "8192\n",
		sdbDir + "/sdb2/partition":               "2\n",
		sdbDir + "/sdb2/size":                    "4096\n",
		ataDir + "/type":                         "5\n",
		ataDir + "/vendor":                       "HL-DT-ST\n",
		ataDir + "/model":                        "DVDRAM GUD0N\n",
		ataDir + "/delete":                       "",
		sr0Dir + "/size":                         "0\n",
		sr0Dir + "/removable":                    "1\n",
		loop0Dir + "/size":                       "8192\n",
		loop0Dir + "/diskseq":                    "7\n",
		loop0Dir + "/loop/backing_file":          "/srv/images/stick.img\n",
		loop1Dir + "/size":                       "0\n",
		"devices/virtual/block/loop1/removable":  "0\n",
		"devices/pci0000:00/0000:00:17.0/x/size": "1\n",
	}, map[string]string{
		"class/block/sdb":         "../../" + sdbDir,
		"class/block/sdb1":        "../../" + sdbDir + "/sdb1",
		"class/block/sdb2":        "../../" + sdbDir + "/sdb2",
		"class/block/sr0":         "../../" + sr0Dir,
		"class/block/loop0":       "../../" + loop0Dir,
		"class/block/loop1":       "../../" + loop1Dir,
		"block/sdb":               "../" + sdbDir,
		"block/sr0":               "../" + sr0Dir,
		"block/loop0":             "../" + loop0Dir,
		"block/loop1":             "../" + loop1Dir,
		sdbDir + "/device":        "../../../6:0:0:0",
		sr0Dir + "/device":        "../../../1:0:0:0",
		"bus/usb/devices/1-2":     "../../../" + usbDir,
		"bus/usb/devices/usb1":    "../../../" + hubDir,
		"bus/usb/devices/1-2:1.0": "../../../" + ifDir,
	})
}

var (
	wantSDB = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdb", Bus: "usb", VID: "0781", PID: "5583",
		Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001230608117364", SizeBytes: 16384 * 512, DevPath: "/" + sdbDir,
		Volumes: []wire.MediaVolume{{Name: "sdb1", SizeBytes: 8192 * 512}, {Name: "sdb2", SizeBytes: 4096 * 512}}}
	wantSR0 = wire.MediaDevice{Class: wire.MediaOptical, Name: "sr0", Bus: "ata", Vendor: "HL-DT-ST", Product: "DVDRAM GUD0N",
		DevPath: "/" + sr0Dir}
	wantLoop0 = wire.MediaDevice{Class: wire.MediaLoop, Name: "loop0", Bus: "loop", Serial: "/srv/images/stick.img",
		SizeBytes: 8192 * 512, DevPath: "/" + loop0Dir, Volumes: []wire.MediaVolume{{Name: "loop0", SizeBytes: 8192 * 512}}}
)

func TestLinuxScan(t *testing.T) {
	sys := laptopSys(t)
	for _, c := range []struct {
		loop bool
		want []wire.MediaDevice
	}{
		{false, []wire.MediaDevice{wantSDB, wantSR0}},
		{true, []wire.MediaDevice{wantSDB, wantSR0, wantLoop0}},
	} {
		pl, err := newPlatform(platformOptions{SysRoot: sys, IncludeLoop: c.loop})
		if err != nil {
			t.Fatal(err)
		}
		p := pl.(*linuxPlatform)
		got, err := p.Scan()
		p.Close()
		if err != nil {
			t.Fatalf("Scan = %v", err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Scan (loop %v) =\n%+v\nwant\n%+v", c.loop, got, c.want)
		}
	}
	if _, err := newPlatform(platformOptions{SysRoot: filepath.Join(sys, "nowhere")}); err == nil {
		t.Error("newPlatform with a missing sysfs: no error")
	}
}

func TestLinuxDescribe(t *testing.T) {
	sys := laptopSys(t)
	p := &linuxPlatform{sys: sys, includeLoop: true}
	for _, c := range []struct {
		in   wire.MediaDevice
		want wire.MediaDevice
	}{
		{wire.MediaDevice{Name: "sdb"}, wantSDB},
		{wire.MediaDevice{Name: "loop0"}, wantLoop0},
		{wire.MediaDevice{Name: "1-2", DevPath: "/" + usbDir}, wantSDB}, // the USB device: the disk found below it
	} {
		got, err := p.Describe(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Describe(%s) = %+v, %v; want %+v", c.in.Name, got, err, c.want)
		}
	}
	for _, name := range []string{"loop1", "sdz", "../sdb"} {
		if d, err := p.Describe(wire.MediaDevice{Name: name}); err == nil {
			t.Errorf("Describe(%s) = %+v, want an error", name, d)
		}
	}
}

// TestLinuxBlock: a USB stick is deauthorised through the authorized file of
// its USB device, as USBGuard does; a SATA optical drive is deleted from its
// bus; a memory card cannot be blocked.
func TestLinuxBlock(t *testing.T) {
	sys := laptopSys(t)
	p := &linuxPlatform{sys: sys, dev: t.TempDir()}
	arrival := wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "1-2", DevPath: "/" + usbDir}
	for _, dev := range []wire.MediaDevice{wantSDB, arrival} {
		if err := os.WriteFile(filepath.Join(sys, usbDir, "authorized"), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := p.Block(dev); err != nil {
			t.Fatalf("Block(%s) = %v", dev.Name, err)
		}
		if b, _ := os.ReadFile(filepath.Join(sys, usbDir, "authorized")); string(b) != "0" {
			t.Errorf("after Block(%s) authorized holds %q, want 0", dev.Name, b)
		}
		if b, _ := os.ReadFile(filepath.Join(sys, hubDir, "authorized")); string(b) != "1\n" {
			t.Errorf("after Block(%s) the root hub's authorized holds %q, want it untouched", dev.Name, b)
		}
	}
	if err := p.Block(wantSR0); err != nil {
		t.Fatalf("Block(sr0) = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(sys, ataDir, "delete")); string(b) != "1" {
		t.Errorf("after Block(sr0) delete holds %q, want 1", b)
	}
	card := wire.MediaDevice{Class: wire.MediaMemoryCard, Name: "mmcblk0", Bus: "mmc"}
	if err := p.Block(card); err == nil || !strings.Contains(err.Error(), "mmc memory card") {
		t.Errorf("Block(mmcblk0) = %v, want the mmc error", err)
	}
	// A device whose USB parent lacks the switch reports the failure.
	if err := os.Remove(filepath.Join(sys, usbDir, "authorized")); err != nil {
		t.Fatal(err)
	}
	if err := p.Block(wantSDB); err == nil {
		t.Error("Block(sdb) without an authorized file: no error")
	}
}

// TestLinuxUevents: the kernel's uevents of a stick being plugged in and
// pulled, and of loop devices, become the platform's events.
func TestLinuxUevents(t *testing.T) {
	sys := laptopSys(t)
	p := &linuxPlatform{sys: sys, includeLoop: true, reported: map[string]bool{}, loops: map[string]string{}, arrivals: map[string]string{}}
	var got []osEvent
	w := &watch{p: p, pending: map[string]time.Time{}, send: func(ev osEvent) bool { got = append(got, ev); return true }}
	take := func() []osEvent {
		// Let every pending disk settle.
		for name := range w.pending {
			w.pending[name] = time.Now().Add(-time.Millisecond)
		}
		w.settled()
		out := got
		got = nil
		return out
	}
	ue := func(action, devpath, subsystem, devtype, devname string, env ...string) uevent.Event {
		ev := uevent.Event{Action: action, DevPath: devpath, Subsystem: subsystem, DevType: devtype, DevName: devname, Env: map[string]string{}}
		for i := 0; i+1 < len(env); i += 2 {
			ev.Env[env[i]] = env[i+1]
		}
		return ev
	}

	// Plug in: the USB device, its interfaces, then the disk and partitions.
	w.uevent(ue("add", "/"+usbDir, "usb", "usb_device", ""))
	w.uevent(ue("add", "/"+ifDir, "usb", "usb_interface", "", "INTERFACE", "8/6/80"))
	w.uevent(ue("add", "/"+usbDir+"/1-2:1.2", "usb", "usb_interface", "", "INTERFACE", "3/1/1")) // a keyboard on the same device
	arrive := wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "1-2", Bus: "usb", VID: "0781", PID: "5583",
		Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001230608117364", DevPath: "/" + usbDir}
	if len(got) != 1 || got[0].Kind != osArrive || !reflect.DeepEqual(got[0].Device, arrive) {
		t.Fatalf("events after the interfaces = %+v, want one arrival of %+v", got, arrive)
	}
	got = nil
	w.uevent(ue("add", "/"+usbDir+"/1-2:1.1", "usb", "usb_interface", "", "INTERFACE", "8/2/80")) // an ATAPI interface: a CD drive
	if len(got) != 1 || got[0].Kind != osArrive || got[0].Device.Class != wire.MediaOptical || got[0].Device.Name != "1-2" {
		t.Fatalf("events after an ATAPI interface = %+v, want the arrival of an optical drive", got)
	}
	got = nil
	w.uevent(ue("add", "/"+sdbDir, "block", "disk", "sdb"))
	w.uevent(ue("add", "/"+sdbDir+"/sdb1", "block", "partition", "sdb1"))
	w.uevent(ue("add", "/"+sdbDir+"/sdb2", "block", "partition", "sdb2"))
	if len(got) != 0 || len(w.pending) != 1 {
		t.Fatalf("events before the disk settled = %+v (pending %v), want none, sdb pending", got, w.pending)
	}
	if evs := take(); len(evs) != 1 || evs[0].Kind != osVolumes || !reflect.DeepEqual(evs[0].Device, wantSDB) {
		t.Fatalf("events once settled = %+v, want the volumes of %+v", evs, wantSDB)
	}
	if disk, vol, ok := p.resolveMount(mountEntry{MajMin: "8:17", Source: "/dev/sdb1"}); !ok || disk != "sdb" || vol != "sdb1" {
		t.Errorf("resolveMount(/dev/sdb1) = %q, %q, %v; want sdb1 of the reported sdb", disk, vol, ok)
	}

	// Pull: partitions, disk, interfaces, USB device.
	w.uevent(ue("remove", "/"+sdbDir+"/sdb1", "block", "partition", "sdb1"))
	w.uevent(ue("remove", "/"+sdbDir, "block", "disk", "sdb"))
	w.uevent(ue("remove", "/"+ifDir, "usb", "usb_interface", ""))
	w.uevent(ue("remove", "/"+usbDir, "usb", "usb_device", ""))
	want := []osEvent{
		{Kind: osLeave, Device: wire.MediaDevice{Name: "sdb", DevPath: "/" + sdbDir}},
		{Kind: osLeave, Device: wire.MediaDevice{Name: "1-2", DevPath: "/" + usbDir}},
	}
	if evs := take(); !reflect.DeepEqual(evs, want) {
		t.Errorf("events of the pull = %+v, want %+v", evs, want)
	}

	// A fixed disk and a USB device that is not storage say nothing.
	w.uevent(ue("add", "/devices/pci0000:00/0000:00:17.0/x", "block", "disk", "x"))
	w.uevent(ue("remove", "/"+hubDir+"/1-9", "usb", "usb_device", ""))
	if evs := take(); len(evs) != 0 {
		t.Errorf("events of a fixed disk and a mouse = %+v, want none", evs)
	}

	// losetup: "change" when the backing file is set; twice "change" on detach.
	w.uevent(ue("change", "/"+loop0Dir, "block", "disk", "loop0"))
	w.uevent(ue("change", "/"+loop0Dir, "block", "disk", "loop0"))
	evs := take()
	arriveLoop := wantLoop0
	arriveLoop.Volumes = nil
	if len(evs) != 2 || evs[0].Kind != osArrive || !reflect.DeepEqual(evs[0].Device, arriveLoop) ||
		evs[1].Kind != osVolumes || !reflect.DeepEqual(evs[1].Device, wantLoop0) {
		t.Fatalf("events of the attach = %+v, want the arrival and the volumes of loop0", evs)
	}
	// Detached and attached again to the same file before the events are
	// read: the new disk sequence number tells the attachments apart.
	if err := os.WriteFile(filepath.Join(sys, loop0Dir, "diskseq"), []byte("9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.uevent(ue("change", "/"+loop0Dir, "block", "disk", "loop0"))
	evs = take()
	if len(evs) != 3 || evs[0].Kind != osLeave || evs[1].Kind != osArrive || evs[2].Kind != osVolumes {
		t.Fatalf("events of a detach and attach read late = %+v, want leave, arrive, volumes", evs)
	}
	if err := os.Remove(filepath.Join(sys, loop0Dir, "loop", "backing_file")); err != nil {
		t.Fatal(err)
	}
	w.uevent(ue("change", "/"+loop0Dir, "block", "disk", "loop0"))
	w.uevent(ue("change", "/"+loop0Dir, "block", "disk", "loop0", "DISK_MEDIA_CHANGE", "1"))
	if evs := take(); len(evs) != 1 || evs[0].Kind != osLeave || evs[0].Device.Name != "loop0" {
		t.Errorf("events of the detach = %+v, want one leave of loop0", evs)
	}
	// A free loop device created by losetup ("add" without a backing file).
	w.uevent(ue("add", "/"+loop1Dir, "block", "disk", "loop1"))
	if evs := take(); len(evs) != 0 {
		t.Errorf("events of a free loop device = %+v, want none", evs)
	}
}
