package media

import (
	"errors"
	"os"
	"syscall"
)

// openNoFollow opens path for reading, refusing a symbolic link as its last
// element and never blocking on a FIFO or device.
func openNoFollow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errSymlink
	}
	return f, err
}
