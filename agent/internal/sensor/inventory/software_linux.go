package inventory

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func fillSoftware(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	s, err := linuxSoftware(ctx, "/", warn)
	inv.Software = s
	return err
}

// linuxSoftware lists the packages of the machine whose root is root: dpkg's
// and RPM's, whichever it has (some have both). What one database yields is
// kept when the other fails.
func linuxSoftware(ctx context.Context, root string, warn func(string, ...any)) ([]wire.Package, error) {
	deb, errDeb := dpkgDB{admin: filepath.Join(root, "var/lib/dpkg")}.packages(ctx, warn)
	rpms, errRPM := rpmPackages(ctx, root, warn)
	return dedupePackages(append(deb, rpms...)), errors.Join(errDeb, errRPM)
}
