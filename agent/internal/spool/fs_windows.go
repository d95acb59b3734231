package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// syncDir does nothing on Windows: NTFS makes directory entries durable with
// the file's metadata, and directories cannot be flushed through a handle.
func syncDir(string) error { return nil }

// errSharingViolation is ERROR_SHARING_VIOLATION.
const errSharingViolation syscall.Errno = 32

// lockDir opens the file at path without sharing, which keeps every other
// process out until the handle is closed (or the process dies).
func lockDir(path string) (io.Closer, error) {
	p, err := syscall.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ|syscall.GENERIC_WRITE, 0, nil,
		syscall.OPEN_ALWAYS, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		if errors.Is(err, errSharingViolation) {
			return nil, fmt.Errorf("lock %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return os.NewFile(uintptr(h), path), nil
}
