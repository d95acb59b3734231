package inventory

import (
	"context"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	psnet "github.com/shirou/gopsutil/v4/net"
)

// source is where the facts come from: gopsutil and the OS on a machine, a
// fake in tests.
type source interface {
	Host(ctx context.Context) (*host.InfoStat, error)
	CPU(ctx context.Context) ([]cpu.InfoStat, error)
	Counts(ctx context.Context, logical bool) (int, error)
	Memory(ctx context.Context) (*mem.VirtualMemoryStat, error)
	Interfaces(ctx context.Context) (psnet.InterfaceStatList, error)
	// Domain returns the DNS domain of the machine named hostname, "" when it
	// has none.
	Domain(ctx context.Context, hostname string) (string, error)
	// MachineID returns the OS installation's own identifier, "" when there
	// is none; info is what Host returned.
	MachineID(ctx context.Context, info *host.InfoStat) (string, error)
}

// system is the source of this machine. root is the file-system root that
// the OS files read below (etc/machine-id, etc/hosts …); it is "/" except in
// tests.
type system struct {
	root string
}

var _ source = system{}

func (system) Host(ctx context.Context) (*host.InfoStat, error) { return host.InfoWithContext(ctx) }

func (system) CPU(ctx context.Context) ([]cpu.InfoStat, error) { return cpu.InfoWithContext(ctx) }

func (system) Counts(ctx context.Context, logical bool) (int, error) {
	return cpu.CountsWithContext(ctx, logical)
}

func (system) Memory(ctx context.Context) (*mem.VirtualMemoryStat, error) {
	return mem.VirtualMemoryWithContext(ctx)
}

func (system) Interfaces(ctx context.Context) (psnet.InterfaceStatList, error) {
	return psnet.InterfacesWithContext(ctx)
}
