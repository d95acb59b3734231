//go:build !windows

package main

import "log/slog"

// forgetToken has nothing to do outside Windows: systemd reads the token from
// /etc/sonevakt/agent.env (root, 0600), not from the unit's command line.
func forgetToken(string, *slog.Logger) {}
