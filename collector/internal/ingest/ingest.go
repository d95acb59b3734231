// Package ingest is the collector's agent listener: it accepts QUIC connections
// (mutual TLS once enrolled), maps the client certificate to an agent id, serves
// enrollment and renewal, pushes policy on the control stream, and stores each
// batch in one transaction before acking it. Refusals travel as wire codes.
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
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/collector/internal/enroll"
	"github.com/sonevakt/sonevakt/collector/internal/model"
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
}

// Server serves agents.
type Server struct {
	cfg  Config
	log  *slog.Logger
	ln   *quic.Listener
	tr   *quic.Transport
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn map[*quic.Conn]struct{}
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
	return &Server{cfg: cfg, log: cfg.Logger, conn: map[*quic.Conn]struct{}{}, policyCh: make(chan struct{})}
}

// QUICConfig is the transport configuration both sides use.
func QUICConfig() *quic.Config {
	return &quic.Config{
		KeepAlivePeriod:       wire.KeepAlivePeriod,
		MaxIdleTimeout:        wire.MaxIdleTimeout,
		HandshakeIdleTimeout:  10 * time.Second,
		MaxIncomingStreams:    256,
		MaxIncomingUniStreams: -1,
	}
}

// Listen binds the UDP address; Addr then reports the bound port.
//
// The transport sends stateless resets with a key derived from the CA key, so
// after a restart (or on another replica sharing the CA) packets of connections
// the process no longer knows are answered with a reset: agents notice at once
// and reconnect instead of waiting for their idle timeout.
func (s *Server) Listen(addr string) error {
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
	s.ln, s.tr = ln, tr
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until ctx is done, then closes every connection with
// CodeShuttingDown and waits for handlers to finish.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		return errors.New("ingest: Serve before Listen")
	}
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		c, err := s.ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				s.shutdown()
				s.tr.Close()
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	for c := range s.conn {
		c.CloseWithError(quic.ApplicationErrorCode(wire.CodeShuttingDown), "collector shutting down")
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) serveConn(ctx context.Context, c *quic.Conn) {
	s.mu.Lock()
	s.conn[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conn, c)
		s.mu.Unlock()
	}()
	remote := c.RemoteAddr()
	log := s.log.With("remote", remote.String())
	peer := c.ConnectionState().TLS.PeerCertificates
	var agent *model.Agent
	if len(peer) > 0 {
		ag, err := s.cfg.Authority.Check(ctx, peer[0])
		if err != nil {
			code := wire.CodeOf(err)
			log.Warn("agent refused", "err", err)
			c.CloseWithError(quic.ApplicationErrorCode(code), err.Error())
			return
		}
		agent = &ag
		log = log.With("agent", ag.ID)
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
	if c, ok := ctx.Value(connKey{}).(*quic.Conn); ok {
		c.CloseWithError(quic.ApplicationErrorCode(code), err.Error())
	}
}

type connKey struct{}

func (s *Server) serveStream(ctx context.Context, st *quic.Stream, agent *model.Agent, remote net.Addr, log *slog.Logger) {
	defer st.Close()
	t, payload, err := wire.ReadFrame(st)
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
func (s *Server) refuse(st *quic.Stream, err error, log *slog.Logger) {
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
	st.CancelRead(quic.StreamErrorCode(we.Code))
}

func (s *Server) ingest(ctx context.Context, agentID string, remote net.Addr, b wire.Batch, log *slog.Logger) (wire.Ack, error) {
	ib := model.IngestBatch{AgentID: agentID, Addr: remote.String(), ReceivedAt: s.cfg.Now(), Records: b.Records}
	for _, r := range b.Records {
		switch r.Kind {
		case wire.KindInventory:
			var inv wire.Inventory
			if err := r.DecodeBody(&inv); err != nil {
				// Stored all the same: the raw record is evidence; only the
				// projection is skipped.
				log.Warn("inventory body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			if inv.Host != nil && (ib.Facts == nil || r.Time().After(ib.FactsAt)) {
				ib.Facts, ib.FactsAt = inv.Host, r.Time()
			}
			// In seq order: the batch's records are checked to increase.
			ib.Inventories = append(ib.Inventories, model.InventoryRecord{Seq: r.Seq, At: r.Time(), Inv: inv})
		case wire.KindMedia:
			var ev wire.MediaEvent
			if err := r.DecodeBody(&ev); err != nil {
				log.Warn("media body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Media = append(ib.Media, model.MediaRecord{Seq: r.Seq, At: r.Time(), Event: ev})
		case wire.KindFlows:
			var fl wire.Flows
			if err := r.DecodeBody(&fl); err != nil {
				log.Warn("flows body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Flows = append(ib.Flows, model.FlowRecord{Seq: r.Seq, At: r.Time(), Flows: fl})
		case wire.KindNeighbours:
			var nb wire.Neighbours
			if err := r.DecodeBody(&nb); err != nil {
				log.Warn("neighbours body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Neighbours = append(ib.Neighbours, model.NeighbourRecord{Seq: r.Seq, At: r.Time(), Neighbours: nb})
		case wire.KindHello:
			var h wire.Hello
			if err := r.DecodeBody(&h); err != nil {
				log.Warn("hello body not decodable; stored raw", "seq", r.Seq, "err", err)
				continue
			}
			ib.Hello = &h
		}
	}
	s.fault(FaultHoldCommit, agentID, b)
	res, err := s.cfg.Store.Ingest(ctx, ib)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return wire.Ack{}, wire.Errorf(wire.CodeUnauthenticated, "agent %s is not enrolled here", agentID)
		}
		return wire.Ack{}, fmt.Errorf("store batch: %w", err)
	}
	s.fault(FaultHoldAck, agentID, b)
	if s.cfg.OnCommit != nil {
		s.cfg.OnCommit(agentID, res)
	}
	return wire.Ack{MaxSeq: res.MaxSeq, Stored: res.Inserted, InventoryHash: res.InventoryHash, InventoryFull: res.InventoryFull}, nil
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
func (s *Server) control(ctx context.Context, st *quic.Stream, agentID string, h wire.Hello, log *slog.Logger) {
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
