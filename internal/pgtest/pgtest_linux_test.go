package pgtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSweep removes the directory of a process that is gone, and keeps the
// directory of one that runs.
func TestSweep(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	gone, live := filepath.Join(base, dirPrefix+"gone"), filepath.Join(base, dirPrefix+"live")
	for dir, pid := range map[string]int{gone: dead.Process.Pid, live: os.Getpid()} {
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sweep([]string{gone, live})
	if _, err := os.Stat(gone); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after sweep: %v, want removed", gone, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("%s after sweep: %v, want kept", live, err)
	}
}
