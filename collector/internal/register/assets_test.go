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

const assetHeader = "asset_tag,type,serial,macs,hostname,owner_unit,responsible,operated_by,building,room,zone,status,note\n"

func parseAssets(t *testing.T, csv string, validOnly bool) ([]model.Asset, Report) {
	t.Helper()
	as, rep, err := ParseAssetsCSV(strings.NewReader(csv), ParseOptions{ValidOnly: validOnly})
	if err != nil {
		t.Fatalf("ParseAssetsCSV: %v", err)
	}
	return as, rep
}

func TestParseAssetsCSV(t *testing.T) {
	csv := assetHeader +
		"K-0001,PC,PF3ABC12,AA-BB-CC-DD-EE-01 | aabb.ccdd.ee02,k0001,Helse og omsorg,Kari Nordmann,kommunen,Rådhuset,2.14,admin,,\n" +
		"\n" +
		"K-0002,server,SRV9,aabbccddee03|aa:bb:cc:dd:ee:03,srv9,IT,Ola,Acme Drift AS,Datasenter,B1,server,Retired,'=not a formula\n" +
		",,,,,,,,,,,,\n" +
		"K-0003,other,,,,,,,,,,aktiv,\n"
	as, rep := parseAssets(t, csv, false)
	if !rep.OK() || rep.Lines != 3 || rep.Valid != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := []model.Asset{
		{Tag: "K-0001", Type: "pc", Serial: "PF3ABC12", MACs: []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"},
			Hostname: "k0001", OwnerUnit: "Helse og omsorg", Responsible: "Kari Nordmann", OperatedBy: "kommunen",
			Building: "Rådhuset", Room: "2.14", Zone: "admin", Status: "active"},
		{Tag: "K-0002", Type: "server", Serial: "SRV9", MACs: []string{"aa:bb:cc:dd:ee:03"}, Hostname: "srv9",
			OwnerUnit: "IT", Responsible: "Ola", OperatedBy: "Acme Drift AS", Building: "Datasenter", Room: "B1",
			Zone: "server", Status: "retired", Note: "=not a formula"},
		{Tag: "K-0003", Type: "other", Status: "active"},
	}
	if !reflect.DeepEqual(as, want) {
		t.Errorf("ParseAssetsCSV\n%+v\nwant\n%+v", as, want)
	}
}

func TestParseAssetsCSVExcel(t *testing.T) {
	csv := "\uFEFFType;Asset_Tag;MACs\r\nlaptop;K-1;AA:BB:CC:DD:EE:FF\r\n"
	as, rep := parseAssets(t, csv, false)
	if !rep.OK() {
		t.Fatal(rep.Error())
	}
	want := []model.Asset{{Tag: "K-1", Type: "laptop", MACs: []string{"aa:bb:cc:dd:ee:ff"}, Status: "active"}}
	if !reflect.DeepEqual(as, want) {
		t.Errorf("got %+v, want %+v", as, want)
	}
}

func TestParseAssetsCSVProblems(t *testing.T) {
	tests := []struct {
		name, csv string
		want      []string
		fatal     bool
	}{
		{"empty", "", []string{"line 1: the file is empty; want a header line: " + strings.TrimSuffix(assetHeader, "\n")}, true},
		{"unknown column", "asset_tag,type,colour\n", []string{`line 1: unknown column "colour"; the columns are ` + strings.Join(AssetColumns, ", ")}, true},
		{"missing column", "asset_tag,serial\n", []string{"line 1: missing column type; the header must name at least asset_tag, type"}, true},
		{"repeated column", "asset_tag,type,Type\n", []string{`line 1: column "type" repeats`}, true},
		{"bad mac", "asset_tag,type,macs\nK-1,pc,aa:bb:cc:dd:ee:ff zz:bb:cc:dd:ee:ff\n", []string{`line 2: MAC "zz:bb:cc:dd:ee:ff" is not a MAC address`}, false},
		{"unknown type", "asset_tag,type\nK-1,tablet\n", []string{`line 2: type "tablet" is not an asset type; want one of pc, laptop, server, printer, switch, phone, other`}, false},
		{"empty type", "asset_tag,type\nK-1,\n", []string{`line 2: type is empty; want one of pc, laptop, server, printer, switch, phone, other`}, false},
		{"empty tag", "asset_tag,type\n,pc\n", []string{`line 2: asset_tag is empty`}, false},
		{"bad status", "asset_tag,type,status\nK-1,pc,lost\n", []string{`line 2: status "lost": want active or retired`}, false},
		{"short line", "asset_tag,type,serial\nK-1,pc\n", []string{`line 2: has 2 fields, the header 3`}, false},
		{"control", "asset_tag,type,note\nK-1,pc,\"a\x07b\"\n", []string{`line 2: note holds a control character`}, false},
		{"too long", "asset_tag,type\n" + strings.Repeat("x", 129) + ",pc\n", []string{`line 2: asset_tag is 129 bytes long; at most 128`}, false},
		{"duplicates", "asset_tag,type,serial,macs\nK-1,pc,S1,aa:bb:cc:dd:ee:01\nK-2,pc,S2,aa:bb:cc:dd:ee:02\nK-1,pc,S3,\nK-4,pc,S1,AA:BB:CC:DD:EE:02\n",
			[]string{`line 4: asset tag "K-1" repeats line 2`, `line 5: MAC aa:bb:cc:dd:ee:02 is also on line 3; a MAC belongs to one asset`, `line 5: serial "S1" is also on line 2`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as, rep := parseAssets(t, tt.csv, false)
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) || rep.Fatal != tt.fatal || as != nil {
				t.Errorf("problems %q (fatal %v, %d assets), want %q (fatal %v)", got, rep.Fatal, len(as), tt.want, tt.fatal)
			}
		})
	}
}

func TestParseAssetsCSVValidOnly(t *testing.T) {
	csv := "asset_tag,type\nK-1,pc\nK-2,tablet\nK-3,phone\n"
	as, rep := parseAssets(t, csv, true)
	if len(as) != 2 || rep.Valid != 2 || rep.Lines != 3 || len(rep.Problems) != 1 {
		t.Errorf("valid only: %d assets, report %+v", len(as), rep)
	}
}

func TestParseAssetsCSVReadError(t *testing.T) {
	boom := errors.New("boom")
	_, _, err := ParseAssetsCSV(failReader{boom}, ParseOptions{})
	if !errors.Is(err, boom) {
		t.Errorf("ParseAssetsCSV = %v, want the reader's error", err)
	}
}

type failReader struct{ err error }

func (r failReader) Read([]byte) (int, error) { return 0, r.err }

// largeAssets is a 10 000-line asset register; bad >= 0 spoils that line's MAC.
func largeAssets(bad int) string {
	var b strings.Builder
	b.WriteString(assetHeader)
	for i := range 10000 {
		mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)
		if i == bad {
			mac = "zz:00:00:00:00:00"
		}
		fmt.Fprintf(&b, "K-%05d,pc,SER%05d,%s,pc%05d,IT,Kari,kommunen,Rådhuset,%d,admin,active,\n", i, i, mac, i, i%300)
	}
	return b.String()
}

// TestParseAssetsCSVLarge: one bad line among 10 000 refuses the whole file
// and is named.
func TestParseAssetsCSVLarge(t *testing.T) {
	csv := largeAssets(7318)
	as, rep := parseAssets(t, csv, false)
	if as != nil || rep.Lines != 10000 || rep.Valid != 9999 || len(rep.Problems) != 1 {
		t.Fatalf("%d assets, report lines %d valid %d problems %v", len(as), rep.Lines, rep.Valid, rep.Problems)
	}
	if got, want := rep.Problems[0].String(), `line 7320: MAC "zz:00:00:00:00:00" is not a MAC address`; got != want {
		t.Errorf("problem %q, want %q", got, want)
	}
	as, _ = parseAssets(t, csv, true)
	if len(as) != 9999 {
		t.Errorf("valid only: %d assets, want 9999", len(as))
	}
}

func BenchmarkParseAssetsCSV10k(b *testing.B) {
	csv := largeAssets(-1)
	b.SetBytes(int64(len(csv)))
	for b.Loop() {
		as, rep, err := ParseAssetsCSV(strings.NewReader(csv), ParseOptions{})
		if err != nil || !rep.OK() || len(as) != 10000 {
			b.Fatalf("%d assets, %v, %s", len(as), err, rep.Error())
		}
	}
}

func TestWriteAssetsCSVRoundTrip(t *testing.T) {
	assets := []model.Asset{
		{Tag: "K-0001", Type: "pc", Serial: "PF3ABC12", MACs: []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02"},
			Hostname: "k0001", OwnerUnit: "Helse og omsorg", Responsible: "Kari Nordmann", OperatedBy: "kommunen",
			Building: "Rådhuset", Room: "2.14", Zone: "admin", Status: "active", Note: `the "blue" one, 3.5"`},
		{Tag: "=K-2", Type: "switch", Serial: "-5", OperatedBy: "@Acme", Zone: "+net", Status: "retired", Note: "Bærum; Ørland, Åfjord"},
		{Tag: "K-3", Type: "other", Status: "active"},
	}
	var buf bytes.Buffer
	if err := WriteAssetsCSV(&buf, assets); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\uFEFF"+assetHeader) {
		t.Errorf("output starts %q", out[:min(len(out), 100)])
	}
	for _, want := range []string{"'=K-2", ",'-5,", ",'@Acme,", ",'+net,", "aa:bb:cc:dd:ee:01 aa:bb:cc:dd:ee:02"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	as, rep, err := ParseAssetsCSV(&buf, ParseOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("parse(write(x)): %v %s", err, rep.Error())
	}
	if !reflect.DeepEqual(as, assets) {
		t.Errorf("parse(write(x))\n%+v\nwant\n%+v", as, assets)
	}
	var again bytes.Buffer
	if err := WriteAssetsCSV(&again, as); err != nil || again.String() != out {
		t.Errorf("write(parse(write(x))) differs from write(x): %v", err)
	}
	var empty bytes.Buffer
	if err := WriteAssetsCSV(&empty, nil); err != nil || empty.String() != "\uFEFF"+assetHeader {
		t.Errorf("empty register: %q, %v", empty.String(), err)
	}
	if err := WriteAssetsCSV(failWriter{errors.New("disk full")}, assets); err == nil {
		t.Error("WriteAssetsCSV to a failing writer succeeded")
	}
}

func TestNormalizeMAC(t *testing.T) {
	for in, want := range map[string]string{
		"AA:BB:CC:DD:EE:FF": "aa:bb:cc:dd:ee:ff", "aa-bb-cc-dd-ee-ff": "aa:bb:cc:dd:ee:ff",
		"aabb.ccdd.eeff": "aa:bb:cc:dd:ee:ff", "AABBCCDDEEFF": "aa:bb:cc:dd:ee:ff",
		"aa:bb-cc:dd:ee:ff": "", "aa:bb:cc:dd:ee": "", "gg:bb:cc:dd:ee:ff": "", "aabb:ccdd:eeff": "", "": "",
	} {
		got, ok := model.NormalizeMAC(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeMAC(%q) = %q, %v, want %q", in, got, ok, want)
		}
	}
}
