package model

import "time"

// Notification channels.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// OutboxLease is how long Due hides a message it returned from other
// dispatchers: long enough for one delivery attempt, short enough that a
// message whose dispatcher died mid-send is tried again soon.
const OutboxLease = 10 * time.Minute

// OutboxMessage is one notification waiting in the durable outbox.
type OutboxMessage struct {
	// ID is the idempotency key, e.g. "AVVIK-2026-3/created/mail:ola@x": a
	// second enqueue of the same id is ignored, and receivers see it (webhook
	// delivery header, e-mail Message-ID) so they can drop a redelivery.
	ID      string
	Channel string // ChannelEmail or ChannelWebhook
	To      string // an e-mail address or a webhook URL
	Lang    string // "nb" or "en"
	Subject string
	Text    string
	JSON    []byte // the webhook body
}

// OutboxPending is an outbox message with its delivery state.
type OutboxPending struct {
	OutboxMessage
	CreatedAt   time.Time
	NextAt      time.Time // when the next attempt is due
	Attempts    int       // attempts made so far
	LastError   string    // the last attempt's error; "" before the first failure
	DeliveredAt time.Time // zero until delivered
	Failed      bool      // reports whether delivery was given up
}

// NotificationNote is the end of one notification's delivery about a
// deviation, for the deviation's timeline: who was told, by which channel,
// when, or that telling them was given up and why.
type NotificationNote struct {
	Deviation string // the deviation's id
	Delivery  string // the outbox message's id (its idempotency key)
	Channel   string // ChannelEmail or ChannelWebhook
	To        string // the recipient: an e-mail address or a redacted webhook URL
	Delivered bool   // false: delivery was given up
	Attempts  int
	Error     string // why it was given up
	At        time.Time
}
