package classify

import (
	"errors"
	"github.com/sonevakt/sonevakt/internal/ttar"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// fixtureRoot unpacks the parts of a testdata archive below the prefixes in
// keep into a new sysfs root, dropping prefix strip from each path.
func fixtureRoot(t *testing.T, archive, strip string, keep ...string) string {
	t.Helper()
	root := t.TempDir()
	ttar.Unpack(t, filepath.Join("testdata", archive), root, func(p string) string {
		for _, k := range keep {
			if rest, ok := strings.CutPrefix(p, strip+k); ok && (rest == "" || rest[0] == '/') {
				return k + rest
			}
		}
		return ""
	})
	return root
}

// fakeSys writes files (path → content) below a new root and makes the
// symlinks (path → target).
func fakeSys(t *testing.T, files, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		if dir, ok := strings.CutSuffix(p, "/"); ok {
			if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(dir)), 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		p = filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.FromSlash(target), p); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	return root
}

const (
	usbDev   = "devices/pci0000:00/0000:00:14.0/usb1/1-2"
	stickDir = usbDev + "/1-2:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
	cdDev    = "devices/pci0000:00/0000:00:14.0/usb2/2-1"
	cdDir    = cdDev + "/2-1:1.0/host7/target7:0:0/7:0:0:0/block/sr0"
	cardDev  = "devices/platform/soc/fe320000.mmc/mmc_host/mmc0/mmc0:aaaa"
	cardDir  = cardDev + "/block/mmcblk0"
	diskDir  = "devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"
)

// removableSys is a tree shaped as a laptop's /sys with a USB stick (sdb,
// two partitions), a USB CD-ROM (sr0), an SD card (mmcblk0), a SATA disk
// and a loop device.
func removableSys(t *testing.T) string {
	return fakeSys(t, map[string]string{
		usbDev + "/idVendor":                                 "0781\n",
		usbDev + "/idProduct":                                "5583\n",
		usbDev + "/manufacturer":                             " SanDisk\n",
		usbDev + "/product":                                  "Ultra Fit\n",
		usbDev + "/serial":                                   "4C530001230608117364\n",
		"devices/pci0000:00/0000:00:14.0/usb1/idVendor":      "1d6b\n",
		"devices/pci0000:00/0000:00:14.0/usb1/idProduct":     "0002\n",
		usbDev + "/1-2:1.0/bInterfaceClass":                  "08\n",
		usbDev + "/1-2:1.0/host6/target6:0:0/6:0:0:0/vendor": "SanDisk \n",
		usbDev + "/1-2:1.0/host6/target6:0:0/6:0:0:0/model":  "Ultra Fit       \n",
		usbDev + "/1-2:1.0/host6/target6:0:0/6:0:0:0/type":   "0\n",
		stickDir + "/size":                                   "60063744\n",
		stickDir + "/removable":                              "1\n",
		stickDir + "/sdb1/partition":                         "1\n",
		stickDir + "/sdb1/size":                              "2048\n",
		stickDir + "/sdb2/partition":                         "2\n",
		stickDir + "/queue/":                                 "",
		cdDev + "/idVendor":                                  "0E8D\n",
		cdDev + "/idProduct":                                 "1806\n",
		cdDev + "/2-1:1.0/host7/target7:0:0/7:0:0:0/vendor":  "TSSTcorp\n",
		cdDev + "/2-1:1.0/host7/target7:0:0/7:0:0:0/model":   "CDDVDW SE-208GB \n",
		cdDev + "/2-1:1.0/host7/target7:0:0/7:0:0:0/type":    "5\n",
		cdDir + "/size":                                      "0\n",
		cdDir + "/removable":                                 "1\n",
		cardDev + "/name":                                    "SD64G\n",
		cardDev + "/serial":                                  "0x1a2b3c4d\n",
		cardDev + "/type":                                    "SD\n",
		cardDir + "/size":                                    "124735488\n",
		cardDir + "/removable":                               "0\n",
		cardDir + "/mmcblk0p1/partition":                     "1\n",
		diskDir + "/size":                                    "1000215216\n",
		diskDir + "/removable":                               "0\n",
		diskDir + "/sda1/partition":                          "1\n",
		"devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/vendor": "ATA     \n",
		"devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/model":  "Samsung SSD 860\n",
		"devices/virtual/block/loop0/size":                                      "0\n",
	}, map[string]string{
		"class/block/sdb":       "../../" + stickDir,
		"class/block/sdb1":      "../../" + stickDir + "/sdb1",
		"class/block/sdb2":      "../../" + stickDir + "/sdb2",
		"class/block/sr0":       "../../" + cdDir,
		"class/block/mmcblk0":   "../../" + cardDir,
		"class/block/mmcblk0p1": "../../" + cardDir + "/mmcblk0p1",
		"class/block/sda":       "../../" + diskDir,
		"class/block/sda1":      "../../" + diskDir + "/sda1",
		"class/block/loop0":     "../../devices/virtual/block/loop0",
		"class/block/dangling":  "../../devices/nowhere",
		"block/sdb":             "../" + stickDir,
		stickDir + "/device":    "../../../6:0:0:0", // as the kernel links it
	})
}

var (
	wantStick = Device{
		Name: "sdb", Kind: KindUSBStorage, Bus: "usb", VID: "0781", PID: "5583",
		Vendor: "SanDisk", Product: "Ultra Fit", Serial: "4C530001230608117364",
		SizeBytes: 60063744 * 512, Removable: true, USBPath: "1-2",
		Partitions: []string{"sdb1", "sdb2"}, DevPath: "/" + stickDir,
	}
	wantCD = Device{
		Name: "sr0", Kind: KindOptical, Bus: "usb", VID: "0e8d", PID: "1806",
		Vendor: "TSSTcorp", Product: "CDDVDW SE-208GB", Removable: true, USBPath: "2-1",
		DevPath: "/" + cdDir,
	}
	wantCard = Device{
		Name: "mmcblk0", Kind: KindMemoryCard, Bus: "mmc", Product: "SD64G", Serial: "0x1a2b3c4d",
		SizeBytes: 124735488 * 512, Removable: true, Partitions: []string{"mmcblk0p1"}, DevPath: "/" + cardDir,
	}
	wantDisk = Device{
		Name: "sda", Kind: KindFixed, Bus: "ata", Vendor: "ATA", Product: "Samsung SSD 860",
		SizeBytes: 1000215216 * 512, Partitions: []string{"sda1"}, DevPath: "/" + diskDir,
	}
)

func TestScan(t *testing.T) {
	root := removableSys(t)
	got, err := Scan(root)
	if err != nil {
		t.Fatalf("Scan = %v", err)
	}
	want := []Device{wantCard, wantDisk, wantStick, wantCD}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Scan =\n%+v\nwant\n%+v", got, want)
	}
}

func TestByDevPath(t *testing.T) {
	root := removableSys(t)
	for _, c := range []struct {
		devpath string
		want    Device
	}{
		{"/" + stickDir, wantStick},
		{"/" + stickDir + "/sdb2", wantStick}, // a partition's uevent
		{"/class/block/sdb", wantStick},
		{"/" + cdDir, wantCD},
		{"/" + cardDir, wantCard},
		{"/" + diskDir, wantDisk},
	} {
		got, err := ByDevPath(root, c.devpath)
		if err != nil {
			t.Errorf("ByDevPath(%q) error = %v", c.devpath, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ByDevPath(%q) =\n%+v\nwant\n%+v", c.devpath, got, c.want)
		}
	}
	for _, devpath := range []string{"/devices/nowhere/block/sdz", "/class/block/dangling", "/" + usbDev} {
		if d, err := ByDevPath(root, devpath); err == nil {
			t.Errorf("ByDevPath(%q) = %+v, want an error", devpath, d)
		}
	}
	if _, err := ByDevPath(root, "/"+usbDev); !errors.Is(err, ErrNotBlock) {
		t.Errorf("ByDevPath(%q) error = %v, want ErrNotBlock", "/"+usbDev, err)
	}
}

func TestScanOddTrees(t *testing.T) {
	if _, err := Scan(t.TempDir()); err == nil {
		t.Errorf("Scan(empty dir) error = nil, want one")
	}
	// A USB device with no attributes but its IDs, a block directory with
	// no attributes at all.
	root := fakeSys(t, map[string]string{
		"devices/usb1/1-1/idVendor":               "abcd",
		"devices/usb1/1-1/idProduct":              "EF01",
		"devices/usb1/1-1/1-1:1.0/block/sdc/size": "garbage",
		"block/sdd/": "",
	}, map[string]string{"block/sdc": "../devices/usb1/1-1/1-1:1.0/block/sdc"})
	got, err := Scan(root)
	if err != nil {
		t.Fatalf("Scan = %v", err)
	}
	want := []Device{
		{Name: "sdc", Kind: KindUSBStorage, Bus: "usb", VID: "abcd", PID: "ef01", Removable: true, USBPath: "1-1",
			DevPath: "/devices/usb1/1-1/1-1:1.0/block/sdc"},
		{Name: "sdd", Kind: KindFixed, DevPath: "/block/sdd"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Scan =\n%+v\nwant\n%+v", got, want)
	}
}

// TestFixtureDisksFixed: every disk of real servers' sysfs trees (SATA, SAS,
// bare sys/block directories) is fixed.
func TestFixtureDisksFixed(t *testing.T) {
	for _, c := range []struct {
		name, archive, strip string
		devpaths             map[string]string // devpath → bus
		scanned              []string
	}{
		{
			name: "node_exporter", archive: "node_exporter_sys.ttar", strip: "sys/",
			devpaths: map[string]string{
				"/devices/pci0000:00/0000:00:0d.0/ata4/host3/target3:0:0/3:0:0:0/block/sdb": "ata",
				"/devices/pci0000:00/0000:00:0d.0/ata5/host4/target4:0:0/4:0:0:0/block/sdc": "ata",
			},
			scanned: []string{"sda", "sdi", "sdj", "sdk", "sdl", "sdm", "sdn"},
		},
		{
			name: "procfs", archive: "procfs_fixtures.ttar", strip: "fixtures/sys/",
			devpaths: map[string]string{
				"/devices/pci0000:00/0000:00:0d.0/ata4/host3/target3:0:0/3:0:0:0/block/sdb":                                                                  "ata",
				"/devices/pci0000:00/0000:00:03.0/0000:03:00.0/host11/port-11:0/expander-11:0/port-11:0:0/end_device-11:0:0/target11:0:7/11:0:7:0/block/sdv": "scsi",
			},
			scanned: []string{"sda", "sdb", "sdc", "sdd", "sde"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := fixtureRoot(t, c.archive, c.strip, "block", "class/block", "devices")
			devs, err := Scan(root)
			if err != nil {
				t.Fatalf("Scan = %v", err)
			}
			var names []string
			for _, d := range devs {
				names = append(names, d.Name)
				if d.Kind != KindFixed || d.Removable {
					t.Errorf("Scan: %s is %s (removable %v), want fixed", d.Name, d.Kind, d.Removable)
				}
			}
			if !reflect.DeepEqual(names, c.scanned) {
				t.Errorf("Scan names = %q, want %q", names, c.scanned)
			}
			for devpath, bus := range c.devpaths {
				d, err := ByDevPath(root, devpath)
				if err != nil {
					t.Errorf("ByDevPath(%q) error = %v", devpath, err)
					continue
				}
				if d.Kind != KindFixed || d.Removable || d.Bus != bus || d.VID != "" || d.USBPath != "" {
					t.Errorf("ByDevPath(%q) = %+v, want fixed on %s", devpath, d, bus)
				}
			}
		})
	}
}

// TestScanThisMachine reads this machine's /sys.
func TestScanThisMachine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sysfs is Linux only")
	}
	if _, err := os.Stat("/sys/class/block"); err != nil {
		t.Skipf("no sysfs: %v", err)
	}
	devs, err := Scan("/sys")
	if err != nil {
		t.Fatalf(`Scan("/sys") = %v`, err)
	}
	for _, d := range devs {
		t.Logf("%+v", d)
		if d.Name == "vda" && (d.Kind != KindFixed || d.Bus != "virtio") {
			t.Errorf(`Scan("/sys"): vda is %s on %q, want fixed on virtio`, d.Kind, d.Bus)
		}
		if strings.HasPrefix(d.Name, "loop") || strings.HasPrefix(d.Name, "zram") {
			t.Errorf(`Scan("/sys") lists %s, want virtual devices left out`, d.Name)
		}
	}
}

// TestEMMCIsFixed: an eMMC system disk (card type "MMC") is not a memory card.
func TestEMMCIsFixed(t *testing.T) {
	const emmc = "devices/platform/soc/fe330000.mmc/mmc_host/mmc1/mmc1:0001"
	root := fakeSys(t, map[string]string{
		emmc + "/name":                    "DA4064\n",
		emmc + "/type":                    "MMC\n",
		emmc + "/block/mmcblk1/size":      "122142720\n",
		emmc + "/block/mmcblk1/removable": "0\n",
	}, map[string]string{"class/block/mmcblk1": "../../" + emmc + "/block/mmcblk1"})
	devs, err := Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Kind != KindFixed || devs[0].Removable {
		t.Fatalf("Scan = %+v, want mmcblk1 as a fixed, non-removable disk", devs)
	}
}
