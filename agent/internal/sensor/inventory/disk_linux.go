package inventory

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Disks on Linux: every block device of sys/block that is hardware (loop, ram,
// zram, device-mapper, md and other virtual devices are not disks, though
// device-mapper tells which partitions are encrypted), with its partitions.
// File-system type, label and UUID come from the udev database
// (run/udev/data/b<major>:<minor>), which udev's blkid builtin fills; where
// there is none (a container, a system without udev) the type of a mounted
// file system comes from mountinfo, and label and UUID stay empty: reading
// superblocks is the media sensor's job.

// virtualDiskPrefixes name the block devices that are not disks of their own.
var virtualDiskPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "nbd", "zd", "drbd"}

// linuxDisks lists the disks of the machine whose root is root.
func linuxDisks(ctx context.Context, root string, warn func(string, ...any)) ([]wire.Disk, error) {
	blockDir := filepath.Join(root, "sys/block")
	ents, err := os.ReadDir(blockDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list block devices: %w", err)
	}
	b := &blockReader{root: root, udevCache: map[string]map[string]string{}}
	b.mounts, err = readMountinfo(filepath.Join(root, "proc/self/mountinfo"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		warn("read mountinfo: %v", err)
	}
	var disks []wire.Disk
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return disks, err
		}
		name := e.Name()
		if slices.ContainsFunc(virtualDiskPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		dir := filepath.Join(blockDir, name)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		if b.virtual(dir) {
			continue
		}
		disks = append(disks, b.disk(name, dir))
	}
	slices.SortFunc(disks, func(x, y wire.Disk) int { return cmp.Compare(x.Name, y.Name) })
	return disks, nil
}

// blockReader reads block devices below a root, with the udev records read
// so far.
type blockReader struct {
	root      string
	mounts    mountTable
	udevCache map[string]map[string]string
}

// rel returns path relative to the root, slash-separated and rooted: the
// path as the machine itself names it.
func (b *blockReader) rel(path string) string {
	r, err := filepath.Rel(b.root, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return "/" + filepath.ToSlash(r)
}

// virtual reports whether a resolved sysfs device directory is a virtual
// block device. NVMe namespaces under native multipath live below
// devices/virtual/nvme-subsystem (and NVMe over fabrics below
// devices/virtual/nvme-fabrics) yet are disks.
func (b *blockReader) virtual(dir string) bool {
	r := b.rel(dir)
	return strings.HasPrefix(r, "/sys/devices/virtual/") &&
		!strings.HasPrefix(r, "/sys/devices/virtual/nvme-subsystem/") &&
		!strings.HasPrefix(r, "/sys/devices/virtual/nvme-fabrics/")
}

// sysAttr returns a sysfs attribute as a clean string, "" when it is missing or
// unreadable.
func sysAttr(dir, name string) string {
	b, err := readSysfs(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return hwString(b)
}

// sysSectors returns a size attribute (in 512-byte sectors, whatever the
// device's block size) in bytes.
func sysSectors(dir string) uint64 {
	n, err := strconv.ParseUint(sysAttr(dir, "size"), 10, 64)
	if err != nil || n > (1<<64-1)/512 {
		return 0
	}
	return n * 512
}

// blockDevNumber returns a block device's "major:minor", "" when sysfs does not
// say.
func blockDevNumber(dir string) string {
	if d := sysAttr(dir, "dev"); d != "" {
		return d
	}
	var major, minor string
	for line := range strings.Lines(sysAttr(dir, "uevent")) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "MAJOR":
			major = v
		case "MINOR":
			minor = v
		}
	}
	if major == "" || minor == "" {
		return ""
	}
	return major + ":" + minor
}

// udev returns the properties (E: lines) of the udev database record of the
// block device dev, nil when there is none.
func (b *blockReader) udev(dev string) map[string]string {
	if dev == "" {
		return nil
	}
	if m, ok := b.udevCache[dev]; ok {
		return m
	}
	data, err := readSysfs(filepath.Join(b.root, "run/udev/data", "b"+dev))
	var m map[string]string
	if err == nil {
		m = parseUdevRecord(data)
	}
	b.udevCache[dev] = m
	return m
}

// parseUdevRecord returns the properties of a udev database record.
func parseUdevRecord(data []byte) map[string]string {
	m := map[string]string{}
	for line := range bytes.Lines(data) {
		rest, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("E:"))
		if !ok {
			continue
		}
		if k, v, ok := bytes.Cut(rest, []byte("=")); ok {
			m[string(k)] = string(v)
		}
	}
	return m
}

// udevDecode undoes udev's \xHH escaping of the *_ENC properties.
func udevDecode(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				out = append(out, byte(n))
				i += 3
				continue
			}
		}
		out = append(out, s[i])
	}
	return string(out)
}

// disk reads the disk name whose resolved sysfs directory is dir.
func (b *blockReader) disk(name, dir string) wire.Disk {
	dev := blockDevNumber(dir)
	u := b.udev(dev)
	d := wire.Disk{
		Name:      name,
		SizeBytes: sysSectors(dir),
		Model: cmp.Or(sysAttr(dir, "device/model"), sysAttr(dir, "device/name"),
			hwString([]byte(udevDecode(u["ID_MODEL_ENC"]))), hwString([]byte(u["ID_MODEL"]))),
		Serial: cmp.Or(sysAttr(dir, "device/serial"), sysAttr(dir, "serial"), hwString([]byte(u["ID_SERIAL_SHORT"])),
			sysAttr(dir, "wwid"), sysAttr(dir, "device/wwid")),
		Bus:       diskBus(b.rel(dir), sysAttr(dir, "device/vendor"), u),
		Removable: sysAttr(dir, "removable") == "1",
	}
	switch d.Bus {
	case "usb":
		d.Removable = true
	case "mmc":
		d.Removable = d.Removable || sysAttr(dir, "device/type") == "SD" || u["ID_DRIVE_FLASH_SD"] == "1"
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		pdir := filepath.Join(dir, e.Name())
		if !e.IsDir() || !strings.HasPrefix(e.Name(), name) {
			continue
		}
		if _, err := os.Stat(filepath.Join(pdir, "partition")); err != nil {
			continue
		}
		d.Partitions = append(d.Partitions, b.partition(e.Name(), pdir))
	}
	if len(d.Partitions) == 0 {
		// A file system, LUKS container or LVM volume on the whole disk.
		if p := b.partition(name, dir); p.FSType != "" || p.Mountpoint != "" || p.Encryption != "" {
			d.Partitions = []wire.Partition{p}
		}
	}
	slices.SortFunc(d.Partitions, func(x, y wire.Partition) int { return cmp.Compare(x.Name, y.Name) })
	return d
}

// diskBus tells the bus a disk hangs on from its device path (rel, as
// /sys/devices/… names it), its SCSI vendor and its udev properties: the
// USB, NVMe, MMC or virtio parent if there is one, else the iSCSI session,
// ATA port, SAS end device or SCSI host. A SATA disk behind a SAS or SCSI adapter is sata, as
// udev's ATA probe or the SCSI-to-ATA translation's vendor "ATA" says.
func diskBus(rel, vendor string, u map[string]string) string {
	var found [9]bool
	const (
		usb = iota
		nvme
		mmc
		virtio
		xen
		iscsi
		sata
		sas
		scsi
	)
	for _, c := range strings.Split(rel, "/") {
		switch {
		case sysNumbered(c, "usb"):
			found[usb] = true
		case c == "nvme" || strings.HasPrefix(c, "nvme-subsys") || strings.HasPrefix(c, "nvme-fabrics"):
			found[nvme] = true
		case c == "mmc_host" || sysNumbered(c, "mmc"):
			found[mmc] = true
		case sysNumbered(c, "virtio"):
			found[virtio] = true
		case strings.HasPrefix(c, "vbd-"):
			found[xen] = true
		case sysNumbered(c, "session"):
			found[iscsi] = true
		case sysNumbered(c, "ata"):
			found[sata] = true
		case strings.HasPrefix(c, "end_device-"):
			found[sas] = true
		case sysNumbered(c, "host"):
			found[scsi] = true
		}
	}
	names := [...]string{"usb", "nvme", "mmc", "virtio", "xen", "iscsi", "sata", "sas", "scsi"}
	for i, ok := range found {
		if !ok {
			continue
		}
		if (i == sas || i == scsi) && (u["ID_BUS"] == "ata" || vendor == "ATA") {
			return "sata"
		}
		return names[i]
	}
	return ""
}

// sysNumbered reports whether s is prefix followed by a decimal number
// ("usb1", "ata3", "host0").
func sysNumbered(s, prefix string) bool {
	n, ok := strings.CutPrefix(s, prefix)
	if !ok || n == "" {
		return false
	}
	return strings.Trim(n, "0123456789") == ""
}

// partition reads the partition (or whole disk) name at sysfs directory dir:
// its size, what it holds and whether that is encrypted. A LUKS container
// opened by dm-crypt shows the file system inside it; a container whose
// holder (device-mapper, md) is mounted shows the holder's mountpoint.
func (b *blockReader) partition(name, dir string) wire.Partition {
	dev := blockDevNumber(dir)
	p := wire.Partition{Name: name, SizeBytes: sysSectors(dir)}
	p.FSType, p.Label, p.UUID = b.fs(dev, name)
	enc := ""
	if p.FSType == "crypto_LUKS" {
		enc = "luks"
		if v := b.udev(dev)["ID_FS_VERSION"]; v == "1" || v == "2" {
			enc += v
		}
	}
	holders := sysListDir(filepath.Join(dir, "holders"))
	unreadable := false
	for _, h := range holders {
		uuid, ok := b.dmUUID(h)
		if !ok {
			unreadable = true
			continue
		}
		kind := dmCryptKind(uuid)
		if kind == "" {
			continue
		}
		enc = kind
		if t, l, u := b.fs(blockDevNumber(b.blockDir(h)), h); t != "" {
			p.FSType, p.Label, p.UUID = t, l, u
		}
	}
	if enc == "" && unreadable && p.FSType == "" {
		// A holder whose kind cannot be read may be plain dm-crypt, which
		// leaves no signature on the partition.
		enc = "unknown"
	}
	p.Encryption = enc
	p.Encrypted = enc != "" && enc != "unknown"
	p.Mountpoint = b.mounts.of(dev, "/dev/"+name)
	if p.Mountpoint == "" {
		p.Mountpoint = b.holderMount(holders, 0)
	}
	return p
}

// blockDir returns the sysfs directory of block device name: a disk or a
// holder in sys/block, or a partition in sys/class/block.
func (b *blockReader) blockDir(name string) string {
	for _, d := range []string{"sys/block", "sys/class/block"} {
		p := filepath.Join(b.root, d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(b.root, "sys/block", name)
}

// fs returns the file-system type, label and UUID of block device dev (named
// name) from the udev database, or at least the type it is mounted with.
func (b *blockReader) fs(dev, name string) (typ, label, uuid string) {
	u := b.udev(dev)
	typ = hwString([]byte(u["ID_FS_TYPE"]))
	label = hwString([]byte(cmp.Or(udevDecode(u["ID_FS_LABEL_ENC"]), u["ID_FS_LABEL"])))
	uuid = hwString([]byte(cmp.Or(udevDecode(u["ID_FS_UUID_ENC"]), u["ID_FS_UUID"])))
	if typ == "" {
		typ = b.mounts.fsType(dev, "/dev/"+name)
	}
	return typ, label, uuid
}

// dmUUID returns the device-mapper UUID of holder name ("" for a holder that
// is not device-mapper, or one created without a UUID), from sysfs or else
// the udev database; ok is false when neither tells.
func (b *blockReader) dmUUID(name string) (uuid string, ok bool) {
	if !strings.HasPrefix(name, "dm-") {
		return "", true
	}
	dir := b.blockDir(name)
	if u, err := readSysfs(filepath.Join(dir, "dm/uuid")); err == nil {
		return hwString(u), true
	}
	if u, ok := b.udev(blockDevNumber(dir))["DM_UUID"]; ok {
		return u, true
	}
	return "", false
}

// dmCryptKind returns how a device-mapper device with UUID uuid encrypts,
// "" when it is no dm-crypt target. cryptsetup names its devices
// CRYPT-<type>-…; VERITY, INTEGRITY and SUBDEV devices protect integrity, not
// secrecy.
func dmCryptKind(uuid string) string {
	rest, ok := strings.CutPrefix(uuid, "CRYPT-")
	if !ok {
		return ""
	}
	typ, _, _ := strings.Cut(rest, "-")
	switch typ {
	case "LUKS1":
		return "luks1"
	case "LUKS2":
		return "luks2"
	case "PLAIN":
		return "plain"
	case "BITLK":
		return "bitlocker"
	case "TCRYPT":
		return "truecrypt"
	case "LOOPAES":
		return "loop-aes"
	case "FVAULT2":
		return "filevault2"
	}
	return ""
}

// holderMount returns where the holders (device-mapper, md) of a partition,
// or theirs, are mounted: the shortest mountpoint, so that of an LVM volume
// group the root file system wins.
func (b *blockReader) holderMount(holders []string, depth int) string {
	if depth > 4 {
		return ""
	}
	var best string
	for _, h := range holders {
		dir := b.blockDir(h)
		m := b.mounts.of(blockDevNumber(dir), "/dev/"+h)
		if m == "" && strings.HasPrefix(h, "dm-") {
			if n := sysAttr(dir, "dm/name"); n != "" {
				m = b.mounts.of("", "/dev/mapper/"+n)
			}
		}
		if m == "" {
			m = b.holderMount(sysListDir(filepath.Join(dir, "holders")), depth+1)
		}
		if m != "" && (best == "" || len(m) < len(best) || len(m) == len(best) && m < best) {
			best = m
		}
	}
	return best
}

// sysListDir returns the names in dir, nil when it cannot be read.
func sysListDir(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names
}

// mountTable is what mountinfo says is mounted, by device number and by
// source (for btrfs, whose mounts carry an anonymous device number).
type mountTable struct {
	byDev, bySource map[string]mountEntry
}

// mountEntry is one mounted file system.
type mountEntry struct {
	point, fsType string
	whole         bool // the file system's root is mounted, not a subtree (bind mount)
}

// better reports whether m is a better mount to name a device by than o: the
// shorter mountpoint (of btrfs subvolumes the one at /, not the top level
// at /mnt/pool), then the whole file system rather than a bind-mounted part.
func (m mountEntry) better(o mountEntry) bool {
	if len(m.point) != len(o.point) {
		return len(m.point) < len(o.point)
	}
	if m.whole != o.whole {
		return m.whole
	}
	return m.point < o.point
}

// of returns where the block device dev or source is mounted, "" when it is
// not.
func (t mountTable) of(dev, source string) string {
	return t.lookup(dev, source).point
}

// fsType returns the type the block device dev or source is mounted with.
func (t mountTable) fsType(dev, source string) string {
	return t.lookup(dev, source).fsType
}

func (t mountTable) lookup(dev, source string) mountEntry {
	if m, ok := t.byDev[dev]; ok && dev != "" {
		return m
	}
	return t.bySource[source]
}

// readMountinfo reads a mountinfo file (proc(5)).
func readMountinfo(path string) (mountTable, error) {
	t := mountTable{byDev: map[string]mountEntry{}, bySource: map[string]mountEntry{}}
	f, err := os.Open(path)
	if err != nil {
		return t, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		dev, m, source, ok := parseMountinfoLine(sc.Text())
		if !ok {
			continue
		}
		if o, seen := t.byDev[dev]; !seen || m.better(o) {
			t.byDev[dev] = m
		}
		if strings.HasPrefix(source, "/dev/") {
			if o, seen := t.bySource[source]; !seen || m.better(o) {
				t.bySource[source] = m
			}
		}
	}
	return t, sc.Err()
}

// parseMountinfoLine splits one mountinfo line:
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw".
func parseMountinfoLine(line string) (dev string, m mountEntry, source string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 9 {
		return "", mountEntry{}, "", false
	}
	// Optional fields end with "-"; the mountpoint (field 5) may be "-" too.
	sep := 6 + slices.Index(f[6:], "-")
	if sep < 6 || len(f) < sep+3 {
		return "", mountEntry{}, "", false
	}
	m = mountEntry{point: unescapeMount(f[4]), fsType: f[sep+1], whole: f[3] == "/"}
	return f[2], m, unescapeMount(f[sep+2]), true
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				out = append(out, byte(n))
				i += 3
				continue
			}
		}
		out = append(out, s[i])
	}
	return string(out)
}
