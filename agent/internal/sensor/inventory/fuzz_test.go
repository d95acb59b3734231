package inventory

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// addFiles adds the named testdata files to the corpus, each cut to max
// bytes (a whole status file is slow to mutate).
func addFiles(f *testing.F, max int, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatalf("seed: %v", err)
		}
		if len(b) > max {
			b = b[:max]
		}
		f.Add(b)
	}
}

// cleanText reports whether s is UTF-8 without control characters: what the
// collector may show and store.
func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

var dpkgWarning = regexp.MustCompile(`^status:([0-9]+): `)

// FuzzDpkgStatus reads arbitrary bytes as a dpkg status file (and as a
// status.d file): every package emitted has a name from a Package field and,
// when installed, a version; every warning names the file and a line of it.
func FuzzDpkgStatus(f *testing.F) {
	addFiles(f, 6<<10, "testdata/software/ubuntu1804/status", "testdata/software/syft/status.d/corrupt",
		"testdata/software/syft/status.d/deinstall", "testdata/software/syft/status.d/multiple")
	f.Add([]byte("Package: a\nStatus: install ok installed\nVersion: 1:2.3-4\nArchitecture: amd64\n\n Package: b\n"))
	f.Add([]byte("Package: a\nPackage: a\n\nVersion: x y\nStatus: install ok installed\nPackage: c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, statusD := range []bool{false, true} {
			var warns []string
			p := &dpkgParser{file: "status", statusD: statusD, warn: func(format string, args ...any) {
				warns = append(warns, fmt.Sprintf(format, args...))
			}, strs: map[string]string{}}
			var pkgs []wire.Package
			if err := p.parse(bytes.NewReader(data), func(pkg wire.Package, installed bool) {
				if !installed {
					t.Fatalf("package %q not installed emitted without all", pkg.Name)
				}
				pkgs = append(pkgs, pkg)
			}); err != nil {
				t.Fatalf("parse from memory: %v", err)
			}
			for _, w := range warns {
				m := dpkgWarning.FindStringSubmatch(w)
				if m == nil {
					t.Fatalf("warning does not name file and line: %q", w)
				}
				if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
					t.Fatalf("warning names line %d of %d: %q", n, lines, w)
				}
			}
			for _, pkg := range pkgs {
				if pkg.Name == "" || pkg.Version == "" || pkg.Source != "dpkg" {
					t.Fatalf("package without name or version: %+v", pkg)
				}
				if strings.ContainsAny(pkg.Name+pkg.Version+pkg.Arch, "\n") || !bytes.Contains(data, []byte(pkg.Name)) {
					t.Fatalf("package fields not from one line of the input: %+v", pkg)
				}
			}
			if len(pkgs) > bytes.Count(data, []byte(":")) {
				t.Fatalf("%d packages from %d fields", len(pkgs), bytes.Count(data, []byte(":")))
			}
		}
	})
}

// FuzzRPMQuery reads arbitrary bytes as `rpm -qa --queryformat` output:
// every record becomes a package or a warning naming it, never both, and
// no field carries a separator.
func FuzzRPMQuery(f *testing.F) {
	addFiles(f, 4<<10, "testdata/software/rpm-qa-al2023.out")
	f.Add([]byte("bash\x1f(none)\x1f5.2\x1f1.amzn\x1fx86_64\x1fAmazon\x1f1700000000\x1ezsh\x1f1\x1f5\x1f(none)\x1f(none)\x1f(none)\x1f(none)\x1e"))
	f.Add([]byte("a\x1fb\x1e\x1e\x1fx\x1f\x1f\x1f\x1f\x1f\x1fz\x1e"))
	f.Fuzz(func(t *testing.T, data []byte) {
		warned := 0
		pkgs := parseRPMQuery(data, "rpm -qa", func(format string, args ...any) {
			w := fmt.Sprintf(format, args...)
			if !strings.HasPrefix(w, "rpm -qa: record ") {
				t.Fatalf("warning does not name the record: %q", w)
			}
			if !strings.Contains(w, "install time") { // kept, with a warning
				warned++
			}
		})
		records := bytes.Count(data, []byte{0x1e})
		if len(data) > 0 && data[len(data)-1] != 0x1e {
			records++
		}
		if len(pkgs)+warned != records {
			t.Fatalf("%d packages and %d skipped of %d records", len(pkgs), warned, records)
		}
		for _, p := range pkgs {
			if p.Name == "" || p.Source != "rpm" || strings.ContainsAny(p.Name+p.Version+p.Arch+p.Publisher, "\x1e\x1f") {
				t.Fatalf("bad package %+v", p)
			}
		}
	})
}

// FuzzSMBIOS reads arbitrary bytes as a raw SMBIOS table (Windows'
// GetSystemFirmwareTable): the strings it yields are clean text.
func FuzzSMBIOS(f *testing.F) {
	f.Add(rawSMBIOS(3, 3, r6515BIOS, r6515System(r6515UUID), r6515Board, r6515Chassis, smbiosEnd))
	f.Add(rawSMBIOS(2, 4, r6515System(r6515UUID, "Vendor\x01", "\xff\xfeModel", "  ", "x"), smbiosEnd))
	f.Add(rawSMBIOS(3, 0, smbiosStruct(1, []byte{9, 9, 9, 9}, "a")))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := parseSMBIOSSystem(raw)
		if err != nil && !strings.HasPrefix(err.Error(), "smbios ") {
			t.Fatalf("error does not say what: %v", err)
		}
		for _, v := range []string{s.Vendor, s.Model, s.Serial, s.UUID, s.BIOSVendor, s.BIOSVersion, s.BoardSerial, s.AssetTag, s.Chassis} {
			if !cleanText(v) || v != strings.TrimSpace(v) {
				t.Fatalf("unclean value %q in %+v", v, s)
			}
		}
		if s.UUID != "" && len(s.UUID) != 36 {
			t.Fatalf("UUID %q", s.UUID)
		}
	})
}

// FuzzUtmp reads arbitrary bytes as a utmp file in both layouts: whole
// records and the trailing bytes account for the whole file.
func FuzzUtmp(f *testing.F) {
	rec := make([]byte, utmpTime64.size)
	binary.LittleEndian.PutUint16(rec, 7)
	copy(rec[utmpLineOff:], "pts/0")
	copy(rec[utmpUserOff:], "kari")
	copy(rec[utmpHostOff:], "10.0.0.5")
	f.Add(rec)
	f.Add(append(rec[:utmpTime32.size:utmpTime32.size], 1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, l := range []utmpLayout{utmpTime32, utmpTime64, utmpLayoutFor("arm64", len(b))} {
			es, trailing := parseUtmp(b, l)
			if len(es)*l.size+trailing != len(b) || trailing >= l.size {
				t.Fatalf("%d records of %d and %d trailing bytes from %d", len(es), l.size, trailing, len(b))
			}
			for _, e := range es {
				if strings.ContainsRune(e.line+e.user+e.host, 0) {
					t.Fatalf("NUL in %+v", e)
				}
			}
		}
	})
}

// FuzzUSBIDs reads arbitrary bytes as usb.ids: the tables are sorted, every
// name lies inside the names, and every vendor listed is found by lookup.
func FuzzUSBIDs(f *testing.F) {
	f.Add([]byte("# comment\n0781  SanDisk Corp.\n\t5583  Ultra Fit\n\t\t0000  interface\n090c  Silicon Motion\n\t1000  Flash Drive\nC 00  (Defined at Interface level)\n"))
	f.Add([]byte("0781  A\r\n\t5583  B\r\n0781  dup\nzzzz  x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		u := &usbIDs{}
		u.once.Do(func() {}) // parsed here, never loaded from disk
		u.parse(b)
		for _, tab := range [][]usbIDEntry{u.vendors, u.products} {
			for i, e := range tab {
				if e.off > e.end || int(e.end) > len(u.names) || e.off == e.end {
					t.Fatalf("entry %+v outside names of %d bytes", e, len(u.names))
				}
				if i > 0 && tab[i-1].id > e.id {
					t.Fatalf("table not sorted at %d", i)
				}
			}
		}
		for _, e := range u.vendors {
			if v, _ := u.lookup(uint16(e.id), 0); v == "" {
				t.Fatalf("vendor %04x listed but not found", e.id)
			}
		}
		for _, e := range u.products {
			if _, p := u.lookup(uint16(e.id>>16), uint16(e.id)); p == "" {
				t.Fatalf("product %08x listed but not found", e.id)
			}
		}
	})
}

// FuzzLogindSession reads arbitrary bytes as a logind session file:
// warnings name the file and line.
func FuzzLogindSession(f *testing.F) {
	for _, id := range []string{"2", "14", "c1"} {
		addFiles(f, 4<<10, "testdata/accounts/logind/"+id)
	}
	f.Add([]byte("USER=kari\nTTY=/dev/tty1\nREALTIME=x\nnonsense\nREMOTE_HOST=\\x41\\\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := bytes.Count(b, []byte("\n")) + 1
		s := parseLogindSession("7", b, "sessions/7", func(format string, args ...any) {
			w := fmt.Sprintf(format, args...)
			rest, ok := strings.CutPrefix(w, "sessions/7:")
			n, err := strconv.Atoi(strings.SplitN(rest, ":", 2)[0])
			if !ok || err != nil || n < 1 || n > lines {
				t.Fatalf("warning %q does not name a line of %d", w, lines)
			}
		})
		if s.id != "7" || strings.HasPrefix(s.tty, "/dev/") {
			t.Fatalf("session %+v", s)
		}
	})
}

// FuzzSystemctl reads arbitrary bytes as systemctl's list-units and
// list-unit-files output: units have a name with a dot and the four columns.
func FuzzSystemctl(f *testing.F) {
	addFiles(f, 4<<10, "testdata/accounts/systemctl/list-units.txt", "testdata/accounts/systemctl/list-unit-files.txt")
	f.Add([]byte("● a.service not-found inactive dead a.service\n* b.service loaded failed failed B\nnodot x y z\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		warn := func(format string, args ...any) {
			if w := fmt.Sprintf(format, args...); !strings.HasPrefix(w, "systemctl ") {
				t.Fatalf("warning does not say what: %q", w)
			}
		}
		units := parseListUnits(b, warn)
		for _, u := range units {
			if !strings.Contains(u.name, ".") || u.sub == "" || strings.ContainsAny(u.name+u.load+u.active+u.sub, " \n") {
				t.Fatalf("unit %+v", u)
			}
		}
		files := parseListUnitFiles(b, warn)
		svcs := systemdServices(units, files)
		if len(svcs) > len(units)+len(files) {
			t.Fatalf("%d services from %d units and %d unit files", len(svcs), len(units), len(files))
		}
		names := map[string]bool{}
		for _, s := range svcs {
			if names[s.Name] || s.Name == "" {
				t.Fatalf("service %q twice or unnamed", s.Name)
			}
			names[s.Name] = true
		}
	})
}

// FuzzWindowsBuffers decodes arbitrary bytes as each Windows structure the
// inventory reads (storage descriptor, drive layout, volume extents, drive
// geometry, WTSINFOW, SID, USB instance id): results stay inside the buffer.
func FuzzWindowsBuffers(f *testing.F) {
	f.Add(uint8(0), storageDescriptor("SAMSUNG", "SSD 870", "S5Y1NX0R", 11, false))
	f.Add(uint8(1), driveLayout(partitionStyleGPT, layoutEntry{number: 1, offset: 1 << 20, length: 1 << 30, gptType: gptBasicData}))
	f.Add(uint8(2), volumeExtents(diskExtent{disk: 0, offset: 1 << 20, length: 1 << 30}))
	f.Add(uint8(3), diskGeometryEx(1<<40, 512))
	f.Add(uint8(4), wtsInfoBytes(0, 1, "Console", "KOMMUNE", "kari", time.Unix(1700000000, 0)))
	f.Add(uint8(5), []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0xf4, 1, 0, 0})
	f.Add(uint8(6), []byte(`USB\VID_0781&PID_5583&MI_00\4C530001`))
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		switch which % 7 {
		case 0:
			d, err := parseStorageDevice(b)
			if err == nil && len(d.vendor)+len(d.product)+len(d.serial) > 3*len(b) {
				t.Fatalf("strings longer than the buffer: %+v", d)
			}
		case 1:
			ps, err := parseDriveLayoutEx(b)
			if err == nil && driveLayoutHeader+len(ps)*partitionInfoSize > len(b) {
				t.Fatalf("%d partitions from %d bytes", len(ps), len(b))
			}
		case 2:
			es, err := parseVolumeDiskExtents(b)
			if err == nil && 8+24*len(es) > len(b) {
				t.Fatalf("%d extents from %d bytes", len(es), len(b))
			}
		case 3:
			_, _, _ = parseDiskGeometryEx(b)
		case 4:
			w, err := parseWTSInfo(b)
			if err == nil && !utf8.ValidString(w.station+w.domain+w.user) {
				t.Fatalf("WTS strings not UTF-8: %+v", w)
			}
		case 5:
			s, err := winFormatSID(b)
			if err == nil {
				if !strings.HasPrefix(s, "S-") || strings.Count(s, "-") != 2+int(b[1]) {
					t.Fatalf("SID %q from %x", s, b)
				}
			}
		case 6:
			_, _ = parseUSBInstanceID(string(b))
		}
	})
}
