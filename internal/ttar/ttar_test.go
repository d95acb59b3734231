package ttar

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUnpackTTAR(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "a.ttar")
	const text = `# Archive created by hand
Directory: fixtures
Mode: 755
# ttar - - -
Path: fixtures/newline
Lines: 2
# not a comment
two
Mode: 644
# ttar - - -
Path: fixtures/bare
Lines: 1
aNULLBYTEbEOF
Mode: 400
# ttar - - -
Path: fixtures/empty
Lines: 0
Mode: 644
# ttar - - -
Path: fixtures/link
SymlinkTo: newline
# ttar - - -
Path: other/dropped
Lines: 1
x
Mode: 644
`
	if err := os.WriteFile(archive, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	Unpack(t, archive, out, Strip("fixtures", "root"))
	for _, c := range []struct{ path, want string }{
		{"root/newline", "# not a comment\ntwo\n"},
		{"root/bare", "a\x00b"},
		{"root/empty", ""},
		{"root/link", "# not a comment\ntwo\n"},
	} {
		b, err := os.ReadFile(filepath.Join(out, c.path))
		if err != nil || string(b) != c.want {
			t.Errorf("%s = %q, %v; want %q", c.path, b, err, c.want)
		}
	}
	if fi, err := os.Stat(filepath.Join(out, "root/bare")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("mode of root/bare = %v, %v; want 0400", fi.Mode(), err)
	}
	if _, err := os.Lstat(filepath.Join(out, "other")); err == nil {
		t.Errorf("other/ was unpacked, want it dropped")
	}
}
