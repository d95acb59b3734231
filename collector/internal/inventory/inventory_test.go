package inventory

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

var t0 = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func base() wire.Inventory {
	return wire.Inventory{
		Host: &wire.Host{Hostname: "pc-01", OS: "windows", Platform: "Microsoft Windows 11 Pro", PlatformVersion: "23H2",
			Kernel: "10.0.22631", Arch: "amd64", BootTime: 100, CPU: wire.CPU{Model: "i5", Cores: 4, Threads: 8}, MemoryBytes: 8 << 30},
		Hardware: &wire.Hardware{
			System: wire.System{Vendor: "Dell Inc.", Model: "Latitude 5440", Serial: "7XYZ123", BIOSVersion: "1.2.0"},
			Disks:  []wire.Disk{{Name: "PhysicalDrive0", SizeBytes: 256 << 30, Bus: "nvme", Partitions: []wire.Partition{{Name: "C:", FSType: "NTFS", Encrypted: true, Encryption: "bitlocker"}}}},
			USB:    []wire.USBDevice{{Path: `USB\VID_046D&PID_C52B\5&1A2B3C4D&0&2`, VID: "046d", PID: "c52b", Class: "hid"}},
		},
		Software: []wire.Package{
			{Name: "7-Zip 23.01 (x64)", Version: "23.01", Source: "windows", Publisher: "Igor Pavlov"},
			{Name: "Mozilla Firefox (x64 nb-NO)", Version: "124.0.1", Arch: "x64", Source: "windows"},
			{Name: "Microsoft Visual C++ 2015-2022 Redistributable (x64)", Version: "14.38.33130.0", Source: "windows"},
			{Name: "Microsoft Visual C++ 2015-2022 Redistributable (x64)", Version: "14.36.32532.0", Source: "windows"},
		},
		Services: []wire.Service{{Name: "Spooler", State: "running", StartMode: "auto"}},
		Users:    []wire.User{{Name: "Administrator", ID: "S-1-5-21-1-500", Disabled: true, Admin: true}},
		Groups:   []wire.Group{{Name: "Administrators", ID: "S-1-5-32-544", Members: []string{"Administrator"}}},
	}
}

func seal(t *testing.T, inv wire.Inventory) wire.Inventory {
	t.Helper()
	inv.Normalize()
	h, err := wire.InventoryHash(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.Hash, inv.Full = h, true
	return inv
}

func rows(cs []model.InventoryChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %s", c.Section, c.Op, c.Key))
	}
	return out
}

func TestChanges(t *testing.T) {
	old := seal(t, base())
	cur := base()
	cur.Host.BootTime = 200 // volatile: no row
	cur.Host.Kernel = "10.0.22631.3296"
	cur.Host.Hostname = "pc-01-renamed"
	cur.Hardware.System.BIOSVersion = "1.3.0"
	cur.Hardware.Disks[0].Partitions[0].Encrypted = false
	cur.Hardware.USB = append(cur.Hardware.USB, wire.USBDevice{Path: `USB\VID_0951&PID_1666\E0D55EA57486`, VID: "0951", PID: "1666", Class: "mass-storage"})
	cur.Software[0].Version = "24.07"                        // the only 7-Zip: one changed row
	cur.Software = append(cur.Software[:2], cur.Software[3]) // one of two runtimes gone: removed
	cur.Software = append(cur.Software, wire.Package{Name: "PuTTY release 0.80 (64-bit)", Version: "0.80.0.0", Source: "windows", Scope: "S-1-5-21-1-1001"})
	cur.Services[0].State = "stopped"
	cur.Users = append(cur.Users, wire.User{Name: "leverandor", ID: "S-1-5-21-1-1002"})
	cur.Groups[0].Members = append(cur.Groups[0].Members, "leverandor")
	cur.Sessions = []wire.Session{{User: "leverandor", Kind: "rdp", Remote: "203.0.113.9"}} // sessions: no row
	got := Changes(old, seal(t, cur), t0, 7)
	want := []string{
		"host changed identity",
		"host changed os",
		"hardware changed bios",
		"disks changed PhysicalDrive0",
		`usb added USB\VID_0951&PID_1666\E0D55EA57486`,
		"software changed 7-Zip 23.01 (x64)",
		"software removed Microsoft Visual C++ 2015-2022 Redistributable (x64)",
		"software added PuTTY release 0.80 (64-bit)",
		"services changed Spooler",
		"users added leverandor",
		"groups changed Administrators",
	}
	if !reflect.DeepEqual(rows(got), want) {
		t.Fatalf("Changes =\n%s\nwant\n%s", strings.Join(rows(got), "\n"), strings.Join(want, "\n"))
	}
	for _, c := range got {
		if c.Seq != 7 || !c.At.Equal(t0) || c.AgentID != "" {
			t.Errorf("%s %s: seq %d at %v agent %q, want 7 at %v and no agent", c.Section, c.Key, c.Seq, c.At, c.AgentID, t0)
		}
	}
	if c := got[6]; !strings.Contains(c.Before, "14.38.33130.0") || c.After != "" {
		t.Errorf("removed runtime: Before %s, After %q; want the 14.38 package, then nothing", c.Before, c.After)
	}
	if c := got[0]; !strings.Contains(c.Before, `"pc-01"`) || !strings.Contains(c.After, "pc-01-renamed") || strings.Contains(c.After, "boot") {
		t.Errorf("identity change = %s -> %s", c.Before, c.After)
	}
	if cs := Changes(old, old, t0, 8); len(cs) != 0 {
		t.Errorf("Changes of a snapshot to itself = %q, want none", rows(cs))
	}
	// Sections appearing whole: hardware where there was none.
	bare := old
	bare.Hardware = nil
	if got := rows(Changes(bare, old, t0, 9)); !reflect.DeepEqual(got, []string{
		"hardware added system", "hardware added bios", "disks added PhysicalDrive0", `usb added USB\VID_046D&PID_C52B\5&1A2B3C4D&0&2`,
	}) {
		t.Errorf("Changes adding hardware = %q", got)
	}
}

func TestStep(t *testing.T) {
	a := seal(t, base())
	bi := base()
	bi.Software = bi.Software[:1]
	b := seal(t, bi)
	d, err := wire.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var s State

	// A delta with nothing held: want a full one.
	if cs, err := s.Step(model.InventoryRecord{Seq: 1, At: t0, Inv: d}); !errors.Is(err, ErrNoBase) || cs != nil || !s.WantFull || s.Current != nil {
		t.Fatalf("Step(delta) on empty state = %v, %v; state %+v", rows(cs), err, s)
	}
	// The first full snapshot: one row, flag cleared.
	cs, err := s.Step(model.InventoryRecord{Seq: 2, At: t0.Add(time.Minute), Inv: a})
	if err != nil || s.WantFull || s.Current == nil || s.Current.Hash != a.Hash || s.Seq != 2 {
		t.Fatalf("Step(full) = %v; state %+v", err, s)
	}
	if want := []string{"inventory added " + a.Hash}; !reflect.DeepEqual(rows(cs), want) {
		t.Errorf("Step(first full) rows = %q, want %q", rows(cs), want)
	}
	// The delta applies now.
	cs, err = s.Step(model.InventoryRecord{Seq: 3, At: t0.Add(2 * time.Minute), Inv: d})
	if err != nil || s.Current.Hash != b.Hash || s.Seq != 3 || !s.At.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("Step(delta) = %v; state hash %.12s seq %d", err, s.Current.Hash, s.Seq)
	}
	if len(cs) != 3 { // Firefox and two runtimes removed
		t.Errorf("Step(delta) rows = %q, want 3 removals", rows(cs))
	}
	// A record older than the snapshot held changes nothing.
	if cs, err := s.Step(model.InventoryRecord{Seq: 2, Inv: a}); cs != nil || err != nil || s.Current.Hash != b.Hash {
		t.Errorf("Step(stale full) = %q, %v; hash %.12s, want nothing done", rows(cs), err, s.Current.Hash)
	}
	// The same delta again is against the wrong base now.
	held := s.Current
	if _, err := s.Step(model.InventoryRecord{Seq: 4, Inv: d}); err == nil || !s.WantFull || s.Current != held {
		t.Errorf("Step(delta on the wrong base) = %v; want an error, WantFull and the snapshot kept", err)
	}
	// A full snapshot without a hash gets one; it clears the flag.
	nohash := base()
	nohash.Full = true
	if _, err := s.Step(model.InventoryRecord{Seq: 5, Inv: nohash}); err != nil || s.WantFull || s.Current.Hash != a.Hash {
		t.Errorf("Step(full without hash) = %v; hash %.12s, want %.12s", err, s.Current.Hash, a.Hash)
	}
}

func TestSameSoftware(t *testing.T) {
	a, b := seal(t, base()), seal(t, base())
	b.Services = nil
	if !SameSoftware(&a, &b) || !SameSoftware(nil, nil) || SameSoftware(&a, nil) || SameSoftware(nil, &a) {
		t.Errorf("SameSoftware: want true for equal packages and both nil, false for one nil")
	}
	b.Software = b.Software[1:]
	if SameSoftware(&a, &b) {
		t.Errorf("SameSoftware with a package less = true")
	}
}

func TestMatchName(t *testing.T) {
	for _, tc := range []struct {
		q, name string
		want    bool
		glob    string
	}{
		{"ssl", "OpenSSL", true, "*ssl*"},
		{"OPENSSL", "libssl-openssl3", true, "*openssl*"},
		{"openssl*", "openssl-libs", true, "openssl*"},
		{"openssl*", "libopenssl", false, "openssl*"},
		{"*esr", "firefox-esr", true, "*esr"},
		{"*esr", "firefox-esr-l10n", false, "*esr"},
		{"fire*esr", "firefox-esr", true, "fire*esr"},
		{"a*a", "a", false, "a*a"},
		{"*", "anything", true, "*"},
		{"c++", "libstdc++6", true, "*c++*"},
		{"lib?", "libx", false, "*lib[?]*"},
		{"[x]", "[x]-tool", true, "*[[]x]*"},
		{"økonomi", "Økonomisystem", true, "*økonomi*"},
		{"*b*b", "xbb", true, "*b*b"},
	} {
		if got := MatchName(tc.q, tc.name); got != tc.want {
			t.Errorf("MatchName(%q, %q) = %v, want %v", tc.q, tc.name, got, tc.want)
		}
		if got := NameGlob(tc.q); got != tc.glob {
			t.Errorf("NameGlob(%q) = %q, want %q", tc.q, got, tc.glob)
		}
	}
}

func TestSortHits(t *testing.T) {
	hits := []model.SoftwareHit{
		{AgentID: "b", Hostname: "pc-02", Package: wire.Package{Name: "kernel", Version: "5.14.0-362.13.1.el9_3", Source: "rpm"}},
		{AgentID: "b", Hostname: "pc-02", Package: wire.Package{Name: "kernel", Version: "5.14.0-362.8.1.el9_3", Source: "rpm"}},
		{AgentID: "a", Hostname: "pc-01", Package: wire.Package{Name: "Zoom", Version: "5.17", Source: "windows"}},
		{AgentID: "a", Hostname: "pc-01", Package: wire.Package{Name: "7-Zip", Version: "23.01", Source: "windows"}},
	}
	SortHits(hits)
	var got []string
	for _, h := range hits {
		got = append(got, h.Hostname+" "+h.Package.Name+" "+h.Package.Version)
	}
	want := []string{"pc-01 7-Zip 23.01", "pc-01 Zoom 5.17", "pc-02 kernel 5.14.0-362.8.1.el9_3", "pc-02 kernel 5.14.0-362.13.1.el9_3"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SortHits = %q, want %q", got, want)
	}
}
