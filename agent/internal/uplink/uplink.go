// Package uplink carries the agent's spool to the collector: it enrolls, keeps a
// QUIC connection (mutual TLS) with exponential backoff and jitter, sends leased
// records in batches and commits them only when acked, receives and persists
// policy on the control stream, and renews the certificate before it ages out.
//
// Urgent records (removable media) also take an express lane: once spooled,
// they are sent at once on their own stream, beside whatever bulk batch is in
// flight, so a large inventory never delays them. The express ack commits
// nothing; the records stay in the spool and go again, in order, with the bulk
// lane, where the collector skips them as already stored. Delivery thus stays
// at-least-once and in seq order, and urgency costs one small duplicate.
package uplink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Config configures a Client.
type Config struct {
	Identity *identity.Identity
	Addr     string // collector HOST:PORT; default the one enrolled with
	Spool    *spool.Spool
	Logger   *slog.Logger
	// Hello returns the hello sent when a connection opens.
	Hello func() wire.Hello
	// OnPolicy persists and applies a policy from the collector.
	OnPolicy func(wire.Policy) error
	// OnAck, if set, sees every ack after its records were committed.
	OnAck func(wire.Ack)
	// RenewAfter is the fraction of the certificate's life after which it is
	// renewed; default 2/3.
	RenewAfter   float64
	BatchRecords int           // default 500
	BatchBytes   int           // default 1 MiB
	MinBackoff   time.Duration // default 1 s
	MaxBackoff   time.Duration // default 5 min
	AckTimeout   time.Duration // default 20 s
}

// Stats counts what the client did.
type Stats struct {
	Connected bool
	Batches   uint64
	Acked     uint64 // records acked
	Refused   uint64 // records the collector refused for good and were skipped
	Reconnect uint64
	Expressed uint64 // records sent ahead on the express lane (and again in bulk)
	LastError string
}

// Client is the uplink.
type Client struct {
	cfg Config
	log *slog.Logger

	connected atomic.Bool
	batches   atomic.Uint64
	acked     atomic.Uint64
	refused   atomic.Uint64
	reconnect atomic.Uint64
	expressed atomic.Uint64
	lastErr   atomic.Value

	express chan wire.Record
}

// expressQueue bounds the express lane; when it is full, records wait for the
// bulk lane like any other.
const expressQueue = 256

// New returns a client.
func New(cfg Config) *Client {
	if cfg.Addr == "" {
		cfg.Addr = cfg.Identity.Collector
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RenewAfter == 0 {
		cfg.RenewAfter = 2.0 / 3
	}
	if cfg.BatchRecords == 0 {
		cfg.BatchRecords = 500
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = 1 << 20
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = 20 * time.Second
	}
	if cfg.Hello == nil {
		cfg.Hello = func() wire.Hello { return wire.Hello{Version: wire.Version} }
	}
	return &Client{cfg: cfg, log: cfg.Logger, express: make(chan wire.Record, expressQueue)}
}

// Express sends an already spooled record (with its seq) at once when
// connected, ahead of the bulk lane. It never blocks: when the lane is full
// or the agent is offline the record simply waits in the spool.
func (c *Client) Express(r wire.Record) {
	select {
	case c.express <- r:
	default:
	}
}

// expressLoop sends express records on their own streams while the
// connection lasts. Errors are only logged: the bulk lane delivers the same
// records with the usual guarantees.
func (c *Client) expressLoop(ctx context.Context, conn *quic.Conn) {
	for {
		var recs []wire.Record
		select {
		case <-ctx.Done():
			return
		case r := <-c.express:
			recs = append(recs, r)
		}
	more:
		for len(recs) < 64 {
			select {
			case r := <-c.express:
				recs = append(recs, r)
			default:
				break more
			}
		}
		slices.SortFunc(recs, func(a, b wire.Record) int { return cmp.Compare(a.Seq, b.Seq) })
		recs = slices.CompactFunc(recs, func(a, b wire.Record) bool { return a.Seq == b.Seq })
		if _, err := c.send(ctx, conn, recs); err != nil {
			if ctx.Err() == nil {
				c.log.Debug("express send failed; the bulk lane will carry the records", "first", recs[0].Seq, "err", err)
			}
			continue
		}
		c.expressed.Add(uint64(len(recs)))
	}
}

// Stats returns counters.
func (c *Client) Stats() Stats {
	s := Stats{Connected: c.connected.Load(), Batches: c.batches.Load(), Acked: c.acked.Load(), Refused: c.refused.Load(), Reconnect: c.reconnect.Load(), Expressed: c.expressed.Load()}
	if e, ok := c.lastErr.Load().(string); ok {
		s.LastError = e
	}
	return s
}

func quicConfig() *quic.Config {
	return &quic.Config{
		KeepAlivePeriod:      wire.KeepAlivePeriod,
		MaxIdleTimeout:       wire.MaxIdleTimeout,
		HandshakeIdleTimeout: 10 * time.Second,
	}
}

// Run connects and sends until ctx is done. It returns nil on cancellation; every
// other failure is retried with backoff.
func (c *Client) Run(ctx context.Context) error {
	backoff := c.cfg.MinBackoff
	for {
		start := time.Now()
		err := c.session(ctx)
		c.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		c.reconnect.Add(1)
		c.lastErr.Store(err.Error())
		wait := backoff
		switch code := codeOf(err); {
		case code == wire.CodeRevoked:
			c.log.Error("collector revoked this agent's certificate; enroll again with a new token", "err", err)
			wait = c.cfg.MaxBackoff
		case code == wire.CodeUnauthenticated:
			c.log.Error("collector does not know this agent; enroll again", "err", err)
			wait = c.cfg.MaxBackoff
		default:
			c.log.Warn("connection to collector lost", "addr", c.cfg.Addr, "err", err)
		}
		if time.Since(start) > time.Minute {
			backoff = c.cfg.MinBackoff // the session was healthy for a while
		} else {
			backoff = min(backoff*2, c.cfg.MaxBackoff)
		}
		// Full jitter on the upper half so that a fleet does not reconnect in step.
		wait = wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// session runs one connection: control stream, renewal, then batches until the
// connection or ctx ends.
func (c *Client) session(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, err := quic.DialAddr(dctx, c.cfg.Addr, c.cfg.Identity.TLSConfig(), quicConfig())
	cancel()
	if err != nil {
		return fmt.Errorf("connect %s: %w", c.cfg.Addr, describe(err))
	}
	defer conn.CloseWithError(0, "agent closing")
	cctx, stop := context.WithCancelCause(conn.Context())
	defer stop(nil)
	go func() {
		select {
		case <-ctx.Done():
			stop(ctx.Err())
		case <-cctx.Done():
		}
	}()

	ctl, err := conn.OpenStreamSync(cctx)
	if err != nil {
		return fmt.Errorf("open control stream: %w", describe(connErr(conn, err)))
	}
	if err := wire.WriteFrame(ctl, wire.FrameHello, c.cfg.Hello()); err != nil {
		return fmt.Errorf("send hello: %w", describe(connErr(conn, err)))
	}
	go c.policyLoop(ctl, stop)
	go c.expressLoop(cctx, conn)

	renewAt := c.renewAt(cctx, conn)
	c.connected.Store(true)
	c.log.Info("connected to collector", "addr", c.cfg.Addr)
	c.cfg.Spool.Release()
	limit := c.cfg.BatchRecords
	for {
		recs, err := c.cfg.Spool.Lease(limit, c.cfg.BatchBytes)
		if err != nil {
			return fmt.Errorf("lease from spool: %w", err)
		}
		if !time.Now().Before(renewAt) {
			renewAt = c.renewAt(cctx, conn)
		}
		if len(recs) == 0 {
			select {
			case <-cctx.Done():
				return connErr(conn, context.Cause(cctx))
			case <-c.cfg.Spool.Notify():
			case <-time.After(min(30*time.Second, max(time.Until(renewAt), 0))):
			}
			continue
		}
		ack, err := c.send(cctx, conn, recs)
		if err != nil {
			code := wire.CodeOf(err)
			var we *wire.Error
			if errors.As(err, &we) && !code.Retryable() && (code == wire.CodeMalformed || code == wire.CodeRecordTooLarge || code == wire.CodeBadRequest) {
				// The collector refuses these records for good. Narrow down to the
				// one at fault and skip it, so one poisoned record cannot stop the
				// rest.
				c.cfg.Spool.Release()
				if len(recs) > 1 {
					limit = max(1, len(recs)/2)
					continue
				}
				c.refused.Add(1)
				c.log.Error("collector refused a record for good; skipping it", "seq", recs[0].Seq, "kind", recs[0].Kind, "err", err)
				if err := c.cfg.Spool.Commit(recs[0].Seq); err != nil {
					return err
				}
				limit = c.cfg.BatchRecords
				continue
			}
			return err
		}
		last := recs[len(recs)-1].Seq
		if ack.MaxSeq < last {
			return fmt.Errorf("collector acked %d, batch ended at %d", ack.MaxSeq, last)
		}
		if err := c.cfg.Spool.Commit(last); err != nil {
			return fmt.Errorf("commit spool: %w", err)
		}
		c.batches.Add(1)
		c.acked.Add(uint64(len(recs)))
		if c.cfg.OnAck != nil {
			c.cfg.OnAck(ack)
		}
		limit = c.cfg.BatchRecords
	}
}

func (c *Client) send(ctx context.Context, conn *quic.Conn, recs []wire.Record) (wire.Ack, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AckTimeout)
	defer cancel()
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return wire.Ack{}, fmt.Errorf("open batch stream: %w", describe(connErr(conn, err)))
	}
	defer st.CancelRead(0)
	if dl, ok := ctx.Deadline(); ok {
		st.SetDeadline(dl)
	}
	if err := wire.WriteFrame(st, wire.FrameBatch, wire.Batch{Records: recs}); err != nil {
		st.CancelWrite(0)
		return wire.Ack{}, fmt.Errorf("send batch: %w", describe(connErr(conn, err)))
	}
	st.Close()
	var ack wire.Ack
	if err := wire.ReadExpect(st, wire.FrameAck, &ack); err != nil {
		return wire.Ack{}, fmt.Errorf("batch %d..%d: %w", recs[0].Seq, recs[len(recs)-1].Seq, describe(connErr(conn, err)))
	}
	return ack, nil
}

// policyLoop receives policies until the stream ends, persists each and acks it.
func (c *Client) policyLoop(st *quic.Stream, stop context.CancelCauseFunc) {
	for {
		var p wire.Policy
		if err := wire.ReadExpect(st, wire.FramePolicy, &p); err != nil {
			stop(fmt.Errorf("control stream: %w", describe(err)))
			return
		}
		if c.cfg.OnPolicy != nil {
			if err := c.cfg.OnPolicy(p); err != nil {
				c.log.Error("apply policy", "version", p.Version, "err", err)
				continue
			}
		}
		if err := wire.WriteFrame(st, wire.FramePolicyAck, wire.PolicyAck{Version: p.Version}); err != nil {
			stop(fmt.Errorf("control stream: %w", describe(err)))
			return
		}
	}
}

// renewAt renews the certificate when it is due and returns when to look
// again: when the (new) certificate is due, or in a minute after a failure.
func (c *Client) renewAt(ctx context.Context, conn *quic.Conn) time.Time {
	id := c.cfg.Identity
	if id.NeedsRenewal(time.Now(), c.cfg.RenewAfter) {
		if err := c.renew(ctx, conn); err != nil {
			c.log.Warn("certificate renewal failed; will retry", "err", err)
			return time.Now().Add(time.Minute)
		}
	}
	cert := id.Certificate()
	life := cert.NotAfter.Sub(cert.NotBefore)
	due := cert.NotBefore.Add(time.Duration(float64(life) * c.cfg.RenewAfter))
	// Spread a fleet enrolled together over the next twentieth of the life,
	// still well before the certificate ends.
	return due.Add(rand.N(life/20 + 1))
}

func (c *Client) renew(ctx context.Context, conn *quic.Conn) error {
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.CSR(key, "agent "+c.cfg.Identity.AgentID)
	if err != nil {
		return err
	}
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return describe(err)
	}
	if err := wire.WriteFrame(st, wire.FrameRenewRequest, wire.RenewRequest{CSR: csr}); err != nil {
		return describe(err)
	}
	st.Close()
	var resp wire.RenewResponse
	if err := wire.ReadExpect(st, wire.FrameRenewResponse, &resp); err != nil {
		return describe(err)
	}
	cert, err := parseCert(resp.Cert)
	if err != nil {
		return err
	}
	if err := c.cfg.Identity.Replace(key, cert); err != nil {
		return err
	}
	c.log.Info("certificate renewed", "not_after", cert.NotAfter)
	return nil
}

// Addr returns the collector address the client dials.
func (c *Client) Addr() string { return c.cfg.Addr }
