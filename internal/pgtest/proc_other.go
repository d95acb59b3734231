//go:build !linux

package pgtest

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
)

// The clusters run on Linux only: elsewhere the tests skip, or use
// $SONEVAKT_PG_DSN.

type osUser struct{}

func runAs() (*osUser, error) {
	return nil, fmt.Errorf("local PostgreSQL clusters need Linux (GOOS=%s); set %s: %w", runtime.GOOS, EnvDSN, errNotInstalled)
}

func (u *osUser) own(string) error { return nil }

func makeDir(*osUser) (string, error) { return "", errors.ErrUnsupported }

func sysProcAttr(*osUser) *syscall.SysProcAttr { return nil }

func startKeepingParent(cmd *exec.Cmd) error { return cmd.Start() }

func sweepStale() {}
