// Package ingest is the collector's agent listener: it accepts QUIC connections
// (mutual TLS once enrolled), and the same streams over TLS on TCP on the same
// port number for agents whose UDP is blocked (pkg/transport); maps the client
// certificate to an agent id, serves enrollment and renewal, pushes policy on
// the control stream, and stores each batch in one transaction before acking
// it. Refusals travel as wire codes over either transport.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/collector/internal/enroll"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/transport"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Store is what ingest needs of the store.
type Store interface {
	model.IngestStore
	model.PolicyStore
}

// Fault names a fault the server injects, for the crash tests of the build. It is
// read from the SONEVAKT_FAULT environment variable by the collector binary.
type Fault string

// Faults.
const (
	FaultNone       Fault = ""
	FaultHoldCommit Fault = "hold-before-commit" // block a batch before its transaction
	FaultHoldAck    Fault = "hold-before-ack"    // block a batch after commit, before the ack
)

// Config configures a Server.
type Config struct {
	Store     Store
	Authority *enroll.Authority
	TLS       *tls.Config // from Authority.ServerTLS
	Logger    *slog.Logger
	Now       func() time.Time
	// PolicyPoll is how often a control stream looks for a newer policy; default 10 s.
	PolicyPoll time.Duration
	Fault      Fault
	// ResetKey, if set, keys QUIC stateless resets; it must survive restarts.
	ResetKey *[32]byte
	// OnCommit, if set, is called after every committed batch (live updates).
	OnCommit func(agentID string, res model.IngestResult)
	// OnHealth, if set, is called after a committed batch with each of its
	// health records, in seq order (rule spool-dropped).
	OnHealth func(agentID string, seq uint64, at time.Time, h wire.Health)
	// MaxConnsPerAgent bounds the connections one agent holds at once, over
	// both transports; a newer one closes the oldest. Default 4.
	MaxConnsPerAgent int
	// NoTCP turns the TLS/TCP fallback listener off.
	NoTCP bool
	// Mux tunes the TCP transport (keep-alive, idle timeout); tests shorten it.
	Mux transport.MuxOptions
}

// Server serves agents.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ln   *quic.Listener
	tr   *quic.Transport
	uc   *net.UDPConn
	tcp  *transport.TCPListener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn map[transport.Conn]struct{}
	// agents lists each agent's connections, oldest first.
	agents map[string][]transport.Conn
	// policyCh is closed (and replaced) when the policy changes, waking every
	// control stream to push it at once instead of at its next poll.
	policyCh chan struct{}
}

// PolicyChanged pushes the current policy to every connected agent now.
func (s *Server) PolicyChanged() {
	s.mu.Lock()
	close(s.policyCh)
	s.policyCh = make(chan struct{})
	s.mu.Unlock()
}

func (s *Server) policyChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policyCh
}

// New returns a server; call Serve to start it.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PolicyPoll == 0 {
		cfg.PolicyPoll = 10 * time.Second
	}
	if cfg.MaxConnsPerAgent == 0 {
		cfg.MaxConnsPerAgent = 4
	}
	return &Server{cfg: cfg, log: cfg.Logger, conn: map[transport.Conn]struct{}{}, agents: map[string][]transport.Conn{}, policyCh: make(chan struct{})}
}

// QUICConfig is the transport configuration both sides use.
func QUICConfig() *quic.Config { return transport.QUICConfig() }

// Listen binds the UDP address, and the same port on TCP for the TLS
// fallback; Addr then reports the bound port. With port 0 it looks for a
// port free on both.
//
// The transport sends stateless resets with a key derived from the CA key, so
// after a restart (or on another replica sharing the CA) packets of connections
// the process no longer knows are answered with a reset: agents notice at once
// and reconnect instead of waiting for their idle timeout.
func (s *Server) Listen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	tries := 1
	if port == "0" {
		tries = 20
	}
	for i := 0; ; i++ {
		err = s.listen(addr, host)
		if err == nil || i+1 >= tries {
			return err
		}
	}
}

func (s *Server) listen(addr, host string) error {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return fmt.Errorf("listen quic %s: %w", addr, err)
	}
	uc, err := net.ListenUDP("udp", ua)
	if err != nil {
		return fmt.Errorf("listen quic %s: %w", addr, err)
	}
	tr := &quic.Transport{Conn: uc}
	if s.cfg.ResetKey != nil {
		k := quic.StatelessResetKey(*s.cfg.ResetKey)
		tr.StatelessResetKey = &k
	}
	ln, err := tr.Listen(s.cfg.TLS, QUICConfig())
	if err != nil {
		uc.Close()
		return fmt.Errorf("listen quic %s: %w", addr, err)
	}
	if !s.cfg.NoTCP {
		// The same port number on TCP, whatever port UDP got.
		taddr := net.JoinHostPort(host, strconv.Itoa(uc.LocalAddr().(*net.UDPAddr).Port))
		tl, err := transport.ListenTCP(taddr, s.cfg.TLS, s.cfg.Mux, s.log.With("transport", transport.TCP))
		if err != nil {
			ln.Close()
			tr.Close()
			uc.Close()
			return fmt.Errorf("listen tls/tcp %s (fallback for agents without UDP): %w", taddr, err)
		}
		s.tcp = tl
	}
	s.ln, s.tr, s.uc = ln, tr, uc
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// TCPAddr returns the bound TCP address of the fallback, nil with NoTCP.
func (s *Server) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

// Serve accepts connections until ctx is done, then closes every connection with
// CodeShuttingDown and waits for handlers to finish.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return errors.New("ingest: Serve before Listen")
	}
	go func() {
		<-ctx.Done()
		s.ln.Close()
		if s.tcp != nil {
			s.tcp.Close()
		}
	}()
	errc := make(chan error, 1)
	tcpDone := make(chan struct{})
	if s.tcp == nil {
		close(tcpDone)
	} else {
		go func() {
			defer close(tcpDone)
			for {
				c, err := s.tcp.Accept(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errc <- fmt.Errorf("accept tls/tcp: %w", err)
					}
					return
				}
				s.goServe(ctx, c)
			}
		}()
	}
	for {
		c, err := s.ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				if s.tcp != nil {
					s.tcp.Close()
				}
				<-tcpDone // no connection is added once shutdown waits
				s.shutdown()
				s.tr.Close()
				s.uc.Close() // quic-go leaves a socket it was given open
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		select {
		case err := <-errc:
			return err
		default:
		}
		s.goServe(ctx, transport.WrapQUIC(c))
	}
}

func (s *Server) goServe(ctx context.Context, c transport.Conn) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveConn(ctx, c)
	}()
}

func (s *Server) shutdown() {
	if s.tcp != nil {
		s.tcp.Close()
	}
	s.mu.Lock()
	for c := range s.conn {
		c.CloseWithError(wire.CodeShuttingDown, "collector shutting down")
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// track registers a connection (of an agent, when agentID is set) and closes
// the agent's oldest connections beyond MaxConnsPerAgent. It returns the
// function that forgets the connection.
func (s *Server) track(c transport.Conn, agentID string, log *slog.Logger) func() {
	s.mu.Lock()
	s.conn[c] = struct{}{}
	var old []transport.Conn
	if agentID != "" {
		cs := append(s.agents[agentID], c)
		if n := len(cs) - s.cfg.MaxConnsPerAgent; n > 0 {
			old, cs = append(old, cs[:n]...), cs[n:]
		}
		s.agents[agentID] = cs
	}
	s.mu.Unlock()
	for _, o := range old {
		log.Info("agent opened more connections than allowed; closing its oldest", "max", s.cfg.MaxConnsPerAgent, "closed_transport", o.Transport())
		o.CloseWithError(wire.CodeOK, "replaced by a newer connection of the same agent")
	}
	return func() {
		s.mu.Lock()
		delete(s.conn, c)
		if agentID != "" {
			cs := s.agents[agentID]
			for i, x := range cs {
				if x == c {
					cs = append(cs[:i:i], cs[i+1:]...)
					break
				}
			}
			if len(cs) == 0 {
				delete(s.agents, agentID)
			} else {
				s.agents[agentID] = cs
			}
		}
		s.mu.Unlock()
	}
}

func (s *Server) serveConn(ctx context.Context, c transport.Conn) {
	remote := c.RemoteAddr()
	log := s.log.With("remote", remote.String(), "transport", c.Transport())
	peer := c.PeerCertificates()
	var agent *model.Agent
	if len(peer) > 0 {
		ag, err := s.cfg.Authority.Check(ctx, peer[0])
		if err != nil {
			code := wire.CodeOf(err)
			log.Warn("agent refused", "err", err)
			c.CloseWithError(code, err.Error())
			return
		}
		agent = &ag
		log = log.With("agent", ag.ID)
	}
	id := ""
	if agent != nil {
		id = agent.ID
	}
	defer s.track(c, id, log)()
	if ctx.Err() != nil {
		c.CloseWithError(wire.CodeShuttingDown, "collector shutting down")
		return
	}
	for {
		st, err := c.AcceptStream(ctx)
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveStream(context.WithValue(c.Context(), connKey{}, c), st, agent, remote, log)
		}()
	}
}

// closeConn closes the connection a stream context belongs to.
func (s *Server) closeConn(ctx context.Context, code wire.Code, err error) {
	if c, ok := ctx.Value(connKey{}).(transport.Conn); ok {
		c.CloseWithError(code, err.Error())
	}
}

type connKey struct{}

// firstFrameTimeout bounds the wait for a stream's first frame, on both
// transports, so that streams opened and left silent do not pile up.
const firstFrameTimeout = wire.MaxIdleTimeout

func (s *Server) serveStream(ctx context.Context, st transport.Stream, agent *model.Agent, remote net.Addr, log *slog.Logger) {
	defer st.Close()
	_ = st.SetReadDeadline(time.Now().Add(firstFrameTimeout))
	t, payload, err := wire.ReadFrame(st)
	_ = st.SetReadDeadline(time.Time{})
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.refuse(st, err, log)
		}
		return
	}
	if agent == nil && t != wire.FrameEnrollRequest {
		s.refuse(st, wire.Errorf(wire.CodeUnauthenticated, "frame %d needs a client certificate; enroll first", t), log)
		return
	}
	switch t {
	case wire.FrameEnrollRequest:
		var req wire.EnrollRequest
		if err := wire.DecodePayload(t, payload, &req); err != nil {
			s.refuse(st, err, log)
			return
		}
		resp, err := s.cfg.Authority.Enroll(ctx, remote, req)
		if err != nil {
			s.refuse(st, err, log)
			return
		}
		_ = wire.WriteFrame(st, wire.FrameEnrollResponse, resp)
	case wire.FrameRenewRequest:
		var req wire.RenewRequest
		if err := wire.DecodePayload(t, payload, &req); err != nil {
			s.refuse(st, err, log)
			return
		}
		resp, err := s.cfg.Authority.Renew(ctx, agent.ID, req)
		if err != nil {
			s.refuse(st, err, log)
			return
		}
		_ = wire.WriteFrame(st, wire.FrameRenewResponse, resp)
	case wire.FrameBatch:
		var b wire.Batch
		if err := wire.DecodePayload(t, payload, &b); err != nil {
			s.refuse(st, err, log)
			return
		}
		if _, err := s.cfg.Authority.CheckID(ctx, agent.ID); err != nil {
			s.refuse(st, err, log)
			if c := wire.CodeOf(err); c == wire.CodeRevoked || c == wire.CodeUnauthenticated {
				s.closeConn(ctx, c, err)
			}
			return
		}
		ack, err := s.ingest(ctx, agent.ID, remote, b, log)
		if err != nil {
			s.refuse(st, err, log)
			return
		}
		_ = wire.WriteFrame(st, wire.FrameAck, ack)
	case wire.FrameHello:
		var h wire.Hello
		if err := wire.DecodePayload(t, payload, &h); err != nil {
			s.refuse(st, err, log)
			return
		}
		s.control(ctx, st, agent.ID, h, log)
	default:
		s.refuse(st, wire.Errorf(wire.CodeMalformed, "frame %d cannot open a stream", t), log)
	}
}

// refuse tells the peer why with an error frame, then resets the stream with the
// code. Internal details stay in our log.
func (s *Server) refuse(st transport.Stream, err error, log *slog.Logger) {
	var we *wire.Error
	if !errors.As(err, &we) {
		log.Error("stream failed", "err", err)
		we = wire.Errorf(wire.CodeInternal, "collector error; retry later")
	} else if we.Code == wire.CodeInternal {
		log.Error("stream failed", "err", err)
		we = wire.Errorf(wire.CodeInternal, "collector error; retry later")
	} else {
		log.Info("request refused", "code", we.Code.String(), "err", we.Message)
	}
	_ = wire.WriteError(st, we)
	st.CancelRead(we.Code)
}

func (s *Server) ingest(ctx context.Context, agentID string, remote net.Addr, b wire.Batch, log *slog.Logger) (wire.Ack, error) {
	ib := model.IngestBatch{AgentID: agentID, Addr: remote.String(), ReceivedAt: s.cfg.Now(), Records: b.Records}
	var healths []wire.Record
	var skew time.Duration // the largest |observed_at - received_at| of the batch
	for _, r := range b.Records {
		if d := r.Time().Sub(ib.ReceivedAt).Abs(); d > skew {
			skew = d
		}
		switch r.Kind {
		case wire.KindHealth:
			if s.cfg.OnHealth != nil {
				healths = append(healths, r)
			}
		case wire.KindInventory:
			var inv wire.Inventory
			if err := r.DecodeBody(&inv); err != nil {
				// Stored all the same: the raw record is evidence; only the
				// projection is skipped.
				log.Warn("inventory body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			if inv.Host != nil && (ib.Facts == nil || observedAt(r, ib.ReceivedAt).After(ib.FactsAt)) {
				ib.Facts, ib.FactsAt = inv.Host, observedAt(r, ib.ReceivedAt)
			}
			// In seq order: the batch's records are checked to increase.
			ib.Inventories = append(ib.Inventories, model.InventoryRecord{Seq: r.Seq, At: observedAt(r, ib.ReceivedAt), Inv: inv})
		case wire.KindMedia:
			var ev wire.MediaEvent
			if err := r.DecodeBody(&ev); err != nil {
				log.Warn("media body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Media = append(ib.Media, model.MediaRecord{Seq: r.Seq, At: observedAt(r, ib.ReceivedAt), Event: ev})
		case wire.KindFlows:
			var fl wire.Flows
			if err := r.DecodeBody(&fl); err != nil {
				log.Warn("flows body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Flows = append(ib.Flows, model.FlowRecord{Seq: r.Seq, At: observedAt(r, ib.ReceivedAt), Flows: fl})
		case wire.KindNeighbours:
			var nb wire.Neighbours
			if err := r.DecodeBody(&nb); err != nil {
				log.Warn("neighbours body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Neighbours = append(ib.Neighbours, model.NeighbourRecord{Seq: r.Seq, At: observedAt(r, ib.ReceivedAt), Neighbours: nb})
		case wire.KindHello:
			var h wire.Hello
			if err := r.DecodeBody(&h); err != nil {
				log.Warn("hello body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Hello = &h
		}
	}
	if skew > clockWarn {
		log.Warn("agent and collector clocks differ; records observed past receipt are filed at receipt", "skew", skew.Round(time.Second),
			"received_at", ib.ReceivedAt.UTC().Format(time.RFC3339))
	}
	s.fault(FaultHoldCommit, agentID, b)
	res, err := s.cfg.Store.Ingest(ctx, ib)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return wire.Ack{}, wire.Errorf(wire.CodeUnauthenticated, "agent %s is not enrolled here", agentID)
		}
		if errors.Is(err, model.ErrBusy) {
			return wire.Ack{}, wire.Errorf(wire.CodeRateLimited, "collector busy; retry later")
		}
		return wire.Ack{}, fmt.Errorf("store batch: %w", err)
	}
	s.fault(FaultHoldAck, agentID, b)
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit(agentID, res)
	}
	for _, r := range healths {
		var h wire.Health
		if err := r.DecodeBody(&h); err != nil {
			log.Warn("health body not decodable; stored raw", "seq", r.Seq, "err", err)
			continue
		}
		s.cfg.OnHealth(agentID, r.Seq, observedAt(r, ib.ReceivedAt), h)
	}
	return wire.Ack{MaxSeq: res.MaxSeq, Stored: res.Inserted, InventoryHash: res.InventoryHash, InventoryFull: res.InventoryFull}, nil
}

// Clock skew between agents and the collector (issue 10, "clocks off by
// hours"): the store keeps each record's observed_at as the agent sent it
// (the raw record is evidence) beside received_at from the collector's
// clock, but the projections (facts, inventories, media events, flows,
// neighbours, health for the rules) are filed by observedAt.
const (
	// maxAhead is how far past its receipt a record may say it was
	// observed; clocks a few minutes apart are normal.
	maxAhead = 5 * time.Minute
	// clockWarn is the skew at which a batch is logged as coming from an
	// agent (or to a collector) whose clock is off.
	clockWarn = time.Hour
)

// observedAt is when ingest files a record's projections: its observed_at,
// but the collector's receipt when that lies more than maxAhead in the
// future. A clock hours ahead that is later corrected would otherwise freeze
// a host's facts (replaced only by newer observations) and date events
// after everything real; the past is kept (records spooled offline are
// old), however far, as the agent said it.
func observedAt(r wire.Record, received time.Time) time.Time {
	if at := r.Time(); !at.After(received.Add(maxAhead)) {
		return at
	}
	return received
}

// fault blocks forever at the named point when that fault is configured, after
// saying so on stderr, so a test can kill the process exactly there.
func (s *Server) fault(at Fault, agentID string, b wire.Batch) {
	if s.cfg.Fault != at {
		return
	}
	last := b.Records[len(b.Records)-1].Seq
	fmt.Fprintf(os.Stderr, "FAULT %s agent=%s first=%d last=%d\n", at, agentID, b.Records[0].Seq, last)
	select {}
}

// control serves a control stream: the current policy at once, then every newer
// one until the stream or connection ends.
func (s *Server) control(ctx context.Context, st transport.Stream, agentID string, h wire.Hello, log *slog.Logger) {
	log.Info("agent connected", "version", h.AgentVersion, "hostname", h.Hostname, "policy", h.PolicyVersion)
	acks := make(chan uint64, 1)
	go func() {
		for {
			var a wire.PolicyAck
			if err := wire.ReadExpect(st, wire.FramePolicyAck, &a); err != nil {
				close(acks)
				return
			}
			select {
			case acks <- a.Version:
			default:
			}
		}
	}()
	var sent uint64
	tick := time.NewTicker(s.cfg.PolicyPoll)
	defer tick.Stop()
	for {
		changed := s.policyChanged()
		p, err := s.cfg.Store.CurrentPolicy(ctx)
		if err != nil {
			log.Error("read policy", "err", err)
		} else if p.Version != sent {
			if err := wire.WriteFrame(st, wire.FramePolicy, p); err != nil {
				return
			}
			sent = p.Version
		}
		select {
		case <-ctx.Done():
			return
		case v, ok := <-acks:
			if !ok {
				return
			}
			log.Debug("agent holds policy", "version", v)
		case <-changed:
		case <-tick.C:
		}
	}
}
