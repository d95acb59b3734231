// Package transport is the agent link below the frames of pkg/wire: a
// connection that carries bidirectional streams, each a byte stream with
// half-close and cancellation by wire.Code, and a close of the whole connection
// with a code and a message.
//
// Two implementations share the interface. QUIC (quic-go) is the normal one.
// Where UDP is blocked, the same streams run over one TLS 1.3 connection on TCP,
// on the same port number, with the same certificates, ALPN and mutual TLS,
// through a small multiplexer (mux.go): per-stream flow control, the same stream
// and frame limits, keep-alive and idle timeout as QUIC, and codes carried in
// frames where QUIC carries them as application error codes. The collector's
// ingest and the agent's uplink are written once against Conn and Stream.
package transport

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Transport names.
const (
	QUIC = "quic"
	TCP  = "tcp"
)

// Limits shared by both transports.
const (
	// MaxIncomingStreams is how many streams a peer may have open at once.
	MaxIncomingStreams = 256
	// HandshakeTimeout bounds a TLS handshake (QUIC's handshake idle timeout).
	HandshakeTimeout = 10 * time.Second
)

// Stream is one bidirectional stream.
type Stream interface {
	io.Reader
	io.Writer
	// Close ends the write direction; the peer reads io.EOF after the data.
	Close() error
	// CancelRead abandons the read direction and asks the peer to stop
	// writing; its writes fail with a *StreamError carrying code.
	CancelRead(code wire.Code)
	// CancelWrite abandons the write direction; the peer's reads fail with a
	// *StreamError carrying code.
	CancelWrite(code wire.Code)
	SetDeadline(t time.Time) error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// Conn is one connection to the peer.
type Conn interface {
	// OpenStream opens a stream, waiting while the peer's stream limit is
	// reached.
	OpenStream(ctx context.Context) (Stream, error)
	// AcceptStream returns the next stream the peer opened.
	AcceptStream(ctx context.Context) (Stream, error)
	// CloseWithError closes the connection; the peer's operations fail with a
	// *ConnError (QUIC: *quic.ApplicationError) carrying code and msg.
	CloseWithError(code wire.Code, msg string) error
	// Context is done when the connection ends; its cause says why.
	Context() context.Context
	// PeerCertificates are the peer's verified certificates, leaf first.
	PeerCertificates() []*x509.Certificate
	RemoteAddr() net.Addr
	// Transport is QUIC or TCP.
	Transport() string
}

// ConnError is a connection closed with an application code.
type ConnError struct {
	Code    wire.Code
	Message string
	Remote  bool // closed by the peer
}

func (e *ConnError) Error() string {
	who := "local"
	if e.Remote {
		who = "peer"
	}
	if e.Message == "" {
		return fmt.Sprintf("connection closed by %s: %s", who, e.Code)
	}
	return fmt.Sprintf("connection closed by %s: %s: %s", who, e.Code, e.Message)
}

// StreamError is a stream cancelled with a code.
type StreamError struct {
	Code   wire.Code
	Remote bool // cancelled by the peer
}

func (e *StreamError) Error() string {
	if e.Remote {
		return fmt.Sprintf("stream cancelled by peer: %s", e.Code)
	}
	return fmt.Sprintf("stream cancelled: %s", e.Code)
}

// RemoteCode returns the code the peer closed the connection or cancelled the
// stream with, over either transport; ok is false when err carries none (or
// code 0).
func RemoteCode(err error) (code wire.Code, msg string, connection, ok bool) {
	var ce *ConnError
	if errors.As(err, &ce) && ce.Remote && ce.Code != 0 {
		return ce.Code, ce.Message, true, true
	}
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode != 0 {
		return wire.Code(ae.ErrorCode), ae.ErrorMessage, true, true
	}
	var se *StreamError
	if errors.As(err, &se) && se.Remote && se.Code != 0 {
		return se.Code, "stream reset by peer", false, true
	}
	var qse *quic.StreamError
	if errors.As(err, &qse) && qse.Remote && qse.ErrorCode != 0 {
		return wire.Code(qse.ErrorCode), "stream reset by peer", false, true
	}
	return 0, "", false, false
}

// IsConnClose reports whether err is a connection close with a code (either
// side, either transport).
func IsConnClose(err error) bool {
	var ce *ConnError
	var ae *quic.ApplicationError
	return errors.As(err, &ce) || errors.As(err, &ae)
}
