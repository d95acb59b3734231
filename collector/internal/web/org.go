package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
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

// orgImportResult is what an accepted organisation import changed.
type orgImportResult struct {
	Kind      string `json:"kind"`
	Mode      string `json:"mode"`
	ValidOnly bool   `json:"valid_only"`
	Added     int    `json:"added"`
	Updated   int    `json:"updated"`
	Removed   int    `json:"removed"`
	Unchanged int    `json:"unchanged"`
	// Skipped are the lines left out with valid_only.
	Skipped []CSVProblem `json:"skipped,omitempty"`
}

// orgImportOutcome is an import's answer: accepted with a result, refused
// for problems in lines, or refused by the store (Conflict: the
// organisation would be inconsistent, with the store's message).
type orgImportOutcome struct {
	Result   orgImportResult
	Refused  bool
	Problems []CSVProblem
	Conflict error
}

// orgKind is how the web lists, exports and imports one kind of the
// organisation register; orgKindOf builds it from typed parts.
type orgKind struct {
	name   string // model.OrgUnits …
	list   func(ctx context.Context) (any, error)
	export func(ctx context.Context, w io.Writer) error
	// load parses body and imports it for actor at now.
	load func(ctx context.Context, actor string, body io.Reader, replace, validOnly bool, now time.Time) (orgImportOutcome, error)
}

// orgKindOf joins a kind's store calls, CSV form and API shape.
func orgKindOf[T any](name string, st model.OrgStore,
	list func(context.Context) ([]T, error),
	parse func(io.Reader, register.ParseOptions, model.Org) ([]T, register.Report, error),
	write func(io.Writer, []T) error,
	imp func(context.Context, []T, bool, string, time.Time) (model.RegisterChange, error),
	api func(T) any) orgKind {
	return orgKind{
		name: name,
		list: func(ctx context.Context) (any, error) {
			vs, err := list(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(vs))
			for _, v := range vs {
				out = append(out, api(v))
			}
			return out, nil
		},
		export: func(ctx context.Context, w io.Writer) error {
			vs, err := list(ctx)
			if err != nil {
				return err
			}
			return write(w, vs)
		},
		load: func(ctx context.Context, actor string, body io.Reader, replace, validOnly bool, now time.Time) (orgImportOutcome, error) {
			var held model.Org
			var err error
			if held.Units, err = st.Units(ctx); err != nil {
				return orgImportOutcome{}, fmt.Errorf("units: %w", err)
			}
			if held.People, err = st.People(ctx); err != nil {
				return orgImportOutcome{}, fmt.Errorf("people: %w", err)
			}
			vs, rep, err := parse(body, register.ParseOptions{ValidOnly: validOnly}, held)
			if err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return orgImportOutcome{}, refuse(errTooLarge, "problem.too_large", mbe.Limit)
				}
				return orgImportOutcome{}, refuse(model.ErrInvalid, "problem.csv_unreadable", err.Error())
			}
			problems := make([]CSVProblem, 0, len(rep.Problems))
			for _, p := range rep.Problems {
				problems = append(problems, CSVProblem{Line: p.Line, Message: p.Message})
			}
			if len(problems) > 0 && (!validOnly || rep.Fatal) {
				return orgImportOutcome{Refused: true, Problems: problems}, nil
			}
			ch, err := imp(ctx, vs, replace, actor, now)
			switch {
			case errors.Is(err, model.ErrConflict), errors.Is(err, model.ErrInvalid):
				return orgImportOutcome{Conflict: err}, nil
			case err != nil:
				return orgImportOutcome{}, fmt.Errorf("import %s: %w", name, err)
			}
			return orgImportOutcome{Result: orgImportResult{
				Kind: name, Mode: modeName(replace), ValidOnly: validOnly,
				Added: ch.Added, Updated: ch.Updated, Removed: ch.Removed, Unchanged: ch.Unchanged,
				Skipped: capProblems(problems),
			}}, nil
		},
	}
}

// parseIgnoringHeld adapts a CSV parser that needs nothing of the stored
// register to the form orgKindOf takes.
func parseIgnoringHeld[T any](parse func(io.Reader, register.ParseOptions) ([]T, register.Report, error)) func(io.Reader, register.ParseOptions, model.Org) ([]T, register.Report, error) {
	return func(r io.Reader, opts register.ParseOptions, _ model.Org) ([]T, register.Report, error) {
		return parse(r, opts)
	}
}

// orgKinds returns the organisation register's kinds by name.
func (s *Server) orgKinds() map[string]orgKind {
	st := s.store
	return map[string]orgKind{
		model.OrgUnits: orgKindOf(model.OrgUnits, st, st.Units, register.ParseUnitsCSV, register.WriteUnitsCSV, st.ImportUnits,
			func(u model.Unit) any {
				return apiUnit{u.ID, u.Name, u.Parent, u.Manager, apiTime(u.UpdatedAt), u.UpdatedBy}
			}),
		model.OrgPeople: orgKindOf(model.OrgPeople, st, st.People, register.ParsePeopleCSV, register.WritePeopleCSV, st.ImportPeople,
			func(p model.Person) any {
				return apiPerson{p.ID, p.Name, p.Email, p.Phone, p.Unit, emptyList(p.Roles), p.Username, p.Lang, apiTime(p.UpdatedAt), p.UpdatedBy}
			}),
		model.OrgSuppliers: orgKindOf(model.OrgSuppliers, st, st.SupplierPeople, parseIgnoringHeld(register.ParseSupplierPeopleCSV),
			register.WriteSupplierPeopleCSV, st.ImportSupplierPeople,
			func(p model.SupplierPerson) any {
				return apiSupplierPerson{p.ID, p.Name, p.Supplier, p.Email, emptyList(p.Accounts), dateOnly(p.DeclarationSigned),
					p.DeclarationSHA256, dateOnly(p.DeclarationExpires), p.DeclarationValid(s.now()), apiTime(p.UpdatedAt), p.UpdatedBy}
			}),
		model.OrgSharedSolutions: orgKindOf(model.OrgSharedSolutions, st, st.SharedSolutions, parseIgnoringHeld(register.ParseSharedSolutionsCSV),
			register.WriteSharedSolutionsCSV, st.ImportSharedSolutions,
			func(x model.SharedSolution) any {
				return apiSharedSolution{x.Host, emptyList(x.Zones), x.RiskAcceptedBy, dateOnly(x.RiskAcceptedAt), x.DocumentSHA256,
					dateOnly(x.Expires), x.Note, apiTime(x.UpdatedAt), x.UpdatedBy}
			}),
	}
}

// handleAPIOrgList answers GET /api/v1/org/<kind> with {"<kind>": [...]}.
func (s *Server) handleAPIOrgList(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := s.orgKinds()[kind].list(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("organisation register %s: %w", kind, err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{kind: out})
	}
}

// handleAPIOrgCSV sends one kind as a CSV download, written to memory first
// so that a failure is a clean error rather than half a file.
func (s *Server) handleAPIOrgCSV(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := s.orgKinds()[kind].export(r.Context(), &buf); err != nil {
			s.fail(w, r, fmt.Errorf("export organisation register %s: %w", kind, err))
			return
		}
		sendCSV(w, "org-"+kind+"-"+s.now().Format("2006-01-02")+".csv", &buf)
	}
}

// handleAPIOrgImport imports one kind from a CSV body, with mode and
// valid_only as for the asset register.
func (s *Server) handleAPIOrgImport(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		if err := requireContentType(r, "text/csv", "application/csv", "text/plain"); err != nil {
			s.fail(w, r, err)
			return
		}
		mode, err := queryParam(r, "mode")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		validOnly, err := queryBool(r, "valid_only")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		replace, err := importOptions(mode, validOnly)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out, err := s.orgKinds()[kind].load(r.Context(), p.Name, r.Body, replace, validOnly, s.now())
		switch {
		case err != nil:
			s.fail(w, r, err)
		case out.Refused:
			writeJSON(w, http.StatusUnprocessableEntity, apiError{
				Error:    translatef("en", "register.refused", len(out.Problems)),
				Code:     "problems",
				Problems: capProblems(out.Problems),
			})
		case out.Conflict != nil:
			status, key := errorStatus(out.Conflict)
			writeJSON(w, status, apiError{Error: out.Conflict.Error(), Code: strings.TrimPrefix(key, "error.")})
		default:
			s.orgChanged(r.Context(), out.Result)
			writeJSON(w, http.StatusOK, out.Result)
		}
	}
}

// orgChanged tells Config.OrgChanged of an import that changed something.
func (s *Server) orgChanged(ctx context.Context, res orgImportResult) {
	if s.onOrgChange != nil && res.Added+res.Updated+res.Removed > 0 {
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
	s.orgChanged(r.Context(), orgImportResult{Removed: 1})
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
	// and shared solutions; Edit whether they may import.
	ShowSuppliers bool
	Edit          bool
	Kinds         []string // the kinds the upload form offers
	// The upload form, as sent.
	Kind      string
	Mode      string
	ValidOnly bool
	// FormError is why the upload was refused as a whole (in the page's
	// language); Problems why, line by line.
	FormError     string
	Problems      []CSVProblem
	ProblemsTotal int
	// After an accepted import.
	Result *orgImportResult
	MaxMiB int
}

func (s *Server) handleOrgPage(w http.ResponseWriter, r *http.Request) {
	v := orgView{Mode: "merge", Kind: model.OrgUnits}
	q := r.URL.Query()
	if q.Has("imported") && slices.Contains(model.OrgKinds, q.Get("kind")) {
		num := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return max(n, 0) }
		v.Kind = q.Get("kind")
		v.Result = &orgImportResult{Kind: v.Kind, Added: num("added"), Updated: num("updated"), Removed: num("removed"), Unchanged: num("unchanged")}
	}
	s.renderOrg(w, r, http.StatusOK, v)
}

func (s *Server) renderOrg(w http.ResponseWriter, r *http.Request, status int, v orgView) {
	ctx := r.Context()
	p := principalFrom(ctx)
	v.ShowSuppliers = p != nil && s.allowed(p.Role, "GET /api/v1/org/suppliers")
	v.Edit = p != nil && s.allowed(p.Role, "POST /org")
	v.Kinds = model.OrgKinds
	v.Now = s.now()
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
	v.MaxMiB = maxCSVBytes >> 20
	s.render(w, r, status, "org", pageData{Title: "org.title", Nav: "org", Data: v})
}

// handleOrgUpload imports one kind from the upload form. Success redirects
// to the page with the counts (Post/Redirect/Get); when lines were skipped
// the page is shown at once, so that they can be read.
func (s *Server) handleOrgUpload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	lang := langFrom(ctx)
	v := orgView{Kind: r.PostFormValue("kind"), Mode: r.PostFormValue("mode"), ValidOnly: r.PostFormValue("valid_only") != ""}
	if v.Mode != "replace" {
		v.Mode = "merge"
	}
	refused := func(err error) {
		var ue *userError
		if !errors.As(err, &ue) {
			s.fail(w, r, err)
			return
		}
		status, _ := errorStatus(err)
		v.FormError = ue.message(lang)
		s.renderOrg(w, r, status, v)
	}
	k, ok := s.orgKinds()[v.Kind]
	if !ok {
		v.Kind = model.OrgUnits
		refused(refuse(model.ErrInvalid, "org.problem.kind"))
		return
	}
	replace, f, err := csvUpload(r, v.ValidOnly)
	if err != nil {
		refused(err)
		return
	}
	defer f.Close()
	out, err := k.load(ctx, p.Name, f, replace, v.ValidOnly, s.now())
	if err != nil {
		refused(err)
		return
	}
	if out.Refused {
		v.FormError = translatef(lang, "register.refused", len(out.Problems))
		v.Problems, v.ProblemsTotal = capProblems(out.Problems), len(out.Problems)
		s.renderOrg(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if out.Conflict != nil {
		status, _ := errorStatus(out.Conflict)
		v.FormError = translatef(lang, "org.store_refused", out.Conflict.Error())
		s.renderOrg(w, r, status, v)
		return
	}
	res := out.Result
	s.orgChanged(ctx, res)
	if len(res.Skipped) > 0 {
		v.Result = &res
		s.renderOrg(w, r, http.StatusOK, v)
		return
	}
	u := url.Values{}
	u.Set("imported", "1")
	u.Set("kind", v.Kind)
	u.Set("added", strconv.Itoa(res.Added))
	u.Set("updated", strconv.Itoa(res.Updated))
	u.Set("removed", strconv.Itoa(res.Removed))
	u.Set("unchanged", strconv.Itoa(res.Unchanged))
	http.Redirect(w, r, "/org?"+u.Encode(), http.StatusSeeOther)
}

// leaderScope is which deviations a line manager (leder) sees and handles:
// those assigned to them in person, and those filed under a unit they
// manage or one below it (deviation.Router.UnitsManagedBy).
type leaderScope struct {
	assignees map[string]bool // "person:<id>" and "unit:<id>:leder"
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
