package enroll_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/enroll"
	"github.com/sonevakt/sonevakt/collector/internal/store/sqlstore"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// TestRevokedTokenRefused: a token revoked from the administration page
// enrolls no agent, and the agent is told why.
func TestRevokedTokenRefused(t *testing.T) {
	ctx := context.Background()
	ca, err := pki.NewCA("test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "c.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	auth := enroll.New(ca, st, enroll.Options{})
	tok, _, err := auth.CreateToken(ctx, time.Hour, 5, "test")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	csr, _ := pki.CSR(key, "x")
	req := wire.EnrollRequest{Version: wire.Version, TokenID: tok.ID, Secret: tok.Secret, CSR: csr, Fingerprint: fmt.Sprintf("%064d", 1), Hostname: "h1"}
	from := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4000}
	if _, err := auth.Enroll(ctx, from, req); err != nil {
		t.Fatalf("enroll before revoking: %v", err)
	}
	if err := st.RevokeEnrollToken(ctx, tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Fingerprint = fmt.Sprintf("%064d", 2)
	_, err = auth.Enroll(ctx, from, req)
	if wire.CodeOf(err) != wire.CodeTokenInvalid || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("enroll with a revoked token: %v, want %v saying it was revoked", err, wire.CodeTokenInvalid)
	}
}
