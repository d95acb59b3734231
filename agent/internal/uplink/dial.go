package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/pkg/transport"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Transport choices for Config.Transport and EnrollRequest.Transport.
const (
	TransportAuto = ""               // QUIC, falling back to TLS over TCP where UDP is blocked
	TransportQUIC = transport.QUIC   // QUIC only
	TransportTCP  = transport.TCP    // TLS over TCP only
	transportAuto = "auto"           // the same as TransportAuto, as written in a config file
	dialTimeout   = 15 * time.Second // a whole connection attempt on one transport
)

// Defaults of the fallback.
const (
	DefaultQUICTimeout   = 4 * time.Second
	DefaultProbeInterval = 5 * time.Minute
)

// dialer connects to the collector over QUIC or, where QUIC gets no answer,
// over TLS on TCP on the same port.
type dialer struct {
	mode        string
	quicTimeout time.Duration
	mux         transport.MuxOptions
}

// dial connects. With the auto mode and tcpFirst unset it tries QUIC for
// quicTimeout, then TCP; qerr is the QUIC error that made it fall back.
func (d dialer) dial(ctx context.Context, addr string, conf *tls.Config, tcpFirst bool) (conn transport.Conn, qerr error, err error) {
	switch d.mode {
	case TransportTCP:
		conn, err = d.dialTCP(ctx, addr, conf)
		return conn, nil, err
	case TransportQUIC:
		conn, err = d.dialQUIC(ctx, addr, conf, dialTimeout)
		return conn, nil, err
	}
	if tcpFirst {
		conn, err = d.dialTCP(ctx, addr, conf)
		return conn, nil, err
	}
	conn, qerr = d.dialQUIC(ctx, addr, conf, d.quicTimeout)
	if qerr == nil || !noAnswer(qerr) || ctx.Err() != nil {
		return conn, nil, qerr
	}
	conn, err = d.dialTCP(ctx, addr, conf)
	if err != nil {
		return nil, qerr, fmt.Errorf("quic: %v; tls over tcp: %w", describe(qerr), err)
	}
	return conn, qerr, nil
}

func (d dialer) dialQUIC(ctx context.Context, addr string, conf *tls.Config, timeout time.Duration) (transport.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	qc := transport.QUICConfig()
	qc.HandshakeIdleTimeout = min(qc.HandshakeIdleTimeout, timeout)
	return transport.DialQUIC(ctx, addr, conf, qc)
}

func (d dialer) dialTCP(ctx context.Context, addr string, conf *tls.Config) (transport.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return transport.DialTCP(ctx, addr, conf, d.mux)
}

// noAnswer reports whether a failed QUIC handshake means the collector was not
// heard at all (UDP dropped or rejected on the way: the handshake times out;
// or a local firewall refusing to send: EPERM) rather than that it answered
// and refused: only the former is a reason to try TCP.
func noAnswer(err error) bool {
	var te *quic.TransportError
	if errors.As(err, &te) {
		// From the collector, or a TLS failure: it answered. A local error
		// that is no TLS alert is the socket failing to send.
		return !te.Remote && !te.ErrorCode.IsCryptoError()
	}
	var ae *quic.ApplicationError
	var vn *quic.VersionNegotiationError
	var sr *quic.StatelessResetError
	var cv *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ae), errors.As(err, &vn), errors.As(err, &sr), errors.As(err, &cv):
		return false
	case errors.Is(err, context.Canceled):
		return false
	}
	return true
}

// jitter spreads d over [3/4 d, 5/4 d) so that a fleet does not probe in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d*3/4 + rand.N(d/2+1)
}

// switchError ends a session over TCP because QUIC answers again; the next
// session runs on conn.
type switchError struct{ conn transport.Conn }

func (e *switchError) Error() string { return "QUIC reachable again; moving back from TLS over TCP" }

// probe tries QUIC every jittered probe interval while a session runs on TCP,
// and hands over the first connection that succeeds.
func (c *Client) probe(ctx context.Context, to chan<- transport.Conn) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(c.cfg.ProbeInterval)):
		}
		conn, err := c.dialer().dialQUIC(ctx, c.cfg.Addr, c.cfg.Identity.TLSConfig(), c.cfg.QUICTimeout)
		c.probes.Add(1)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Debug("QUIC still unreachable; staying on TLS over TCP", "err", describe(err))
			}
			continue
		}
		select {
		case to <- conn:
		case <-ctx.Done():
			conn.CloseWithError(wire.CodeOK, "agent closing")
		}
		return
	}
}

func (c *Client) dialer() dialer {
	return dialer{mode: c.cfg.Transport, quicTimeout: c.cfg.QUICTimeout, mux: c.cfg.Mux}
}
