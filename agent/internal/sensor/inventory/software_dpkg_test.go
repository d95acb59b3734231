package inventory

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// updateSoftware rewrites the software golden files from what the code yields
// now: go test -run 'Dpkg|RPM' -update-software, then review the diff.
var updateSoftware = flag.Bool("update-software", false, "rewrite testdata/software golden files")

// swWarnings collects what a part reports through warn, with dir (a test's
// temporary directory) cut from the file names.
type swWarnings struct {
	dir  string
	msgs []string
}

func (w *swWarnings) warn(format string, args ...any) {
	m := fmt.Sprintf(format, args...)
	if w.dir != "" {
		m = strings.ReplaceAll(m, w.dir+string(os.PathSeparator), "")
	}
	w.msgs = append(w.msgs, m)
}

// swLines renders packages one a line, sorted: name arch version
// [publisher] [install date], the form of the golden files.
func swLines(pkgs []wire.Package, withPublisher bool) []string {
	var out []string
	for _, p := range pkgs {
		l := p.Source + " " + p.Name + " " + p.Arch + " " + p.Version
		if withPublisher {
			l += " | " + p.Publisher
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// swDiff describes how got differs from want, as sorted sets of lines.
func swDiff(got, want []string) string {
	var b strings.Builder
	for _, l := range want {
		if !slices.Contains(got, l) {
			fmt.Fprintf(&b, "\n  missing: %s", l)
		}
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			fmt.Fprintf(&b, "\n  extra:   %s", l)
		}
	}
	switch {
	case b.Len() > 0:
	case len(got) != len(want):
		fmt.Fprintf(&b, "\n  %d lines, want %d (duplicates)", len(got), len(want))
	case !slices.Equal(got, want):
		b.WriteString("\n  the same lines in another order")
	}
	return b.String()
}

// swGolden compares lines with the golden file name in testdata/software, or
// rewrites it under -update-software.
func swGolden(t *testing.T, name string, lines []string) {
	t.Helper()
	file := filepath.Join("testdata", "software", name)
	text := strings.Join(lines, "\n") + "\n"
	if *updateSoftware {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update-software to create it)", err)
	}
	if string(b) != text {
		t.Errorf("packages differ from %s:%s", file, swDiff(lines, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")))
	}
}

// swRequireTool returns the path of a program the test needs; without it the
// test is skipped, except on CI (CI=true), where it fails.
func swRequireTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: install Debian package %s", name, debianPackage)
		}
		t.Skipf("%s not found: install Debian package %s", name, debianPackage)
	}
	return p
}

// swDpkgQuery returns what dpkg-query lists as installed in the dpkg
// database admin ("" for the machine's): "name:arch" -> "version | maintainer".
func swDpkgQuery(t *testing.T, admin string) map[string]string {
	t.Helper()
	bin := swRequireTool(t, "dpkg-query", "dpkg")
	args := []string{"-W", "-f", "${db:Status-Status}\t${Package}\t${Architecture}\t${Version}\t${Maintainer}\n"}
	if admin != "" {
		args = append([]string{"--admindir=" + admin}, args...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-query %s: %v", strings.Join(args, " "), err)
	}
	m := make(map[string]string)
	for l := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(l, "\n"), "\t")
		if len(f) != 5 {
			t.Fatalf("dpkg-query printed %q", l)
		}
		if f[0] == "installed" {
			m[f[1]+":"+f[2]] = f[3] + " | " + f[4]
		}
	}
	return m
}

// swInstalledSet returns the dpkg packages of pkgs as "name:arch" ->
// "version | publisher".
func swInstalledSet(t *testing.T, pkgs []wire.Package) map[string]string {
	t.Helper()
	m := make(map[string]string)
	for _, p := range pkgs {
		if p.Source != "dpkg" {
			continue
		}
		k := p.Name + ":" + p.Arch
		if _, dup := m[k]; dup {
			t.Errorf("package %s listed twice", k)
		}
		m[k] = p.Version + " | " + p.Publisher
	}
	return m
}

// swCompareInstalled fails t when got and want (name:arch -> version and
// maintainer) differ.
func swCompareInstalled(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d packages installed, dpkg-query lists %d", len(got), len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("package %s %s (listed by dpkg-query) missing", k, v)
		} else if g != v {
			t.Errorf("package %s is %q, dpkg-query says %q", k, g, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("package %s %s not listed by dpkg-query", k, v)
		}
	}
}

// swTxtarFile returns the file name from the txtar archive data: the lines
// between "-- name --" and the next such marker.
func swTxtarFile(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	marker := []byte("-- " + name + " --\n")
	i := bytes.Index(data, marker)
	if i < 0 || (i > 0 && data[i-1] != '\n') {
		t.Fatalf("txtar archive has no file %s", name)
	}
	rest := data[i+len(marker):]
	for off := 0; off < len(rest); {
		end := bytes.IndexByte(rest[off:], '\n')
		if end < 0 {
			break
		}
		if l := rest[off : off+end]; bytes.HasPrefix(l, []byte("-- ")) && bytes.HasSuffix(l, []byte(" --")) {
			return rest[:off]
		}
		off += end + 1
	}
	return rest
}

// swCopyFile copies the test file src to dst, creating dst's directory.
func swCopyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// swAdminDir makes a dpkg admin directory in a temporary directory, with status
// (unless nil) and the other files given, and returns it.
func swAdminDir(t *testing.T, status []byte, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if status != nil {
		if err := os.WriteFile(filepath.Join(dir, "status"), status, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The status file of a real Ubuntu 18.04: 91 stanzas, 90 packages installed
// and git removed with its configuration files left ("deinstall ok
// config-files"), which dpkg-query -W lists but which is not installed.
func TestDpkgUbuntu1804(t *testing.T) {
	admin := filepath.Join("testdata", "software", "ubuntu1804")
	var w swWarnings
	pkgs, err := dpkgDB{admin: admin}.packages(t.Context(), w.warn)
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	if len(w.msgs) != 0 {
		t.Errorf("warnings on a sound status file: %q", w.msgs)
	}
	if len(pkgs) != 90 {
		t.Errorf("%d packages, want 90 (91 stanzas, git removed)", len(pkgs))
	}
	for _, p := range pkgs {
		if p.Name == "git" {
			t.Errorf("git, in state config-files, listed as installed: %+v", p)
		}
		if p.Source != "dpkg" || p.Publisher == "" || p.Arch == "" || p.InstallDate != 0 {
			t.Errorf("package %+v: want source dpkg, a publisher, an arch, no install date (no info dir)", p)
		}
	}
	swGolden(t, "ubuntu1804.golden", swLines(pkgs, true))
}

// dpkg-query itself, pointed at the fixtures, is the reference: the same
// installed packages with the same versions.
func TestDpkgFixturesMatchDpkgQuery(t *testing.T) {
	corrupt, err := os.ReadFile(filepath.Join("testdata", "software", "trivy", "corrupsed.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	ubuntu, err := os.ReadFile(filepath.Join("testdata", "software", "ubuntu1804", "status"))
	if err != nil {
		t.Fatal(err)
	}
	for name, admin := range map[string]string{
		"ubuntu1804": swAdminDir(t, ubuntu, nil),
		"corrupt":    swAdminDir(t, swTxtarFile(t, corrupt, "var/lib/dpkg/status"), nil),
		"journal":    swAdminDir(t, []byte(swJournalStatus), swJournalUpdates),
	} {
		t.Run(name, func(t *testing.T) {
			want := swDpkgQuery(t, admin)
			pkgs, err := dpkgDB{admin: admin}.packages(t.Context(), func(string, ...any) {})
			if err != nil {
				t.Fatalf("packages: %v", err)
			}
			swCompareInstalled(t, swInstalledSet(t, pkgs), want)
		})
	}
}

// Trivy's corrupt status file: a stanza with neither Status nor Version, and
// one with an invalid version; the sound stanzas around them arrive.
func TestDpkgCorrupt(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "software", "trivy", "corrupsed.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	admin := swAdminDir(t, swTxtarFile(t, data, "var/lib/dpkg/status"), nil)
	w := swWarnings{dir: admin}
	pkgs, err := dpkgDB{admin: admin}.packages(t.Context(), w.warn)
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	want := []string{
		"dpkg libgcc1 amd64 1:5.1.1-12ubuntu1",
		"dpkg libpam-modules-bin amd64 1.1.8-3.1ubuntu3",
		"dpkg libpam-runtime all 1.1.8-3.1ubuntu3",
		"dpkg makedev all 2.3.1-93ubuntu1",
	}
	if got := swLines(pkgs, false); !slices.Equal(got, want) {
		t.Errorf("packages:%s", swDiff(got, want))
	}
	wantWarn := []string{
		"status:63: package brokenPackageWithNoVersionThatShouldGetThrownOut has no Status field; skipped",
		`status:87: package invalidpkg: invalid character in version "1:5.#"`,
		"status:85: package invalidpkg has no Status field; skipped",
	}
	if !slices.Equal(w.msgs, wantWarn) {
		t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(w.msgs, "\n"), strings.Join(wantWarn, "\n"))
	}
}

// Syft's distroless-style status.d: stanzas without Status are installed, a
// deinstalled one is not, and the corrupt ones are named by file and line.
func TestDpkgStatusD(t *testing.T) {
	admin := filepath.Join("testdata", "software", "syft")
	w := swWarnings{dir: filepath.Join(admin, "status.d")}
	pkgs, err := dpkgDB{admin: admin}.packages(t.Context(), w.warn)
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	want := []string{
		"dpkg linux-image-6.14.0-1012-aws amd64 6.14.0-1012.12~24.04.1 | Canonical Kernel Team <kernel-team@lists.ubuntu.com>",
		"dpkg tzdata all 2020a-0+deb10u1 | GNU Libc Maintainers <debian-glibc@lists.debian.org>",
		"dpkg util-linux amd64 2.33.1-0.1 | LaMont Jones <lamont@debian.org>",
	}
	if got := swLines(pkgs, true); !slices.Equal(got, want) {
		t.Errorf("packages:%s", swDiff(got, want))
	}
	wantWarn := []string{
		`corrupt:5: not a field (want "Name: value"); stanza skipped`,
		"multiple:1: stanza without a Package name; skipped",
		"multiple:3: package no-version is installed but has no Version; skipped",
	}
	if !slices.Equal(w.msgs, wantWarn) {
		t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(w.msgs, "\n"), strings.Join(wantWarn, "\n"))
	}
}

// swStanza builds a status stanza.
func swStanza(fields ...string) string {
	return strings.Join(fields, "\n") + "\n\n"
}

func TestDpkgStanzas(t *testing.T) {
	long := "Description: x\n " + strings.Repeat("y", 200<<10) + "\n"
	tests := []struct {
		name   string
		status string
		want   []string
		warn   []string
	}{
		{
			name: "states",
			status: swStanza("Package: held", "Status: hold ok installed", "Architecture: amd64", "Version: 1.0-1") +
				swStanza("Package: going", "Status: deinstall ok installed", "Architecture: amd64", "Version: 2") +
				swStanza("Package: half", "Status: install reinstreq half-installed", "Architecture: amd64", "Version: 3") +
				swStanza("Package: unpacked", "Status: install ok unpacked", "Architecture: amd64", "Version: 3") +
				swStanza("Package: trig", "Status: install ok triggers-pending", "Architecture: amd64", "Version: 3") +
				swStanza("Package: gone", "Status: purge ok not-installed", "Architecture: amd64"),
			want: []string{"dpkg going amd64 2", "dpkg held amd64 1.0-1"},
		},
		{
			name: "multi-arch",
			status: swStanza("Package: libc6", "Status: install ok installed", "Architecture: amd64", "Multi-Arch: same", "Version: 2.36-9") +
				swStanza("Package: libc6", "Status: install ok installed", "Architecture: i386", "Multi-Arch: same", "Version: 2.36-9"),
			want: []string{"dpkg libc6 amd64 2.36-9", "dpkg libc6 i386 2.36-9"},
		},
		{
			name: "field names ignore case, values their blanks",
			status: "package: a\nSTATUS:   install ok installed\t\nversion:1:2.0~rc1+dfsg-3\narchitecture: all\n" +
				"Description: d\n .\n more\n",
			want: []string{"dpkg a all 1:2.0~rc1+dfsg-3"},
		},
		{
			name:   "blank lines between stanzas, none at the end",
			status: "\n\n  \nPackage: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n\n\nPackage: b\nStatus: install ok installed\nVersion: 2\nArchitecture: all",
			want:   []string{"dpkg a all 1", "dpkg b all 2"},
		},
		{
			name:   "a line longer than the read buffer",
			status: "Package: a\nStatus: install ok installed\n" + long + "Version: 1\nArchitecture: all\n",
			want:   []string{"dpkg a all 1"},
		},
		{
			name: "duplicate field",
			status: swStanza("Package: a", "Status: install ok installed", "Version: 1", "Version: 2", "Architecture: all") +
				swStanza("Package: b", "Status: install ok installed", "Version: 1", "Architecture: all"),
			want: []string{"dpkg b all 1"},
			warn: []string{"status:4: duplicate Version field; stanza skipped"},
		},
		{
			name: "garbage",
			status: swStanza("Package: a", "Status: install ok installed", "Version: 1", "Archi tecture: all") +
				swStanza(" orphan continuation", "Package: b", "Status: install ok installed", "Version: 1") +
				swStanza("-Package: c", "Status: install ok installed", "Version: 1") +
				swStanza("Package: d", "Status: install ok installed", "Version: 1"),
			want: []string{"dpkg d  1"},
			warn: []string{
				`status:4: not a field (want "Name: value"); stanza skipped`,
				"status:6: continuation line outside a field; stanza skipped",
				`status:11: not a field (want "Name: value"); stanza skipped`,
			},
		},
		{
			name: "malformed status",
			status: swStanza("Package: a", "Status: install ok", "Version: 1") +
				swStanza("Package: b", "Status: install ok sideways", "Version: 1"),
			warn: []string{
				`status:2: package a: malformed Status "install ok"; skipped`,
				`status:6: package b: malformed Status "install ok sideways"; skipped`,
			},
		},
		{
			// dpkg refuses the first two and only warns about the others.
			name: "versions",
			status: swStanza("Package: a", "Status: install ok installed", "Version: x:1") +
				swStanza("Package: b", "Status: install ok installed", "Version: 1.0-") +
				swStanza("Package: c", "Status: install ok installed", "Version: v1.0") +
				swStanza("Package: d", "Status: install ok installed", "Version: 1.0_beta-1"),
			want: []string{"dpkg c  v1.0", "dpkg d  1.0_beta-1"},
			warn: []string{
				`status:3: package a: epoch not a number in version "x:1"; skipped`,
				`status:7: package b: empty revision in version "1.0-"; skipped`,
				`status:11: package c: upstream version not starting with a digit in version "v1.0"`,
				`status:15: package d: invalid character in version "1.0_beta-1"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin := swAdminDir(t, []byte(tt.status), nil)
			w := swWarnings{dir: admin}
			pkgs, err := dpkgDB{admin: admin}.packages(t.Context(), w.warn)
			if err != nil {
				t.Fatalf("packages: %v", err)
			}
			if got := swLines(pkgs, false); !slices.Equal(got, tt.want) {
				t.Errorf("packages:%s", swDiff(got, tt.want))
			}
			if !slices.Equal(w.msgs, tt.warn) {
				t.Errorf("warnings:\n%s\nwant\n%s", strings.Join(w.msgs, "\n"), strings.Join(tt.warn, "\n"))
			}
		})
	}
}

// A status file and a journal that dpkg has not folded into it yet: the
// journal's word on a package is the last.
const swJournalStatus = "Package: a\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n" +
	"Package: b\nStatus: install ok installed\nVersion: 1.0\nArchitecture: all\n\n" +
	"Package: d\nStatus: install ok installed\nVersion: 4.0\nArchitecture: amd64\n"

var swJournalUpdates = map[string]string{
	"updates/0000":    "Package: a\nStatus: install ok installed\nVersion: 2.0\nArchitecture: amd64\n",
	"updates/0001":    "Package: b\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: all\n\nPackage: c\nStatus: hold ok installed\nVersion: 3.0\nArchitecture: amd64\n",
	"updates/tmp.i":   "Package: e\nStatus: install ok installed\nVersion: 9\nArchitecture: amd64\n",
	"updates/0002.md": "Package: f\nStatus: install ok installed\nVersion: 9\nArchitecture: amd64\n",
}

func TestDpkgJournal(t *testing.T) {
	admin := swAdminDir(t, []byte(swJournalStatus), swJournalUpdates)
	pkgs, err := dpkgDB{admin: admin}.packages(t.Context(), func(f string, a ...any) { t.Errorf("warning: "+f, a...) })
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	want := []string{"dpkg a amd64 2.0", "dpkg c amd64 3.0", "dpkg d amd64 4.0"}
	if got := swLines(pkgs, false); !slices.Equal(got, want) {
		t.Errorf("packages:%s", swDiff(got, want))
	}
}

// The install date is the modification time of the package's file list,
// named with the architecture for Multi-Arch: same packages.
func TestDpkgInstallDate(t *testing.T) {
	admin := swAdminDir(t, []byte(
		swStanza("Package: libc6", "Status: install ok installed", "Architecture: amd64", "Multi-Arch: same", "Version: 2.36-9")+
			swStanza("Package: bash", "Status: install ok installed", "Architecture: amd64", "Multi-Arch: foreign", "Version: 5.2-2")+
			swStanza("Package: odd", "Status: install ok installed", "Architecture: amd64", "Version: 1")+
			swStanza("Package: none", "Status: install ok installed", "Architecture: amd64", "Version: 1")),
		map[string]string{"info/libc6:amd64.list": "/.\n", "info/bash.list": "/.\n", "info/odd:amd64.list": "/.\n"})
	dates := map[string]time.Time{
		"libc6:amd64": time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
		"bash":        time.Date(2023, 6, 10, 8, 30, 0, 0, time.UTC),
		"odd:amd64":   time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	for name, d := range dates {
		if err := os.Chtimes(filepath.Join(admin, "info", name+".list"), d, d); err != nil {
			t.Fatal(err)
		}
	}
	pkgs, err := dpkgDB{admin: admin}.packages(t.Context(), func(string, ...any) {})
	if err != nil {
		t.Fatalf("packages: %v", err)
	}
	want := map[string]int64{"libc6": dates["libc6:amd64"].Unix(), "bash": dates["bash"].Unix(), "odd": dates["odd:amd64"].Unix(), "none": 0}
	for _, p := range pkgs {
		if p.InstallDate != want[p.Name] {
			t.Errorf("%s InstallDate = %d, want %d", p.Name, p.InstallDate, want[p.Name])
		}
	}
	if len(pkgs) != len(want) {
		t.Errorf("%d packages, want %d", len(pkgs), len(want))
	}
}

func TestDpkgNoDatabase(t *testing.T) {
	pkgs, err := dpkgDB{admin: filepath.Join(t.TempDir(), "nothing")}.packages(t.Context(), func(f string, a ...any) { t.Errorf("warning: "+f, a...) })
	if pkgs != nil || err != nil {
		t.Errorf("packages without a database = %v, %v; want nil, nil", pkgs, err)
	}
}

func TestDpkgUnreadable(t *testing.T) {
	admin := swAdminDir(t, nil, nil)
	if err := os.Mkdir(filepath.Join(admin, "status"), 0o755); err != nil { // a directory cannot be read as a file
		t.Fatal(err)
	}
	_, err := dpkgDB{admin: admin}.packages(t.Context(), func(string, ...any) {})
	if err == nil {
		t.Error("packages with an unreadable status file: no error")
	}
}

func TestDpkgVersionProblem(t *testing.T) {
	tests := []struct {
		v       string
		problem string
		hard    bool
	}{
		{"1.0", "", false},
		{"1:2.36-9+deb12u4", "", false},
		{"2.0~rc1+dfsg-3ubuntu0.1", "", false},
		{"1.2-3-4", "", false}, // the revision is after the last hyphen
		{"0:1.0:2-1", "", false},
		{"", "empty version", true},
		{"1.0 2", "embedded space", true},
		{":1.0", "empty epoch", true},
		{"a:1.0", "epoch not a number", true},
		{"99999999999:1.0", "epoch too big", true},
		{"1:", "empty upstream version", true},
		{"-1", "empty upstream version", true},
		{"1.0-", "empty revision", true},
		{"a1.0", "upstream version not starting with a digit", false},
		{"1.0#", "invalid character", false},
		{"1.0-1_2", "invalid character in revision", false},
		{"1.0-1:2", "epoch not a number", true}, // the epoch ends at the first colon
	}
	for _, tt := range tests {
		problem, hard := dpkgVersionProblem([]byte(tt.v))
		if problem != tt.problem || hard != tt.hard {
			t.Errorf("dpkgVersionProblem(%q) = %q, %v; want %q, %v", tt.v, problem, hard, tt.problem, tt.hard)
		}
	}
}

func TestDedupePackages(t *testing.T) {
	in := []wire.Package{
		{Source: "rpm", Name: "b", Version: "1", InstallDate: 1},
		{Source: "dpkg", Name: "a", Version: "1"},
		{Source: "rpm", Name: "b", Version: "1", InstallDate: 2},
		{Source: "rpm", Name: "b", Version: "2"},
	}
	got := dedupePackages(in)
	want := []wire.Package{{Source: "dpkg", Name: "a", Version: "1"}, {Source: "rpm", Name: "b", Version: "1", InstallDate: 1}, {Source: "rpm", Name: "b", Version: "2"}}
	if !slices.Equal(got, want) {
		t.Errorf("dedupePackages = %+v, want %+v", got, want)
	}
	if !slices.IsSortedFunc(got, func(a, b wire.Package) int { return strings.Compare(a.Key(), b.Key()) }) {
		t.Error("dedupePackages does not sort by Key")
	}
}
