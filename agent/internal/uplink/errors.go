package uplink

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/sonevakt/sonevakt/pkg/transport"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// describe turns connection closes and stream cancellations carrying our
// codes, over QUIC or TCP, into *wire.Error, so callers and operators see the
// collector's reason by name.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	if code, msg, conn, ok := transport.RemoteCode(err); ok {
		if !conn {
			msg = "stream reset by collector"
		}
		return &wire.Error{Code: code, Message: msg}
	}
	return err
}

// connErr prefers the connection's close reason (e.g. revoked) over the error
// of the operation that noticed it.
func connErr(conn transport.Conn, err error) error {
	if cause := context.Cause(conn.Context()); cause != nil && transport.IsConnClose(cause) {
		return cause
	}
	return err
}

func codeOf(err error) wire.Code {
	var we *wire.Error
	if errors.As(describe(err), &we) {
		return we.Code
	}
	return wire.CodeInternal
}

func parseCert(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return c, nil
}
