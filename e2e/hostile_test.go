package e2e

import (
	"archive/zip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/pkg/transport"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// hostileConn dials the collector as an enrolled agent, with the key and
// certificate the agent binary wrote at enrollment, from a client that
// sends whatever the test wants.
func hostileConn(t *testing.T, c *collector, a *agent) *quic.Conn {
	t.Helper()
	dir := filepath.Join(a.data, "identity")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key"))
	if err != nil {
		t.Fatalf("agent identity: %v", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("identity/ca.crt holds no certificate")
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, ServerName: wire.ServerName,
		RootCAs: pool, Certificates: []tls.Certificate{cert}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	qc, err := quic.DialAddr(ctx, c.agents, conf, transport.QUICConfig())
	if err != nil {
		t.Fatalf("dial collector: %v", err)
	}
	t.Cleanup(func() { qc.CloseWithError(0, "") })
	return qc
}

// send writes raw bytes on a new stream and reads the answer to a batch.
func send(qc *quic.Conn, raw []byte) (wire.Ack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return wire.Ack{}, err
	}
	_ = st.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := st.Write(raw); err != nil {
		return wire.Ack{}, err
	}
	st.Close()
	var ack wire.Ack
	err = wire.ReadExpect(st, wire.FrameAck, &ack)
	return ack, err
}

func batchFrame(t *testing.T, recs []wire.Record) []byte {
	t.Helper()
	p, err := wire.Marshal(wire.Batch{Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{byte(wire.FrameBatch), byte(len(p) >> 24), byte(len(p) >> 16), byte(len(p) >> 8), byte(len(p))}, p...)
}

// formulas are cell values a spreadsheet would run; an agent controls them
// through host names, package names, USB descriptors and DHCP names.
var formulas = []string{`=cmd|' /C calc'!A0`, `+HYPERLINK("http://x")`, `-2+3`, `@SUM(1+1)`, "\t=1+1", "\r=1+1"}

// hostileRecords are records of every kind an agent reports, each text
// field that reaches an export holding a formula.
func hostileRecords(t *testing.T) []wire.Record {
	t.Helper()
	at := time.Now()
	inv := wire.Inventory{Full: true,
		Host: &wire.Host{Hostname: formulas[0], OS: "linux", Platform: formulas[1], Kernel: formulas[2],
			Interfaces: []wire.Interface{{Name: formulas[3], MAC: "02:00:00:00:00:66", Addrs: []string{"192.0.2.66/24"}, Up: true}}},
		Software: []wire.Package{{Name: formulas[3], Version: formulas[1], Source: "dpkg", Publisher: formulas[0]},
			{Name: "ok", Version: formulas[2], Source: "dpkg"}},
		Users: []wire.User{{Name: formulas[0]}},
	}
	h, err := wire.InventoryHash(inv)
	if err != nil {
		t.Fatal(err)
	}
	inv.Hash = h
	bodies := []struct {
		kind wire.Kind
		body any
	}{
		{wire.KindHello, wire.Hello{Version: wire.Version, AgentVersion: formulas[1], Hostname: formulas[0], OS: "linux", Arch: "amd64"}},
		{wire.KindInventory, inv},
		{wire.KindMedia, wire.MediaEvent{Action: wire.MediaAdd, Device: wire.MediaDevice{Class: "usb-storage", Name: "sdz",
			VID: "0781", PID: "5583", Vendor: formulas[2], Product: formulas[0], Serial: formulas[3]}}},
		{wire.KindNeighbours, wire.Neighbours{Source: "capture:eth0", Devices: []wire.Neighbour{{MAC: "02:00:00:00:00:67",
			IPs: []string{"192.0.2.67"}, Name: formulas[0], Vendor: formulas[1], SeenBy: []string{"dhcp"}, First: at.UnixNano(), Last: at.UnixNano()}}}},
		{wire.KindHealth, wire.Health{AgentVersion: formulas[0]}},
	}
	var recs []wire.Record
	for i, b := range bodies {
		r, err := wire.NewRecord(b.kind, at, b.body)
		if err != nil {
			t.Fatal(err)
		}
		r.Seq = uint64(i + 1)
		recs = append(recs, r)
	}
	return recs
}

// TestHostileAgent: an enrolled agent's certificate in a hostile client,
// against the real collector binary while an honest agent reports.
// Malformed and oversized frames are refused with their codes and logged;
// the hostile agent replaying the honest agent's sequence numbers writes
// only its own records; the formulas it plants in host names, packages,
// USB descriptors and neighbour names come out of every CSV of the
// evidence bundle neutralised, and the bundle's paths stay inside it.
func TestHostileAgent(t *testing.T) {
	c := newCollector(t)
	c.start()
	honest := newAgent(t, c, "honest")
	honest.start()
	h := c.waitHost(honest.id, 30*time.Second, "records", func(h apiHost) bool { return h.Records >= 3 })
	mallory := newAgent(t, c, "mallory")
	qc := hostileConn(t, c, mallory)

	big := make([]byte, wire.MaxRecordSize+1)
	for _, tc := range []struct {
		name string
		raw  []byte
		want wire.Code
	}{
		{"oversized batch frame", []byte{byte(wire.FrameBatch), 0x7f, 0xff, 0xff, 0xff}, wire.CodeBatchTooLarge},
		{"garbage payload", []byte{byte(wire.FrameBatch), 0, 0, 0, 3, 0xff, 0xff, 0xff}, wire.CodeMalformed},
		{"unknown frame type", []byte{200, 0, 0, 0, 0}, wire.CodeMalformed},
		{"record too large", batchFrame(t, []wire.Record{{Seq: 1, Kind: wire.KindHealth, Body: big}}), wire.CodeRecordTooLarge},
		{"seq zero", batchFrame(t, []wire.Record{{Seq: 0, Kind: wire.KindHealth, Body: []byte{0xa0}}}), wire.CodeMalformed},
	} {
		_, err := send(qc, tc.raw)
		var we *wire.Error
		if !errors.As(err, &we) || we.Code != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	c.p.waitFor("request refused", 10*time.Second)
	c.p.waitFor("record too large", 10*time.Second)

	// The honest agent's seqs, with the hostile agent's records.
	recs := hostileRecords(t)
	ack, err := send(qc, batchFrame(t, recs))
	if err != nil || ack.MaxSeq != uint64(len(recs)) || ack.Stored != len(recs) {
		t.Fatalf("hostile agent's batch: %+v, %v", ack, err)
	}
	c.waitHost(mallory.id, 10*time.Second, "its own records", func(m apiHost) bool {
		return m.Records == int64(len(recs)) && contiguous(m)
	})
	// The honest agent's records grew on their own and stay contiguous.
	c.waitHost(honest.id, 30*time.Second, "more records", func(x apiHost) bool { return x.Records > h.Records && contiguous(x) })

	// The evidence bundle: every CSV cell neutralised, every path inside.
	day := time.Now().Format(time.DateOnly)
	out := filepath.Join(t.TempDir(), "evidence.zip")
	mustRun(t, "sonevakt-collector", "evidence", "export", "--data", c.data, "--from", day, "--to", day, "--out", out)
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	planted := 0
	reached := map[string]int{}
	for _, f := range zr.File {
		if path.IsAbs(f.Name) || strings.Contains(f.Name, "..") || strings.ContainsAny(f.Name, "\\\x00") || path.Clean(f.Name) != f.Name {
			t.Errorf("bundle entry %q leaves the bundle", f.Name)
		}
		if !strings.HasSuffix(f.Name, ".csv") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\ufeff")))
		cr.FieldsPerRecord = -1
		rows, err := cr.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, row := range rows {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("%s: cell %q would run as a formula", f.Name, cell)
				}
				for _, fm := range formulas {
					if strings.Contains(cell, fm) {
						planted++
						reached[f.Name]++
					}
				}
			}
		}
	}
	// The test is worth something only if the planted values reached the
	// bundle at all.
	t.Logf("planted values per file: %v", reached)
	if planted == 0 {
		t.Error("none of the planted values reached the evidence bundle's CSV files")
	}
}
