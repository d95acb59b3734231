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
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// The registers kept as CSV files (the media register, the asset register,
// the software catalogue and the organisation register's kinds) are listed,
// exported, imported and shown on their pages by the one flow below: each
// register only says how it lists, parses, writes and stores its entries.

// maxProblemsShown is how many problem lines a refused import reports.
const maxProblemsShown = 1000

// importResult is what an accepted import changed.
type importResult struct {
	Kind      string `json:"kind,omitempty"` // the organisation register's kind
	Mode      string `json:"mode"`
	ValidOnly bool   `json:"valid_only"`
	Added     int    `json:"added"`
	Updated   int    `json:"updated"`
	Removed   int    `json:"removed"`
	Unchanged int    `json:"unchanged"`
	// Skipped are the lines left out with valid_only.
	Skipped []CSVProblem `json:"skipped,omitempty"`
	// PolicySynced, for the media register only, reports whether the new
	// allow-list is on its way to the agents; when false the register
	// changed all the same.
	PolicySynced *bool  `json:"policy_synced,omitempty"`
	Warning      string `json:"warning,omitempty"`
}

// changed reports whether the import added, updated or removed anything.
func (r importResult) changed() bool { return r.Added+r.Updated+r.Removed > 0 }

// synced reports whether the import left nothing unsynced.
func (r importResult) synced() bool { return r.PolicySynced == nil || *r.PolicySynced }

// importOutcome is an import's answer: accepted with a result, refused
// because of problems in lines, or refused by the store (Conflict: the
// register would be inconsistent, with the store's message). Nothing is
// imported unless accepted.
type importOutcome struct {
	Result   importResult
	Refused  bool
	Problems []CSVProblem
	Conflict error
}

// csvRegister is how the web lists, exports and imports one register in its
// CSV form, whatever it holds; csvRegisterOf builds it from typed parts.
type csvRegister struct {
	name  string // "asset register", in errors
	kind  string // the organisation register's kind, else ""
	file  string // the CSV download's name before its date
	field string // the JSON list's field
	page  string // the register's page, where its upload form posts
	keys  string // the prefix of the page's own texts (csvForm.Keys)

	list   func(ctx context.Context) (any, error)
	export func(ctx context.Context, w io.Writer) error
	// load parses body and imports it for actor. Problems in any line
	// refuse the whole import unless validOnly, in which case the good
	// lines are imported and the bad ones reported as skipped. The store
	// audits every change.
	load func(ctx context.Context, actor string, body io.Reader, replace, validOnly bool) (importOutcome, error)
}

// csvParse is what a register's parser made of a CSV file.
type csvParse[T any] struct {
	entries  []T
	problems []CSVProblem
	fatal    bool // the problems refuse the file even with valid_only
}

// csvParts are a register's typed parts.
type csvParts[T any] struct {
	list func(context.Context) ([]T, error)
	// parse reads a CSV file; its errors are fit for the client
	// (csvReadError).
	parse func(ctx context.Context, body io.Reader, validOnly bool) (csvParse[T], error)
	write func(io.Writer, []T) error // nil: the collector offers no export
	store func(ctx context.Context, entries []T, replace bool, actor string, at time.Time) (model.RegisterChange, error)
	api   func(T) any // an entry in the JSON API
	// conflicts reports whether the store's ErrConflict and ErrInvalid are
	// answers, shown with its message, rather than failures.
	conflicts bool
	// after hears of every accepted import and may add to its result.
	after func(ctx context.Context, res *importResult)
}

// csvRegisterOf joins a register's names and typed parts; now stamps the
// imports.
func csvRegisterOf[T any](reg csvRegister, p csvParts[T], now func() time.Time) csvRegister {
	reg.list = func(ctx context.Context) (any, error) {
		vs, err := p.list(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]any, 0, len(vs))
		for _, v := range vs {
			out = append(out, p.api(v))
		}
		return out, nil
	}
	reg.export = func(ctx context.Context, w io.Writer) error {
		if p.write == nil {
			return fmt.Errorf("%s CSV export is not configured", reg.name)
		}
		vs, err := p.list(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", reg.name, err)
		}
		if err := p.write(w, vs); err != nil {
			return fmt.Errorf("write %s CSV: %w", reg.name, err)
		}
		return nil
	}
	reg.load = func(ctx context.Context, actor string, body io.Reader, replace, validOnly bool) (importOutcome, error) {
		parsed, err := p.parse(ctx, body, validOnly)
		if err != nil {
			return importOutcome{}, err
		}
		if len(parsed.problems) > 0 && (!validOnly || parsed.fatal) {
			return importOutcome{Refused: true, Problems: parsed.problems}, nil
		}
		ch, err := p.store(ctx, parsed.entries, replace, actor, now())
		switch {
		case p.conflicts && (errors.Is(err, model.ErrConflict) || errors.Is(err, model.ErrInvalid)):
			return importOutcome{Conflict: err}, nil
		case err != nil:
			return importOutcome{}, fmt.Errorf("import %s: %w", reg.name, err)
		}
		res := importResult{
			Kind: reg.kind, Mode: modeName(replace), ValidOnly: validOnly,
			Added: ch.Added, Updated: ch.Updated, Removed: ch.Removed, Unchanged: ch.Unchanged,
			Skipped: capProblems(parsed.problems),
		}
		if p.after != nil {
			p.after(ctx, &res)
		}
		return importOutcome{Result: res}, nil
	}
	return reg
}

// csvParser adapts a parser from the Config to csvParts; a nil one is a
// collector wired without the register's CSV form.
func csvParser[T any](name string, parse func(io.Reader, bool) ([]T, []CSVProblem, error)) func(context.Context, io.Reader, bool) (csvParse[T], error) {
	return func(_ context.Context, body io.Reader, validOnly bool) (csvParse[T], error) {
		if parse == nil {
			return csvParse[T]{}, fmt.Errorf("%s CSV import is not configured", name)
		}
		vs, problems, err := parse(body, validOnly)
		if err != nil {
			return csvParse[T]{}, csvReadError(err)
		}
		return csvParse[T]{entries: vs, problems: problems}, nil
	}
}

// csvReadError is a CSV file that could not be read, as the client sees it.
func csvReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return refuse(errTooLarge, "problem.too_large", mbe.Limit)
	}
	return refuse(model.ErrInvalid, "problem.csv_unreadable", err.Error())
}

func capProblems(ps []CSVProblem) []CSVProblem {
	if len(ps) > maxProblemsShown {
		return ps[:maxProblemsShown]
	}
	return ps
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

// serveCSVList answers with the register in the JSON API:
// {"<field>": [...]}.
func (s *Server) serveCSVList(w http.ResponseWriter, r *http.Request, reg csvRegister) {
	out, err := reg.list(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("%s: %w", reg.name, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{reg.field: out})
}

// serveCSVExport sends the register as a CSV download, written to memory
// first so that a failure is a clean error rather than half a file.
func (s *Server) serveCSVExport(w http.ResponseWriter, r *http.Request, reg csvRegister) {
	var buf bytes.Buffer
	if err := reg.export(r.Context(), &buf); err != nil {
		s.fail(w, r, err)
		return
	}
	sendCSV(w, reg.file+"-"+s.now().Format("2006-01-02")+".csv", &buf)
}

// serveCSVImport imports the register from a CSV body, with the mode and
// valid_only in the query.
func (s *Server) serveCSVImport(w http.ResponseWriter, r *http.Request, reg csvRegister) {
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
	out, err := reg.load(r.Context(), p.Name, r.Body, replace, validOnly)
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

// csvForm is a register page's upload form (the "csvimport" template) and
// the report of the last import (the "csvimported" template).
type csvForm struct {
	Action string // the page, where the form posts
	Keys   string // prefix of the register's texts: <Keys>.upload, <Keys>.imported …
	// Edit reports whether the user may import (the form shows).
	Edit bool
	// Kinds, when the register holds several, are the kinds the form
	// offers; Kind the one chosen.
	Kinds []string
	Kind  string
	// The upload form, as sent.
	Mode      string
	ValidOnly bool
	// FormError is why the upload was refused as a whole (in the page's
	// language); Problems why, line by line.
	FormError     string
	Problems      []CSVProblem
	ProblemsTotal int
	// After an accepted import.
	Result *importResult
	MaxMiB int
}

// postedCSVForm is the upload form as r posted it.
func postedCSVForm(r *http.Request) csvForm {
	f := csvForm{Mode: r.PostFormValue("mode"), ValidOnly: r.PostFormValue("valid_only") != ""}
	if f.Mode != "replace" {
		f.Mode = "merge"
	}
	return f
}

// importedCSVForm is the form on a register's page, with the counts of an
// accepted import when the query holds them (after a redirect).
func importedCSVForm(q url.Values) csvForm {
	f := csvForm{Mode: "merge"}
	if q.Has("imported") {
		num := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return max(n, 0) }
		f.Result = &importResult{Added: num("added"), Updated: num("updated"), Removed: num("removed"), Unchanged: num("unchanged")}
	}
	return f
}

// csvFormFor completes f for reg's page as r's user sees it.
func (s *Server) csvFormFor(r *http.Request, reg csvRegister, f csvForm) csvForm {
	f.Action, f.Keys, f.MaxMiB = reg.page, reg.keys, maxCSVBytes>>20
	if p := principalFrom(r.Context()); p != nil {
		f.Edit = s.allowed(p.Role, "POST "+reg.page)
	}
	return f
}

// csvUploadRefused shows the form again with why err refused the upload as
// a whole; an err that is not the user's is a failure.
func (s *Server) csvUploadRefused(w http.ResponseWriter, r *http.Request, err error, f csvForm, render func(status int, f csvForm)) {
	var ue *userError
	if !errors.As(err, &ue) {
		s.fail(w, r, err)
		return
	}
	status, _ := errorStatus(err)
	f.FormError = ue.message(langFrom(r.Context()))
	render(status, f)
}

// serveCSVUpload imports the register from its page's upload form, f.
// Success redirects to the page with the counts (Post/Redirect/Get); when
// lines were skipped the page is shown at once, so that they can be read.
func (s *Server) serveCSVUpload(w http.ResponseWriter, r *http.Request, reg csvRegister, f csvForm, render func(status int, f csvForm)) {
	ctx := r.Context()
	lang := langFrom(ctx)
	replace, body, err := csvUpload(r, f.ValidOnly)
	if err != nil {
		s.csvUploadRefused(w, r, err, f, render)
		return
	}
	defer body.Close()
	out, err := reg.load(ctx, principalFrom(ctx).Name, body, replace, f.ValidOnly)
	if err != nil {
		s.csvUploadRefused(w, r, err, f, render)
		return
	}
	if out.Refused {
		f.FormError = translatef(lang, "register.refused", len(out.Problems))
		f.Problems, f.ProblemsTotal = capProblems(out.Problems), len(out.Problems)
		render(http.StatusUnprocessableEntity, f)
		return
	}
	if out.Conflict != nil {
		status, _ := errorStatus(out.Conflict)
		f.FormError = translatef(lang, reg.keys+".store_refused", out.Conflict.Error())
		render(status, f)
		return
	}
	res := out.Result
	if len(res.Skipped) > 0 {
		f.Result = &res
		render(http.StatusOK, f)
		return
	}
	u := url.Values{}
	u.Set("imported", "1")
	if res.Kind != "" {
		u.Set("kind", res.Kind)
	}
	u.Set("added", strconv.Itoa(res.Added))
	u.Set("updated", strconv.Itoa(res.Updated))
	u.Set("removed", strconv.Itoa(res.Removed))
	u.Set("unchanged", strconv.Itoa(res.Unchanged))
	if !res.synced() {
		u.Set("synced", "0")
	}
	http.Redirect(w, r, reg.page+"?"+u.Encode(), http.StatusSeeOther)
}
