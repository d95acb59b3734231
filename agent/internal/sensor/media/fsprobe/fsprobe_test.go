package fsprobe

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// image is a real filesystem image built with Debian's tools.
type image struct {
	name    string
	pkg     string   // Debian package holding tool
	tool    string   // command that must be on PATH
	size    int64    // size of the sparse file made first; 0 for tools that make their own
	args    []string // arguments; the image path is appended
	want    Facts
	anyUUID string // regexp the UUID must match when want.UUID is ""
	// headerOnly is the byte count after which the format records no
	// size: a cut past it still reads right (LUKS1 names no device size).
	headerOnly int64
}

var images = []image{
	{name: "fat12", pkg: "dosfstools", tool: "mkfs.vfat", size: 1440 << 10,
		args: []string{"mkfs.vfat", "-F", "12", "-n", "MUNKEY", "-i", "1234ABCD"},
		want: Facts{FSType: "vfat", Label: "MUNKEY", UUID: "1234-ABCD", Encrypted: "no"}},
	{name: "fat16", pkg: "dosfstools", tool: "mkfs.vfat", size: 32 << 20,
		args: []string{"mkfs.vfat", "-F", "16", "-n", "MUNKEY", "-i", "0A0B0C0D"},
		want: Facts{FSType: "vfat", Label: "MUNKEY", UUID: "0A0B-0C0D", Encrypted: "no"}},
	{name: "fat32", pkg: "dosfstools", tool: "mkfs.vfat", size: 64 << 20,
		args: []string{"mkfs.vfat", "-F", "32", "-n", "MUNKEY", "-i", "DEADBEEF"},
		want: Facts{FSType: "vfat", Label: "MUNKEY", UUID: "DEAD-BEEF", Encrypted: "no"}},
	{name: "fat16-nolabel", pkg: "dosfstools", tool: "mkfs.vfat", size: 16 << 20,
		args: []string{"mkfs.vfat", "-F", "16", "-i", "00000001"},
		want: Facts{FSType: "vfat", Label: "", UUID: "0000-0001", Encrypted: "no"}},
	{name: "exfat", pkg: "exfatprogs", tool: "mkfs.exfat", size: 16 << 20,
		args: []string{"mkfs.exfat", "-L", "Kommune"},
		want: Facts{FSType: "exfat", Label: "Kommune", Encrypted: "no"}, anyUUID: `^[0-9A-F]{4}-[0-9A-F]{4}$`},
	{name: "ntfs", pkg: "ntfs-3g", tool: "mkfs.ntfs", size: 16 << 20,
		args: []string{"mkfs.ntfs", "-F", "-f", "-q", "-L", "Sønevakt NTFS"},
		want: Facts{FSType: "ntfs", Label: "Sønevakt NTFS", Encrypted: "no"}, anyUUID: `^[0-9A-F]{16}$`},
	{name: "ext2", pkg: "e2fsprogs", tool: "mkfs.ext2", size: 8 << 20,
		args: []string{"mkfs.ext2", "-q", "-F", "-L", "plain2", "-U", "11111111-2222-3333-4444-555555555555"},
		want: Facts{FSType: "ext2", Label: "plain2", UUID: "11111111-2222-3333-4444-555555555555", Encrypted: "no"}},
	{name: "ext3", pkg: "e2fsprogs", tool: "mkfs.ext3", size: 16 << 20,
		args: []string{"mkfs.ext3", "-q", "-F", "-L", "journal3", "-U", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"},
		want: Facts{FSType: "ext3", Label: "journal3", UUID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", Encrypted: "no"}},
	{name: "ext4", pkg: "e2fsprogs", tool: "mkfs.ext4", size: 16 << 20,
		args: []string{"mkfs.ext4", "-q", "-F", "-L", "MUNKEY-EXT4", "-U", "0f0e0d0c-0b0a-0908-0706-050403020100"},
		want: Facts{FSType: "ext4", Label: "MUNKEY-EXT4", UUID: "0f0e0d0c-0b0a-0908-0706-050403020100", Encrypted: "no"}},
	{name: "iso9660", pkg: "genisoimage", tool: "genisoimage",
		args: []string{"genisoimage", "-quiet", "-V", "MUNKEY_CD", "-o"},
		want: Facts{FSType: "iso9660", Label: "MUNKEY_CD", Encrypted: "no"}},
	{name: "iso9660-joliet", pkg: "genisoimage", tool: "genisoimage",
		args: []string{"genisoimage", "-quiet", "-J", "-V", "Munkey Joliet", "-o"},
		want: Facts{FSType: "iso9660", Label: "Munkey Joliet", Encrypted: "no"}},
	{name: "udf", pkg: "udftools", tool: "mkudffs", size: 16 << 20,
		args: []string{"mkudffs", "--label=MunkeyUDF"},
		want: Facts{FSType: "udf", Label: "MunkeyUDF", Encrypted: "no"}},
	{name: "luks1", pkg: "cryptsetup-bin", tool: "cryptsetup", size: 20 << 20,
		args: []string{"cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--pbkdf-force-iterations", "1000",
			"--uuid", "6d3f5a1e-0000-4000-8000-00000000a001", "--key-file", "@KEY@"},
		want:       Facts{FSType: "crypto_LUKS", UUID: "6d3f5a1e-0000-4000-8000-00000000a001", Encrypted: "yes", Encryption: "luks1"},
		headerOnly: 2 << 20},
	{name: "luks2", pkg: "cryptsetup-bin", tool: "cryptsetup", size: 20 << 20,
		args: []string{"cryptsetup", "luksFormat", "--type", "luks2", "--batch-mode", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
			"--label", "Munkey LUKS", "--uuid", "6d3f5a1e-0000-4000-8000-00000000a002", "--key-file", "@KEY@"},
		want: Facts{FSType: "crypto_LUKS", Label: "Munkey LUKS", UUID: "6d3f5a1e-0000-4000-8000-00000000a002", Encrypted: "yes", Encryption: "luks2"}},
}

// requireTool skips (or, under CI=true, fails) when tool is missing.
func requireTool(tb testing.TB, tool, pkg string) bool {
	tb.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s not found: install Debian package %s", tool, pkg)
		}
		tb.Logf("skipping: %s not found (Debian package %s)", tool, pkg)
		return false
	}
	return true
}

// build makes im in dir and returns its bytes.
func (im image) build(tb testing.TB, dir string) []byte {
	tb.Helper()
	path := filepath.Join(dir, im.name+".img")
	args := append([]string(nil), im.args...)
	for i, a := range args {
		if a == "@KEY@" {
			key := filepath.Join(dir, im.name+".key")
			if err := os.WriteFile(key, []byte("correct horse battery staple"), 0o600); err != nil {
				tb.Fatal(err)
			}
			args[i] = key
		}
	}
	if im.size > 0 {
		fh, err := os.Create(path)
		if err != nil {
			tb.Fatal(err)
		}
		if err := fh.Truncate(im.size); err != nil {
			tb.Fatal(err)
		}
		fh.Close()
	}
	args = append(args, path)
	if im.tool == "genisoimage" {
		src := filepath.Join(dir, im.name+"-src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "readme.txt"), []byte("hello\n"), 0o644); err != nil {
			tb.Fatal(err)
		}
		args = append(args, src)
	}
	cmd := exec.Command(args[0], args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%v: %v\n%s", args, err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestProbeRealImages(t *testing.T) {
	for _, im := range images {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			if !requireTool(t, im.tool, im.pkg) {
				t.Skipf("%s not found: install Debian package %s", im.tool, im.pkg)
			}
			data := im.build(t, t.TempDir())
			got := Probe(bytes.NewReader(data), int64(len(data)))
			checkFacts(t, im, got)

			for _, cut := range []int64{0, 511, 1024, 2048, 4096, int64(len(data) / 2)} {
				f := Probe(&guardReader{t: t, data: data[:cut]}, cut)
				if im.headerOnly > 0 && cut >= im.headerOnly {
					checkFacts(t, im, f)
					continue
				}
				if len(f.Problems) == 0 && f.FSType != "" {
					t.Errorf("Probe(%s cut at %d) = %+v, want Problems or FSType \"\"", im.name, cut, f)
				}
				if f.Encrypted == "" {
					t.Errorf("Probe(%s cut at %d).Encrypted = \"\", want yes, no or unknown", im.name, cut)
				}
			}
			for _, n := range []int64{0, 100, 600, 1500, 5000, 40000} {
				r := &failingReader{data: data, after: n}
				f := Probe(r, int64(len(data)))
				if r.failed && len(f.Problems) == 0 {
					t.Errorf("Probe(%s failing after %d bytes) = %+v, want Problems", im.name, n, f)
				}
			}
		})
	}
}

func checkFacts(t *testing.T, im image, got Facts) {
	t.Helper()
	if len(got.Problems) != 0 {
		t.Errorf("Probe(%s).Problems = %q, want none", im.name, got.Problems)
	}
	if got.FSType != im.want.FSType || got.Label != im.want.Label || got.Encrypted != im.want.Encrypted || got.Encryption != im.want.Encryption {
		t.Errorf("Probe(%s) = %+v, want %+v", im.name, got, im.want)
	}
	if im.anyUUID != "" {
		if !regexp.MustCompile(im.anyUUID).MatchString(got.UUID) {
			t.Errorf("Probe(%s).UUID = %q, want match for %s", im.name, got.UUID, im.anyUUID)
		}
	} else if got.UUID != im.want.UUID {
		t.Errorf("Probe(%s).UUID = %q, want %q", im.name, got.UUID, im.want.UUID)
	}
}

func TestProbeBitLocker(t *testing.T) {
	vista := make([]byte, 4096)
	copy(vista[3:], "-FVE-FS-")
	vista[510], vista[511] = 0x55, 0xaa
	togo := make([]byte, 4096)
	copy(togo[3:], "MSWIN4.1")
	copy(togo[424:], bitlockerGUID)
	togo[510], togo[511] = 0x55, 0xaa
	want := Facts{FSType: "bitlocker", Encrypted: "yes", Encryption: "bitlocker"}
	for _, tt := range []struct {
		name string
		data []byte
	}{{"fve-fs", vista}, {"to-go", togo}} {
		got := Probe(bytes.NewReader(tt.data), int64(len(tt.data)))
		if got.FSType != want.FSType || got.Encrypted != want.Encrypted || got.Encryption != want.Encryption || len(got.Problems) != 0 {
			t.Errorf("Probe(%s) = %+v, want %+v", tt.name, got, want)
		}
	}
}

func TestProbeBadInput(t *testing.T) {
	rnd := rand.New(rand.NewSource(4))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		rnd.Read(b)
		return b
	}
	for _, tt := range []struct {
		name string
		data []byte
		size int64
	}{
		{"empty", nil, 0},
		{"negative size", nil, -1},
		{"zeros", make([]byte, 64<<10), 64 << 10},
		{"garbage 512", garbage(512), 512},
		{"garbage 1 MiB", garbage(1 << 20), 1 << 20},
		{"size beyond data", []byte("LUKS\xba\xbe\x00\x02"), 1 << 20},
		{"fat signature only", append(make([]byte, 510), 0x55, 0xaa), 512},
		{"ext magic only", append(make([]byte, 1024+0x38), 0x53, 0xef), 1024 + 0x3a},
		{"iso magic only", append(make([]byte, 32769), []byte("CD001")...), 32774},
		{"ntfs oem only", append([]byte{0xeb, 0x52, 0x90}, []byte("NTFS    ")...), 11},
	} {
		got := Probe(bytes.NewReader(tt.data), tt.size)
		if len(got.Problems) == 0 && got.FSType != "" {
			t.Errorf("Probe(%s) = %+v, want Problems or FSType \"\"", tt.name, got)
		}
		if got.FSType == "" && got.Encrypted != "unknown" {
			t.Errorf("Probe(%s).Encrypted = %q, want unknown", tt.name, got.Encrypted)
		}
	}
}

func FuzzProbe(f *testing.F) {
	seeded := false
	dir := f.TempDir()
	for _, im := range images {
		if _, err := exec.LookPath(im.tool); err != nil {
			continue
		}
		data := im.build(f, dir)
		// Headers only: boot sectors and superblocks sit in the first
		// 4 KiB, the ISO 9660 and UDF descriptors from 32 KiB.
		keep := 4 << 10
		if im.tool == "genisoimage" || im.tool == "mkudffs" {
			keep = 36 << 10
		}
		data = data[:min(keep, len(data))]
		f.Add(data)
		seeded = true
	}
	if !seeded {
		luks := append([]byte("LUKS\xba\xbe\x00\x02"), make([]byte, 600)...)
		fat := make([]byte, 512)
		copy(fat[3:], "MSDOS5.0")
		fat[11], fat[13], fat[14], fat[16], fat[17], fat[19], fat[21], fat[22] = 0, 1, 1, 2, 224, 0x40, 0xf0, 9
		fat[12], fat[510], fat[511] = 2, 0x55, 0xaa
		ntfs := make([]byte, 1024)
		copy(ntfs[3:], "NTFS    ")
		ntfs[12], ntfs[13], ntfs[0x30], ntfs[0x40] = 2, 1, 1, 0xf6
		f.Add(luks)
		f.Add(fat)
		f.Add(ntfs)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, size := range []int64{int64(len(data)), int64(len(data)) / 2} {
			got := Probe(&guardReader{t: t, data: data[:size]}, size)
			switch got.Encrypted {
			case "yes", "no", "unknown":
			default:
				t.Errorf("Probe(%d bytes).Encrypted = %q, want yes, no or unknown", size, got.Encrypted)
			}
		}
	})
}

// guardReader fails the test when Probe reads past the input.
type guardReader struct {
	t    testing.TB
	data []byte
}

func (g *guardReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(g.data)) {
		g.t.Errorf("ReadAt(%d bytes, off %d) past input of %d bytes", len(p), off, len(g.data))
		if off < 0 || off >= int64(len(g.data)) {
			return 0, io.EOF
		}
	}
	return bytes.NewReader(g.data).ReadAt(p, off)
}

var errVanished = errors.New("device vanished")

// failingReader serves after bytes in total, then fails like a medium
// pulled out mid-read.
type failingReader struct {
	data   []byte
	after  int64
	served int64
	failed bool
}

func (r *failingReader) ReadAt(p []byte, off int64) (int, error) {
	left := r.after - r.served
	if left <= 0 {
		r.failed = true
		return 0, errVanished
	}
	n := len(p)
	if int64(n) > left {
		n = int(left)
	}
	k, _ := bytes.NewReader(r.data).ReadAt(p[:n], off)
	r.served += int64(k)
	if k < len(p) {
		r.failed = true
		return k, errVanished
	}
	return k, nil
}
