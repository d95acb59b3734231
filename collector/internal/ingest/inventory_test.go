package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fullSnapshot is a sealed full snapshot with n packages: over 4 KiB for a
// few dozen, so its record body travels zstd-compressed.
func fullSnapshot(t *testing.T, n int, extra ...wire.Package) wire.Inventory {
	t.Helper()
	inv := wire.Inventory{
		Host: &wire.Host{Hostname: "pc-17", OS: "linux", Platform: "debian", PlatformVersion: "12.5", Kernel: "6.1.0-18-amd64",
			Arch: "amd64", CPU: wire.CPU{Model: "Xeon", Cores: 4, Threads: 8}, MemoryBytes: 8 << 30},
		Users: []wire.User{{Name: "root", ID: "0", Admin: true}},
	}
	for i := range n {
		inv.Software = append(inv.Software, wire.Package{Name: fmt.Sprintf("lib%03d", i), Version: fmt.Sprintf("1.%d-1", i), Arch: "amd64", Source: "dpkg"})
	}
	inv.Software = append(inv.Software, extra...)
	inv.Normalize()
	h, err := wire.InventoryHash(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.Hash, inv.Full = h, true
	return inv
}

func inventoryRecord(t *testing.T, seq uint64, inv wire.Inventory) wire.Record {
	t.Helper()
	r, err := wire.NewRecord(wire.KindInventory, time.Unix(1_772_000_000+int64(seq), 0), inv)
	if err != nil {
		t.Fatal(err)
	}
	r.Seq = seq
	return r
}

func TestInventoryAcks(t *testing.T) {
	h := newHarness(t)
	c := h.dial(h.agentTLS("agent1"))
	send := func(what string, recs ...wire.Record) wire.Ack {
		t.Helper()
		var ack wire.Ack
		if err := exchange(c, wire.FrameBatch, wire.Batch{Records: recs}, wire.FrameAck, &ack); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return ack
	}
	wantAck := func(what string, ack wire.Ack, hash string, full bool) {
		t.Helper()
		if ack.InventoryHash != hash || ack.InventoryFull != full {
			t.Errorf("%s: ack = %+v, want InventoryHash %.12s, InventoryFull %v", what, ack, hash, full)
		}
	}

	a := fullSnapshot(t, 200)
	ra := inventoryRecord(t, 1, a)
	if ra.Enc != wire.EncCBORZstd {
		t.Fatalf("full snapshot record is not compressed (%d bytes); the test wants both encodings", len(ra.Body))
	}
	wantAck("full snapshot", send("full snapshot", ra), a.Hash, false)

	b := fullSnapshot(t, 199, wire.Package{Name: "openssl", Version: "3.0.11-1~deb12u2", Arch: "amd64", Source: "dpkg"})
	d, err := wire.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	rd := inventoryRecord(t, 3, d)
	if rd.Enc != wire.EncCBOR {
		t.Fatalf("delta record is compressed; the test wants a plain one too")
	}
	ack := send("health and delta", append(records(2, 1), rd)...)
	wantAck("delta", ack, b.Hash, false)
	if ack.MaxSeq != 3 || ack.Stored != 2 {
		t.Errorf("delta batch ack = %+v, want MaxSeq 3, Stored 2", ack)
	}
	wantAck("batch without inventory", send("health", records(4, 2)...), b.Hash, false)

	// A delta against a snapshot the collector never saw: ask for a full one,
	// on this ack and every ack until it comes.
	unknown := d
	unknown.Base, unknown.Hash = strings.Repeat("e", 64), strings.Repeat("d", 64)
	wantAck("delta against an unknown base", send("unknown delta", inventoryRecord(t, 6, unknown)), b.Hash, true)
	wantAck("health while a full one is wanted", send("health", records(7, 1)...), b.Hash, true)

	// An inventory body that does not decode is stored raw, nothing more.
	junk := wire.Record{Seq: 8, Kind: wire.KindInventory, ObservedAt: time.Now().UnixNano(), Body: []byte{0xa1, 0x01}}
	ack = send("undecodable inventory", junk)
	wantAck("undecodable inventory", ack, b.Hash, true)
	if ack.Stored != 1 {
		t.Errorf("undecodable inventory: Stored = %d, want 1 (kept raw)", ack.Stored)
	}

	// Resending the bad delta changes nothing; the full snapshot clears the flag.
	wantAck("resent unknown delta", send("resend", inventoryRecord(t, 6, unknown)), b.Hash, true)
	wantAck("full snapshot after the request", send("full", inventoryRecord(t, 9, a)), a.Hash, false)

	ctx := context.Background()
	got, at, err := h.st.GetInventory(ctx, "agent1")
	if err != nil || got.Hash != a.Hash || len(got.Software) != 200 || !at.Equal(time.Unix(1_772_000_009, 0)) {
		t.Errorf("GetInventory = hash %.12s, %d packages at %v, %v; want %.12s, 200 at %v", got.Hash, len(got.Software), at, err,
			a.Hash, time.Unix(1_772_000_009, 0))
	}
	hist, err := h.st.InventoryHistory(ctx, "agent1", 100)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, c := range hist {
		rows = append(rows, fmt.Sprintf("%d %s %s %s", c.Seq, c.Section, c.Op, c.Key))
	}
	want := []string{
		"9 software added lib199", "9 software removed openssl",
		"3 software removed lib199", "3 software added openssl",
		"1 inventory added " + a.Hash,
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("history =\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	hits, err := h.st.SearchSoftware(ctx, model.SoftwareQuery{Name: "openssl"})
	if err != nil || len(hits) != 0 {
		t.Errorf("SearchSoftware(openssl) after its removal = %+v, %v; want none", hits, err)
	}
	hs, err := h.st.GetHost(ctx, "agent1")
	if err != nil || hs.Facts == nil || hs.Facts.Hostname != "pc-17" {
		t.Errorf("host facts from the inventory = %+v, %v", hs.Facts, err)
	}
}

func TestInventoryDeltaFirst(t *testing.T) {
	h := newHarness(t)
	c := h.dial(h.agentTLS("agent1"))
	a, b := fullSnapshot(t, 3), fullSnapshot(t, 4)
	d, err := wire.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var ack wire.Ack
	if err := exchange(c, wire.FrameBatch, wire.Batch{Records: []wire.Record{inventoryRecord(t, 1, d)}}, wire.FrameAck, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.InventoryHash != "" || !ack.InventoryFull {
		t.Errorf("delta before any snapshot: ack = %+v, want no hash and InventoryFull", ack)
	}
	// Full snapshot and delta in one batch: both applied, in order.
	recs := []wire.Record{inventoryRecord(t, 2, a), inventoryRecord(t, 3, d)}
	ack = wire.Ack{} // omitempty fields: decode into a fresh value
	if err := exchange(c, wire.FrameBatch, wire.Batch{Records: recs}, wire.FrameAck, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.InventoryHash != b.Hash || ack.InventoryFull {
		t.Errorf("full and delta in one batch: ack = %+v, want InventoryHash %.12s", ack, b.Hash)
	}
}
