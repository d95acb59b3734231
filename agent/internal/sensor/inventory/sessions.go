package inventory

import (
	"bufio"
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The sessions section: who is logged on, where from, since when. Linux
// reads utmp (utmp.go) and systemd-logind's session files and merges them
// (sessions_linux.go, the parsing and merging here); Windows asks the
// Remote Desktop Services API, which also knows the console session
// (sessions_windows.go, the decoding in sessions_wts.go).
//
// Kind is console (a local terminal or the local display), ssh, rdp, x11 (an
// X display other than :0), terminal (a pseudo-terminal with no remote host:
// screen, tmux, a terminal window) or remote (another remote login).

func init() {
	addPart(wire.SectionSessions, fillSessions)
}

// utmpSession turns a USER_PROCESS record into a session.
func utmpSession(e utmpEntry) wire.Session {
	s := wire.Session{User: e.user, ID: e.line, Kind: ttyKind(e.line, e.host), Started: e.sec}
	if _, display := xDisplay(e.host); !display {
		s.Remote = e.host
	}
	if s.Remote == "" && e.addr.IsValid() && !e.addr.IsUnspecified() {
		s.Remote = e.addr.String()
	}
	return s
}

// ttyKind tells how a session on the terminal line was opened, from the line
// and the host utmp names for it.
func ttyKind(line, host string) string {
	if n, ok := xDisplay(line); ok {
		return displayKind(n)
	}
	switch {
	case strings.HasPrefix(line, "pts/"):
		if n, ok := xDisplay(host); ok {
			return displayKind(n)
		}
		if host != "" {
			return "ssh"
		}
		return "terminal"
	case strings.HasPrefix(line, "tty"), strings.HasPrefix(line, "hvc"), strings.HasPrefix(line, "vc/"), line == "console":
		return "console"
	}
	return ""
}

// displayKind is the kind of a session on X display n: :0 is the machine's
// own screen.
func displayKind(n int) string {
	if n == 0 {
		return "console"
	}
	return "x11"
}

// xDisplay reports whether s names a local X display (":0", ":1.0"), and
// its number.
func xDisplay(s string) (int, bool) {
	rest, ok := strings.CutPrefix(s, ":")
	if !ok {
		return 0, false
	}
	d, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(d)
	return n, err == nil && n >= 0
}

// logindSession is a session file of systemd-logind, /run/systemd/sessions/ID.
// The files say "private data, do not parse"; but they are what logind itself
// reloads when it restarts, their keys have stayed put across systemd
// releases (new ones were only added), and reading them needs neither D-Bus
// nor libsystemd. Unknown keys are ignored.
type logindSession struct {
	id                               string
	user, tty, display, remoteHost   string
	service, typ, class, state, seat string
	remote                           bool
	realtime                         int64 // µs since 1970
}

// parseLogindSession parses the session file of session id. file names it in
// warnings.
func parseLogindSession(id string, b []byte, file string, warn func(string, ...any)) logindSession {
	s := logindSession{id: id}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			warn("%s:%d: not KEY=value", file, n)
			continue
		}
		v = logindUnescape(v)
		switch k {
		case "USER", "NAME":
			s.user = v
		case "TTY":
			s.tty = strings.TrimPrefix(v, "/dev/")
		case "DISPLAY":
			s.display = v
		case "REMOTE_HOST":
			s.remoteHost = v
		case "REMOTE":
			s.remote = v == "1" || v == "yes" || v == "true"
		case "SERVICE":
			s.service = v
		case "TYPE":
			s.typ = v
		case "CLASS":
			s.class = v
		case "STATE":
			s.state = v
		case "SEAT":
			s.seat = v
		case "REALTIME":
			us, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				warn("%s:%d: bad REALTIME %q", file, n, v)
				continue
			}
			s.realtime = us
		}
	}
	return s
}

// logindUnescape undoes the C escapes (cescape) that logind writes some
// values with; a value that does not unescape is taken as it stands.
func logindUnescape(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	if u, err := strconv.Unquote(`"` + v + `"`); err == nil {
		return u
	}
	return v
}

// session turns a logind session into a wire session. It reports false for
// what is not a person logged on: greeters, lock screens, cron and other
// background sessions, the per-user service manager, sessions closing after
// their user logged out.
func (s logindSession) session() (wire.Session, bool) {
	if s.user == "" || s.state == "closing" {
		return wire.Session{}, false
	}
	switch s.class {
	case "", "user", "user-early", "user-incomplete", "user-light":
	default:
		return wire.Session{}, false
	}
	w := wire.Session{User: s.user, ID: s.tty, Remote: s.remoteHost, Started: s.realtime / 1e6}
	if w.ID == "" {
		w.ID = s.display
	}
	if w.ID == "" {
		w.ID = "session-" + s.id
	}
	switch {
	case strings.HasPrefix(s.service, "sshd"):
		w.Kind = "ssh"
	case strings.Contains(s.service, "xrdp"):
		w.Kind = "rdp"
	case s.tty != "" && ttyKind(s.tty, s.remoteHost) != "":
		w.Kind = ttyKind(s.tty, s.remoteHost)
	case s.display != "" && ttyKind(s.display, "") != "":
		w.Kind = ttyKind(s.display, "")
	case s.remote:
		w.Kind = "remote"
	case s.seat != "":
		w.Kind = "console"
	case s.typ != "unspecified":
		w.Kind = s.typ
	}
	return w, true
}

// mergeSessions adds to the utmp sessions those logind knows that utmp does
// not. A logind session is utmp's when both name the same user on the same
// terminal or display; it then fills in what the utmp record lacks.
func mergeSessions(utmp, logind []wire.Session) []wire.Session {
	out := slices.Clone(utmp)
	at := make(map[[2]string]int, len(utmp))
	for i, s := range utmp {
		at[[2]string{s.User, s.ID}] = i
	}
	for _, l := range logind {
		i, ok := at[[2]string{l.User, l.ID}]
		if !ok {
			at[[2]string{l.User, l.ID}] = len(out)
			out = append(out, l)
			continue
		}
		s := &out[i]
		if s.Kind == "" || s.Kind == "terminal" && l.Kind != "" {
			s.Kind = l.Kind
		}
		if s.Remote == "" {
			s.Remote = l.Remote
		}
		if s.Started == 0 {
			s.Started = l.Started
		}
	}
	return out
}
