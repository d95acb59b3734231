//go:build linux || darwin

package main

import (
	"fmt"
	"syscall"
)

// raiseFDLimit raises the soft limit on open files to want (each simulated
// agent holds a UDP socket and its spool's files), as far as the hard limit
// allows; a privileged process raises the hard limit too. It returns the soft
// limit in force.
func raiseFDLimit(want uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if uint64(l.Cur) >= want {
		return uint64(l.Cur), nil
	}
	if uint64(l.Max) < want {
		n := l
		n.Cur, n.Max = want, want
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &n); err == nil {
			return want, nil
		}
	}
	l.Cur = min(want, uint64(l.Max))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if uint64(l.Cur) < want {
		return uint64(l.Cur), fmt.Errorf("open files limited to %d, %d wanted (about 4 per agent): raise the hard limit (ulimit -Hn)", l.Cur, want)
	}
	return uint64(l.Cur), nil
}
