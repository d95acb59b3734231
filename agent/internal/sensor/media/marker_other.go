//go:build !linux

package media

import (
	"errors"
	"os"
)

// openNoFollow opens path for reading, refusing a symbolic link as its last
// element: the link is looked at first, and the file opened must be the one
// looked at.
func openNoFollow(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if before.Mode()&os.ModeSymlink != 0 {
		return nil, errSymlink
	}
	if !before.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, errors.New("the file changed while it was opened")
	}
	return f, nil
}
