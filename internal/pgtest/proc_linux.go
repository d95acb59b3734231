package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// osUser is the system user the cluster runs as; nil for the test process's
// own user.
type osUser struct {
	uid, gid uint32
}

// runAs returns the user to run PostgreSQL as: as root the "postgres" user
// Debian's package creates, else nil (the current user).
func runAs() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres system user to run the cluster as: %v: %w", err, errNotInstalled)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user postgres: uid %q gid %q", u.Uid, u.Gid)
	}
	return &osUser{uid: uint32(uid), gid: uint32(gid)}, nil
}

// own hands path to u.
func (u *osUser) own(path string) error {
	if u == nil {
		return nil
	}
	return os.Chown(path, int(u.uid), int(u.gid))
}

// makeDir creates the cluster's directory, owned by u and closed to others,
// with the owner file naming this process. It is in the temporary directory
// unless u could not reach that or the unix socket's path would be too long.
func makeDir(u *osUser) (string, error) {
	base := os.TempDir()
	if len(base) > 60 || (u != nil && !searchableByAll(base)) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, dirPrefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := u.own(dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// searchableByAll reports whether every directory from / down to dir lets
// other users through.
func searchableByAll(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

// sysProcAttr runs a program as u, in its own process group (a terminal's
// ^C reaches the tests, which stop the cluster), killed when the test
// process dies.
func sysProcAttr(u *osUser) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if u != nil {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}
	}
	return a
}

var spawner struct {
	once sync.Once
	jobs chan func()
}

// startKeepingParent starts cmd from one OS thread that never exits: the
// parent-death signal fires when the thread that forked the child exits,
// not the process, and the Go runtime may end other threads.
func startKeepingParent(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.jobs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for job := range spawner.jobs {
				job()
			}
		}()
	})
	errc := make(chan error, 1)
	spawner.jobs <- func() { errc <- cmd.Start() }
	return <-errc
}

var sweepOnce sync.Once

// sweepStale removes the cluster directories of test processes that are
// gone, killing a postmaster that outlived its process. Once per process.
func sweepStale() {
	sweepOnce.Do(func() {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
		if os.TempDir() != "/tmp" {
			more, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
			dirs = append(dirs, more...)
		}
		sweep(dirs)
	})
}

// sweep removes those of dirs whose owner process is gone.
func sweep(dirs []string) {
	for _, dir := range dirs {
		owner, ok := readPid(filepath.Join(dir, ownerFile))
		if !ok || alive(owner) {
			continue
		}
		if pm, ok := readPid(filepath.Join(dir, "data", "postmaster.pid")); ok && alive(pm) {
			if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pm) + "/comm"); strings.TrimSpace(string(comm)) == "postgres" {
				_ = syscall.Kill(pm, syscall.SIGKILL)
			}
		}
		_ = os.RemoveAll(dir)
	}
}

// readPid reads the number on the first line of path.
func readPid(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return pid, err == nil && pid > 0
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
