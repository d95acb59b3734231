package wire

import (
	"strings"
	"testing"
)

func snapshot(t *testing.T, inv Inventory) Inventory {
	t.Helper()
	inv.Normalize()
	h, err := InventoryHash(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.Hash, inv.Full = h, true
	return inv
}

func TestDiffApply(t *testing.T) {
	old := snapshot(t, Inventory{
		Host:     &Host{Hostname: "pc1", BootTime: 1},
		Software: []Package{{Name: "bash", Version: "5.1", Source: "dpkg"}, {Name: "vim", Version: "9.0", Source: "dpkg"}},
		Users:    []User{{Name: "root", ID: "0"}},
	})
	cur := snapshot(t, Inventory{
		Host:     &Host{Hostname: "pc1", BootTime: 2},
		Software: []Package{{Name: "bash", Version: "5.2", Source: "dpkg"}, {Name: "vim", Version: "9.0", Source: "dpkg"}, {Name: "curl", Version: "8", Source: "dpkg"}},
		Users:    []User{{Name: "root", ID: "0"}, {Name: "kari", ID: "1000"}},
		Sessions: []Session{{User: "kari", ID: "tty1"}},
	})
	d, err := Diff(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Changed, ",") != "host,users,sessions" {
		t.Errorf("Changed = %v, want host,users,sessions (boot time alone is not hashed but host bytes differ)", d.Changed)
	}
	if len(d.SoftwareAdded) != 2 || len(d.SoftwareRemoved) != 1 {
		t.Errorf("software delta +%v -%v, want 2 added (bash 5.2, curl), 1 removed (bash 5.1)", d.SoftwareAdded, d.SoftwareRemoved)
	}
	got, err := Apply(old, d)
	if err != nil {
		t.Fatalf("Apply = %v", err)
	}
	if got.Hash != cur.Hash || len(got.Software) != 3 || len(got.Users) != 2 {
		t.Errorf("Apply = %+v, want the current snapshot", got)
	}
	// Boot time alone does not change the hash.
	again := cur
	again.Host = &Host{Hostname: "pc1", BootTime: 99}
	if h, _ := InventoryHash(again); h != cur.Hash {
		t.Error("boot time changed the hash")
	}
	// Wrong base, tampered delta.
	if _, err := Apply(cur, d); err == nil {
		t.Error("Apply on the wrong base succeeded")
	}
	d.SoftwareAdded = d.SoftwareAdded[:1]
	if _, err := Apply(old, d); err == nil || !strings.Contains(err.Error(), "hashes to") {
		t.Errorf("Apply of a tampered delta = %v, want hash mismatch", err)
	}
}

func TestRemoveAllSoftware(t *testing.T) {
	old := snapshot(t, Inventory{Software: []Package{{Name: "a", Version: "1", Source: "dpkg"}}})
	cur := snapshot(t, Inventory{})
	d, err := Diff(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(old, d); err != nil {
		t.Errorf("Apply after removing everything = %v", err)
	}
}

func TestNormalizeDropsDuplicatePackages(t *testing.T) {
	p := Package{Name: "7-Zip", Version: "23.01", Arch: "x64", Source: "windows"}
	inv := Inventory{Software: []Package{p, p}}
	inv.Normalize()
	if len(inv.Software) != 1 {
		t.Errorf("Normalize kept %d copies of one package, want 1", len(inv.Software))
	}
}
