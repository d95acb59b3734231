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

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Errors of a collector wired without the asset register's CSV form.
var (
	errNoAssetCSVImport = errors.New("asset register CSV import is not configured")
	errNoAssetCSVExport = errors.New("asset register CSV export is not configured")
)

// apiAsset is one asset of the asset register in the JSON API.
type apiAsset struct {
	Tag         string   `json:"asset_tag"`
	Type        string   `json:"type"`
	Serial      string   `json:"serial"`
	MACs        []string `json:"macs"`
	Hostname    string   `json:"hostname"`
	OwnerUnit   string   `json:"owner_unit"`
	Responsible string   `json:"responsible"`
	OperatedBy  string   `json:"operated_by"`
	Building    string   `json:"building"`
	Room        string   `json:"room"`
	Zone        string   `json:"zone"`
	Status      string   `json:"status"`
	Note        string   `json:"note"`
	UpdatedAt   string   `json:"updated_at,omitempty"`
	UpdatedBy   string   `json:"updated_by,omitempty"`
}

func (s *Server) handleAPIAssets(w http.ResponseWriter, r *http.Request) {
	assets, err := s.store.Assets(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("asset register: %w", err))
		return
	}
	out := make([]apiAsset, 0, len(assets))
	for _, a := range assets {
		macs := a.MACs
		if macs == nil {
			macs = []string{}
		}
		out = append(out, apiAsset{
			Tag: a.Tag, Type: a.Type, Serial: a.Serial, MACs: macs, Hostname: a.Hostname,
			OwnerUnit: a.OwnerUnit, Responsible: a.Responsible, OperatedBy: a.OperatedBy,
			Building: a.Building, Room: a.Room, Zone: a.Zone, Status: a.Status, Note: a.Note,
			UpdatedAt: apiTime(a.UpdatedAt), UpdatedBy: a.UpdatedBy,
		})
	}
	writeJSON(w, http.StatusOK, struct {
		Assets []apiAsset `json:"assets"`
	}{out})
}

// handleAPIAssetsCSV sends the asset register as a CSV download, written to
// memory first so that a failure is a clean error rather than half a file.
func (s *Server) handleAPIAssetsCSV(w http.ResponseWriter, r *http.Request) {
	if s.writeAssetsCSV == nil {
		s.fail(w, r, errNoAssetCSVExport)
		return
	}
	assets, err := s.store.Assets(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("asset register: %w", err))
		return
	}
	var buf bytes.Buffer
	if err := s.writeAssetsCSV(&buf, assets); err != nil {
		s.fail(w, r, fmt.Errorf("write asset register CSV: %w", err))
		return
	}
	sendCSV(w, "asset-register-"+s.now().Format("2006-01-02")+".csv", &buf)
}

// assetImportResult is what an accepted asset import changed.
type assetImportResult struct {
	Mode      string `json:"mode"`
	ValidOnly bool   `json:"valid_only"`
	Added     int    `json:"added"`
	Updated   int    `json:"updated"`
	Removed   int    `json:"removed"`
	Unchanged int    `json:"unchanged"`
	// Skipped are the lines left out with valid_only.
	Skipped []CSVProblem `json:"skipped,omitempty"`
}

// assetImportOutcome is an asset import's answer: accepted with a result,
// refused because of problems in lines, or refused by the store (Conflict:
// a repeated tag or a MAC of two assets, with the store's message).
type assetImportOutcome struct {
	Result   assetImportResult
	Refused  bool
	Problems []CSVProblem
	Conflict error
}

// importAssets parses a CSV asset register and imports it for actor. Problems
// in any line refuse the whole import unless validOnly, in which case the
// good lines are imported and the bad ones reported as skipped. The store
// audits every change.
func (s *Server) importAssets(ctx context.Context, actor string, body io.Reader, replace, validOnly bool) (assetImportOutcome, error) {
	if s.parseAssetsCSV == nil {
		return assetImportOutcome{}, errNoAssetCSVImport
	}
	assets, problems, err := s.parseAssetsCSV(body, validOnly)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return assetImportOutcome{}, refuse(errTooLarge, "problem.too_large", mbe.Limit)
		}
		return assetImportOutcome{}, refuse(model.ErrInvalid, "problem.csv_unreadable", err.Error())
	}
	if len(problems) > 0 && !validOnly {
		return assetImportOutcome{Refused: true, Problems: problems}, nil
	}
	ch, err := s.store.ImportAssets(ctx, assets, replace, actor, s.now())
	switch {
	case errors.Is(err, model.ErrConflict), errors.Is(err, model.ErrInvalid):
		return assetImportOutcome{Conflict: err}, nil
	case err != nil:
		return assetImportOutcome{}, fmt.Errorf("import asset register: %w", err)
	}
	if s.onAssetsChange != nil && ch.Added+ch.Updated+ch.Removed > 0 {
		s.onAssetsChange(ctx)
	}
	return assetImportOutcome{Result: assetImportResult{
		Mode: modeName(replace), ValidOnly: validOnly,
		Added: ch.Added, Updated: ch.Updated, Removed: ch.Removed, Unchanged: ch.Unchanged,
		Skipped: capProblems(problems),
	}}, nil
}

func (s *Server) handleAPIAssetsImport(w http.ResponseWriter, r *http.Request) {
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
	out, err := s.importAssets(r.Context(), p.Name, r.Body, replace, validOnly)
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

func (s *Server) handleAPIAssetDelete(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	tag, err := checkParam("tag", r.PathValue("tag"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if tag == "" {
		s.fail(w, r, refuse(model.ErrInvalid, "problem.tag_required"))
		return
	}
	if err := s.store.DeleteAsset(r.Context(), tag, p.Name, s.now()); err != nil {
		s.fail(w, r, fmt.Errorf("delete asset %q: %w", tag, err))
		return
	}
	if s.onAssetsChange != nil {
		s.onAssetsChange(r.Context())
	}
	writeJSON(w, http.StatusOK, struct {
		Deleted string `json:"deleted"`
	}{tag})
}

// assetsView is the asset register page.
type assetsView struct {
	Assets []model.Asset
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

func (s *Server) handleAssetsPage(w http.ResponseWriter, r *http.Request) {
	v := assetsView{Mode: "merge"}
	q := r.URL.Query()
	if q.Has("imported") {
		num := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return max(n, 0) }
		v.Result = &assetImportResult{Added: num("added"), Updated: num("updated"), Removed: num("removed"), Unchanged: num("unchanged")}
	}
	s.renderAssets(w, r, http.StatusOK, v)
}

func (s *Server) renderAssets(w http.ResponseWriter, r *http.Request, status int, v assetsView) {
	assets, err := s.store.Assets(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("asset register: %w", err))
		return
	}
	v.Assets = assets
	v.MaxMiB = maxCSVBytes >> 20
	s.render(w, r, status, "assets", pageData{Title: "assets.title", Nav: "assets", Data: v})
}

// handleAssetsUpload imports the asset register from the upload form.
// Success redirects to the page with the counts (Post/Redirect/Get); when
// lines were skipped the page is shown at once, so that they can be read.
func (s *Server) handleAssetsUpload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	lang := langFrom(ctx)
	v := assetsView{Mode: r.PostFormValue("mode"), ValidOnly: r.PostFormValue("valid_only") != ""}
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
		s.renderAssets(w, r, status, v)
	}
	replace, f, err := csvUpload(r, v.ValidOnly)
	if err != nil {
		refused(err)
		return
	}
	defer f.Close()
	out, err := s.importAssets(ctx, p.Name, f, replace, v.ValidOnly)
	if err != nil {
		refused(err)
		return
	}
	if out.Refused {
		v.FormError = translatef(lang, "register.refused", len(out.Problems))
		v.Problems, v.ProblemsTotal = capProblems(out.Problems), len(out.Problems)
		s.renderAssets(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	if out.Conflict != nil {
		status, _ := errorStatus(out.Conflict)
		v.FormError = translatef(lang, "assets.store_refused", out.Conflict.Error())
		s.renderAssets(w, r, status, v)
		return
	}
	res := out.Result
	if len(res.Skipped) > 0 {
		v.Result = &res
		s.renderAssets(w, r, http.StatusOK, v)
		return
	}
	u := url.Values{}
	u.Set("imported", "1")
	u.Set("added", strconv.Itoa(res.Added))
	u.Set("updated", strconv.Itoa(res.Updated))
	u.Set("removed", strconv.Itoa(res.Removed))
	u.Set("unchanged", strconv.Itoa(res.Unchanged))
	http.Redirect(w, r, "/assets?"+u.Encode(), http.StatusSeeOther)
}
