package inventory

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// swRPMListing returns the packages of a go-rpmdb packages.csv, a real rpm -qa
// listing whose fields are split by ¶: EPOCH, NAME, VERSION, RELEASE, ARCH,
// SOURCERPM, SIZE, LICENSE, VENDOR, SUMMARY, SIGMD5. Lines as swLines renders
// them.
func swRPMListing(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "software", dir, "packages.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []wire.Package
	for l := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimSuffix(l, "\n"), "¶")
		if len(f) != 11 {
			t.Fatalf("%s: %d fields in %q", dir, len(f), l)
		}
		v := f[2] + "-" + f[3]
		if f[0] != "" {
			v = f[0] + ":" + v
		}
		pkgs = append(pkgs, wire.Package{Source: "rpm", Name: f[1], Version: v, Arch: f[4], Publisher: f[8]})
	}
	return swLines(pkgs, true)
}

// swRPMCopy copies the database directory testdata/software/<dir> to a
// temporary directory and returns it: rpm writes beside a database it reads
// (SQLite's -shm and -wal files), and testdata stays as it came.
func swRPMCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(filepath.Join("testdata", "software", dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "packages.csv" {
			swCopyFile(t, filepath.Join("testdata", "software", dir, e.Name()), filepath.Join(dst, e.Name()))
		}
	}
	return dst
}

// The recorded output of Debian's rpm 4.18 on Amazon Linux 2023's database,
// with our query format, parsed: the same packages as that machine's own rpm
// -qa listed. Runs without rpm installed.
func TestParseRPMQueryRecorded(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "software", "rpm-qa-al2023.out"))
	if err != nil {
		t.Fatalf("%v (TestRPMSQLite -update-software records it)", err)
	}
	var w swWarnings
	pkgs := parseRPMQuery(out, "rpm -qa", w.warn)
	if len(w.msgs) != 0 {
		t.Errorf("warnings: %q", w.msgs)
	}
	want := swRPMListing(t, "rpmdb-al2023")
	if got := swLines(pkgs, true); !slices.Equal(got, want) {
		t.Errorf("packages differ from packages.csv:%s", swDiff(got, want))
	}
	for _, p := range pkgs {
		if p.InstallDate == 0 && p.Name != "gpg-pubkey" {
			t.Errorf("%s has no install date", p.Name)
		}
	}
}

func TestParseRPMQuery(t *testing.T) {
	rec := func(f ...string) string { return strings.Join(f, "\x1f") + "\x1e" }
	out := rec("gpg-pubkey", "(none)", "d832c631", "63977702", "(none)", "(none)", "1692921925") +
		rec("openssl-libs", "1", "3.0.8", "1.amzn2023.0.4", "x86_64", "Amazon Linux", "1692921925") +
		rec("short", "(none)", "1") +
		rec("odd-time", "(none)", "1", "2", "noarch", "V", "yesterday") +
		rec("", "(none)", "1", "2", "noarch", "V", "1") +
		rec("no-release", "(none)", "1", "(none)", "noarch", "(none)", "(none)")
	var w swWarnings
	got := parseRPMQuery([]byte(out), "rpm -qa", w.warn)
	want := []wire.Package{
		{Name: "gpg-pubkey", Version: "d832c631-63977702", Source: "rpm", InstallDate: 1692921925},
		{Name: "openssl-libs", Version: "1:3.0.8-1.amzn2023.0.4", Arch: "x86_64", Source: "rpm", Publisher: "Amazon Linux", InstallDate: 1692921925},
		{Name: "odd-time", Version: "1-2", Arch: "noarch", Source: "rpm", Publisher: "V"},
		{Name: "no-release", Version: "1", Arch: "noarch", Source: "rpm"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseRPMQuery =\n%+v\nwant\n%+v", got, want)
	}
	wantWarn := []string{
		"rpm -qa: record 3: 3 fields, want 7; skipped",
		`rpm -qa: record 4: package odd-time: install time "yesterday" is not a number`,
		"rpm -qa: record 5: no package name; skipped",
	}
	if !slices.Equal(w.msgs, wantWarn) {
		t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(w.msgs, "\n"), strings.Join(wantWarn, "\n"))
	}
}

// Debian's rpm reads Amazon Linux 2023's SQLite database: the packages are
// those Amazon Linux's own rpm -qa listed.
func TestRPMSQLite(t *testing.T) {
	bin := swRequireTool(t, "rpm", "rpm")
	dir := swRPMCopy(t, "rpmdb-al2023")
	var w swWarnings
	pkgs, err := rpmDB{bin: bin, dbpath: dir}.packages(t.Context(), w.warn)
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	if len(w.msgs) != 0 {
		t.Errorf("warnings: %q", w.msgs)
	}
	want := swRPMListing(t, "rpmdb-al2023")
	if got := swLines(pkgs, true); !slices.Equal(got, want) {
		t.Errorf("packages differ from packages.csv:%s", swDiff(got, want))
	}
	// The recording TestParseRPMQueryRecorded reads is this run's output.
	cmd := exec.Command(bin, "--dbpath", dir, "-qa", "--queryformat", rpmQueryFormat)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("testdata", "software", "rpm-qa-al2023.out")
	if *updateSoftware {
		if err := os.WriteFile(file, out, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if rec, err := os.ReadFile(file); err != nil || !bytes.Equal(rec, out) {
		t.Errorf("%s is not what rpm prints now (%v): rerun with -update-software", file, err)
	}
}

// Debian's rpm reads a BerkeleyDB database (through its read-only bdb_ro
// backend, chosen by the file it finds): one package, libuuid from RHEL 8.8,
// as its header reads.
func TestRPMBerkeleyDB(t *testing.T) {
	bin := swRequireTool(t, "rpm", "rpm")
	dir := swRPMCopy(t, "rpmdb-libuuid")
	var w swWarnings
	pkgs, err := rpmDB{bin: bin, dbpath: dir}.packages(t.Context(), w.warn)
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	want := []wire.Package{{Name: "libuuid", Version: "2.32.1-42.el8_8", Arch: "x86_64", Source: "rpm",
		Publisher: "Red Hat, Inc.", InstallDate: 1696444673}}
	if !slices.Equal(pkgs, want) {
		t.Errorf("packages = %+v, want %+v", pkgs, want)
	}
	if len(w.msgs) != 0 {
		t.Errorf("warnings: %q", w.msgs)
	}
}

// SUSE's NDB database. Debian's rpm 4.18 is built without the ndb backend
// (its librpm knows sqlite, bdb_ro and dummy only): asked for ndb it falls
// back to the dummy database, lists nothing and says "using dummy database".
// The test then skips; with an rpm that has ndb (SUSE's own), it runs.
func TestRPMNDB(t *testing.T) {
	bin := swRequireTool(t, "rpm", "rpm")
	dir := swRPMCopy(t, "rpmdb-sle15")
	probe := exec.Command(bin, "--dbpath", dir, "--define", "_db_backend ndb", "-qa")
	probe.Env = append(os.Environ(), "LC_ALL=C")
	out, _ := probe.CombinedOutput()
	if bytes.Contains(out, []byte("dummy database")) {
		t.Skipf("this rpm has no NDB backend (%s): SUSE's NDB databases are read by SUSE's rpm", strings.TrimSpace(string(out)))
	}
	var w swWarnings
	pkgs, err := rpmDB{bin: bin, dbpath: dir, backend: "ndb"}.packages(t.Context(), w.warn)
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	want := swRPMListing(t, "rpmdb-sle15")
	if got := swLines(pkgs, true); !slices.Equal(got, want) {
		t.Errorf("packages differ from packages.csv:%s", swDiff(got, want))
	}
}

// An rpm that hangs is stopped when the context ends.
func TestRPMTimeout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a shell script")
	}
	bin := filepath.Join(t.TempDir(), "rpm")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := rpmDB{bin: bin, dbpath: t.TempDir()}.packages(ctx, func(string, ...any) {})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("packages with a hanging rpm = %v after %v; want an error soon after 200ms", err, time.Since(start))
	}
}

// A failing rpm is an error carrying what rpm said.
func TestRPMFails(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs a shell script")
	}
	bin := filepath.Join(t.TempDir(), "rpm")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'error: cannot open Packages database' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := rpmDB{bin: bin, dbpath: "/nowhere"}.packages(t.Context(), func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "cannot open Packages database") {
		t.Errorf("packages with a failing rpm = %v, want rpm's message", err)
	}
}

func TestFindRPMDB(t *testing.T) {
	mk := func(files ...string) string {
		root := t.TempDir()
		for _, f := range files {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	tests := []struct {
		files []string
		want  string
	}{
		{nil, ""},
		{[]string{"var/lib/rpm/.rpm.lock"}, ""},
		{[]string{"var/lib/rpm/Packages"}, "var/lib/rpm"},
		{[]string{"var/lib/rpm/Packages.db"}, "var/lib/rpm"},
		{[]string{"var/lib/rpm/rpmdb.sqlite"}, "var/lib/rpm"},
		{[]string{"usr/lib/sysimage/rpm/rpmdb.sqlite", "var/lib/rpm/Packages"}, "usr/lib/sysimage/rpm"},
	}
	for _, tt := range tests {
		root := mk(tt.files...)
		got := findRPMDB(root)
		if want := tt.want; want != "" {
			tt.want = filepath.Join(root, want)
		}
		if got != tt.want {
			t.Errorf("findRPMDB with %q = %q, want %q", tt.files, got, tt.want)
		}
	}
}
