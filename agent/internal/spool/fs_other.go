//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package spool

import (
	"io"
	"os"
)

// syncDir makes the directory's entries durable where the platform allows it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	d.Sync() // not supported everywhere; best effort
	return d.Close()
}

// lockDir takes no lock on platforms without flock; the agent's service
// manager is the only guard there.
func lockDir(string) (io.Closer, error) { return io.NopCloser(nil), nil }
