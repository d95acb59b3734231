//go:build !linux && !windows

package inventory

import (
	"context"
	"runtime"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Agents run on Linux and Windows; elsewhere the services section stays empty
// and says so.

func fillServices(_ context.Context, _ *wire.Inventory, warn func(string, ...any)) error {
	warn("services are not collected on %s", runtime.GOOS)
	return nil
}
