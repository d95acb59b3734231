package transport

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sonevakt/sonevakt/pkg/pki"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// tlsPair returns a collector's and an enrolled agent's TLS configurations
// from the pki package, as the real sides build them.
func tlsPair(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	ca, err := pki.NewCA("test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, key, err := ca.ServerCert([]string{wire.ServerName}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	server = &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN},
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}},
		ClientAuth:   tls.VerifyClientCertIfGiven, ClientCAs: pool,
	}
	akey, _ := pki.NewKey()
	csr, _ := pki.CSR(akey, "a")
	cert, err := ca.SignAgent(csr, "agent1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client = &tls.Config{
		MinVersion: tls.VersionTLS13, NextProtos: []string{wire.ALPN}, ServerName: wire.ServerName, RootCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: akey}},
	}
	return server, client
}

// pair connects a client to a server over the named transport and returns
// both ends.
func pair(t testing.TB, tr string, opts MuxOptions) (srv, cli Conn) {
	t.Helper()
	sconf, cconf := tlsPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch tr {
	case QUIC:
		ln, err := quic.ListenAddr("127.0.0.1:0", sconf, QUICConfig())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		cli, err = DialQUIC(ctx, ln.Addr().String(), cconf, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ln.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		srv = WrapQUIC(c)
	case TCP:
		ln, err := ListenTCP("127.0.0.1:0", sconf, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		cli, err = DialTCP(ctx, ln.Addr().String(), cconf, opts)
		if err != nil {
			t.Fatal(err)
		}
		srv, err = ln.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { cli.CloseWithError(0, ""); srv.CloseWithError(0, "") })
	return srv, cli
}

func both(t *testing.T, f func(t *testing.T, tr string)) {
	for _, tr := range []string{QUIC, TCP} {
		t.Run(tr, func(t *testing.T) { f(t, tr) })
	}
}

func accept(t *testing.T, c Conn) Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func open(t *testing.T, c Conn) Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEchoLarge: several megabytes each way on concurrent streams, far over
// the flow-control window, arrive intact; half-close ends each direction.
func TestEchoLarge(t *testing.T) {
	both(t, func(t *testing.T, tr string) {
		srv, cli := pair(t, tr, MuxOptions{})
		payload := make([]byte, 3<<20+17)
		_, _ = rand.Read(payload)
		go func() {
			for {
				s, err := srv.AcceptStream(context.Background())
				if err != nil {
					return
				}
				go func() {
					_, _ = io.Copy(s, s) // echo until the client closes its side
					s.Close()
				}()
			}
		}()
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := open(t, cli)
				go func() {
					_, _ = s.Write(payload)
					s.Close()
				}()
				got, err := io.ReadAll(s)
				if err != nil || !bytes.Equal(got, payload) {
					t.Errorf("echo: %d bytes, %v; want %d bytes back intact", len(got), err, len(payload))
				}
			}()
		}
		wg.Wait()
	})
}

// TestCancelCodes: a reader's CancelRead reaches the writer, and a writer's
// CancelWrite the reader, with the code, after an error frame written before.
func TestCancelCodes(t *testing.T) {
	both(t, func(t *testing.T, tr string) {
		srv, cli := pair(t, tr, MuxOptions{})
		s := open(t, cli)
		if err := wire.WriteFrame(s, wire.FrameHello, wire.Hello{Version: 1}); err != nil {
			t.Fatal(err)
		}
		ss := accept(t, srv)
		if _, _, err := wire.ReadFrame(ss); err != nil {
			t.Fatal(err)
		}
		_ = wire.WriteError(ss, wire.Errorf(wire.CodeRevoked, "gone"))
		ss.CancelRead(wire.CodeRevoked)
		ss.Close()
		var ack wire.Ack
		if err := wire.ReadExpect(s, wire.FrameAck, &ack); wire.CodeOf(err) != wire.CodeRevoked {
			t.Errorf("read after refusal: %v, want the error frame's code", err)
		}
		// The writer learns of the stop.
		deadline := time.Now().Add(10 * time.Second)
		var werr error
		for werr == nil && time.Now().Before(deadline) {
			_, werr = s.Write(make([]byte, 1024))
			time.Sleep(time.Millisecond)
		}
		if code, _, conn, ok := RemoteCode(werr); !ok || conn || code != wire.CodeRevoked {
			t.Errorf("write after the peer's CancelRead: %v, want a stream error with the code", werr)
		}

		s2 := open(t, cli)
		_, _ = s2.Write([]byte("x"))
		ss2 := accept(t, srv)
		s2.CancelWrite(wire.CodeBatchTooLarge)
		_, err := io.ReadAll(ss2)
		if code, _, _, ok := RemoteCode(err); !ok || code != wire.CodeBatchTooLarge {
			t.Errorf("read after the peer's CancelWrite: %v, want the code", err)
		}
	})
}

// TestCloseWithCode: closing a connection with a code reaches the peer's
// pending and later operations with code and message.
func TestCloseWithCode(t *testing.T) {
	both(t, func(t *testing.T, tr string) {
		srv, cli := pair(t, tr, MuxOptions{})
		s := open(t, cli)
		_, _ = s.Write([]byte("hello"))
		accept(t, srv)
		errc := make(chan error, 1)
		go func() {
			_, err := s.Read(make([]byte, 10))
			errc <- err
		}()
		srv.CloseWithError(wire.CodeShuttingDown, "collector shutting down")
		err := <-errc
		code, msg, conn, ok := RemoteCode(err)
		if !ok || !conn || code != wire.CodeShuttingDown || msg != "collector shutting down" {
			t.Errorf("pending read: %v, want the connection close with code and message", err)
		}
		select {
		case <-cli.Context().Done():
		case <-time.After(10 * time.Second):
			t.Fatal("client connection context not done after the close")
		}
		if code, _, _, ok := RemoteCode(context.Cause(cli.Context())); !ok || code != wire.CodeShuttingDown {
			t.Errorf("context cause %v, want the close code", context.Cause(cli.Context()))
		}
		if _, err := cli.OpenStream(context.Background()); err == nil {
			t.Error("OpenStream on a closed connection succeeded")
		}
	})
}

// TestStreamLimit: an opener waits while the peer's stream limit is reached
// and goes on when a stream is done.
func TestStreamLimit(t *testing.T) {
	both(t, func(t *testing.T, tr string) {
		srv, cli := pair(t, tr, MuxOptions{})
		var streams []Stream
		for i := 0; i < MaxIncomingStreams; i++ {
			s := open(t, cli)
			_, _ = s.Write([]byte{1}) // QUIC announces a stream with its first byte
			streams = append(streams, s)
		}
		var accepted []Stream
		for range streams {
			accepted = append(accepted, accept(t, srv))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := cli.OpenStream(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stream %d: %v, want to wait at the limit", MaxIncomingStreams+1, err)
		}
		// Finish one stream on both sides.
		streams[0].Close()
		if _, err := io.ReadAll(accepted[0]); err != nil {
			t.Fatal(err)
		}
		accepted[0].Close()
		if _, err := io.ReadAll(streams[0]); err != nil {
			t.Fatal(err)
		}
		s := open(t, cli)
		_, _ = s.Write([]byte{2})
		if got := accept(t, srv); got == nil {
			t.Fatal("no stream after one was done")
		}
	})
}

// TestReadDeadline: a read deadline ends a read with os.ErrDeadlineExceeded
// and the stream stays usable.
func TestReadDeadline(t *testing.T) {
	both(t, func(t *testing.T, tr string) {
		srv, cli := pair(t, tr, MuxOptions{})
		s := open(t, cli)
		_, _ = s.Write([]byte{1})
		ss := accept(t, srv)
		buf := make([]byte, 1)
		_, _ = io.ReadFull(ss, buf)
		_ = ss.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := ss.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past the deadline: %v", err)
		}
		_ = ss.SetReadDeadline(time.Time{})
		_, _ = s.Write([]byte{2})
		if _, err := io.ReadFull(ss, buf); err != nil || buf[0] != 2 {
			t.Errorf("read after clearing the deadline: %v %v", buf, err)
		}
	})
}

// rawTLS is a TLS connection to a mux listener that speaks frames by hand.
func rawTLS(t *testing.T, opts MuxOptions) (*tls.Conn, *TCPListener) {
	t.Helper()
	sconf, cconf := tlsPair(t)
	ln, err := ListenTCP("127.0.0.1:0", sconf, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := tls.Dial("tcp", ln.Addr().String(), cconf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ln
}

func frame(typ byte, id, n uint32, payload []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint32(b, id)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, payload...)
}

// readClose reads frames until a CLOSE and returns its code.
func readClose(t *testing.T, c *tls.Conn) (wire.Code, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var h [muxHeader]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			t.Fatalf("no CLOSE frame: %v", err)
		}
		p := make([]byte, binary.BigEndian.Uint32(h[5:]))
		if _, err := io.ReadFull(c, p); err != nil {
			t.Fatalf("no CLOSE frame: %v", err)
		}
		if h[0] == frClose {
			return wire.Code(binary.BigEndian.Uint64(p)), string(p[8:])
		}
	}
}

// TestMuxHostile: frames that break the rules close the connection with
// CodeMalformed, before an oversized payload is read.
func TestMuxHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"oversized data", frame(frData, 1, maxData+1, nil)},
		{"unknown type", frame(99, 1, 0, nil)},
		{"data before open", frame(frData, 1, 1, []byte{0})},
		{"even id from the client", frame(frOpen, 2, 0, nil)},
		{"ping on a stream", frame(frPing, 1, 0, nil)},
		{"over the window", func() []byte {
			b := frame(frOpen, 1, 0, nil)
			for i := 0; i <= streamWindow/maxData; i++ {
				b = append(b, frame(frData, 1, maxData, make([]byte, maxData))...)
			}
			return b
		}()},
		{"too many streams", func() []byte {
			var b []byte
			for i := 0; i <= MaxIncomingStreams; i++ {
				b = append(b, frame(frOpen, uint32(2*i+1), 0, nil)...)
			}
			return b
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ln := rawTLS(t, MuxOptions{})
			go func() {
				for {
					if _, err := ln.Accept(context.Background()); err != nil {
						return
					}
				}
			}()
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			_, _ = c.Write(tc.data)
			if code, msg := readClose(t, c); code != wire.CodeMalformed {
				t.Errorf("close code %v (%s), want malformed", code, msg)
			}
		})
	}
}

// TestMuxSlowloris: a peer that sends part of a frame and stops is dropped
// after the idle timeout; so is one that sends nothing.
func TestMuxSlowloris(t *testing.T) {
	for _, partial := range [][]byte{nil, {frData, 0, 0}} {
		c, ln := rawTLS(t, MuxOptions{IdleTimeout: 200 * time.Millisecond, KeepAlive: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		srv, err := ln.Accept(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(partial)
		select {
		case <-srv.Context().Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("partial %v: connection still open long after the idle timeout", partial)
		}
	}
}

// TestTCPNeedsALPN: a TLS client that does not offer the protocol id gets no
// connection.
func TestTCPNeedsALPN(t *testing.T) {
	sconf, cconf := tlsPair(t)
	ln, err := ListenTCP("127.0.0.1:0", sconf, MuxOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cconf.NextProtos = nil
	c, err := tls.Dial("tcp", ln.Addr().String(), cconf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("a connection without ALPN was served")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := ln.Accept(ctx); err == nil {
		t.Error("Accept returned a connection without ALPN")
	}
}

// TestCloseNotHeldUpByStuckWrite: a peer that stops reading leaves a write
// blocked on a full TCP buffer; closing the connection still returns at once
// and ends every local operation.
func TestCloseNotHeldUpByStuckWrite(t *testing.T) {
	c, ln := rawTLS(t, MuxOptions{})
	_ = c // never read: the server's writes pile up in the TCP buffers
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(chan error, 1)
	go func() {
		chunk := make([]byte, streamWindow)
		for {
			s, err := srv.OpenStream(ctx)
			if err != nil {
				stuck <- err
				return
			}
			if _, err := s.Write(chunk); err != nil {
				stuck <- err
				return
			}
		}
	}()
	// Wait until writing blocks: no error for a while means it is stuck.
	select {
	case err := <-stuck:
		t.Fatalf("writes ended before the close: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	closed := make(chan struct{})
	go func() {
		srv.CloseWithError(wire.CodeShuttingDown, "bye")
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(closeLinger):
		t.Fatal("CloseWithError blocked behind a stuck write")
	}
	select {
	case err := <-stuck:
		if code, _, _, _ := RemoteCode(err); code != 0 && code != wire.CodeShuttingDown {
			t.Errorf("stuck write ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck write did not end after the close")
	}
}
