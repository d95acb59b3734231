package media

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// needLoop skips unless this machine can attach loop devices (under CI=true
// it fails instead), and returns the path of losetup.
func needLoop(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		need(t, "needs root to attach loop devices")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		need(t, "no loop devices: "+err.Error())
	}
	return needTool(t, "losetup", "mount")
}

// scanned is the real platform that says when its first Scan is done, so a
// test attaches its medium only once the sensor watches.
type scanned struct {
	*linuxPlatform
	done chan struct{}
}

func (s *scanned) Scan() ([]wire.MediaDevice, error) {
	defer close(s.done)
	return s.linuxPlatform.Scan()
}

// kernelRun is the sensor on the real Linux platform, with loop devices.
type kernelRun struct {
	t       *testing.T
	records chan wire.MediaEvent
}

func startKernel(t *testing.T, p wire.MediaPolicy) *kernelRun {
	t.Helper()
	pl, err := newPlatform(platformOptions{IncludeLoop: true})
	if err != nil {
		t.Fatal(err)
	}
	plat := &scanned{linuxPlatform: pl.(*linuxPlatform), done: make(chan struct{})}
	s := newSensor(sensor.Env{Policy: func() wire.Policy { return wire.Policy{Media: &p} }}, plat)
	r := &kernelRun{t: t, records: make(chan wire.MediaEvent, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(rec wire.Record) {
			var ev wire.MediaEvent
			if err := rec.DecodeBody(&ev); err != nil {
				t.Error(err)
			}
			r.records <- ev
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	})
	select {
	case <-plat.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the sensor did not list the media within 10 s")
	}
	return r
}

// wait returns the first record of action about the medium backed by img.
func (r *kernelRun) wait(action, img string, within time.Duration) wire.MediaEvent {
	r.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-r.records:
			if ev.Action == action && ev.Device.Serial == img {
				return ev
			}
		case <-deadline:
			r.t.Fatalf("no %s record of %s within %v", action, img, within)
			return wire.MediaEvent{}
		}
	}
}

// imageFile makes an image of 8 MiB with mkfs, which is given the path last.
func imageFile(t *testing.T, mkfs, pkg string, args ...string) string {
	t.Helper()
	tool := needTool(t, mkfs, pkg)
	img := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 8<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tool, append(args, img)...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", mkfs, args, err, out)
	}
	return img
}

// attachLoop attaches img to a free loop device and detaches it at the end
// of the test if it still holds img.
func attachLoop(t *testing.T, losetup, img string) string {
	t.Helper()
	out, err := exec.Command(losetup, "-f", "--show", img).CombinedOutput()
	if err != nil {
		need(t, "losetup: "+strings.TrimSpace(string(out)))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if backing(dev) == img {
			_ = exec.Command(losetup, "-d", dev).Run()
		}
	})
	return dev
}

// backing returns the backing file of loop device dev, "" when detached.
func backing(dev string) string {
	b, _ := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file"))
	return strings.TrimSpace(string(b))
}

// TestKernelLoopAudit: a FAT image attached to a loop device is reported
// within 2 s with its label marking and the audit decision; its detach is a
// remove.
func TestKernelLoopAudit(t *testing.T) {
	losetup := needLoop(t)
	img := imageFile(t, "mkfs.vfat", "dosfstools", "-n", "NK-0042")
	r := startKernel(t, wire.MediaPolicy{Mode: wire.MediaModeAudit, LabelPattern: "NK-*"})

	dev := attachLoop(t, losetup, img)
	ev := r.wait(wire.MediaAdd, img, 2*time.Second)
	if ev.Device.Class != wire.MediaLoop || ev.Device.Name != filepath.Base(dev) || ev.Device.SizeBytes != 8<<20 {
		t.Errorf("add device = %+v, want class loop, name %s, 8 MiB", ev.Device, filepath.Base(dev))
	}
	if ev.Decision == nil || *ev.Decision != auditAllow {
		t.Errorf("decision %+v, want %+v", ev.Decision, auditAllow)
	}
	if len(ev.Device.Volumes) != 1 {
		t.Fatalf("volumes %+v, want the whole device", ev.Device.Volumes)
	}
	v := ev.Device.Volumes[0]
	if v.FSType != "vfat" || v.Label != "NK-0042" || v.Encrypted != "no" || !v.MarkingChecked ||
		v.Marking == nil || *v.Marking != (wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042"}) {
		t.Errorf("volume %+v (marking %+v), want vfat NK-0042 marked by its label", v, v.Marking)
	}

	if out, err := exec.Command(losetup, "-d", dev).CombinedOutput(); err != nil {
		t.Fatalf("losetup -d %s: %v: %s", dev, err, out)
	}
	if ev := r.wait(wire.MediaRemove, img, 2*time.Second); ev.Device.Name != filepath.Base(dev) {
		t.Errorf("remove device = %+v, want %s", ev.Device, filepath.Base(dev))
	}
}

// TestKernelLoopBlock: in block mode with an empty register the sensor
// detaches the loop device on arrival, and says so.
func TestKernelLoopBlock(t *testing.T) {
	losetup := needLoop(t)
	img := imageFile(t, "mkfs.vfat", "dosfstools", "-n", "NK-0001")
	r := startKernel(t, wire.MediaPolicy{Mode: wire.MediaModeBlock, LabelPattern: "NK-*"})

	dev := attachLoop(t, losetup, img)
	ev := r.wait(wire.MediaAdd, img, 2*time.Second)
	want := wire.MediaDecision{Verdict: wire.VerdictBlock, Rule: wire.MediaRuleBlockDefault, Mode: wire.MediaModeBlock, Enforced: true}
	if ev.Decision == nil || *ev.Decision != want {
		t.Errorf("decision %+v, want %+v", ev.Decision, want)
	}
	if len(ev.Device.Volumes) != 0 {
		t.Errorf("volumes %+v of a blocked medium, want none read", ev.Device.Volumes)
	}
	if b := backing(dev); b != "" {
		t.Errorf("%s still backed by %q after the block", dev, b)
	}
	r.wait(wire.MediaRemove, img, 2*time.Second)
}

// TestKernelMount: an ext4 volume's marker file cannot be read raw; once the
// volume is mounted the sensor reads it through the mount point and reports
// the mount, and the unmount.
func TestKernelMount(t *testing.T) {
	losetup := needLoop(t)
	mount := needTool(t, "mount", "mount")
	umount := needTool(t, "umount", "mount")
	content := t.TempDir()
	if err := os.WriteFile(filepath.Join(content, "SONEVAKT.TXT"), []byte("id=NK-0099\nclassification=fortrolig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img := imageFile(t, "mkfs.ext4", "e2fsprogs", "-q", "-F", "-L", "DATA", "-d", content)
	r := startKernel(t, wire.MediaPolicy{Mode: wire.MediaModeAudit, LabelPattern: "NK-*", MarkerFile: "SONEVAKT.TXT"})

	dev := attachLoop(t, losetup, img)
	ev := r.wait(wire.MediaAdd, img, 2*time.Second)
	if v := ev.Device.Volumes; len(v) != 1 || v[0].FSType != "ext4" || v[0].Label != "DATA" || v[0].MarkingChecked || v[0].Marking != nil {
		t.Fatalf("volumes %+v, want ext4 DATA with its marking not yet checked", v)
	}

	point := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(point, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mount, "-o", "ro", dev, point).CombinedOutput(); err != nil {
		need(t, "mount ext4: "+strings.TrimSpace(string(out)))
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			_ = exec.Command(umount, point).Run()
		}
	})
	ev = r.wait(wire.MediaMount, img, 2*time.Second)
	if ev.Mount == nil || ev.Mount.Volume != filepath.Base(dev) || ev.Mount.Point != point || ev.Mount.FSType != "ext4" || !ev.Mount.ReadOnly {
		t.Errorf("mount %+v, want %s read-only at %s", ev.Mount, filepath.Base(dev), point)
	}
	v := ev.Device.Volumes[0]
	if !v.MarkingChecked || v.MountPoint != point || v.Marking == nil ||
		*v.Marking != (wire.MediaMarking{Source: wire.MarkingFile, ID: "NK-0099", Classification: "fortrolig"}) {
		t.Errorf("mounted volume %+v (marking %+v), want the marker file's marking, checked", v, v.Marking)
	}

	if out, err := exec.Command(umount, point).CombinedOutput(); err != nil {
		t.Fatalf("umount: %v: %s", err, out)
	}
	mounted = false
	if ev := r.wait(wire.MediaUnmount, img, 2*time.Second); ev.Mount == nil || ev.Mount.Point != point || ev.Device.Volumes[0].MountPoint != "" {
		t.Errorf("unmount %+v (mount %+v), want %s unmounted", ev, ev.Mount, point)
	}
}
