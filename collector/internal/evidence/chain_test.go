package evidence_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/evidence"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// appendN appends n audit entries through the store.
func appendN(t *testing.T, db evidence.ChainStore, n int) {
	t.Helper()
	for i := range n {
		if _, err := db.AppendAudit(t.Context(), model.AuditEvent{At: time.Now(), Actor: "kari", Action: "asset.update",
			Subject: fmt.Sprintf("A%03d", i), Detail: fmt.Sprintf(`{"n":%d}`, i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func newKey(t *testing.T, dir string) ed25519.PrivateKey {
	t.Helper()
	k, _, err := evidence.LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// attack runs statements on the store's file with the append-only triggers
// dropped, as someone with write access to the file could.
func attack(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	raw := rawDB(t, dir)
	for _, s := range append([]string{`DROP TRIGGER IF EXISTS audit_log_no_update`, `DROP TRIGGER IF EXISTS audit_log_no_delete`}, stmts...) {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	raw.Close()
}

func wantBreak(t *testing.T, err error, seq int64, reason string) {
	t.Helper()
	var cb *evidence.ChainBreak
	if !errors.As(err, &cb) {
		t.Fatalf("VerifyChain = %v, want a break at seq %d", err, seq)
	}
	if cb.Seq != seq || !strings.Contains(cb.Reason, reason) {
		t.Fatalf("VerifyChain = %v, want seq %d: %q", err, seq, reason)
	}
}

func TestVerifyChainIntact(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	key := newKey(t, dir)
	appendN(t, db, 10)
	cp, err := evidence.Checkpoint(t.Context(), db, key, time.Now())
	if err != nil || cp.Seq != 10 {
		t.Fatalf("Checkpoint = %+v, %v; want seq 10", cp, err)
	}
	again, err := evidence.Checkpoint(t.Context(), db, key, time.Now())
	if err != nil || again.ID != cp.ID {
		t.Errorf("Checkpoint with nothing new = id %d, %v; want the same checkpoint %d", again.ID, err, cp.ID)
	}
	appendN(t, db, 5)
	res, err := evidence.VerifyChain(t.Context(), db, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("VerifyChain = %v", err)
	}
	if res.Entries != 15 || res.HeadSeq != 15 || res.Checkpoints != 1 {
		t.Errorf("VerifyChain = %+v, want 15 entries, head 15, 1 checkpoint", res)
	}
}

func TestVerifyChainFindsTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stmts  []string
		seq    int64
		reason string
	}{
		{"edited field", []string{`UPDATE audit_log SET detail = '{"n":99}' WHERE seq = 4`}, 4, "hash does not match its content"},
		{"edited time", []string{`UPDATE audit_log SET at = at + 1 WHERE seq = 6`}, 6, "hash does not match its content"},
		{"deleted entry", []string{`DELETE FROM audit_log WHERE seq = 5`}, 6, "entries 5 to 5 are missing"},
		{"deleted first entry", []string{`DELETE FROM audit_log WHERE seq = 1`}, 2, "entries 1 to 1 are missing"},
		{"reordered entries", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 3`, `UPDATE audit_log SET seq = 3 WHERE seq = 2`, `UPDATE audit_log SET seq = 2 WHERE seq = 100`,
		}, 2, "hash does not match its content"},
		{"hash removed", []string{`UPDATE audit_log SET hash = NULL WHERE seq = 7`}, 7, "has no hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := openStore(t, dir)
			appendN(t, db, 8)
			attack(t, dir, tc.stmts...)
			_, err := evidence.VerifyChain(t.Context(), db, nil)
			wantBreak(t, err, tc.seq, tc.reason)
		})
	}
}

// A rewrite that recomputes every hash after the edit passes the links, but
// not the signed checkpoints.
func TestVerifyChainCheckpointCatchesRewrite(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	key := newKey(t, dir)
	pub := key.Public().(ed25519.PublicKey)
	appendN(t, db, 6)
	if _, err := evidence.Checkpoint(t.Context(), db, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	// Rewrite entry 3 and rechain 3..6 as the store would.
	attack(t, dir, `UPDATE audit_log SET detail = 'forged' WHERE seq = 3`)
	raw := rawDB(t, dir)
	var prev []byte
	if err := raw.QueryRow(`SELECT hash FROM audit_log WHERE seq = 2`).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	for seq := int64(3); seq <= 6; seq++ {
		var e model.AuditEntry
		if err := raw.QueryRow(`SELECT seq, at, actor, action, subject, detail FROM audit_log WHERE seq = ?`, seq).
			Scan(&e.Seq, &e.AtNanos, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			t.Fatal(err)
		}
		prev = e.Rehash(prev)
		if _, err := raw.Exec(`UPDATE audit_log SET hash = ? WHERE seq = ?`, prev, seq); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := evidence.VerifyChain(t.Context(), db, nil); err != nil {
		t.Fatalf("without the key the rewrite is consistent, but VerifyChain = %v", err)
	}
	_, err := evidence.VerifyChain(t.Context(), db, pub)
	wantBreak(t, err, 6, "differs from the signed checkpoint")

	// Cutting the log short below a checkpoint is caught too.
	attack(t, dir, `DELETE FROM audit_log WHERE seq >= 5`)
	_, err = evidence.VerifyChain(t.Context(), db, pub)
	wantBreak(t, err, 6, "log ends at seq 4")
}

func TestVerifyChainForgedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	key := newKey(t, dir)
	appendN(t, db, 3)
	other := newKey(t, t.TempDir())
	head, err := db.AuditHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	forged := evidence.SignCheckpoint(other, head, time.Now())
	forged.Fingerprint = evidence.Fingerprint(key.Public().(ed25519.PublicKey)) // claims to be ours
	if _, err := db.SaveAuditCheckpoint(t.Context(), forged); err != nil {
		t.Fatal(err)
	}
	_, err = evidence.VerifyChain(t.Context(), db, key.Public().(ed25519.PublicKey))
	wantBreak(t, err, 3, "signature does not verify")
}

// Entries written before migration 0013 have no hash; the store chains them
// when it opens, once, exactly as appends would have.
func TestChainBackfill(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	appendN(t, db, 5)
	var before [][]byte
	if err := db.EachAuditEntry(t.Context(), 0, 0, func(e model.AuditEntry) error { before = append(before, e.Hash); return nil }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	attack(t, dir, `UPDATE audit_log SET hash = NULL`)
	for range 2 { // the second open finds nothing to do
		db = openStore(t, dir)
		var after [][]byte
		if err := db.EachAuditEntry(t.Context(), 0, 0, func(e model.AuditEntry) error { after = append(after, e.Hash); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("after reopening: %d entries, want %d", len(after), len(before))
		}
		for i := range before {
			if !bytes.Equal(before[i], after[i]) {
				t.Errorf("entry %d: backfilled hash %x, want %x", i+1, after[i], before[i])
			}
		}
		db.Close()
	}
	db = openStore(t, dir)
	appendN(t, db, 1)
	if _, err := evidence.VerifyChain(t.Context(), db, nil); err != nil {
		t.Errorf("VerifyChain after backfill = %v", err)
	}
}

// The store refuses to change a hash once set, or anything else.
func TestChainUpdateRefused(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	appendN(t, db, 2)
	db.Close()
	raw := rawDB(t, dir)
	for _, s := range []string{
		`UPDATE audit_log SET hash = x'00' WHERE seq = 1`,
		`UPDATE audit_log SET hash = NULL WHERE seq = 1`,
		`UPDATE audit_log SET detail = 'x' WHERE seq = 2`,
		`DELETE FROM audit_log WHERE seq = 2`,
	} {
		if _, err := raw.Exec(s); err == nil {
			t.Errorf("%s: accepted, want refused", s)
		}
	}
}

func TestCheckpointerRun(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	key := newKey(t, dir)
	appendN(t, db, 2)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	c := &evidence.Checkpointer{Store: db, Key: key}
	go func() { done <- c.Run(ctx, 10*time.Millisecond) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cp, err := db.LastAuditCheckpoint(t.Context())
		if err == nil && cp.Seq == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of seq 2 after 5s: %+v, %v", cp, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := evidence.LoadOrCreateKey(dir)
	if err != nil || !created {
		t.Fatalf("LoadOrCreateKey = %v, created %v; want a new key", err, created)
	}
	k2, created, err := evidence.LoadOrCreateKey(dir)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("LoadOrCreateKey again = %v, created %v, same %v; want the same key", err, created, k1.Equal(k2))
	}
	if st, err := os.Stat(filepath.Join(dir, evidence.KeyFile)); err != nil {
		t.Errorf("key file: %v", err)
	} else if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	pub := k1.Public().(ed25519.PublicKey)
	back, err := evidence.ParsePublicKeyPEM(evidence.PublicKeyPEM(pub))
	if err != nil || !back.Equal(pub) {
		t.Errorf("public key PEM round trip = %v", err)
	}
	if fp := evidence.Fingerprint(pub); len(fp) != 64 {
		t.Errorf("Fingerprint = %q, want 64 hex digits", fp)
	}
}
