package inventory

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// utmpFiles are where utmp may be, first found wins (/var/run is a link to
// /run on current systems).
var utmpFiles = []string{"/run/utmp", "/var/run/utmp"}

// logindSessions is the directory of systemd-logind's session files.
const logindSessions = "/run/systemd/sessions"

func fillSessions(_ context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	s, err := linuxSessions("/", runtime.GOARCH, warn)
	inv.Sessions = s
	return err
}

// linuxSessions returns the sessions of the machine whose root is root: the
// USER_PROCESS records of utmp whose process still runs (a crash leaves its
// record behind), merged with systemd-logind's sessions. goarch says how utmp
// is laid out. A machine with neither (a container) has no sessions.
func linuxSessions(root, goarch string, warn func(string, ...any)) ([]wire.Session, error) {
	var fromUtmp []wire.Session
	entries, err := readUtmp(root, goarch, warn)
	if err != nil {
		warn("%v", err)
	}
	for _, e := range entries {
		if e.typ != utmpUserProcess || e.user == "" || !processRuns(root, e.pid) {
			continue
		}
		fromUtmp = append(fromUtmp, utmpSession(e))
	}
	fromLogind, err := readLogindSessions(root, warn)
	if err != nil {
		return fromUtmp, err
	}
	return mergeSessions(fromUtmp, fromLogind), nil
}

// readUtmp reads the first utmp file found below root.
func readUtmp(root, goarch string, warn func(string, ...any)) ([]utmpEntry, error) {
	for _, name := range utmpFiles {
		b, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		l := utmpLayoutFor(goarch, len(b))
		entries, trailing := parseUtmp(b, l)
		if trailing > 0 {
			warn("%s: %d bytes after the last whole %d-byte record", name, trailing, l.size)
		}
		return entries, nil
	}
	return nil, nil
}

// processRuns reports whether process pid exists on the machine whose root
// is root.
func processRuns(root string, pid int32) bool {
	if pid <= 0 {
		return false
	}
	_, err := os.Stat(filepath.Join(root, "proc", strconv.Itoa(int(pid))))
	return err == nil
}

// readLogindSessions reads systemd-logind's session files below root.
func readLogindSessions(root string, warn func(string, ...any)) ([]wire.Session, error) {
	dir := filepath.Join(root, logindSessions)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", logindSessions, err)
	}
	var out []wire.Session
	for _, e := range ents {
		// Besides the session files, the directory holds each session's
		// FIFO (ID.ref), which must not be opened.
		if !e.Type().IsRegular() || strings.Contains(e.Name(), ".") {
			continue
		}
		name := logindSessions + "/" + e.Name()
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the session ended meanwhile
		}
		if err != nil {
			warn("read %s: %v", name, err)
			continue
		}
		if s, ok := parseLogindSession(e.Name(), b, name, warn).session(); ok {
			out = append(out, s)
		}
	}
	return out, nil
}
