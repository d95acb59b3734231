// Package enroll is the collector's certificate authority at work: it creates
// enrollment tokens (stored hashed), turns a token and a CSR into an agent
// identity, renews agent certificates over mTLS, revokes agents, and builds the
// TLS configuration of the agent listener. It rate-limits enrollment attempts
// per source address.
package enroll

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Store is what enrollment needs of the store.
type Store interface {
	model.TokenStore
	model.AgentStore
	model.AuditStore
}

// Options tune the authority; zero values take the defaults.
type Options struct {
	CertTTL time.Duration // agent certificate lifetime; default 90 days
	// Rate limits per source address: attempts (burst, per second) and failures
	// (burst, per second). Defaults 50, 20/s and 10, 0.2/s.
	AttemptBurst, FailureBurst float64
	AttemptRate, FailureRate   float64
	Now                        func() time.Time
	Logger                     *slog.Logger
}

// Authority issues and checks agent identities.
type Authority struct {
	ca      *pki.CA
	store   Store
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
	tries   *limiter
	failing *limiter
}

// New returns an authority signing with ca.
func New(ca *pki.CA, st Store, o Options) *Authority {
	if o.CertTTL == 0 {
		o.CertTTL = 90 * 24 * time.Hour
	}
	if o.AttemptBurst == 0 {
		o.AttemptBurst, o.AttemptRate = 50, 20
	}
	if o.FailureBurst == 0 {
		o.FailureBurst, o.FailureRate = 10, 0.2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Authority{
		ca: ca, store: st, ttl: o.CertTTL, now: o.Now, log: o.Logger,
		tries:   newLimiter(o.AttemptBurst, o.AttemptRate),
		failing: newLimiter(o.FailureBurst, o.FailureRate),
	}
}

// CA returns the authority's CA certificate.
func (a *Authority) CA() *x509.Certificate { return a.ca.Cert }

// HashSecret returns the stored form of a token secret: SHA-256. The secret is
// 256 random bits, so no stretching is needed.
func HashSecret(secret string) []byte {
	s := sha256.Sum256([]byte(secret))
	return s[:]
}

// CreateToken creates an enrollment token valid for ttl and uses enrollments.
func (a *Authority) CreateToken(ctx context.Context, ttl time.Duration, uses int, actor string) (wire.Token, model.EnrollToken, error) {
	if ttl <= 0 {
		return wire.Token{}, model.EnrollToken{}, fmt.Errorf("token ttl %v: %w", ttl, model.ErrInvalid)
	}
	if uses < 1 {
		return wire.Token{}, model.EnrollToken{}, fmt.Errorf("token uses %d: %w", uses, model.ErrInvalid)
	}
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return wire.Token{}, model.EnrollToken{}, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return wire.Token{}, model.EnrollToken{}, err
	}
	tok := wire.Token{
		ID:     hex.EncodeToString(id[:]),
		Secret: base64.RawURLEncoding.EncodeToString(secret[:]),
		Pin:    pki.Pin(a.ca.Cert),
	}
	now := a.now()
	rec := model.EnrollToken{
		ID: tok.ID, SecretHash: HashSecret(tok.Secret), CreatedAt: now,
		ExpiresAt: now.Add(ttl), MaxUses: uses, UsesLeft: uses, CreatedBy: actor,
	}
	if err := a.store.CreateEnrollToken(ctx, rec); err != nil {
		return wire.Token{}, model.EnrollToken{}, fmt.Errorf("store token: %w", err)
	}
	a.audit(ctx, actor, "enroll.token.create", tok.ID, map[string]any{"expires_at": rec.ExpiresAt, "uses": uses})
	return tok, rec, nil
}

// Enroll checks the token in req, signs its CSR and records the new agent. from
// is the source address, used for rate limiting and the audit log. Every refusal
// is a *wire.Error naming the cause.
func (a *Authority) Enroll(ctx context.Context, from net.Addr, req wire.EnrollRequest) (wire.EnrollResponse, error) {
	host := hostOf(from)
	now := a.now()
	if !a.tries.allow(host, now) || a.failing.empty(host, now) {
		a.log.Warn("enrollment rate limited", "from", host)
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeRateLimited, "too many enrollment attempts from %s; wait a minute", host)
	}
	resp, err := a.enroll(ctx, host, req, now)
	if err != nil {
		a.failing.take(host, now)
		a.log.Warn("enrollment refused", "from", host, "token", req.TokenID, "err", err)
		a.audit(ctx, "agent@"+host, "agent.enroll.refused", req.TokenID, map[string]any{"reason": err.Error(), "hostname": req.Hostname})
	}
	return resp, err
}

func (a *Authority) enroll(ctx context.Context, host string, req wire.EnrollRequest, now time.Time) (wire.EnrollResponse, error) {
	if req.Version != wire.Version {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeUnsupportedVersion, "agent speaks protocol %d, collector %d", req.Version, wire.Version)
	}
	t, err := a.store.GetEnrollToken(ctx, req.TokenID)
	if errors.Is(err, model.ErrNotFound) {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeTokenInvalid, "unknown token %s", req.TokenID)
	}
	if err != nil {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeInternal, "look up token: %v", err)
	}
	if subtle.ConstantTimeCompare(t.SecretHash, HashSecret(req.Secret)) != 1 {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeTokenInvalid, "wrong secret for token %s", req.TokenID)
	}
	if !now.Before(t.ExpiresAt) {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeTokenExpired, "token %s expired at %s; ask for a new one", t.ID, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if len(req.Fingerprint) != 64 {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeBadRequest, "hardware fingerprint missing or malformed")
	}
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeInternal, "random: %v", err)
	}
	id := hex.EncodeToString(idb[:])
	cert, err := a.ca.SignAgent(req.CSR, id, a.ttl, now)
	if err != nil {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeBadRequest, "%v", err)
	}
	// Take the use only once everything else holds, so a bad CSR costs no use.
	if err := a.store.UseEnrollToken(ctx, t.ID, now); err != nil {
		switch {
		case errors.Is(err, model.ErrUsedUp):
			return wire.EnrollResponse{}, wire.Errorf(wire.CodeTokenUsedUp, "token %s has no uses left (it allowed %d)", t.ID, t.MaxUses)
		case errors.Is(err, model.ErrExpired):
			return wire.EnrollResponse{}, wire.Errorf(wire.CodeTokenExpired, "token %s expired", t.ID)
		case errors.Is(err, model.ErrNotFound):
			return wire.EnrollResponse{}, wire.Errorf(wire.CodeTokenInvalid, "unknown token %s", t.ID)
		case errors.Is(err, model.ErrRevoked):
			return wire.EnrollResponse{}, wire.Errorf(wire.CodeTokenInvalid, "token %s was revoked; ask for a new one", t.ID)
		}
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeInternal, "use token: %v", err)
	}
	others, err := a.store.AgentsByFingerprint(ctx, req.Fingerprint)
	if err != nil {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeInternal, "look up fingerprint: %v", err)
	}
	agent := model.Agent{
		ID: id, Fingerprint: req.Fingerprint, Hostname: clean(req.Hostname, 255),
		CertSerial: cert.SerialNumber.Text(16), CertNotAfter: cert.NotAfter, EnrolledAt: now, Addr: host,
	}
	if err := a.store.CreateAgent(ctx, agent); err != nil {
		return wire.EnrollResponse{}, wire.Errorf(wire.CodeInternal, "store agent: %v", err)
	}
	detail := map[string]any{"token": t.ID, "hostname": agent.Hostname, "fingerprint": req.Fingerprint, "from": host}
	if len(others) > 0 {
		// Re-enrollment of the same hardware: keep both, say so. The rules turn
		// this into a duplicate-identity deviation.
		ids := make([]string, len(others))
		for i, o := range others {
			ids[i] = o.ID
		}
		detail["same_fingerprint_as"] = ids
		a.log.Warn("enrolled hardware that already has an agent", "agent", id, "others", ids)
	}
	a.audit(ctx, "agent:"+id, "agent.enroll", id, detail)
	a.log.Info("agent enrolled", "agent", id, "hostname", agent.Hostname, "from", host)
	return wire.EnrollResponse{AgentID: id, Cert: cert.Raw, CA: a.ca.Cert.Raw}, nil
}

// Renew issues a fresh certificate for an enrolled, unrevoked agent.
func (a *Authority) Renew(ctx context.Context, agentID string, req wire.RenewRequest) (wire.RenewResponse, error) {
	ag, err := a.store.GetAgent(ctx, agentID)
	if err != nil {
		return wire.RenewResponse{}, wire.Errorf(wire.CodeUnauthenticated, "agent %s: %v", agentID, err)
	}
	if ag.Revoked() {
		return wire.RenewResponse{}, wire.Errorf(wire.CodeRevoked, "agent %s was revoked at %s", agentID, ag.RevokedAt.UTC().Format(time.RFC3339))
	}
	now := a.now()
	cert, err := a.ca.SignAgent(req.CSR, agentID, a.ttl, now)
	if err != nil {
		return wire.RenewResponse{}, wire.Errorf(wire.CodeBadRequest, "%v", err)
	}
	serial := cert.SerialNumber.Text(16)
	if err := a.store.UpdateAgentCert(ctx, agentID, serial, cert.NotAfter); err != nil {
		return wire.RenewResponse{}, wire.Errorf(wire.CodeInternal, "store certificate: %v", err)
	}
	a.audit(ctx, "agent:"+agentID, "agent.renew", agentID, map[string]any{"serial": serial, "not_after": cert.NotAfter})
	return wire.RenewResponse{Cert: cert.Raw}, nil
}

// Revoke revokes an agent: its connections are refused from now on.
func (a *Authority) Revoke(ctx context.Context, agentID, actor string) error {
	if err := a.store.RevokeAgent(ctx, agentID, a.now()); err != nil {
		return err
	}
	a.audit(ctx, actor, "agent.revoke", agentID, nil)
	return nil
}

// Check decides whether a connecting client certificate may be served: it names
// an enrolled agent that is not revoked. It returns the agent or a *wire.Error.
func (a *Authority) Check(ctx context.Context, cert *x509.Certificate) (model.Agent, error) {
	id, err := pki.AgentID(cert)
	if err != nil {
		return model.Agent{}, wire.Errorf(wire.CodeUnauthenticated, "%v", err)
	}
	return a.CheckID(ctx, id)
}

// CheckID is Check for an agent id already taken from a verified certificate;
// ingest calls it on every batch so that a revocation ends live connections.
func (a *Authority) CheckID(ctx context.Context, id string) (model.Agent, error) {
	ag, err := a.store.GetAgent(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return model.Agent{}, wire.Errorf(wire.CodeUnauthenticated, "agent %s is not enrolled here; enroll again", id)
	}
	if err != nil {
		return model.Agent{}, wire.Errorf(wire.CodeInternal, "look up agent: %v", err)
	}
	if ag.Revoked() {
		return ag, wire.Errorf(wire.CodeRevoked, "agent %s was revoked at %s; enroll again with a new token", id, ag.RevokedAt.UTC().Format(time.RFC3339))
	}
	return ag, nil
}

// ServerTLS returns the TLS configuration of the agent listener: a server
// certificate for wire.ServerName and names, issued now and renewed by the
// caller on restart; client certificates verified against the CA when given
// (enrollment connections have none).
func (a *Authority) ServerTLS(names []string) (*tls.Config, error) {
	host, _ := os.Hostname()
	all := append([]string{wire.ServerName, "localhost", "127.0.0.1", "::1"}, names...)
	if host != "" {
		all = append(all, host)
	}
	der, key, err := a.ca.ServerCert(all, 365*24*time.Hour, a.now())
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.ca.Cert)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{wire.ALPN},
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{der, a.ca.Cert.Raw}, // the CA travels so agents can match their pin
			PrivateKey:  key,
		}},
		// The client certificate, when given, is verified by verifyClient
		// with crypto/tls's own rules (VerifyClientCertIfGiven) so that a
		// refused one, expired or of another CA, is named in the log: a
		// failed handshake never reaches the listener.
		ClientAuth: tls.RequestClientCert,
		ClientCAs:  pool,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			return a.verifyClient(raw, pool)
		},
	}, nil
}

// verifyClient verifies a client certificate chain against the CA for
// client authentication, as crypto/tls does, and logs a refusal with the
// agent id, subject and issuer the certificate claims.
func (a *Authority) verifyClient(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return nil // enrollment: no certificate
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			a.log.Warn("agent certificate refused", "err", fmt.Errorf("parse certificate %d: %w", i, err))
			return fmt.Errorf("client certificate %d: %w", i, err)
		}
		certs[i] = c
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), CurrentTime: a.now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		id, _ := pki.AgentID(certs[0])
		a.log.Warn("agent certificate refused", "agent", id, "subject", certs[0].Subject.String(),
			"issuer", certs[0].Issuer.String(), "not_after", certs[0].NotAfter.UTC().Format(time.RFC3339), "err", err)
		return err
	}
	return nil
}

func (a *Authority) audit(ctx context.Context, actor, action, subject string, detail map[string]any) {
	var d string
	if detail != nil {
		b, _ := json.Marshal(detail)
		d = string(b)
	}
	if _, err := a.store.AppendAudit(ctx, model.AuditEvent{At: a.now(), Actor: actor, Action: action, Subject: subject, Detail: d}); err != nil {
		a.log.Error("audit log append failed", "action", action, "err", err)
	}
}

func hostOf(addr net.Addr) string {
	if addr == nil {
		return "unknown"
	}
	h, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return h
}

func clean(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// ResetKey derives the QUIC stateless-reset key from the CA key: stable across
// restarts and equal on every replica that shares the CA, secret like the key.
func (a *Authority) ResetKey() (*[32]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(a.ca.Key)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte("sonevakt quic stateless reset v1\x00"))
	h.Write(der)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return &k, nil
}
