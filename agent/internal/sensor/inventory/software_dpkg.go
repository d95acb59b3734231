package inventory

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// dpkgDB is a dpkg database: its admin directory, /var/lib/dpkg on a machine.
// It is read directly rather than through dpkg-query, which is many times
// slower and absent from distroless images.
type dpkgDB struct {
	admin string
}

// packages returns the packages dpkg holds as installed, as dpkg-query would
// list them with ${db:Status-Status} "installed" (which includes held ones):
// from admin/status, overridden by the journal in admin/updates that dpkg has
// not folded into status yet, plus the stanzas of admin/status.d (distroless
// images, which have no status file and whose stanzas may lack a Status).
// A corrupt stanza is reported through warn with its file and line and left
// out (a version dpkg only warns about is reported and kept); an error means a file could not be read, and the packages read until
// then are returned with it. A machine without dpkg has no packages.
func (d dpkgDB) packages(ctx context.Context, warn func(string, ...any)) ([]wire.Package, error) {
	p := &dpkgParser{warn: warn, strs: make(map[string]string, 64)}
	if fi, err := os.Stat(filepath.Join(d.admin, "info")); err == nil && fi.IsDir() {
		p.infoDir = filepath.Join(d.admin, "info")
	}
	var errs []error

	// The journal: each file holds stanzas newer than status's.
	updates, err := d.updates(p)
	if err != nil {
		errs = append(errs, err)
	}

	var out []wire.Package
	status := filepath.Join(d.admin, "status")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(status)
	switch {
	case err == nil:
		if fi, err := f.Stat(); err == nil {
			// 850 to 1000 bytes a stanza on Debian and Ubuntu.
			out = make([]wire.Package, 0, fi.Size()/800+16)
		}
		p.file, p.statusD = status, false
		err = p.parse(f, func(pkg wire.Package, installed bool) {
			if updates != nil {
				if _, ok := updates[pkg.Name+":"+pkg.Arch]; ok {
					return
				}
			}
			if installed {
				out = append(out, pkg)
			}
		})
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", status, err))
		}
	case !errors.Is(err, fs.ErrNotExist):
		errs = append(errs, err)
	}
	for _, pkg := range updates {
		if pkg != nil {
			out = append(out, *pkg)
		}
	}

	dir := filepath.Join(d.admin, "status.d")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range ents {
		// Distroless keeps each package's md5sums beside its stanza.
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), ".md5sums") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		name := filepath.Join(dir, e.Name())
		f, err := os.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.file, p.statusD = name, true
		err = p.parse(f, func(pkg wire.Package, installed bool) {
			if installed {
				out = append(out, pkg)
			}
		})
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
		}
	}
	return out, errors.Join(errs...)
}

// updates reads dpkg's journal, admin/updates/<number>, oldest first, and
// returns the last word of each on each package by "name:arch": the package
// when installed, nil when not. It is nil when the journal is empty, as it is
// whenever dpkg is not running.
func (d dpkgDB) updates(p *dpkgParser) (map[string]*wire.Package, error) {
	dir := filepath.Join(d.admin, "updates")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]*wire.Package
	var errs []error
	for _, e := range ents { // ReadDir sorts by name; the names are zero-padded numbers.
		if !e.Type().IsRegular() || strings.Trim(e.Name(), "0123456789") != "" {
			continue
		}
		name := filepath.Join(dir, e.Name())
		f, err := os.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.file, p.statusD = name, false
		p.all = true
		err = p.parse(f, func(pkg wire.Package, installed bool) {
			if m == nil {
				m = make(map[string]*wire.Package)
			}
			var v *wire.Package
			if installed {
				v = &pkg
			}
			m[pkg.Name+":"+pkg.Arch] = v
		})
		p.all = false
		f.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
		}
	}
	return m, errors.Join(errs...)
}

// dpkgParser reads the stanzas of dpkg status files (deb822 paragraphs:
// "Name: value" fields, continuation lines starting with a space or tab,
// stanzas separated by an empty line) one line at a time, keeping only the
// few fields it needs, so that a status file of thousands of packages costs a
// few allocations per installed package.
type dpkgParser struct {
	file    string
	statusD bool   // stanzas without a Status field are installed
	all     bool   // also emit stanzas of packages not installed
	infoDir string // admin/info, "" when absent: no install dates
	warn    func(string, ...any)
	strs    map[string]string // interned architectures and maintainers

	line int // current line, from 1
	// The stanza being read.
	in                     bool
	start                  int    // line of its first field
	bad                    int    // line of its first problem, 0 when none
	problem                string // that problem
	seen                   uint8  // dpkgField* bits
	pkg, ver, arch, status []byte
	maint, multiArch       []byte
	verLine, statusLine    int

	long []byte // a line longer than the reader's buffer
	path []byte // scratch for info file names
}

const (
	dpkgFieldPackage = 1 << iota
	dpkgFieldVersion
	dpkgFieldArch
	dpkgFieldStatus
	dpkgFieldMaint
	dpkgFieldMultiArch
)

// parse reads r and calls emit for each stanza of an installed package, and,
// with p.all, of one not installed.
func (p *dpkgParser) parse(r io.Reader, emit func(pkg wire.Package, installed bool)) error {
	p.line = 0
	p.reset()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			p.long = append(p.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				p.long = append(p.long, line...)
			}
			line = p.long
		}
		if len(line) > 0 {
			p.line++
			p.feed(bytes.TrimSuffix(line, []byte{'\n'}), emit)
		}
		if err == io.EOF {
			p.end(emit)
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// feed takes one line, without its newline.
func (p *dpkgParser) feed(line []byte, emit func(wire.Package, bool)) {
	if len(line) == 0 {
		p.end(emit)
		return
	}
	if line[0] == ' ' || line[0] == '\t' {
		switch {
		case p.in:
			// A continuation: none of the fields kept spans lines.
		case len(bytes.TrimLeft(line, " \t")) == 0:
			// Blank lines between stanzas, as dpkg skips them.
		default:
			p.in, p.start = true, p.line
			p.fail("continuation line outside a field")
		}
		return
	}
	if !p.in {
		p.in, p.start = true, p.line
	}
	i := bytes.IndexByte(line, ':')
	if i <= 0 || !dpkgFieldName(line[:i]) {
		p.fail("not a field (want \"Name: value\")")
		return
	}
	name, val := line[:i], bytes.Trim(line[i+1:], " \t")
	var bit uint8
	var dst *[]byte
	switch len(name) {
	case 6:
		if bytes.EqualFold(name, []byte("Status")) {
			bit, dst, p.statusLine = dpkgFieldStatus, &p.status, p.line
		}
	case 7:
		switch {
		case bytes.EqualFold(name, []byte("Package")):
			bit, dst = dpkgFieldPackage, &p.pkg
		case bytes.EqualFold(name, []byte("Version")):
			bit, dst, p.verLine = dpkgFieldVersion, &p.ver, p.line
		}
	case 10:
		switch {
		case bytes.EqualFold(name, []byte("Maintainer")):
			bit, dst = dpkgFieldMaint, &p.maint
		case bytes.EqualFold(name, []byte("Multi-Arch")):
			bit, dst = dpkgFieldMultiArch, &p.multiArch
		}
	case 12:
		if bytes.EqualFold(name, []byte("Architecture")) {
			bit, dst = dpkgFieldArch, &p.arch
		}
	}
	if dst == nil {
		return
	}
	if p.seen&bit != 0 {
		p.fail("duplicate " + string(name) + " field")
		return
	}
	p.seen |= bit
	*dst = append((*dst)[:0], val...)
}

// fail records the stanza's first problem at the current line.
func (p *dpkgParser) fail(problem string) {
	if p.bad == 0 {
		p.bad, p.problem = p.line, problem
	}
}

// dpkgFieldName reports whether b is a deb822 field name: printable ASCII
// without space or colon, not starting with '#' or '-'.
func dpkgFieldName(b []byte) bool {
	if b[0] == '#' || b[0] == '-' {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

func (p *dpkgParser) reset() {
	p.in, p.start, p.bad, p.problem, p.seen = false, 0, 0, "", 0
	p.pkg, p.ver, p.arch, p.status = p.pkg[:0], p.ver[:0], p.arch[:0], p.status[:0]
	p.maint, p.multiArch = p.maint[:0], p.multiArch[:0]
}

// end closes the stanza being read: it is checked, and emitted when it is
// sound and installed.
func (p *dpkgParser) end(emit func(wire.Package, bool)) {
	if !p.in {
		return
	}
	defer p.reset()
	if p.bad != 0 {
		p.warn("%s:%d: %s; stanza skipped", p.file, p.bad, p.problem)
		return
	}
	if len(p.pkg) == 0 {
		p.warn("%s:%d: stanza without a Package name; skipped", p.file, p.start)
		return
	}
	if p.seen&dpkgFieldVersion != 0 {
		if problem, hard := dpkgVersionProblem(p.ver); problem != "" {
			// dpkg itself refuses the hard problems and only warns about
			// the others, keeping the package: so do we.
			if hard {
				p.warn("%s:%d: package %s: %s in version %q; skipped", p.file, p.verLine, string(p.pkg), problem, string(p.ver))
				return
			}
			p.warn("%s:%d: package %s: %s in version %q", p.file, p.verLine, string(p.pkg), problem, string(p.ver))
		}
	}
	installed := p.statusD
	if p.seen&dpkgFieldStatus != 0 {
		state, ok := dpkgState(p.status)
		if !ok {
			p.warn("%s:%d: package %s: malformed Status %q; skipped", p.file, p.statusLine, string(p.pkg), string(p.status))
			return
		}
		installed = state == "installed"
	} else if !p.statusD {
		p.warn("%s:%d: package %s has no Status field; skipped", p.file, p.start, string(p.pkg))
		return
	}
	if !installed && !p.all {
		return
	}
	if installed && len(p.ver) == 0 {
		p.warn("%s:%d: package %s is installed but has no Version; skipped", p.file, p.start, string(p.pkg))
		return
	}
	pkg := wire.Package{Name: string(p.pkg), Arch: p.intern(p.arch), Source: "dpkg"}
	if installed {
		pkg.Version = string(p.ver)
		pkg.Publisher = p.intern(p.maint)
		pkg.InstallDate = p.installDate(pkg.Name, pkg.Arch)
	}
	emit(pkg, installed)
}

// intern returns b as a string, the same string for the same bytes.
func (p *dpkgParser) intern(b []byte) string {
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	p.strs[s] = s
	return s
}

// installDate returns when the package was last installed or upgraded: the
// modification time of its file list, info/<name>.list, or
// info/<name>:<arch>.list for a Multi-Arch: same package; 0 when there is
// none.
func (p *dpkgParser) installDate(name, arch string) int64 {
	if p.infoDir == "" {
		return 0
	}
	same := bytes.Equal(p.multiArch, []byte("same"))
	for range 2 {
		p.path = append(append(append(p.path[:0], p.infoDir...), os.PathSeparator), name...)
		if same {
			p.path = append(append(p.path, ':'), arch...)
		}
		p.path = append(p.path, ".list"...)
		if fi, err := os.Stat(string(p.path)); err == nil {
			return fi.ModTime().Unix()
		}
		same = !same
	}
	return 0
}

// dpkgStates are the package states a Status field may end in.
var dpkgStates = []string{"not-installed", "config-files", "half-installed", "unpacked", "half-configured",
	"triggers-awaited", "triggers-pending", "installed"}

// dpkgState returns the package state, the last of the Status field's three
// words ("install ok installed", "hold ok installed", "deinstall ok
// config-files"), and whether the field is well formed.
func dpkgState(status []byte) (string, bool) {
	want, rest, ok1 := bytes.Cut(status, []byte{' '})
	eflag, state, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 {
		return "", false
	}
	switch string(want) {
	case "unknown", "install", "hold", "deinstall", "purge":
	default:
		return "", false
	}
	switch string(eflag) {
	case "ok", "reinstreq":
	default:
		return "", false
	}
	if i := slices.Index(dpkgStates, string(state)); i >= 0 {
		return dpkgStates[i], true
	}
	return "", false
}

// dpkgVersionProblem returns what is wrong with the Debian version v
// ([epoch:]upstream[-revision]), "" when nothing is; hard reports whether dpkg
// rejects such a version rather than only warning about it.
func dpkgVersionProblem(v []byte) (problem string, hard bool) {
	if len(v) == 0 {
		return "empty version", true
	}
	if bytes.ContainsAny(v, " \t") {
		return "embedded space", true
	}
	upstream := v
	if epoch, rest, ok := bytes.Cut(v, []byte{':'}); ok {
		if len(epoch) == 0 {
			return "empty epoch", true
		}
		n := 0
		for _, c := range epoch {
			if c < '0' || c > '9' {
				return "epoch not a number", true
			}
			if n = n*10 + int(c-'0'); n > math.MaxInt32 {
				return "epoch too big", true
			}
		}
		upstream = rest
	}
	var revision []byte
	if i := bytes.LastIndexByte(upstream, '-'); i >= 0 {
		upstream, revision = upstream[:i], upstream[i+1:]
		if len(revision) == 0 {
			return "empty revision", true
		}
	}
	if len(upstream) == 0 {
		return "empty upstream version", true
	}
	if upstream[0] < '0' || upstream[0] > '9' {
		return "upstream version not starting with a digit", false
	}
	for _, c := range upstream {
		if !isAlnum(c) && !strings.ContainsRune(".-+~:", rune(c)) {
			return "invalid character", false
		}
	}
	for _, c := range revision {
		if !isAlnum(c) && !strings.ContainsRune(".+~", rune(c)) {
			return "invalid character in revision", false
		}
	}
	return "", false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
