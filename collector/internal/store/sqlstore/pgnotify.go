package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// changeChannel is the PostgreSQL NOTIFY channel on which replicas tell each
// other what changed, so that browsers on every replica update live.
const changeChannel = "sonevakt_changes"

// pgState is a PostgreSQL store's side of the change feed: an origin id that
// tells this process's notifications from other replicas', and the listener.
type pgState struct {
	cfg    *pgx.ConnConfig
	log    *slog.Logger
	origin string

	once   sync.Once
	ch     chan []string
	cancel context.CancelFunc
	done   chan struct{}
}

func newPGState(cfg *pgx.ConnConfig, log *slog.Logger) *pgState {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &pgState{cfg: cfg, log: log, origin: hex.EncodeToString(b[:]), ch: make(chan []string, 64)}
}

func (p *pgState) close() {
	if p == nil || p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
}

// PublishChange tells the other replicas sharing the database that topics
// changed here. On SQLite there are no other replicas and it does nothing.
func (db *DB) PublishChange(ctx context.Context, topics []string) error {
	if db.dialect != Postgres || len(topics) == 0 {
		return nil
	}
	payload := db.pg.origin + " " + strings.Join(topics, ",")
	if len(payload) > 7900 { // NOTIFY payloads stop at 8000 bytes
		payload = payload[:7900]
	}
	_, err := db.r.ExecContext(ctx, "SELECT pg_notify(?, ?)", changeChannel, payload)
	return err
}

// Changes returns the topics other replicas published, as they arrive. It is
// nil on SQLite. The listener starts on the first call, reconnects by itself
// and stops at Close; a reader that falls behind loses notifications rather
// than blocking the listener (the browsers then refetch at the next one).
func (db *DB) Changes() <-chan []string {
	if db.dialect != Postgres {
		return nil
	}
	p := db.pg
	p.once.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel, p.done = cancel, make(chan struct{})
		go p.listen(ctx)
	})
	return p.ch
}

func (p *pgState) listen(ctx context.Context) {
	defer close(p.done)
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		err := p.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("change feed: listener lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (p *pgState) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return err
	}
	// Whatever changed while no listener ran is unknown: say everything did.
	p.deliver([]string{"*"})
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		origin, list, _ := strings.Cut(n.Payload, " ")
		if origin == p.origin || list == "" {
			continue
		}
		p.deliver(strings.Split(list, ","))
	}
}

func (p *pgState) deliver(topics []string) {
	select {
	case p.ch <- topics:
	default:
	}
}
