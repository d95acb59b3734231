package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The TCP multiplexer. After the TLS 1.3 handshake (ALPN wire.ALPN) both sides
// exchange mux frames:
//
//	type uint8 | stream id uint32 | payload length uint32 | payload
//
// The agent (client) opens odd stream ids, the collector even ones, each
// larger than the last. Frame types:
//
//	OPEN    opens the stream (no payload)
//	DATA    stream bytes, at most maxData per frame
//	FIN     the sender finished writing (no payload)
//	RESET   the sender abandoned writing: uint64 wire.Code
//	STOP    the sender abandoned reading; stop writing: uint64 wire.Code
//	WINDOW  the receiver read this many more bytes: uint32
//	PING    keep-alive (id 0, no payload)
//	CLOSE   the connection ends: uint64 wire.Code, then a UTF-8 message (id 0)
//
// Each stream's receive window is streamWindow bytes: a sender never has more
// unacknowledged bytes in flight, a receiver that gets more closes the
// connection. A peer may have at most MaxIncomingStreams streams open; a
// stream counts until both directions are done on the receiving side, and
// the opener counts the same way, so the opener never exceeds the limit.
// Every frame must arrive whole within the idle timeout (slowloris-safe); a
// PING goes out every keep-alive period.
const (
	muxHeader     = 9
	maxData       = 16 << 10
	maxCloseMsg   = 1 << 10
	streamWindow  = 128 << 10
	closeLinger   = 2 * time.Second
	writeDeadline = wire.MaxIdleTimeout
)

const (
	frOpen   = 1
	frData   = 2
	frFin    = 3
	frReset  = 4
	frStop   = 5
	frWindow = 6
	frPing   = 7
	frClose  = 8
)

// errProtocol marks a peer that broke the mux rules; the connection is closed
// with wire.CodeMalformed.
var errProtocol = errors.New("mux protocol violation")

// MuxOptions tune a multiplexed connection; zero values take the defaults
// (wire.KeepAlivePeriod, wire.MaxIdleTimeout).
type MuxOptions struct {
	KeepAlive   time.Duration
	IdleTimeout time.Duration
}

type muxConn struct {
	nc     net.Conn
	peer   []*x509.Certificate
	client bool
	opts   MuxOptions

	wmu sync.Mutex // serialises frame writes

	mu        sync.Mutex
	streams   map[uint32]*muxStream
	nextID    uint32
	lastPeer  uint32
	incoming  int // peer-opened streams not yet done
	outgoing  int // self-opened streams not yet done
	changed   chan struct{}
	closing   bool
	acceptQ   chan *muxStream
	ctx       context.Context
	cancel    context.CancelCauseFunc
	closeOnce sync.Once
}

// NewMux runs the multiplexer over an established TLS connection; client is
// true on the side that dialled. The handshake must be complete.
func NewMux(tc *tls.Conn, client bool, opts MuxOptions) Conn {
	if opts.KeepAlive == 0 {
		opts.KeepAlive = wire.KeepAlivePeriod
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = wire.MaxIdleTimeout
	}
	c := &muxConn{
		nc: tc, peer: tc.ConnectionState().PeerCertificates, client: client, opts: opts,
		streams: map[uint32]*muxStream{}, changed: make(chan struct{}),
		acceptQ: make(chan *muxStream, MaxIncomingStreams),
	}
	if client {
		c.nextID = 1
	} else {
		c.nextID = 2
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	go c.readLoop()
	go c.keepAlive()
	return c
}

func (c *muxConn) Transport() string                     { return TCP }
func (c *muxConn) RemoteAddr() net.Addr                  { return c.nc.RemoteAddr() }
func (c *muxConn) PeerCertificates() []*x509.Certificate { return c.peer }
func (c *muxConn) Context() context.Context              { return c.ctx }

// err is why the connection ended.
func (c *muxConn) err() error {
	if err := context.Cause(c.ctx); err != nil {
		return err
	}
	return net.ErrClosed
}

// signal wakes everyone waiting on the connection's state. Call with mu held.
func (c *muxConn) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *muxConn) writeFrame(t byte, id uint32, payload []byte) error {
	buf := make([]byte, muxHeader, muxHeader+len(payload))
	buf[0] = t
	binary.BigEndian.PutUint32(buf[1:], id)
	binary.BigEndian.PutUint32(buf[5:], uint32(len(payload)))
	buf = append(buf, payload...)
	c.wmu.Lock()
	if c.ctx.Err() != nil {
		c.wmu.Unlock()
		return c.err()
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeDeadline))
	// One write per frame: tls.Conn makes records of each Write.
	_, err := c.nc.Write(buf)
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("connection lost: %w", err))
		return c.err()
	}
	return nil
}

func codePayload(code wire.Code) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(code))
}

// fail ends the connection for cause without telling the peer.
func (c *muxConn) fail(cause error) {
	c.closeOnce.Do(func() {
		c.cancel(cause)
		c.mu.Lock()
		c.closing = true
		c.signal()
		c.mu.Unlock()
		_ = c.nc.Close()
	})
}

// CloseWithError fails local operations at once and sends CLOSE in the
// background: a write blocked on a peer that does not read cannot hold it up
// for longer than closeLinger.
func (c *muxConn) CloseWithError(code wire.Code, msg string) error {
	if len(msg) > maxCloseMsg {
		msg = msg[:maxCloseMsg]
	}
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.cancel(&ConnError{Code: code, Message: msg})
		c.mu.Lock()
		c.closing = true
		c.signal()
		c.mu.Unlock()
		// Cut short a write in progress, then send CLOSE.
		_ = c.nc.SetWriteDeadline(time.Now().Add(closeLinger))
		go func() {
			c.wmu.Lock()
			_ = c.nc.SetWriteDeadline(time.Now().Add(closeLinger))
			payload := append(codePayload(code), msg...)
			buf := make([]byte, muxHeader, muxHeader+len(payload))
			buf[0] = frClose
			binary.BigEndian.PutUint32(buf[5:], uint32(len(payload)))
			_, _ = c.nc.Write(append(buf, payload...))
			// Half-close and let the read loop drain until the peer closes
			// too, so that CLOSE is not lost to a TCP reset; give up after a
			// moment.
			if tc, ok := c.nc.(*tls.Conn); ok {
				_ = tc.CloseWrite()
			}
			c.wmu.Unlock()
			time.AfterFunc(closeLinger, func() { _ = c.nc.Close() })
		}()
	})
	if !first {
		return net.ErrClosed
	}
	return nil
}

func (c *muxConn) keepAlive() {
	t := time.NewTicker(c.opts.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			if c.writeFrame(frPing, 0, nil) != nil {
				return
			}
		}
	}
}

func (c *muxConn) readLoop() {
	var h [muxHeader]byte
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.opts.IdleTimeout))
		if _, err := io.ReadFull(c.nc, h[:]); err != nil {
			c.readFailed(err)
			return
		}
		t, id, n := h[0], binary.BigEndian.Uint32(h[1:]), binary.BigEndian.Uint32(h[5:])
		if err := checkFrame(t, id, n); err != nil {
			c.protocolError(err)
			_, _ = io.Copy(io.Discard, c.nc) // until CloseWithError closes it
			return
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.nc, payload); err != nil {
			c.readFailed(err)
			return
		}
		if c.ctx.Err() != nil {
			continue // closing: drain until the peer closes
		}
		if err := c.handle(t, id, payload); err != nil {
			c.protocolError(err) // and drain until the peer or the linger closes it
		}
	}
}

func (c *muxConn) readFailed(err error) {
	if c.ctx.Err() != nil {
		_ = c.nc.Close()
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.fail(fmt.Errorf("idle timeout: no frame within %v", c.opts.IdleTimeout))
		return
	}
	if errors.Is(err, io.EOF) {
		c.fail(errors.New("connection closed by peer without a reason"))
		return
	}
	c.fail(fmt.Errorf("connection lost: %w", err))
}

func (c *muxConn) protocolError(err error) {
	_ = c.CloseWithError(wire.CodeMalformed, err.Error())
}

// checkFrame checks a header before its payload is read.
func checkFrame(t byte, id, n uint32) error {
	var max uint32
	switch t {
	case frOpen, frFin:
		max = 0
	case frData:
		max = maxData
	case frReset, frStop:
		max = 8
	case frWindow:
		max = 4
	case frPing:
		max = 0
	case frClose:
		max = 8 + maxCloseMsg
	default:
		return fmt.Errorf("%w: unknown frame type %d", errProtocol, t)
	}
	if n > max {
		return fmt.Errorf("%w: frame type %d with %d bytes, limit %d", errProtocol, t, n, max)
	}
	if (t == frPing || t == frClose) != (id == 0) {
		return fmt.Errorf("%w: frame type %d on stream %d", errProtocol, t, id)
	}
	if t == frReset || t == frStop {
		if n != 8 {
			return fmt.Errorf("%w: frame type %d with %d bytes, want 8", errProtocol, t, n)
		}
	}
	if t == frWindow && n != 4 {
		return fmt.Errorf("%w: window frame with %d bytes, want 4", errProtocol, n)
	}
	if t == frClose && n < 8 {
		return fmt.Errorf("%w: close frame with %d bytes", errProtocol, n)
	}
	return nil
}

func (c *muxConn) peerOpened(id uint32) bool {
	// The client opens odd ids.
	return (id%2 == 1) != c.client
}

func (c *muxConn) handle(t byte, id uint32, p []byte) error {
	switch t {
	case frPing:
		return nil
	case frClose:
		code := wire.Code(binary.BigEndian.Uint64(p))
		c.fail(&ConnError{Code: code, Message: string(p[8:]), Remote: true})
		return nil
	case frOpen:
		if !c.peerOpened(id) || id <= c.lastPeer {
			return fmt.Errorf("%w: stream %d opened out of order", errProtocol, id)
		}
		c.mu.Lock()
		if c.incoming >= MaxIncomingStreams {
			c.mu.Unlock()
			return fmt.Errorf("%w: more than %d streams open", errProtocol, MaxIncomingStreams)
		}
		c.lastPeer = id
		s := newMuxStream(c, id)
		c.streams[id] = s
		c.incoming++
		c.mu.Unlock()
		// Streams done before they were accepted (the peer gave up) still
		// wait here; while the application is slow to accept, reading
		// waits too.
		select {
		case c.acceptQ <- s:
		case <-c.ctx.Done():
		}
		return nil
	}
	c.mu.Lock()
	s := c.streams[id]
	c.mu.Unlock()
	if s == nil {
		if c.peerOpened(id) && id > c.lastPeer {
			return fmt.Errorf("%w: frame %d on stream %d before it was opened", errProtocol, t, id)
		}
		return nil // a stream that is done on our side
	}
	return s.handle(t, p)
}

func (c *muxConn) OpenStream(ctx context.Context) (Stream, error) {
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return nil, c.err()
		}
		if c.outgoing < MaxIncomingStreams {
			id := c.nextID
			c.nextID += 2
			c.outgoing++
			s := newMuxStream(c, id)
			c.streams[id] = s
			c.mu.Unlock()
			if err := c.writeFrame(frOpen, id, nil); err != nil {
				return nil, err
			}
			return s, nil
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

func (c *muxConn) AcceptStream(ctx context.Context) (Stream, error) {
	select {
	case s := <-c.acceptQ:
		return s, nil
	default:
	}
	select {
	case s := <-c.acceptQ:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, c.err()
	}
}

// release forgets a stream whose both directions are done.
func (c *muxConn) release(s *muxStream) {
	c.mu.Lock()
	if c.streams[s.id] == s {
		delete(c.streams, s.id)
		if c.peerOpened(s.id) {
			c.incoming--
		} else {
			c.outgoing--
		}
		c.signal()
	}
	c.mu.Unlock()
}

type muxStream struct {
	c  *muxConn
	id uint32

	mu      sync.Mutex
	changed chan struct{}
	buf     []byte
	// outstanding counts received bytes not yet returned to the peer with a
	// WINDOW (at most streamWindow); consumed, those of them read.
	outstanding  int
	consumed     int
	recvFin      bool
	recvReset    *StreamError
	readCanceled bool
	sendCredit   int
	writeDone    bool // FIN or RESET sent
	stopped      *StreamError
	released     bool
	readDL       time.Time
	writeDL      time.Time
}

func newMuxStream(c *muxConn, id uint32) *muxStream {
	return &muxStream{c: c, id: id, changed: make(chan struct{}), sendCredit: streamWindow}
}

func (s *muxStream) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// doneLocked reports, once, that both directions of the stream are done.
// Call with s.mu held, then s.finish after unlocking.
func (s *muxStream) doneLocked() bool {
	readDone := s.recvFin || s.recvReset != nil || s.readCanceled
	writeDone := s.writeDone || s.stopped != nil
	if readDone && writeDone && !s.released {
		s.released = true
		return true
	}
	return false
}

// finish writes the frame of a local action and releases the stream if the
// action completed it. The ordering keeps both sides' stream counts in step:
// the side that accepted a stream releases it before its last frame leaves,
// the side that opened it only after, so an opener never sees a stream as
// done (and opens another) before the acceptor does.
func (s *muxStream) finish(release bool, t byte, payload []byte) error {
	acceptor := s.c.peerOpened(s.id)
	if release && acceptor {
		s.c.release(s)
	}
	err := s.c.writeFrame(t, s.id, payload)
	if release && !acceptor {
		s.c.release(s)
	}
	return err
}

func (s *muxStream) handle(t byte, p []byte) error {
	s.mu.Lock()
	err := s.handleLocked(t, p)
	release := s.doneLocked()
	s.signal()
	s.mu.Unlock()
	if release {
		s.c.release(s)
	}
	return err
}

func (s *muxStream) handleLocked(t byte, p []byte) error {
	switch t {
	case frData:
		if s.recvFin || s.recvReset != nil {
			return fmt.Errorf("%w: data after the end of stream %d", errProtocol, s.id)
		}
		if s.readCanceled {
			return nil // dropped: the peer stops writing when it sees our STOP
		}
		s.outstanding += len(p)
		if s.outstanding > streamWindow {
			return fmt.Errorf("%w: stream %d over its window", errProtocol, s.id)
		}
		s.buf = append(s.buf, p...)
	case frFin:
		s.recvFin = true
	case frReset:
		s.recvReset = &StreamError{Code: wire.Code(binary.BigEndian.Uint64(p)), Remote: true}
		s.buf = nil
	case frStop:
		if s.stopped == nil {
			s.stopped = &StreamError{Code: wire.Code(binary.BigEndian.Uint64(p)), Remote: true}
		}
	case frWindow:
		s.sendCredit += int(binary.BigEndian.Uint32(p))
		if s.sendCredit > streamWindow {
			return fmt.Errorf("%w: stream %d window above %d", errProtocol, s.id, streamWindow)
		}
	default:
		return fmt.Errorf("%w: frame type %d on stream %d", errProtocol, t, s.id)
	}
	return nil
}

// wait waits for a change of the stream, its deadline or the connection's end.
func (s *muxStream) wait(ch <-chan struct{}, dl time.Time) error {
	var timer <-chan time.Time
	if !dl.IsZero() {
		d := time.Until(dl)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ch:
		return nil
	case <-timer:
		return os.ErrDeadlineExceeded
	case <-s.c.ctx.Done():
		return s.c.err()
	}
}

func (s *muxStream) Read(p []byte) (int, error) {
	for {
		s.mu.Lock()
		switch {
		case s.readCanceled:
			s.mu.Unlock()
			return 0, errors.New("read on a cancelled stream")
		case s.recvReset != nil:
			err := s.recvReset
			s.mu.Unlock()
			return 0, err
		case len(s.buf) > 0:
			n := copy(p, s.buf)
			s.buf = s.buf[n:]
			if len(s.buf) == 0 {
				s.buf = nil
			}
			s.consumed += n
			var inc int
			if !s.recvFin && s.consumed >= streamWindow/2 {
				inc = s.consumed
				s.outstanding -= inc
				s.consumed = 0
			}
			s.mu.Unlock()
			if inc > 0 {
				_ = s.c.writeFrame(frWindow, s.id, binary.BigEndian.AppendUint32(nil, uint32(inc)))
			}
			return n, nil
		case s.recvFin:
			s.mu.Unlock()
			return 0, io.EOF
		}
		if s.c.ctx.Err() != nil {
			s.mu.Unlock()
			return 0, s.c.err()
		}
		ch, dl := s.changed, s.readDL
		s.mu.Unlock()
		if err := s.wait(ch, dl); err != nil {
			return 0, err
		}
	}
}

func (s *muxStream) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		s.mu.Lock()
		switch {
		case s.stopped != nil:
			err := s.stopped
			s.mu.Unlock()
			return written, err
		case s.writeDone:
			s.mu.Unlock()
			return written, errors.New("write on a closed stream")
		}
		if s.c.ctx.Err() != nil {
			s.mu.Unlock()
			return written, s.c.err()
		}
		if s.sendCredit == 0 {
			ch, dl := s.changed, s.writeDL
			s.mu.Unlock()
			if err := s.wait(ch, dl); err != nil {
				return written, err
			}
			continue
		}
		if dl := s.writeDL; !dl.IsZero() && !time.Now().Before(dl) {
			s.mu.Unlock()
			return written, os.ErrDeadlineExceeded
		}
		k := min(len(p), maxData, s.sendCredit)
		s.sendCredit -= k
		s.mu.Unlock()
		if err := s.c.writeFrame(frData, s.id, p[:k]); err != nil {
			return written, err
		}
		p = p[k:]
		written += k
	}
	return written, nil
}

func (s *muxStream) Close() error {
	s.mu.Lock()
	if s.writeDone || s.stopped != nil {
		s.mu.Unlock()
		return nil
	}
	s.writeDone = true
	release := s.doneLocked()
	s.mu.Unlock()
	return s.finish(release, frFin, nil)
}

func (s *muxStream) CancelWrite(code wire.Code) {
	s.mu.Lock()
	if s.writeDone || s.stopped != nil {
		s.mu.Unlock()
		return
	}
	s.writeDone = true
	release := s.doneLocked()
	s.signal()
	s.mu.Unlock()
	_ = s.finish(release, frReset, codePayload(code))
}

func (s *muxStream) CancelRead(code wire.Code) {
	s.mu.Lock()
	if s.readCanceled || s.recvFin || s.recvReset != nil {
		// The peer finished writing: nothing to stop, only the rest to drop.
		s.readCanceled = true
		s.buf = nil
		s.signal()
		s.mu.Unlock()
		return
	}
	s.readCanceled = true
	s.buf = nil
	release := s.doneLocked()
	s.signal()
	s.mu.Unlock()
	_ = s.finish(release, frStop, codePayload(code))
}

func (s *muxStream) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDL, s.writeDL = t, t
	s.signal()
	s.mu.Unlock()
	return nil
}

func (s *muxStream) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.readDL = t
	s.signal()
	s.mu.Unlock()
	return nil
}

func (s *muxStream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.writeDL = t
	s.signal()
	s.mu.Unlock()
	return nil
}
