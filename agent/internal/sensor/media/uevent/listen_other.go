//go:build !linux

package uevent

import (
	"context"
	"errors"
)

// ErrUnsupported is returned where the kernel has no uevent socket.
var ErrUnsupported = errors.New("kernel uevents exist only on Linux")

// Listener is a placeholder off Linux.
type Listener struct{}

// Listen fails off Linux.
func Listen() (*Listener, error) { return nil, ErrUnsupported }

// Next fails off Linux.
func (l *Listener) Next(context.Context) (Event, error) { return Event{}, ErrUnsupported }

// Close does nothing.
func (l *Listener) Close() error { return nil }
