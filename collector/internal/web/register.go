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

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// maxProblemsShown is how many problem lines a refused import reports.
const maxProblemsShown = 1000

// Errors of a collector wired without the register's CSV form.
var (
	errNoCSVImport = errors.New("media register CSV import is not configured")
	errNoCSVExport = errors.New("media register CSV export is not configured")
)

// apiMediaEntry is one media register entry in the JSON API.
type apiMediaEntry struct {
	Key                string `json:"key"`
	VID                string `json:"vid"`
	PID                string `json:"pid"`
	Serial             string `json:"serial"`
	MarkingID          string `json:"marking_id"`
	OwnerUnit          string `json:"owner_unit"`
	Classification     string `json:"classification"`
	EncryptionRequired bool   `json:"encryption_required"`
	Note               string `json:"note"`
	UpdatedAt          string `json:"updated_at,omitempty"`
	UpdatedBy          string `json:"updated_by,omitempty"`
}

func (s *Server) handleAPIRegister(w http.ResponseWriter, r *http.Request) {
	entries, err := s.store.MediaRegister(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("media register: %w", err))
		return
	}
	out := make([]apiMediaEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, apiMediaEntry{
			Key: e.Key(), VID: e.VID, PID: e.PID, Serial: e.Serial, MarkingID: e.MarkingID,
			OwnerUnit: e.OwnerUnit, Classification: e.Classification, EncryptionRequired: e.EncryptionRequired,
			Note: e.Note, UpdatedAt: apiTime(e.UpdatedAt), UpdatedBy: e.UpdatedBy,
		})
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []apiMediaEntry `json:"entries"`
	}{out})
}

// handleAPIRegisterCSV sends the register as a CSV download. It is written to
// memory first, so that a failure is a clean error rather than half a file.
func (s *Server) handleAPIRegisterCSV(w http.ResponseWriter, r *http.Request) {
	if s.writeCSV == nil {
		s.fail(w, r, errNoCSVExport)
		return
	}
	entries, err := s.store.MediaRegister(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("media register: %w", err))
		return
	}
	var buf bytes.Buffer
	if err := s.writeCSV(&buf, entries); err != nil {
		s.fail(w, r, fmt.Errorf("write media register CSV: %w", err))
		return
	}
	sendCSV(w, "media-register-"+s.now().Format("2006-01-02")+".csv", &buf)
}

// csvUpload reads an upload form's mode and file, given whether only the
// valid lines are wanted: the file's content, bounded by maxCSVBytes, to be
// closed by the caller. Errors are userErrors fit for the form.
func csvUpload(r *http.Request, validOnly bool) (replace bool, body io.ReadCloser, err error) {
	replace, err = importOptions(r.PostFormValue("mode"), validOnly)
	if err != nil {
		return false, nil, err
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return false, nil, refuse(model.ErrInvalid, "problem.no_file")
	}
	if hdr.Size > maxCSVBytes {
		f.Close()
		return false, nil, refuse(errTooLarge, "problem.too_large", int64(maxCSVBytes))
	}
	return replace, struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, maxCSVBytes), f}, nil
}

// sendCSV answers with buf as a CSV download named name.
func sendCSV(w http.ResponseWriter, name string, buf *bytes.Buffer) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w)
}

// importResult is what an accepted import changed.
type importResult struct {
	Mode      string `json:"mode"`
	ValidOnly bool   `json:"valid_only"`
	Added     int    `json:"added"`
	Updated   int    `json:"updated"`
	Removed   int    `json:"removed"`
	Unchanged int    `json:"unchanged"`
	// Skipped are the lines left out with valid_only.
	Skipped []CSVProblem `json:"skipped,omitempty"`
	// PolicySynced reports whether the new allow-list is on its way to the
	// agents; when false the register changed all the same.
	PolicySynced bool   `json:"policy_synced"`
	Warning      string `json:"warning,omitempty"`
}

// importOutcome is an import's answer: accepted with a result, or refused
// because of problems, with nothing imported.
type importOutcome struct {
	Result   importResult
	Refused  bool
	Problems []CSVProblem
}

// importOptions reads the mode (merge, the default, or replace) and whether
// bad lines are skipped. Skipping with replace is refused: the entries on the
// skipped lines would silently leave the register.
func importOptions(mode string, validOnly bool) (replace bool, err error) {
	switch mode {
	case "", "merge":
	case "replace":
		replace = true
	default:
		return false, refuse(model.ErrInvalid, "problem.mode")
	}
	if replace && validOnly {
		return false, refuse(model.ErrInvalid, "problem.replace_valid_only")
	}
	return replace, nil
}

func modeName(replace bool) string {
	if replace {
		return "replace"
	}
	return "merge"
}

// importRegister parses a CSV register and imports it for actor. Problems in
// any line refuse the whole import unless validOnly, in which case the good
// lines are imported and the bad ones reported as skipped.
func (s *Server) importRegister(ctx context.Context, actor string, body io.Reader, replace, validOnly bool) (importOutcome, error) {
	if s.parseCSV == nil {
		return importOutcome{}, errNoCSVImport
	}
	entries, problems, err := s.parseCSV(body, validOnly)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return importOutcome{}, refuse(errTooLarge, "problem.too_large", mbe.Limit)
		}
		return importOutcome{}, refuse(model.ErrInvalid, "problem.csv_unreadable", err.Error())
	}
	if len(problems) > 0 && !validOnly {
		return importOutcome{Refused: true, Problems: problems}, nil
	}
	ch, err := s.store.ImportMediaRegister(ctx, entries, replace, actor, s.now())
	if err != nil {
		return importOutcome{}, fmt.Errorf("import media register: %w", err)
	}
	res := importResult{
		Mode: modeName(replace), ValidOnly: validOnly,
		Added: ch.Added, Updated: ch.Updated, Removed: ch.Removed, Unchanged: ch.Unchanged,
		Skipped: capProblems(problems),
	}
	res.PolicySynced = s.pushPolicy(ctx, ch.Added+ch.Updated+ch.Removed > 0)
	if !res.PolicySynced {
		res.Warning = translate("en", "register.sync_failed")
	}
	return importOutcome{Result: res}, nil
}

func capProblems(ps []CSVProblem) []CSVProblem {
	if len(ps) > maxProblemsShown {
		return ps[:maxProblemsShown]
	}
	return ps
}

// pushPolicy tells agents about a changed register, and reports whether that
// worked. A failure is logged; the register change stands.
func (s *Server) pushPolicy(ctx context.Context, changed bool) bool {
	if !changed || s.syncPolicy == nil {
		return true
	}
	if err := s.syncPolicy(ctx); err != nil {
		s.log.ErrorContext(ctx, "push policy after media register change", "err", err)
		return false
	}
	return true
}

func (s *Server) handleAPIRegisterImport(w http.ResponseWriter, r *http.Request) {
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
	out, err := s.importRegister(r.Context(), p.Name, r.Body, replace, validOnly)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if out.Refused {
		writeJSON(w, http.StatusUnprocessableEntity, apiError{
			Error:    translatef("en", "register.refused", len(out.Problems)),
			Code:     "problems",
			Problems: capProblems(out.Problems),
		})
		return
	}
	writeJSON(w, http.StatusOK, out.Result)
}

func (s *Server) handleAPIRegisterDelete(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	key, err := checkParam("key", r.PathValue("key"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	synced, err := s.deleteEntry(r.Context(), p.Name, key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Deleted      string `json:"deleted"`
		PolicySynced bool   `json:"policy_synced"`
	}{key, synced})
}

func (s *Server) deleteEntry(ctx context.Context, actor, key string) (synced bool, err error) {
	if key == "" {
		return false, refuse(model.ErrInvalid, "problem.key_required")
	}
	if err := s.store.DeleteMediaEntry(ctx, key, actor, s.now()); err != nil {
		return false, fmt.Errorf("delete media entry %q: %w", key, err)
	}
	return s.pushPolicy(ctx, true), nil
}

// registerView is the media register page.
type registerView struct {
	Entries []model.MediaEntry
	// The upload form, as sent.
	Mode      string
	ValidOnly bool
	// FormError is why the upload was refused as a whole (in the page's
	// language); Problems why, line by line.
	FormError     string
	Problems      []CSVProblem
	ProblemsTotal int
	// After an accepted import or a deletion.
	Result  *importResult
	Deleted string
	Synced  bool
	MaxMiB  int
}

func (s *Server) handleRegisterPage(w http.ResponseWriter, r *http.Request) {
	v := registerView{Mode: "merge", Synced: true}
	q := r.URL.Query()
	if q.Has("imported") {
		num := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return max(n, 0) }
		v.Result = &importResult{Added: num("added"), Updated: num("updated"), Removed: num("removed"), Unchanged: num("unchanged")}
		v.Synced = q.Get("synced") != "0"
	}
	if k, err := queryParam(r, "deleted"); err == nil && k != "" {
		v.Deleted, v.Synced = k, q.Get("synced") != "0"
	}
	s.renderRegister(w, r, http.StatusOK, v)
}

func (s *Server) renderRegister(w http.ResponseWriter, r *http.Request, status int, v registerView) {
	entries, err := s.store.MediaRegister(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("media register: %w", err))
		return
	}
	v.Entries = entries
	v.MaxMiB = maxCSVBytes >> 20
	s.render(w, r, status, "register", pageData{Title: "register.title", Nav: "register", Data: v})
}

// handleRegisterUpload imports the register from the upload form. Success
// redirects to the page with the counts (Post/Redirect/Get); when lines were
// skipped the page is shown at once, so that the skipped lines can be read.
func (s *Server) handleRegisterUpload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	lang := langFrom(ctx)
	v := registerView{Mode: r.PostFormValue("mode"), ValidOnly: r.PostFormValue("valid_only") != "", Synced: true}
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
		s.renderRegister(w, r, status, v)
	}
	replace, f, err := csvUpload(r, v.ValidOnly)
	if err != nil {
		refused(err)
		return
	}
	defer f.Close()
	out, err := s.importRegister(ctx, p.Name, f, replace, v.ValidOnly)
	if err != nil {
		refused(err)
		return
	}
	if out.Refused {
		v.FormError = translatef(lang, "register.refused", len(out.Problems))
		v.Problems, v.ProblemsTotal = capProblems(out.Problems), len(out.Problems)
		s.renderRegister(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	res := out.Result
	if len(res.Skipped) > 0 {
		v.Result, v.Synced = &res, res.PolicySynced
		s.renderRegister(w, r, http.StatusOK, v)
		return
	}
	u := url.Values{}
	u.Set("imported", "1")
	u.Set("added", strconv.Itoa(res.Added))
	u.Set("updated", strconv.Itoa(res.Updated))
	u.Set("removed", strconv.Itoa(res.Removed))
	u.Set("unchanged", strconv.Itoa(res.Unchanged))
	if !res.PolicySynced {
		u.Set("synced", "0")
	}
	http.Redirect(w, r, "/media/register?"+u.Encode(), http.StatusSeeOther)
}

func (s *Server) handleRegisterDeleteForm(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	key, err := checkParam("key", r.PostFormValue("key"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	synced, err := s.deleteEntry(r.Context(), p.Name, key)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u := url.Values{}
	u.Set("deleted", key)
	if !synced {
		u.Set("synced", "0")
	}
	http.Redirect(w, r, "/media/register?"+u.Encode(), http.StatusSeeOther)
}
