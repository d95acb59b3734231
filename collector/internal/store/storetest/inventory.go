package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Inventory fixtures: a Debian laptop (invA), the same laptop an upgrade and
// a USB disk later (invB), and later still (invC).

func invA() wire.Inventory {
	return wire.Inventory{
		Host: &wire.Host{
			Hostname: "pc-01", Domain: "kommune.local", OS: "linux", Platform: "debian", PlatformVersion: "12.5",
			Kernel: "6.1.0-18-amd64", Arch: "amd64", BootTime: 1_772_000_000, MachineID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
			CPU: wire.CPU{Model: "Intel(R) Core(TM) i5-1245U", Cores: 10, Threads: 12}, MemoryBytes: 8 << 30,
			Interfaces: []wire.Interface{{Name: "enp0s31f6", MAC: "3c:52:82:aa:bb:cc", Addrs: []string{"10.20.30.40/24"}, Up: true, MTU: 1500}},
		},
		Hardware: &wire.Hardware{
			System: wire.System{Vendor: "LENOVO", Model: "20XW0055MX", Serial: "PF3ABC12", UUID: "6c1f0a4e-2d3b-11b2-a85c-d1f8e1e0c0de",
				Chassis: "laptop", BIOSVendor: "LENOVO", BIOSVersion: "N32ET86W (1.62 )"},
			Disks: []wire.Disk{{Name: "nvme0n1", Model: "SAMSUNG MZVL2512HCJQ", Serial: "S675NX0T123456", SizeBytes: 512_110_190_592, Bus: "nvme",
				Partitions: []wire.Partition{
					{Name: "nvme0n1p1", SizeBytes: 536_870_912, FSType: "vfat", UUID: "A1B2-C3D4", Mountpoint: "/boot/efi"},
					{Name: "nvme0n1p2", SizeBytes: 511_000_000_000, FSType: "crypto_LUKS", Encrypted: true, Encryption: "luks2"},
				}}},
			USB: []wire.USBDevice{{Path: "3-1", VID: "046d", PID: "c52b", Vendor: "Logitech, Inc.", Product: "Unifying Receiver", Class: "hid"}},
		},
		Software: []wire.Package{
			{Name: "bash", Version: "5.2.15-2+b2", Arch: "amd64", Source: "dpkg"},
			{Name: "vim", Version: "2:9.0.1378-2", Arch: "amd64", Source: "dpkg"},
			{Name: "openssl", Version: "3.0.11-1~deb12u2", Arch: "amd64", Source: "dpkg"},
		},
		Services: []wire.Service{
			{Name: "ssh.service", Display: "OpenBSD Secure Shell server", State: "running", StartMode: "enabled"},
			{Name: "cups.service", Display: "CUPS Scheduler", State: "running", StartMode: "enabled"},
		},
		Users:    []wire.User{{Name: "root", ID: "0", Home: "/root", Shell: "/bin/bash", Admin: true}},
		Groups:   []wire.Group{{Name: "sudo", ID: "27", Members: []string{"root"}}},
		Sessions: []wire.Session{{User: "root", ID: "tty1", Kind: "console", Started: 1_772_000_100}},
		Warnings: []string{"/var/lib/dpkg/status:120: stanza without Version; skipped"},
	}
}

func invB() wire.Inventory {
	inv := invA()
	inv.Host.MemoryBytes = 16 << 30
	inv.Host.BootTime = 1_772_086_400 // not history: volatile
	inv.Hardware.Disks = append(inv.Hardware.Disks, wire.Disk{Name: "sda", Model: "Ultra", Serial: "4C530001", SizeBytes: 32_000_000_000,
		Bus: "usb", Removable: true, Partitions: []wire.Partition{{Name: "sda1", SizeBytes: 32_000_000_000, FSType: "vfat", Label: "KINGSTON"}}})
	inv.Software = []wire.Package{
		{Name: "bash", Version: "5.2.15-2+b3", Arch: "amd64", Source: "dpkg"},
		{Name: "curl", Version: "7.88.1-10+deb12u5", Arch: "amd64", Source: "dpkg"},
		{Name: "openssl", Version: "3.0.11-1~deb12u2", Arch: "amd64", Source: "dpkg"},
	}
	inv.Services[1].State = "stopped"
	inv.Users = append(inv.Users, wire.User{Name: "kari", ID: "1000", FullName: "Kari Nordmann", Home: "/home/kari", Shell: "/bin/bash", Admin: true})
	inv.Groups[0].Members = []string{"kari", "root"}
	inv.Sessions = []wire.Session{{User: "kari", ID: "pts/0", Kind: "ssh", Remote: "10.20.30.9", Started: 1_772_090_000}}
	inv.Warnings = nil
	return inv
}

func invC() wire.Inventory {
	inv := invB()
	inv.Software = append(inv.Software, wire.Package{Name: "git", Version: "1:2.39.2-1.1", Arch: "amd64", Source: "dpkg"})
	return inv
}

// snapshot normalizes inv and seals it as a full snapshot with its hash.
func snapshot(t *testing.T, inv wire.Inventory) wire.Inventory {
	t.Helper()
	inv.Normalize()
	h, err := wire.InventoryHash(inv)
	must(t, "InventoryHash", err)
	inv.Hash, inv.Full = h, true
	return inv
}

func diff(t *testing.T, old, cur wire.Inventory) wire.Inventory {
	t.Helper()
	d, err := wire.Diff(old, cur)
	must(t, "wire.Diff", err)
	return d
}

// invAt is the observed time of inventory record seq.
func invAt(seq uint64) time.Time { return at(time.Duration(seq) * time.Minute) }

// invBatch is a batch of inventory records numbered from first, carried both
// as records and, decoded, as the batch's Inventories.
func invBatch(t *testing.T, agentID string, first uint64, invs ...wire.Inventory) model.IngestBatch {
	t.Helper()
	var recs []wire.Record
	var ir []model.InventoryRecord
	for i, inv := range invs {
		seq := first + uint64(i)
		r, err := wire.NewRecord(wire.KindInventory, invAt(seq), inv)
		must(t, "wire.NewRecord", err)
		r.Seq = seq
		recs = append(recs, r)
		ir = append(ir, model.InventoryRecord{Seq: seq, At: invAt(seq), Inv: inv})
	}
	b := batch(agentID, recs)
	b.Inventories = ir
	return b
}

func wantAck(t *testing.T, what string, res model.IngestResult, hash string, full bool) {
	t.Helper()
	if res.InventoryHash != hash || res.InventoryFull != full {
		t.Errorf("%s: ack inventory = {hash %.12s, full %v}, want {%.12s, %v}", what, res.InventoryHash, res.InventoryFull, hash, full)
	}
}

func wantInventory(t *testing.T, st model.Store, agentID string, want wire.Inventory, wantAt time.Time) {
	t.Helper()
	got, gotAt, err := st.GetInventory(t.Context(), agentID)
	must(t, "GetInventory("+agentID+")", err)
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("GetInventory(%s) =\n%s\nwant\n%s", agentID, gj, wj)
	}
	if !gotAt.Equal(wantAt) {
		t.Errorf("GetInventory(%s) time = %v, want %v", agentID, gotAt, wantAt)
	}
}

// changeRows renders history as "seq section op key" lines.
func changeRows(cs []model.InventoryChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%d %s %s %s", c.Seq, c.Section, c.Op, c.Key))
	}
	return out
}

func history(t *testing.T, st model.Store, agentID string, limit int) []model.InventoryChange {
	t.Helper()
	cs, err := st.InventoryHistory(t.Context(), agentID, limit)
	must(t, fmt.Sprintf("InventoryHistory(%s, %d)", agentID, limit), err)
	return cs
}

func testInventoryFullThenDelta(t *testing.T, st model.Store) {
	ctx := t.Context()
	createAgent(t, st, "ag", "pc-01")
	_, _, err := st.GetInventory(ctx, "ag")
	wantErr(t, "GetInventory before any inventory", err, model.ErrNotFound)
	if cs := history(t, st, "ag", 10); len(cs) != 0 {
		t.Errorf("InventoryHistory before any inventory = %v, want none", changeRows(cs))
	}

	a := snapshot(t, invA())
	res := ingest(t, st, invBatch(t, "ag", 1, a))
	if res.MaxSeq != 1 || res.Inserted != 1 {
		t.Errorf("Ingest(full) = %+v, want MaxSeq 1, Inserted 1", res)
	}
	wantAck(t, "after a full snapshot", res, a.Hash, false)
	wantInventory(t, st, "ag", a, invAt(1))
	wantRows := []string{"1 inventory added " + a.Hash}
	if got := changeRows(history(t, st, "ag", 10)); !reflect.DeepEqual(got, wantRows) {
		t.Errorf("history after the first snapshot = %q, want %q", got, wantRows)
	}

	b := snapshot(t, invB())
	res = ingest(t, st, invBatch(t, "ag", 2, diff(t, a, b)))
	wantAck(t, "after a delta", res, b.Hash, false)
	wantInventory(t, st, "ag", b, invAt(2))

	// An inventory-free batch still acks the hash held.
	res = ingest(t, st, batch("ag", records(3, 5, "x")))
	wantAck(t, "after a batch without inventory", res, b.Hash, false)

	cs := history(t, st, "ag", 100)
	wantRows = []string{
		"2 host changed memory",
		"2 disks added sda",
		"2 software changed bash",
		"2 software added curl",
		"2 software removed vim",
		"2 services changed cups.service",
		"2 users added kari",
		"2 groups changed sudo",
		"1 inventory added " + a.Hash,
	}
	if got := changeRows(cs); !reflect.DeepEqual(got, wantRows) {
		t.Fatalf("history, newest first =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
	for _, c := range cs {
		if c.AgentID != "ag" {
			t.Errorf("change %s %s: AgentID = %q, want ag", c.Section, c.Key, c.AgentID)
		}
		if want := invAt(c.Seq); !c.At.Equal(want) {
			t.Errorf("change %s %s: At = %v, want %v", c.Section, c.Key, c.At, want)
		}
	}
	var before, after wire.Package
	if err := json.Unmarshal([]byte(cs[2].Before), &before); err != nil || before.Version != "5.2.15-2+b2" {
		t.Errorf("bash change Before = %s (%v), want the package at 5.2.15-2+b2", cs[2].Before, err)
	}
	if err := json.Unmarshal([]byte(cs[2].After), &after); err != nil || after.Version != "5.2.15-2+b3" {
		t.Errorf("bash change After = %s (%v), want the package at 5.2.15-2+b3", cs[2].After, err)
	}
	if cs[3].Before != "" || !strings.Contains(cs[3].After, "7.88.1-10+deb12u5") {
		t.Errorf("curl added: Before %q, After %q; want none, then the package", cs[3].Before, cs[3].After)
	}
	if cs[4].After != "" || !strings.Contains(cs[4].Before, "2:9.0.1378-2") {
		t.Errorf("vim removed: Before %q, After %q; want the package, then none", cs[4].Before, cs[4].After)
	}
	if !strings.Contains(cs[5].Before, `"running"`) || !strings.Contains(cs[5].After, `"stopped"`) {
		t.Errorf("cups.service change = %s -> %s, want running -> stopped", cs[5].Before, cs[5].After)
	}

	if got := changeRows(history(t, st, "ag", 3)); !reflect.DeepEqual(got, wantRows[:3]) {
		t.Errorf("InventoryHistory(ag, 3) = %q, want %q", got, wantRows[:3])
	}
	_, err = st.InventoryHistory(ctx, "ag", 0)
	wantErr(t, "InventoryHistory(ag, 0)", err, model.ErrInvalid)
	_, err = st.InventoryHistory(ctx, "nope", 10)
	wantErr(t, "InventoryHistory(nope)", err, model.ErrNotFound)
	_, _, err = st.GetInventory(ctx, "nope")
	wantErr(t, "GetInventory(nope)", err, model.ErrNotFound)

	// The software index follows: vim is gone, curl is there.
	if hits := search(t, st, model.SoftwareQuery{Name: "vim"}); len(hits) != 0 {
		t.Errorf("SearchSoftware(vim) after its removal = %v, want none", hitRows(hits))
	}
	if got := hitRows(search(t, st, model.SoftwareQuery{Name: "curl"})); !reflect.DeepEqual(got, []string{"ag pc-01 curl 7.88.1-10+deb12u5"}) {
		t.Errorf("SearchSoftware(curl) = %q", got)
	}

	// A full snapshot and a delta in one batch are applied in order.
	createAgent(t, st, "two", "pc-02")
	c := snapshot(t, invC())
	res = ingest(t, st, invBatch(t, "two", 1, a, diff(t, a, c)))
	wantAck(t, "full and delta in one batch", res, c.Hash, false)
	wantInventory(t, st, "two", c, invAt(2))
	if got := changeRows(history(t, st, "two", 100)); len(got) != 10 || got[len(got)-1] != "1 inventory added "+a.Hash || got[2] != "2 software changed bash" {
		t.Errorf("history of full+delta = %q", got)
	}
	// The first agent's inventory is its own.
	wantInventory(t, st, "ag", b, invAt(2))
}

func testInventoryBadDelta(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc-01")
	a, b := snapshot(t, invA()), snapshot(t, invB())
	ingest(t, st, invBatch(t, "ag", 1, a))

	unknown := diff(t, a, b)
	unknown.Base = strings.Repeat("f", 64)
	res := ingest(t, st, invBatch(t, "ag", 2, unknown))
	wantAck(t, "delta against an unknown base", res, a.Hash, true)
	wantInventory(t, st, "ag", a, invAt(1))

	res = ingest(t, st, batch("ag", records(3, 3, "x")))
	wantAck(t, "next batch without inventory", res, a.Hash, true)

	// The right base, but the result does not hash as the delta says.
	forged := diff(t, a, b)
	forged.Hash = strings.Repeat("0", 64)
	res = ingest(t, st, invBatch(t, "ag", 4, forged))
	wantAck(t, "delta with a wrong result hash", res, a.Hash, true)
	wantInventory(t, st, "ag", a, invAt(1))
	if got := changeRows(history(t, st, "ag", 10)); len(got) != 1 {
		t.Errorf("history after refused deltas = %q, want the first snapshot only", got)
	}

	// Even a delta that fits does not clear the flag: only a full snapshot does.
	res = ingest(t, st, invBatch(t, "ag", 5, diff(t, a, b)))
	wantAck(t, "good delta while a full one is wanted", res, b.Hash, true)
	c := snapshot(t, invC())
	res = ingest(t, st, invBatch(t, "ag", 6, c))
	wantAck(t, "full snapshot", res, c.Hash, false)
	wantInventory(t, st, "ag", c, invAt(6))
	res = ingest(t, st, batch("ag", records(7, 7, "x")))
	wantAck(t, "batch after the full snapshot", res, c.Hash, false)
	if got := changeRows(history(t, st, "ag", 1)); !reflect.DeepEqual(got, []string{"6 software added git"}) {
		t.Errorf("newest change = %q, want git added by the full snapshot", got)
	}

	// A delta before any snapshot: nothing held, a full one wanted.
	createAgent(t, st, "new", "pc-02")
	res = ingest(t, st, invBatch(t, "new", 1, diff(t, a, b)))
	wantAck(t, "delta before any snapshot", res, "", true)
	_, _, err := st.GetInventory(t.Context(), "new")
	wantErr(t, "GetInventory after a lone delta", err, model.ErrNotFound)
	res = ingest(t, st, invBatch(t, "new", 2, b))
	wantAck(t, "first full snapshot", res, b.Hash, false)
	wantInventory(t, st, "new", b, invAt(2))
}

func testInventoryResend(t *testing.T, st model.Store) {
	createAgent(t, st, "ag", "pc-01")
	a, b, c := snapshot(t, invA()), snapshot(t, invB()), snapshot(t, invC())
	first := invBatch(t, "ag", 1, a, diff(t, a, b))
	ingest(t, st, first)
	want := changeRows(history(t, st, "ag", 100))
	for i := range 2 {
		res := ingest(t, st, first)
		if res.Inserted != 0 {
			t.Errorf("resend %d: Inserted = %d, want 0", i+1, res.Inserted)
		}
		wantAck(t, fmt.Sprintf("resend %d", i+1), res, b.Hash, false)
	}
	if got := changeRows(history(t, st, "ag", 100)); !reflect.DeepEqual(got, want) {
		t.Errorf("history after resends =\n%q\nwant\n%q", got, want)
	}
	wantInventory(t, st, "ag", b, invAt(2))

	// A resent full snapshot of the past does not turn the clock back.
	res := ingest(t, st, invBatch(t, "ag", 1, a))
	wantAck(t, "resent first snapshot", res, b.Hash, false)

	// A batch overlapping the stored ones applies only its new delta.
	res = ingest(t, st, invBatch(t, "ag", 2, diff(t, a, b), diff(t, b, c)))
	if res.Inserted != 1 {
		t.Errorf("overlapping batch: Inserted = %d, want 1", res.Inserted)
	}
	wantAck(t, "overlapping batch", res, c.Hash, false)
	wantInventory(t, st, "ag", c, invAt(3))

	if got := changeRows(history(t, st, "ag", 100)); len(got) != len(want)+1 || got[0] != "3 software added git" {
		t.Errorf("history after the overlapping batch = %q, want git added on top of %q", got, want)
	}

	// A gap filled late with an older full snapshot: newly stored, but older
	// than the snapshot held, so it changes nothing.
	ingest(t, st, batch("ag", records(4, 4, "x")))
	res = ingest(t, st, invBatch(t, "ag", 6, snapshot(t, invA())))
	wantAck(t, "snapshot at seq 6", res, a.Hash, false)
	rows := changeRows(history(t, st, "ag", 100))
	res = ingest(t, st, invBatch(t, "ag", 5, c))
	if res.Inserted != 1 {
		t.Errorf("gap fill: Inserted = %d, want 1", res.Inserted)
	}
	wantAck(t, "older snapshot filling a gap", res, a.Hash, false)
	wantInventory(t, st, "ag", a, invAt(6))
	if got := changeRows(history(t, st, "ag", 100)); !reflect.DeepEqual(got, rows) {
		t.Errorf("history after the gap fill =\n%q\nwant it unchanged\n%q", got, rows)
	}
}

// Software search across packaging systems.

func search(t *testing.T, st model.Store, q model.SoftwareQuery) []model.SoftwareHit {
	t.Helper()
	hits, err := st.SearchSoftware(t.Context(), q)
	must(t, fmt.Sprintf("SearchSoftware(%+v)", q), err)
	return hits
}

func hitRows(hits []model.SoftwareHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, fmt.Sprintf("%s %s %s %s", h.AgentID, h.Hostname, h.Package.Name, h.Package.Version))
	}
	return out
}

func fleet() map[string][]wire.Package {
	return map[string][]wire.Package{
		"deb-01": {
			{Name: "openssl", Version: "3.0.11-1~deb12u2", Arch: "amd64", Source: "dpkg"},
			{Name: "libc6", Version: "2.36-9+deb12u4", Arch: "amd64", Source: "dpkg"},
			{Name: "firefox-esr", Version: "115.9.1esr-1~deb12u1", Arch: "amd64", Source: "dpkg"},
			{Name: "libstdc++6", Version: "12.2.0-14", Arch: "amd64", Source: "dpkg"},
		},
		"deb-02": {
			{Name: "openssl", Version: "3.0.11~rc1-1", Arch: "amd64", Source: "dpkg"},
			{Name: "libc6", Version: "2.36-9+deb12u10", Arch: "amd64", Source: "dpkg"},
		},
		"rpm-01": {
			{Name: "openssl", Version: "1:3.0.7-25.el9_3", Arch: "x86_64", Source: "rpm"},
			{Name: "openssl-libs", Version: "1:3.0.7-25.el9_3", Arch: "x86_64", Source: "rpm"},
			{Name: "kernel", Version: "5.14.0-362.8.1.el9_3", Arch: "x86_64", Source: "rpm"},
			{Name: "kernel", Version: "5.14.0-362.13.1.el9_3", Arch: "x86_64", Source: "rpm"},
			{Name: "vim-minimal", Version: "2:8.2.2637-20.el9_1", Arch: "x86_64", Source: "rpm"},
			{Name: "fish", Version: "3.6.0^git1-1.fc38", Arch: "x86_64", Source: "rpm"},
		},
		"win-01": {
			{Name: "7-Zip 23.01 (x64)", Version: "23.01", Source: "windows", Publisher: "Igor Pavlov", InstallDate: 1_700_000_000},
			{Name: "Mozilla Firefox (x64 nb-NO)", Version: "124.0.1", Arch: "x64", Source: "windows", Publisher: "Mozilla"},
			{Name: "OpenSSL 3.1.2 Light (64-bit)", Version: "3.1.2", Source: "windows", Publisher: "OpenSSL Win64 Installer Team"},
			{Name: "Microsoft Edge", Version: "123.0.2420.97", Source: "windows", Publisher: "Microsoft Corporation"},
			{Name: "Økonomisystem Visma", Version: "10.4", Source: "windows", Publisher: "Visma", Scope: "S-1-5-21-1004336348-1177238915-682003330-1001"},
		},
	}
}

func testSearchSoftware(t *testing.T, st model.Store) {
	for id, pkgs := range fleet() {
		createAgent(t, st, id, id)
		inv := invA()
		inv.Host.Hostname, inv.Software = id, pkgs
		res := ingest(t, st, invBatch(t, id, 1, snapshot(t, inv)))
		if res.InventoryHash == "" {
			t.Fatalf("Ingest(%s inventory) acked no hash", id)
		}
	}
	createAgent(t, st, "bare", "bare-01") // no inventory: never a hit

	for _, tc := range []struct {
		q    model.SoftwareQuery
		want []string
	}{
		{model.SoftwareQuery{Name: "openssl"}, []string{
			"deb-01 deb-01 openssl 3.0.11-1~deb12u2",
			"deb-02 deb-02 openssl 3.0.11~rc1-1",
			"rpm-01 rpm-01 openssl 1:3.0.7-25.el9_3",
			"rpm-01 rpm-01 openssl-libs 1:3.0.7-25.el9_3",
			"win-01 win-01 OpenSSL 3.1.2 Light (64-bit) 3.1.2",
		}},
		// Debian: a tilde sorts before the end, so 3.0.11~rc1 < 3.0.11, while
		// 3.0.11-1~deb12u2 has a revision and is above; rpm's epoch 1 puts
		// 1:3.0.7 above every epoch-0 version.
		{model.SoftwareQuery{Name: "OpenSSL", Below: "3.0.11"}, []string{"deb-02 deb-02 openssl 3.0.11~rc1-1"}},
		{model.SoftwareQuery{Name: "openssl*", Below: "3.1"}, []string{
			"deb-01 deb-01 openssl 3.0.11-1~deb12u2",
			"deb-02 deb-02 openssl 3.0.11~rc1-1",
		}},
		{model.SoftwareQuery{Name: "openssl*", Below: "1:3.0.8"}, []string{
			"deb-01 deb-01 openssl 3.0.11-1~deb12u2",
			"deb-02 deb-02 openssl 3.0.11~rc1-1",
			"rpm-01 rpm-01 openssl 1:3.0.7-25.el9_3",
			"rpm-01 rpm-01 openssl-libs 1:3.0.7-25.el9_3",
		}},
		// Numbers compare as numbers: 9+deb12u4 < 9+deb12u10, 362.8 < 362.13.
		{model.SoftwareQuery{Name: "libc6", Below: "2.36-9+deb12u10"}, []string{"deb-01 deb-01 libc6 2.36-9+deb12u4"}},
		{model.SoftwareQuery{Name: "kernel", Below: "5.14.0-362.13.1.el9_3"}, []string{"rpm-01 rpm-01 kernel 5.14.0-362.8.1.el9_3"}},
		{model.SoftwareQuery{Name: "kernel"}, []string{
			"rpm-01 rpm-01 kernel 5.14.0-362.8.1.el9_3",
			"rpm-01 rpm-01 kernel 5.14.0-362.13.1.el9_3",
		}},
		// rpm: a bound without a release sits below every release of it.
		{model.SoftwareQuery{Name: "kernel", Below: "5.14.0"}, nil},
		{model.SoftwareQuery{Name: "vim", Below: "9.0"}, nil}, // epoch 2
		// Caret: 3.6.0^git1 is after 3.6.0 but before 3.6.1.
		{model.SoftwareQuery{Name: "fish", Below: "3.6.1"}, []string{"rpm-01 rpm-01 fish 3.6.0^git1-1.fc38"}},
		{model.SoftwareQuery{Name: "fish", Below: "3.6.0"}, nil},
		// Windows: dotted numbers, 97 < 100, 23.01 = 23.1.
		{model.SoftwareQuery{Name: "edge", Below: "123.0.2420.100"}, []string{"win-01 win-01 Microsoft Edge 123.0.2420.97"}},
		{model.SoftwareQuery{Name: "7-zip", Below: "23.1"}, nil},
		{model.SoftwareQuery{Name: "7-zip", Below: "24.07"}, []string{"win-01 win-01 7-Zip 23.01 (x64) 23.01"}},
		{model.SoftwareQuery{Name: "firefox", Below: "124.0.2"}, []string{
			"deb-01 deb-01 firefox-esr 115.9.1esr-1~deb12u1",
			"win-01 win-01 Mozilla Firefox (x64 nb-NO) 124.0.1",
		}},
		{model.SoftwareQuery{Name: "*fire*", Below: "124.0.1"}, []string{"deb-01 deb-01 firefox-esr 115.9.1esr-1~deb12u1"}},
		// Globs anchor; only * is special.
		{model.SoftwareQuery{Name: "fire*"}, []string{"deb-01 deb-01 firefox-esr 115.9.1esr-1~deb12u1"}},
		{model.SoftwareQuery{Name: "*esr"}, []string{"deb-01 deb-01 firefox-esr 115.9.1esr-1~deb12u1"}},
		{model.SoftwareQuery{Name: "C++"}, []string{"deb-01 deb-01 libstdc++6 12.2.0-14"}},
		{model.SoftwareQuery{Name: "libstdc?"}, nil},
		{model.SoftwareQuery{Name: "lib[s]"}, nil},
		{model.SoftwareQuery{Name: "ssl_"}, nil},
		{model.SoftwareQuery{Name: "%"}, nil},
		{model.SoftwareQuery{Name: "økonomi"}, []string{"win-01 win-01 Økonomisystem Visma 10.4"}},
		{model.SoftwareQuery{Name: "openssl", Limit: 2}, []string{
			"deb-01 deb-01 openssl 3.0.11-1~deb12u2",
			"deb-02 deb-02 openssl 3.0.11~rc1-1",
		}},
		{model.SoftwareQuery{Name: "openssl", Below: "99", Limit: 1}, []string{"deb-01 deb-01 openssl 3.0.11-1~deb12u2"}},
	} {
		if got := hitRows(search(t, st, tc.q)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SearchSoftware(%+v) =\n%q\nwant\n%q", tc.q, got, tc.want)
		}
	}

	// Every field of a package comes back.
	hits := search(t, st, model.SoftwareQuery{Name: "visma"})
	want := fleet()["win-01"][4]
	if len(hits) != 1 || hits[0].Package != want {
		t.Errorf("SearchSoftware(visma) = %+v, want the package %+v", hits, want)
	}
	hits = search(t, st, model.SoftwareQuery{Name: "7-zip"})
	if len(hits) != 1 || hits[0].Package != fleet()["win-01"][0] {
		t.Errorf("SearchSoftware(7-zip) = %+v, want the package %+v", hits, fleet()["win-01"][0])
	}

	_, err := st.SearchSoftware(t.Context(), model.SoftwareQuery{})
	wantErr(t, "SearchSoftware without a name", err, model.ErrInvalid)
	_, err = st.SearchSoftware(t.Context(), model.SoftwareQuery{Name: "x", Limit: -1})
	wantErr(t, "SearchSoftware with a negative limit", err, model.ErrInvalid)
}
