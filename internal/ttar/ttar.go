// Package ttar unpacks ttar archives, the plain-text archives in which the
// prometheus projects keep their /proc and /sys fixture trees, for tests of
// code that reads sysfs. It is test support only: no binary imports it.
package ttar

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Unpack unpacks a ttar archive, the plain-text archive the prometheus
// projects keep their sysfs fixtures in, into dst. Each entry is
//
//	Directory: path        then Mode: 755
//	Path: path             then Lines: N, N lines of content, Mode: 644
//	Path: path             then SymlinkTo: target
//
// with "# …" lines between entries. In content, NULLBYTE stands for a NUL
// byte, and a last line ending in EOF means the file has no final newline.
// rename maps each archive path to one below dst, or drops it ("").
func Unpack(t testing.TB, archive, dst string, rename func(string) string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	line := 0
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		line++
		return sc.Text(), true
	}
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s:%d: "+format, append([]any{archive, line}, args...)...)
	}
	target := func(p string) string {
		if p = rename(p); p == "" {
			return ""
		}
		return filepath.Join(dst, filepath.FromSlash(p))
	}
	for {
		l, ok := next()
		if !ok {
			break
		}
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "Mode: "):
		case strings.HasPrefix(l, "Directory: "):
			if p := target(strings.TrimPrefix(l, "Directory: ")); p != "" {
				if err := os.MkdirAll(p, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		case strings.HasPrefix(l, "Path: "):
			p := target(strings.TrimPrefix(l, "Path: "))
			kind, ok := next()
			if !ok {
				fail("entry ends early")
			}
			switch {
			case strings.HasPrefix(kind, "SymlinkTo: "):
				if p != "" {
					mkParent(t, p)
					if err := os.Symlink(strings.TrimPrefix(kind, "SymlinkTo: "), p); err != nil {
						t.Fatal(err)
					}
				}
			case strings.HasPrefix(kind, "Lines: "):
				n, err := strconv.Atoi(strings.TrimPrefix(kind, "Lines: "))
				if err != nil || n < 0 {
					fail("bad %q", kind)
				}
				var b strings.Builder
				for i := range n {
					c, ok := next()
					if !ok {
						fail("file ends within %d lines", n)
					}
					c = strings.ReplaceAll(c, "NULLBYTE", "\x00")
					if i == n-1 && strings.HasSuffix(c, "EOF") {
						b.WriteString(strings.TrimSuffix(c, "EOF"))
					} else {
						b.WriteString(c + "\n")
					}
				}
				mode, _ := next()
				perm := os.FileMode(0o644)
				if m, ok := strings.CutPrefix(mode, "Mode: "); ok {
					if v, err := strconv.ParseUint(m, 8, 32); err == nil {
						perm = os.FileMode(v)
					}
				} else {
					fail("want Mode after the content, got %q", mode)
				}
				if p != "" {
					mkParent(t, p)
					if err := os.WriteFile(p, []byte(b.String()), perm); err != nil {
						t.Fatal(err)
					}
				}
			default:
				fail("want Lines or SymlinkTo, got %q", kind)
			}
		default:
			fail("unexpected %q", l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func mkParent(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Strip returns a rename for Unpack that keeps the paths below
// from (with the slash) and puts them below to.
func Strip(from, to string) func(string) string {
	return func(p string) string {
		rest, ok := strings.CutPrefix(p, from)
		if !ok {
			return ""
		}
		return to + rest
	}
}
