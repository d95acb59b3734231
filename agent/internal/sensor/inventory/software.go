package inventory

import (
	"cmp"
	"slices"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The software section: every installed package with its name, version,
// architecture and source. Linux reads dpkg's database itself
// (software_dpkg.go) and asks rpm for the RPM database (software_rpm.go);
// Windows reads the Uninstall keys of the registry (software_windows.go, with
// the logic in software_registry.go so that it is tested on Linux). Each OS's
// fillSoftware lives in software_<os>.go. The parsers are portable so their
// tests run on any machine.

func init() {
	addPart(wire.SectionSoftware, fillSoftware)
}

// dedupePackages sorts pkgs by key and drops the packages whose key an earlier
// one already has: a snapshot must not list one package twice, or its delta
// could not be told apart from no change.
func dedupePackages(pkgs []wire.Package) []wire.Package {
	slices.SortStableFunc(pkgs, comparePackages)
	return slices.CompactFunc(pkgs, func(a, b wire.Package) bool { return comparePackages(a, b) == 0 })
}

// comparePackages orders packages as their keys (wire.Package.Key) do,
// without building the keys.
func comparePackages(a, b wire.Package) int {
	return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Arch, b.Arch), cmp.Compare(a.Version, b.Version))
}
