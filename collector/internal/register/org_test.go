package register

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

const (
	unitHeader     = "id,name,parent,manager\n"
	personHeader   = "id,name,email,phone,unit,roles,username,lang\n"
	supplierHeader = "id,name,supplier,email,accounts,declaration_signed,declaration_sha256,declaration_expires\n"
	sharedHeader   = "host,zones,risk_accepted_by,risk_accepted_at,document_sha256,expires,note\n"
)

var (
	shaA = strings.Repeat("ab", 32)
	shaB = strings.Repeat("0f", 32)
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// heldOrg is what the store already holds in these tests.
var heldOrg = model.Org{
	Units:  []model.Unit{{ID: "kd", Name: "Kommunedirektøren"}},
	People: []model.Person{{ID: "kari", Name: "Kari", Roles: []string{"sikkerhet"}}},
}

// wantProblems fails unless rep names exactly the lines of want, each
// message containing want's text.
func wantProblems(t *testing.T, rep Report, want map[int]string) {
	t.Helper()
	got := map[int]string{}
	for _, p := range rep.Problems {
		got[p.Line] += p.Message + " / "
	}
	for line, text := range want {
		if !strings.Contains(got[line], text) {
			t.Errorf("line %d: problems %q, want one with %q", line, got[line], text)
		}
	}
	for line := range got {
		if _, ok := want[line]; !ok {
			t.Errorf("line %d: unexpected problem %q", line, got[line])
		}
	}
}

func TestParseUnitsCSV(t *testing.T) {
	csv := unitHeader +
		"Helse,Helse og omsorg,kd,kari\n" +
		"sykehjem,Sykehjem,helse,\n" +
		"\n" +
		"skole,Skole,,\n"
	us, rep, err := ParseUnitsCSV(strings.NewReader(csv), ParseOptions{}, heldOrg)
	if err != nil || !rep.OK() || rep.Lines != 3 || rep.Valid != 3 {
		t.Fatalf("ParseUnitsCSV = %v, report %+v", err, rep)
	}
	want := []model.Unit{
		{ID: "helse", Name: "Helse og omsorg", Parent: "kd", Manager: "kari"},
		{ID: "sykehjem", Name: "Sykehjem", Parent: "helse"},
		{ID: "skole", Name: "Skole"},
	}
	if !reflect.DeepEqual(us, want) {
		t.Errorf("ParseUnitsCSV\n%+v\nwant\n%+v", us, want)
	}
}

func TestParseUnitsCSVProblems(t *testing.T) {
	csv := unitHeader +
		"helse,Helse,kd,\n" + // 2: fine
		",Uten id,,\n" + // 3
		"a b,Mellomrom,,\n" + // 4
		"skole,,,\n" + // 5
		"helse,Igjen,,\n" + // 6
		"x,X,finnes-ikke,\n" + // 7
		"y,Y,,ukjent\n" + // 8
		"c1,C1,c2,\n" + // 9
		"c2,C2,c1,\n" + // 10
		"z,Z\n" // 11
	us, rep, err := ParseUnitsCSV(strings.NewReader(csv), ParseOptions{}, heldOrg)
	if err != nil || us != nil {
		t.Fatalf("ParseUnitsCSV = %v, %v; want no units", us, err)
	}
	wantProblems(t, rep, map[int]string{
		3:  "id is empty",
		4:  `id "a b" is not an id`,
		5:  "name is empty",
		6:  `id "helse" repeats line 2`,
		7:  `parent "finnes-ikke" is not a unit`,
		8:  `manager "ukjent" is not a registered person`,
		9:  "the parent chain c1 -> c2 -> c1 is a cycle",
		10: "the parent chain c2 -> c1 -> c2 is a cycle",
		11: "has 2 fields, the header 4",
	})
	if rep.Lines != 10 || rep.Valid != 1 {
		t.Errorf("Lines, Valid = %d, %d; want 10, 1", rep.Lines, rep.Valid)
	}

	// With valid_only the good line comes back alone.
	us, _, err = ParseUnitsCSV(strings.NewReader(csv), ParseOptions{ValidOnly: true}, heldOrg)
	if err != nil || len(us) != 1 || us[0].ID != "helse" {
		t.Errorf("valid only = %+v, %v; want helse", us, err)
	}
}

// TestParseUnitsCSVCycleThroughHeld: a file unit whose parent chain runs
// through the stored units back to itself is a cycle too.
func TestParseUnitsCSVCycleThroughHeld(t *testing.T) {
	held := model.Org{Units: []model.Unit{{ID: "a", Name: "A", Parent: "b"}, {ID: "b", Name: "B"}}}
	_, rep, err := ParseUnitsCSV(strings.NewReader(unitHeader+"b,B,a,\n"), ParseOptions{}, held)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, map[int]string{2: "the parent chain b -> a -> b is a cycle"})
}

func TestParsePeopleCSV(t *testing.T) {
	held := model.Org{Units: []model.Unit{{ID: "helse"}, {ID: "kd"}}}
	csv := "\uFEFFID;Name;Email;Phone;Unit;Roles;Username;Lang\r\n" +
		"kari;Kari Nordmann;kari@kommune.no;+47 900 00 000;kd;Leder | sikkerhet leder;kari;EN\r\n" +
		"ola;Ola;;;;;;\r\n"
	ps, rep, err := ParsePeopleCSV(strings.NewReader(csv), ParseOptions{}, held)
	if err != nil || !rep.OK() {
		t.Fatalf("ParsePeopleCSV = %v: %s", err, rep.Error())
	}
	want := []model.Person{
		{ID: "kari", Name: "Kari Nordmann", Email: "kari@kommune.no", Phone: "+47 900 00 000", Unit: "kd",
			Roles: []string{"leder", "sikkerhet"}, Username: "kari", Lang: "en"},
		{ID: "ola", Name: "Ola", Lang: "nb"},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("ParsePeopleCSV\n%+v\nwant\n%+v", ps, want)
	}
}

func TestParsePeopleCSVProblems(t *testing.T) {
	csv := personHeader +
		"kari,Kari,kari@kommune,,,sikkerhet,kari,nb\n" + // 2
		"ola,Ola,Ola <ola@kommune.no>,,,,,\n" + // 3
		"per,Per,,ring meg,,,,\n" + // 4
		"siv,Siv,,,nowhere,,,\n" + // 5
		"tor,Tor,,,,lead€r,,\n" + // 6
		"ada,Ada,,,,,,de\n" + // 7
		"eva,Eva,,,,,eva,\n" + // 8: fine
		"kim,Kim,,,,,eva,\n" // 9
	_, rep, err := ParsePeopleCSV(strings.NewReader(csv), ParseOptions{}, heldOrg)
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, map[int]string{
		2: `email "kari@kommune" is not an e-mail address`,
		3: "is not an e-mail address",
		4: `phone "ring meg" is not a phone number`,
		5: `unit "nowhere" is not a registered unit`,
		6: "is not a role name",
		7: `lang "de": want nb or en`,
		9: `user name "eva" is also on line 8`,
	})
}

func TestParseSupplierPeopleCSV(t *testing.T) {
	csv := supplierHeader +
		"acme-ola,Ola Acme,Acme Drift AS,ola@acme.no,acme-svc | DOMAIN\\acme.ola | Acme Service,2026-01-15," + strings.ToUpper(shaA) + ",2027-01-15\n" +
		"acme-new,Ny Konsulent,Acme Drift AS,,,,,\n"
	sps, rep, err := ParseSupplierPeopleCSV(strings.NewReader(csv), ParseOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("ParseSupplierPeopleCSV = %v: %s", err, rep.Error())
	}
	want := []model.SupplierPerson{
		{ID: "acme-ola", Name: "Ola Acme", Supplier: "Acme Drift AS", Email: "ola@acme.no",
			Accounts:          []string{"acme-svc", `DOMAIN\acme.ola`, "Acme Service"},
			DeclarationSigned: day(2026, 1, 15), DeclarationSHA256: shaA, DeclarationExpires: day(2027, 1, 15)},
		{ID: "acme-new", Name: "Ny Konsulent", Supplier: "Acme Drift AS"},
	}
	if !reflect.DeepEqual(sps, want) {
		t.Errorf("ParseSupplierPeopleCSV\n%+v\nwant\n%+v", sps, want)
	}
	if !sps[0].DeclarationValid(day(2026, 6, 1)) || sps[0].DeclarationValid(day(2027, 1, 15)) || sps[1].DeclarationValid(day(2026, 6, 1)) {
		t.Error("DeclarationValid wrong")
	}
}

func TestParseSupplierPeopleCSVProblems(t *testing.T) {
	csv := supplierHeader +
		"a,A,Acme,,svc-a,2026-13-01," + shaA + ",\n" + // 2
		"b,B,Acme,,,2026-01-01,abc,\n" + // 3
		"c,C,Acme,,,," + shaA + ",\n" + // 4
		"d,D,Acme,,,2026-01-01,,\n" + // 5
		"e,E,Acme,,,2026-01-01," + shaA + ",2025-12-31\n" + // 6
		"f,F,,,,,,\n" + // 7
		"g,G,Acme,,svc-g,,,\n" + // 8: fine
		"h,H,Acme,,svc-h|SVC-G,,,\n" // 9
	_, rep, err := ParseSupplierPeopleCSV(strings.NewReader(csv), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantProblems(t, rep, map[int]string{
		2: `declaration_signed "2026-13-01" is not a date YYYY-MM-DD`,
		3: `declaration_sha256 "abc" is not a SHA-256 digest`,
		4: "declaration_signed is empty",
		5: "declaration_sha256 is empty",
		6: "declaration_expires 2025-12-31 is not after declaration_signed",
		7: "supplier is empty",
		9: `account "SVC-G" is also on line 8`,
	})
}

func TestParseSharedSolutionsCSVProblems(t *testing.T) {
	csv := sharedHeader +
		"srv-delt,admin skole,kari,2026-02-01," + shaA + ",2027-02-01,Risiko akseptert av rådmannen\n" + // 2: fine
		"srv-2,admin,kari,2026-02-01," + shaA + ",,\n" + // 3
		"srv 3,admin skole,kari,2026-02-01," + shaA + ",,\n" + // 4
		"srv-4,admin skole,,2026-02-01," + shaA + ",,\n" + // 5
		"srv-5,admin skole,kari,,,,\n" + // 6
		"srv-6,admin skole,kari,2026-02-01," + shaA + ",2026-01-01,\n" + // 7
		"srv-delt,admin skole,kari,2026-02-01," + shaA + ",,\n" // 8
	ss, rep, err := ParseSharedSolutionsCSV(strings.NewReader(csv), ParseOptions{})
	if err != nil || ss != nil {
		t.Fatalf("ParseSharedSolutionsCSV = %v, %v", ss, err)
	}
	wantProblems(t, rep, map[int]string{
		3: "zones names 1 zone(s)",
		4: "holds a space",
		5: "risk_accepted_by is empty",
		6: "risk_accepted_at is empty",
		7: "expires 2026-01-01 is not after risk_accepted_at",
		8: `host "srv-delt" repeats line 2`,
	})
	if !strings.Contains(rep.Error(), "line 6: document_sha256 is empty") {
		t.Errorf("report %s\nlacks the missing document hash", rep.Error())
	}
}

func TestParseOrgCSVFatal(t *testing.T) {
	for _, tc := range []struct {
		name, csv, want string
	}{
		{"empty", "", "the file is empty"},
		{"unknown column", "id,name,boss\n", `unknown column "boss"`},
		{"missing column", "id\nhelse\n", "missing column name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us, rep, err := ParseUnitsCSV(strings.NewReader(tc.csv), ParseOptions{ValidOnly: true}, heldOrg)
			if err != nil || us != nil || !rep.Fatal || !strings.Contains(rep.Error(), tc.want) {
				t.Errorf("ParseUnitsCSV = %v, %v, %+v; want fatal %q", us, err, rep, tc.want)
			}
		})
	}
}

// TestOrgCSVRoundTrip writes every kind, formula-like cells included, and
// reads back exactly what was written.
func TestOrgCSVRoundTrip(t *testing.T) {
	units := []model.Unit{
		{ID: "kd", Name: "=HYPERLINK(\"http://x\")"},
		{ID: "helse", Name: "Helse, omsorg og \"velferd\"", Parent: "kd", Manager: "kari"},
	}
	people := []model.Person{
		{ID: "kari", Name: "@Kari", Email: "kari@kommune.no", Phone: "+47 900 00 000", Unit: "kd", Roles: []string{"sikkerhet", "leder"}, Username: "-kari", Lang: "en"},
		{ID: "ola", Name: "Ola", Lang: "nb"},
	}
	sps := []model.SupplierPerson{
		{ID: "acme-ola", Name: "Ola", Supplier: "+Acme", Accounts: []string{"=cmd' /C calc'!A0", `DOMAIN\acme.ola`},
			DeclarationSigned: day(2026, 1, 15), DeclarationSHA256: shaB, DeclarationExpires: day(2027, 1, 15)},
		{ID: "acme-new", Name: "Ny", Supplier: "Acme"},
	}
	ss := []model.SharedSolution{
		{Host: "srv-delt", Zones: []string{"admin", "skole"}, RiskAcceptedBy: "kari", RiskAcceptedAt: day(2026, 2, 1),
			DocumentSHA256: shaA, Note: "=1+1"},
	}
	held := model.Org{Units: units, People: people}

	var b bytes.Buffer
	if err := WriteUnitsCSV(&b, units); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), ",=") || !strings.Contains(b.String(), `'=HYPERLINK`) {
		t.Errorf("formula not neutralised:\n%s", b.String())
	}
	gotU, rep, err := ParseUnitsCSV(&b, ParseOptions{}, held)
	if err != nil || !rep.OK() || !reflect.DeepEqual(gotU, units) {
		t.Errorf("units round trip = %+v, %v, %s", gotU, err, rep.Error())
	}

	b.Reset()
	if err := WritePeopleCSV(&b, people); err != nil {
		t.Fatal(err)
	}
	gotP, rep, err := ParsePeopleCSV(&b, ParseOptions{}, held)
	if err != nil || !rep.OK() || !reflect.DeepEqual(gotP, people) {
		t.Errorf("people round trip = %+v, %v, %s", gotP, err, rep.Error())
	}

	b.Reset()
	if err := WriteSupplierPeopleCSV(&b, sps); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `'=cmd'`) || !strings.Contains(b.String(), `'+Acme`) {
		t.Errorf("formula not neutralised:\n%s", b.String())
	}
	gotS, rep, err := ParseSupplierPeopleCSV(&b, ParseOptions{})
	if err != nil || !rep.OK() || !reflect.DeepEqual(gotS, sps) {
		t.Errorf("suppliers round trip = %+v, %v, %s", gotS, err, rep.Error())
	}

	b.Reset()
	if err := WriteSharedSolutionsCSV(&b, ss); err != nil {
		t.Fatal(err)
	}
	gotSS, rep, err := ParseSharedSolutionsCSV(&b, ParseOptions{})
	if err != nil || !rep.OK() || !reflect.DeepEqual(gotSS, ss) {
		t.Errorf("shared solutions round trip = %+v, %v, %s", gotSS, err, rep.Error())
	}
}

func TestCheckOrg(t *testing.T) {
	units := []model.Unit{{ID: "kd"}, {ID: "helse", Parent: "kd", Manager: "ola"}}
	kari := model.Person{ID: "kari", Roles: []string{"sikkerhet"}, Username: "kari"}
	ola := model.Person{ID: "ola", Unit: "helse", Username: "ola"}
	tests := []struct {
		name   string
		units  []model.Unit
		people []model.Person
		want   string // "" for consistent
	}{
		{"consistent", units, []model.Person{kari, ola}, ""},
		{"empty", nil, nil, ""},
		{"units without people", []model.Unit{{ID: "kd"}}, nil, ""},
		{"no officer left", units, []model.Person{ola}, "removes the last information security officer (sikkerhet): kari"},
		{"manager gone", units, []model.Person{kari}, "unit helse: manager ola is not a registered person"},
		{"parent gone", units[1:], []model.Person{kari, ola}, "unit helse: parent kd is not a registered unit"},
		{"cycle", []model.Unit{{ID: "a", Parent: "b"}, {ID: "b", Parent: "a"}}, nil, "the parent chain a -> b -> a is a cycle"},
		{"person's unit gone", units[:1], []model.Person{kari, ola}, "person ola: unit helse is not a registered unit"},
		{"user name twice", units, []model.Person{kari, {ID: "x", Username: "kari"}, ola}, "person x: user name kari is also kari's"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := model.CheckOrg(tc.units, tc.people, []model.Person{kari, ola})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckOrg = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("CheckOrg = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestOrgValidators(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(string) bool
		in   string
		want bool
	}{
		{"slug", model.ValidSlug, "helse-og.omsorg_2", true},
		{"slug", model.ValidSlug, "", false},
		{"slug", model.ValidSlug, "-helse", false},
		{"slug", model.ValidSlug, "Helse", false},
		{"slug", model.ValidSlug, "helse omsorg", false},
		{"slug", model.ValidSlug, strings.Repeat("a", 65), false},
		{"email", model.ValidEmail, "kari.nordmann@namsos.kommune.no", true},
		{"email", model.ValidEmail, "kari@localhost", false},
		{"email", model.ValidEmail, "Kari <kari@kommune.no>", false},
		{"email", model.ValidEmail, "kari@", false},
		{"email", model.ValidEmail, "kari kommune.no", false},
		{"sha256", model.ValidSHA256, shaA, true},
		{"sha256", model.ValidSHA256, strings.ToUpper(shaA), false},
		{"sha256", model.ValidSHA256, shaA[:63], false},
		{"sha256", model.ValidSHA256, shaA[:63] + "g", false},
	} {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%s(%q) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}
