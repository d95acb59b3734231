package deviation

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// orgFixture is a small municipality: the chief executive's office on top,
// health below it with nursing homes below that; nursing homes has no
// manager of its own, schools none anywhere above it.
func orgFixture() ([]model.Unit, []model.Person) {
	units := []model.Unit{
		{ID: "kd", Name: "Kommunedirektøren", Manager: "kari"},
		{ID: "helse", Name: "Helse og omsorg", Parent: "kd", Manager: "ola"},
		{ID: "sykehjem", Name: "Sykehjem", Parent: "helse"},
		{ID: "avd-a", Name: "Avdeling A", Parent: "sykehjem", Manager: "per"},
		{ID: "skole", Name: "Skole"},
	}
	people := []model.Person{
		{ID: "kari", Name: "Kari Nordmann", Email: "kari@kommune.no", Unit: "kd", Roles: []string{"leder"}, Username: "kari", Lang: "nb"},
		{ID: "ola", Name: "Ola Hansen", Email: "ola@kommune.no", Unit: "helse", Roles: []string{"leder"}, Username: "ola", Lang: "en"},
		{ID: "per", Name: "Per Berg", Email: "per@kommune.no", Unit: "avd-a", Roles: []string{"leder"}},
		{ID: "siri", Name: "Siri Sikker", Email: "siri@kommune.no", Unit: "kd", Roles: []string{"sikkerhet"}, Username: "siri", Lang: "nb"},
	}
	return units, people
}

var fallbackOfficer = Recipient{Email: "sikkerhet@kommune.no", Name: "Informasjonssikkerhetsansvarlig"}

func TestRouterRoute(t *testing.T) {
	units, people := orgFixture()
	siri := Recipient{Assignee: "person:siri", Email: "siri@kommune.no", Lang: "nb", Name: "Siri Sikker"}
	ola := Recipient{Assignee: "person:ola", Email: "ola@kommune.no", Lang: "en", Name: "Ola Hansen"}
	per := Recipient{Assignee: "person:per", Email: "per@kommune.no", Lang: "nb", Name: "Per Berg"}
	fb := Recipient{Assignee: SecurityOfficer, Email: "sikkerhet@kommune.no", Lang: "nb", Name: "Informasjonssikkerhetsansvarlig"}
	withSecondOfficer := append(append([]model.Person(nil), people...),
		model.Person{ID: "anne", Name: "Anne Vakt", Email: "anne@kommune.no", Roles: []string{"drift", "sikkerhet"}, Lang: "en"})
	tests := []struct {
		name   string
		people []model.Person
		unit   string
		want   []Recipient
	}{
		{"no unit", people, "", []Recipient{siri}},
		{"unknown unit", people, "finnes-ikke", []Recipient{siri}},
		{"unit with manager", people, "helse", []Recipient{siri, ola}},
		{"manager missing walks up", people, "sykehjem", []Recipient{siri, ola}},
		{"own manager below one without", people, "avd-a", []Recipient{siri, per}},
		{"no manager anywhere above", people, "skole", []Recipient{siri, {Assignee: "unit:skole:leder", Lang: "nb"}}},
		{"no officer registered: fallback", nil, "helse", []Recipient{fb, {Assignee: "unit:helse:leder", Lang: "nb"}}},
		{"no officer registered, no unit", nil, "", []Recipient{fb}},
		{"two officers, sorted", withSecondOfficer, "helse",
			[]Recipient{{Assignee: "person:anne", Email: "anne@kommune.no", Lang: "en", Name: "Anne Vakt"}, siri, ola}},
		{"officer is also the manager: once", []model.Person{{ID: "ola", Name: "Ola Hansen", Email: "ola@kommune.no", Roles: []string{"leder", "sikkerhet"}, Lang: "en"}},
			"helse", []Recipient{ola}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRouter(units, tc.people, fallbackOfficer)
			if got := r.Route(tc.unit); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Route(%q) = %+v, want %+v", tc.unit, got, tc.want)
			}
		})
	}
}

// TestRouteCycle: the register refuses parent cycles, but a Router built
// from one anyway still ends.
func TestRouterCycle(t *testing.T) {
	units := []model.Unit{{ID: "a", Parent: "b"}, {ID: "b", Parent: "a"}, {ID: "c", Parent: "c"}}
	r := NewRouter(units, nil, fallbackOfficer)
	for _, u := range []string{"a", "b", "c"} {
		got := r.Route(u)
		if len(got) != 2 || got[0].Assignee != SecurityOfficer || got[1].Assignee != UnitManager(u) {
			t.Errorf("Route(%q) = %+v, want the fallback officer and the unit", u, got)
		}
	}
	if got := r.UnitsManagedBy("x"); got != nil {
		t.Errorf("UnitsManagedBy(x) = %v, want none", got)
	}
}

func TestRouterDoesNotShareSlices(t *testing.T) {
	units, people := orgFixture()
	r := NewRouter(units, people, fallbackOfficer)
	a := r.Route("helse")
	a[0].Email = "changed"
	if b := r.Route(""); b[0].Email != "siri@kommune.no" {
		t.Errorf("Route after changing an earlier answer = %+v", b)
	}
}

func TestRouterAssignees(t *testing.T) {
	units, people := orgFixture()
	r := NewRouter(units, people, fallbackOfficer)
	tests := []struct {
		unit string
		want []string
	}{
		{"", []string{"person:siri"}},
		{"nope", []string{"person:siri"}},
		{"sykehjem", []string{"person:siri", "person:ola", "unit:sykehjem:leder"}},
		{"skole", []string{"person:siri", "unit:skole:leder"}},
	}
	for _, tc := range tests {
		if got := r.Assignees(tc.unit); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Assignees(%q) = %v, want %v", tc.unit, got, tc.want)
		}
	}
}

func TestRouterUnitsManagedBy(t *testing.T) {
	units, people := orgFixture()
	r := NewRouter(units, people, fallbackOfficer)
	tests := []struct {
		user string
		want []string
	}{
		{"kari", []string{"avd-a", "helse", "kd", "sykehjem"}},
		{"ola", []string{"avd-a", "helse", "sykehjem"}},
		{"siri", nil}, // an officer who manages nothing
		{"per", nil},  // per has no user name
		{"", nil},
		{"ukjent", nil},
	}
	for _, tc := range tests {
		if got := r.UnitsManagedBy(tc.user); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("UnitsManagedBy(%q) = %v, want %v", tc.user, got, tc.want)
		}
	}
}

// BenchmarkNewRouterRoute builds a Router over 200 units (four levels) and
// 5 000 people and routes one deviation, as an engine that rebuilds the
// Router for every evaluation would.
func BenchmarkNewRouterRoute(b *testing.B) {
	units := make([]model.Unit, 200)
	people := make([]model.Person, 5000)
	for i := range units {
		u := model.Unit{ID: fmt.Sprintf("u%03d", i), Name: "Unit"}
		if i > 0 {
			u.Parent = fmt.Sprintf("u%03d", (i-1)/4)
		}
		if i%3 == 0 {
			u.Manager = fmt.Sprintf("p%04d", i)
		}
		units[i] = u
	}
	for i := range people {
		people[i] = model.Person{ID: fmt.Sprintf("p%04d", i), Name: "Person", Email: "p@kommune.no", Unit: units[i%len(units)].ID}
	}
	people[1].Roles = []string{model.OrgRoleSikkerhet}
	for b.Loop() {
		r := NewRouter(units, people, fallbackOfficer)
		if got := r.Route("u199"); len(got) != 2 {
			b.Fatalf("Route = %+v", got)
		}
	}
}
