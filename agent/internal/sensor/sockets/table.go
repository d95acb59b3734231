package sockets

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// IP protocol numbers, as the traffic sensor names flows.
const (
	protoTCP = 6
	protoUDP = 17
)

// Socket states, as reported. TCP keeps the kernel's state, in the names
// Linux uses (Windows' names are mapped onto them). UDP has no states: a
// socket with a peer (connect) is stateEstablished, one without takes
// datagrams from anyone and is stateListen.
const (
	stateEstablished = "ESTABLISHED"
	stateListen      = "LISTEN"
)

// windowsStates maps the state names gopsutil gives on Windows onto the
// Linux ones, so that both report alike.
var windowsStates = map[string]string{
	"FIN_WAIT_1":   "FIN_WAIT1",
	"FIN_WAIT_2":   "FIN_WAIT2",
	"SYN_RECEIVED": "SYN_RECV",
	"CLOSED":       "CLOSE",
	"DELETE":       "CLOSE",
}

// connected lists the TCP states of a connection that carries traffic:
// established, or closing while its process still holds it. SYN_SENT and
// SYN_RECV are not yet connections; TIME_WAIT belongs to the kernel alone
// (no process) and would churn the table with every closed connection.
var connected = map[string]bool{
	"ESTABLISHED": true,
	"FIN_WAIT1":   true,
	"FIN_WAIT2":   true,
	"CLOSE_WAIT":  true,
	"CLOSING":     true,
	"LAST_ACK":    true,
}

// conn is one socket of the table, with its addresses normalised: IPv4
// mapped into IPv6 unmapped, no IPv6 zone, and no remote (the zero
// AddrPort) when the socket has no peer.
type conn struct {
	proto  uint8
	local  netip.AddrPort
	remote netip.AddrPort
	state  string
	pid    int32
}

// listening reports whether c waits for peers: a TCP listener or a UDP
// socket without a peer.
func (c conn) listening() bool { return c.state == stateListen }

// entry is a socket with its process; proc is nil when the owner is not
// known (no pid).
type entry struct {
	conn
	proc *wire.FlowProcess
}

// parseConn converts one gopsutil connection; ok is false for sockets that
// are neither TCP nor UDP, or whose local address does not parse.
func parseConn(s psnet.ConnectionStat) (c conn, ok bool) {
	switch s.Type {
	case syscall.SOCK_STREAM:
		c.proto = protoTCP
	case syscall.SOCK_DGRAM:
		c.proto = protoUDP
	default:
		return c, false
	}
	local, ok := parseAddrPort(s.Laddr)
	if !ok {
		return c, false
	}
	c.local = local
	if r, ok := parseAddrPort(s.Raddr); ok && r.Port() != 0 && !r.Addr().IsUnspecified() {
		c.remote = r
	}
	c.pid = s.Pid
	switch {
	case c.proto == protoUDP && c.remote.IsValid():
		c.state = stateEstablished
	case c.proto == protoUDP:
		c.state = stateListen
	default:
		c.state = s.Status
		if w, ok := windowsStates[c.state]; ok {
			c.state = w
		}
	}
	return c, true
}

// parseAddrPort parses a gopsutil address into a normalised AddrPort.
func parseAddrPort(a psnet.Addr) (netip.AddrPort, bool) {
	if a.IP == "" || a.Port > 0xffff {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(a.IP)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(normAddr(ip), uint16(a.Port)), true
}

// normAddr unmaps an IPv4-mapped IPv6 address and drops an IPv6 zone, so
// that sockets and captured packets name an address alike.
func normAddr(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// normAddrPort is normAddr for an address and port.
func normAddrPort(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(normAddr(ap.Addr()), ap.Port())
}

// procCache remembers the processes of the last table by pid and start
// time, so that a round reads a process's details only when it is new; a
// known pid costs one start-time read.
type procCache struct {
	src   connSource
	procs map[int32]procEntry
	round uint64
}

// procEntry is one remembered process.
type procEntry struct {
	created int64
	proc    *wire.FlowProcess
	round   uint64 // the last round that saw it
}

func newProcCache(src connSource) *procCache {
	return &procCache{src: src, procs: map[int32]procEntry{}}
}

// lookup returns the process pid, nil for pid 0 (no known owner).
func (c *procCache) lookup(ctx context.Context, pid int32) *wire.FlowProcess {
	if pid <= 0 {
		return nil
	}
	e, ok := c.procs[pid]
	if ok && e.round == c.round {
		return e.proc
	}
	// A start time that cannot be read (Windows denies it for some
	// processes) is taken as 0: such a pid is read once and trusted until
	// it leaves the table.
	created, _ := c.src.CreateTime(ctx, pid)
	if !ok || e.created != created {
		p := c.src.Process(ctx, pid)
		e = procEntry{created: created, proc: &p}
	}
	e.round = c.round
	c.procs[pid] = e
	return e.proc
}

// readTable reads the connection table and the processes that own its
// sockets. total counts every socket the source gave.
func readTable(ctx context.Context, src connSource, procs *procCache) (entries []entry, total int, err error) {
	stats, err := src.Connections(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("read connection table: %w", err)
	}
	procs.round++
	entries = make([]entry, 0, len(stats))
	for _, s := range stats {
		c, ok := parseConn(s)
		if !ok {
			continue
		}
		entries = append(entries, entry{conn: c, proc: procs.lookup(ctx, c.pid)})
	}
	for pid, e := range procs.procs {
		if e.round != procs.round {
			delete(procs.procs, pid)
		}
	}
	return entries, len(stats), nil
}
