package wire

import (
	"errors"
	"fmt"
)

// Code is an application error code. It travels as the QUIC application error
// code of a closed connection or a reset stream, and inside an error frame.
type Code uint64

// The codes. Values are part of the protocol: never renumber.
const (
	CodeOK                 Code = 0x00
	CodeInternal           Code = 0x100 // the collector failed; retry later
	CodeMalformed          Code = 0x101 // a frame or record could not be decoded
	CodeRecordTooLarge     Code = 0x102 // a record is over MaxRecordSize
	CodeBatchTooLarge      Code = 0x103 // a batch frame is over MaxBatchSize
	CodeUnauthenticated    Code = 0x104 // no valid client certificate on a stream that needs one
	CodeRevoked            Code = 0x105 // the agent's certificate is revoked
	CodeTokenInvalid       Code = 0x106 // unknown token id or wrong secret
	CodeTokenExpired       Code = 0x107 // the enrollment token has expired
	CodeTokenUsedUp        Code = 0x108 // the enrollment token has no uses left
	CodeRateLimited        Code = 0x109 // too many attempts from this source; back off
	CodeUnsupportedVersion Code = 0x10a // protocol version not spoken by the peer
	CodeShuttingDown       Code = 0x10b // the collector is stopping; reconnect later
	CodeBadRequest         Code = 0x10c // a well-formed request that cannot be honoured (bad CSR, seq 0 …)
)

var codeNames = map[Code]string{
	CodeOK:                 "ok",
	CodeInternal:           "internal error",
	CodeMalformed:          "malformed frame",
	CodeRecordTooLarge:     "record too large",
	CodeBatchTooLarge:      "batch too large",
	CodeUnauthenticated:    "unauthenticated",
	CodeRevoked:            "certificate revoked",
	CodeTokenInvalid:       "enrollment token invalid",
	CodeTokenExpired:       "enrollment token expired",
	CodeTokenUsedUp:        "enrollment token used up",
	CodeRateLimited:        "rate limited",
	CodeUnsupportedVersion: "unsupported protocol version",
	CodeShuttingDown:       "collector shutting down",
	CodeBadRequest:         "bad request",
}

func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code 0x%x", uint64(c))
}

// Retryable reports whether a sender may try the same request again later
// without a change on its side.
func (c Code) Retryable() bool {
	switch c {
	case CodeInternal, CodeRateLimited, CodeShuttingDown:
		return true
	}
	return false
}

// Error is a refusal with its code and a message for the side that can act on it.
type Error struct {
	Code    Code   `cbor:"1,keyasint"`
	Message string `cbor:"2,keyasint,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code carried by err, CodeOK for nil and CodeInternal for
// errors that carry none.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
