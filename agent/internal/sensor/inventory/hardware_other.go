//go:build !linux && !windows

package inventory

import (
	"context"
	"runtime"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Agents run on Linux and Windows; elsewhere the hardware section stays empty
// and says so, so that one build works on a developer's machine.

func fillHardware(_ context.Context, _ *wire.Inventory, warn func(string, ...any)) error {
	warn("hardware is not collected on %s", runtime.GOOS)
	return nil
}
