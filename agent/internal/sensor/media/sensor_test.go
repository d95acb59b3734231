package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// need skips a test that needs what this machine lacks; under CI=true that
// is a failure, so CI always runs it.
func need(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run under CI: %s", why)
	}
	t.Skip(why)
}

// needTool returns the path of tool, or skips (fails under CI).
func needTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		need(t, fmt.Sprintf("%s missing: install Debian package %s", tool, pkg))
	}
	return p
}

// fatImage makes a FAT volume of 4 MiB with label (none when "") holding
// files (name -> content) at its root, with dosfstools and mtools.
func fatImage(t testing.TB, label string, files map[string]string) []byte {
	t.Helper()
	mkfs := needTool(t, "mkfs.vfat", "dosfstools")
	dir := t.TempDir()
	img := filepath.Join(dir, "vol.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 4<<20); err != nil {
		t.Fatal(err)
	}
	args := []string{img}
	if label != "" {
		args = []string{"-n", label, img}
	}
	if out, err := exec.Command(mkfs, args...).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat %v: %v: %s", args, err, out)
	}
	for name, content := range files {
		mcopy := needTool(t, "mcopy", "mtools")
		src := filepath.Join(dir, "src-"+name)
		if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(mcopy, "-i", img, src, "::/"+name)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mcopy %s: %v: %s", name, err, out)
		}
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakePlatform is a platform whose media and events the test sets.
type fakePlatform struct {
	mu       sync.Mutex
	scan     []wire.MediaDevice
	devices  map[string]wire.MediaDevice // what Describe answers, by name
	volumes  map[string]io.ReaderAt      // volume name -> bytes; missing ones fail to open
	sizes    map[string]int64
	mounts   map[string]wire.MediaMountInfo
	blockErr map[string]error // by device name
	calls    []string         // "block sdb", "open sdb1", in order
	events   chan osEvent
	watchErr chan error
	closed   atomic.Bool
}

func newFake() *fakePlatform {
	return &fakePlatform{devices: map[string]wire.MediaDevice{}, volumes: map[string]io.ReaderAt{}, sizes: map[string]int64{},
		mounts: map[string]wire.MediaMountInfo{}, blockErr: map[string]error{}, events: make(chan osEvent), watchErr: make(chan error, 1)}
}

func (f *fakePlatform) volume(name string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes[name], f.sizes[name] = bytes.NewReader(b), int64(len(b))
}

func (f *fakePlatform) Scan() ([]wire.MediaDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.scan), nil
}

func (f *fakePlatform) Describe(dev wire.MediaDevice) (wire.MediaDevice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[dev.Name]
	if !ok {
		return wire.MediaDevice{}, fmt.Errorf("%s: no such device", dev.Name)
	}
	return d, nil
}

func (f *fakePlatform) Watch(ctx context.Context, out chan<- osEvent) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-f.watchErr:
			return err
		case ev := <-f.events:
			select {
			case out <- ev:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

func (f *fakePlatform) OpenVolume(dev wire.MediaDevice, vol string) (io.ReaderAt, int64, io.Closer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "open "+vol)
	r, ok := f.volumes[vol]
	if !ok {
		return nil, 0, nil, fmt.Errorf("open /dev/%s: no such device", vol)
	}
	return r, f.sizes[vol], io.NopCloser(nil), nil
}

func (f *fakePlatform) Mounts(dev wire.MediaDevice) map[string]wire.MediaMountInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]wire.MediaMountInfo{}
	for _, v := range dev.Volumes {
		if m, ok := f.mounts[v.Name]; ok {
			out[v.Name] = m
		}
	}
	return out
}

func (f *fakePlatform) Block(dev wire.MediaDevice) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "block "+dev.Name)
	return f.blockErr[dev.Name]
}

func (f *fakePlatform) Close() error {
	f.closed.Store(true)
	return nil
}

// callLog returns the platform calls made, but for the test's barriers.
func (f *fakePlatform) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(f.calls), func(c string) bool { return strings.Contains(c, "barrier") })
}

// run is a sensor running on a fake platform under a policy the test may
// change.
type run struct {
	t       *testing.T
	fake    *fakePlatform
	policy  atomic.Pointer[wire.MediaPolicy]
	records chan wire.Record
	done    chan error
	cancel  context.CancelFunc
	barrier int
}

func start(t *testing.T, f *fakePlatform, p wire.MediaPolicy, tune func(*Sensor)) *run {
	t.Helper()
	r := &run{t: t, fake: f, records: make(chan wire.Record, 100), done: make(chan error, 1)}
	r.policy.Store(&p)
	s := newSensor(sensor.Env{Policy: func() wire.Policy { return wire.Policy{Media: r.policy.Load()} }}, f)
	if tune != nil {
		tune(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- s.Run(ctx, func(rec wire.Record) { r.records <- rec }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	})
	return r
}

func (r *run) send(kind string, dev wire.MediaDevice, mount *wire.MediaMountInfo) {
	r.t.Helper()
	select {
	case r.fake.events <- osEvent{Kind: kind, Device: dev, Mount: mount, At: time.Unix(1700000000, 0)}:
	case <-time.After(5 * time.Second):
		r.t.Fatalf("sensor took no %s event for %s", kind, dev.Name)
	}
}

// next returns the next media record.
func (r *run) next() wire.MediaEvent {
	r.t.Helper()
	select {
	case rec := <-r.records:
		if rec.Kind != wire.KindMedia {
			r.t.Fatalf("record kind %q, want %q", rec.Kind, wire.KindMedia)
		}
		var ev wire.MediaEvent
		if err := rec.DecodeBody(&ev); err != nil {
			r.t.Fatal(err)
		}
		return ev
	case <-time.After(5 * time.Second):
		r.t.Fatal("no media record within 5 s")
	}
	return wire.MediaEvent{}
}

// none checks that the events sent so far produced no record (beyond those
// taken): a device nobody can describe arriving produces an add, so once
// that add is the next record, every earlier event has been handled.
func (r *run) none() {
	r.t.Helper()
	r.barrier++
	name := fmt.Sprintf("barrier%d", r.barrier)
	r.send(osVolumes, wire.MediaDevice{Name: name}, nil)
	if ev := r.next(); ev.Action != wire.MediaAdd || ev.Device.Name != name {
		r.t.Fatalf("unexpected record %+v", ev)
	}
	r.send(osLeave, wire.MediaDevice{Name: name}, nil)
	if ev := r.next(); ev.Action != wire.MediaRemove || ev.Device.Name != name {
		r.t.Fatalf("unexpected record %+v", ev)
	}
}

var (
	audit      = wire.MediaPolicy{Mode: wire.MediaModeAudit, LabelPattern: "NK-*"}
	auditAllow = wire.MediaDecision{Verdict: wire.VerdictAllow, Rule: wire.MediaRuleAuditDefault, Mode: wire.MediaModeAudit}
	stickUSB   = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "1-2", Bus: "usb", VID: "0781", PID: "5583", Serial: "4C5300",
		DevPath: "/devices/pci0000:00/0000:00:14.0/usb1/1-2"}
	stickDisk = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdb", Bus: "usb", VID: "0781", PID: "5583", Serial: "4C5300",
		Vendor: "SanDisk", Product: "Ultra Fit", SizeBytes: 8 << 20,
		DevPath: "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb",
		Volumes: []wire.MediaVolume{{Name: "sdb1"}, {Name: "sdb2"}}}
)

// TestPresent: media attached at start are reported once each, with their
// volumes' facts, marking and the decision; what cannot be read says why.
func TestPresent(t *testing.T) {
	f := newFake()
	f.volume("sdb1", fatImage(t, "NK-0042", nil))
	// sdb2 does not open.
	card := wire.MediaDevice{Class: wire.MediaMemoryCard, Name: "mmcblk0", Bus: "mmc", Serial: "0x1a2b"}
	f.scan = []wire.MediaDevice{stickDisk, card}
	f.mounts["sdb1"] = wire.MediaMountInfo{Volume: "sdb1", Point: "/media/kari/NK-0042"}
	r := start(t, f, audit, nil)

	ev := r.next()
	if ev.Action != wire.MediaPresent || ev.Decision == nil || *ev.Decision != auditAllow || ev.Device.Name != "sdb" {
		t.Fatalf("first record %+v %+v, want present sdb with %+v", ev, ev.Decision, auditAllow)
	}
	if len(ev.Device.Volumes) != 2 {
		t.Fatalf("volumes %+v, want sdb1 and sdb2", ev.Device.Volumes)
	}
	v := ev.Device.Volumes[0]
	want := wire.MediaVolume{Name: "sdb1", SizeBytes: 4 << 20, FSType: "vfat", Label: "NK-0042", Encrypted: "no",
		Marking: &wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042"}, MarkingChecked: true, MountPoint: "/media/kari/NK-0042"}
	v.UUID = ""
	if !reflect.DeepEqual(v, want) {
		t.Errorf("sdb1 = %+v (marking %+v), want %+v", v, v.Marking, want)
	}
	bad := ev.Device.Volumes[1]
	if bad.Name != "sdb2" || bad.Encrypted != "unknown" || bad.MarkingChecked || len(bad.Problems) == 0 || !strings.Contains(bad.Problems[0], "no such device") {
		t.Errorf("unreadable sdb2 = %+v, want unknown encryption, unchecked marking and the open error", bad)
	}

	ev = r.next()
	if ev.Action != wire.MediaPresent || ev.Device.Name != "mmcblk0" || len(ev.Device.Volumes) != 0 || len(ev.Device.Unknown) == 0 {
		t.Errorf("card record %+v, want present mmcblk0 with no volumes and a note why", ev)
	}
	r.none()
}

// TestArrivalAllowed: a USB device that arrives, then shows its disk, is
// reported in one add once the volumes are read; its removal once.
func TestArrivalAllowed(t *testing.T) {
	f := newFake()
	f.volume("sdb1", fatImage(t, "PRIVATE", nil))
	f.volume("sdb2", make([]byte, 1<<20))
	f.devices["sdb"] = stickDisk
	r := start(t, f, audit, nil)

	r.send(osArrive, stickUSB, nil)
	r.none() // nothing until the volumes are read
	r.send(osVolumes, wire.MediaDevice{Name: "sdb", DevPath: stickDisk.DevPath}, nil)
	ev := r.next()
	if ev.Action != wire.MediaAdd || ev.Device.Name != "sdb" || ev.Device.Key() != "0781:5583:4C5300" || *ev.Decision != auditAllow {
		t.Fatalf("add = %+v, want sdb with its identity and %+v", ev, auditAllow)
	}
	if v := ev.Device.Volumes; len(v) != 2 || v[0].Label != "PRIVATE" || v[0].Marking != nil || !v[0].MarkingChecked ||
		v[1].FSType != "" || v[1].Encrypted != "unknown" || len(v[1].Problems) == 0 {
		t.Errorf("volumes %+v: want sdb1 PRIVATE unmarked (checked), sdb2 unknown with a problem", v)
	}
	// The same disk's volumes again (a partition table re-read) add nothing.
	r.send(osVolumes, wire.MediaDevice{Name: "sdb", DevPath: stickDisk.DevPath}, nil)
	r.none()

	r.send(osLeave, wire.MediaDevice{Name: "sdb", DevPath: stickDisk.DevPath}, nil)
	if ev := r.next(); ev.Action != wire.MediaRemove || ev.Device.Name != "sdb" || ev.Device.Serial != "4C5300" || ev.Decision != nil {
		t.Errorf("remove = %+v, want sdb with its identity", ev)
	}
	r.send(osLeave, stickUSB, nil) // the USB device follows its disk out
	r.none()
	if calls := f.callLog(); slices.ContainsFunc(calls, func(c string) bool { return strings.HasPrefix(c, "block") }) {
		t.Errorf("platform calls %q: audit mode blocked something", calls)
	}
}

// TestArrivalBlocked: in block mode an unregistered medium is blocked on
// arrival, before any volume of it is opened; the add says so; a registered
// one is allowed by the register.
func TestArrivalBlocked(t *testing.T) {
	f := newFake()
	f.volume("sdb1", fatImage(t, "NK-0001", nil))
	f.devices["sdb"] = stickDisk
	p := wire.MediaPolicy{Mode: wire.MediaModeBlock, LabelPattern: "NK-*"}
	r := start(t, f, p, nil)

	r.send(osArrive, stickUSB, nil)
	ev := r.next()
	want := wire.MediaDecision{Verdict: wire.VerdictBlock, Rule: wire.MediaRuleBlockDefault, Mode: wire.MediaModeBlock, Enforced: true}
	if ev.Action != wire.MediaAdd || ev.Decision == nil || *ev.Decision != want || ev.Device.Name != "1-2" || len(ev.Device.Volumes) != 0 {
		t.Fatalf("add = %+v (decision %+v), want 1-2 without volumes, %+v", ev, ev.Decision, want)
	}
	if len(ev.Device.Unknown) == 0 || !strings.Contains(ev.Device.Unknown[0], "blocked") {
		t.Errorf("unknown %q, want a note that the volumes were not read because of the block", ev.Device.Unknown)
	}
	// Volumes that still show up are not read.
	r.send(osVolumes, wire.MediaDevice{Name: "sdb", DevPath: stickDisk.DevPath}, nil)
	r.none()
	if calls := f.callLog(); !reflect.DeepEqual(calls, []string{"block 1-2"}) {
		t.Errorf("platform calls %q, want only the block of 1-2", calls)
	}
	// Let back in (authorized set to 1 by hand): blocked again, quietly.
	r.send(osArrive, stickUSB, nil)
	r.none()
	if calls := f.callLog(); !reflect.DeepEqual(calls, []string{"block 1-2", "block 1-2"}) {
		t.Errorf("platform calls %q, want the block of 1-2 twice", calls)
	}
	r.send(osLeave, stickUSB, nil)
	if ev := r.next(); ev.Action != wire.MediaRemove || ev.Device.Name != "1-2" {
		t.Errorf("remove = %+v, want 1-2", ev)
	}

	// The register allows the stick; the policy is read afresh.
	p.Allowed = []string{"0781:5583:4C5300"}
	r.policy.Store(&p)
	r.send(osArrive, stickUSB, nil)
	r.send(osVolumes, wire.MediaDevice{Name: "sdb", DevPath: stickDisk.DevPath}, nil)
	ev = r.next()
	if ev.Action != wire.MediaAdd || ev.Decision.Verdict != wire.VerdictAllow || ev.Decision.Rule != wire.MediaRuleRegister ||
		ev.Device.Volumes[0].Marking == nil || ev.Device.Volumes[0].Marking.ID != "NK-0001" {
		t.Errorf("registered add = %+v (decision %+v), want allow by the register with the label marking", ev, ev.Decision)
	}
}

// TestBlockFails: a block that cannot take effect is reported with its
// error, and the medium's volumes are read as for an allowed one.
func TestBlockFails(t *testing.T) {
	f := newFake()
	f.volume("mmcblk0p1", fatImage(t, "KORT", nil))
	card := wire.MediaDevice{Class: wire.MediaMemoryCard, Name: "mmcblk0", Bus: "mmc", Serial: "0x1a2b",
		Volumes: []wire.MediaVolume{{Name: "mmcblk0p1"}}}
	f.devices["mmcblk0"] = card
	f.blockErr["mmcblk0"] = errors.New("no way to block an mmc memory card on Linux")
	r := start(t, f, wire.MediaPolicy{Mode: wire.MediaModeBlock}, nil)

	// A card arrives with its volumes at once: one record.
	r.send(osVolumes, wire.MediaDevice{Name: "mmcblk0"}, nil)
	ev := r.next()
	want := wire.MediaDecision{Verdict: wire.VerdictBlock, Rule: wire.MediaRuleBlockDefault, Mode: wire.MediaModeBlock,
		Error: "no way to block an mmc memory card on Linux"}
	if ev.Action != wire.MediaAdd || *ev.Decision != want || len(ev.Device.Volumes) != 1 || ev.Device.Volumes[0].Label != "KORT" {
		t.Errorf("add = %+v (decision %+v), want the card's volume and %+v", ev, ev.Decision, want)
	}
	r.none()
	if calls := f.callLog(); !reflect.DeepEqual(calls, []string{"block mmcblk0", "open mmcblk0p1"}) {
		t.Errorf("platform calls %q, want one block, then the volume read", calls)
	}
}

// TestPresentBlocked: in block mode a medium attached at start is blocked too.
func TestPresentBlocked(t *testing.T) {
	f := newFake()
	loop := wire.MediaDevice{Class: wire.MediaLoop, Name: "loop3", Bus: "loop", Serial: "/img/a.img",
		Volumes: []wire.MediaVolume{{Name: "loop3"}}}
	f.scan = []wire.MediaDevice{loop}
	r := start(t, f, wire.MediaPolicy{Mode: wire.MediaModeBlock}, nil)
	ev := r.next()
	if ev.Action != wire.MediaPresent || !ev.Decision.Enforced || ev.Decision.Verdict != wire.VerdictBlock || len(ev.Device.Volumes) != 0 {
		t.Errorf("present = %+v (decision %+v), want blocked and enforced, no volumes read", ev, ev.Decision)
	}
	if calls := f.callLog(); !reflect.DeepEqual(calls, []string{"block loop3"}) {
		t.Errorf("platform calls %q, want only the block", calls)
	}
}

// TestMountReadsMarker: a filesystem whose marker file cannot be read raw is
// unchecked until mounted; the mount record then carries the marking read
// through the mount point, never through a symbolic link.
func TestMountReadsMarker(t *testing.T) {
	f := newFake()
	f.volume("sdc1", make([]byte, 2<<20)) // no filesystem fsprobe reads raw
	disk := wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdc", VID: "090c", PID: "1000", Serial: "S2",
		Volumes: []wire.MediaVolume{{Name: "sdc1"}}}
	f.devices["sdc"] = disk
	p := wire.MediaPolicy{Mode: wire.MediaModeAudit, LabelPattern: "NK-*", MarkerFile: "SONEVAKT.TXT"}
	r := start(t, f, p, nil)

	r.send(osArrive, disk, nil)
	r.send(osMount, wire.MediaDevice{Name: "sdc"}, &wire.MediaMountInfo{Volume: "sdc1", Point: "/media/kari/x"}) // before the add: left to it
	r.send(osVolumes, wire.MediaDevice{Name: "sdc"}, nil)
	ev := r.next()
	if v := ev.Device.Volumes[0]; ev.Action != wire.MediaAdd || v.MarkingChecked || v.Marking != nil {
		t.Fatalf("add = %+v, want sdc1 with its marking not yet checked", ev)
	}

	point := t.TempDir()
	if err := os.WriteFile(filepath.Join(point, "SONEVAKT.TXT"), []byte("id=NK-0077\nclassification=intern\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.send(osMount, wire.MediaDevice{Name: "sdc"}, &wire.MediaMountInfo{Volume: "sdc1", Point: point, FSType: "ext4", User: "kari"})
	ev = r.next()
	v := ev.Device.Volumes[0]
	if ev.Action != wire.MediaMount || ev.Mount == nil || *ev.Mount != (wire.MediaMountInfo{Volume: "sdc1", Point: point, FSType: "ext4", User: "kari"}) {
		t.Fatalf("mount = %+v (mount %+v), want sdc1 at %s", ev, ev.Mount, point)
	}
	if !v.MarkingChecked || v.MountPoint != point || v.Marking == nil || v.Marking.Source != wire.MarkingFile || v.Marking.ID != "NK-0077" || v.Marking.Classification != "intern" {
		t.Errorf("mounted sdc1 = %+v (marking %+v), want the marker file's marking, checked, at %s", v, v.Marking, point)
	}
	r.send(osUnmount, wire.MediaDevice{Name: "sdc"}, &wire.MediaMountInfo{Volume: "sdc1", Point: point, FSType: "ext4"})
	ev = r.next()
	if ev.Action != wire.MediaUnmount || ev.Mount.Point != point || ev.Device.Volumes[0].MountPoint != "" || ev.Device.Volumes[0].Marking == nil {
		t.Errorf("unmount = %+v, want sdc1 unmounted from %s, marking kept", ev, point)
	}

	// A marker file that is a symbolic link is not followed.
	other := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("id=NK-9999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(other, "SONEVAKT.TXT")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	f.devices["sdd"] = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdd", Volumes: []wire.MediaVolume{{Name: "sdd1"}}}
	f.volume("sdd1", make([]byte, 1<<20))
	r.send(osVolumes, wire.MediaDevice{Name: "sdd"}, nil)
	r.next()
	r.send(osMount, wire.MediaDevice{Name: "sdd"}, &wire.MediaMountInfo{Volume: "sdd1", Point: other})
	ev = r.next()
	if v := ev.Device.Volumes[0]; v.Marking != nil || v.MarkingChecked || !slices.ContainsFunc(v.Problems, func(p string) bool { return strings.Contains(p, "symbolic link") }) {
		t.Errorf("marker behind a symlink: volume %+v, want no marking, unchecked, a problem naming the link", v)
	}
	// Mounts of devices the sensor does not know are not reported.
	r.send(osMount, wire.MediaDevice{Name: "sda"}, &wire.MediaMountInfo{Volume: "sda1", Point: "/"})
	r.none()
}

// TestVolumeWait: an allowed arrival whose volumes never show is reported
// without them after the wait; late volumes are kept, not reported again.
func TestVolumeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake()
		f.devices["sdb"] = stickDisk
		f.volume("sdb1", make([]byte, 1<<20))
		f.volume("sdb2", make([]byte, 1<<20))
		var records []wire.MediaEvent
		var mu sync.Mutex
		s := newSensor(sensor.Env{}, f)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- s.Run(ctx, func(rec wire.Record) {
				var ev wire.MediaEvent
				if err := rec.DecodeBody(&ev); err != nil {
					t.Error(err)
				}
				mu.Lock()
				records = append(records, ev)
				mu.Unlock()
			})
		}()
		count := func() int {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			return len(records)
		}
		f.events <- osEvent{Kind: osArrive, Device: stickUSB, At: time.Now()}
		time.Sleep(defaultVolumeWait - time.Second)
		if n := count(); n != 0 {
			t.Fatalf("%d records before the wait ended, want none", n)
		}
		time.Sleep(2 * time.Second)
		if n := count(); n != 1 {
			t.Fatalf("%d records after the wait, want the add", n)
		}
		if ev := records[0]; ev.Action != wire.MediaAdd || ev.Device.Name != "1-2" || !strings.Contains(strings.Join(ev.Device.Unknown, ";"), "none appeared") {
			t.Errorf("add = %+v, want 1-2 with a note that no volumes appeared", ev)
		}
		f.events <- osEvent{Kind: osVolumes, Device: wire.MediaDevice{Name: "sdb", DevPath: stickDisk.DevPath}, At: time.Now()}
		f.events <- osEvent{Kind: osLeave, Device: wire.MediaDevice{Name: "sdb", DevPath: stickDisk.DevPath}, At: time.Now()}
		if n := count(); n != 2 {
			t.Fatalf("%d records, want the add and the remove", n)
		}
		if ev := records[1]; ev.Action != wire.MediaRemove || ev.Device.Name != "sdb" || len(ev.Device.Volumes) != 2 {
			t.Errorf("remove = %+v, want sdb with the late volumes", ev)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// TestLeaveBeforeVolumes: an arrival that leaves before its volumes is
// still reported, then removed.
func TestLeaveBeforeVolumes(t *testing.T) {
	f := newFake()
	r := start(t, f, audit, nil)
	r.send(osArrive, stickUSB, nil)
	r.send(osLeave, stickUSB, nil)
	if ev := r.next(); ev.Action != wire.MediaAdd || ev.Device.Name != "1-2" || ev.Decision == nil || len(ev.Device.Unknown) == 0 {
		t.Errorf("first = %+v, want the add of 1-2 with a note", ev)
	}
	if ev := r.next(); ev.Action != wire.MediaRemove || ev.Device.Name != "1-2" {
		t.Errorf("second = %+v, want the remove of 1-2", ev)
	}
}

// TestDescribeFails: a device gone before it could be described still yields
// a record with what the event knew.
func TestDescribeFails(t *testing.T) {
	f := newFake()
	r := start(t, f, audit, nil)
	r.send(osVolumes, wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sde", VID: "abcd", PID: "0001"}, nil)
	ev := r.next()
	if ev.Action != wire.MediaAdd || ev.Device.Name != "sde" || ev.Device.VID != "abcd" || !strings.Contains(strings.Join(ev.Device.Unknown, ";"), "no such device") {
		t.Errorf("add = %+v, want sde with the event's identity and the describe error", ev)
	}
}

// TestVanishingVolume: a volume whose reads fail half way is reported with
// the failure, not a crash.
func TestVanishingVolume(t *testing.T) {
	f := newFake()
	img := fatImage(t, "NK-0005", map[string]string{"SONEVAKT.TXT": "id=NK-0005\n"})
	f.devices["sdf"] = wire.MediaDevice{Class: wire.MediaUSBStorage, Name: "sdf", Volumes: []wire.MediaVolume{{Name: "sdf"}}}
	f.mu.Lock()
	f.volumes["sdf"], f.sizes["sdf"] = &vanishing{r: bytes.NewReader(img), after: 512}, int64(len(img))
	f.mu.Unlock()
	r := start(t, f, wire.MediaPolicy{LabelPattern: "NK-*", MarkerFile: "SONEVAKT.TXT"}, nil)
	r.send(osVolumes, wire.MediaDevice{Name: "sdf"}, nil)
	ev := r.next()
	v := ev.Device.Volumes[0]
	if ev.Action != wire.MediaAdd || v.MarkingChecked || !strings.Contains(strings.Join(v.Problems, ";"), "no such device") {
		t.Errorf("add = %+v, want sdf with the read failure in its problems and the marking unchecked", ev)
	}
}

// vanishing reads like r for the first reads, then fails as a pulled
// device does.
type vanishing struct {
	r     io.ReaderAt
	after int64 // bytes read before the device goes
	mu    sync.Mutex
	read  int64
}

func (v *vanishing) ReadAt(p []byte, off int64) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.read >= v.after {
		return 0, errors.New("read: no such device")
	}
	v.read += int64(len(p))
	return v.r.ReadAt(p, off)
}

// TestWatchFails: a platform that stops watching stops the sensor with its
// error, and the platform is closed.
func TestWatchFails(t *testing.T) {
	f := newFake()
	s := newSensor(sensor.Env{}, f)
	f.watchErr <- errors.New("uevent socket gone")
	err := s.Run(context.Background(), func(wire.Record) {})
	if err == nil || !strings.Contains(err.Error(), "uevent socket gone") {
		t.Errorf("Run = %v, want the watch error", err)
	}
	if !f.closed.Load() {
		t.Error("platform not closed after Run")
	}
}

// TestInvalidPolicy: a policy that does not validate counts as audit.
func TestInvalidPolicy(t *testing.T) {
	f := newFake()
	f.scan = []wire.MediaDevice{{Class: wire.MediaUSBStorage, Name: "sdg"}}
	r := start(t, f, wire.MediaPolicy{Mode: "deny-everything"}, nil)
	if ev := r.next(); *ev.Decision != auditAllow {
		t.Errorf("decision %+v under an invalid policy, want %+v", ev.Decision, auditAllow)
	}
}

func TestOptions(t *testing.T) {
	for _, c := range []struct {
		opts    map[string]string
		want    platformOptions
		wantErr string
	}{
		{nil, platformOptions{}, ""},
		{map[string]string{"include_loop": "true", "sysfs": "/srv/sys"}, platformOptions{IncludeLoop: true, SysRoot: "/srv/sys"}, ""},
		{map[string]string{"include_loop": "false"}, platformOptions{}, ""},
		{map[string]string{"include_loop": "ja"}, platformOptions{}, `include_loop "ja"`},
		{map[string]string{"sysfs": " "}, platformOptions{}, "sysfs"},
		{map[string]string{"include_loops": "true"}, platformOptions{}, `"include_loops" unknown`},
	} {
		got, err := parseOptions(c.opts)
		switch {
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("parseOptions(%v) error = %v, want one containing %q", c.opts, err, c.wantErr)
		case c.wantErr == "" && (err != nil || got != c.want):
			t.Errorf("parseOptions(%v) = %+v, %v; want %+v", c.opts, got, err, c.want)
		}
	}
	if _, err := New(sensor.Env{Options: map[string]string{"bogus": "1"}}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("New with an unknown option: error = %v, want one naming it", err)
	}
	if r, ok := sensor.Lookup("media"); !ok || !r.DefaultEnabled {
		t.Errorf("sensor media registered = %v, default enabled = %v; want both", ok, r.DefaultEnabled)
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		if _, err := New(sensor.Env{}); err == nil || !strings.Contains(err.Error(), runtime.GOOS) {
			t.Errorf("New on %s: error = %v, want one naming the OS", runtime.GOOS, err)
		}
	}
}
