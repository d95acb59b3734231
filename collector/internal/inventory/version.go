package inventory

import (
	"strings"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Package sources, as wire.Package.Source names them.
const (
	SourceDpkg    = "dpkg"
	SourceRPM     = "rpm"
	SourceWindows = "windows"
)

// CompareVersions orders two versions of a package from source by that
// source's own rules: Debian policy for dpkg, rpm's own for rpm
// ([epoch:]version[-release]), dotted numbers for Windows and any other
// source. It returns -1, 0 or +1.
func CompareVersions(source, a, b string) int {
	switch source {
	case SourceDpkg:
		return CompareDebian(a, b)
	case SourceRPM:
		return CompareRPM(a, b)
	default:
		return CompareDotted(a, b)
	}
}

// Below reports whether p's version is lower than max by p's own version
// ordering.
func Below(p wire.Package, max string) bool {
	return CompareVersions(p.Source, p.Version, max) < 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// compareDigits compares two runs of decimal digits as numbers of any length.
func compareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// CompareDebian compares two Debian package versions,
// [epoch:]upstream_version[-debian_revision], as dpkg does (Debian Policy
// 5.6.12): epochs numerically, then upstream version and revision part by
// part, where a tilde sorts before anything, even the end of the string, and
// letters sort before other characters. A version that breaks the syntax (a
// non-numeric epoch) is compared as well as it can be, never refused.
func CompareDebian(a, b string) int {
	ea, ua, ra := splitDebian(a)
	eb, ub, rb := splitDebian(b)
	if c := compareDigits(ea, eb); c != 0 {
		return c
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

// splitDebian splits a Debian version into epoch ("0" when absent),
// upstream version and revision ("" when absent).
func splitDebian(v string) (epoch, upstream, revision string) {
	v = strings.TrimSpace(v)
	epoch = "0"
	if e, rest, ok := strings.Cut(v, ":"); ok && allDigits(e) {
		epoch, v = e, rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// debOrder is the weight of a character in a non-digit part: the end of the
// string and digits weigh 0, a tilde less, letters their code, anything else
// its code plus 256.
func debOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

// verrevcmp is dpkg's comparison of an upstream version or a revision:
// alternating non-digit parts, compared by debOrder character by character,
// and digit parts, compared numerically.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := debOrder(a, i), debOrder(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		si := i
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		sj := j
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareDigits(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}

// CompareRPM compares two rpm versions written [epoch:]version[-release], as
// rpm's rpm.vercmp does: epochs (0 when absent) numerically, then versions
// with rpmvercmp, then releases with rpmvercmp, where a version without a
// release sorts below the same version with any release.
func CompareRPM(a, b string) int {
	ea, va, ra, hasA := splitRPM(a)
	eb, vb, rb, hasB := splitRPM(b)
	if c := compareDigits(ea, eb); c != 0 {
		return c
	}
	if c := RPMVerCmp(va, vb); c != 0 {
		return c
	}
	switch {
	case hasA && hasB:
		return RPMVerCmp(ra, rb)
	case hasA:
		return 1
	case hasB:
		return -1
	}
	return 0
}

// splitRPM splits [epoch:]version[-release]; the release follows the last
// hyphen, and hasRelease reports whether there is one (even empty).
func splitRPM(v string) (epoch, version, release string, hasRelease bool) {
	v = strings.TrimSpace(v)
	epoch = "0"
	if e, rest, ok := strings.Cut(v, ":"); ok && allDigits(e) {
		epoch, v = e, rest
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:], true
	}
	return epoch, v, "", false
}

// RPMVerCmp is rpm's rpmvercmp on one version or release string: runs of
// digits and runs of ASCII letters are compared in turn (numbers as numbers,
// a number beating letters), other characters only separate them; a tilde
// sorts before everything, even the end of the string, and a caret after the
// end of the string but before anything else.
func RPMVerCmp(a, b string) int {
	if a == b {
		return 0
	}
	sep := func(c byte) bool { return !isDigit(c) && !isAlpha(c) && c != '~' && c != '^' }
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && sep(a[i]) {
			i++
		}
		for j < len(b) && sep(b[j]) {
			j++
		}
		// Tilde: before everything else.
		ta, tb := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			i++
			j++
			continue
		}
		// Caret: like a tilde, except that the end of the other string (a
		// base version) sorts lower.
		ca, cb := i < len(a) && a[i] == '^', j < len(b) && b[j] == '^'
		if ca || cb {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ca {
				return 1
			}
			if !cb {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		num := isDigit(a[i])
		if num {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		if sj == j {
			// Segments of different types: a number is newer than letters.
			if num {
				return 1
			}
			return -1
		}
		var c int
		if num {
			c = compareDigits(a[si:i], b[sj:j])
		} else {
			c = strings.Compare(a[si:i], b[sj:j])
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	default:
		return 1
	}
}

// CompareDotted compares versions such as Windows writes them, 10.0.19041.1
// or 3.2.1 beta: parts split at dots are compared in turn, each by its leading
// number and then by the text after it (no text sorts first); missing parts
// count as 0, so 1.2 equals 1.2.0. Case is ignored.
func CompareDotted(a, b string) int {
	pa := strings.Split(strings.ToLower(strings.TrimSpace(a)), ".")
	pb := strings.Split(strings.ToLower(strings.TrimSpace(b)), ".")
	for k := range max(len(pa), len(pb)) {
		x, y := "0", "0"
		if k < len(pa) {
			x = pa[k]
		}
		if k < len(pb) {
			y = pb[k]
		}
		nx, rx := leadingDigits(x)
		ny, ry := leadingDigits(y)
		if c := compareDigits(nx, ny); c != 0 {
			return c
		}
		if c := strings.Compare(strings.TrimSpace(rx), strings.TrimSpace(ry)); c != 0 {
			return c
		}
	}
	return 0
}

// leadingDigits splits s into its leading run of digits and the rest.
func leadingDigits(s string) (num, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
