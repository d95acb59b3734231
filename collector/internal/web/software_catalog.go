package web

import (
	"context"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/collector/internal/model"
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

// softwareCSV is the software catalogue in its CSV form.
func (s *Server) softwareCSV() csvRegister {
	return csvRegisterOf(csvRegister{name: "software catalogue", file: "software-catalogue", field: "entries", page: "/software/catalog", keys: "software_catalog"},
		csvParts[model.SoftwareEntry]{
			list: s.store.SoftwareCatalog, parse: csvParser("software catalogue", s.parseSoftwareCSV), write: s.writeSoftwareCSV,
			store: s.store.ImportSoftwareCatalog, conflicts: true,
			api: func(e model.SoftwareEntry) any {
				return apiSoftwareEntry{
					ID: e.ID, Verdict: e.Verdict, NamePattern: e.NamePattern, Publisher: e.Publisher, Source: e.Source,
					MinVersion: e.MinVersion, MaxVersion: e.MaxVersion, Reason: e.Reason, OwnerUnit: e.OwnerUnit,
					UpdatedAt: apiTime(e.UpdatedAt), UpdatedBy: e.UpdatedBy,
				}
			},
			after: func(ctx context.Context, res *importResult) {
				if res.changed() {
					s.softwareCatalogChanged(ctx)
				}
			},
		}, s.now)
}

func (s *Server) handleAPISoftwareCatalog(w http.ResponseWriter, r *http.Request) {
	s.serveCSVList(w, r, s.softwareCSV())
}

func (s *Server) handleAPISoftwareCatalogCSV(w http.ResponseWriter, r *http.Request) {
	s.serveCSVExport(w, r, s.softwareCSV())
}

func (s *Server) handleAPISoftwareCatalogImport(w http.ResponseWriter, r *http.Request) {
	s.serveCSVImport(w, r, s.softwareCSV())
}

// softwareCatalogChanged tells the rules that the catalogue changed, when
// the collector asked to hear of it.
func (s *Server) softwareCatalogChanged(ctx context.Context) {
	if s.onSoftwareChange != nil {
		s.onSoftwareChange(ctx)
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
	csvForm
}

func (s *Server) handleSoftwareCatalogPage(w http.ResponseWriter, r *http.Request) {
	s.renderSoftwareCatalog(w, r, http.StatusOK, importedCSVForm(r.URL.Query()))
}

func (s *Server) renderSoftwareCatalog(w http.ResponseWriter, r *http.Request, status int, f csvForm) {
	entries, err := s.store.SoftwareCatalog(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("software catalogue: %w", err))
		return
	}
	v := softwareCatalogView{Entries: entries, csvForm: s.csvFormFor(r, s.softwareCSV(), f)}
	s.render(w, r, status, "software_catalog", pageData{Title: "software_catalog.title", Nav: "software_catalog", Data: v})
}

// handleSoftwareCatalogUpload imports the software catalogue from the
// upload form.
func (s *Server) handleSoftwareCatalogUpload(w http.ResponseWriter, r *http.Request) {
	s.serveCSVUpload(w, r, s.softwareCSV(), postedCSVForm(r), func(status int, f csvForm) { s.renderSoftwareCatalog(w, r, status, f) })
}
