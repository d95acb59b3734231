package inventory

import (
	"context"
	"debug/pe"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func fillSoftware(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	inv.Software = dedupePackages(registrySoftware(liveRegistry{}, machineViews(nativeArch()), warn))
	return nil
}

// nativeArch returns the architecture of Windows itself, which a 32-bit agent
// on 64-bit Windows does not share: x64, arm64 or x86.
func nativeArch() string {
	var process, native uint16
	// IsWow64Process2 exists from Windows 10 1511 on.
	if err := windows.IsWow64Process2(windows.CurrentProcess(), &process, &native); err == nil {
		switch native {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			return "x64"
		case pe.IMAGE_FILE_MACHINE_ARM64:
			return "arm64"
		case pe.IMAGE_FILE_MACHINE_I386:
			return "x86"
		}
	}
	switch runtime.GOARCH {
	case "amd64":
		return "x64"
	case "arm64":
		return "arm64"
	}
	var wow64 bool
	if err := windows.IsWow64Process(windows.CurrentProcess(), &wow64); err == nil && wow64 {
		return "x64"
	}
	return "x86"
}

// liveRegistry is this machine's registry.
type liveRegistry struct{}

var _ regReader = liveRegistry{}

func (liveRegistry) open(k regKey, access uint32) (registry.Key, error) {
	root := registry.LOCAL_MACHINE
	if k.hive == hiveUsers {
		root = registry.USERS
	}
	switch k.view {
	case view64:
		access |= registry.WOW64_64KEY
	case view32:
		access |= registry.WOW64_32KEY
	}
	key, err := registry.OpenKey(root, k.path, access)
	if errors.Is(err, registry.ErrNotExist) {
		return 0, errRegNotExist
	}
	return key, err
}

func (r liveRegistry) SubKeys(k regKey) ([]string, error) {
	key, err := r.open(k, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return nil, err
	}
	defer key.Close()
	return key.ReadSubKeyNames(0)
}

func (r liveRegistry) Values(k regKey, names ...string) (map[string]regValue, error) {
	key, err := r.open(k, registry.QUERY_VALUE)
	if err != nil {
		return nil, err
	}
	defer key.Close()
	vals := make(map[string]regValue, len(names))
	for _, n := range names {
		s, _, err := key.GetStringValue(n)
		if err == nil {
			vals[n] = regValue{Text: s}
			continue
		}
		if !errors.Is(err, registry.ErrUnexpectedType) {
			if errors.Is(err, registry.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("value %s: %w", n, err)
		}
		if u, _, err := key.GetIntegerValue(n); err == nil {
			vals[n] = regValue{Num: u, IsNum: true}
		}
	}
	return vals, nil
}
