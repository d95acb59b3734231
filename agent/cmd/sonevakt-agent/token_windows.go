//go:build windows

package main

import (
	"log/slog"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc/mgr"
)

// forgetToken removes --token from the command line the service control
// manager starts the service with (its ImagePath in the registry, which
// local users can read), after the agent has enrolled with it. A failure is
// logged, not fatal: the token is spent or expires anyway.
func forgetToken(service string, log *slog.Logger) {
	m, err := mgr.Connect()
	if err != nil {
		log.Warn("could not open the service manager to remove the enrollment token from the service's command line", "err", err)
		return
	}
	defer m.Disconnect()
	s, err := m.OpenService(service)
	if err != nil {
		log.Warn("could not open the service to remove the enrollment token from its command line", "service", service, "err", err)
		return
	}
	defer s.Close()
	cfg, err := s.Config()
	if err != nil {
		log.Warn("could not read the service's configuration", "service", service, "err", err)
		return
	}
	args, err := windows.DecomposeCommandLine(cfg.BinaryPathName)
	if err != nil {
		log.Warn("could not parse the service's command line", "service", service, "err", err)
		return
	}
	kept := withoutToken(args)
	if len(kept) == len(args) {
		return
	}
	cfg.BinaryPathName = windows.ComposeCommandLine(kept)
	if err := s.UpdateConfig(cfg); err != nil {
		log.Warn("could not remove the enrollment token from the service's command line", "service", service, "err", err)
		return
	}
	log.Info("removed the enrollment token from the service's command line", "service", service)
}
