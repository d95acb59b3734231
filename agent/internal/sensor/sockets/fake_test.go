package sockets

import (
	"context"
	"fmt"
	"sync"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fakeSource is a connSource that serves a table set by the test and counts
// what it is asked.
type fakeSource struct {
	mu      sync.Mutex
	stats   []psnet.ConnectionStat
	err     error
	created map[int32]int64
	procs   map[int32]wire.FlowProcess
	// tableReads and procReads count Connections and Process calls.
	tableReads, procReads int
}

func (f *fakeSource) set(stats ...psnet.ConnectionStat) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats = stats
}

func (f *fakeSource) counts() (tableReads, procReads int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tableReads, f.procReads
}

func (f *fakeSource) Connections(context.Context) ([]psnet.ConnectionStat, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tableReads++
	return append([]psnet.ConnectionStat(nil), f.stats...), f.err
}

func (f *fakeSource) CreateTime(_ context.Context, pid int32) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created[pid], nil
}

func (f *fakeSource) Process(_ context.Context, pid int32) wire.FlowProcess {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.procReads++
	if p, ok := f.procs[pid]; ok {
		return p
	}
	return wire.FlowProcess{PID: pid}
}

// tcp and udp build gopsutil connections as Linux reports them.
func tcp(local, remote, status string, pid int32) psnet.ConnectionStat {
	return stat(1, local, remote, status, pid)
}

func udp(local, remote string, pid int32) psnet.ConnectionStat {
	return stat(2, local, remote, "NONE", pid)
}

func stat(typ uint32, local, remote, status string, pid int32) psnet.ConnectionStat {
	return psnet.ConnectionStat{Type: typ, Laddr: addr(local), Raddr: addr(remote), Status: status, Pid: pid}
}

// addr splits "ip:port" or "[ip6]:port" into a gopsutil address; "" is an
// empty one, as Windows gives for UDP peers.
func addr(s string) psnet.Addr {
	if s == "" {
		return psnet.Addr{}
	}
	i := len(s) - 1
	for s[i] != ':' {
		i--
	}
	host, port := s[:i], s[i+1:]
	if host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	var p uint32
	for _, c := range port {
		p = p*10 + uint32(c-'0')
	}
	return psnet.Addr{IP: host, Port: p}
}

// String renders a conn for test failures.
func (c conn) String() string {
	return fmt.Sprintf("{proto %d %s > %s %s pid %d}", c.proto, c.local, c.remote, c.state, c.pid)
}
