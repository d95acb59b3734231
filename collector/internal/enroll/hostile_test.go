package enroll_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/enroll"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// guessEnv is an authority on a real SQLite store with a clock the test
// moves, its log kept.
type guessEnv struct {
	auth *enroll.Authority
	st   *sqlstore.DB
	ca   *pki.CA
	now  time.Time
	log  *lockedBuf
	csr  []byte
}

func newGuessEnv(t *testing.T) *guessEnv {
	t.Helper()
	ctx := context.Background()
	ca, err := pki.NewCA("test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "c.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &guessEnv{st: st, ca: ca, now: time.Now(), log: &lockedBuf{}}
	e.auth = enroll.New(ca, st, enroll.Options{Now: func() time.Time { return e.now }, Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	return e
}

func (e *guessEnv) request(t *testing.T, tok wire.Token, n int) wire.EnrollRequest {
	t.Helper()
	if e.csr == nil {
		key, _ := pki.NewKey()
		e.csr, _ = pki.CSR(key, "x")
	}
	csr := e.csr
	return wire.EnrollRequest{Version: wire.Version, TokenID: tok.ID, Secret: tok.Secret, CSR: csr, Fingerprint: fmt.Sprintf("%064d", n), Hostname: "h"}
}

func randomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// TestTokenGuessingRateLimited: one source guessing secrets (for a real
// token id and for made-up ones) gets a handful of tries before it is rate
// limited; no guess enrolls; while limited even the right token is refused
// from that source, but another source enrolls with it; over ten minutes of
// one guess a second the source gets no more tries than the failure rate allows.
// Refusals are audited and logged with the source.
func TestTokenGuessingRateLimited(t *testing.T) {
	e := newGuessEnv(t)
	ctx := context.Background()
	tok, _, err := e.auth.CreateToken(ctx, 24*time.Hour, 5, "test")
	if err != nil {
		t.Fatal(err)
	}
	attacker := &net.UDPAddr{IP: net.ParseIP("192.0.2.66"), Port: 40000}
	checked, limited := 0, 0
	guess := func(i int) {
		g := tok
		if i%2 == 1 {
			var id [8]byte
			_, _ = rand.Read(id[:])
			g.ID = hex.EncodeToString(id[:])
		}
		g.Secret = randomSecret()
		_, err := e.auth.Enroll(ctx, attacker, e.request(t, g, i))
		switch wire.CodeOf(err) {
		case wire.CodeTokenInvalid:
			checked++
		case wire.CodeRateLimited:
			limited++
		default:
			t.Fatalf("guess %d: %v, want token invalid or rate limited", i, err)
		}
	}
	for i := range 200 {
		guess(i)
	}
	// Defaults: a burst of 10 failures, then 0.2 a second.
	if checked > 10 || checked == 0 || limited != 200-checked {
		t.Errorf("200 quick guesses: %d checked, %d rate limited; want at most 10 checked", checked, limited)
	}
	if _, err := e.auth.Enroll(ctx, attacker, e.request(t, tok, 1000)); wire.CodeOf(err) != wire.CodeRateLimited {
		t.Errorf("right token from the limited source: %v, want rate limited", err)
	}
	resp, err := e.auth.Enroll(ctx, &net.UDPAddr{IP: net.ParseIP("198.51.100.7"), Port: 40000}, e.request(t, tok, 1001))
	if err != nil || resp.AgentID == "" {
		t.Fatalf("right token from another source: %v", err)
	}

	// Ten minutes of one guess a second: the failure bucket refills at 0.2/s.
	checked = 0
	for i := range 600 {
		e.now = e.now.Add(time.Second)
		guess(i)
	}
	if max := 1 + 600/5 + 1; checked > max {
		t.Errorf("ten minutes of guessing got %d secrets checked, want at most %d", checked, max)
	}
	if !strings.Contains(e.log.String(), "enrollment rate limited") || !strings.Contains(e.log.String(), "192.0.2.66") {
		t.Errorf("rate limiting not logged with the source:\n%.2000s", e.log.String())
	}
	evs, err := e.st.ListAudit(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, ev := range evs {
		if ev.Action == "agent.enroll.refused" && strings.Contains(ev.Actor, "192.0.2.66") {
			refused++
		}
	}
	if refused == 0 {
		t.Error("refused guesses are not in the audit log with their source")
	}
	// Only the one right enrollment used the token.
	rec, err := e.st.GetEnrollToken(ctx, tok.ID)
	if err != nil || rec.UsesLeft != 4 {
		t.Errorf("token after the guessing: %+v, %v; want 4 uses left", rec, err)
	}
}

// TestTokensUnguessable: every token carries a 256-bit secret from a
// uniform source (far above 128 bits), ids and secrets never repeat, and
// the store keeps only the secret's SHA-256.
func TestTokensUnguessable(t *testing.T) {
	e := newGuessEnv(t)
	ctx := context.Background()
	const n = 64
	ids, secrets := map[string]bool{}, map[string]bool{}
	ones, total := 0, 0
	for range n {
		tok, _, err := e.auth.CreateToken(ctx, time.Hour, 1, "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wire.ParseToken(tok.String()); err != nil {
			t.Fatalf("token does not parse: %v", err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(tok.Secret)
		if err != nil || len(raw)*8 < 128 {
			t.Fatalf("secret %q: %d bits, %v; want at least 128", tok.Secret, len(raw)*8, err)
		}
		for _, b := range raw {
			ones += bits.OnesCount8(b)
		}
		total += len(raw) * 8
		if ids[tok.ID] || secrets[tok.Secret] {
			t.Fatalf("token id or secret repeats after %d tokens", len(ids))
		}
		ids[tok.ID], secrets[tok.Secret] = true, true
		rec, err := e.st.GetEnrollToken(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(tok.Secret))
		if !bytes.Equal(rec.SecretHash, sum[:]) || bytes.Contains(rec.SecretHash, []byte(tok.Secret)) {
			t.Fatalf("stored secret is not its SHA-256")
		}
	}
	// A uniform source sets half the bits: 16384 bits, σ = 64; a stuck or
	// biased generator lands far outside ±10 %.
	if ones < total*45/100 || ones > total*55/100 {
		t.Errorf("%d of %d secret bits set; the generator is not uniform", ones, total)
	}
}
