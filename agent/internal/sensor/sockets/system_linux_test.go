package sockets

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"testing"

	"github.com/sonevakt/sonevakt/agent/internal/sensor"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// skipOrFatal skips a test whose environment lacks something, except in CI
// (CI=true), which has everything.
func skipOrFatal(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// self is this test process as the table should name it.
func self(t *testing.T) wire.FlowProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("user.Current: %v", err)
	}
	return wire.FlowProcess{PID: int32(os.Getpid()), Name: filepath.Base(exe), Exe: exe, User: u.Username}
}

// tcpPair opens a listener on laddr and a connection to it from caddr,
// closed when the test ends; it returns the client's and the server's
// address.
func tcpPair(t *testing.T, network, laddr, caddr string) (client, server netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen(network, laddr)
	if err != nil {
		skipOrFatal(t, "listen %s %s: %v", network, laddr, err)
	}
	t.Cleanup(func() { ln.Close() })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(caddr)}}
	c, err := d.Dial(network, ln.Addr().String())
	if err != nil {
		t.Fatalf("dial %s: %v", ln.Addr(), err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept on %s: %v", ln.Addr(), err)
	}
	t.Cleanup(func() { s.Close() })
	return c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
}

// find returns the table's socket of proto from local to remote (remote
// zero for a listener).
func find(es []entry, proto uint8, local, remote netip.AddrPort) (entry, bool) {
	local, remote = normAddrPort(local), normAddrPort(remote)
	for _, e := range es {
		if e.proto == proto && e.local == local && e.remote == remote {
			return e, true
		}
	}
	return entry{}, false
}

func TestSystemTableTCP(t *testing.T) {
	me := self(t)
	for _, tc := range []struct{ network, laddr, caddr string }{
		{"tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"tcp6", "[::1]:0", "::1"},
	} {
		t.Run(tc.network, func(t *testing.T) {
			client, server := tcpPair(t, tc.network, tc.laddr, tc.caddr)
			es, total, err := readTable(context.Background(), system{}, newProcCache(system{}))
			if err != nil {
				t.Fatalf("readTable: %v", err)
			}
			if total < 3 {
				t.Errorf("total %d, want at least the listener and both ends", total)
			}
			for _, want := range []struct {
				local, remote netip.AddrPort
				state         string
			}{
				{client, server, "ESTABLISHED"},
				{server, client, "ESTABLISHED"},
				{netip.AddrPortFrom(server.Addr(), server.Port()), netip.AddrPort{}, "LISTEN"},
			} {
				e, ok := find(es, protoTCP, want.local, want.remote)
				if !ok {
					t.Errorf("no tcp socket %s > %s in the table of %d", want.local, want.remote, len(es))
					continue
				}
				if e.state != want.state {
					t.Errorf("tcp %s > %s state %q, want %q", want.local, want.remote, e.state, want.state)
				}
				if e.proc == nil || *e.proc != me {
					t.Errorf("tcp %s > %s process %+v, want %+v", want.local, want.remote, e.proc, me)
				}
			}
		})
	}
}

func TestSystemTableUDP(t *testing.T) {
	me := self(t)
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	defer srv.Close()
	cl, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatalf("dial udp %s: %v", srv.LocalAddr(), err)
	}
	defer cl.Close()
	server, client := srv.LocalAddr().(*net.UDPAddr).AddrPort(), cl.LocalAddr().(*net.UDPAddr).AddrPort()

	es, _, err := readTable(context.Background(), system{}, newProcCache(system{}))
	if err != nil {
		t.Fatalf("readTable: %v", err)
	}
	for _, want := range []struct {
		local, remote netip.AddrPort
		state         string
	}{
		{server, netip.AddrPort{}, "LISTEN"},
		{client, server, "ESTABLISHED"},
	} {
		e, ok := find(es, protoUDP, want.local, want.remote)
		if !ok {
			t.Errorf("no udp socket %s > %s in the table", want.local, want.remote)
			continue
		}
		if e.state != want.state {
			t.Errorf("udp %s > %s state %q, want %q", want.local, want.remote, e.state, want.state)
		}
		if e.proc == nil || *e.proc != me {
			t.Errorf("udp %s > %s process %+v, want %+v", want.local, want.remote, e.proc, me)
		}
	}
}

func TestSystemLookup(t *testing.T) {
	me := self(t)
	client, server := tcpPair(t, "tcp4", "127.0.0.1:0", "127.0.0.1")
	r := NewResolver(defaultMaxAge)
	unknown := netip.MustParseAddrPort("127.0.0.9:1")
	for _, tc := range []struct {
		name          string
		proto         uint8
		local, remote netip.AddrPort
	}{
		{"client side", protoTCP, client, server},
		{"server side", protoTCP, server, client},
		{"inbound from a peer not in the table", protoTCP, server, unknown},
	} {
		if p := r.Lookup(tc.proto, tc.local, tc.remote); p == nil || *p != me {
			t.Errorf("%s: Lookup(%d, %s, %s) = %+v, want %+v", tc.name, tc.proto, tc.local, tc.remote, p, me)
		}
	}
}

// TestSystemRound runs a sensor round on the real table with a zone for
// 127.0.0.2: a connection to it from 127.0.0.1 crosses zones.
func TestSystemRound(t *testing.T) {
	me := self(t)
	client, server := tcpPair(t, "tcp4", "127.0.0.2:0", "127.0.0.1")
	pol := wire.Policy{Version: 1, Zones: &wire.ZonePolicy{Zones: []wire.ZoneDef{
		{Name: "lo2", Kind: "sensitive", Prefixes: []string{"127.0.0.2/32"}},
	}}}
	s, err := New(sensor.Env{Policy: func() wire.Policy { return pol }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var recs []wire.Record
	s.(*Sensor).round(context.Background(), func(r wire.Record) { recs = append(recs, r) })
	if len(recs) != 1 {
		t.Fatalf("round emitted %d records, want 1", len(recs))
	}
	var body wire.Sockets
	if err := recs[0].DecodeBody(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := map[string]wire.Socket{
		client.String() + ">" + server.String(): {Proto: "tcp", Local: client.String(), Remote: server.String(), State: "ESTABLISHED",
			LocalZone: "external", RemoteZone: "lo2", Process: &me},
		server.String() + ">" + client.String(): {Proto: "tcp", Local: server.String(), Remote: client.String(), State: "ESTABLISHED",
			LocalZone: "lo2", RemoteZone: "external", Process: &me},
	}
	for _, c := range body.Conns {
		w, ok := want[c.Local+">"+c.Remote]
		if !ok {
			continue
		}
		delete(want, c.Local+">"+c.Remote)
		if c.Process == nil || *c.Process != *w.Process || c.LocalZone != w.LocalZone || c.RemoteZone != w.RemoteZone || c.State != w.State || c.Proto != w.Proto {
			t.Errorf("socket %s > %s = %+v (process %+v), want %+v (process %+v)", c.Local, c.Remote, c, c.Process, w, w.Process)
		}
		if c.Local == server.String() && c.Remote == "" {
			t.Errorf("the loopback listener %s was reported", c.Local)
		}
	}
	for k := range want {
		t.Errorf("socket %s missing from the record's %d conns (total %d)", k, len(body.Conns), body.Total)
	}
	if body.Total < 3 {
		t.Errorf("total %d, want at least 3", body.Total)
	}
}
