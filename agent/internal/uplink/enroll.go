package uplink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/transport"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// EnrollRequest is what enrollment needs besides the collector address.
type EnrollRequest struct {
	Collector   string // HOST:PORT
	Token       wire.Token
	DataDir     string
	Fingerprint string
	Hostname    string
	// Transport and QUICTimeout are as in Config: by default QUIC, and TLS
	// over TCP on the same port when QUIC gets no answer within 4 s.
	Transport   string
	QUICTimeout time.Duration
}

func (r EnrollRequest) dialer() dialer {
	d := dialer{mode: r.Transport, quicTimeout: r.QUICTimeout}
	if d.quicTimeout == 0 {
		d.quicTimeout = DefaultQUICTimeout
	}
	return d
}

// Enroll enrolls the agent with the collector and saves the identity.
//
// The token pins the collector's CA. The agent first learns the collector's
// certificate chain from a handshake that it refuses (no trusted roots yet),
// picks from that chain the CA whose key matches the pin, and then connects
// again verifying the collector against that CA alone. Nothing is sent before
// the collector is verified. Where UDP is blocked, both connections use TLS
// over TCP on the same port.
func Enroll(ctx context.Context, req EnrollRequest) (*identity.Identity, error) {
	ca, used, err := discoverCA(ctx, req.dialer(), req.Collector, req.Token.Pin)
	if err != nil {
		return nil, err
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	csr, err := pki.CSR(key, req.Hostname)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	conf := &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, ServerName: wire.ServerName, RootCAs: pool}
	// The transport that reached the collector a moment ago.
	d := req.dialer()
	d.mode = used
	conn, _, err := d.dial(ctx, req.Collector, conf, false)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", req.Collector, describe(err))
	}
	defer conn.CloseWithError(0, "")
	st, err := conn.OpenStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stream: %w", describe(err))
	}
	if err := wire.WriteFrame(st, wire.FrameEnrollRequest, wire.EnrollRequest{
		Version: wire.Version, TokenID: req.Token.ID, Secret: req.Token.Secret, CSR: csr,
		Fingerprint: req.Fingerprint, Hostname: req.Hostname,
	}); err != nil {
		return nil, fmt.Errorf("send enrollment: %w", describe(err))
	}
	st.Close()
	var resp wire.EnrollResponse
	if err := wire.ReadExpect(st, wire.FrameEnrollResponse, &resp); err != nil {
		return nil, fmt.Errorf("enrollment refused: %w", describe(err))
	}
	cert, err := x509.ParseCertificate(resp.Cert)
	if err != nil {
		return nil, fmt.Errorf("enrollment response: certificate: %w", err)
	}
	respCA, err := x509.ParseCertificate(resp.CA)
	if err != nil || !respCA.Equal(ca) {
		return nil, errors.New("enrollment response: CA differs from the one the collector presented")
	}
	id, err := identity.New(req.DataDir, req.Collector, req.Token.Pin, resp.AgentID, key, cert, ca)
	if err != nil {
		return nil, fmt.Errorf("enrollment response: %w", err)
	}
	if err := id.Save(); err != nil {
		return nil, err
	}
	return id, nil
}

// discoverCA learns the collector's chain from a handshake that fails
// verification on purpose and returns the CA certificate matching pin, and
// the transport that reached the collector.
func discoverCA(ctx context.Context, d dialer, addr, pin string) (*x509.Certificate, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*dialTimeout)
	defer cancel()
	conf := &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{wire.ALPN},
		ServerName: wire.ServerName,
		RootCAs:    x509.NewCertPool(), // trusts nothing: the handshake must fail
	}
	used := d.mode
	if used == transportAuto {
		used = TransportAuto
	}
	var conn transport.Conn
	var err error
	switch used {
	case TransportTCP:
		conn, err = d.dialTCP(ctx, addr, conf)
	case TransportQUIC:
		conn, err = d.dialQUIC(ctx, addr, conf, dialTimeout)
	default:
		used = TransportQUIC
		conn, err = d.dialQUIC(ctx, addr, conf, d.quicTimeout)
		if err != nil && noAnswer(err) && ctx.Err() == nil {
			qerr := err
			used = TransportTCP
			if conn, err = d.dialTCP(ctx, addr, conf); err != nil && !errors.As(err, new(*tls.CertificateVerificationError)) {
				err = fmt.Errorf("quic: %v; tls over tcp: %w", describe(qerr), err)
			}
		}
	}
	if err == nil {
		conn.CloseWithError(0, "")
		return nil, "", fmt.Errorf("collector %s was trusted without a CA; refusing", addr)
	}
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) {
		return nil, "", fmt.Errorf("connect to %s: %w", addr, describe(err))
	}
	var pins []string
	for _, c := range cve.UnverifiedCertificates {
		p := pki.Pin(c)
		if c.IsCA && p == pin {
			return c, used, nil
		}
		pins = append(pins, p)
	}
	return nil, "", fmt.Errorf("collector %s presents no CA matching the token's pin %s (it presents %v): wrong collector, or a token from another collector", addr, pin, pins)
}
