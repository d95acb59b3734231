package uplink

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// describe turns QUIC application errors carrying our codes into *wire.Error,
// so callers and operators see the collector's reason by name.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && ae.ErrorCode != 0 {
		return &wire.Error{Code: wire.Code(ae.ErrorCode), Message: ae.ErrorMessage}
	}
	var se *quic.StreamError
	if errors.As(err, &se) && se.Remote && se.ErrorCode != 0 {
		return &wire.Error{Code: wire.Code(se.ErrorCode), Message: "stream reset by collector"}
	}
	return err
}

// connErr prefers the connection's close reason (e.g. revoked) over the error
// of the operation that noticed it.
func connErr(conn *quic.Conn, err error) error {
	if cause := context.Cause(conn.Context()); cause != nil {
		var ae *quic.ApplicationError
		if errors.As(cause, &ae) {
			return cause
		}
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
