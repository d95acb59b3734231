package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/internal/ttar"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// need skips a test that needs what this machine lacks; under CI=true that
// is a failure, so CI always runs it.
func need(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("cannot run under CI: %s", why)
	}
	t.Skip(why)
}

func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		need(t, tool+" missing: install Debian package "+pkg)
	}
	return p
}

// agent runs the command line in-process and returns its output and error.
func agent(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// fatImage makes a 4 MiB FAT image labelled label holding files at its root.
func fatImage(t *testing.T, label string, files map[string]string) string {
	t.Helper()
	mkfs := needTool(t, "mkfs.vfat", "dosfstools")
	dir := t.TempDir()
	img := filepath.Join(dir, "stick.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 4<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-n", label, "-i", "1234ABCD", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v: %s", err, out)
	}
	for name, content := range files {
		mcopy := needTool(t, "mcopy", "mtools")
		src := filepath.Join(dir, name)
		if err := os.WriteFile(src, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(mcopy, "-i", img, src, "::/"+name)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("mcopy: %v: %s", err, out)
		}
	}
	return img
}

func TestMediaProbe(t *testing.T) {
	img := fatImage(t, "NK-0042", nil)
	out, _, err := agent("media", "probe", img, "--label-pattern", "NK-*", "--json")
	if err != nil {
		t.Fatalf("media probe --json: %v", err)
	}
	var v wire.MediaVolume
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("media probe --json output %q: %v", out, err)
	}
	want := wire.MediaVolume{Name: img, SizeBytes: 4 << 20, FSType: "vfat", Label: "NK-0042", UUID: "1234-ABCD", Encrypted: "no",
		Marking: &wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042"}, MarkingChecked: true}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("media probe --json = %+v, want %+v", v, want)
	}

	// Text, flags before the file; a marker file wins over the label.
	marked := fatImage(t, "PRIVATE", map[string]string{"SONEVAKT.TXT": "id=NK-0100\nclassification=fortrolig\n"})
	out, _, err = agent("media", "probe", "--marker-file", "SONEVAKT.TXT", "--label-pattern", "NK-*", marked)
	if err != nil {
		t.Fatalf("media probe: %v", err)
	}
	for _, line := range []string{
		"file:        " + marked + "\n",
		"size:        4.2 MB (4194304 bytes)\n",
		"type:        vfat\n",
		"label:       PRIVATE\n",
		"uuid:        1234-ABCD\n",
		"encrypted:   no\n",
		"encryption:  -\n",
		"marking:     file NK-0100 (fortrolig)\n",
		"problems:    none\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("media probe output lacks %q:\n%s", line, out)
		}
	}

	// Nothing recognisable: no marking, and the problem said.
	blank := filepath.Join(t.TempDir(), "blank.img")
	if err := os.WriteFile(blank, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err = agent("media", "probe", blank, "--label-pattern", "NK-*")
	if err != nil || !strings.Contains(out, "type:        -\n") || !strings.Contains(out, "marking:     none\n") ||
		!strings.Contains(out, "problems:    no known filesystem signature") {
		t.Errorf("media probe of zeros = %v:\n%s", err, out)
	}
}

// TestMediaUsage: bad usage and unreadable files exit 2 with a message
// naming what is wrong.
func TestMediaUsage(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "x.img")
	if err := os.WriteFile(img, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"media"}, "media needs scan or probe"},
		{[]string{"media", "eject"}, `unknown media command "eject"`},
		{[]string{"media", "probe"}, "needs one FILE"},
		{[]string{"media", "probe", img, img}, "needs one FILE"},
		{[]string{"media", "probe", filepath.Join(dir, "missing.img")}, "missing.img: no such file or directory"},
		{[]string{"media", "probe", dir}, dir + ": is a directory"},
		{[]string{"media", "probe", img, "--label-pattern", "NK-["}, `label pattern "NK-["`},
		{[]string{"media", "probe", img, "--marker-file", "../etc/passwd"}, "marker file"},
		{[]string{"media", "probe", img, "--bogus"}, "bogus"},
		{[]string{"media", "scan", "--sysfs", filepath.Join(dir, "nowhere")}, "nowhere: not a directory"},
		{[]string{"media", "scan", "extra"}, `unexpected argument "extra"`},
	} {
		_, _, err := agent(c.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
	if os.Geteuid() != 0 && runtime.GOOS != "windows" {
		locked := filepath.Join(dir, "locked.img")
		if err := os.WriteFile(locked, nil, 0o000); err != nil {
			t.Fatal(err)
		}
		if _, _, err := agent("media", "probe", locked); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("probe of an unreadable file: %v, want a usage error saying permission denied", err)
		}
	}
	for _, args := range [][]string{{"media", "--help"}, {"media", "scan", "--help"}, {"media", "probe", "--help"}} {
		if _, _, err := agent(args...); err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v, want help", args, err)
		}
	}
}

// stickSys writes a sysfs tree holding a USB stick (sdb, two partitions),
// a SATA disk and an SD card.
func stickSys(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	usb := "devices/pci0000:00/0000:00:14.0/usb1/1-2"
	sdb := usb + "/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
	sda := "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"
	card := "devices/platform/soc/fe320000.mmc/mmc_host/mmc0/mmc0:aaaa"
	for p, c := range map[string]string{
		usb + "/idVendor":            "0781\n",
		usb + "/idProduct":           "5583\n",
		usb + "/manufacturer":        "SanDisk\n",
		usb + "/product":             "Ultra Fit\n",
		usb + "/serial":              "4C530001230608117364\n",
		sdb + "/size":                "60063744\n",
		sdb + "/removable":           "1\n",
		sdb + "/sdb1/partition":      "1\n",
		sdb + "/sdb1/size":           "60061696\n",
		sdb + "/sdb2/partition":      "2\n",
		sdb + "/sdb2/size":           "2048\n",
		sda + "/size":                "1000215216\n",
		sda + "/sda1/partition":      "1\n",
		card + "/name":               "SD64G\n",
		card + "/serial":             "0x1a2b3c4d\n",
		card + "/block/mmcblk0/size": "124735488\n",
	} {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range map[string]string{
		"class/block/sdb":     "../../" + sdb,
		"class/block/sdb1":    "../../" + sdb + "/sdb1",
		"class/block/sdb2":    "../../" + sdb + "/sdb2",
		"class/block/sda":     "../../" + sda,
		"class/block/mmcblk0": "../../" + card + "/block/mmcblk0",
	} {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			need(t, "symlinks unavailable: "+err.Error())
		}
	}
	return root
}

// TestMediaScanSysfs: the media of a sysfs tree are listed with identity
// and partitions; the golden file holds the text (go test -update rewrites
// it).
func TestMediaScanSysfs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sysfs trees are read on Linux only")
	}
	sys := stickSys(t)
	out, _, err := agent("media", "scan", "--sysfs", sys)
	if err != nil {
		t.Fatalf("media scan --sysfs: %v", err)
	}
	golden := filepath.Join("testdata", "media-scan-sysfs.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("media scan --sysfs output:\n%s\nwant (%s):\n%s", out, golden, want)
	}

	out, _, err = agent("media", "scan", "--sysfs", sys, "--json")
	if err != nil {
		t.Fatalf("media scan --sysfs --json: %v", err)
	}
	var got struct {
		Devices []wire.MediaDevice `json:"devices"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("media scan --json output %q: %v", out, err)
	}
	var names []string
	for _, d := range got.Devices {
		names = append(names, d.Name+"/"+d.Class)
	}
	if want := []string{"mmcblk0/memory-card", "sdb/usb-storage"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("media scan --json devices %q, want %q", names, want)
	}
	sdb := got.Devices[1]
	if sdb.Key() != "0781:5583:4C530001230608117364" || len(sdb.Volumes) != 2 || sdb.Volumes[0].Name != "sdb1" ||
		sdb.Volumes[0].SizeBytes != 60061696*512 || sdb.Volumes[0].FSType != "" || sdb.Volumes[0].Encrypted != "unknown" {
		t.Errorf("sdb = %+v, want its identity and two partitions, facts not read", sdb)
	}
}

// TestMediaScanFixtures: the sysfs trees of real servers hold no removable
// media.
func TestMediaScanFixtures(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sysfs trees are read on Linux only")
	}
	for _, c := range []struct{ archive, strip string }{
		{"node_exporter_sys.ttar", "sys/"},
		{"procfs_fixtures.ttar", "fixtures/sys/"},
	} {
		root := t.TempDir()
		ttar.Unpack(t, filepath.Join("..", "..", "internal", "sensor", "media", "classify", "testdata", c.archive), root, func(p string) string {
			rest, ok := strings.CutPrefix(p, c.strip)
			if !ok {
				return ""
			}
			for _, keep := range []string{"block", "class/block", "devices"} {
				if rest == keep || strings.HasPrefix(rest, keep+"/") {
					return rest
				}
			}
			return ""
		})
		out, _, err := agent("media", "scan", "--sysfs", root)
		if err != nil || out != "no removable media attached\n" {
			t.Errorf("media scan of %s = %v, %q; want no media", c.archive, err, out)
		}
		out, _, err = agent("media", "scan", "--sysfs", root, "--json")
		if err != nil || strings.Join(strings.Fields(out), "") != `{"devices":[]}` {
			t.Errorf("media scan --json of %s = %v, %q; want an empty list", c.archive, err, out)
		}
	}
}

// TestMediaScanLive: a FAT image on a loop device is listed with its facts
// and marking by a scan of this machine.
func TestMediaScanLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("loop devices are Linux's")
	}
	if os.Geteuid() != 0 {
		need(t, "needs root to attach a loop device")
	}
	losetup := needTool(t, "losetup", "mount")
	img := fatImage(t, "NK-0042", nil)
	b, err := exec.Command(losetup, "-f", "--show", img).CombinedOutput()
	if err != nil {
		need(t, "losetup: "+strings.TrimSpace(string(b)))
	}
	dev := strings.TrimSpace(string(b))
	t.Cleanup(func() { _ = exec.Command(losetup, "-d", dev).Run() })

	out, _, err := agent("media", "scan", "--include-loop", "--label-pattern", "NK-*", "--json")
	if err != nil {
		t.Fatalf("media scan: %v", err)
	}
	var got struct {
		Devices []wire.MediaDevice `json:"devices"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, d := range got.Devices {
		if d.Serial != img {
			continue
		}
		if d.Class != wire.MediaLoop || len(d.Volumes) != 1 || d.Volumes[0].Label != "NK-0042" || d.Volumes[0].FSType != "vfat" ||
			d.Volumes[0].Marking == nil || d.Volumes[0].Marking.ID != "NK-0042" {
			t.Errorf("loop device %+v, want class loop with vfat NK-0042 marked", d)
		}
		out, _, err := agent("media", "scan", "--include-loop", "--label-pattern", "NK-*")
		if err != nil || !strings.Contains(out, img) || !strings.Contains(out, "label NK-0042") {
			t.Errorf("media scan text = %v:\n%s\nwant %s with its marking", err, out, img)
		}
		return
	}
	t.Fatalf("media scan --include-loop lists no device backed by %s: %s", img, out)
}
