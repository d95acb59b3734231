package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// DialTCP connects over TLS 1.3 on TCP and runs the multiplexer. conf must
// offer wire.ALPN; the handshake must finish within ctx (and
// HandshakeTimeout).
func DialTCP(ctx context.Context, addr string, conf *tls.Config, opts MuxOptions) (Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	conf = tls13(conf)
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(nc, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != wire.ALPN {
		tc.Close()
		return nil, fmt.Errorf("collector %s speaks %q, want %q", addr, p, wire.ALPN)
	}
	return NewMux(tc, true, opts), nil
}

// TCPListener accepts TLS connections on TCP and runs the multiplexer on each.
type TCPListener struct {
	ln    net.Listener
	conf  *tls.Config
	opts  MuxOptions
	log   *slog.Logger
	conns chan Conn
	sem   chan struct{}
	done  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

// maxHandshakes bounds the TLS handshakes in progress; more connections wait
// in the kernel's backlog.
const maxHandshakes = 256

// ListenTCP listens on addr. conf is the server's TLS configuration
// (TLS 1.3, NextProtos holding wire.ALPN).
func ListenTCP(addr string, conf *tls.Config, opts MuxOptions, log *slog.Logger) (*TCPListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &TCPListener{ln: ln, conf: tls13(conf), opts: opts, log: log, conns: make(chan Conn), sem: make(chan struct{}, maxHandshakes), done: make(chan struct{})}
	go l.acceptLoop()
	return l, nil
}

// Addr is the bound address.
func (l *TCPListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting; established connections stay.
func (l *TCPListener) Close() error {
	l.once.Do(func() { close(l.done) })
	err := l.ln.Close()
	l.wg.Wait()
	return err
}

// Accept returns the next connection whose handshake succeeded.
func (l *TCPListener) Accept(ctx context.Context) (Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *TCPListener) acceptLoop() {
	var delay time.Duration
	for {
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return
		}
		nc, err := l.ln.Accept()
		if err != nil {
			<-l.sem
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			select {
			case <-l.done:
			default:
				l.log.Error("accept tcp", "err", err)
				// Out of file descriptors and the like: wait a moment.
				time.Sleep(100 * time.Millisecond)
				continue
			}
			return
		}
		delay = 0
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := l.handshake(nc)
			<-l.sem
			if c == nil {
				return
			}
			select {
			case l.conns <- c:
			case <-l.done:
				c.CloseWithError(wire.CodeShuttingDown, "collector shutting down")
			}
		}()
	}
}

func (l *TCPListener) handshake(nc net.Conn) Conn {
	tc := tls.Server(nc, l.conf)
	ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := tc.HandshakeContext(ctx); err != nil {
		l.log.Debug("tls handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		nc.Close()
		return nil
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != wire.ALPN {
		// crypto/tls accepts a client that offers no ALPN at all.
		l.log.Debug("tls client without our ALPN", "remote", nc.RemoteAddr().String(), "alpn", p)
		tc.Close()
		return nil
	}
	return NewMux(tc, false, l.opts)
}

// tls13 returns conf requiring TLS 1.3, as QUIC does.
func tls13(conf *tls.Config) *tls.Config {
	if conf.MinVersion >= tls.VersionTLS13 {
		return conf
	}
	conf = conf.Clone()
	conf.MinVersion = tls.VersionTLS13
	return conf
}
