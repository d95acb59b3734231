package inventory

import (
	"path/filepath"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestDMCryptKind(t *testing.T) {
	for _, c := range []struct{ uuid, want string }{
		{"CRYPT-LUKS2-jolaulot80fy9zsiobkxyxo7y2dqeho2-nvme0n1_crypt", "luks2"}, // node_exporter_udev.ttar b252:0
		{"CRYPT-LUKS1-5a8b7c6d4e3f2a1b0c9d8e7f6a5b4c3d-sda2_crypt", "luks1"},
		{"CRYPT-PLAIN-swap", "plain"},
		{"CRYPT-BITLK-1f2e3d4c-usbkey", "bitlocker"},
		{"CRYPT-TCRYPT-vault", "truecrypt"},
		{"CRYPT-VERITY-8a9b0c1d-root_verity", ""},
		{"CRYPT-INTEGRITY-data", ""},
		{"CRYPT-SUBDEV-0b1c2d3e-data_dif", ""},
		{"LVM-NWEDo8q5ABDyJuC3F8veKNyWfYmeIBfFMS4MF3HakzUhkk7ekDm6fJTHkl2fYHe7", ""}, // b252:2
		{"mpath-3600508b1001c1234567890abcdef1234", ""},                              // node_exporter_sys.ttar dm-5
		{"", ""},
	} {
		if got := dmCryptKind(c.uuid); got != c.want {
			t.Errorf("dmCryptKind(%q) = %q, want %q", c.uuid, got, c.want)
		}
	}
}

func TestDiskBus(t *testing.T) {
	for _, c := range []struct {
		path, vendor string
		udevBus      string
		want         string
	}{
		{"/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdc", "SanDisk", "usb", "usb"},
		{"/sys/devices/pci0000:00/0000:00:02.1/0000:01:00.0/nvme/nvme0/nvme0n1", "", "", "nvme"},
		{"/sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1", "", "", "nvme"},
		{"/sys/devices/platform/fe320000.mmc/mmc_host/mmc1/mmc1:aaaa/block/mmcblk1", "", "", "mmc"},
		{"/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda", "", "", "virtio"},
		{"/sys/devices/pci0000:00/0000:00:03.0/virtio2/host0/target0:0:0/0:0:0:0/block/sda", "QEMU", "scsi", "virtio"},
		{"/sys/devices/vbd-51712/block/xvda", "", "", "xen"},
		{"/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda", "ATA", "ata", "sata"},
		{"/sys/devices/pci0000:00/0000:00:03.0/0000:03:00.0/host11/port-11:2/end_device-11:2/target11:0:0/11:0:0:0/block/sdp", "HITACHI", "", "sas"},
		{"/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0/host0/port-0:7/end_device-0:7/target0:0:7/0:0:7:0/block/sda", "", "ata", "sata"},
		{"/sys/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/f8b3781b/host2/target2:0:0/2:0:0:0/block/sdb", "Msft", "", "scsi"},
		{"/sys/devices/platform/host3/session1/target3:0:0/3:0:0:1/block/sdc", "LIO-ORG", "scsi", "iscsi"},
		{"/sys/block/sda", "", "", ""},
		{"/sys/devices/pci0000:00/0000:00:1f.2/attachment/block/sdz", "", "", ""}, // "ata" must be a port, not a prefix
	} {
		if got := diskBus(c.path, c.vendor, map[string]string{"ID_BUS": c.udevBus}); got != c.want {
			t.Errorf("diskBus(%q, %q, ID_BUS=%q) = %q, want %q", c.path, c.vendor, c.udevBus, got, c.want)
		}
	}
}

// The mountinfo of prometheus/procfs's fixture: NFS, rootfs and a bind
// mount of an XFS subtree among the mounts.
func TestReadMountinfoFixture(t *testing.T) {
	root := hwFixtureRoot(t, "procfs_fixtures.ttar", map[string]string{"fixtures/proc/26231/mountinfo": "mountinfo"})
	mt, err := readMountinfo(filepath.Join(root, "mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dev, source, point, fsType string }{
		{"8:1", "", "/", "ext4"},
		{"", "/dev/sda1", "/", "ext4"},
		{"253:0", "", "/var/lib/containers/storage/overlay", "xfs"},
		{"", "/dev/mapper/rhel-root", "/var/lib/containers/storage/overlay", "xfs"},
		{"0:42", "", "/mnt/nfs/test", "nfs4"},
		{"", "192.168.1.1:/srv/test", "", ""}, // only device sources are kept
		{"8:2", "/dev/sda2", "", ""},
	} {
		if p, f := mt.of(c.dev, c.source), mt.fsType(c.dev, c.source); p != c.point || f != c.fsType {
			t.Errorf("mount of %q/%q = %q %q, want %q %q", c.dev, c.source, p, f, c.point, c.fsType)
		}
	}
}

func TestParseMountinfoLine(t *testing.T) {
	for _, c := range []struct {
		line, dev, source string
		m                 mountEntry
		ok                bool
	}{
		{`36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`, "98:0", "/dev/root", mountEntry{point: "/mnt2", fsType: "ext3"}, true},
		{`40 1 8:17 / /media/My\040Disk rw - vfat /dev/sdb1 rw`, "8:17", "/dev/sdb1", mountEntry{point: "/media/My Disk", fsType: "vfat", whole: true}, true},
		{`41 1 8:18 / /a\134b\011c rw shared:1 master:2 - ext4 /dev/sdb2 rw`, "8:18", "/dev/sdb2", mountEntry{point: `/a\b` + "\tc", fsType: "ext4", whole: true}, true},
		{`43 1 8:20 / - rw - ext4 /dev/sdb4 rw`, "8:20", "/dev/sdb4", mountEntry{point: "-", fsType: "ext4", whole: true}, true},
		{`42 1 8:19 / /x rw`, "", "", mountEntry{}, false},
		{`42 1 8:19 / /x rw shared:1 master:2`, "", "", mountEntry{}, false},
		{`garbage`, "", "", mountEntry{}, false},
	} {
		dev, m, source, ok := parseMountinfoLine(c.line)
		if dev != c.dev || m != c.m || source != c.source || ok != c.ok {
			t.Errorf("parseMountinfoLine(%q) = %q, %+v, %q, %v; want %q, %+v, %q, %v", c.line, dev, m, source, ok, c.dev, c.m, c.source, c.ok)
		}
	}
}

func TestUdevDecode(t *testing.T) {
	for in, want := range map[string]string{
		`Virtual\x20CDROM0\x20\x20`: "Virtual CDROM0  ", // node_exporter_udev.ttar b11:0
		`plain`:                     "plain",
		`My\x2fDisk`:                "My/Disk",
		`bad\xZZ`:                   `bad\xZZ`,
		`end\x2`:                    `end\x2`,
	} {
		if got := udevDecode(in); got != want {
			t.Errorf("udevDecode(%q) = %q, want %q", in, got, want)
		}
	}
}

// Encryption of a partition from what udev and its holders say; the udev
// records are written for the cases (LUKS1 closed, LUKS2 without a
// version, a plain dm-crypt holder, LVM).
func TestPartitionEncryption(t *testing.T) {
	for _, c := range []struct {
		name   string
		udev   string // the partition's record
		holder map[string]string
		want   wire.Partition
	}{
		{
			name: "closed luks1", udev: "E:ID_FS_TYPE=crypto_LUKS\nE:ID_FS_VERSION=1\nE:ID_FS_UUID=5a8b7c6d-4e3f-2a1b-0c9d-8e7f6a5b4c3d\n",
			want: wire.Partition{Name: "sdb1", SizeBytes: 2048 * 512, FSType: "crypto_LUKS", UUID: "5a8b7c6d-4e3f-2a1b-0c9d-8e7f6a5b4c3d", Encrypted: true, Encryption: "luks1"},
		},
		{
			name: "luks without a version", udev: "E:ID_FS_TYPE=crypto_LUKS\n",
			want: wire.Partition{Name: "sdb1", SizeBytes: 2048 * 512, FSType: "crypto_LUKS", Encrypted: true, Encryption: "luks"},
		},
		{
			name: "open luks2 with ext4 inside", udev: "E:ID_FS_TYPE=crypto_LUKS\nE:ID_FS_VERSION=2\n",
			holder: map[string]string{"dm/uuid": "CRYPT-LUKS2-0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e-luks-data", "dm/name": "luks-data", "dev": "253:7",
				"udev": "E:ID_FS_TYPE=ext4\nE:ID_FS_LABEL_ENC=My\\x20Data\nE:ID_FS_LABEL=My_Data\nE:ID_FS_UUID=0d9f2a44-5b1e-4c3a-9a8e-1f2e3d4c5b6a\n"},
			want: wire.Partition{Name: "sdb1", SizeBytes: 2048 * 512, FSType: "ext4", Label: "My Data", UUID: "0d9f2a44-5b1e-4c3a-9a8e-1f2e3d4c5b6a",
				Mountpoint: "/srv/data", Encrypted: true, Encryption: "luks2"},
		},
		{
			// Plain dm-crypt leaves no signature: the holder tells.
			name: "plain dm-crypt", holder: map[string]string{"dm/uuid": "CRYPT-PLAIN-swap", "dm/name": "swap", "dev": "253:7"},
			want: wire.Partition{Name: "sdb1", SizeBytes: 2048 * 512, Encrypted: true, Encryption: "plain"},
		},
		{
			name: "lvm", udev: "E:ID_FS_TYPE=LVM2_member\n",
			holder: map[string]string{"dm/uuid": "LVM-hrxHo0rlZ6U95ku5841Lpd17bS1Z7V7lrtEE60DVgE6YEOCdS9gcDGyonWim4hGP", "dm/name": "data-srv", "dev": "253:7"},
			want:   wire.Partition{Name: "sdb1", SizeBytes: 2048 * 512, FSType: "LVM2_member", Mountpoint: "/srv/data"},
		},
		{
			// A holder whose kind cannot be read, on a partition without a
			// signature: it may be plain dm-crypt.
			name: "unreadable holder", holder: map[string]string{},
			want: wire.Partition{Name: "sdb1", SizeBytes: 2048 * 512, Encryption: "unknown"},
		},
		{
			name: "unreadable holder of ext4", udev: "E:ID_FS_TYPE=ext4\n", holder: map[string]string{},
			want: wire.Partition{Name: "sdb1", SizeBytes: 2048 * 512, FSType: "ext4"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			s := sysTree{t, root}
			part := "sys/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdb/sdb1"
			s.file(part+"/dev", "8:17")
			s.file(part+"/size", "2048")
			s.file(part+"/partition", "1")
			if c.udev != "" {
				s.file("run/udev/data/b8:17", c.udev)
			}
			if c.holder != nil {
				s.link(part+"/holders/dm-7", "sys/devices/virtual/block/dm-7")
				for k, v := range c.holder {
					if k == "udev" {
						s.file("run/udev/data/b"+c.holder["dev"], v)
						continue
					}
					s.file("sys/devices/virtual/block/dm-7/"+k, v)
				}
				if len(c.holder) > 0 {
					s.link("sys/block/dm-7", "sys/devices/virtual/block/dm-7")
				}
			}
			s.file("proc/self/mountinfo", "50 1 0:60 / /srv/data rw - ext4 /dev/mapper/luks-data rw\n"+
				"51 1 0:61 / /srv/data rw - xfs /dev/mapper/data-srv rw")
			mt, err := readMountinfo(filepath.Join(root, "proc/self/mountinfo"))
			if err != nil {
				t.Fatal(err)
			}
			b := &blockReader{root: root, mounts: mt, udevCache: map[string]map[string]string{}}
			got := b.partition("sdb1", filepath.Join(root, part))
			if d := hwDiff(got, c.want); d != "" {
				t.Errorf("partition differs (-want +got):\n%s", d)
			}
		})
	}
}
