package marking

import (
	"errors"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

func TestParseFile(t *testing.T) {
	for _, tt := range []struct {
		name      string
		in        string
		id, class string
	}{
		{"equals", "id=NK-0042\nclassification=intern\n", "NK-0042", "intern"},
		{"colon", "id: NK-0042\nclassification: fortrolig", "NK-0042", "fortrolig"},
		{"norwegian key", "ID = NK-7\nKlassifisering = Strengt fortrolig\n", "NK-7", "Strengt fortrolig"},
		{"id only", "id=NK-1", "NK-1", ""},
		{"bom and crlf", "\xef\xbb\xbfid=NK-2\r\nclassification=intern\r\n", "NK-2", "intern"},
		{"comments and blanks", "# issued by IT\n\n   \n  # indented comment\nid=NK-3\n", "NK-3", ""},
		{"unknown keys ignored", "owner=Helse\nid=NK-4\nissued: 2025-01-02\n", "NK-4", ""},
		{"first separator wins", "id=NK:5\nclassification: a=b\n", "NK:5", "a=b"},
		{"values trimmed", "  id  =   NK-6 \t\n", "NK-6", ""},
		{"tab inside value", "id=NK\t6\n", "NK\t6", ""},
		{"non-ASCII", "id=Sønevakt-Æ1\nklassifisering=fortrolig\n", "Sønevakt-Æ1", "fortrolig"},
		{"empty classification", "id=NK-8\nclassification=\n", "NK-8", ""},
		{"at the limit", "id=NK-9\n#" + strings.Repeat("x", MaxFileSize-10) + "\n", "NK-9", ""},
	} {
		id, class, err := ParseFile([]byte(tt.in))
		if err != nil || id != tt.id || class != tt.class {
			t.Errorf("ParseFile(%s) = %q, %q, %v; want %q, %q, nil", tt.name, id, class, err, tt.id, tt.class)
		}
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want string // in the error
	}{
		{"empty", "", "no id line"},
		{"comments only", "# id=NK-1\n\n", "no id line"},
		{"classification only", "classification=intern\n", "no id line"},
		{"empty id", "id=\n", "line 1: empty id"},
		{"second id", "id=NK-1\n\nid=NK-2\n", "line 3: a second id line (the first is line 1)"},
		{"second classification", "id=NK-1\nclassification=a\nklassifisering=b\n", "line 3: a second classification"},
		{"no separator", "id=NK-1\nmarked by IT\n", "line 2: want key=value"},
		{"invalid UTF-8", "id=NK-1\nclassification=\xff\xfe\xfd\n", "line 2: invalid UTF-8"},
		{"Latin-1", "# \xd8stfold\nid=NK-1\n", "line 1: invalid UTF-8"},
		{"UTF-16", "\xff\xfei\x00d\x00=\x001\x00", "UTF-16"},
		{"control character", "id=NK\x001\n", "line 1: control character"},
		{"too large", "id=NK-1\n#" + strings.Repeat("x", MaxFileSize) + "\n", "limit 4096"},
	} {
		id, class, err := ParseFile([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseFile(%s) = %q, %q, %v; want an error saying %q", tt.name, id, class, err, tt.want)
		}
	}
	if _, _, err := ParseFile([]byte("classification=x")); !errors.Is(err, ErrNoID) {
		t.Errorf("ParseFile(no id) error = %v, want ErrNoID", err)
	}
}

func TestFind(t *testing.T) {
	both := wire.MediaPolicy{LabelPattern: "NK-*", MarkerFile: "SONEVAKT.TXT"}
	labelOnly := wire.MediaPolicy{LabelPattern: "NK-*"}
	fileOnly := wire.MediaPolicy{MarkerFile: "SONEVAKT.TXT"}
	good := []byte("id=NK-0042\nclassification=intern\n")
	bad := []byte("id=NK-0042\nthis line is not a key\n")
	fileMark := &wire.MediaMarking{Source: wire.MarkingFile, ID: "NK-0042", Classification: "intern"}
	for _, tt := range []struct {
		name      string
		label     string
		file      []byte
		found     bool
		p         wire.MediaPolicy
		want      *wire.MediaMarking
		problemIn string // "" when no problem is wanted
	}{
		{name: "label matches", label: "NK-0042", p: labelOnly,
			want: &wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042"}},
		{name: "label matches ignoring case", label: "nk-0042", p: labelOnly,
			want: &wire.MediaMarking{Source: wire.MarkingLabel, ID: "nk-0042"}},
		{name: "pattern ignores case", label: "NK-0042", p: wire.MediaPolicy{LabelPattern: "nk-[0-9]*"},
			want: &wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042"}},
		{name: "non-ASCII label", label: "SØNEVAKT1", p: wire.MediaPolicy{LabelPattern: "sønevakt?"},
			want: &wire.MediaMarking{Source: wire.MarkingLabel, ID: "SØNEVAKT1"}},
		{name: "file wins over label", label: "NK-0042", file: good, found: true, p: both, want: fileMark},
		{name: "file without label pattern", label: "PRIVATE", file: good, found: true, p: fileOnly, want: fileMark},
		{name: "file with label not matching", label: "PRIVATE", file: good, found: true, p: both, want: fileMark},
		{name: "malformed file, label matches", label: "NK-0042", file: bad, found: true, p: both,
			want:      &wire.MediaMarking{Source: wire.MarkingLabel, ID: "NK-0042"},
			problemIn: "marker file SONEVAKT.TXT unreadable: line 2: want key=value"},

		// Must not match.
		{name: "label not matching", label: "KINGSTON", p: labelOnly},
		{name: "label prefix only", label: "NK", p: labelOnly},
		{name: "pattern anchored", label: "XNK-1", p: labelOnly},
		{name: "empty label", label: "", p: wire.MediaPolicy{LabelPattern: "*"}},
		{name: "no pattern", label: "NK-0042", p: fileOnly},
		{name: "empty policy", label: "NK-0042", file: good, found: true},
		{name: "file not found", label: "PRIVATE", file: good, found: false, p: both},
		{name: "file but policy names none", label: "PRIVATE", file: good, found: true, p: labelOnly},
		{name: "malformed file", label: "PRIVATE", file: bad, found: true, p: both,
			problemIn: "marker file SONEVAKT.TXT unreadable: line 2"},
		{name: "file without id", label: "PRIVATE", file: []byte("classification=intern\n"), found: true, p: fileOnly,
			problemIn: "marker file SONEVAKT.TXT unreadable: marker file has no id line"},
		{name: "empty file", file: []byte{}, found: true, p: fileOnly,
			problemIn: "no id line"},
		{name: "bad pattern", label: "NK-1", p: wire.MediaPolicy{LabelPattern: "NK-["},
			problemIn: `label pattern "NK-["`},
	} {
		got, problem := FindWithProblem(tt.label, tt.file, tt.found, tt.p)
		if !equal(got, tt.want) {
			t.Errorf("FindWithProblem(%s) = %+v, want %+v", tt.name, got, tt.want)
		}
		switch {
		case tt.problemIn == "" && problem != "":
			t.Errorf("FindWithProblem(%s) problem = %q, want none", tt.name, problem)
		case tt.problemIn != "" && !strings.Contains(problem, tt.problemIn):
			t.Errorf("FindWithProblem(%s) problem = %q, want one containing %q", tt.name, problem, tt.problemIn)
		}
		if got := Find(tt.label, tt.file, tt.found, tt.p); !equal(got, tt.want) {
			t.Errorf("Find(%s) = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func equal(a, b *wire.MediaMarking) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
