package sockets

import (
	"context"

	psnet "github.com/shirou/gopsutil/v4/net"
)

func init() {
	// On Linux, ConnectionsWithContext reads /proc/PID/status once per
	// socket for the owner's uids, which the process cache already knows;
	// the WithoutUids variant is the same table without that cost. (It is
	// not implemented on Windows, so the portable file keeps the other.)
	connections = func(ctx context.Context) ([]psnet.ConnectionStat, error) {
		return psnet.ConnectionsWithoutUidsWithContext(ctx, "inet")
	}
}
