package inventory

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// The account files, named as the machine sees them; they are read below a
// root ("/" except in tests).
const (
	passwdFile    = "/etc/passwd"
	groupFile     = "/etc/group"
	shadowFile    = "/etc/shadow"
	loginDefsFile = "/etc/login.defs"
)

// defaultUIDMin is the first uid of a person's account when etc/login.defs
// does not say (shadow-utils' default).
const defaultUIDMin = 1000

// adminGroups are the groups whose members may become root: sudo on Debian
// and Ubuntu, wheel on Red Hat, SUSE and Arch, admin on Ubuntu before 12.04.
var adminGroups = []string{"sudo", "wheel", "admin"}

func fillUsers(_ context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	users, err := etcUsers("/", time.Now(), warn)
	inv.Users = users
	return err
}

func fillGroups(_ context.Context, inv *wire.Inventory, warn func(string, ...any)) error {
	groups, err := etcGroups("/", warn)
	inv.Groups = groups
	return err
}

// etcUser is a line of etc/passwd.
type etcUser struct {
	name, password string
	uid, gid       uint32
	gecos          string
	home, shell    string
}

// etcGroup is a line of etc/group.
type etcGroup struct {
	name    string
	gid     uint32
	members []string // supplementary members, as listed
}

// shadowEntry is what a line of etc/shadow says about an account's state.
type shadowEntry struct {
	password string
	expire   int64 // day (since 1970-01-01) after which the account is expired; -1 never
}

// etcUsers returns the accounts of etc/passwd below root. Lines that cannot
// be read are reported through warn, with their file and line, and skipped;
// etc/group only serves to tell administrators here, its problems are the
// groups section's to report.
func etcUsers(root string, now time.Time, warn func(string, ...any)) ([]wire.User, error) {
	passwd, err := readPasswd(root, warn)
	if len(passwd) == 0 && err != nil {
		return nil, err
	}
	groups, _ := readGroup(root, func(string, ...any) {})
	shadow := readShadow(root, warn)
	uidMin := readUIDMin(root, warn)

	adminGIDs := map[uint32]bool{}
	adminNames := map[string]bool{}
	for _, g := range groups {
		if slices.Contains(adminGroups, g.name) {
			adminGIDs[g.gid] = true
			for _, m := range g.members {
				adminNames[m] = true
			}
		}
	}
	today := now.Unix() / (24 * 60 * 60)
	users := make([]wire.User, 0, len(passwd))
	for _, p := range passwd {
		pw, expire := p.password, int64(-1)
		if s, ok := shadow[p.name]; ok {
			pw, expire = s.password, s.expire
		}
		full, _, _ := strings.Cut(p.gecos, ",")
		users = append(users, wire.User{
			Name:     p.name,
			ID:       strconv.FormatUint(uint64(p.uid), 10),
			FullName: full,
			Home:     p.home,
			Shell:    p.shell,
			Disabled: accountDisabled(pw, expire, today),
			System:   p.uid < uidMin || noLoginShell(p.shell),
			Admin:    p.uid == 0 || adminGIDs[p.gid] || adminNames[p.name],
		})
	}
	return users, err
}

// accountDisabled reports whether an account with the password field pw and
// the expiry day expire cannot log in on day today. A "!" prefix is how
// passwd -l and usermod -L lock an account (and how useradd leaves one without
// a password); "*" only means that no password matches — the account may
// still log in with a key — so it does not count. An expiry day counts as
// OpenSSH counts it: expired once today is past it.
func accountDisabled(pw string, expire, today int64) bool {
	return strings.HasPrefix(pw, "!") || expire >= 0 && today > expire
}

// noLoginShell reports whether shell refuses interactive logins.
func noLoginShell(shell string) bool {
	switch path.Base(shell) {
	case "nologin", "false":
		return true
	}
	return false
}

// etcGroups returns the groups of etc/group below root, each with its
// supplementary members and the users whose primary group it is.
func etcGroups(root string, warn func(string, ...any)) ([]wire.Group, error) {
	groups, err := readGroup(root, warn)
	if len(groups) == 0 && err != nil {
		return nil, err
	}
	passwd, _ := readPasswd(root, func(string, ...any) {})
	primary := map[uint32][]string{}
	for _, u := range passwd {
		primary[u.gid] = append(primary[u.gid], u.name)
	}
	out := make([]wire.Group, 0, len(groups))
	for _, g := range groups {
		var members []string
		for _, m := range slices.Concat(g.members, primary[g.gid]) {
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
		out = append(out, wire.Group{Name: g.name, ID: strconv.FormatUint(uint64(g.gid), 10), Members: members})
	}
	return out, err
}

// readPasswd parses etc/passwd: name:password:uid:gid:gecos:home:shell.
func readPasswd(root string, warn func(string, ...any)) ([]etcUser, error) {
	var users []etcUser
	err := etcLines(root, passwdFile, func(n int, line string) {
		f := strings.Split(line, ":")
		if len(f) != 7 {
			warn("%s:%d: %d fields, want 7", passwdFile, n, len(f))
			return
		}
		if f[0] == "" {
			warn("%s:%d: empty user name", passwdFile, n)
			return
		}
		uid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			warn("%s:%d: user %s: bad uid %q", passwdFile, n, f[0], f[2])
			return
		}
		gid, err := strconv.ParseUint(f[3], 10, 32)
		if err != nil {
			warn("%s:%d: user %s: bad gid %q", passwdFile, n, f[0], f[3])
			return
		}
		users = append(users, etcUser{name: f[0], password: f[1], uid: uint32(uid), gid: uint32(gid),
			gecos: f[4], home: f[5], shell: f[6]})
	})
	return users, err
}

// readGroup parses etc/group: name:password:gid:member,member….
func readGroup(root string, warn func(string, ...any)) ([]etcGroup, error) {
	var groups []etcGroup
	err := etcLines(root, groupFile, func(n int, line string) {
		f := strings.Split(line, ":")
		if len(f) != 4 {
			warn("%s:%d: %d fields, want 4", groupFile, n, len(f))
			return
		}
		if f[0] == "" {
			warn("%s:%d: empty group name", groupFile, n)
			return
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			warn("%s:%d: group %s: bad gid %q", groupFile, n, f[0], f[2])
			return
		}
		var members []string
		for m := range strings.SplitSeq(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		groups = append(groups, etcGroup{name: f[0], gid: uint32(gid), members: members})
	})
	return groups, err
}

// readShadow parses etc/shadow:
// name:password:lastchange:min:max:warn:inactive:expire:reserved. It returns
// nil when the file is missing or unreadable — it is readable by root only, and
// without it no account counts as disabled.
func readShadow(root string, warn func(string, ...any)) map[string]shadowEntry {
	out := map[string]shadowEntry{}
	err := etcLines(root, shadowFile, func(n int, line string) {
		f := strings.Split(line, ":")
		if len(f) != 9 {
			warn("%s:%d: %d fields, want 9", shadowFile, n, len(f))
			return
		}
		e := shadowEntry{password: f[1], expire: -1}
		if f[7] != "" {
			d, err := strconv.ParseInt(f[7], 10, 64)
			if err != nil {
				warn("%s:%d: user %s: bad expiry day %q", shadowFile, n, f[0], f[7])
			} else {
				e.expire = d
			}
		}
		out[f[0]] = e
	})
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return nil
	case err != nil:
		warn("%v", err)
	}
	return out
}

// readUIDMin returns UID_MIN from etc/login.defs, the first uid given to a
// person's account.
func readUIDMin(root string, warn func(string, ...any)) uint32 {
	uidMin := uint32(defaultUIDMin)
	err := etcLines(root, loginDefsFile, func(n int, line string) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "UID_MIN" {
			return
		}
		// shadow-utils reads numbers with strtoul(…, 0): 0x and 0 prefixes.
		v, err := strconv.ParseUint(f[1], 0, 32)
		if err != nil {
			warn("%s:%d: bad UID_MIN %q", loginDefsFile, n, f[1])
			return
		}
		uidMin = uint32(v)
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		warn("%v", err)
	}
	return uidMin
}

// etcLines calls fn with each line of the file name below root that holds an
// entry, and the line's number. Blank lines, comments and NIS compat entries
// ("+" and "-" lines) are skipped.
func etcLines(root, name string, fn func(n int, line string)) error {
	f, err := os.Open(filepath.Join(root, name))
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20) // a big group's member list is one line
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' || t[0] == '+' || t[0] == '-' {
			continue
		}
		fn(n, line)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s after line %d: %w", name, n, err)
	}
	return nil
}
