package uevent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// need skips a test that needs what this machine lacks; under CI=true that
// is a failure, so CI always runs the real kernel path.
func need(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run under CI: %s", why)
	}
	t.Skip(why)
}

// TestKernelLoopDevice: a loop device backed by an image file; "add" and
// "remove" are triggered through its sysfs uevent file, and the listener
// receives and parses the real kernel messages.
func TestKernelLoopDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		need(t, "needs root to attach a loop device")
	}
	losetup, err := exec.LookPath("losetup")
	if err != nil {
		need(t, "losetup missing: install Debian package mount")
	}
	img := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(losetup, "--find", "--show", img).CombinedOutput()
	if err != nil {
		need(t, "losetup: "+strings.TrimSpace(string(out)))
	}
	dev := filepath.Base(strings.TrimSpace(string(out)))
	t.Cleanup(func() { _ = exec.Command(losetup, "--detach", "/dev/"+dev).Run() })

	l, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, action := range []string{"add", "remove"} {
		if err := os.WriteFile("/sys/block/"+dev+"/uevent", []byte(action), 0o200); err != nil {
			t.Fatalf("trigger %s on %s: %v", action, dev, err)
		}
		for {
			ev, err := l.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for %s of %s: %v", action, dev, err)
			}
			if ev.DevName != dev {
				continue // another device's event
			}
			if ev.Action != action || ev.Subsystem != "block" || ev.DevType != "disk" || ev.Seq == 0 || !strings.HasSuffix(ev.DevPath, "/block/"+dev) {
				t.Errorf("event for %s = %+v, want %s of a block disk with a SEQNUM", dev, ev, action)
			}
			break
		}
	}
	cancel()
	if _, err := l.Next(ctx); err == nil {
		t.Error("Next after cancel returned an event, want the context's error")
	}
}
