//go:build !linux && !windows

package inventory

import (
	"context"
	"strings"

	"github.com/shirou/gopsutil/v4/host"
)

// Domain returns the part of the hostname after its first dot. Agents run on
// Linux and Windows; elsewhere this is enough to develop on.
func (system) Domain(_ context.Context, hostname string) (string, error) {
	_, d, _ := strings.Cut(strings.TrimSuffix(hostname, "."), ".")
	return d, nil
}

// MachineID returns gopsutil's host id (the IOPlatformUUID on macOS).
func (system) MachineID(_ context.Context, info *host.InfoStat) (string, error) {
	return info.HostID, nil
}
