package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// systemctlTimeout bounds each systemctl run; a wedged D-Bus must not stall
// the inventory.
const systemctlTimeout = 30 * time.Second

func fillServices(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	s, err := linuxServices(ctx, "/", runSystemctl, warn)
	inv.Services = s
	return err
}

// runSystemctl runs systemctl with args and returns what it printed.
func runSystemctl(ctx context.Context, args ...string) ([]byte, error) {
	bin, err := exec.LookPath("systemctl")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return out, err
	}
	return out, nil
}

// linuxServices lists the systemd services of the machine whose root is root,
// asking systemctl through run. A machine not booted with systemd (a
// container, a SysV or OpenRC system) has none that systemd knows of: that is
// said once through warn and is no error.
func linuxServices(ctx context.Context, root string, run func(ctx context.Context, args ...string) ([]byte, error), warn func(string, ...any)) ([]wire.Service, error) {
	// sd_booted(3): systemd is PID 1 when this directory exists.
	if _, err := os.Stat(filepath.Join(root, "run/systemd/system")); errors.Is(err, fs.ErrNotExist) {
		warn("not booted with systemd: no services collected")
		return nil, nil
	}
	out, err := run(ctx, "list-units", "--type=service", "--all", "--no-legend", "--no-pager", "--plain")
	if errors.Is(err, exec.ErrNotFound) {
		warn("systemctl not found: no services collected")
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("systemctl list-units: %w", err)
	}
	units := parseListUnits(out, warn)
	out, err = run(ctx, "list-unit-files", "--type=service", "--no-legend", "--no-pager")
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		warn("systemctl list-unit-files: %v; start modes unknown", err)
		out = nil
	}
	return systemdServices(units, parseListUnitFiles(out, warn)), nil
}
