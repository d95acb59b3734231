package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// RPM databases come in three formats: BerkeleyDB (Packages; RHEL 7 and 8,
// Amazon Linux 2), NDB (Packages.db; SUSE since 15 SP3) and SQLite
// (rpmdb.sqlite; Fedora 33+, RHEL 9, Amazon Linux 2023). The agent does not
// read them itself: it runs rpm -qa with a query format. The machine's own rpm
// reads whichever format the machine has, in every version it supports,
// including formats yet to come; and reading SQLite ourselves would link a
// SQL driver into the agent, which it must not carry.

// rpmTimeout bounds one rpm run; a database locked by a stuck transaction must
// not stall the inventory.
const rpmTimeout = time.Minute

// rpmQueryFormat prints one record per package: name, epoch, version, release,
// architecture, vendor and install time (Unix seconds), split by the ASCII
// unit separator and ended by the record separator, bytes that no tag value
// holds. A tag without a value prints "(none)".
const rpmQueryFormat = "%{NAME}\x1f%{EPOCH}\x1f%{VERSION}\x1f%{RELEASE}\x1f%{ARCH}\x1f%{VENDOR}\x1f%{INSTALLTIME}\x1e"

// rpmDBDirs are where RPM databases live, newest location first: rpm 4.16+
// distributions moved it to /usr/lib/sysimage/rpm and left /var/lib/rpm as a
// symbolic link to it.
var rpmDBDirs = []string{"usr/lib/sysimage/rpm", "var/lib/rpm"}

// rpmDBFiles name a database in each format: SQLite, NDB, BerkeleyDB.
var rpmDBFiles = []string{"rpmdb.sqlite", "Packages.db", "Packages"}

// findRPMDB returns the directory below root that holds an RPM database, ""
// when there is none. Running rpm without one is not harmless: where rpm's
// default database path points elsewhere (Debian's rpm uses ~/.rpmdb), rpm
// -qa creates an empty database there.
func findRPMDB(root string) string {
	for _, d := range rpmDBDirs {
		dir := filepath.Join(root, d)
		for _, f := range rpmDBFiles {
			if fi, err := os.Stat(filepath.Join(dir, f)); err == nil && fi.Mode().IsRegular() {
				return dir
			}
		}
	}
	return ""
}

// rpmDB is an RPM database, read by running rpm.
type rpmDB struct {
	bin    string // the rpm program
	dbpath string // the database directory
	// backend names the database format (sqlite, ndb, bdb_ro) for rpm to
	// expect; "" leaves it to rpm's configuration, which finds the machine's
	// own database. Tests set it to read another machine's.
	backend string
}

// packages runs rpm -qa and returns the packages it lists, the gpg-pubkey
// entries of imported signing keys included, as rpm -qa counts them.
func (d rpmDB) packages(ctx context.Context, warn func(string, ...any)) ([]wire.Package, error) {
	ctx, cancel := context.WithTimeout(ctx, rpmTimeout)
	defer cancel()
	args := []string{"--dbpath", d.dbpath}
	if d.backend != "" {
		args = append(args, "--define", "_db_backend "+d.backend)
	}
	args = append(args, "-qa", "--queryformat", rpmQueryFormat)
	cmd := exec.CommandContext(ctx, d.bin, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		if msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n"); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("run rpm -qa on %s: %w", d.dbpath, err)
	}
	// rpm warns on stderr and still lists (an old BerkeleyDB without its
	// index files, say): the list is what counts.
	return parseRPMQuery(out, "rpm -qa", warn), nil
}

// parseRPMQuery turns the output of rpm -qa --queryformat rpmQueryFormat into
// packages. A record without the seven fields is reported through warn, named
// by what and its number, and left out.
func parseRPMQuery(out []byte, what string, warn func(string, ...any)) []wire.Package {
	pkgs := make([]wire.Package, 0, bytes.Count(out, []byte{0x1e}))
	var f [7][]byte
	for n := 1; len(out) > 0; n++ {
		rec, rest, _ := bytes.Cut(out, []byte{0x1e})
		out = rest
		i := 0
		for field := range bytes.SplitSeq(rec, []byte{0x1f}) {
			if i < len(f) {
				f[i] = field
			}
			i++
		}
		if i != len(f) {
			warn("%s: record %d: %d fields, want %d; skipped", what, n, i, len(f))
			continue
		}
		if len(f[0]) == 0 {
			warn("%s: record %d: no package name; skipped", what, n)
			continue
		}
		name, epoch, version, release, arch, vendor, installed := f[0], rpmTag(f[1]), f[2], f[3], rpmTag(f[4]), rpmTag(f[5]), rpmTag(f[6])
		v := make([]byte, 0, len(epoch)+1+len(version)+1+len(release))
		if len(epoch) > 0 {
			v = append(append(v, epoch...), ':')
		}
		v = append(v, version...)
		if r := rpmTag(release); len(r) > 0 {
			v = append(append(v, '-'), r...)
		}
		p := wire.Package{Name: string(name), Version: string(v), Arch: string(arch), Source: "rpm", Publisher: string(vendor)}
		if len(installed) > 0 {
			t, err := strconv.ParseInt(string(installed), 10, 64)
			if err != nil {
				warn("%s: record %d: package %s: install time %q is not a number", what, n, name, installed)
			}
			p.InstallDate = t
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rpmTag returns a tag value, empty when rpm printed "(none)" for a tag the
// package lacks.
func rpmTag(b []byte) []byte {
	if bytes.Equal(b, []byte("(none)")) {
		return nil
	}
	return b
}

// rpmPackages lists the packages of the RPM database below root, if there is
// one, with the rpm program found in PATH. A machine without an RPM database
// has no RPM packages, whether or not rpm is installed; one with a database
// but without rpm is a problem, said through warn.
func rpmPackages(ctx context.Context, root string, warn func(string, ...any)) ([]wire.Package, error) {
	dir := findRPMDB(root)
	if dir == "" {
		return nil, nil
	}
	bin, err := exec.LookPath("rpm")
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		warn("RPM database in %s but no rpm program to read it: RPM packages not collected", dir)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find rpm: %w", err)
	}
	return rpmDB{bin: bin, dbpath: dir}.packages(ctx, warn)
}
