package app

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// changeFeed is what a store shared by several collector replicas offers
// (PostgreSQL: NOTIFY and LISTEN): tell the others what changed here, and
// hear what changed there. On SQLite, Changes returns nil and the relay does
// not run.
type changeFeed interface {
	PublishChange(ctx context.Context, topics []string) error
	Changes() <-chan []string
}

// relayGap is how long the relay gathers local changes into one
// notification: under load a replica sends a few notifications a second, not
// one per ingested batch.
const relayGap = 100 * time.Millisecond

// relay passes the live-update topics published on this replica to the
// others, and theirs to this one's hub and to remote, which lets the parts
// that keep state in memory follow (the policy pushed to connected agents,
// the deviation routing).
type relay struct {
	feed changeFeed
	log  *slog.Logger

	mu      sync.Mutex
	pending []string
	wake    chan struct{}
}

func newRelay(feed changeFeed, log *slog.Logger) *relay {
	return &relay{feed: feed, log: log, wake: make(chan struct{}, 1)}
}

// add notes topics for the next notification. It never blocks: it is the
// hub's Relay.
func (r *relay) add(topics []string) {
	r.mu.Lock()
	for _, t := range topics {
		if !slices.Contains(r.pending, t) {
			r.pending = append(r.pending, t)
		}
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run sends the gathered topics and delivers the other replicas' to remote
// until ctx ends.
func (r *relay) run(ctx context.Context, remote func(topics []string)) {
	in := r.feed.Changes()
	for {
		select {
		case <-ctx.Done():
			return
		case topics := <-in:
			remote(topics)
		case <-r.wake:
			select { // gather what follows closely
			case <-ctx.Done():
				return
			case <-time.After(relayGap):
			}
			r.mu.Lock()
			topics := r.pending
			r.pending = nil
			r.mu.Unlock()
			if len(topics) == 0 {
				continue
			}
			if err := r.feed.PublishChange(ctx, topics); err != nil && ctx.Err() == nil {
				r.log.Warn("live updates: could not tell the other replicas", "topics", topics, "err", err)
			}
		}
	}
}
