package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Errors of a collector wired without the software catalogue's CSV form.
var (
	errNoSoftwareCSVImport = errors.New("software catalogue CSV import is not configured")
	errNoSoftwareCSVExport = errors.New("software catalogue CSV export is not configured")
)

// maxSoftwareIDBytes bounds a catalogue entry's ID in a request path: the
// register's longest name and publisher patterns, verdict, source and colons.
const maxSoftwareIDBytes = 1024

// apiSoftwareEntry is one entry of the software catalogue in the JSON API.
type apiSoftwareEntry struct {
	ID          string `json:"id"`
	Verdict     string `json:"verdict"`
	NamePattern string `json:"name"`
	Publisher   string `json:"publisher"`
	Source      string `json:"source"`
	MinVersion  string `json:"min_version"`
	MaxVersion  string `json:"max_version"`
	Reason      string `json:"reason"`
	OwnerUnit   string `json:"owner_unit"`
	UpdatedAt   string `json:"updated_at,omitempty"`
	UpdatedBy   string `json:"updated_by,omitempty"`
}

func (s *Server) handleAPISoftwareCatalog(w http.ResponseWriter, r *http.Request) {
	entries, err := s.store.SoftwareCatalog(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("software catalogue: %w", err))
		return
	}
	out := make([]apiSoftwareEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, apiSoftwareEntry{
			ID: e.ID, Verdict: e.Verdict, NamePattern: e.NamePattern, Publisher: e.Publisher, Source: e.Source,
			MinVersion: e.MinVersion, MaxVersion: e.MaxVersion, Reason: e.Reason, OwnerUnit: e.OwnerUnit,
			UpdatedAt: apiTime(e.UpdatedAt), UpdatedBy: e.UpdatedBy,
		})
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []apiSoftwareEntry `json:"entries"`
	}{out})
}

// handleAPISoftwareCatalogCSV sends the software catalogue as a CSV
// download, written to memory first so that a failure is a clean error
// rather than half a file.
func (s *Server) handleAPISoftwareCatalogCSV(w http.ResponseWriter, r *http.Request) {
	if s.writeSoftwareCSV == nil {
		s.fail(w, r, errNoSoftwareCSVExport)
		return
	}
	entries, err := s.store.SoftwareCatalog(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("software catalogue: %w", err))
		return
	}
	var buf bytes.Buffer
	if err := s.writeSoftwareCSV(&buf, entries); err != nil {
		s.fail(w, r, fmt.Errorf("write software catalogue CSV: %w", err))
		return
	}
	sendCSV(w, "software-catalogue-"+s.now().Format("2006-01-02")+".csv", &buf)
}

// softwareImportOutcome is a catalogue import's answer: accepted with a
// result (the asset import's counts), refused because of problems in lines,
// or refused by the store (Conflict: a repeated entry or an entry the store
// finds invalid, with the store's message).
type softwareImportOutcome struct {
	Result   assetImportResult
	Refused  bool
	Problems []CSVProblem
	Conflict error
}

// importSoftware parses a CSV software catalogue and imports it for actor.
// Problems in any line refuse the whole import unless validOnly, in which
// case the good lines are imported and the bad ones reported as skipped.
// The store audits every change; softwareChanged hears of any.
func (s *Server) importSoftware(ctx context.Context, actor string, body io.Reader, replace, validOnly bool) (softwareImportOutcome, error) {
	if s.parseSoftwareCSV == nil {
		return softwareImportOutcome{}, errNoSoftwareCSVImport
	}
	entries, problems, err := s.parseSoftwareCSV(body, validOnly)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return softwareImportOutcome{}, refuse(errTooLarge, "problem.too_large", mbe.Limit)
		}
		return softwareImportOutcome{}, refuse(model.ErrInvalid, "problem.csv_unreadable", err.Error())
	}
	if len(problems) > 0 && !validOnly {
		return softwareImportOutcome{Refused: true, Problems: problems}, nil
	}
	ch, err := s.store.ImportSoftwareCatalog(ctx, entries, replace, actor, s.now())
	switch {
	case errors.Is(err, model.ErrConflict), errors.Is(err, model.ErrInvalid):
		return softwareImportOutcome{Conflict: err}, nil
	case err != nil:
		return softwareImportOutcome{}, fmt.Errorf("import software catalogue: %w", err)
	}
	if ch.Added+ch.Updated+ch.Removed > 0 {
		s.softwareCatalogChanged(ctx)
	}
	return softwareImportOutcome{Result: assetImportResult{
		Mode: modeName(replace), ValidOnly: validOnly,
		Added: ch.Added, Updated: ch.Updated, Removed: ch.Removed, Unchanged: ch.Unchanged,
		Skipped: capProblems(problems),
	}}, nil
}

// softwareCatalogChanged tells the rules that the catalogue changed, when
// the collector asked to hear of it.
func (s *Server) softwareCatalogChanged(ctx context.Context) {
	if s.onSoftwareChange != nil {
		s.onSoftwareChange(ctx)
	}
}

func (s *Server) handleAPISoftwareCatalogImport(w http.ResponseWriter, r *http.Request) {
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
	out, err := s.importSoftware(r.Context(), p.Name, r.Body, replace, validOnly)
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
		writeJSON(w, http.StatusOK, out.Result)
	}
}

func (s *Server) handleAPISoftwareEntryDelete(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	// An ID holds a name and a publisher pattern, so it may be longer than
	// other parameters.
	id := r.PathValue("id")
	if len(id) > maxSoftwareIDBytes || !utf8.ValidString(id) {
		s.fail(w, r, refuse(model.ErrInvalid, "problem.param", "id", maxSoftwareIDBytes))
		return
	}
	if id == "" {
		s.fail(w, r, refuse(model.ErrInvalid, "problem.software_id_required"))
		return
	}
	if err := s.store.DeleteSoftwareEntry(r.Context(), id, p.Name, s.now()); err != nil {
		s.fail(w, r, fmt.Errorf("delete software entry %q: %w", id, err))
		return
	}
	s.softwareCatalogChanged(r.Context())
	writeJSON(w, http.StatusOK, struct {
		Deleted string `json:"deleted"`
	}{id})
}

// softwareCatalogView is the software catalogue page.
type softwareCatalogView struct {
	Entries []model.SoftwareEntry
	// CanEdit reports whether the user may import (the upload form shows).
	CanEdit bool
	// The upload form, as sent.
	Mode      string
	ValidOnly bool
	// FormError is why the upload was refused as a whole (in the page's
	// language); Problems why, line by line.
	FormError     string
	Problems      []CSVProblem
	ProblemsTotal int
	// After an accepted import.
	Result *assetImportResult
	MaxMiB int
}

func (s *Server) handleSoftwareCatalogPage(w http.ResponseWriter, r *http.Request) {
	v := softwareCatalogView{Mode: "merge"}
	q := r.URL.Query()
	if q.Has("imported") {
		num := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return max(n, 0) }
		v.Result = &assetImportResult{Added: num("added"), Updated: num("updated"), Removed: num("removed"), Unchanged: num("unchanged")}
	}
	s.renderSoftwareCatalog(w, r, http.StatusOK, v)
}

func (s *Server) renderSoftwareCatalog(w http.ResponseWriter, r *http.Request, status int, v softwareCatalogView) {
	entries, err := s.store.SoftwareCatalog(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("software catalogue: %w", err))
		return
	}
	v.Entries = entries
	v.MaxMiB = maxCSVBytes >> 20
	if p := principalFrom(r.Context()); p != nil {
		v.CanEdit = s.allowed(p.Role, "POST /software/catalog")
	}
	s.render(w, r, status, "software_catalog", pageData{Title: "software_catalog.title", Nav: "software_catalog", Data: v})
}

// handleSoftwareCatalogUpload imports the software catalogue from the
// upload form. Success redirects to the page with the counts
// (Post/Redirect/Get); when lines were skipped the page is shown at once,
// so that they can be read.
func (s *Server) handleSoftwareCatalogUpload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	lang := langFrom(ctx)
	v := softwareCatalogView{Mode: r.PostFormValue("mode"), ValidOnly: r.PostFormValue("valid_only") != ""}
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
		s.renderSoftwareCatalog(w, r, status, v)
	}
	replace, f, err := csvUpload(r, v.ValidOnly)
	if err != nil {
		refused(err)
		return
	}
	defer f.Close()
	out, err := s.importSoftware(ctx, p.Name, f, replace, v.ValidOnly)
	if err != nil {
		refused(err)
		return
	}
	if out.Refused {
		v.FormError = translatef(lang, "register.refused", len(out.Problems))
		v.Problems, v.ProblemsTotal = capProblems(out.Problems), len(out.Problems)
		s.renderSoftwareCatalog(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if out.Conflict != nil {
		status, _ := errorStatus(out.Conflict)
		v.FormError = translatef(lang, "software_catalog.store_refused", out.Conflict.Error())
		s.renderSoftwareCatalog(w, r, status, v)
		return
	}
	res := out.Result
	if len(res.Skipped) > 0 {
		v.Result = &res
		s.renderSoftwareCatalog(w, r, http.StatusOK, v)
		return
	}
	u := url.Values{}
	u.Set("imported", "1")
	u.Set("added", strconv.Itoa(res.Added))
	u.Set("updated", strconv.Itoa(res.Updated))
	u.Set("removed", strconv.Itoa(res.Removed))
	u.Set("unchanged", strconv.Itoa(res.Unchanged))
	http.Redirect(w, r, "/software/catalog?"+u.Encode(), http.StatusSeeOther)
}
