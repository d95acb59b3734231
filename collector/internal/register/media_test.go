package register

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

const header = "serial,vid,pid,marking_id,owner_unit,classification,encryption_required,note\n"

func parse(t *testing.T, csv string, validOnly bool) ([]model.MediaEntry, Report) {
	t.Helper()
	es, rep, err := ParseMediaCSV(strings.NewReader(csv), ParseOptions{ValidOnly: validOnly})
	if err != nil {
		t.Fatalf("ParseMediaCSV: %v", err)
	}
	return es, rep
}

func TestParseMediaCSV(t *testing.T) {
	csv := header +
		"4C530001,0781,5583,NK-0042,Helse og omsorg,fortrolig,ja,Kari's stick\n" +
		",090C,1000,,IT,intern,,every stick of the model\n" +
		"\n" +
		"/srv/img/stick.img,,,NK-0001,IT,,no,\"a loop image, for tests\"\n" +
		",,,,,,,\n" // a spreadsheet's empty row
	es, rep := parse(t, csv, false)
	if !rep.OK() || rep.Lines != 3 || rep.Valid != 3 || rep.Fatal {
		t.Fatalf("report %+v", rep)
	}
	want := []model.MediaEntry{
		{Serial: "4C530001", VID: "0781", PID: "5583", MarkingID: "NK-0042", OwnerUnit: "Helse og omsorg", Classification: "fortrolig", EncryptionRequired: true, Note: "Kari's stick"},
		{VID: "090c", PID: "1000", OwnerUnit: "IT", Classification: "intern", Note: "every stick of the model"},
		{Serial: "/srv/img/stick.img", MarkingID: "NK-0001", OwnerUnit: "IT", Note: "a loop image, for tests"},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("entries\n%+v\nwant\n%+v", es, want)
	}
	if got := es[1].Key(); got != "090c:1000:" {
		t.Errorf("model-wide key %q", got)
	}
}

func TestParseMediaCSVExcel(t *testing.T) {
	// Norwegian Excel: byte order mark, semicolons, CRLF, columns in its own
	// order and names in capitals, æøå.
	csv := "\uFEFFVID;PID;Serial;Note;Encryption_Required\r\n" +
		"0781;5583;AA01;Bærum – på lån;Ja\r\n" +
		"0781;5583;AA02;\"semi;colon\";NEI\r\n"
	es, rep := parse(t, csv, false)
	if !rep.OK() {
		t.Fatalf("report: %s", rep.Error())
	}
	want := []model.MediaEntry{
		{Serial: "AA01", VID: "0781", PID: "5583", Note: "Bærum – på lån", EncryptionRequired: true},
		{Serial: "AA02", VID: "0781", PID: "5583", Note: "semi;colon"},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("entries\n%+v\nwant\n%+v", es, want)
	}
}

func TestParseMediaCSVProblems(t *testing.T) {
	for _, c := range []struct {
		name, csv string
		want      []string // problems, in order
		fatal     bool
	}{
		{"bad vid", header + "A,zz12,5583,,,,,\n", []string{`line 2: vid "zz12" is not 4 hex digits`}, false},
		{"short pid", header + "A,0781,558,,,,,\n", []string{`line 2: pid "558" is not 4 hex digits`}, false},
		{"vid without pid", header + "A,0781,,,,,,\n", []string{"line 2: vid and pid go together: give both or neither"}, false},
		{"no identity", header + ",,,NK-1,,,,\n", []string{"line 2: serial is empty; a medium without vid and pid needs one"}, false},
		{"encryption", header + "A,0781,5583,,,,kanskje,\n", []string{`line 2: encryption_required "kanskje": want yes or no`}, false},
		{"long note", header + "A,0781,5583,,,,," + strings.Repeat("x", 1001) + "\n", []string{"line 2: note is 1001 bytes long; at most 1000"}, false},
		{"control character", header + "A\x01B,0781,5583,,,,,\n", []string{"line 2: serial holds a control character"}, false},
		{"not UTF-8", header + "A,0781,5583,,B\xe6rum,,,\n", []string{"line 2: owner_unit is not UTF-8 text (save the file as CSV UTF-8)"}, false},
		{"short line", header + "A,0781,5583\n", []string{"line 2: has 3 fields, the header 8"}, false},
		{"long line", header + "A,0781,5583,,,,,,extra\n", []string{"line 2: has 9 fields, the header 8"}, false},
		{"duplicate", header + "ABC,0781,5583,,,,,\nX,0781,5583,,,,,\nABC,0781,5583,,,,,\n",
			[]string{"line 4: medium 0781:5583:ABC repeats line 2"}, false},
		{"duplicate after lower-casing", header + ",090C,1000,,,,,\n,090c,1000,,,,,\n",
			[]string{"line 3: medium 090c:1000: repeats line 2"}, false},
		{"several problems", header + "A,zz,5583,,,,maybe,\n", []string{`line 2: vid "zz" is not 4 hex digits`, `line 2: encryption_required "maybe": want yes or no`}, false},
		{"quoted newline counts lines", header + "\"A\nB\",0781,5583,,,,,\nC,0781,xx,,,,,\n",
			[]string{"line 2: serial holds a control character", `line 4: pid "xx" is not 4 hex digits`}, false},
		{"unknown column", "serial,vid,pid,colour\n", []string{`line 1: unknown column "colour"; the columns are serial, vid, pid, marking_id, owner_unit, classification, encryption_required, note`}, true},
		{"repeated column", "serial,vid,pid,VID\n", []string{`line 1: column "vid" repeats`}, true},
		{"missing column", "serial,note\nA,x\n", []string{"line 1: missing column vid, pid; the header must name at least serial, vid, pid"}, true},
		{"no header", "4C530001,0781,5583\n", []string{`line 1: unknown column "4C530001"`}, true},
		{"empty", "", []string{"line 1: the file is empty"}, true},
		{"only a BOM", "\uFEFF\r\n", []string{"line 1: the file is empty"}, true},
	} {
		for _, validOnly := range []bool{false, true} {
			es, rep, err := ParseMediaCSV(strings.NewReader(c.csv), ParseOptions{ValidOnly: validOnly})
			if err != nil {
				t.Errorf("%s: ParseMediaCSV error %v", c.name, err)
				continue
			}
			if rep.OK() || rep.Fatal != c.fatal || len(rep.Problems) != len(c.want) {
				t.Errorf("%s: report %+v, want problems %q (fatal %v)", c.name, rep, c.want, c.fatal)
				continue
			}
			for i, p := range rep.Problems {
				if !strings.HasPrefix(p.String(), c.want[i]) {
					t.Errorf("%s: problem %q, want %q", c.name, p, c.want[i])
				}
			}
			if !validOnly && es != nil {
				t.Errorf("%s: entries %+v despite problems", c.name, es)
			}
			if validOnly && c.fatal && es != nil {
				t.Errorf("%s: entries %+v from a file with a bad header", c.name, es)
			}
		}
	}
}

func TestParseMediaCSVValidOnly(t *testing.T) {
	csv := header + "A,0781,5583,,,,,\nB,zz12,5583,,,,,\nC,0781,5583,,,,,\nA,0781,5583,,,,,\n"
	es, rep := parse(t, csv, true)
	if rep.Lines != 4 || rep.Valid != 2 || len(rep.Problems) != 2 {
		t.Errorf("report %+v", rep)
	}
	if len(es) != 2 || es[0].Serial != "A" || es[1].Serial != "C" {
		t.Errorf("entries %+v, want A and C", es)
	}
	if got := rep.Error(); got != "line 3: vid \"zz12\" is not 4 hex digits\nline 5: medium 0781:5583:A repeats line 2" {
		t.Errorf("Error() = %q", got)
	}
}

func TestParseMediaCSVReadError(t *testing.T) {
	boom := errors.New("request body too large")
	r := io.MultiReader(strings.NewReader(header+"A,0781,5583,,,,,\n"), iotest.ErrReader(boom))
	if _, _, err := ParseMediaCSV(r, ParseOptions{}); !errors.Is(err, boom) {
		t.Errorf("ParseMediaCSV = %v, want the reader's error", err)
	}
	// An error past the first 64 KiB arrives from the CSV reader.
	big := header + strings.Repeat("A,0781,5583,,,,,\n", 5000)
	big = strings.ReplaceAll(big, "A,", "") // not valid, but the error comes first
	r = io.MultiReader(strings.NewReader(big), iotest.ErrReader(boom))
	if _, _, err := ParseMediaCSV(r, ParseOptions{}); !errors.Is(err, boom) {
		t.Errorf("ParseMediaCSV (large) = %v, want the reader's error", err)
	}
}

// TestParseMediaCSVLarge: one bad line among 10 000 refuses the whole file
// and is named.
func TestParseMediaCSVLarge(t *testing.T) {
	var b strings.Builder
	b.WriteString(header)
	for i := range 10000 {
		vid := "0781"
		if i == 7318 {
			vid = "07g1"
		}
		fmt.Fprintf(&b, "SER%05d,%s,5583,NK-%05d,IT,intern,yes,\n", i, vid, i)
	}
	es, rep := parse(t, b.String(), false)
	if es != nil || rep.Lines != 10000 || rep.Valid != 9999 || len(rep.Problems) != 1 {
		t.Fatalf("%d entries, report lines %d valid %d problems %v", len(es), rep.Lines, rep.Valid, rep.Problems)
	}
	if got, want := rep.Problems[0].String(), `line 7320: vid "07g1" is not 4 hex digits`; got != want {
		t.Errorf("problem %q, want %q", got, want)
	}
	es, _ = parse(t, b.String(), true)
	if len(es) != 9999 {
		t.Errorf("valid only: %d entries, want 9999", len(es))
	}
}

func TestWriteMediaCSVRoundTrip(t *testing.T) {
	entries := []model.MediaEntry{
		{Serial: "4C530001", VID: "0781", PID: "5583", MarkingID: "NK-0042", OwnerUnit: "Helse og omsorg", Classification: "fortrolig", EncryptionRequired: true, Note: `Kari's "blue" stick, 3.5"`},
		{VID: "090c", PID: "1000", OwnerUnit: "IT", Classification: "intern", Note: "every stick; the model"},
		{Serial: "/srv/img/stick.img", MarkingID: "NK-0001", Note: "Bærum, Ørland, Åfjord"},
	}
	var buf bytes.Buffer
	if err := WriteMediaCSV(&buf, entries); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "\uFEFF"+header) {
		t.Errorf("output starts %q", buf.String()[:min(buf.Len(), 100)])
	}
	es, rep, err := ParseMediaCSV(&buf, ParseOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("parse(write(x)): %v %s", err, rep.Error())
	}
	if !reflect.DeepEqual(es, entries) {
		t.Errorf("parse(write(x))\n%+v\nwant\n%+v", es, entries)
	}
	var empty bytes.Buffer
	if err := WriteMediaCSV(&empty, nil); err != nil || empty.String() != "\uFEFF"+header {
		t.Errorf("empty register: %q, %v", empty.String(), err)
	}
}

func TestWriteMediaCSVNeutralisesFormulas(t *testing.T) {
	entries := []model.MediaEntry{
		{Serial: "=HYPERLINK(\"http://evil.example\",\"x\")", VID: "0781", PID: "5583", Note: "+1 555"},
		{Serial: "@SUM(A1)", VID: "0781", PID: "5583", MarkingID: "-2+3", OwnerUnit: "\tIT", Classification: "\rX"},
	}
	var buf bytes.Buffer
	if err := WriteMediaCSV(&buf, entries); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"'=HYPERLINK(""http://evil.example"",""x"")"`, ",'+1 555\n", "'@SUM(A1)", ",'-2+3,", "'\tIT", "'\rX"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Read back, the quotes come off the formula characters again. (Tabs and
	// carriage returns are control characters an import refuses anyway.)
	entries[1].OwnerUnit, entries[1].Classification = "IT", "X"
	buf.Reset()
	if err := WriteMediaCSV(&buf, entries); err != nil {
		t.Fatal(err)
	}
	es, rep, err := ParseMediaCSV(&buf, ParseOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("parse: %v %s", err, rep.Error())
	}
	if !reflect.DeepEqual(es, entries) {
		t.Errorf("read back\n%+v\nwant\n%+v", es, entries)
	}
}

func TestWriteMediaCSVError(t *testing.T) {
	boom := errors.New("disk full")
	if err := WriteMediaCSV(failWriter{boom}, []model.MediaEntry{{Serial: "A"}}); !errors.Is(err, boom) {
		t.Errorf("WriteMediaCSV = %v, want the writer's error", err)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }
