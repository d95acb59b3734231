package evidence

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Check is one line of a verification: what was checked and whether it
// holds. A warning does not make the bundle fail.
type Check struct {
	Status string // "ok", "FAIL" or "warn"
	Msg    string
}

func (c Check) String() string { return fmt.Sprintf("%-4s %s", c.Status, c.Msg) }

// Report is what Verify found.
type Report struct {
	Checks   []Check
	Manifest *Manifest // nil when it could not be read
}

// OK reports whether every check holds.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == "FAIL" {
			return false
		}
	}
	return len(r.Checks) > 0
}

func (r *Report) ok(format string, a ...any)   { r.add("ok", format, a...) }
func (r *Report) fail(format string, a ...any) { r.add("FAIL", format, a...) }
func (r *Report) warn(format string, a ...any) { r.add("warn", format, a...) }
func (r *Report) add(status, format string, a ...any) {
	r.Checks = append(r.Checks, Check{Status: status, Msg: fmt.Sprintf(format, a...)})
}

// Trust says which key a bundle must be signed with: PublicKey, else a key
// whose fingerprint is Fingerprint; with neither, the key the bundle carries
// is used and the report warns that nothing pins it.
type Trust struct {
	PublicKey   ed25519.PublicKey
	Fingerprint string
}

// maxManifest bounds manifest.json and audit/checkpoints.json in memory.
const maxManifest = 64 << 20

// maxAuditLine bounds one line of the audit segment.
const maxAuditLine = 16 << 20

// Verify checks the bundle at path offline: the manifest's signature with
// the trusted key, that the manifest names that key, every listed file's
// size and SHA-256, that no file is missing or unlisted, the audit
// segment's chain from the stated previous hash to the stated head, and
// the checkpoints' signatures and hashes. It needs no database.
func Verify(path string, trust Trust) *Report {
	r := &Report{}
	zr, err := zip.OpenReader(path)
	if err != nil {
		r.fail("%s: not a readable zip: %v", path, err)
		return r
	}
	defer zr.Close()
	byName := map[string]*zip.File{}
	for _, f := range zr.File {
		if byName[f.Name] != nil {
			r.fail("%s: in the zip twice", f.Name)
		}
		byName[f.Name] = f
	}
	mb, err := readZipFile(byName[ManifestFile], maxManifest)
	if err != nil {
		r.fail("%s: %v", ManifestFile, err)
		return r
	}
	sigText, err := readZipFile(byName[SignatureFile], 4096)
	if err != nil {
		r.fail("%s: %v", SignatureFile, err)
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		r.fail("%s: not valid JSON: %v", ManifestFile, err)
		return r
	}
	r.Manifest = &m
	if m.Format != Format {
		r.fail("%s: format %q, want %q", ManifestFile, m.Format, Format)
	}

	key := r.trustedKey(m, trust)
	if key != nil && sigText != nil {
		sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sigText)))
		switch {
		case err != nil || len(sig) != ed25519.SignatureSize:
			r.fail("%s: not a base64 Ed25519 signature", SignatureFile)
		case !ed25519.Verify(key, mb, sig):
			r.fail("%s: signature does not verify with key %s", SignatureFile, Fingerprint(key))
		default:
			r.ok("%s: signature verifies with key %s", SignatureFile, Fingerprint(key))
		}
	}

	listed := map[string]bool{ManifestFile: true, SignatureFile: true}
	for _, f := range m.Files {
		if listed[f.Path] {
			r.fail("%s: listed twice in the manifest", f.Path)
			continue
		}
		listed[f.Path] = true
		zf := byName[f.Path]
		if zf == nil {
			r.fail("%s: missing: listed in the manifest, not in the bundle", f.Path)
			continue
		}
		size, sum, err := hashZipFile(zf)
		switch {
		case err != nil:
			r.fail("%s: cannot be read: %v", f.Path, err)
		case sum != f.SHA256 && size != f.Size:
			r.fail("%s: SHA-256 differs from manifest (and the size: %d bytes, manifest %d)", f.Path, size, f.Size)
		case sum != f.SHA256:
			r.fail("%s: SHA-256 differs from manifest", f.Path)
		case size != f.Size:
			r.fail("%s: size %d differs from manifest (%d)", f.Path, size, f.Size)
		default:
			r.ok("%s: %d bytes, SHA-256 matches", f.Path, size)
		}
	}
	for _, f := range zr.File {
		if !listed[f.Name] {
			r.fail("extra file not in manifest: %s", f.Name)
		}
	}
	hashes := r.verifyCheckpoints(byName[CheckpointsFile], m.Chain, key)
	r.verifySegment(byName[AuditLogFile], m.Chain, hashes)
	return r
}

// trustedKey picks the key to verify with and checks that the manifest
// names it; nil when none can be trusted.
func (r *Report) trustedKey(m Manifest, trust Trust) ed25519.PublicKey {
	var carried ed25519.PublicKey
	if b, err := base64.StdEncoding.DecodeString(m.Collector.PublicKey); err == nil && len(b) == ed25519.PublicKeySize {
		carried = b
	}
	switch {
	case trust.PublicKey != nil:
		fp := Fingerprint(trust.PublicKey)
		if m.Collector.KeyFingerprint != fp {
			r.fail("%s: names key %s, but the given key is %s", ManifestFile, m.Collector.KeyFingerprint, fp)
		} else {
			r.ok("%s: names the given key %s", ManifestFile, fp)
		}
		return trust.PublicKey
	case trust.Fingerprint != "":
		want := strings.ToLower(trust.Fingerprint)
		if carried == nil {
			r.fail("%s: carries no valid public key to check against fingerprint %s", ManifestFile, want)
			return nil
		}
		if fp := Fingerprint(carried); fp != want || m.Collector.KeyFingerprint != want {
			r.fail("%s: key %s (named %s) is not the given fingerprint %s", ManifestFile, fp, m.Collector.KeyFingerprint, want)
			return nil
		}
		r.ok("%s: carries the key with the given fingerprint %s", ManifestFile, want)
		return carried
	}
	if carried == nil {
		r.fail("%s: carries no valid public key; pass --pubkey", ManifestFile)
		return nil
	}
	if fp := Fingerprint(carried); fp != m.Collector.KeyFingerprint {
		r.fail("%s: carried key %s is not the named %s", ManifestFile, fp, m.Collector.KeyFingerprint)
		return nil
	}
	r.warn("key: not pinned: verified with the key the bundle carries (%s); pass --pubkey or --fingerprint to check who signed it", m.Collector.KeyFingerprint)
	return carried
}

// verifyCheckpoints checks every checkpoint's signature and returns the
// hashes they vouch for by seq; the segment must agree with them.
func (r *Report) verifyCheckpoints(f *zip.File, c Chain, key ed25519.PublicKey) map[int64][]byte {
	if f == nil {
		return nil // reported as missing already, or never listed
	}
	b, err := readZipFile(f, maxManifest)
	if err != nil {
		r.fail("%s: %v", CheckpointsFile, err)
		return nil
	}
	var cps []checkpointJSON
	if err := json.Unmarshal(b, &cps); err != nil {
		r.fail("%s: not valid JSON: %v", CheckpointsFile, err)
		return nil
	}
	hashes := map[int64][]byte{}
	bad := false
	for _, cj := range cps {
		head, herr := hex.DecodeString(cj.Head)
		sig, serr := base64.StdEncoding.DecodeString(cj.Signature)
		cp := model.AuditCheckpoint{Seq: cj.Seq, Head: head, At: time.Unix(0, cj.AtNanos).UTC(), Fingerprint: cj.Fingerprint, Signature: sig}
		switch {
		case herr != nil || serr != nil:
			r.fail("%s: checkpoint seq %d: head or signature is not well-formed", CheckpointsFile, cj.Seq)
		case key == nil:
		case VerifyCheckpoint(key, cp) != nil:
			r.fail("%s: %v", CheckpointsFile, VerifyCheckpoint(key, cp))
		case cj.Seq < c.FirstSeq-1 || cj.Seq > c.HeadSeq:
			r.fail("%s: checkpoint seq %d: outside the audit segment %d to %d", CheckpointsFile, cj.Seq, c.FirstSeq, c.HeadSeq)
		case hashes[cj.Seq] != nil && !bytes.Equal(hashes[cj.Seq], head):
			r.fail("%s: checkpoint seq %d: two signed checkpoints name different hashes", CheckpointsFile, cj.Seq)
		default:
			hashes[cj.Seq] = head
			continue
		}
		bad = true
	}
	if hashes[c.HeadSeq] == nil {
		r.fail("%s: no signed checkpoint of the chain head, seq %d", CheckpointsFile, c.HeadSeq)
		bad = true
	}
	if p, err := hex.DecodeString(c.PrevHash); err == nil && hashes[c.FirstSeq-1] != nil && !bytes.Equal(hashes[c.FirstSeq-1], p) {
		r.fail("%s: checkpoint seq %d: differs from the manifest's previous hash", CheckpointsFile, c.FirstSeq-1)
		bad = true
	}
	if !bad && key != nil {
		r.ok("%s: %d checkpoint(s), signatures verify", CheckpointsFile, len(cps))
	}
	return hashes
}

// verifySegment checks the audit segment's chain: seqs FirstSeq to HeadSeq
// without a gap, each entry's hash over its content and the previous hash,
// starting from PrevHash and ending at HeadHash, and agreeing with every
// signed checkpoint.
func (r *Report) verifySegment(f *zip.File, c Chain, checkpoints map[int64][]byte) {
	const name = AuditLogFile
	if f == nil {
		r.fail("%s: missing from the bundle", name)
		return
	}
	prev, err := hex.DecodeString(c.PrevHash)
	if err != nil || len(prev) != sha256.Size {
		r.fail("%s: the manifest's previous hash is not a SHA-256", ManifestFile)
		return
	}
	if c.FirstSeq < 1 || c.HeadSeq < c.FirstSeq {
		r.fail("%s: chain seqs %d to %d are not a segment", ManifestFile, c.FirstSeq, c.HeadSeq)
		return
	}
	if c.FirstSeq == 1 && !bytes.Equal(prev, model.GenesisHash) {
		r.fail("%s: the chain starts at seq 1 but its previous hash is not zero", ManifestFile)
		return
	}
	rc, err := f.Open()
	if err != nil {
		r.fail("%s: %v", name, err)
		return
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	prevSeq, n := c.FirstSeq-1, 0
	for line := 1; ; line++ {
		b, err := readLine(br)
		if errors.Is(err, io.EOF) && len(b) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			r.fail("%s: line %d: %v", name, line, err)
			return
		}
		var al auditLine
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&al); err != nil {
			r.fail("%s: line %d: not an audit entry: %v", name, line, err)
			return
		}
		h, err := hex.DecodeString(al.Hash)
		if err != nil {
			r.fail("%s: entry seq %d: hash is not hex", name, al.Seq)
			return
		}
		e := model.AuditEntry{AuditEvent: model.AuditEvent{Seq: al.Seq, Actor: al.Actor, Action: al.Action, Subject: al.Subject, Detail: al.Detail},
			AtNanos: al.AtNanos, Hash: h}
		if err := link(prevSeq, prev, e); err != nil {
			var cb *ChainBreak
			errors.As(err, &cb)
			r.fail("%s: entry seq %d: %s", name, cb.Seq, cb.Reason)
			return
		}
		if al.At != atText(al.AtNanos) {
			r.fail("%s: entry seq %d: at %q does not match at_ns %d", name, al.Seq, al.At, al.AtNanos)
			return
		}
		if want := checkpoints[e.Seq]; want != nil && !bytes.Equal(want, h) {
			r.fail("%s: entry seq %d: hash differs from its signed checkpoint", name, e.Seq)
			return
		}
		prev, prevSeq = h, e.Seq
		n++
	}
	switch {
	case prevSeq != c.HeadSeq:
		r.fail("%s: the segment ends at seq %d, the manifest's head is seq %d", name, prevSeq, c.HeadSeq)
	case hex.EncodeToString(prev) != c.HeadHash:
		r.fail("%s: the head's hash differs from the manifest's", name)
	default:
		r.ok("%s: %d entries, seq %d to %d, chain holds", name, n, c.FirstSeq, c.HeadSeq)
	}
}

// readLine reads one line without its line feed, refusing one over
// maxAuditLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		b, err := br.ReadSlice('\n')
		out = append(out, b...)
		if len(out) > maxAuditLine {
			return nil, fmt.Errorf("longer than %d bytes", maxAuditLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimSuffix(out, []byte("\n")), err
	}
}

// readZipFile reads a whole file of the zip, at most limit bytes.
func readZipFile(f *zip.File, limit int64) ([]byte, error) {
	if f == nil {
		return nil, errors.New("missing from the bundle")
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// hashZipFile streams a zip file's content through SHA-256.
func hashZipFile(f *zip.File) (int64, string, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, "", err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Failures returns the failed checks' messages, sorted.
func (r *Report) Failures() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == "FAIL" {
			out = append(out, c.Msg)
		}
	}
	slices.Sort(out)
	return out
}
