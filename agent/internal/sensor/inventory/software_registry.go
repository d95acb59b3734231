package inventory

import (
	"errors"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Windows lists installed programs — what Settings › Apps and "Programs and
// Features" show — under the Uninstall key: one subkey per program, with its
// DisplayName, DisplayVersion, Publisher and InstallDate values. Machine-wide
// programs are under HKLM in two views on 64-bit Windows: the 64-bit one, and
// the 32-bit one that 32-bit installers write to (HKLM\SOFTWARE\WOW6432Node);
// the KEY_WOW64_64KEY and KEY_WOW64_32KEY access flags choose the view whatever
// the agent's own bitness. Programs installed for one user are in that user's
// hive, HKU\<SID>, loaded while the user is logged on (or a service runs as
// them); Software under a user hive is shared between the views, so it is
// read once. This file turns the keys into packages; software_windows.go
// reads the registry.

// uninstallPath is the Uninstall key below HKLM or a user hive.
const uninstallPath = `SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall`

// regHive is a predefined registry key.
type regHive uint8

const (
	hiveLocalMachine regHive = iota // HKEY_LOCAL_MACHINE
	hiveUsers                       // HKEY_USERS
)

// regView is the registry view a key is opened in.
type regView uint8

const (
	viewDefault regView = iota // the process's own
	view64                     // KEY_WOW64_64KEY
	view32                     // KEY_WOW64_32KEY
)

// regKey names a key: a path below a hive, seen in a view.
type regKey struct {
	hive regHive
	path string
	view regView
}

func (k regKey) String() string {
	h := `HKLM\`
	if k.hive == hiveUsers {
		h = `HKU\`
	}
	switch k.view {
	case view64:
		return h + k.path + " (64-bit view)"
	case view32:
		return h + k.path + " (32-bit view)"
	}
	return h + k.path
}

// regValue is a registry value: Text for REG_SZ and REG_EXPAND_SZ (not
// expanded), Num for REG_DWORD and REG_QWORD (IsNum set).
type regValue struct {
	Text  string
	Num   uint64
	IsNum bool
}

// errRegNotExist is what a regReader returns for a key that does not exist.
var errRegNotExist = errors.New("registry key does not exist")

// regReader reads the registry: the machine's in software_windows.go, a fake
// in tests.
type regReader interface {
	// SubKeys returns the names of the subkeys of k.
	SubKeys(k regKey) ([]string, error)
	// Values returns those of the named values of k that exist and are of a
	// type regValue holds.
	Values(k regKey, names ...string) (map[string]regValue, error)
}

// uninstallValues are the values read from each Uninstall subkey.
var uninstallValues = []string{"DisplayName", "DisplayVersion", "Publisher", "InstallDate", "SystemComponent", "ParentKeyName"}

// machineView is one view of HKLM and the architecture of the programs in it.
type machineView struct {
	view regView
	arch string
}

// machineViews returns the views of HKLM to read on Windows whose native
// architecture is native (x64, arm64, x86). 32-bit Windows has one view, and
// ignores the view flags: reading "both" would list everything twice.
func machineViews(native string) []machineView {
	if native == "x86" || native == "" {
		return []machineView{{viewDefault, "x86"}}
	}
	// On ARM64, 32-bit x86 programs use the 32-bit view; the 64-bit view
	// holds ARM64 and x64 (emulated) programs alike.
	return []machineView{{view64, native}, {view32, "x86"}}
}

// registrySoftware lists the programs of the Uninstall keys r reads: HKLM in
// each of views, then each loaded user hive. A key that cannot be read is
// reported through warn and skipped.
func registrySoftware(r regReader, views []machineView, warn func(string, ...any)) []wire.Package {
	var out []wire.Package
	for _, v := range views {
		out = uninstallKey(r, regKey{hive: hiveLocalMachine, path: uninstallPath, view: v.view}, v.arch, "", out, warn)
	}
	sids, err := r.SubKeys(regKey{hive: hiveUsers})
	if err != nil {
		warn("list user hives: %v", err)
	}
	for _, sid := range sids {
		// SID_Classes is the user's classes hive, not a profile;
		// .DEFAULT is LocalSystem's hive again, also loaded as S-1-5-18.
		if strings.HasSuffix(sid, "_Classes") || strings.EqualFold(sid, ".DEFAULT") {
			continue
		}
		out = uninstallKey(r, regKey{hive: hiveUsers, path: sid + `\` + uninstallPath}, "", sid, out, warn)
	}
	return out
}

// uninstallKey appends the programs under the Uninstall key k to out.
func uninstallKey(r regReader, k regKey, arch, scope string, out []wire.Package, warn func(string, ...any)) []wire.Package {
	names, err := r.SubKeys(k)
	if errors.Is(err, errRegNotExist) {
		return out
	}
	if err != nil {
		warn("list %s: %v", k, err)
		return out
	}
	for _, n := range names {
		sub := regKey{hive: k.hive, path: k.path + `\` + n, view: k.view}
		vals, err := r.Values(sub, uninstallValues...)
		if errors.Is(err, errRegNotExist) {
			continue // removed while we looked
		}
		if err != nil {
			warn("read %s: %v", sub, err)
			continue
		}
		if p, ok := uninstallPackage(vals); ok {
			p.Arch, p.Scope = arch, scope
			out = append(out, p)
		}
	}
	return out
}

// uninstallPackage turns the values of one Uninstall subkey into a package,
// and reports whether it is a program of its own as "Programs and Features"
// shows them: one with a DisplayName, not a SystemComponent (a part another
// program's entry stands for), and not an update of another entry
// (ParentKeyName names its parent).
func uninstallPackage(vals map[string]regValue) (wire.Package, bool) {
	name := strings.TrimSpace(vals["DisplayName"].Text)
	if name == "" || vals["SystemComponent"].IsNum && vals["SystemComponent"].Num == 1 || strings.TrimSpace(vals["ParentKeyName"].Text) != "" {
		return wire.Package{}, false
	}
	return wire.Package{
		Name:        name,
		Version:     strings.TrimSpace(vals["DisplayVersion"].Text),
		Source:      "windows",
		Publisher:   strings.TrimSpace(vals["Publisher"].Text),
		InstallDate: uninstallDate(vals["InstallDate"].Text),
	}, true
}

// uninstallDate returns the Unix time of an InstallDate value, midnight UTC of
// the day: YYYYMMDD as Windows Installer writes it, or YYYY-MM-DD as a few
// other installers do; 0 for anything else (some write the local date in the
// user's format, which cannot be read back reliably).
func uninstallDate(s string) int64 {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"20060102", "2006-01-02"} {
		if len(s) != len(layout) {
			continue
		}
		if t, err := time.Parse(layout, s); err == nil && t.Year() >= 1980 {
			return t.Unix()
		}
	}
	return 0
}
