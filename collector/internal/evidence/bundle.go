package evidence

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/register"
)

// Format names the bundle layout; verify refuses others.
const Format = "sonevakt-evidence/1"

// Names of the bundle's fixed files.
const (
	ManifestFile    = "manifest.json"
	SignatureFile   = "manifest.sig"
	AuditLogFile    = "audit/audit-log.jsonl"
	CheckpointsFile = "audit/checkpoints.json"
)

// Manifest is manifest.json: what the bundle holds and where the audit
// chain stood. manifest.sig is the Ed25519 signature over its exact bytes.
type Manifest struct {
	Format    string    `json:"format"`
	Period    Period    `json:"period"`
	CreatedAt string    `json:"created_at"` // RFC 3339, UTC
	CreatedBy string    `json:"created_by"`
	Collector Collector `json:"collector"`
	Chain     Chain     `json:"chain"`
	Files     []File    `json:"files"`
}

// Period is the bundle's period, [from, to), RFC 3339 UTC.
type Period struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Collector names the collector that signed the bundle.
type Collector struct {
	KeyFingerprint string `json:"key_fingerprint"` // SHA-256 of the raw Ed25519 public key, hex
	PublicKey      string `json:"public_key"`      // the raw public key, base64; trust it only through the fingerprint
	Version        string `json:"version,omitempty"`
}

// Chain is the audit-log segment in the bundle: entries FirstSeq to HeadSeq,
// the first linking to PrevHash (the hash of entry FirstSeq-1, or 32 zero
// bytes when FirstSeq is 1); HeadSeq is the export's own audit entry.
type Chain struct {
	FirstSeq int64  `json:"first_seq"`
	PrevHash string `json:"prev_hash"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// File is one content file of the bundle.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// bundle writes a zip file by file, hashing each as it streams.
type bundle struct {
	zw    *zip.Writer
	files []File
	now   time.Time
}

// hashingWriter counts and hashes what passes to w.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// file adds one file to the zip, written by fn, and lists it for the manifest
// unless unlisted (the manifest and its signature).
func (b *bundle) file(name string, listed bool, fn func(w io.Writer) error) error {
	zf, err := b.zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: b.now})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	hw := &hashingWriter{w: zf, h: sha256.New()}
	bw := bufio.NewWriterSize(hw, 64<<10)
	if err := fn(bw); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if listed {
		b.files = append(b.files, File{Path: name, Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil))})
	}
	return nil
}

// bom starts every CSV file, so that spreadsheets read it as UTF-8.
const bom = "\ufeff"

// csvTable writes a CSV file: the header, then the rows rows sends to
// write; it returns the number of rows. Fields a spreadsheet would run as
// formulas are neutralised as the register exports do.
func (b *bundle) csvTable(name string, header []string, rows func(write func(...string) error) error) (int, error) {
	n := 0
	err := b.file(name, true, func(w io.Writer) error {
		if _, err := io.WriteString(w, bom); err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		rec := make([]string, len(header))
		err := rows(func(fields ...string) error {
			if len(fields) != len(header) {
				return fmt.Errorf("row of %d fields, header has %d", len(fields), len(header))
			}
			for i, f := range fields {
				rec[i] = register.Neutralise(f)
			}
			n++
			return cw.Write(rec)
		})
		if err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
	return n, err
}

// ts formats a time for the bundle: RFC 3339 in UTC with the precision it
// has; "" for the zero time.
func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
