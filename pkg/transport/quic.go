package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// QUICConfig is the QUIC configuration of both sides: keep-alive, idle
// timeout, handshake timeout and stream limit shared with the TCP transport.
func QUICConfig() *quic.Config {
	return &quic.Config{
		KeepAlivePeriod:       wire.KeepAlivePeriod,
		MaxIdleTimeout:        wire.MaxIdleTimeout,
		HandshakeIdleTimeout:  HandshakeTimeout,
		MaxIncomingStreams:    MaxIncomingStreams,
		MaxIncomingUniStreams: -1,
	}
}

// WrapQUIC returns c as a Conn.
func WrapQUIC(c *quic.Conn) Conn { return quicConn{c} }

// DialQUIC connects over QUIC. A handshake that gets no answer within the
// context's deadline (or the handshake timeout) fails.
func DialQUIC(ctx context.Context, addr string, conf *tls.Config, qc *quic.Config) (Conn, error) {
	if qc == nil {
		qc = QUICConfig()
	}
	c, err := quic.DialAddr(ctx, addr, conf, qc)
	if err != nil {
		return nil, err
	}
	return quicConn{c}, nil
}

type quicConn struct{ c *quic.Conn }

func (q quicConn) OpenStream(ctx context.Context) (Stream, error) {
	s, err := q.c.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	return quicStream{s}, nil
}

func (q quicConn) AcceptStream(ctx context.Context) (Stream, error) {
	s, err := q.c.AcceptStream(ctx)
	if err != nil {
		return nil, err
	}
	return quicStream{s}, nil
}

func (q quicConn) CloseWithError(code wire.Code, msg string) error {
	return q.c.CloseWithError(quic.ApplicationErrorCode(code), msg)
}

func (q quicConn) Context() context.Context { return q.c.Context() }

func (q quicConn) PeerCertificates() []*x509.Certificate {
	return q.c.ConnectionState().TLS.PeerCertificates
}

func (q quicConn) RemoteAddr() net.Addr { return q.c.RemoteAddr() }
func (q quicConn) Transport() string    { return QUIC }

type quicStream struct{ s *quic.Stream }

func (q quicStream) Read(p []byte) (int, error)  { return q.s.Read(p) }
func (q quicStream) Write(p []byte) (int, error) { return q.s.Write(p) }
func (q quicStream) Close() error                { return q.s.Close() }
func (q quicStream) CancelRead(code wire.Code)   { q.s.CancelRead(quic.StreamErrorCode(code)) }
func (q quicStream) CancelWrite(code wire.Code)  { q.s.CancelWrite(quic.StreamErrorCode(code)) }

func (q quicStream) SetDeadline(t time.Time) error      { return q.s.SetDeadline(t) }
func (q quicStream) SetReadDeadline(t time.Time) error  { return q.s.SetReadDeadline(t) }
func (q quicStream) SetWriteDeadline(t time.Time) error { return q.s.SetWriteDeadline(t) }
