package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/sonevakt/sonevakt/internal/ttar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The Linux hardware section on real sysfs trees: the fixture trees of
// prometheus/node_exporter and prometheus/procfs (testdata/hardware, see
// SOURCES.md), unpacked to a temporary root.

// hwFixtureRoot unpacks the parts of a fixture archive below the paths in
// keep (archive prefix → path below the root) into a new root: the parts
// the code under test reads, for writing thousands of files is slow.
func hwFixtureRoot(t *testing.T, archive string, keep map[string]string) string {
	t.Helper()
	root := t.TempDir()
	ttar.Unpack(t, filepath.Join("testdata/hardware", archive), root, func(p string) string {
		for from, to := range keep {
			if rest, ok := strings.CutPrefix(p, from); ok && (rest == "" || rest[0] == '/') {
				return to + rest
			}
		}
		return ""
	})
	return root
}

func TestLinuxHardwareFixtures(t *testing.T) {
	for _, c := range []struct {
		name    string
		archive string
		keep    map[string]string
		want    *wire.Hardware
	}{
		{
			// sys/block holds md arrays, device-mapper devices (multipath,
			// LVM) and bare SCSI disk directories; only the disks count.
			name: "node_exporter", archive: "node_exporter_sys.ttar",
			keep: map[string]string{"sys/block": "sys/block", "sys/class/dmi": "sys/class/dmi", "sys/bus": "sys/bus"},
			want: &wire.Hardware{System: dellR6515, Disks: []wire.Disk{
				{Name: "sda"}, {Name: "sdi"}, {Name: "sdj"}, {Name: "sdk"}, {Name: "sdl"}, {Name: "sdm"}, {Name: "sdn"},
			}},
		},
		{
			// All disks fixed; sda has a size, dm-0…2 and md* are skipped.
			name: "procfs", archive: "procfs_fixtures.ttar",
			keep: map[string]string{"fixtures/sys/block": "sys/block", "fixtures/sys/class/dmi": "sys/class/dmi", "fixtures/sys/bus": "sys/bus",
				"fixtures/proc/self": "proc/self", "fixtures/proc/26231/mountinfo": "proc/26231/mountinfo"},
			want: &wire.Hardware{System: dellR6515, Disks: []wire.Disk{
				{Name: "sda", SizeBytes: 3750748848 * 512}, {Name: "sdb"}, {Name: "sdc"}, {Name: "sdd"}, {Name: "sde"},
			}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := hwFixtureRoot(t, c.archive, c.keep)
			var warnings []string
			got, err := linuxHardware(context.Background(), root, newUSBIDs(root), func(f string, a ...any) {
				warnings = append(warnings, fmt.Sprintf(f, a...))
			})
			if err != nil || len(warnings) > 0 {
				t.Errorf("linuxHardware(%s) error %v, warnings %q", c.archive, err, warnings)
			}
			if d := hwDiff(got, c.want); d != "" {
				t.Errorf("linuxHardware(%s) differs (-want +got):\n%s", c.archive, d)
			}
		})
	}
}

// The fixture trees keep disks below sys/devices that sys/block does not
// link to; read from their directories, they show what a full disk yields.
func TestLinuxDiskDirFixtures(t *testing.T) {
	for _, c := range []struct {
		name, archive string
		top, sub      string // the device's subtree: sub below the archive's top, which is the sys directory
		disk          string // the disk's directory below sub
		want          wire.Disk
	}{
		{
			// An NVMe namespace whose third partition is held by dm-0; the
			// fixture has no dm-0, so whether it encrypts cannot be told.
			name: "nvme0n1", archive: "node_exporter_sys.ttar", top: "sys",
			sub: "devices/pci0000:00/0000:00:02.1/0000:01:00.0/nvme/nvme0", disk: "nvme0n1",
			want: wire.Disk{Name: "nvme0n1", Model: "CT2000P3SSD8", Serial: "2328E6EDD8A7", SizeBytes: 3907029168 * 512, Bus: "nvme",
				Partitions: []wire.Partition{
					{Name: "nvme0n1p1", SizeBytes: 2201600 * 512},
					{Name: "nvme0n1p2", SizeBytes: 4194304 * 512},
					{Name: "nvme0n1p3", SizeBytes: 3900628992 * 512, Encryption: "unknown"},
				}},
		},
		{
			name: "sdb on ata4", archive: "node_exporter_sys.ttar", top: "sys",
			sub: "devices/pci0000:00/0000:00:0d.0/ata4", disk: "host3/target3:0:0/3:0:0:0/block/sdb",
			want: wire.Disk{Name: "sdb", Bus: "sata"},
		},
		{
			// A SATA Seagate behind a SAS expander: SCSI vendor "ATA".
			name: "sdv on SAS", archive: "procfs_fixtures.ttar", top: "fixtures/sys",
			sub:  "devices/pci0000:00/0000:00:03.0/0000:03:00.0/host11",
			disk: "port-11:0/expander-11:0/port-11:0:0/end_device-11:0:0/target11:0:7/11:0:7:0/block/sdv",
			want: wire.Disk{Name: "sdv", Model: "ST8000DM004-2CX1", Serial: "naa.5000c500b32d1a9c", SizeBytes: 15628053168 * 512, Bus: "sata"},
		},
		{
			name: "sdw on SAS", archive: "procfs_fixtures.ttar", top: "fixtures/sys",
			sub:  "devices/pci0000:00/0000:00:03.0/0000:03:00.0/host11",
			disk: "port-11:0/expander-11:0/port-11:0:1/end_device-11:0:1/target11:0:8/11:0:8:0/block/sdw",
			want: wire.Disk{Name: "sdw", Model: "HUH72808CLAR8000", Serial: "naa.5000cca26128b1f4", SizeBytes: 15628053168 * 512, Bus: "sas"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := hwFixtureRoot(t, c.archive, map[string]string{c.top + "/" + c.sub: "sys/" + c.sub})
			b := &blockReader{root: root, udevCache: map[string]map[string]string{}}
			dir := filepath.Join(root, "sys", c.sub, c.disk)
			got := b.disk(filepath.Base(c.disk), dir)
			if d := hwDiff(got, c.want); d != "" {
				t.Errorf("disk(%s) differs (-want +got):\n%s", c.disk, d)
			}
		})
	}
}

// sysTree writes a sysfs skeleton below a root.
type sysTree struct {
	t    *testing.T
	root string
}

func (s sysTree) file(path, content string) {
	s.t.Helper()
	p := filepath.Join(s.root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// link makes path a relative symlink to target, both below the root.
func (s sysTree) link(path, target string) {
	s.t.Helper()
	p := filepath.Join(s.root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Dir(p), filepath.Join(s.root, target))
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.Symlink(rel, p); err != nil {
		s.t.Fatal(err)
	}
}

// block writes a block device at sys/<dir> with its attributes; a disk
// (whole) also gets its sys/block link.
func (s sysTree) block(dir string, whole bool, attrs map[string]string) {
	s.t.Helper()
	for k, v := range attrs {
		s.file(filepath.Join("sys", dir, k), v)
	}
	if whole {
		s.link(filepath.Join("sys/block", filepath.Base(dir)), filepath.Join("sys", dir))
	}
}

// The udev database records of node_exporter_udev.ttar are real: a CD-ROM
// on usb-storage, an SD card, SATA disks, an NVMe disk whose LUKS2
// container holds LVM, a virtio disk. Sysfs has no matching fixture, so each
// case builds the skeleton its record describes (device path after ID_PATH,
// device numbers after the record's name); sizes and mounts are made up.
func TestLinuxDisksUdev(t *testing.T) {
	for _, c := range []struct {
		name  string
		build func(s sysTree)
		mount string // mountinfo
		want  []wire.Disk
	}{
		{
			name: "usb cd-rom",
			build: func(s sysTree) {
				s.block("devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.1/1-1.1:1.0/host0/target0:0:0/0:0:0:0/block/sr0", true,
					map[string]string{"dev": "11:0", "size": "0", "removable": "1"})
			},
			want: []wire.Disk{{Name: "sr0", Model: "Virtual CDROM0", Serial: "AAAABBBBCCCC1", Bus: "usb", Removable: true}},
		},
		{
			name: "sd card",
			build: func(s sysTree) {
				d := "devices/platform/df2969f3.mmc/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0"
				s.block(d, true, map[string]string{"dev": "179:0", "size": "122159104", "removable": "0",
					"device/name": "SC64G", "device/serial": "0x83e36d93", "device/type": "SD"})
				s.block(d+"/mmcblk0p1", false, map[string]string{"dev": "179:1", "size": "1048576", "partition": "1"})
				s.block(d+"/mmcblk0p2", false, map[string]string{"dev": "179:2", "size": "121110528", "partition": "2"})
			},
			mount: "21 1 179:2 / / rw,relatime - ext4 /dev/mmcblk0p2 rw\n" +
				"25 21 179:1 / /boot/firmware rw,relatime - vfat /dev/mmcblk0p1 rw\n",
			want: []wire.Disk{{Name: "mmcblk0", Model: "SC64G", Serial: "0x83e36d93", SizeBytes: 122159104 * 512, Bus: "mmc", Removable: true,
				Partitions: []wire.Partition{
					{Name: "mmcblk0p1", SizeBytes: 1048576 * 512, FSType: "vfat", Label: "boot", UUID: "6284-658D", Mountpoint: "/boot/firmware"},
					{Name: "mmcblk0p2", SizeBytes: 121110528 * 512, FSType: "ext4", Label: "rootfs", UUID: "83324ce8-a6f3-4e35-ad64-dbb3d6b87a32", Mountpoint: "/"},
				}}},
		},
		{
			// A SATA disk on a SAS adapter (ID_PATH …-sas-phy7-lun-0,
			// ID_BUS=ata), an LVM physical volume on the whole disk; and a
			// SATA SSD with a partition udev has no record of, whose type
			// mountinfo tells.
			name: "sata",
			build: func(s sysTree) {
				s.block("devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/host0/port-0:7/end_device-0:7/target0:0:7/0:0:7:0/block/sda", true,
					map[string]string{"dev": "8:0", "size": "15628053168", "removable": "0"})
				d := "devices/pci0000:00/0000:00:1f.2/ata1/host1/target1:0:0/1:0:0:0/block/sdb"
				s.block(d, true, map[string]string{"dev": "8:16", "size": "468862128", "removable": "0"})
				s.block(d+"/sdb1", false, map[string]string{"dev": "8:17", "size": "468860928", "partition": "1"})
			},
			mount: "40 1 8:17 / /srv rw,relatime - xfs /dev/sdb1 rw\n",
			want: []wire.Disk{
				{Name: "sda", Model: "TOSHIBA KSDB4U86", Serial: "2160A0D5FVGG", SizeBytes: 15628053168 * 512, Bus: "sata",
					Partitions: []wire.Partition{{Name: "sda", SizeBytes: 15628053168 * 512, FSType: "LVM2_member", UUID: "cVVv6j-HSA2-IY33-1Jmj-dO2H-YL7w-b4Oxqw"}}},
				{Name: "sdb", Model: "SuperMicro SSD", Serial: "SMC0E1B87ABBB16BD84E", SizeBytes: 468862128 * 512, Bus: "sata",
					Partitions: []wire.Partition{{Name: "sdb1", SizeBytes: 468860928 * 512, FSType: "xfs", Mountpoint: "/srv"}}},
			},
		},
		{
			// nvme0n1p3 → dm-0 (nvme0n1_crypt, DM_UUID CRYPT-LUKS2-…, an LVM
			// PV) → dm-1…5 (system-swap_1, -root, -var, -tmp, -home). dm-0
			// has no dm/uuid file here: the udev record says what it is.
			name: "nvme luks2 lvm",
			build: func(s sysTree) {
				d := "devices/pci0000:00/0000:00:1d.0/0000:02:00.0/nvme/nvme0/nvme0n1"
				s.block(d, true, map[string]string{"dev": "259:0", "size": "1000215216", "removable": "0"})
				s.block(d+"/nvme0n1p1", false, map[string]string{"dev": "259:1", "size": "1048576", "partition": "1"})
				s.block(d+"/nvme0n1p2", false, map[string]string{"dev": "259:2", "size": "1998848", "partition": "2"})
				s.block(d+"/nvme0n1p3", false, map[string]string{"dev": "259:3", "size": "997165056", "partition": "3"})
				s.block("devices/virtual/block/dm-0", true, map[string]string{"dev": "252:0", "dm/name": "nvme0n1_crypt"})
				s.link("sys/"+d+"/nvme0n1p3/holders/dm-0", "sys/devices/virtual/block/dm-0")
				for i, lv := range []string{"swap_1", "root", "var", "tmp", "home"} {
					dm := fmt.Sprintf("dm-%d", i+1)
					s.block("devices/virtual/block/"+dm, true, map[string]string{"dev": fmt.Sprintf("252:%d", i+1), "dm/name": "system-" + lv})
					s.link("sys/devices/virtual/block/dm-0/holders/"+dm, "sys/devices/virtual/block/"+dm)
				}
			},
			mount: "26 1 252:2 / / rw,relatime - ext4 /dev/mapper/system-root rw\n" +
				"27 26 252:3 / /var rw,relatime - ext4 /dev/mapper/system-var rw\n" +
				"28 26 252:4 / /tmp rw,relatime - ext4 /dev/mapper/system-tmp rw\n" +
				"29 26 252:5 / /home rw,relatime - ext4 /dev/mapper/system-home rw\n" +
				"30 26 259:2 / /boot rw,relatime - ext4 /dev/nvme0n1p2 rw\n" +
				"31 30 259:1 / /boot/efi rw,relatime - vfat /dev/nvme0n1p1 rw\n",
			want: []wire.Disk{{Name: "nvme0n1", Model: "SAMSUNG EHFTF55LURSY-000Y9", Serial: "S252B6CU1HG3M1", SizeBytes: 1000215216 * 512, Bus: "nvme",
				Partitions: []wire.Partition{
					{Name: "nvme0n1p1", SizeBytes: 1048576 * 512, FSType: "vfat", Mountpoint: "/boot/efi"},
					{Name: "nvme0n1p2", SizeBytes: 1998848 * 512, FSType: "ext4", Mountpoint: "/boot"},
					{Name: "nvme0n1p3", SizeBytes: 997165056 * 512, FSType: "LVM2_member", UUID: "c3C3uW-gD96-Yw69-c1CJ-5MwT-6ysM-mST0vB",
						Mountpoint: "/", Encrypted: true, Encryption: "luks2"},
				}}},
		},
		{
			// A virtio disk with a DOS table; its partition carries btrfs,
			// whose mounts have an anonymous device number: the source names
			// the partition. The subvolume at / wins over the top level.
			name: "virtio btrfs",
			build: func(s sysTree) {
				d := "devices/pci0000:00/0000:00:06.0/virtio3/block/vda"
				s.block(d, true, map[string]string{"dev": "254:0", "size": "41943040", "removable": "0", "serial": "os-disk"})
				s.block(d+"/vda1", false, map[string]string{"dev": "254:1", "size": "41940992", "partition": "1"})
			},
			mount: "31 1 0:33 /@ / rw,relatime - btrfs /dev/vda1 rw\n" +
				"32 31 0:33 / /mnt/pool rw,relatime - btrfs /dev/vda1 rw\n",
			want: []wire.Disk{{Name: "vda", Serial: "os-disk", SizeBytes: 41943040 * 512, Bus: "virtio",
				Partitions: []wire.Partition{{Name: "vda1", SizeBytes: 41940992 * 512, FSType: "btrfs", Mountpoint: "/"}}}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := hwFixtureRoot(t, "node_exporter_udev.ttar", map[string]string{"udev/data": "run/udev/data"})
			s := sysTree{t, root}
			c.build(s)
			s.file("proc/self/mountinfo", strings.TrimSuffix(c.mount, "\n"))
			var warnings []string
			got, err := linuxDisks(context.Background(), root, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) })
			if err != nil || len(warnings) > 0 {
				t.Errorf("linuxDisks error %v, warnings %q", err, warnings)
			}
			if d := hwDiff(got, c.want); d != "" {
				t.Errorf("linuxDisks differs (-want +got):\n%s", d)
			}
		})
	}
}

// On this machine: the section fills without error, and every disk of
// /sys/block that is not a virtual device is listed.
func TestHardwareThisMachine(t *testing.T) {
	var inv wire.Inventory
	var warnings []string
	if err := fillHardware(context.Background(), &inv, func(f string, a ...any) { warnings = append(warnings, fmt.Sprintf(f, a...)) }); err != nil {
		t.Fatalf("fillHardware: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("fillHardware warned %q", warnings)
	}
	if inv.Hardware == nil {
		t.Fatal("fillHardware left the hardware section empty")
	}
	var names []string
	for _, d := range inv.Hardware.Disks {
		names = append(names, d.Name)
	}
	ents, err := os.ReadDir("/sys/block")
	if err != nil {
		t.Skipf("no /sys/block: %v", err)
	}
	for _, e := range ents {
		real, err := filepath.EvalSymlinks(filepath.Join("/sys/block", e.Name()))
		if err != nil || strings.HasPrefix(real, "/sys/devices/virtual/") {
			continue
		}
		if !slices.Contains(names, e.Name()) {
			t.Errorf("disk %s (%s) is missing from %q", e.Name(), real, names)
		}
	}
	if _, err := wire.Marshal(inv); err != nil {
		t.Errorf("the inventory does not encode: %v", err)
	}
	b, _ := json.MarshalIndent(inv.Hardware, "", "  ")
	t.Logf("hardware of this machine:\n%s", b)
}
