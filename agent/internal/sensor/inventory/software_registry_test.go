package inventory

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// swFakeKey is a registry key of swFakeRegistry.
type swFakeKey struct {
	subkeys []string
	values  map[string]regValue
	err     error // returned by Values and SubKeys
}

// swFakeRegistry is a registry of keys by hive, view and path (lower case,
// as the registry ignores case). Keys read in a view nobody wrote there do
// not exist, so a reader that mixes views up finds nothing.
type swFakeRegistry map[regKey]swFakeKey

func (r swFakeRegistry) key(k regKey) (swFakeKey, error) {
	k.path = strings.ToLower(k.path)
	fk, ok := r[k]
	if !ok {
		return fk, errRegNotExist
	}
	return fk, fk.err
}

func (r swFakeRegistry) SubKeys(k regKey) ([]string, error) {
	fk, err := r.key(k)
	return fk.subkeys, err
}

func (r swFakeRegistry) Values(k regKey, names ...string) (map[string]regValue, error) {
	fk, err := r.key(k)
	if err != nil {
		return nil, err
	}
	out := map[string]regValue{}
	for _, n := range names {
		if v, ok := fk.values[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}

// add puts the Uninstall entries of one view of a hive into r, with the
// parent keys listing them.
func (r swFakeRegistry) add(hive regHive, view regView, path string, entries map[string]map[string]regValue) {
	parent := regKey{hive: hive, path: strings.ToLower(path), view: view}
	fk := r[parent]
	for name, vals := range entries {
		fk.subkeys = append(fk.subkeys, name)
		r[regKey{hive: hive, path: strings.ToLower(path + `\` + name), view: view}] = swFakeKey{values: vals}
	}
	slices.Sort(fk.subkeys)
	r[parent] = fk
}

func swSZ(s string) regValue    { return regValue{Text: s} }
func swDWORD(n uint64) regValue { return regValue{Num: n, IsNum: true} }
func swDay(y, m, d int) int64   { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() }
func swPkgLine(p wire.Package) string {
	return p.Scope + " | " + p.Arch + " | " + p.Name + " | " + p.Version + " | " + p.Publisher + " | " + time.Unix(p.InstallDate, 0).UTC().Format("2006-01-02")
}

// swWindowsRegistry is the registry of a 64-bit Windows 11 workstation, as
// Uninstall keys look in the wild: the empty keys Windows itself leaves (no
// DisplayName), an MSI product with its SystemComponent runtime parts, an
// update of Office (ParentKeyName), per-user installs in a logged-on user's
// hive, and the hives that must not be read as users'.
func swWindowsRegistry() swFakeRegistry {
	r := swFakeRegistry{}
	r.add(hiveLocalMachine, view64, uninstallPath, map[string]map[string]regValue{
		"Connection Manager": {"SystemComponent": swDWORD(1)},
		"WIC":                {"NoRemove": swDWORD(1)},
		"7-Zip": {"DisplayName": swSZ("7-Zip 23.01 (x64)"), "DisplayVersion": swSZ("23.01"), "Publisher": swSZ("Igor Pavlov"),
			"EstimatedSize": swDWORD(5738)},
		"Git_is1": {"DisplayName": swSZ("Git"), "DisplayVersion": swSZ("2.43.0"), "Publisher": swSZ("The Git Development Community"),
			"InstallDate": swSZ("20240110")},
		"{A6E7F2A3-1F9B-4B34-B7C1-2A7F4C5E9F10}": {"DisplayName": swSZ("Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.38.33130"),
			"DisplayVersion": swSZ("14.38.33130"), "Publisher": swSZ("Microsoft Corporation"), "InstallDate": swSZ("20231201"), "SystemComponent": swDWORD(1)},
		"{90160000-008C-0000-1000-0000000FF1CE}": {"DisplayName": swSZ("Microsoft Office 64-bit Components 2016"),
			"DisplayVersion": swSZ("16.0.4266.1001"), "Publisher": swSZ("Microsoft Corporation"), "InstallDate": swSZ("20230415")},
		"{90160000-008C-0000-1000-0000000FF1CE}_Office16.PROPLUS_{1F1C1D6E-6C2E-4F1C-9B1E-0F9B2C3D4E5F}": {
			"DisplayName": swSZ("Update for Microsoft Office 2016 (KB4484104) 64-Bit Edition"), "ParentKeyName": swSZ("Office16.PROPLUS"),
			"Publisher": swSZ("Microsoft")},
		"BadDate":         {"DisplayName": swSZ("  Vendor Tool  "), "DisplayVersion": swSZ(" 1.2 "), "InstallDate": swSZ("10/01/2024")},
		"StringComponent": {"DisplayName": swSZ("Shown anyway"), "SystemComponent": swSZ("1")},
		"ZeroComponent":   {"DisplayName": swSZ("Not a component"), "SystemComponent": swDWORD(0), "InstallDate": swSZ("2024-02-29")},
	})
	r.add(hiveLocalMachine, view32, uninstallPath, map[string]map[string]regValue{
		"Microsoft Edge": {"DisplayName": swSZ("Microsoft Edge"), "DisplayVersion": swSZ("120.0.2210.91"), "Publisher": swSZ("Microsoft Corporation"),
			"InstallDate": swSZ("20231222")},
		"{B4A1D2C3-5E6F-4A7B-8C9D-0E1F2A3B4C5D}": {"DisplayName": swSZ("Microsoft Visual C++ 2015-2022 Redistributable (x86) - 14.38.33130"),
			"DisplayVersion": swSZ("14.38.33130.0"), "Publisher": swSZ("Microsoft Corporation")},
		"{C1D2E3F4-A5B6-4C7D-8E9F-0A1B2C3D4E5F}": {"DisplayName": swSZ("Microsoft Visual C++ 2022 X86 Minimum Runtime - 14.38.33130"),
			"SystemComponent": swDWORD(1)},
		// Git, again: some installers register in both views.
		"Git_is1": {"DisplayName": swSZ("Git"), "DisplayVersion": swSZ("2.43.0"), "Publisher": swSZ("The Git Development Community"),
			"InstallDate": swSZ("20240110")},
		"Locked": {},
	})
	r[regKey{hive: hiveLocalMachine, path: strings.ToLower(uninstallPath + `\Locked`), view: view32}] = swFakeKey{err: errors.New("Access is denied.")}

	const alice = "S-1-5-21-3623811015-3361044348-30300820-1001"
	r[regKey{hive: hiveUsers}] = swFakeKey{subkeys: []string{".DEFAULT", "S-1-5-18", "S-1-5-19", "S-1-5-20", alice, alice + "_Classes"}}
	r.add(hiveUsers, viewDefault, alice+`\`+uninstallPath, map[string]map[string]regValue{
		"{771FD6B0-FA20-440A-A002-3B3BAC16DC50}_is1": {"DisplayName": swSZ("Microsoft Visual Studio Code (User)"),
			"DisplayVersion": swSZ("1.85.1"), "Publisher": swSZ("Microsoft Corporation"), "InstallDate": swSZ("20240112")},
		"OneDriveSetup.exe": {"DisplayName": swSZ("Microsoft OneDrive"), "DisplayVersion": swSZ("23.246.1127.0002"),
			"Publisher": swSZ("Microsoft Corporation")},
	})
	// The hives that are no user's must not be read; if they were, these would show.
	r.add(hiveUsers, viewDefault, alice+`_Classes\`+uninstallPath, map[string]map[string]regValue{"x": {"DisplayName": swSZ("from _Classes")}})
	r.add(hiveUsers, viewDefault, `.DEFAULT\`+uninstallPath, map[string]map[string]regValue{"x": {"DisplayName": swSZ("from .DEFAULT")}})
	r.add(hiveUsers, viewDefault, `S-1-5-18\`+uninstallPath, map[string]map[string]regValue{
		"SysTool": {"DisplayName": swSZ("Installed as LocalSystem"), "DisplayVersion": swSZ("3")}})
	return r
}

func TestRegistrySoftware(t *testing.T) {
	const alice = "S-1-5-21-3623811015-3361044348-30300820-1001"
	var w swWarnings
	pkgs := dedupePackages(registrySoftware(swWindowsRegistry(), machineViews("x64"), w.warn))
	var got []string
	for _, p := range pkgs {
		if p.Source != "windows" {
			t.Errorf("%s: source %q, want windows", p.Name, p.Source)
		}
		got = append(got, swPkgLine(p))
	}
	want := []string{
		swPkgLine(wire.Package{Arch: "x64", Name: "7-Zip 23.01 (x64)", Version: "23.01", Publisher: "Igor Pavlov"}),
		swPkgLine(wire.Package{Arch: "x64", Name: "Git", Version: "2.43.0", Publisher: "The Git Development Community", InstallDate: swDay(2024, 1, 10)}),
		swPkgLine(wire.Package{Arch: "x64", Name: "Microsoft Office 64-bit Components 2016", Version: "16.0.4266.1001", Publisher: "Microsoft Corporation", InstallDate: swDay(2023, 4, 15)}),
		swPkgLine(wire.Package{Arch: "x64", Name: "Not a component", InstallDate: swDay(2024, 2, 29)}),
		swPkgLine(wire.Package{Arch: "x64", Name: "Shown anyway"}),
		swPkgLine(wire.Package{Arch: "x64", Name: "Vendor Tool", Version: "1.2"}),
		swPkgLine(wire.Package{Arch: "x86", Name: "Git", Version: "2.43.0", Publisher: "The Git Development Community", InstallDate: swDay(2024, 1, 10)}),
		swPkgLine(wire.Package{Arch: "x86", Name: "Microsoft Edge", Version: "120.0.2210.91", Publisher: "Microsoft Corporation", InstallDate: swDay(2023, 12, 22)}),
		swPkgLine(wire.Package{Arch: "x86", Name: "Microsoft Visual C++ 2015-2022 Redistributable (x86) - 14.38.33130", Version: "14.38.33130.0", Publisher: "Microsoft Corporation"}),
		swPkgLine(wire.Package{Scope: "S-1-5-18", Name: "Installed as LocalSystem", Version: "3"}),
		swPkgLine(wire.Package{Scope: alice, Name: "Microsoft OneDrive", Version: "23.246.1127.0002", Publisher: "Microsoft Corporation"}),
		swPkgLine(wire.Package{Scope: alice, Name: "Microsoft Visual Studio Code (User)", Version: "1.85.1", Publisher: "Microsoft Corporation", InstallDate: swDay(2024, 1, 12)}),
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("registrySoftware:%s", swDiff(got, want))
	}
	wantWarn := []string{`read HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Locked (32-bit view): Access is denied.`}
	if !slices.Equal(w.msgs, wantWarn) {
		t.Errorf("warnings = %q, want %q", w.msgs, wantWarn)
	}
}

// On 32-bit Windows there is one view and the view flags are ignored: it is
// read once, its programs x86.
func TestRegistrySoftware32BitWindows(t *testing.T) {
	r := swFakeRegistry{}
	r.add(hiveLocalMachine, viewDefault, uninstallPath, map[string]map[string]regValue{
		"7-Zip": {"DisplayName": swSZ("7-Zip 19.00"), "DisplayVersion": swSZ("19.00"), "Publisher": swSZ("Igor Pavlov")},
	})
	var w swWarnings
	pkgs := registrySoftware(r, machineViews("x86"), w.warn)
	want := []wire.Package{{Name: "7-Zip 19.00", Version: "19.00", Arch: "x86", Source: "windows", Publisher: "Igor Pavlov"}}
	if !slices.Equal(pkgs, want) {
		t.Errorf("registrySoftware = %+v, want %+v", pkgs, want)
	}
	// HKU cannot be listed: said, and HKLM's programs still arrive.
	if len(w.msgs) != 1 || !strings.Contains(w.msgs[0], "list user hives") {
		t.Errorf("warnings = %q, want one about the user hives", w.msgs)
	}
}

func TestMachineViews(t *testing.T) {
	tests := []struct {
		native string
		want   []machineView
	}{
		{"x64", []machineView{{view64, "x64"}, {view32, "x86"}}},
		{"arm64", []machineView{{view64, "arm64"}, {view32, "x86"}}},
		{"x86", []machineView{{viewDefault, "x86"}}},
	}
	for _, tt := range tests {
		if got := machineViews(tt.native); !slices.Equal(got, tt.want) {
			t.Errorf("machineViews(%q) = %v, want %v", tt.native, got, tt.want)
		}
	}
}

func TestUninstallDate(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"20240110", swDay(2024, 1, 10)},
		{" 20240229 ", swDay(2024, 2, 29)},
		{"2023-12-22", swDay(2023, 12, 22)},
		{"", 0},
		{"20230229", 0}, // no such day
		{"20241301", 0},
		{"10/01/2024", 0}, // January or October: cannot tell
		{"19000101", 0},
		{"1704844800", 0},
	}
	for _, tt := range tests {
		if got := uninstallDate(tt.in); got != tt.want {
			t.Errorf("uninstallDate(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
