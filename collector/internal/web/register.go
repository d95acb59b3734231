package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sonevakt/sonevakt/collector/internal/model"
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

// mediaCSV is the media register in its CSV form.
func (s *Server) mediaCSV() csvRegister {
	return csvRegisterOf(csvRegister{name: "media register", file: "media-register", field: "entries", page: "/media/register", keys: "register"},
		csvParts[model.MediaEntry]{
			list: s.store.MediaRegister, parse: csvParser("media register", s.parseCSV), write: s.writeCSV,
			store: s.store.ImportMediaRegister,
			api: func(e model.MediaEntry) any {
				return apiMediaEntry{
					Key: e.Key(), VID: e.VID, PID: e.PID, Serial: e.Serial, MarkingID: e.MarkingID,
					OwnerUnit: e.OwnerUnit, Classification: e.Classification, EncryptionRequired: e.EncryptionRequired,
					Note: e.Note, UpdatedAt: apiTime(e.UpdatedAt), UpdatedBy: e.UpdatedBy,
				}
			},
			after: func(ctx context.Context, res *importResult) {
				synced := s.pushPolicy(ctx, res.changed())
				res.PolicySynced = &synced
				if !synced {
					res.Warning = translate("en", "register.sync_failed")
				}
			},
		}, s.now)
}

func (s *Server) handleAPIRegister(w http.ResponseWriter, r *http.Request) {
	s.serveCSVList(w, r, s.mediaCSV())
}

// handleAPIRegisterCSV sends the register as a CSV download.
func (s *Server) handleAPIRegisterCSV(w http.ResponseWriter, r *http.Request) {
	s.serveCSVExport(w, r, s.mediaCSV())
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
	s.serveCSVImport(w, r, s.mediaCSV())
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
	csvForm
	// After a deletion.
	Deleted string
	// Synced reports whether the last change reached the agents.
	Synced bool
}

func (s *Server) handleRegisterPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := importedCSVForm(q)
	synced := true
	if f.Result != nil {
		synced = q.Get("synced") != "0"
	}
	deleted := ""
	if k, err := queryParam(r, "deleted"); err == nil && k != "" {
		deleted, synced = k, q.Get("synced") != "0"
	}
	s.renderRegister(w, r, http.StatusOK, registerView{csvForm: f, Deleted: deleted, Synced: synced})
}

func (s *Server) renderRegister(w http.ResponseWriter, r *http.Request, status int, v registerView) {
	entries, err := s.store.MediaRegister(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("media register: %w", err))
		return
	}
	v.Entries = entries
	v.csvForm = s.csvFormFor(r, s.mediaCSV(), v.csvForm)
	s.render(w, r, status, "register", pageData{Title: "register.title", Nav: "register", Data: v})
}

// handleRegisterUpload imports the register from the upload form.
func (s *Server) handleRegisterUpload(w http.ResponseWriter, r *http.Request) {
	s.serveCSVUpload(w, r, s.mediaCSV(), postedCSVForm(r), func(status int, f csvForm) {
		s.renderRegister(w, r, status, registerView{csvForm: f, Synced: f.Result == nil || f.Result.synced()})
	})
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
