package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sonevakt/sonevakt/collector/internal/model"
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

// assetCSV is the asset register in its CSV form.
func (s *Server) assetCSV() csvRegister {
	return csvRegisterOf(csvRegister{name: "asset register", file: "asset-register", field: "assets", page: "/assets", keys: "assets"},
		csvParts[model.Asset]{
			list: s.store.Assets, parse: csvParser("asset register", s.parseAssetsCSV), write: s.writeAssetsCSV,
			store: s.store.ImportAssets, conflicts: true,
			api: func(a model.Asset) any {
				return apiAsset{
					Tag: a.Tag, Type: a.Type, Serial: a.Serial, MACs: emptyList(a.MACs), Hostname: a.Hostname,
					OwnerUnit: a.OwnerUnit, Responsible: a.Responsible, OperatedBy: a.OperatedBy,
					Building: a.Building, Room: a.Room, Zone: a.Zone, Status: a.Status, Note: a.Note,
					UpdatedAt: apiTime(a.UpdatedAt), UpdatedBy: a.UpdatedBy,
				}
			},
			after: func(ctx context.Context, res *importResult) {
				if s.onAssetsChange != nil && res.changed() {
					s.onAssetsChange(ctx)
				}
			},
		}, s.now)
}

func (s *Server) handleAPIAssets(w http.ResponseWriter, r *http.Request) {
	s.serveCSVList(w, r, s.assetCSV())
}

func (s *Server) handleAPIAssetsCSV(w http.ResponseWriter, r *http.Request) {
	s.serveCSVExport(w, r, s.assetCSV())
}

func (s *Server) handleAPIAssetsImport(w http.ResponseWriter, r *http.Request) {
	s.serveCSVImport(w, r, s.assetCSV())
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
	csvForm
}

func (s *Server) handleAssetsPage(w http.ResponseWriter, r *http.Request) {
	s.renderAssets(w, r, http.StatusOK, importedCSVForm(r.URL.Query()))
}

func (s *Server) renderAssets(w http.ResponseWriter, r *http.Request, status int, f csvForm) {
	assets, err := s.store.Assets(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("asset register: %w", err))
		return
	}
	v := assetsView{Assets: assets, csvForm: s.csvFormFor(r, s.assetCSV(), f)}
	s.render(w, r, status, "assets", pageData{Title: "assets.title", Nav: "assets", Data: v})
}

// handleAssetsUpload imports the asset register from the upload form.
func (s *Server) handleAssetsUpload(w http.ResponseWriter, r *http.Request) {
	s.serveCSVUpload(w, r, s.assetCSV(), postedCSVForm(r), func(status int, f csvForm) { s.renderAssets(w, r, status, f) })
}
