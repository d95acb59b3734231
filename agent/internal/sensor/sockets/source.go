package sockets

import (
	"context"

	psnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// connSource is where the connection table and the processes come from:
// gopsutil on a machine, a fake in tests.
type connSource interface {
	// Connections returns every TCP and UDP socket, IPv4 and IPv6.
	Connections(ctx context.Context) ([]psnet.ConnectionStat, error)
	// CreateTime returns when process pid started (milliseconds since the
	// epoch); with the pid it tells a process from a later one that reuses
	// the pid.
	CreateTime(ctx context.Context, pid int32) (int64, error)
	// Process returns what can be read of process pid: at least the pid,
	// and its name, executable and user when the caller may read them.
	Process(ctx context.Context, pid int32) wire.FlowProcess
}

// What an unprivileged caller gets (the agent runs as root or LocalSystem,
// which sees everything):
//
//   - Linux: /proc/net/{tcp,udp}{,6} list every socket of the network
//     namespace, but a socket is tied to its process through the process's
//     /proc/PID/fd links, which only the owner (or CAP_SYS_PTRACE) may read.
//     Other users' sockets therefore come without a pid, and are reported
//     without a process. For a readable pid, the name and user come from
//     /proc/PID/status (world-readable); the executable (/proc/PID/exe)
//     only for the caller's own processes.
//   - Windows: GetExtendedTcpTable and GetExtendedUdpTable give every socket
//     with its owning pid to anyone. The executable, name, user and start
//     time need OpenProcess, which a standard user is denied for services,
//     protected processes and other users' elevated processes: those sockets
//     are reported with the pid and no name.

// connections lists the sockets; the Linux file swaps in a cheaper call.
var connections = func(ctx context.Context) ([]psnet.ConnectionStat, error) {
	return psnet.ConnectionsWithContext(ctx, "inet")
}

// system is the source of this machine, through gopsutil.
type system struct{}

var _ connSource = system{}

func (system) Connections(ctx context.Context) ([]psnet.ConnectionStat, error) {
	return connections(ctx)
}

func (system) CreateTime(ctx context.Context, pid int32) (int64, error) {
	// A Process literal, not process.NewProcess: that first checks that the
	// pid exists, which on Windows lists every process for most pids.
	p := &process.Process{Pid: pid}
	return p.CreateTimeWithContext(ctx)
}

func (system) Process(ctx context.Context, pid int32) wire.FlowProcess {
	p := &process.Process{Pid: pid}
	fp := wire.FlowProcess{PID: pid}
	fp.Name, _ = p.NameWithContext(ctx)
	fp.Exe, _ = p.ExeWithContext(ctx)
	fp.User, _ = p.UsernameWithContext(ctx)
	return fp
}
