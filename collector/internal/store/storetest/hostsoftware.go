package storetest

import (
	"cmp"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// hostSoftware is one EachHostSoftware call: the hostname and a copy of the
// packages, sorted.
type hostSoftware struct {
	Hostname string
	Pkgs     []wire.Package
}

func sortPackages(ps []wire.Package) []wire.Package {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b wire.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Arch, b.Arch),
			cmp.Compare(a.Source, b.Source), cmp.Compare(a.Publisher, b.Publisher), cmp.Compare(a.Scope, b.Scope))
	})
	return ps
}

// eachHostSoftware collects every call, failing on an agent called twice.
// Calls without packages are left out: the interface does not say whether a
// host without software is called.
func eachHostSoftware(t *testing.T, st model.Store) map[string]hostSoftware {
	t.Helper()
	got := map[string]hostSoftware{}
	must(t, "EachHostSoftware", st.EachHostSoftware(t.Context(), func(agentID, hostname string, pkgs []wire.Package) error {
		if _, twice := got[agentID]; twice {
			t.Errorf("EachHostSoftware called twice for %s", agentID)
		}
		if len(pkgs) > 0 {
			got[agentID] = hostSoftware{hostname, sortPackages(pkgs)}
		}
		return nil
	}))
	return got
}

func testEachHostSoftware(t *testing.T, st model.Store) {
	if got := eachHostSoftware(t, st); len(got) != 0 {
		t.Errorf("EachHostSoftware on an empty store = %+v, want no calls", got)
	}
	want := map[string]hostSoftware{}
	for id, pkgs := range fleet() {
		createAgent(t, st, id, "host-"+id)
		inv := invA()
		inv.Host.Hostname, inv.Software = "host-"+id, pkgs
		ingest(t, st, invBatch(t, id, 1, snapshot(t, inv)))
		want[id] = hostSoftware{"host-" + id, sortPackages(pkgs)}
	}
	createAgent(t, st, "bare", "bare-01") // no inventory
	if got := eachHostSoftware(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("EachHostSoftware =\n%+v\nwant\n%+v", got, want)
	}

	// A newer inventory replaces a host's packages, by snapshot and by delta.
	old := invA()
	old.Host.Hostname, old.Software = "host-deb-01", fleet()["deb-01"]
	old = snapshot(t, old)
	cur := old
	cur.Software = append(slices.Clone(old.Software[1:]), wire.Package{Name: "git", Version: "1:2.39.2-1.1", Arch: "amd64", Source: "dpkg"})
	cur = snapshot(t, cur)
	ingest(t, st, invBatch(t, "deb-01", 2, diff(t, old, cur)))
	want["deb-01"] = hostSoftware{"host-deb-01", sortPackages(cur.Software)}
	rpm := invA()
	rpm.Host.Hostname, rpm.Software = "host-rpm-01", fleet()["rpm-01"][:2]
	ingest(t, st, invBatch(t, "rpm-01", 2, snapshot(t, rpm)))
	want["rpm-01"] = hostSoftware{"host-rpm-01", sortPackages(fleet()["rpm-01"][:2])}
	if got := eachHostSoftware(t, st); !reflect.DeepEqual(got, want) {
		t.Errorf("EachHostSoftware after newer inventories =\n%+v\nwant\n%+v", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err := st.EachHostSoftware(t.Context(), func(string, string, []wire.Package) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachHostSoftware with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}
