// Package uplink carries the agent's spool to the collector: it enrolls, keeps a
// QUIC connection (mutual TLS) with exponential backoff and jitter, sends leased
// records in batches and commits them only when acked, receives and persists
// policy on the control stream, and renews the certificate before it ages out.
//
// Where UDP is blocked (the QUIC handshake gets no answer within QUICTimeout)
// the same streams run over TLS on TCP, on the same port (pkg/transport).
// While on TCP the client tries QUIC again every ProbeInterval (jittered) and
// moves back, between batches, as soon as it answers. Batches are leased,
// acked and committed the same way on both, so a move loses and duplicates
// nothing that was acked.
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

	"github.com/sonevakt/sonevakt/agent/internal/identity"
	"github.com/sonevakt/sonevakt/agent/internal/spool"
	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/transport"
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
	// Transport is TransportAuto (QUIC, TLS over TCP where UDP is blocked),
	// TransportQUIC or TransportTCP.
	Transport string
	// QUICTimeout is how long a QUIC handshake may go unanswered before the
	// client falls back to TCP; default 4 s.
	QUICTimeout time.Duration
	// ProbeInterval is how often the client tries QUIC again while on TCP
	// (jittered by a quarter); default 5 min.
	ProbeInterval time.Duration
	// Mux tunes the TCP transport (keep-alive, idle timeout); tests shorten it.
	Mux transport.MuxOptions
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
	// Transport is the transport of the current connection, "quic" or "tcp";
	// empty while disconnected.
	Transport string
	Fallbacks uint64 // times the client fell back to TLS over TCP
	Probes    uint64 // QUIC attempts made while on TCP
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
	fallbacks atomic.Uint64
	probes    atomic.Uint64
	lastErr   atomic.Value
	transport atomic.Value // string
	// tcpUntil: until then sessions go straight to TCP (QUIC got no answer);
	// only Run's goroutine uses it.
	tcpUntil time.Time
	// quicWorked: a QUIC connection succeeded before, so a silent handshake
	// more likely means a busy or restarting collector than blocked UDP, and
	// QUIC gets its full handshake timeout before the client falls back.
	quicWorked bool

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
	if cfg.QUICTimeout == 0 {
		cfg.QUICTimeout = DefaultQUICTimeout
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
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
func (c *Client) expressLoop(ctx context.Context, conn transport.Conn) {
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
	s := Stats{
		Connected: c.connected.Load(), Batches: c.batches.Load(), Acked: c.acked.Load(), Refused: c.refused.Load(),
		Reconnect: c.reconnect.Load(), Expressed: c.expressed.Load(), Fallbacks: c.fallbacks.Load(), Probes: c.probes.Load(),
	}
	if e, ok := c.lastErr.Load().(string); ok {
		s.LastError = e
	}
	if t, ok := c.transport.Load().(string); ok {
		s.Transport = t
	}
	return s
}

// Run connects and sends until ctx is done. It returns nil on cancellation; every
// other failure is retried with backoff.
func (c *Client) Run(ctx context.Context) error {
	backoff := c.cfg.MinBackoff
	var next transport.Conn // a QUIC connection a probe handed over
	for {
		start := time.Now()
		err := c.session(ctx, next)
		next = nil
		c.connected.Store(false)
		c.transport.Store("")
		var sw *switchError
		if errors.As(err, &sw) {
			if ctx.Err() != nil {
				sw.conn.CloseWithError(wire.CodeOK, "agent closing")
				return nil
			}
			c.log.Info("collector answers over QUIC again; leaving TLS over TCP", "addr", c.cfg.Addr)
			next, c.tcpUntil, c.quicWorked, backoff = sw.conn, time.Time{}, true, c.cfg.MinBackoff
			continue
		}
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

// connect dials the collector: QUIC, or TLS over TCP where QUIC gets no
// answer; straight to TCP while a recent fallback says UDP is blocked.
func (c *Client) connect(ctx context.Context) (transport.Conn, error) {
	tcpFirst := time.Now().Before(c.tcpUntil)
	d := c.dialer()
	if c.quicWorked {
		d.quicTimeout = max(d.quicTimeout, transport.HandshakeTimeout)
	}
	conn, qerr, err := d.dial(ctx, c.cfg.Addr, c.cfg.Identity.TLSConfig(), tcpFirst)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", c.cfg.Addr, describe(err))
	}
	if conn.Transport() == transport.QUIC {
		c.quicWorked = true
	}
	if qerr != nil {
		c.fallbacks.Add(1)
		c.tcpUntil = time.Now().Add(jitter(c.cfg.ProbeInterval))
		c.log.Warn("collector does not answer over QUIC (UDP blocked?); using TLS over TCP on the same port",
			"addr", c.cfg.Addr, "quic_err", describe(qerr).Error(), "probe_every", c.cfg.ProbeInterval)
	}
	return conn, nil
}

// session runs one connection (conn, or a new one when nil): control stream,
// renewal, then batches until the connection or ctx ends.
func (c *Client) session(ctx context.Context, conn transport.Conn) error {
	if conn == nil {
		var err error
		if conn, err = c.connect(ctx); err != nil {
			return err
		}
	}
	var handed *switchError
	defer func() {
		if handed == nil {
			conn.CloseWithError(wire.CodeOK, "agent closing")
		} else {
			conn.CloseWithError(wire.CodeOK, "agent moving to QUIC")
		}
	}()
	cctx, stop := context.WithCancelCause(conn.Context())
	defer stop(nil)
	go func() {
		select {
		case <-ctx.Done():
			stop(ctx.Err())
		case <-cctx.Done():
		}
	}()

	ctl, err := conn.OpenStream(cctx)
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
	c.transport.Store(conn.Transport())
	c.log.Info("connected to collector", "addr", c.cfg.Addr, "transport", conn.Transport())
	var switchTo chan transport.Conn // a probe's QUIC connection, while on TCP
	if conn.Transport() == transport.TCP && c.cfg.Transport != TransportTCP {
		switchTo = make(chan transport.Conn)
		go c.probe(cctx, switchTo)
	}
	c.cfg.Spool.Release()
	limit := c.cfg.BatchRecords
	var busy time.Duration // the pause after the last refusal for now; 0 after an ack
	for {
		// Between batches only: nothing is in flight, so nothing is resent.
		select {
		case q := <-switchTo:
			handed = &switchError{conn: q}
			return handed
		default:
		}
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
			case q := <-switchTo:
				c.cfg.Spool.Release()
				handed = &switchError{conn: q}
				return handed
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
			if we != nil && (code == wire.CodeInternal || code == wire.CodeRateLimited) {
				// The collector is busy or its store failed for now: the
				// connection is fine, so pause and send the batch again on
				// it rather than reconnect (a handshake more for a
				// collector already behind). Jittered, doubling to 30 s.
				c.cfg.Spool.Release()
				busy = min(max(2*busy, time.Second), 30*time.Second)
				d := busy/2 + rand.N(busy/2+1)
				c.log.Warn("collector cannot store the batch now; sending it again on this connection", "in", d, "err", err)
				select {
				case <-cctx.Done():
					return connErr(conn, context.Cause(cctx))
				case <-time.After(d):
				}
				continue
			}
			return err
		}
		busy = 0
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

func (c *Client) send(ctx context.Context, conn transport.Conn, recs []wire.Record) (wire.Ack, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AckTimeout)
	defer cancel()
	st, err := conn.OpenStream(ctx)
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
func (c *Client) policyLoop(st transport.Stream, stop context.CancelCauseFunc) {
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
func (c *Client) renewAt(ctx context.Context, conn transport.Conn) time.Time {
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

func (c *Client) renew(ctx context.Context, conn transport.Conn) error {
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	csr, err := pki.CSR(key, "agent "+c.cfg.Identity.AgentID)
	if err != nil {
		return err
	}
	st, err := conn.OpenStream(ctx)
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
