//go:build !linux && !windows

package inventory

import (
	"context"
	"runtime"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Agents run on Linux and Windows; elsewhere the accounts sections stay empty
// and say so, so that one build works on a developer's machine.

func fillUsers(_ context.Context, _ *wire.Inventory, warn func(string, ...any)) error {
	warn("local users are not collected on %s", runtime.GOOS)
	return nil
}

func fillGroups(_ context.Context, _ *wire.Inventory, warn func(string, ...any)) error {
	warn("local groups are not collected on %s", runtime.GOOS)
	return nil
}
