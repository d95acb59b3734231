package inventory

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// collectHost reads the host facts from src.
func collectHost(ctx context.Context, src source) (*wire.Host, error) {
	info, err := src.Host(ctx)
	if err != nil {
		return nil, fmt.Errorf("read host info: %w", err)
	}
	h := &wire.Host{
		Hostname:        info.Hostname,
		OS:              cmp.Or(info.OS, runtime.GOOS),
		Platform:        info.Platform,
		PlatformVersion: info.PlatformVersion,
		Kernel:          info.KernelVersion,
		Arch:            cmp.Or(info.KernelArch, runtime.GOARCH),
		BootTime:        int64(info.BootTime),
		Virtualization:  virtualization(info.VirtualizationSystem, info.VirtualizationRole),
	}
	if h.Domain, err = src.Domain(ctx, h.Hostname); err != nil {
		return nil, fmt.Errorf("read domain: %w", err)
	}
	if h.MachineID, err = src.MachineID(ctx, info); err != nil {
		return nil, fmt.Errorf("read machine id: %w", err)
	}
	if h.CPU, err = collectCPU(ctx, src); err != nil {
		return nil, err
	}
	m, err := src.Memory(ctx)
	if err != nil {
		return nil, fmt.Errorf("read memory: %w", err)
	}
	h.MemoryBytes = m.Total
	ifs, err := src.Interfaces(ctx)
	if err != nil {
		return nil, fmt.Errorf("read interfaces: %w", err)
	}
	h.Interfaces = interfaces(ifs)
	return h, nil
}

// virtualization joins gopsutil's system and role: "kvm/guest", "docker/host".
func virtualization(system, role string) string {
	if system == "" || role == "" {
		return system
	}
	return system + "/" + role
}

func collectCPU(ctx context.Context, src source) (wire.CPU, error) {
	var c wire.CPU
	cpus, err := src.CPU(ctx)
	if err != nil {
		return c, fmt.Errorf("read cpu info: %w", err)
	}
	for _, p := range cpus {
		if c.Model = strings.Join(strings.Fields(p.ModelName), " "); c.Model != "" {
			break
		}
	}
	if c.Cores, err = src.Counts(ctx, false); err != nil {
		return c, fmt.Errorf("count cpu cores: %w", err)
	}
	if c.Threads, err = src.Counts(ctx, true); err != nil {
		return c, fmt.Errorf("count cpu threads: %w", err)
	}
	return c, nil
}

// interfaces turns gopsutil's interfaces into wire form: loopbacks left out,
// MACs in lower-case colon form, addresses as canonical CIDR, all sorted so
// that the same machine always yields the same list.
func interfaces(in psnet.InterfaceStatList) []wire.Interface {
	var out []wire.Interface
	for _, s := range in {
		if slices.Contains(s.Flags, "loopback") {
			continue
		}
		ifc := wire.Interface{
			Name: s.Name,
			MAC:  mac(s.HardwareAddr),
			Up:   slices.Contains(s.Flags, "up"),
			MTU:  s.MTU,
		}
		for _, a := range s.Addrs {
			ifc.Addrs = append(ifc.Addrs, cidr(a.Addr))
		}
		slices.Sort(ifc.Addrs)
		ifc.Addrs = slices.Compact(ifc.Addrs)
		out = append(out, ifc)
	}
	slices.SortFunc(out, func(a, b wire.Interface) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// mac returns a hardware address in lower-case colon form.
func mac(s string) string {
	if hw, err := net.ParseMAC(s); err == nil {
		return hw.String()
	}
	return strings.ToLower(strings.ReplaceAll(s, "-", ":"))
}

// cidr returns an address in canonical prefix form; a bare address gets its
// full-length prefix.
func cidr(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return s
}
