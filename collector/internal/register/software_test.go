package register

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

const softwareHeader = "verdict,name,publisher,source,min_version,max_version,reason,owner_unit\n"

func parseSoftware(t *testing.T, csv string, validOnly bool) ([]model.SoftwareEntry, Report) {
	t.Helper()
	es, rep, err := ParseSoftwareCSV(strings.NewReader(csv), ParseOptions{ValidOnly: validOnly})
	if err != nil {
		t.Fatalf("ParseSoftwareCSV: %v", err)
	}
	return es, rep
}

func TestParseSoftwareCSV(t *testing.T) {
	csv := softwareHeader +
		"approved,Firefox*,Mozilla*,,115.0,,Standard browser,IT\n" +
		"\n" +
		"Denied,utorrent,,Windows,,,Peer-to-peer file sharing,'=IT\n" +
		",,,,,,,\n" +
		"godkjent,libreoffice-?,,dpkg,1:7.0,1:8.0,,\n" +
		"forbudt,*miner*,,,,,\"Crypto mining, any form\",\n"
	es, rep := parseSoftware(t, csv, false)
	if !rep.OK() || rep.Lines != 4 || rep.Valid != 4 {
		t.Fatalf("report %+v", rep)
	}
	want := []model.SoftwareEntry{
		{ID: "approved:firefox*:mozilla*:", Verdict: "approved", NamePattern: "Firefox*", Publisher: "Mozilla*",
			MinVersion: "115.0", Reason: "Standard browser", OwnerUnit: "IT"},
		{ID: "denied:utorrent::windows", Verdict: "denied", NamePattern: "utorrent", Source: "windows",
			Reason: "Peer-to-peer file sharing", OwnerUnit: "=IT"},
		{ID: "approved:libreoffice-?::dpkg", Verdict: "approved", NamePattern: "libreoffice-?", Source: "dpkg",
			MinVersion: "1:7.0", MaxVersion: "1:8.0"},
		{ID: "denied:*miner*::", Verdict: "denied", NamePattern: "*miner*", Reason: "Crypto mining, any form"},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("ParseSoftwareCSV\n%+v\nwant\n%+v", es, want)
	}
}

func TestParseSoftwareCSVExcel(t *testing.T) {
	csv := "\uFEFFName;Verdict;Max_Version\r\nputty;approved;0.81\r\n"
	es, rep := parseSoftware(t, csv, false)
	if !rep.OK() {
		t.Fatal(rep.Error())
	}
	want := []model.SoftwareEntry{{ID: "approved:putty::", Verdict: "approved", NamePattern: "putty", MaxVersion: "0.81"}}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("got %+v, want %+v", es, want)
	}
}

func TestParseSoftwareCSVProblems(t *testing.T) {
	tests := []struct {
		name, csv string
		want      []string
		fatal     bool
	}{
		{"empty", "", []string{"line 1: the file is empty; want a header line: " + strings.TrimSuffix(softwareHeader, "\n")}, true},
		{"unknown column", "verdict,name,colour\n", []string{`line 1: unknown column "colour"; the columns are ` + strings.Join(SoftwareColumns, ", ")}, true},
		{"missing column", "name,source\n", []string{"line 1: missing column verdict; the header must name at least verdict, name"}, true},
		{"bad verdict", softwareHeader + "approved,a,,,,,,\napproved,b,,,,,,\napproved,c,,,,,,\napproved,d,,,,,,\napproved,e,,,,,,\nmaybe,f,,,,,,\n",
			[]string{`line 7: verdict "maybe": want approved or denied`}, false},
		{"empty verdict", "verdict,name\n,putty\n", []string{`line 2: verdict is empty; want approved or denied`}, false},
		{"empty name", "verdict,name\ndenied,\n", []string{`line 2: name is empty; want a package name or a pattern with * and ?`}, false},
		{"bad glob", "verdict,name\ndenied,firefox[0-9]\n", []string{`line 2: name: pattern "firefox[0-9]": '[' is not supported; use * and ? only`}, false},
		{"bad publisher glob", "verdict,name,publisher\ndenied,x,{Acme}\n", []string{`line 2: publisher: pattern "{Acme}": '{' is not supported; use * and ? only`}, false},
		{"bad source", "verdict,name,source\ndenied,x,snap\n", []string{`line 2: source "snap": want dpkg, rpm, windows or empty for any`}, false},
		{"min above max", "verdict,name,source,min_version,max_version\napproved,x,dpkg,2.0~rc1,1.9\n",
			[]string{`line 2: min_version "2.0~rc1" is not below max_version "1.9" (the range holds min_version up to, not including, max_version)`}, false},
		{"empty range", "verdict,name,min_version,max_version\napproved,x,1.2,1.2.0\n",
			[]string{`line 2: min_version "1.2" is not below max_version "1.2.0" (the range holds min_version up to, not including, max_version)`}, false},
		{"short line", "verdict,name,source\ndenied,x\n", []string{`line 2: has 2 fields, the header 3`}, false},
		{"control", "verdict,name,reason\ndenied,x,\"a\x07b\"\n", []string{`line 2: reason holds a control character`}, false},
		{"too long", "verdict,name\ndenied," + strings.Repeat("x", 257) + "\n", []string{`line 2: name is 257 bytes long; at most 256`}, false},
		{"repeated", "verdict,name,publisher\ndenied,Putty,\ndenied,x,\nDENIED,putty,\napproved,putty,\n",
			[]string{`line 4: entry denied:putty:: repeats line 2`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, rep := parseSoftware(t, tt.csv, false)
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) || rep.Fatal != tt.fatal || es != nil {
				t.Errorf("problems %q (fatal %v, %d entries), want %q (fatal %v)", got, rep.Fatal, len(es), tt.want, tt.fatal)
			}
		})
	}
}

// TestParseSoftwareCSVVersionOrder: the range is checked by the source's
// own version order, where dotted numbers would say otherwise.
func TestParseSoftwareCSVVersionOrder(t *testing.T) {
	// dpkg: 1.0~rc1 < 1.0; dotted: "1.0~rc1" > "1.0" by its text.
	csv := "verdict,name,source,min_version,max_version\napproved,x,dpkg,1.0~rc1,1.0\napproved,y,rpm,1:1.0,2:0.1\n"
	if es, rep := parseSoftware(t, csv, false); !rep.OK() || len(es) != 2 {
		t.Errorf("ordered ranges refused: %s", rep.Error())
	}
	// rpm: an epoch wins over the version.
	csv = "verdict,name,source,min_version,max_version\napproved,x,rpm,2:0.1,1:9.0\n"
	if _, rep := parseSoftware(t, csv, false); len(rep.Problems) != 1 || rep.Problems[0].Line != 2 {
		t.Errorf("rpm range against epochs: %v", rep.Problems)
	}
}

func TestParseSoftwareCSVValidOnly(t *testing.T) {
	csv := "verdict,name\napproved,a\nmaybe,b\ndenied,c\n"
	es, rep := parseSoftware(t, csv, true)
	if len(es) != 2 || rep.Valid != 2 || rep.Lines != 3 || len(rep.Problems) != 1 || es[1].NamePattern != "c" {
		t.Errorf("valid only: %+v, report %+v", es, rep)
	}
}

func TestParseSoftwareCSVReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, _, err := ParseSoftwareCSV(failReader{boom}, ParseOptions{}); !errors.Is(err, boom) {
		t.Errorf("ParseSoftwareCSV = %v, want the reader's error", err)
	}
}

// largeSoftware is a 10 000-line catalogue; bad >= 0 spoils that line's verdict.
func largeSoftware(bad int) string {
	var b strings.Builder
	b.WriteString(softwareHeader)
	for i := range 10000 {
		verdict := "approved"
		if i%3 == 0 {
			verdict = "denied"
		}
		if i == bad {
			verdict = "perhaps"
		}
		fmt.Fprintf(&b, "%s,pkg-%05d*,Vendor %d,dpkg,1.%d,2.%d,Reason number %d,IT\n", verdict, i, i%50, i%7, i%7, i)
	}
	return b.String()
}

// TestParseSoftwareCSVLarge: one bad line among 10 000 refuses the whole
// file and is named.
func TestParseSoftwareCSVLarge(t *testing.T) {
	csv := largeSoftware(4242)
	es, rep := parseSoftware(t, csv, false)
	if es != nil || rep.Lines != 10000 || rep.Valid != 9999 || len(rep.Problems) != 1 {
		t.Fatalf("%d entries, report lines %d valid %d problems %v", len(es), rep.Lines, rep.Valid, rep.Problems)
	}
	if got, want := rep.Problems[0].String(), `line 4244: verdict "perhaps": want approved or denied`; got != want {
		t.Errorf("problem %q, want %q", got, want)
	}
	if es, _ = parseSoftware(t, csv, true); len(es) != 9999 {
		t.Errorf("valid only: %d entries, want 9999", len(es))
	}
}

func BenchmarkParseSoftwareCSV10k(b *testing.B) {
	csv := largeSoftware(-1)
	b.SetBytes(int64(len(csv)))
	for b.Loop() {
		es, rep, err := ParseSoftwareCSV(strings.NewReader(csv), ParseOptions{})
		if err != nil || !rep.OK() || len(es) != 10000 {
			b.Fatalf("%d entries, %v, %s", len(es), err, rep.Error())
		}
	}
}

func TestWriteSoftwareCSVRoundTrip(t *testing.T) {
	entries := []model.SoftwareEntry{
		{ID: "approved:firefox*:mozilla*:", Verdict: "approved", NamePattern: "Firefox*", Publisher: "Mozilla*",
			MinVersion: "115.0", Reason: `the "ESR" one, 3.5"`, OwnerUnit: "Helse og omsorg"},
		{ID: "denied:=cmd|' /c calc'!a0::windows", Verdict: "denied", NamePattern: "=cmd|' /C calc'!A0", Source: "windows",
			MinVersion: "-1", Reason: "@SUM(1+1)", OwnerUnit: "+IT"},
		{ID: "denied:*miner*::", Verdict: "denied", NamePattern: "*miner*", Reason: "Bærum; Ørland, Åfjord"},
	}
	var buf bytes.Buffer
	if err := WriteSoftwareCSV(&buf, entries); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\uFEFF"+softwareHeader) {
		t.Errorf("output starts %q", out[:min(len(out), 100)])
	}
	for _, want := range []string{`'=cmd|' /C calc'!A0`, ",'-1,", ",'@SUM(1+1),", ",'+IT\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	es, rep, err := ParseSoftwareCSV(&buf, ParseOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("parse(write(x)): %v %s", err, rep.Error())
	}
	if !reflect.DeepEqual(es, entries) {
		t.Errorf("parse(write(x))\n%+v\nwant\n%+v", es, entries)
	}
	var again bytes.Buffer
	if err := WriteSoftwareCSV(&again, es); err != nil || again.String() != out {
		t.Errorf("write(parse(write(x))) differs from write(x): %v", err)
	}
	var empty bytes.Buffer
	if err := WriteSoftwareCSV(&empty, nil); err != nil || empty.String() != "\uFEFF"+softwareHeader {
		t.Errorf("empty catalogue: %q, %v", empty.String(), err)
	}
	if err := WriteSoftwareCSV(failWriter{errors.New("disk full")}, entries); err == nil {
		t.Error("WriteSoftwareCSV to a failing writer succeeded")
	}
}
