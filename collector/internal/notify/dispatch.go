package notify

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Dispatcher defaults.
const (
	DefaultMaxAttempts = 20
	defaultBatch       = 16
	defaultPoll        = 30 * time.Second
)

// Backoff returns the wait after the given number of failed attempts (1, 2,
// …): 1 s doubling up to 1 h, plus up to a fifth more of jitter so that many
// messages to one dead server do not retry in lockstep.
func Backoff(attempts int) time.Duration {
	d := time.Hour
	if attempts < 13 { // 1 s << 12 > 1 h
		d = min(time.Second<<max(attempts-1, 0), time.Hour)
	}
	return d + rand.N(d/5+1)
}

// Dispatcher sends what is due in an Outbox through the Senders, one message
// at a time, and records the outcome. Callers only Enqueue into the outbox
// and may call Wake; neither waits on delivery.
type Dispatcher struct {
	Outbox  Outbox
	Senders map[string]Sender // by channel
	// Backoff returns the wait after n failed attempts; nil for Backoff.
	Backoff func(attempts int) time.Duration
	// MaxAttempts is how many failed attempts give a message up; 0 for
	// DefaultMaxAttempts.
	MaxAttempts int
	Logger      *slog.Logger
	Now         func() time.Time // nil for time.Now
	// Poll is how often the outbox is read without a Wake; 0 for 30 s. It
	// picks up messages enqueued by other processes.
	Poll time.Duration
	// Done, when set, is called once a message's delivery ended: p has
	// DeliveredAt set, or Failed true and LastError saying why it was given
	// up; Attempts counts the last one. It is called after the outcome is
	// recorded, from the dispatching goroutine, so it should be quick (the
	// collector notes the outcome on the deviation's timeline). A crash between
	// recording and Done loses the call; Done must tolerate a repeat.
	Done func(ctx context.Context, p Pending)

	once sync.Once
	wake chan struct{}
}

func (d *Dispatcher) init() {
	d.once.Do(func() { d.wake = make(chan struct{}, 1) })
}

// Wake makes Run read the outbox now. It never blocks.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Run sends due messages until ctx ends; it returns ctx's error.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	poll := d.Poll
	if poll <= 0 {
		poll = defaultPoll
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	// retries holds the next attempt this dispatcher scheduled for each
	// message it failed to deliver, so that it wakes up for the earliest.
	retries := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.wake:
		case <-timer.C:
		}
		checked, err := d.drain(ctx, log, retries)
		if err != nil && ctx.Err() == nil {
			log.Warn("read notification outbox", "err", err)
		}
		now := d.now()
		wait := poll
		for id, at := range retries {
			if !at.After(checked) {
				// Due but not handed out (another dispatcher has it, or
				// the read failed): the poll picks it up.
				delete(retries, id)
				continue
			}
			wait = min(wait, max(at.Sub(now), 0))
		}
		if err != nil {
			wait = max(wait, time.Second) // do not spin on a failing store
		}
		timer.Reset(wait)
	}
}

// drain sends everything due now, recording in retries when each failed
// message is tried next. It returns the time of its last successful read of
// the outbox: nothing was due then.
func (d *Dispatcher) drain(ctx context.Context, log *slog.Logger, retries map[string]time.Time) (checked time.Time, err error) {
	for ctx.Err() == nil {
		now := d.now()
		due, err := d.Outbox.Due(ctx, now, defaultBatch)
		if err != nil {
			return checked, err
		}
		if len(due) == 0 {
			return now, nil
		}
		for _, p := range due {
			if at, retry := d.deliver(ctx, log, p); retry {
				retries[p.ID] = at
			} else {
				delete(retries, p.ID)
			}
		}
	}
	return checked, ctx.Err()
}

func (d *Dispatcher) done(ctx context.Context, p Pending) {
	if d.Done != nil {
		d.Done(ctx, p)
	}
}

// deliver makes one attempt at p and records it; it returns the time of the
// next attempt and whether there is one.
func (d *Dispatcher) deliver(ctx context.Context, log *slog.Logger, p Pending) (time.Time, bool) {
	log = log.With("id", p.ID, "channel", p.Channel)
	s := d.Senders[p.Channel]
	var err error
	if s == nil {
		err = fmt.Errorf("no sender configured for channel %q", p.Channel)
	} else {
		err = s.Send(ctx, p.OutboxMessage)
	}
	if err != nil && ctx.Err() != nil {
		// Shut down mid-send: the lease runs out and the message is retried.
		return time.Time{}, false
	}
	// Record with a context of its own: a delivery must not be lost to a
	// shutdown.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err == nil {
		at := d.now()
		if err := d.Outbox.Delivered(rctx, p.ID, at); err != nil {
			log.Error("record notification delivered", "err", err)
		} else {
			log.Info("notification delivered", "attempts", p.Attempts+1)
			p.Attempts++
			p.DeliveredAt, p.LastError = at, ""
			d.done(rctx, p)
		}
		return time.Time{}, false
	}
	attempts := p.Attempts + 1
	maxAttempts := d.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	backoff := d.Backoff
	if backoff == nil {
		backoff = Backoff
	}
	give := isPermanent(err) || attempts >= maxAttempts
	next := d.now().Add(backoff(attempts))
	if rerr := d.Outbox.Failed(rctx, p.ID, err.Error(), next, give); rerr != nil {
		log.Error("record notification failure", "err", rerr, "send_err", err)
		return time.Time{}, false
	}
	if give {
		log.Error("notification given up", "attempts", attempts, "err", err)
		p.Attempts, p.Failed, p.LastError = attempts, true, err.Error()
		d.done(rctx, p)
		return time.Time{}, false
	}
	log.Warn("notification not delivered; will retry", "attempts", attempts, "next", next, "err", err)
	return next, true
}
