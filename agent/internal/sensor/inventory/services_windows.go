package inventory

import (
	"context"
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// fillServices lists the Win32 services (not drivers) with their state, start
// type and account. It opens the service control manager and each service
// with query rights only: mgr.Connect and Mgr.OpenService ask for full access,
// which an inventory has no business holding.
func fillServices(ctx context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	h, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return fmt.Errorf("open service control manager: %w", err)
	}
	m := &mgr.Mgr{Handle: h}
	defer m.Disconnect()
	names, err := m.ListServices()
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	var failed int
	var first error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := winServiceInfo(h, name)
		if err != nil {
			failed++
			if first == nil {
				first = fmt.Errorf("%s: %w", name, err)
			}
		}
		inv.Services = append(inv.Services, s)
	}
	if failed > 0 {
		warn("%d of %d services not fully readable (first %v)", failed, len(names), first)
	}
	return nil
}

// winServiceInfo queries the status and configuration of the service name.
// What could not be read stays empty, the state "unknown".
func winServiceInfo(scm windows.Handle, name string) (wire.Service, error) {
	s := wire.Service{Name: name, State: "unknown"}
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return s, err
	}
	h, err := windows.OpenService(scm, p, windows.SERVICE_QUERY_CONFIG|windows.SERVICE_QUERY_STATUS)
	if err != nil {
		return s, fmt.Errorf("open: %w", err)
	}
	svc := &mgr.Service{Name: name, Handle: h}
	defer svc.Close()
	st, err := svc.Query()
	if err != nil {
		return s, fmt.Errorf("query status: %w", err)
	}
	cfg, err := svc.Config()
	if err != nil {
		s.State = windowsService(name, "", uint32(st.State), 0, false, "").State
		return s, fmt.Errorf("query config: %w", err)
	}
	return windowsService(name, cfg.DisplayName, uint32(st.State), cfg.StartType, cfg.DelayedAutoStart, cfg.ServiceStartName), nil
}
