package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// On this machine, the software section lists exactly the packages dpkg-query
// says are installed — same count, same versions and maintainers — though
// dpkg-query -W also lists packages removed with their configuration files
// left, which are not installed.
func TestDpkgParityThisMachine(t *testing.T) {
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI runs on Debian, but: %v", err)
		}
		t.Skipf("not a dpkg system: %v", err)
	}
	want := swDpkgQuery(t, "")
	var inv wire.Inventory
	var warned []string
	if err := fillSoftware(t.Context(), &inv, func(f string, a ...any) { warned = append(warned, f) }); err != nil {
		t.Fatalf("fillSoftware: %v", err)
	}
	got := swInstalledSet(t, inv.Software)
	swCompareInstalled(t, got, want)
	t.Logf("%d dpkg packages installed, %d warnings", len(got), len(warned))
	for _, p := range inv.Software {
		if p.Source == "dpkg" && p.InstallDate == 0 {
			t.Errorf("%s:%s has no install date", p.Name, p.Arch)
		}
	}
}

// A machine root with both databases: Ubuntu's dpkg status and Amazon Linux's
// rpmdb.sqlite. Both arrive.
func TestLinuxSoftwareBothDatabases(t *testing.T) {
	swRequireTool(t, "rpm", "rpm")
	root := t.TempDir()
	swCopyFile(t, filepath.Join("testdata", "software", "ubuntu1804", "status"), filepath.Join(root, "var/lib/dpkg/status"))
	swCopyFile(t, filepath.Join("testdata", "software", "rpmdb-al2023", "rpmdb.sqlite"), filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"))
	var w swWarnings
	pkgs, err := linuxSoftware(t.Context(), root, w.warn)
	if err != nil {
		t.Fatalf("linuxSoftware: %v", err)
	}
	n := map[string]int{}
	for _, p := range pkgs {
		n[p.Source]++
	}
	if n["dpkg"] != 90 || n["rpm"] != 103 || len(pkgs) != 193 {
		t.Errorf("packages by source = %v (%d in all), want 90 dpkg and 103 rpm", n, len(pkgs))
	}
	if len(w.msgs) != 0 {
		t.Errorf("warnings: %q", w.msgs)
	}
	if !slices.IsSortedFunc(pkgs, comparePackages) {
		t.Error("packages not sorted")
	}
}

// Without rpm, a machine with an RPM database says so; one without a database
// says nothing.
func TestLinuxSoftwareWithoutRPM(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	root := t.TempDir()
	var w swWarnings
	pkgs, err := linuxSoftware(t.Context(), root, w.warn)
	if len(pkgs) != 0 || err != nil || len(w.msgs) != 0 {
		t.Errorf("linuxSoftware on an empty root = %v, %v, warnings %q; want nothing", pkgs, err, w.msgs)
	}
	swCopyFile(t, filepath.Join("testdata", "software", "rpmdb-libuuid", "Packages"), filepath.Join(root, "var/lib/rpm/Packages"))
	pkgs, err = linuxSoftware(t.Context(), root, w.warn)
	if len(pkgs) != 0 || err != nil {
		t.Errorf("linuxSoftware without rpm = %v, %v; want nothing", pkgs, err)
	}
	if len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "no rpm program") {
		t.Errorf("warnings = %q, want one saying rpm is missing", w.msgs)
	}
}

// BenchmarkDpkgStatus reads this machine's dpkg database, install dates
// included, as the inventory does.
func BenchmarkDpkgStatus(b *testing.B) {
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		b.Skipf("not a dpkg system: %v", err)
	}
	db := dpkgDB{admin: "/var/lib/dpkg"}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		pkgs, err := db.packages(b.Context(), func(string, ...any) {})
		if err != nil {
			b.Fatal(err)
		}
		n = len(pkgs)
	}
	b.ReportMetric(float64(n), "packages")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packages/s")
}

// BenchmarkDpkgStatusParse is BenchmarkDpkgStatus without the install dates:
// the parser alone.
func BenchmarkDpkgStatusParse(b *testing.B) {
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		b.Skipf("not a dpkg system: %v", err)
	}
	// An admin directory without info/: status only.
	admin := b.TempDir()
	if err := os.Symlink("/var/lib/dpkg/status", filepath.Join(admin, "status")); err != nil {
		b.Fatal(err)
	}
	db := dpkgDB{admin: admin}
	var n int
	b.ReportAllocs()
	for b.Loop() {
		pkgs, err := db.packages(b.Context(), func(string, ...any) {})
		if err != nil {
			b.Fatal(err)
		}
		n = len(pkgs)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "packages/s")
}
