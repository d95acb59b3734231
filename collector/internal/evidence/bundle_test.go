package evidence_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
)

// exportBundle seeds a store in a fresh data dir, exports the year and
// returns the bundle's path and the collector's public key PEM file.
func exportBundle(t *testing.T) (bundle, pubFile string, db *sqlstore.DB) {
	t.Helper()
	dir := t.TempDir()
	db = openStore(t, dir)
	for i := range 3 { // entries before the period: the segment starts after them
		if _, err := db.AppendAudit(t.Context(), model.AuditEvent{At: yearFrom.Add(-time.Duration(i+1) * time.Hour), Actor: "ola", Action: "user.login"}); err != nil {
			t.Fatal(err)
		}
	}
	seed(t, dir, history{hosts: 20, devEvents: 50, media: 30, flowHours: 200, pkgs: 5, audit: 40})
	key := newKey(t, dir)
	if _, err := evidence.Checkpoint(t.Context(), db, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	bundle = filepath.Join(dir, "bundle.zip")
	pubFile = filepath.Join(dir, "collector.pub")
	if err := os.WriteFile(pubFile, evidence.PublicKeyPEM(key.Public().(ed25519.PublicKey)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := evidence.Export(t.Context(), f, db, evidence.Options{
		From: yearFrom, To: yearTo, Key: key, Actor: "revisor", Version: "test",
		BuildMap: func(ctx context.Context) (configmap.Map, error) {
			return configmap.Build(ctx, db, configmap.BuildOptions{})
		},
		Allowed: func(from, to string) bool { return from == "adm" },
	})
	if err != nil {
		t.Fatalf("Export = %v", err)
	}
	if m.Chain.FirstSeq != 4 || m.Chain.HeadSeq != 44 {
		t.Errorf("manifest chain = %+v, want seq 4 to 44", m.Chain)
	}
	return bundle, pubFile, db
}

// readZip returns the bundle's files in order.
func readZip(t *testing.T, path string) (names []string, files map[string][]byte) {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files = map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, f.Name)
		files[f.Name] = b
	}
	return names, files
}

// writeZip writes files in the order of names (skipping absent ones) as a
// well-formed zip, as a tamperer with a zip tool would.
func writeZip(t *testing.T, path string, names []string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		b, ok := files[n]
		if !ok {
			continue
		}
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pubKey(t *testing.T, file string) ed25519.PublicKey {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	k, err := evidence.ParsePublicKeyPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A clean bundle verifies elsewhere, with only itself and the public key.
func TestBundleVerifiesOffline(t *testing.T) {
	bundle, pubFile, _ := exportBundle(t)
	away := t.TempDir()
	for _, f := range []string{bundle, pubFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(away, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep := evidence.Verify(filepath.Join(away, "bundle.zip"), evidence.Trust{PublicKey: pubKey(t, filepath.Join(away, "collector.pub"))})
	for _, c := range rep.Checks {
		t.Log(c)
		if c.Status != "ok" {
			t.Errorf("clean bundle: %s", c)
		}
	}
	if !rep.OK() {
		t.Fatal("clean bundle does not verify")
	}
	fp := evidence.Fingerprint(pubKey(t, pubFile))
	if rep := evidence.Verify(filepath.Join(away, "bundle.zip"), evidence.Trust{Fingerprint: fp}); !rep.OK() {
		t.Errorf("verify by fingerprint: %v", rep.Failures())
	}
	if rep := evidence.Verify(filepath.Join(away, "bundle.zip"), evidence.Trust{}); !rep.OK() || !slices.ContainsFunc(rep.Checks, func(c evidence.Check) bool { return c.Status == "warn" }) {
		t.Errorf("verify without a pinned key: ok %v, checks %v; want ok with a warning", rep.OK(), rep.Checks)
	}
}

func TestBundleContent(t *testing.T) {
	bundle, _, db := exportBundle(t)
	names, files := readZip(t, bundle)
	var m evidence.Manifest
	if err := json.Unmarshal(files[evidence.ManifestFile], &m); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, f := range m.Files {
		listed = append(listed, f.Path)
	}
	for _, c := range evidence.Controls {
		if !slices.Contains(listed, c.File) {
			t.Errorf("controls.csv maps %s, which the bundle does not hold", c.File)
		}
	}
	for _, n := range listed {
		if !slices.ContainsFunc(evidence.Controls, func(c evidence.Control) bool { return c.File == n }) {
			t.Errorf("%s has no control mapping", n)
		}
	}
	if len(names) != len(listed)+2 {
		t.Errorf("zip holds %d files, manifest lists %d (+2)", len(names), len(listed))
	}
	rows := func(name string) [][]string {
		t.Helper()
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(files[name], []byte("\ufeff"))))
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return recs
	}
	if got := len(rows("deviations.csv")) - 1; got != 10 {
		t.Errorf("deviations.csv: %d rows, want 10", got)
	}
	if got := len(rows("deviation-timeline.csv")) - 1; got != 50 {
		t.Errorf("deviation-timeline.csv: %d rows, want 50", got)
	}
	if d := rows("deviations.csv")[1]; !strings.HasPrefix(d[4], "'=") {
		t.Errorf("deviations.csv: title %q is not neutralised", d[4])
	}
	if got := len(rows("media-events.csv")) - 1; got != 30 {
		t.Errorf("media-events.csv: %d rows, want 30", got)
	}
	if got := len(rows("assets.csv")) - 1; got != 18 {
		t.Errorf("assets.csv: %d rows, want 18", got)
	}
	cov := rows("coverage.csv")
	with, without := 0, 0
	for _, r := range cov[1:] {
		if r[6] == "yes" {
			with++
		} else {
			without++
		}
	}
	if with == 0 || without == 0 || with+without != 18 {
		t.Errorf("coverage.csv: %d with and %d without an agent, want both, 18 in all", with, without)
	}
	matrix := rows("flows-zone-matrix.csv")
	if len(matrix) < 2 || matrix[0][9] != "firewall_map" {
		t.Errorf("flows-zone-matrix.csv = %v", matrix)
	}
	if got := len(rows("software-summary.csv")) - 1; got == 0 {
		t.Error("software-summary.csv is empty")
	}
	var lines int
	for _, l := range bytes.Split(bytes.TrimSpace(files[evidence.AuditLogFile]), []byte("\n")) {
		var e struct{ Seq int64 }
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		lines++
	}
	if lines != 41 { // 40 seeded in the period, then the export's own entry
		t.Errorf("audit segment: %d entries, want 41", lines)
	}
	// The export is in the log, with a checkpoint of it.
	head, err := db.AuditHead(t.Context())
	if err != nil || head.Action != evidence.AuditExport || head.Actor != "revisor" {
		t.Errorf("audit head = %+v, %v; want the export", head.AuditEvent, err)
	}
	if cp, err := db.LastAuditCheckpoint(t.Context()); err != nil || cp.Seq != head.Seq {
		t.Errorf("last checkpoint = %+v, %v; want seq %d", cp, err, head.Seq)
	}
	if !bytes.Contains(files["configmap.json"], []byte(`"entries"`)) && !bytes.Contains(files["configmap.json"], []byte(`"Entries"`)) {
		t.Errorf("configmap.json = %.200s", files["configmap.json"])
	}
	var svg struct {
		XMLName xml.Name
		Title   string `xml:"title"`
	}
	if err := xml.Unmarshal(files["configmap.svg"], &svg); err != nil || svg.XMLName.Local != "svg" || svg.Title == "" {
		t.Errorf("configmap.svg does not parse as an SVG with a title: %v (%q)", err, svg.XMLName.Local)
	}
	if rows := bytes.Count(files["configmap.csv"], []byte("\n")); rows < 2 {
		t.Errorf("configmap.csv has %d lines, want a header and the map's entries:\n%s", rows, files["configmap.csv"])
	}
}

// Every kind of tampering fails verification and is named.
func TestBundleTampering(t *testing.T) {
	bundle, pubFile, _ := exportBundle(t)
	pub := pubKey(t, pubFile)
	names, orig := readZip(t, bundle)
	clone := func() map[string][]byte {
		c := map[string][]byte{}
		for k, v := range orig {
			c[k] = bytes.Clone(v)
		}
		return c
	}
	auditLines := func(files map[string][]byte) [][]byte {
		return bytes.SplitAfter(bytes.TrimSuffix(files[evidence.AuditLogFile], []byte("\n")), []byte("\n"))
	}
	joinLines := func(ls [][]byte) []byte {
		b := bytes.Join(ls, nil)
		if !bytes.HasSuffix(b, []byte("\n")) {
			b = append(b, '\n')
		}
		return b
	}
	otherKey := newKey(t, t.TempDir())
	for _, tc := range []struct {
		name   string
		tamper func(files map[string][]byte) []string // returns the zip's names
		want   []string
		key    ed25519.PublicKey
	}{
		{"a byte in a CSV", func(f map[string][]byte) []string {
			i := bytes.IndexByte(f["deviations.csv"], 'A')
			f["deviations.csv"][i] = 'B'
			return names
		}, []string{"deviations.csv: SHA-256 differs from manifest"}, nil},
		{"a removed file", func(f map[string][]byte) []string {
			delete(f, "breaches.csv")
			return names
		}, []string{"breaches.csv: missing: listed in the manifest, not in the bundle"}, nil},
		{"an added file", func(f map[string][]byte) []string {
			f["x.csv"] = []byte("a,b\n")
			return append(slices.Clone(names), "x.csv")
		}, []string{"extra file not in manifest: x.csv"}, nil},
		{"an edited manifest", func(f map[string][]byte) []string {
			f[evidence.ManifestFile] = bytes.Replace(f[evidence.ManifestFile], []byte(`"to": "2025-12-31T23:00:00Z"`), []byte(`"to": "2026-06-30T22:00:00Z"`), 1)
			return names
		}, []string{"manifest.sig: signature does not verify with key " + evidence.Fingerprint(pub)}, nil},
		{"a reordered audit entry", func(f map[string][]byte) []string {
			ls := auditLines(f)
			ls[10], ls[11] = ls[11], ls[10]
			f[evidence.AuditLogFile] = joinLines(ls)
			return names
		}, []string{"audit/audit-log.jsonl: SHA-256 differs from manifest", "audit/audit-log.jsonl: entry seq 15: seq does not follow 13"}, nil},
		{"a deleted audit entry", func(f map[string][]byte) []string {
			ls := auditLines(f)
			f[evidence.AuditLogFile] = joinLines(slices.Delete(ls, 20, 21))
			return names
		}, []string{"audit/audit-log.jsonl: SHA-256 differs from manifest", "audit/audit-log.jsonl: entry seq 25: seq does not follow 23: entries 24 to 24 are missing"}, nil},
		{"an edited audit entry", func(f map[string][]byte) []string {
			ls := auditLines(f)
			ls[5] = bytes.Replace(ls[5], []byte(`"actor":"kari"`), []byte(`"actor":"ola"`), 1)
			f[evidence.AuditLogFile] = joinLines(ls)
			return names
		}, []string{"audit/audit-log.jsonl: entry seq 9: hash does not match its content"}, nil},
		{"the last audit entry cut off", func(f map[string][]byte) []string {
			ls := auditLines(f)
			f[evidence.AuditLogFile] = joinLines(ls[:len(ls)-1])
			return names
		}, []string{"audit/audit-log.jsonl: the segment ends at seq 43, the manifest's head is seq 44"}, nil},
		{"a forged checkpoint", func(f map[string][]byte) []string {
			var cps []map[string]any
			dec := json.NewDecoder(bytes.NewReader(f[evidence.CheckpointsFile]))
			dec.UseNumber()
			if err := dec.Decode(&cps); err != nil {
				t.Fatal(err)
			}
			cps[len(cps)-1]["at"] = "2025-06-01T00:00:00Z" // "it was checked long ago"
			n, _ := cps[len(cps)-1]["at_ns"].(json.Number).Int64()
			cps[len(cps)-1]["at_ns"] = n - int64(180*24*time.Hour)
			f[evidence.CheckpointsFile], _ = json.MarshalIndent(cps, "", "  ")
			return names
		}, []string{"audit/checkpoints.json: SHA-256 differs from manifest", "audit/checkpoints.json: checkpoint seq 44: signature does not verify with key"}, nil},
		{"a bundle re-signed with another key", func(f map[string][]byte) []string {
			var m evidence.Manifest
			if err := json.Unmarshal(f[evidence.ManifestFile], &m); err != nil {
				t.Fatal(err)
			}
			op := otherKey.Public().(ed25519.PublicKey)
			m.Collector.KeyFingerprint, m.Collector.PublicKey = evidence.Fingerprint(op), base64.StdEncoding.EncodeToString(op)
			mb, _ := json.MarshalIndent(m, "", "  ")
			f[evidence.ManifestFile] = mb
			f[evidence.SignatureFile] = []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(otherKey, mb)))
			return names
		}, []string{
			"manifest.json: names key " + evidence.Fingerprint(otherKey.Public().(ed25519.PublicKey)) + ", but the given key is " + evidence.Fingerprint(pub),
			"manifest.sig: signature does not verify with key " + evidence.Fingerprint(pub),
		}, nil},
		{"verified with another collector's key", func(f map[string][]byte) []string { return names },
			[]string{"manifest.sig: signature does not verify with key " + evidence.Fingerprint(otherKey.Public().(ed25519.PublicKey))},
			otherKey.Public().(ed25519.PublicKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := clone()
			zipNames := tc.tamper(files)
			path := filepath.Join(t.TempDir(), "tampered.zip")
			writeZip(t, path, zipNames, files)
			key := pub
			if tc.key != nil {
				key = tc.key
			}
			rep := evidence.Verify(path, evidence.Trust{PublicKey: key})
			if rep.OK() {
				t.Fatalf("tampered bundle verifies")
			}
			fails := rep.Failures()
			for _, w := range tc.want {
				if !slices.ContainsFunc(fails, func(f string) bool { return strings.HasPrefix(f, w) }) {
					t.Errorf("failures %q\nlack %q", fails, w)
				}
			}
		})
	}
}

func TestExportRefusesEmptyPeriod(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	_, err := evidence.Export(t.Context(), io.Discard, db, evidence.Options{From: yearTo, To: yearFrom, Key: newKey(t, dir)})
	if err == nil {
		t.Fatal("Export of an empty period succeeded")
	}
	if _, err := db.AuditHead(t.Context()); err == nil {
		t.Error("a refused export left an audit entry")
	}
}

func TestParsePeriod(t *testing.T) {
	from, to, err := evidence.ParsePeriod("2025-01-01", "2025-12-31")
	if err != nil || !from.Equal(yearFrom) || !to.Equal(yearTo) {
		t.Errorf("ParsePeriod(days) = %v, %v, %v; want %v, %v", from, to, err, yearFrom, yearTo)
	}
	from, to, err = evidence.ParsePeriod("2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z")
	if err != nil || to.Sub(from) != 24*time.Hour {
		t.Errorf("ParsePeriod(RFC 3339) = %v, %v, %v", from, to, err)
	}
	for _, p := range [][2]string{{"2025-13-01", "2025-12-31"}, {"2025-02-01", "2025-01-01"}, {"yesterday", "2025-01-01"}} {
		if _, _, err := evidence.ParsePeriod(p[0], p[1]); err == nil {
			t.Errorf("ParsePeriod(%q, %q) accepted", p[0], p[1])
		}
	}
}

// EvidenceZoneMatrix is ZoneMatrix, computed otherwise.
func TestEvidenceZoneMatrixIsZoneMatrix(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	seed(t, dir, history{hosts: 30, flowHours: 20_000})
	for _, p := range [][2]time.Time{{yearFrom, yearTo}, {yearFrom.AddDate(0, 3, 0), yearFrom.AddDate(0, 4, 0)}, {yearTo, yearTo.AddDate(1, 0, 0)}} {
		want, err := db.ZoneMatrix(t.Context(), p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.EvidenceZoneMatrix(t.Context(), p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("period %v: EvidenceZoneMatrix = %+v\nZoneMatrix = %+v", p, got, want)
		}
	}
}

// For a past period the map comes from the snapshots: the newest at or
// before its end, and the changes since the one at its start.
func TestBundleMapSnapshots(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	seed(t, dir, history{hosts: 10})
	m, err := configmap.Build(t.Context(), db, configmap.BuildOptions{Options: configmap.Options{Now: yearTo.Add(-time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	start := m
	start.At = yearFrom.Add(-time.Hour)
	start.Entries = m.Entries[1:] // one entry came during the year
	for _, x := range []configmap.Map{start, m} {
		s, err := configmap.Encode(x, "system", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.SaveMapSnapshot(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "b.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	built := false
	_, err = evidence.Export(t.Context(), f, db, evidence.Options{From: yearFrom, To: yearTo, Key: newKey(t, dir),
		BuildMap: func(context.Context) (configmap.Map, error) { built = true; return configmap.Map{}, nil }})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if built {
		t.Error("the map was built, though a snapshot at the period's end exists")
	}
	_, files := readZip(t, path)
	var got configmap.Map
	if err := json.Unmarshal(files["configmap.json"], &got); err != nil || !got.At.Equal(m.At) || len(got.Entries) != len(m.Entries) {
		t.Errorf("configmap.json = map at %v with %d entries (%v), want the snapshot at %v with %d", got.At, len(got.Entries), err, m.At, len(m.Entries))
	}
	changes := strings.Split(strings.TrimSpace(string(files["configmap-changes.csv"])), "\n")
	if len(changes) != 2 || !strings.Contains(changes[1], ",added,") {
		t.Errorf("configmap-changes.csv = %q, want one added entry", changes)
	}
}
