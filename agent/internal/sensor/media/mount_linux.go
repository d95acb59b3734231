package media

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// mountinfoPath is the mount table of the agent's mount namespace; the
// kernel flags it with POLLPRI|POLLERR when a mount comes or goes.
const mountinfoPath = "/proc/self/mountinfo"

// mountEntry is one line of /proc/<pid>/mountinfo.
type mountEntry struct {
	ID       int
	MajMin   string // major:minor of the filesystem's device
	Root     string // the mounted directory of the filesystem
	Point    string // where it is mounted
	Options  []string
	FSType   string
	Source   string
	ReadOnly bool
}

// parseMountinfo parses the text of a mountinfo file (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// Paths have their octal escapes (\040 for a space) undone. Lines that do not
// parse are skipped.
func parseMountinfo(s string) []mountEntry {
	var out []mountEntry
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+3 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		e := mountEntry{ID: id, MajMin: f[2], Root: unescapeMount(f[3]), Point: unescapeMount(f[4]),
			Options: strings.Split(f[5], ","), FSType: f[sep+1], Source: unescapeMount(f[sep+2])}
		e.ReadOnly = slices.Contains(e.Options, "ro")
		out = append(out, e)
	}
	return out
}

// unescapeMount undoes the kernel's octal escapes (\040 space, \011 tab,
// \012 newline, \134 backslash) in a mountinfo field.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			n, _ := strconv.ParseUint(s[i+1:i+4], 8, 8)
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// mountUser tells who mounted a volume at point: the user folder of
// /media/<user>/… or /run/media/<user>/… (where desktop automounters put
// it), else the owner of the mounted directory unless that is root; "" when
// neither says.
func mountUser(point string, owner func(string) (int, bool), lookup func(int) string) string {
	for _, prefix := range []string{"/media/", "/run/media/"} {
		if rest, ok := strings.CutPrefix(point, prefix); ok {
			if u, _, ok := strings.Cut(rest, "/"); ok && u != "" {
				return u
			}
		}
	}
	if uid, ok := owner(point); ok && uid != 0 {
		return lookup(uid)
	}
	return ""
}

// statOwner returns the uid owning path.
func statOwner(path string) (int, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}

// userName returns the login name of uid, or the number when it has none.
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// volumeMount is a mount of one volume of a known medium.
type volumeMount struct {
	disk string // the medium's name
	info wire.MediaMountInfo
}

// mountsNow returns the mounts of block devices now, keyed by mount id, with
// the volume each mounts; resolve names the disk and volume of a mount (ok
// false for mounts of no interest).
func mountsNow(path string, resolve func(mountEntry) (disk, vol string, ok bool)) (map[int]volumeMount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	out := map[int]volumeMount{}
	for _, e := range parseMountinfo(string(b)) {
		disk, vol, ok := resolve(e)
		if !ok {
			continue
		}
		out[e.ID] = volumeMount{disk: disk, info: wire.MediaMountInfo{Volume: vol, Point: e.Point, FSType: e.FSType,
			User: mountUser(e.Point, statOwner, userName), ReadOnly: e.ReadOnly}}
	}
	return out, nil
}

// watchMounts sends osMount and osUnmount events for the volumes resolve
// accepts until ctx ends. The kernel wakes a poll on the open mount table
// with POLLPRI|POLLERR whenever a mount comes or goes; the table is then read
// again and compared with the last one.
func watchMounts(ctx context.Context, path string, resolve func(mountEntry) (string, string, bool), send func(osEvent) bool) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open mount table: %w", err)
	}
	defer unix.Close(fd)
	last, err := mountsNow(path, resolve)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI | unix.POLLERR}}
		n, err := unix.Poll(fds, 200)
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("poll mount table: %w", err)
		}
		if fds[0].Revents&(unix.POLLPRI|unix.POLLERR) == 0 {
			continue
		}
		now, err := mountsNow(path, resolve)
		if err != nil {
			return err
		}
		for _, id := range slices.Sorted(maps.Keys(last)) {
			if _, ok := now[id]; !ok {
				m := last[id]
				if !send(osEvent{Kind: osUnmount, Device: wire.MediaDevice{Name: m.disk}, Mount: &m.info}) {
					return nil
				}
			}
		}
		for _, id := range slices.Sorted(maps.Keys(now)) {
			if _, ok := last[id]; !ok {
				m := now[id]
				if !send(osEvent{Kind: osMount, Device: wire.MediaDevice{Name: m.disk}, Mount: &m.info}) {
					return nil
				}
			}
		}
		last = now
	}
	return nil
}

// volumeOf names the block device a mount entry mounts: by the device
// number below sysRoot/dev/block, else by a /dev source.
func volumeOf(sysRoot string, e mountEntry) string {
	if e.MajMin != "" && !strings.HasPrefix(e.MajMin, "0:") {
		if p, err := filepath.EvalSymlinks(filepath.Join(sysRoot, "dev", "block", e.MajMin)); err == nil {
			return filepath.Base(p)
		}
	}
	if strings.HasPrefix(e.Source, "/dev/") {
		if p, err := filepath.EvalSymlinks(e.Source); err == nil && strings.HasPrefix(p, "/dev/") {
			return filepath.Base(p)
		}
		return filepath.Base(e.Source)
	}
	return ""
}
