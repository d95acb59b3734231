package fsprobe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// need skips a test that needs what this machine lacks; under CI=true that
// is a failure, so CI always runs against the real tools.
func need(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("cannot run under CI: %s", why)
	}
	tb.Skip(why)
}

// run runs a command and fails the test when it fails.
func run(tb testing.TB, env []string, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// volFile is a file put on a test volume.
type volFile struct {
	name string
	data []byte
}

// fatVolume is a FAT image made with mkfs.vfat and filled with mtools.
type fatVolume struct {
	name string
	bits string // mkfs.vfat -F
	size int64
	spc  int      // sectors of 512 bytes per cluster
	args []string // more mkfs.vfat arguments
	// unit is the size unit of the files fill puts there: a cluster, or
	// less for the small volumes that seed the fuzzer (on which BIG is
	// fragmented only where the allocator takes the first free cluster).
	unit int
}

func (fv fatVolume) fillUnit() int {
	if fv.unit > 0 {
		return fv.unit
	}
	return fv.spc * 512
}

var fatVolumes = []fatVolume{
	{name: "fat12", bits: "12", size: 1440 << 10, spc: 1},
	{name: "fat16", bits: "16", size: 8 << 20, spc: 2},
	{name: "fat32", bits: "32", size: 40 << 20, spc: 1},
}

// Contents put on every test volume.
var (
	markerData = []byte("id=NK-0042\nclassification=intern\n")
	upperData  = []byte("short, upper case\n")
	lowerData  = []byte("short, lower case\n")
	unicodData = []byte("a long name beyond ASCII\n")
	insideData = []byte("in a subdirectory\n")
	goneData   = []byte("id=deleted\n")
)

// randomData is n bytes that differ per name, so that a misplaced cluster
// shows.
func randomData(name string, n int) []byte {
	var seed int64
	for _, c := range name {
		seed = seed*31 + int64(c)
	}
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// fill puts files on a volume in an order that fragments BIG: A, B and C
// are written, B is deleted and BIG, larger than B, fills B's hole first
// and continues after C. An allocator that goes on after the cluster it
// allocated last (mtools on FAT32, which keeps that in the FSInfo sector)
// would put BIG after C in one piece: for it, squeeze writes a file after C
// that leaves only the given number of clusters free on the whole volume,
// B's hole included, so that BIG runs to the volume's end and wraps around
// into the hole.
//
// File sizes are multiples of unit, which is a cluster for the tests.
func fill(unit int, put func(volFile), mkdir func(string), del func(string), squeeze func(free int)) []volFile {
	files := []volFile{
		{name: "SONEVAKT-MARKING.txt", data: markerData},
		{name: "MARK.TXT", data: upperData},
		{name: "lower.txt", data: lowerData},
		{name: "Sønevakt-Æble.txt", data: unicodData},
	}
	for _, f := range files {
		put(f)
	}
	mkdir("SUB")
	put(volFile{name: "SUB/INSIDE.TXT", data: insideData})
	a := volFile{name: "A", data: randomData("A", 3*unit)}
	b := volFile{name: "B", data: randomData("B", 3*unit)}
	c := volFile{name: "C", data: randomData("C", unit)}
	big := volFile{name: "BIG", data: randomData("BIG", 6*unit+100)}
	empty := volFile{name: "EMPTY.TXT", data: []byte{}}
	gone := volFile{name: "Deleted-Marker.txt", data: goneData}
	for _, f := range []volFile{a, b, c} {
		put(f)
	}
	del(b.name)
	if squeeze != nil {
		// BIG takes the 6 clusters at the end and 1 of the hole's 3; the
		// rest is for the root directory's second cluster and the
		// deleted file.
		squeeze(3 + 6)
	}
	put(big)
	put(empty)
	put(gone)
	del(gone.name)
	return append(files, a, b, c, big, empty, gone) // b and gone deleted again
}

// buildFAT makes the volume in dir and returns its bytes.
func (fv fatVolume) build(tb testing.TB, dir string) []byte {
	tb.Helper()
	for _, tool := range []struct{ cmd, pkg string }{{"mkfs.vfat", "dosfstools"}, {"mcopy", "mtools"}, {"mmd", "mtools"}, {"mdel", "mtools"}} {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			need(tb, fmt.Sprintf("%s not found: install Debian package %s", tool.cmd, tool.pkg))
		}
	}
	img := filepath.Join(dir, fv.name+".img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(img, fv.size); err != nil {
		tb.Fatal(err)
	}
	args := append([]string{"-F", fv.bits, "-s", fmt.Sprint(fv.spc), "-n", "MUNKEY"}, fv.args...)
	run(tb, nil, "mkfs.vfat", append(args, img)...)
	// mtools checks geometry against a floppy's unless told not to, and
	// encodes long names from the locale.
	env := []string{"MTOOLS_SKIP_CHECK=1", "LC_ALL=C.UTF-8"}
	n := 0
	var squeeze func(int)
	if fv.bits == "32" && fv.unit == 0 {
		squeeze = func(keep int) {
			cmd := exec.Command("minfo", "-i", img, "::")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			m := regexp.MustCompile(`free clusters=(\d+)`).FindSubmatch(out)
			if err != nil || m == nil {
				tb.Fatalf("minfo %s: %v, no free cluster count in\n%s", img, err, out)
			}
			free, _ := strconv.Atoi(string(m[1]))
			filler := filepath.Join(dir, "filler")
			if err := os.WriteFile(filler, nil, 0o600); err != nil {
				tb.Fatal(err)
			}
			if err := os.Truncate(filler, int64(free-keep)*int64(fv.spc*512)); err != nil {
				tb.Fatal(err)
			}
			run(tb, env, "mcopy", "-i", img, filler, "::/FILLER")
		}
	}
	fill(fv.fillUnit(), func(f volFile) {
		src := filepath.Join(dir, fmt.Sprintf("src%d", n))
		n++
		if err := os.WriteFile(src, f.data, 0o600); err != nil {
			tb.Fatal(err)
		}
		run(tb, env, "mcopy", "-i", img, src, "::/"+f.name)
	}, func(d string) {
		run(tb, env, "mmd", "-i", img, "::/"+d)
	}, func(name string) {
		run(tb, env, "mdel", "-i", img, "::/"+name)
	}, squeeze)
	data, err := os.ReadFile(img)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// exFATMissing says what buildExFAT lacks on this machine; "" when nothing.
func exFATMissing() string {
	for _, tool := range []struct{ cmd, pkg string }{{"mkfs.exfat", "exfatprogs"}, {"mount.exfat-fuse", "exfat-fuse"}, {"losetup", "mount"}, {"umount", "mount"}} {
		if _, err := exec.LookPath(tool.cmd); err != nil {
			return fmt.Sprintf("%s not found: install Debian package %s", tool.cmd, tool.pkg)
		}
	}
	if os.Geteuid() != 0 {
		return "needs root to attach a loop device for exfat-fuse"
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return "needs /dev/fuse for exfat-fuse"
	}
	return ""
}

// buildExFAT makes an exFAT image with mkfs.exfat and fills it through
// exfat-fuse, which needs a block device: the image is attached to a loop
// device (so this needs root).
func buildExFAT(tb testing.TB, dir string, size int64, cluster, unit int) []byte {
	tb.Helper()
	if why := exFATMissing(); why != "" {
		need(tb, why)
	}
	img := filepath.Join(dir, "exfat.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		tb.Fatal(err)
	}
	run(tb, nil, "mkfs.exfat", "-c", fmt.Sprint(cluster), "-b", "4K", "-L", "Kommune", img)
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		need(tb, "losetup: "+strings.TrimSpace(string(out)))
	}
	loop := strings.TrimSpace(string(out))
	detached := false
	detach := func() {
		if detached {
			return
		}
		detached = true
		if out, err := exec.Command("losetup", "--detach", loop).CombinedOutput(); err != nil {
			tb.Errorf("losetup --detach %s: %v\n%s", loop, err, out)
		}
		// The detach completes once the last user closed the device.
		backing := filepath.Join("/sys/block", filepath.Base(loop), "loop/backing_file")
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(backing); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		tb.Errorf("%s still attached after 5 s", loop)
	}
	tb.Cleanup(detach)
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("mount.exfat-fuse", loop, mnt).CombinedOutput(); err != nil {
		need(tb, fmt.Sprintf("mount.exfat-fuse %s: %v: %s", loop, err, out))
	}
	mounted := true
	unmount := func() {
		if mounted {
			mounted = false
			run(tb, nil, "umount", mnt)
		}
	}
	tb.Cleanup(unmount)
	// A file written in one piece is contiguous: exfat-fuse sets
	// NoFatChain on it and leaves its FAT entries free.
	put := func(f volFile) {
		if err := os.WriteFile(filepath.Join(mnt, f.name), f.data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	put(volFile{name: "CONTIGUOUS.BIN", data: randomData("CONTIGUOUS.BIN", 3*cluster+10)})
	put(volFile{name: "A Name Longer Than Two exFAT File Name Entries.txt", data: markerData})
	fill(unit, put, func(d string) {
		if err := os.Mkdir(filepath.Join(mnt, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}, func(name string) {
		if err := os.Remove(filepath.Join(mnt, name)); err != nil {
			tb.Fatal(err)
		}
	}, nil)
	unmount()
	detach()
	data, err := os.ReadFile(img)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func fileData(files []volFile, name string) []byte {
	for _, f := range files {
		if f.name == name {
			return f.data
		}
	}
	panic("no test file " + name)
}

// lookup is one ReadRootFile call and what it must give.
type lookup struct {
	name string
	want []byte // nil: want the error
	err  error
}

// lookups are the names looked up on every volume that fill filled.
func lookups(files []volFile) []lookup {
	return []lookup{
		{name: "SONEVAKT-MARKING.txt", want: markerData},
		{name: "sonevakt-marking.TXT", want: markerData},
		{name: "MARK.TXT", want: upperData},
		{name: "mark.txt", want: upperData},
		{name: "Mark.Txt", want: upperData},
		{name: "lower.txt", want: lowerData},
		{name: "LOWER.TXT", want: lowerData},
		{name: "Sønevakt-Æble.txt", want: unicodData},
		{name: "SØNEVAKT-æBLE.TXT", want: unicodData},
		{name: "A", want: fileData(files, "A")},
		{name: "c", want: fileData(files, "C")},
		{name: "BIG", want: fileData(files, "BIG")},
		{name: "EMPTY.TXT", want: []byte{}},
		{name: "INSIDE.TXT", err: ErrNoFile},         // only in SUB
		{name: "SUB", err: ErrNoFile},                // a directory
		{name: "B", err: ErrNoFile},                  // deleted
		{name: "Deleted-Marker.txt", err: ErrNoFile}, // deleted
		{name: "SONEVAKT-MARKING", err: ErrNoFile},
		{name: "MISSING.TXT", err: ErrNoFile},
	}
}

func checkLookups(t *testing.T, data []byte, ls []lookup) {
	t.Helper()
	for _, l := range ls {
		got, err := ReadRootFile(&guardReader{t: t, data: data}, int64(len(data)), l.name, 1<<20)
		switch {
		case l.err != nil:
			if !errors.Is(err, l.err) {
				t.Errorf("ReadRootFile(%q) = %d bytes, %v; want %v", l.name, len(got), err, l.err)
			}
		case err != nil:
			t.Errorf("ReadRootFile(%q): %v", l.name, err)
		case got == nil || !bytes.Equal(got, l.want):
			t.Errorf("ReadRootFile(%q) = %d bytes %.40q, want %d bytes %.40q", l.name, len(got), got, len(l.want), l.want)
		}
	}
}

// chainOf returns the clusters of the root file name as the volume's
// structures give them.
func chainOf(t *testing.T, data []byte, name string) (rootFile, []uint32) {
	t.Helper()
	v, err := openVolume(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := v.find(name)
	if err != nil {
		t.Fatal(err)
	}
	var cs []uint32
	for c, left := f.first, f.length; left > 0; left -= v.clusterSize {
		cs = append(cs, c)
		if f.contiguous {
			c++
			continue
		}
		if c, err = v.next(c); err != nil {
			t.Fatal(err)
		}
	}
	return f, cs
}

func fragmented(cs []uint32) bool {
	for i := 1; i < len(cs); i++ {
		if cs[i] != cs[i-1]+1 {
			return true
		}
	}
	return false
}

func TestReadRootFileFAT(t *testing.T) {
	for _, fv := range fatVolumes {
		t.Run(fv.name, func(t *testing.T) {
			t.Parallel()
			data := fv.build(t, t.TempDir())
			v, err := openVolume(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if want := "FAT" + fv.bits; v.kind != want {
				t.Fatalf("openVolume(%s).kind = %s, want %s", fv.name, v.kind, want)
			}
			files := fill(fv.fillUnit(), func(volFile) {}, func(string) {}, func(string) {}, nil)
			ls := append(lookups(files),
				lookup{name: "SONEVA~1.TXT", want: markerData}, // the short alias of the long name
				lookup{name: "MUNKEY", err: ErrNoFile},         // the volume label
				lookup{name: "DELETE~1.TXT", err: ErrNoFile},   // deleted
			)
			checkLookups(t, data, ls)

			if _, cs := chainOf(t, data, "BIG"); !fragmented(cs) {
				t.Errorf("BIG on %s lies in clusters %v, want a fragmented chain", fv.name, cs)
			}
			big := fileData(files, "BIG")
			_, err = ReadRootFile(bytes.NewReader(data), int64(len(data)), "BIG", len(big)-1)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprint(len(big))) || !strings.Contains(err.Error(), fmt.Sprint(len(big)-1)) {
				t.Errorf("ReadRootFile(BIG, limit %d) error = %v, want ErrTooLarge naming both sizes", len(big)-1, err)
			}
			if got, err := ReadRootFile(bytes.NewReader(data), int64(len(data)), "BIG", len(big)); err != nil || !bytes.Equal(got, big) {
				t.Errorf("ReadRootFile(BIG, limit %d) = %d bytes, %v; want all %d bytes", len(big), len(got), err, len(big))
			}
		})
	}
}

func TestReadRootFileExFAT(t *testing.T) {
	const cluster = 4096
	data := buildExFAT(t, t.TempDir(), 8<<20, cluster, cluster)
	files := fill(cluster, func(volFile) {}, func(string) {}, func(string) {}, nil)
	contiguous := randomData("CONTIGUOUS.BIN", 3*cluster+10)
	ls := append(lookups(files),
		lookup{name: "contiguous.bin", want: contiguous},
		lookup{name: "a name longer than two exfat file name entries.TXT", want: markerData},
		lookup{name: "Kommune", err: ErrNoFile}, // the volume label
	)
	checkLookups(t, data, ls)

	if f, cs := chainOf(t, data, "BIG"); f.contiguous || !fragmented(cs) {
		t.Errorf("BIG on exFAT: contiguous %v, clusters %v; want a fragmented FAT chain", f.contiguous, cs)
	}
	if f, _ := chainOf(t, data, "CONTIGUOUS.BIN"); !f.contiguous {
		t.Errorf("CONTIGUOUS.BIN on exFAT: contiguous %v, want NoFatChain set", f.contiguous)
	}

	// A changed entry set fails its checksum: an error, not ErrNoFile.
	name := utf16le("SONEVAKT-MARKIN") // the first name entry's 15 characters
	at := bytes.Index(data, name)
	if at < 0 {
		t.Fatal("SONEVAKT-MARKING.txt not found in the exFAT image")
	}
	bad := bytes.Clone(data)
	bad[at-2-64+8]++ // the file entry's creation time
	_, err := ReadRootFile(bytes.NewReader(bad), int64(len(bad)), "SONEVAKT-MARKING.txt", 4096)
	if err == nil || errors.Is(err, ErrNoFile) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("ReadRootFile(entry set with a bad checksum) error = %v, want a checksum error", err)
	}
	checkBroken(t, data, "SONEVAKT-MARKING.txt")
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

// checkBroken reads name from cut and failing copies of a real image:
// errors, never a read past the input.
func checkBroken(t *testing.T, data []byte, name string) {
	t.Helper()
	_, cs := chainOf(t, data, name)
	v, _ := openVolume(bytes.NewReader(data), int64(len(data)))
	last := v.clusterOff(cs[len(cs)-1])
	for _, cut := range []int64{0, 100, 511, 512, 1024, v.fatOff + 2, v.heap - 1, last, last + 5} {
		_, err := ReadRootFile(&guardReader{t: t, data: data[:cut]}, cut, name, 4096)
		switch {
		case err == nil:
			t.Errorf("ReadRootFile(%s cut at %d) = nil error, want one", name, cut)
		case cut < 512 && !errors.Is(err, ErrUnsupported):
			t.Errorf("ReadRootFile(%s cut at %d) error = %v, want ErrUnsupported", name, cut, err)
		case cut >= 512 && (errors.Is(err, ErrNoFile) || !strings.Contains(err.Error(), "offset")):
			t.Errorf("ReadRootFile(%s cut at %d) error = %v, want one naming an offset", name, cut, err)
		}
	}
	for _, n := range []int64{0, 100, 600, 5000, 40000} {
		r := &failingReader{data: data, after: n}
		_, err := ReadRootFile(r, int64(len(data)), name, 4096)
		if r.failed && !errors.Is(err, errVanished) {
			t.Errorf("ReadRootFile(%s failing after %d bytes) error = %v, want %v", name, n, err, errVanished)
		}
	}
}

func TestReadRootFileBroken(t *testing.T) {
	fv := fatVolumes[1] // FAT16: two-byte FAT entries are easy to change
	data := fv.build(t, t.TempDir())
	checkBroken(t, data, "SONEVAKT-MARKING.txt")
	v, err := openVolume(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	_, cs := chainOf(t, data, "BIG")
	setFAT := func(b []byte, c, to uint32) {
		binary.LittleEndian.PutUint16(b[v.fatOff+2*int64(c):], uint16(to))
	}
	for _, tt := range []struct {
		name   string
		change func(b []byte)
		want   string
	}{
		{"loop", func(b []byte) { setFAT(b, cs[2], cs[1]) }, "loops back"},
		{"free in chain", func(b []byte) { setFAT(b, cs[1], 0) }, "free cluster"},
		{"beyond volume", func(b []byte) { setFAT(b, cs[1], 0xfff0) }, "no cluster"},
		{"ends early", func(b []byte) { setFAT(b, cs[1], 0xffff) }, "ends after"},
	} {
		b := bytes.Clone(data)
		tt.change(b)
		_, err := ReadRootFile(&guardReader{t: t, data: b}, int64(len(b)), "BIG", 1<<20)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "offset") {
			t.Errorf("ReadRootFile(BIG, %s) error = %v, want one saying %q and an offset", tt.name, err, tt.want)
		}
	}

	// A long name whose checksum does not fit its short name is an
	// orphan: the long name no longer matches, the short one still does.
	// Its two entries (ordinals 0x42 and 1) precede the short name.
	b := bytes.Clone(data)
	lfnAt := bytes.Index(b[v.rootOff:v.rootOff+v.rootLen], utf16le("SONEV")) - 1 + int(v.rootOff)
	if lfnAt < int(v.rootOff)+32 || b[lfnAt] != 1 || b[lfnAt-32] != 0x42 || b[lfnAt+11] != 0x0f || b[lfnAt-32+11] != 0x0f {
		t.Fatalf("no long name entries for SONEVAKT-MARKING.txt in the root directory (at %d)", lfnAt)
	}
	b[lfnAt+13]++
	b[lfnAt-32+13]++
	if _, err := ReadRootFile(bytes.NewReader(b), int64(len(b)), "SONEVAKT-MARKING.txt", 4096); !errors.Is(err, ErrNoFile) {
		t.Errorf("ReadRootFile(long name with a bad checksum) error = %v, want ErrNoFile", err)
	}
	if got, err := ReadRootFile(bytes.NewReader(b), int64(len(b)), "SONEVA~1.TXT", 4096); err != nil || !bytes.Equal(got, markerData) {
		t.Errorf("ReadRootFile(short name of an orphaned long name) = %q, %v; want %q", got, err, markerData)
	}
}

// TestReadRootFileFAT32: the reserved top bits of FAT32 entries are
// ignored; a root directory whose chain loops, or that runs past 65536
// entries, is an error and not an endless walk.
func TestReadRootFileFAT32(t *testing.T) {
	fv := fatVolumes[2]
	data := fv.build(t, t.TempDir())
	v, err := openVolume(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	setFAT := func(b []byte, c, to uint32) {
		binary.LittleEndian.PutUint32(b[v.fatOff+4*int64(c):], to)
	}
	// deleteRest marks the unused entries of a directory cluster deleted,
	// so that the walk does not stop at them.
	deleteRest := func(b []byte, c uint32) {
		off := v.clusterOff(c)
		for i := off; i < off+v.clusterSize; i += 32 {
			if b[i] == 0 {
				b[i] = 0xe5
			}
		}
	}

	big, cs := chainOf(t, data, "BIG")
	want, err := v.readData(big)
	if err != nil {
		t.Fatal(err)
	}
	high := bytes.Clone(data)
	for _, c := range cs {
		high[v.fatOff+4*int64(c)+3] |= 0xf0
	}
	if got, err := ReadRootFile(bytes.NewReader(high), int64(len(high)), "BIG", 1<<20); err != nil || !bytes.Equal(got, want) {
		t.Errorf("ReadRootFile(BIG with the FAT entries' top bits set) = %d bytes, %v; want %d bytes", len(got), err, len(want))
	}

	loop := bytes.Clone(data)
	deleteRest(loop, v.rootCluster)
	setFAT(loop, v.rootCluster, v.rootCluster)
	_, err = ReadRootFile(&guardReader{t: t, data: loop}, int64(len(loop)), "MISSING.TXT", 4096)
	if err == nil || !strings.Contains(err.Error(), "loops back") {
		t.Errorf("ReadRootFile(root directory chain looping) error = %v, want a loop", err)
	}

	long := bytes.Clone(data)
	deleteRest(long, v.rootCluster)
	n := uint32(maxRootEntries*32/v.clusterSize + 2)
	first := v.clusters + 1 - n // the volume's last clusters, unused
	prev := v.rootCluster
	for c := first; c < first+n; c++ {
		deleteRest(long, c)
		setFAT(long, prev, c)
		prev = c
	}
	setFAT(long, prev, 0x0fffffff)
	_, err = ReadRootFile(&guardReader{t: t, data: long}, int64(len(long)), "MISSING.TXT", 4096)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d entries", maxRootEntries)) {
		t.Errorf("ReadRootFile(root directory of %d clusters) error = %v, want the entry limit", n+1, err)
	}
}

func TestReadRootFileUnsupported(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	garbage := make([]byte, 1<<20)
	rnd.Read(garbage)
	bitlocker := make([]byte, 4096)
	copy(bitlocker[3:], "MSWIN4.1")
	copy(bitlocker[424:], bitlockerGUID)
	bitlocker[510], bitlocker[511] = 0x55, 0xaa
	inputs := map[string][]byte{
		"empty":       nil,
		"short":       []byte("EXFAT"),
		"zeros":       make([]byte, 64<<10),
		"garbage":     garbage,
		"bitlocker":   bitlocker,
		"mbr only":    append(make([]byte, 510), 0x55, 0xaa),
		"luks prefix": append([]byte("LUKS\xba\xbe\x00\x02"), make([]byte, 1024)...),
	}
	for name, data := range inputs {
		_, err := ReadRootFile(&guardReader{t: t, data: data}, int64(len(data)), "SONEVAKT.TXT", 4096)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("ReadRootFile(%s) error = %v, want ErrUnsupported", name, err)
		}
	}
	// Real volumes of other kinds, made as TestProbeRealImages makes them.
	for _, im := range images {
		switch im.name {
		case "ntfs", "ext4", "luks2", "iso9660", "udf":
		default:
			continue
		}
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			if !requireTool(t, im.tool, im.pkg) {
				t.Skipf("%s not found: install Debian package %s", im.tool, im.pkg)
			}
			data := im.build(t, t.TempDir())
			_, err := ReadRootFile(&guardReader{t: t, data: data}, int64(len(data)), "SONEVAKT.TXT", 4096)
			if !errors.Is(err, ErrUnsupported) {
				t.Errorf("ReadRootFile(%s) error = %v, want ErrUnsupported", im.name, err)
			}
		})
	}
}

func TestReadRootFileArguments(t *testing.T) {
	data := make([]byte, 4096)
	for _, name := range []string{"", ".", "..", "SUB/A.TXT", `SUB\A.TXT`} {
		if _, err := ReadRootFile(bytes.NewReader(data), 4096, name, 10); err == nil || errors.Is(err, ErrNoFile) || errors.Is(err, ErrUnsupported) {
			t.Errorf("ReadRootFile(name %q) error = %v, want a bad name", name, err)
		}
	}
	if _, err := ReadRootFile(bytes.NewReader(data), 4096, "A.TXT", -1); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("ReadRootFile(limit -1) error = %v, want a bad limit", err)
	}
}

// Small volumes for fuzz seeds: Go's fuzzer minimizes every new input it
// finds in time that grows with the square of its size, so the seeds stay
// at a few KiB. A FAT16 volume needs 4085 clusters, 8 KiB of FAT: the
// fuzzer reaches FAT16 from the FAT12 seed by changing its sector count.
var seedVolumes = []fatVolume{
	{name: "fat12-seed", bits: "12", size: 64 << 10, spc: 1, args: []string{"-f", "1", "-r", "32"}, unit: 128},
	{name: "fat32-seed", bits: "32", size: 34 << 20, spc: 1, args: []string{"-f", "1"}, unit: 128},
}

// fuzzSeeds are small real volumes: the part of each image that holds its
// structures and the files fill put there.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	dir := f.TempDir()
	_, err1 := exec.LookPath("mkfs.vfat")
	_, err2 := exec.LookPath("mcopy")
	for _, fv := range seedVolumes {
		if err1 != nil || err2 != nil {
			break
		}
		data := fv.build(f, dir)
		v, err := openVolume(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			f.Fatal(err)
		}
		if v.kind == "FAT32" {
			data = compactFAT32(data, v)
		}
		seeds = append(seeds, trimZeros(data, 512))
	}
	if exFATMissing() == "" {
		data := buildExFAT(f, dir, 1<<20, 512, 128)
		v, err := openVolume(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, compactExFAT(data, v))
	}
	return seeds
}

// trimZeros cuts the zeros at the end of data, keeping whole blocks.
func trimZeros(data []byte, block int) []byte {
	n := len(bytes.TrimRight(data, "\x00"))
	return data[:min(len(data), (n+block-1)/block*block)]
}

// usedClusters is the number of clusters up to the last one holding data.
func usedClusters(data []byte, v *volume) int64 {
	heap := trimZeros(data[v.heap:], int(v.clusterSize))
	return int64(len(heap)) / v.clusterSize
}

// compactFAT32 shrinks a real FAT32 image, whose FAT alone takes 256 KiB or
// more, to the clusters in use: the boot sector without the other reserved
// sectors, the FAT cut to the entries of the clusters in use, the data
// region cut to them. Directory entries and chains stay as they were.
func compactFAT32(data []byte, v *volume) []byte {
	keep := usedClusters(data, v) + 2
	bps := int64(binary.LittleEndian.Uint16(data[11:]))
	fatSectors := (keep*4 + bps - 1) / bps
	out := bytes.Clone(data[:bps])
	binary.LittleEndian.PutUint16(out[14:], 1) // reserved sectors
	fat := make([]byte, fatSectors*bps)
	copy(fat, data[v.fatOff:v.fatOff+keep*4])
	out = append(out, fat...)
	out = append(out, data[v.heap:v.heap+(keep-2)*v.clusterSize]...)
	out[16] = 1 // FATs
	binary.LittleEndian.PutUint32(out[36:], uint32(fatSectors))
	binary.LittleEndian.PutUint32(out[32:], uint32(int64(len(out))/bps))
	return out
}

// compactExFAT shrinks a real exFAT image, whose boot regions and
// alignment put the cluster heap 20 KiB in, to its main boot sector, one
// sector of FAT and the clusters in use.
func compactExFAT(data []byte, v *volume) []byte {
	bps := int64(1) << data[108]
	keep := min(usedClusters(data, v)+2, bps/4)
	out := make([]byte, 2*bps)
	copy(out, data[:bps])
	copy(out[bps:], data[v.fatOff:v.fatOff+keep*4])
	out = append(out, data[v.heap:v.heap+(keep-2)*v.clusterSize]...)
	binary.LittleEndian.PutUint64(out[72:], uint64(int64(len(out))/bps)) // VolumeLength
	binary.LittleEndian.PutUint32(out[80:], 1)                           // FatOffset
	binary.LittleEndian.PutUint32(out[84:], 1)                           // FatLength
	binary.LittleEndian.PutUint32(out[88:], 2)                           // ClusterHeapOffset
	binary.LittleEndian.PutUint32(out[92:], uint32(keep-2))              // ClusterCount
	out[106] &^= 1                                                       // the first FAT is active
	out[110] = 1                                                         // NumberOfFats
	return out
}

func FuzzReadRootFile(f *testing.F) {
	seeds := fuzzSeeds(f)
	if len(seeds) == 0 {
		fat := make([]byte, 1024)
		copy(fat[3:], "MSDOS5.0")
		fat[11], fat[13], fat[14], fat[16], fat[17], fat[19], fat[21], fat[22] = 0, 1, 1, 2, 16, 2, 0xf0, 1
		fat[12], fat[510], fat[511] = 2, 0x55, 0xaa
		seeds = append(seeds, fat)
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"SONEVAKT-MARKING.txt", "BIG", "sønevakt-æble.TXT"} {
			for _, size := range []int64{int64(len(data)), int64(len(data)) / 2} {
				got, err := readRootFile(&guardReader{t: t, data: data[:size]}, size, name, 2048)
				if err == nil && len(got) > 2048 {
					t.Errorf("readRootFile(%d bytes, %q) = %d bytes, beyond the limit of 2048", size, name, len(got))
				}
				if err != nil && (got != nil || err.Error() == "") {
					t.Errorf("readRootFile(%d bytes, %q) = %d bytes, error %q", size, name, len(got), err)
				}
			}
		}
	})
}
