package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// exceptionStore is the store's exceptions; nil when it keeps none (then
// the exception routes are not found).
func (s *Server) exceptionStore() (model.ExceptionStore, error) {
	if x, ok := s.store.(model.ExceptionStore); ok {
		return x, nil
	}
	return nil, fmt.Errorf("exceptions: the store keeps none: %w", model.ErrNotFound)
}

// parseWhen reads a time from a form or JSON: RFC 3339, or a date
// (YYYY-MM-DD, the start of that day in UTC). key names the problem.
func parseWhen(s, key string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, refuse(model.ErrInvalid, key, s)
}

// grantException approves p's exception for deviation id and closes it.
func (s *Server) grantException(ctx context.Context, p *principal, id, reason, expires string) (model.Exception, error) {
	xs, err := s.exceptionStore()
	if err != nil {
		return model.Exception{}, err
	}
	reason, err = checkText(reason, true, "problem.exception_reason")
	if err != nil {
		return model.Exception{}, err
	}
	until, err := parseWhen(expires, "problem.exception_expires")
	if err != nil {
		return model.Exception{}, err
	}
	now := s.now()
	if !until.After(now) || until.After(now.AddDate(model.MaxExceptionYears, 0, 0)) {
		return model.Exception{}, refuse(model.ErrInvalid, "problem.exception_expires_range", expires)
	}
	d, _, err := s.getDeviation(ctx, p, id)
	if err != nil {
		return model.Exception{}, err
	}
	if !model.StatusOpen(d.Status) {
		return model.Exception{}, refuse(model.ErrInvalid, "problem.exception_closed", d.ID)
	}
	x, err := xs.GrantException(ctx, id, reason, p.Name, until, now)
	if err != nil {
		if errors.Is(err, model.ErrInvalid) {
			return model.Exception{}, refuse(model.ErrInvalid, "problem.status_changed")
		}
		return model.Exception{}, fmt.Errorf("grant exception for %s: %w", id, err)
	}
	return x, nil
}

// apiException is an exception in the JSON API.
type apiException struct {
	ID          string `json:"id"`
	Rule        string `json:"rule"`
	Subject     string `json:"subject"`
	Reason      string `json:"reason"`
	ApprovedBy  string `json:"approved_by"`
	CreatedAt   string `json:"created_at"`
	Expires     string `json:"expires"`
	RevokedAt   string `json:"revoked_at,omitempty"`
	RevokedBy   string `json:"revoked_by,omitempty"`
	DeviationID string `json:"deviation_id,omitempty"`
	Active      bool   `json:"active"`
}

func newAPIException(x model.Exception, now time.Time) apiException {
	return apiException{ID: x.ID, Rule: x.Rule, Subject: x.Subject, Reason: x.Reason, ApprovedBy: x.ApprovedBy,
		CreatedAt: apiTime(x.CreatedAt), Expires: apiTime(x.Expires), RevokedAt: apiTime(x.RevokedAt), RevokedBy: x.RevokedBy,
		DeviationID: x.DeviationID, Active: x.Active(now)}
}

func (s *Server) handleAPIDeviationException(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason  string `json:"reason"`
		Expires string `json:"expires"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	x, err := s.grantException(r.Context(), principalFrom(r.Context()), r.PathValue("id"), body.Reason, body.Expires)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, newAPIException(x, s.now()))
}

// handleAPIExceptions lists every exception, newest first. Exceptions name
// rules and subjects, not units, so every deviation reader sees them all.
func (s *Server) handleAPIExceptions(w http.ResponseWriter, r *http.Request) {
	xs, err := s.exceptionStore()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := xs.ListExceptions(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list exceptions: %w", err))
		return
	}
	now := s.now()
	out := make([]apiException, 0, len(list))
	for _, x := range list {
		out = append(out, newAPIException(x, now))
	}
	writeJSON(w, http.StatusOK, struct {
		Exceptions []apiException `json:"exceptions"`
	}{out})
}

func (s *Server) handleAPIExceptionRevoke(w http.ResponseWriter, r *http.Request) {
	xs, err := s.exceptionStore()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := xs.RevokeException(r.Context(), id, principalFrom(r.Context()).Name, s.now()); err != nil {
		if errors.Is(err, model.ErrInvalid) {
			err = refuse(model.ErrInvalid, "problem.exception_revoked", id)
		}
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDeviationExceptionForm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	reason, expires := r.PostFormValue("reason"), r.PostFormValue("expires")
	if _, err := s.grantException(r.Context(), principalFrom(r.Context()), id, reason, expires); err != nil {
		s.formRefused(w, r, err, deviationView{FormFor: "exception", breachSection: breachSection{ExceptionReason: reason, ExceptionExpires: expires}})
		return
	}
	http.Redirect(w, r, "/deviations/"+url.PathEscape(id)+"?saved=exception", http.StatusSeeOther)
}
