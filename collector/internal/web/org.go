package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/deviation"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
)

// The organisation register (S1.2, S2.2, S2.3, S5.2, S10.1) in the UI and
// the API: units, people, supplier personnel and shared-solution machines,
// each listed, exported and imported in its CSV form (register's), and
// deleted by id. Its CSV form is the register package's own: there is one,
// and the web needs nothing else from the collector to offer it.

// orgReaders may read supplier personnel and shared solutions: everyone
// but line managers, who read units and people.
var orgReaders = []model.Role{model.RoleAdmin, model.RoleDrift, model.RoleSikkerhet, model.RoleRevisor}

// dateOnly renders a register date for the API; "" for none.
func dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// emptyList keeps a list a JSON array when empty.
func emptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// apiUnit is an organisational unit in the JSON API.
type apiUnit struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Parent    string `json:"parent"`
	Manager   string `json:"manager"`
	UpdatedAt string `json:"updated_at,omitempty"`
	UpdatedBy string `json:"updated_by,omitempty"`
}

// apiPerson is a person in the JSON API.
type apiPerson struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Email     string   `json:"email"`
	Phone     string   `json:"phone"`
	Unit      string   `json:"unit"`
	Roles     []string `json:"roles"`
	Username  string   `json:"username"`
	Lang      string   `json:"lang"`
	UpdatedAt string   `json:"updated_at,omitempty"`
	UpdatedBy string   `json:"updated_by,omitempty"`
}

// apiSupplierPerson is one of a supplier's staff in the JSON API.
type apiSupplierPerson struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Supplier           string   `json:"supplier"`
	Email              string   `json:"email"`
	Accounts           []string `json:"accounts"`
	DeclarationSigned  string   `json:"declaration_signed"`
	DeclarationSHA256  string   `json:"declaration_sha256"`
	DeclarationExpires string   `json:"declaration_expires"`
	// DeclarationValid reports whether the declaration is signed and not
	// expired now.
	DeclarationValid bool   `json:"declaration_valid"`
	UpdatedAt        string `json:"updated_at,omitempty"`
	UpdatedBy        string `json:"updated_by,omitempty"`
}

// apiSharedSolution is a shared-solution machine in the JSON API.
type apiSharedSolution struct {
	Host           string   `json:"host"`
	Zones          []string `json:"zones"`
	RiskAcceptedBy string   `json:"risk_accepted_by"`
	RiskAcceptedAt string   `json:"risk_accepted_at"`
	DocumentSHA256 string   `json:"document_sha256"`
	Expires        string   `json:"expires"`
	Note           string   `json:"note"`
	UpdatedAt      string   `json:"updated_at,omitempty"`
	UpdatedBy      string   `json:"updated_by,omitempty"`
}

// orgParser adapts a kind's CSV parser, which checks the file against the
// units and people held, to csvParts.
func orgParser[T any](st model.OrgStore, parse func(io.Reader, register.ParseOptions, model.Org) ([]T, register.Report, error)) func(context.Context, io.Reader, bool) (csvParse[T], error) {
	return func(ctx context.Context, body io.Reader, validOnly bool) (csvParse[T], error) {
		var held model.Org
		var err error
		if held.Units, err = st.Units(ctx); err != nil {
			return csvParse[T]{}, fmt.Errorf("units: %w", err)
		}
		if held.People, err = st.People(ctx); err != nil {
			return csvParse[T]{}, fmt.Errorf("people: %w", err)
		}
		vs, rep, err := parse(body, register.ParseOptions{ValidOnly: validOnly}, held)
		if err != nil {
			return csvParse[T]{}, csvReadError(err)
		}
		problems := make([]CSVProblem, 0, len(rep.Problems))
		for _, p := range rep.Problems {
			problems = append(problems, CSVProblem{Line: p.Line, Message: p.Message})
		}
		return csvParse[T]{entries: vs, problems: problems, fatal: rep.Fatal}, nil
	}
}

// parseIgnoringHeld adapts a CSV parser that needs nothing of the stored
// register to the form orgParser takes.
func parseIgnoringHeld[T any](parse func(io.Reader, register.ParseOptions) ([]T, register.Report, error)) func(io.Reader, register.ParseOptions, model.Org) ([]T, register.Report, error) {
	return func(r io.Reader, opts register.ParseOptions, _ model.Org) ([]T, register.Report, error) {
		return parse(r, opts)
	}
}

// orgKindOf is one kind of the organisation register in its CSV form.
func orgKindOf[T any](s *Server, kind string, p csvParts[T]) csvRegister {
	p.conflicts = true
	p.after = func(ctx context.Context, res *importResult) { s.orgChanged(ctx, *res) }
	return csvRegisterOf(csvRegister{name: "organisation register " + kind, kind: kind, file: "org-" + kind, field: kind, page: "/org", keys: "org"}, p, s.now)
}

// orgKinds returns the organisation register's kinds by name.
func (s *Server) orgKinds() map[string]csvRegister {
	st := s.store
	return map[string]csvRegister{
		model.OrgUnits: orgKindOf(s, model.OrgUnits, csvParts[model.Unit]{
			list: st.Units, parse: orgParser(st, register.ParseUnitsCSV), write: register.WriteUnitsCSV, store: st.ImportUnits,
			api: func(u model.Unit) any {
				return apiUnit{u.ID, u.Name, u.Parent, u.Manager, apiTime(u.UpdatedAt), u.UpdatedBy}
			}}),
		model.OrgPeople: orgKindOf(s, model.OrgPeople, csvParts[model.Person]{
			list: st.People, parse: orgParser(st, register.ParsePeopleCSV), write: register.WritePeopleCSV, store: st.ImportPeople,
			api: func(p model.Person) any {
				return apiPerson{p.ID, p.Name, p.Email, p.Phone, p.Unit, emptyList(p.Roles), p.Username, p.Lang, apiTime(p.UpdatedAt), p.UpdatedBy}
			}}),
		model.OrgSuppliers: orgKindOf(s, model.OrgSuppliers, csvParts[model.SupplierPerson]{
			list: st.SupplierPeople, parse: orgParser(st, parseIgnoringHeld(register.ParseSupplierPeopleCSV)),
			write: register.WriteSupplierPeopleCSV, store: st.ImportSupplierPeople,
			api: func(p model.SupplierPerson) any {
				return apiSupplierPerson{p.ID, p.Name, p.Supplier, p.Email, emptyList(p.Accounts), dateOnly(p.DeclarationSigned),
					p.DeclarationSHA256, dateOnly(p.DeclarationExpires), p.DeclarationValid(s.now()), apiTime(p.UpdatedAt), p.UpdatedBy}
			}}),
		model.OrgSharedSolutions: orgKindOf(s, model.OrgSharedSolutions, csvParts[model.SharedSolution]{
			list: st.SharedSolutions, parse: orgParser(st, parseIgnoringHeld(register.ParseSharedSolutionsCSV)),
			write: register.WriteSharedSolutionsCSV, store: st.ImportSharedSolutions,
			api: func(x model.SharedSolution) any {
				return apiSharedSolution{x.Host, emptyList(x.Zones), x.RiskAcceptedBy, dateOnly(x.RiskAcceptedAt), x.DocumentSHA256,
					dateOnly(x.Expires), x.Note, apiTime(x.UpdatedAt), x.UpdatedBy}
			}}),
	}
}

// handleAPIOrgList answers GET /api/v1/org/<kind> with {"<kind>": [...]}.
func (s *Server) handleAPIOrgList(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveCSVList(w, r, s.orgKinds()[kind]) }
}

// handleAPIOrgCSV sends one kind as a CSV download.
func (s *Server) handleAPIOrgCSV(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveCSVExport(w, r, s.orgKinds()[kind]) }
}

// handleAPIOrgImport imports one kind from a CSV body, with mode and
// valid_only as for the asset register.
func (s *Server) handleAPIOrgImport(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.serveCSVImport(w, r, s.orgKinds()[kind]) }
}

// orgChanged tells Config.OrgChanged of a change.
func (s *Server) orgChanged(ctx context.Context, res importResult) {
	if s.onOrgChange != nil && res.changed() {
		s.onOrgChange(ctx)
	}
}

func (s *Server) handleAPIOrgDelete(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	kind := r.PathValue("kind")
	if !slices.Contains(model.OrgKinds, kind) {
		s.fail(w, r, fmt.Errorf("organisation register kind %.40q: %w", kind, model.ErrNotFound))
		return
	}
	id, err := checkParam("id", r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if id == "" {
		s.fail(w, r, refuse(model.ErrInvalid, "org.problem.id_required"))
		return
	}
	if err := s.store.DeleteOrgEntry(r.Context(), kind, id, p.Name, s.now()); err != nil {
		if errors.Is(err, model.ErrConflict) {
			status, key := errorStatus(err)
			writeJSON(w, status, apiError{Error: err.Error(), Code: strings.TrimPrefix(key, "error.")})
			return
		}
		s.fail(w, r, fmt.Errorf("delete %s %q: %w", kind, id, err))
		return
	}
	s.orgChanged(r.Context(), importResult{Removed: 1})
	writeJSON(w, http.StatusOK, struct {
		Kind    string `json:"kind"`
		Deleted string `json:"deleted"`
	}{kind, id})
}

// orgView is the organisation register page.
type orgView struct {
	Units     []model.Unit
	People    []model.Person
	Suppliers []model.SupplierPerson
	Shared    []model.SharedSolution
	Now       time.Time
	// ShowSuppliers reports whether the viewer may read supplier personnel
	// and shared solutions.
	ShowSuppliers bool
	csvForm
}

func (s *Server) handleOrgPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := csvForm{Mode: "merge", Kind: model.OrgUnits}
	if kind := q.Get("kind"); q.Has("imported") && slices.Contains(model.OrgKinds, kind) {
		f = importedCSVForm(q)
		f.Kind, f.Result.Kind = kind, kind
	}
	s.renderOrg(w, r, http.StatusOK, f)
}

func (s *Server) renderOrg(w http.ResponseWriter, r *http.Request, status int, f csvForm) {
	ctx := r.Context()
	p := principalFrom(ctx)
	v := orgView{ShowSuppliers: p != nil && s.allowed(p.Role, "GET /api/v1/org/suppliers"), Now: s.now()}
	var err error
	if v.Units, err = s.store.Units(ctx); err == nil {
		v.People, err = s.store.People(ctx)
	}
	if err == nil && v.ShowSuppliers {
		if v.Suppliers, err = s.store.SupplierPeople(ctx); err == nil {
			v.Shared, err = s.store.SharedSolutions(ctx)
		}
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("organisation register: %w", err))
		return
	}
	v.csvForm = s.csvFormFor(r, s.orgKinds()[model.OrgUnits], f)
	v.Kinds = model.OrgKinds
	s.render(w, r, status, "org", pageData{Title: "org.title", Nav: "org", Data: v})
}

// handleOrgUpload imports one kind from the upload form.
func (s *Server) handleOrgUpload(w http.ResponseWriter, r *http.Request) {
	f := postedCSVForm(r)
	f.Kind = r.PostFormValue("kind")
	render := func(status int, f csvForm) { s.renderOrg(w, r, status, f) }
	reg, ok := s.orgKinds()[f.Kind]
	if !ok {
		f.Kind = model.OrgUnits
		s.csvUploadRefused(w, r, refuse(model.ErrInvalid, "org.problem.kind"), f, render)
		return
	}
	s.serveCSVUpload(w, r, reg, f, render)
}

// leaderScope is which deviations a line manager (leder) sees and handles:
// those assigned to them in person, and those filed under a unit they
// manage or one below it (deviation.Router.UnitsManagedBy).
type leaderScope struct {
	assignees map[string]bool // "person:<id>", "unit:<id>:leder" and "user:<name>"
}

// leaderScopeOf reads the organisation register for the scope of the line
// manager with UI user name username; a user the register does not know
// sees nothing.
func (s *Server) leaderScopeOf(ctx context.Context, username string) (leaderScope, error) {
	units, err := s.store.Units(ctx)
	if err != nil {
		return leaderScope{}, fmt.Errorf("units: %w", err)
	}
	people, err := s.store.People(ctx)
	if err != nil {
		return leaderScope{}, fmt.Errorf("people: %w", err)
	}
	sc := leaderScope{assignees: map[string]bool{}}
	if username != "" {
		sc.assignees["user:"+username] = true // assigned by hand (assign.go)
	}
	for _, p := range people {
		if username != "" && p.Username == username {
			sc.assignees[deviation.PersonAssignee(p.ID)] = true
		}
	}
	for _, u := range deviation.NewRouter(units, people, deviation.Recipient{}).UnitsManagedBy(username) {
		sc.assignees[deviation.UnitManager(u)] = true
	}
	return sc, nil
}

// sees reports whether a deviation with assignees is in the scope.
func (l leaderScope) sees(assignees []string) bool {
	return slices.ContainsFunc(assignees, func(a string) bool { return l.assignees[a] })
}
