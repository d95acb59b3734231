package media

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// mountinfoFixture is the mount table of a desktop with a stick that GNOME
// mounted (a label with a space), a stick mounted by hand, a bind mount and
// the usual virtual filesystems.
const mountinfoFixture = `22 27 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
23 27 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
27 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro
412 27 8:17 / /media/kari/NK\0400042 rw,nosuid,nodev,relatime shared:230 - vfat /dev/sdb1 rw,fmask=0022,dmask=0022,codepage=437,iocharset=utf8,shortname=mixed,errors=remount-ro
430 27 8:33 / /mnt/tab\011and\134slash ro,relatime shared:240 master:3 - ext4 /dev/sdc1 ro
431 27 8:33 /sub /srv/bound ro,relatime shared:241 - ext4 /dev/sdc1 ro
bad line
`

func TestParseMountinfo(t *testing.T) {
	got := parseMountinfo(mountinfoFixture)
	want := []mountEntry{
		{ID: 22, MajMin: "0:21", Root: "/", Point: "/proc", Options: []string{"rw", "nosuid", "nodev", "noexec", "relatime"}, FSType: "proc", Source: "proc"},
		{ID: 23, MajMin: "0:22", Root: "/", Point: "/sys", Options: []string{"rw", "nosuid", "nodev", "noexec", "relatime"}, FSType: "sysfs", Source: "sysfs"},
		{ID: 27, MajMin: "259:2", Root: "/", Point: "/", Options: []string{"rw", "relatime"}, FSType: "ext4", Source: "/dev/nvme0n1p2"},
		{ID: 412, MajMin: "8:17", Root: "/", Point: "/media/kari/NK 0042", Options: []string{"rw", "nosuid", "nodev", "relatime"}, FSType: "vfat", Source: "/dev/sdb1"},
		{ID: 430, MajMin: "8:33", Root: "/", Point: "/mnt/tab\tand\\slash", Options: []string{"ro", "relatime"}, FSType: "ext4", Source: "/dev/sdc1", ReadOnly: true},
		{ID: 431, MajMin: "8:33", Root: "/sub", Point: "/srv/bound", Options: []string{"ro", "relatime"}, FSType: "ext4", Source: "/dev/sdc1", ReadOnly: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseMountinfo =\n%+v\nwant\n%+v", got, want)
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/media/kari/NK\0400042`: "/media/kari/NK 0042",
		`a\134b`:                 `a\b`,
		`nl\012x`:                "nl\nx",
		`plain`:                  "plain",
		`short\04`:               `short\04`, // not a whole escape
		`odd\089`:                `odd\089`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMountUser(t *testing.T) {
	owners := map[string]int{"/mnt/kari": 1000, "/mnt/root": 0}
	owner := func(p string) (int, bool) { uid, ok := owners[p]; return uid, ok }
	lookup := func(uid int) string { return map[int]string{1000: "kari"}[uid] }
	for point, want := range map[string]string{
		"/media/ola/NK-0042":     "ola",
		"/run/media/per/STICK":   "per",
		"/media/NK-0042":         "", // no user folder
		"/mnt/kari":              "kari",
		"/mnt/root":              "",
		"/mnt/nobody-knows-this": "",
	} {
		if got := mountUser(point, owner, lookup); got != want {
			t.Errorf("mountUser(%q) = %q, want %q", point, got, want)
		}
	}
}

// TestMountsOfMedium: the mounts of a medium's volumes are found by device
// number through sysfs, the first mount of a volume winning.
func TestMountsOfMedium(t *testing.T) {
	sys := t.TempDir()
	for majmin, name := range map[string]string{"8:17": "sdb1", "8:33": "sdc1", "259:2": "nvme0n1p2"} {
		dir := filepath.Join(sys, "devices", "x", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(sys, "dev", "block"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dir, filepath.Join(sys, "dev", "block", majmin)); err != nil {
			t.Fatal(err)
		}
	}
	mi := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(mi, []byte(mountinfoFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &linuxPlatform{sys: sys, mountinfo: mi, reported: map[string]bool{}}
	got := p.Mounts(stickDisk) // volumes sdb1, sdb2
	if len(got) != 1 || got["sdb1"].Point != "/media/kari/NK 0042" || got["sdb1"].User != "kari" || got["sdb1"].FSType != "vfat" || got["sdb1"].ReadOnly {
		t.Errorf("Mounts(sdb) = %+v, want sdb1 at /media/kari/NK 0042 by kari", got)
	}
	sdc := stickDisk
	sdc.Name, sdc.Volumes = "sdc", nil
	sdc.Volumes = append(sdc.Volumes, stickDisk.Volumes[0])
	sdc.Volumes[0].Name = "sdc1"
	if got := p.Mounts(sdc); got["sdc1"].Point != "/mnt/tab\tand\\slash" || !got["sdc1"].ReadOnly {
		t.Errorf("Mounts(sdc) = %+v, want sdc1 read-only at its first mount point", got)
	}
}
