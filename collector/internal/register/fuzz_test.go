package register

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// fuzzRegister is one register's CSV import and export, as bytes in and out.
type fuzzRegister struct {
	name   string
	header string
	// parse imports data and, when it gave entries, exports them again.
	parse func(data []byte, opts ParseOptions) (out []byte, n int, rep Report, err error)
}

func roundTrip[T any](parse func(io.Reader, ParseOptions) ([]T, Report, error), write func(io.Writer, []T) error) func([]byte, ParseOptions) ([]byte, int, Report, error) {
	return func(data []byte, opts ParseOptions) ([]byte, int, Report, error) {
		es, rep, err := parse(bytes.NewReader(data), opts)
		if err != nil || len(es) == 0 {
			return nil, len(es), rep, err
		}
		var b bytes.Buffer
		if err := write(&b, es); err != nil {
			return nil, len(es), rep, errors.New("export: " + err.Error())
		}
		return b.Bytes(), len(es), rep, nil
	}
}

var fuzzHeld = model.Org{
	Units:  []model.Unit{{ID: "kd", Name: "Kommunedirektøren"}},
	People: []model.Person{{ID: "kari", Name: "Kari", Roles: []string{"sikkerhet"}}},
}

var fuzzRegisters = []fuzzRegister{
	{"assets", assetHeaderFuzz, roundTrip(ParseAssetsCSV, WriteAssetsCSV)},
	{"software", "verdict,name,publisher,source,min_version,max_version,reason,owner_unit\n", roundTrip(ParseSoftwareCSV, WriteSoftwareCSV)},
	{"media", "serial,vid,pid,marking_id,owner_unit,classification,encryption_required,note\n", roundTrip(ParseMediaCSV, WriteMediaCSV)},
	{"units", "id,name,parent,manager\n", roundTrip(func(r io.Reader, o ParseOptions) ([]model.Unit, Report, error) {
		return ParseUnitsCSV(r, o, fuzzHeld)
	}, WriteUnitsCSV)},
	{"people", "id,name,email,phone,unit,roles,username,lang\n", roundTrip(func(r io.Reader, o ParseOptions) ([]model.Person, Report, error) {
		return ParsePeopleCSV(r, o, fuzzHeld)
	}, WritePeopleCSV)},
	{"supplier-people", "id,name,supplier,email,accounts,declaration_signed,declaration_sha256,declaration_expires\n", roundTrip(ParseSupplierPeopleCSV, WriteSupplierPeopleCSV)},
	{"shared-solutions", "host,zones,risk_accepted_by,risk_accepted_at,document_sha256,expires,note\n", roundTrip(ParseSharedSolutionsCSV, WriteSharedSolutionsCSV)},
}

const assetHeaderFuzz = "asset_tag,type,serial,macs,hostname,owner_unit,responsible,operated_by,building,room,zone,status,note\n"

// FuzzRegisterCSV imports arbitrary bytes as each register: problems name a
// line of the file, a file with problems gives no entries unless ValidOnly,
// and whatever was imported exports to a file that imports cleanly to the
// same entries (a fixed point) and holds no cell a spreadsheet would run as
// a formula.
func FuzzRegisterCSV(f *testing.F) {
	sha := strings.Repeat("ab", 32)
	seeds := [][]string{
		{assetHeaderFuzz + "K-0001,PC,PF3ABC12,AA-BB-CC-DD-EE-01 | aabb.ccdd.ee02,k0001,Helse og omsorg,Kari Nordmann,kommunen,Rådhuset,2.14,admin,,\n" +
			"K-0002,server,SRV9,aabbccddee03|aa:bb:cc:dd:ee:03,srv9,IT,Ola,Acme Drift AS,Datasenter,B1,server,Retired,'=not a formula\n,,,,,,,,,,,,\n"},
		{"verdict,name,publisher,source,min_version,max_version,reason,owner_unit\napproved,Firefox*,Mozilla*,,115.0,,Standard browser,IT\n" +
			"Denied,utorrent,,Windows,,,Peer-to-peer file sharing,'=IT\ngodkjent,libreoffice-?,,dpkg,1:7.0,1:8.0,,\nforbudt,*miner*,,,,,\"Crypto mining, any form\",\n"},
		{"serial,vid,pid,marking_id,owner_unit,classification,encryption_required,note\n4C530001,0781,5583,NK-0042,Helse og omsorg,fortrolig,ja,Kari's stick\n" +
			",090C,1000,,IT,intern,,every stick of the model\n\n/srv/img/stick.img,,,NK-0001,IT,,no,\"a loop image, for tests\"\n",
			"\uFEFFVID;PID;Serial;Note;Encryption_Required\r\n0781;5583;AA01;Bærum – på lån;Ja\r\n0781;5583;AA02;\"semi;colon\";NEI\r\n"},
		{"id,name,parent,manager\nHelse,Helse og omsorg,kd,kari\nsykehjem,Sykehjem,helse,\n\nskole,Skole,,\n"},
		{"id,name,email,phone,unit,roles,username,lang\nkari2,Kari,kari@kommune.no,+47 123 45 678,kd,sikkerhet|leder,kari2,nb\nola,Ola,,,,,,en\n",
			"\uFEFFID;Name;Email;Phone;Unit;Roles;Username;Lang\r\nper;Per;per@k.no;;kd;;per;nb\r\n"},
		{"id,name,supplier,email,accounts,declaration_signed,declaration_sha256,declaration_expires\n" +
			"acme-ola,Ola Acme,Acme Drift AS,ola@acme.no,acme-svc | DOMAIN\\acme.ola | Acme Service,2026-01-15," + strings.ToUpper(sha) + ",2027-01-15\n" +
			"acme-new,Ny Konsulent,Acme Drift AS,,,,,\n"},
		{"host,zones,risk_accepted_by,risk_accepted_at,document_sha256,expires,note\nsrv-delt,admin skole,kari,2026-02-01," + sha + ",2027-02-01,Risiko akseptert\n"},
	}
	for i, ss := range seeds {
		for _, s := range ss {
			f.Add(uint8(i), false, []byte(s))
			f.Add(uint8(i), true, []byte(s))
		}
	}
	f.Add(uint8(2), true, []byte("serial,vid,pid\n\"unterminated,0781,5583\n"))
	f.Add(uint8(2), false, []byte("serial,serial,vid,pid\n"))
	f.Add(uint8(0), true, []byte("\uFEFF"))
	f.Fuzz(func(t *testing.T, which uint8, validOnly bool, data []byte) {
		reg := fuzzRegisters[int(which)%len(fuzzRegisters)]
		out, n, rep, err := reg.parse(data, ParseOptions{ValidOnly: validOnly})
		if err != nil {
			t.Fatalf("%s: error on in-memory input: %v", reg.name, err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, p := range rep.Problems {
			if p.Line < 1 || p.Line > lines || p.Message == "" {
				t.Fatalf("%s: problem %q names line %d of a %d-line file", reg.name, p.Message, p.Line, lines)
			}
		}
		if rep.Valid > rep.Lines || rep.Valid < 0 {
			t.Fatalf("%s: report %d valid of %d lines", reg.name, rep.Valid, rep.Lines)
		}
		if n > 0 && (rep.Fatal || (!validOnly && !rep.OK())) {
			t.Fatalf("%s: %d entries despite problems (fatal %v, validOnly %v): %s", reg.name, n, rep.Fatal, validOnly, rep.Error())
		}
		if n == 0 {
			return
		}
		checkNoFormula(t, reg.name, out)
		out2, n2, rep2, err := reg.parse(out, ParseOptions{})
		if err != nil || !rep2.OK() || n2 != n {
			t.Fatalf("%s: export of %d entries re-imports as %d, err %v, problems:\n%s\nexport:\n%s", reg.name, n, n2, err, rep2.Error(), out)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("%s: export not a fixed point:\n%s\n---\n%s", reg.name, out, out2)
		}
	})
}

// checkNoFormula fails when a cell of an exported CSV starts with a
// character that makes a spreadsheet read it as a formula.
func checkNoFormula(t *testing.T, what string, out []byte) {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte(bom))))
	cr.FieldsPerRecord = -1
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: export is not CSV: %v\n%s", what, err, out)
		}
		for _, c := range rec {
			if c != "" && strings.ContainsRune(injectionLead, rune(c[0])) {
				t.Fatalf("%s: exported cell %q starts with a formula character", what, c)
			}
		}
	}
}

// TestUnitsValidOnlyNoOrphans: with ValidOnly, a unit whose parent's line
// is dropped for a problem is dropped too, named with its line (found by
// FuzzRegisterCSV: the child came back pointing at a unit never imported).
func TestUnitsValidOnlyNoOrphans(t *testing.T) {
	csv := "id,name,parent,manager\n" +
		"ward,Ward,home,\n" + // 2: its parent has a problem (reverse order)
		"home,Home,nowhere,\n" + // 3: unknown parent
		"room,Room,ward,\n" + // 4: grandchild
		"school,School,,\n" + // 5: fine
		"kd2,KD 2,kd,\n" // 6: parent held
	us, rep, err := ParseUnitsCSV(strings.NewReader(csv), ParseOptions{ValidOnly: true}, fuzzHeld)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 || us[0].ID != "school" || us[1].ID != "kd2" {
		t.Errorf("units %+v, want school and kd2", us)
	}
	got := map[int]string{}
	for _, p := range rep.Problems {
		got[p.Line] = p.Message
	}
	if !strings.Contains(got[2], `parent "home"`) || !strings.Contains(got[4], `parent "ward"`) || !strings.Contains(got[3], "nowhere") || len(got) != 3 {
		t.Errorf("problems %v, want lines 2, 3 and 4", got)
	}
}
