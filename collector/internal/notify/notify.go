// Package notify delivers notifications: e-mail over SMTP (STARTTLS, AUTH
// PLAIN) and signed webhooks, through a durable outbox with retry. Callers
// only enqueue; a Dispatcher sends in the background, so a slow or absent mail
// server never holds up ingest or the UI. Delivery is at-least-once; every
// message carries its idempotency key (webhook X-Sonevakt-Delivery, a
// Message-ID derived from it) so receivers can drop a redelivery.
//
// What to send and to whom is decided elsewhere (deviation); the outbox's
// storage lives in the store drivers.
package notify

import (
	"context"
	"errors"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Message is one notification; ID is its idempotency key.
type Message = model.OutboxMessage

// Pending is an outbox message with its delivery state (attempts, last error).
type Pending = model.OutboxPending

// Channels.
const (
	ChannelEmail   = model.ChannelEmail
	ChannelWebhook = model.ChannelWebhook
)

// Outbox is the durable queue of notifications.
type Outbox interface {
	// Enqueue stores messages, due at now. A message whose ID is already
	// stored is ignored.
	Enqueue(ctx context.Context, msgs []Message, now time.Time) error
	// Due returns up to limit messages due at now, neither delivered nor given
	// up, and leases them so that they are not due again while being sent.
	Due(ctx context.Context, now time.Time, limit int) ([]Pending, error)
	// Delivered records a successful attempt.
	Delivered(ctx context.Context, id string, now time.Time) error
	// Failed records a failed attempt, when to try next, and whether delivery
	// is given up.
	Failed(ctx context.Context, id, err string, next time.Time, permanent bool) error
}

// Sender delivers a message over one channel.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrPermanent marks a failure that retrying cannot fix (a rejected
// recipient, a 4xx from a webhook): the message is given up at once.
var ErrPermanent = errors.New("permanent failure")

// Permanent marks err as a failure that retrying cannot fix; Senders return
// it so that the Dispatcher gives the message up at once.
func Permanent(err error) error { return permanentError{err} }

// permanentError wraps an error so that errors.Is(err, ErrPermanent) holds.
type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }
func isPermanent(err error) bool         { return errors.Is(err, ErrPermanent) }
