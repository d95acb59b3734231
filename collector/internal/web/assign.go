package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// maxAssigneesAtOnce is the most assignees one assignment names.
const maxAssigneesAtOnce = 20

// assignSection is the deviation page's assignees in words and the
// assignment form's choices.
type assignSection struct {
	AssigneeLabels []string
	AssignOptions  []option
	CanAssign      bool // the deviation is open, so it can be reassigned
}

// fillAssignSection fills v's assignment section for d: who handles it,
// and whom it can go to: the users who may handle deviations, and the
// information security officer's role.
func (s *Server) fillAssignSection(ctx context.Context, d model.Deviation, v *deviationView) error {
	lang := langFrom(ctx)
	a := &v.assignSection
	for _, as := range d.Assignees {
		a.AssigneeLabels = append(a.AssigneeLabels, assigneeLabel(lang, as))
	}
	a.CanAssign = model.StatusOpen(d.Status)
	if !a.CanAssign {
		return nil
	}
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	current := ""
	if len(d.Assignees) == 1 {
		current = d.Assignees[0]
	}
	officer := "role:" + string(model.RoleSikkerhet)
	a.AssignOptions = append(a.AssignOptions, option{officer, assigneeLabel(lang, officer), current == officer})
	for _, u := range users {
		if u.Disabled || !slices.Contains(deviationHandlers, u.Role) {
			continue
		}
		val := "user:" + u.Name
		a.AssignOptions = append(a.AssignOptions, option{val, translatef(lang, "assign.user", u.Name, translate(lang, "role."+string(u.Role))), current == val})
	}
	return nil
}

// assigneeLabel words an assignee for the page.
func assigneeLabel(lang, a string) string {
	kind, name, _ := strings.Cut(a, ":")
	switch kind {
	case "role":
		return translatef(lang, "assign.role", translateOr(lang, "role."+name, name))
	case "user":
		return name
	case "person":
		return translatef(lang, "assign.person", name)
	case "unit":
		unit, _, _ := strings.Cut(name, ":")
		return translatef(lang, "assign.unit", unit)
	}
	return a
}

// checkAssignees cleans and checks assignees: known forms, users who exist,
// are enabled and may handle deviations, roles that handle deviations, and
// people and units of the organisation register.
func (s *Server) checkAssignees(ctx context.Context, in []string) ([]string, error) {
	var out []string
	for _, a := range in {
		a = strings.TrimSpace(a)
		if a == "" || slices.Contains(out, a) {
			continue
		}
		if _, err := checkParam("assignee", a); err != nil {
			return nil, err
		}
		if !model.ValidAssignee(a) {
			return nil, refuse(model.ErrInvalid, "assign.problem.form", a)
		}
		kind, name, _ := strings.Cut(a, ":")
		switch kind {
		case "user":
			u, err := s.store.GetUser(ctx, name)
			if errors.Is(err, model.ErrNotFound) || err == nil && (u.Disabled || !slices.Contains(deviationHandlers, u.Role)) {
				return nil, refuse(model.ErrInvalid, "assign.problem.user", name)
			}
			if err != nil {
				return nil, fmt.Errorf("get user %s: %w", name, err)
			}
		case "role":
			if !slices.Contains(deviationHandlers, model.Role(name)) {
				return nil, refuse(model.ErrInvalid, "assign.problem.role", name)
			}
		case "person", "unit":
			known, err := s.inOrgRegister(ctx, kind, name)
			if err != nil {
				return nil, err
			}
			if !known {
				return nil, refuse(model.ErrInvalid, "assign.problem.unknown", a)
			}
		}
		out = append(out, a)
	}
	switch {
	case len(out) == 0:
		return nil, refuse(model.ErrInvalid, "assign.problem.none")
	case len(out) > maxAssigneesAtOnce:
		return nil, refuse(model.ErrInvalid, "assign.problem.too_many", maxAssigneesAtOnce)
	}
	return out, nil
}

// inOrgRegister reports whether the organisation register knows the person
// or unit (kind) named name ("<id>" or, for a unit, "<id>:leder").
func (s *Server) inOrgRegister(ctx context.Context, kind, name string) (bool, error) {
	if kind == "person" {
		people, err := s.store.People(ctx)
		if err != nil {
			return false, fmt.Errorf("people: %w", err)
		}
		return slices.ContainsFunc(people, func(p model.Person) bool { return p.ID == name }), nil
	}
	id, _, _ := strings.Cut(name, ":")
	units, err := s.store.Units(ctx)
	if err != nil {
		return false, fmt.Errorf("units: %w", err)
	}
	return slices.ContainsFunc(units, func(u model.Unit) bool { return u.ID == id }), nil
}

// assign gives deviation id to assignees for p: only a deviation p may see,
// only an open one.
func (s *Server) assign(ctx context.Context, p *principal, id string, assignees []string) error {
	d, _, err := s.getDeviation(ctx, p, id)
	if err != nil {
		return err
	}
	if !model.StatusOpen(d.Status) {
		return refuse(model.ErrInvalid, "assign.problem.closed", d.Status)
	}
	as, err := s.checkAssignees(ctx, assignees)
	if err != nil {
		return err
	}
	if err := s.store.AssignDeviation(ctx, id, as, p.Name, s.now()); err != nil {
		if errors.Is(err, model.ErrInvalid) {
			// Checked above, so the deviation was closed meanwhile.
			return refuse(model.ErrInvalid, "problem.status_changed")
		}
		return fmt.Errorf("assign %s: %w", id, err)
	}
	return nil
}

func (s *Server) handleDeviationAssignForm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx := r.Context()
	p := principalFrom(ctx)
	if err := s.assign(ctx, p, id, r.PostForm["assignee"]); err != nil {
		s.formRefused(w, r, err, deviationView{FormFor: "assign"})
		return
	}
	if _, _, err := s.getDeviation(ctx, p, id); errors.Is(err, model.ErrNotFound) {
		// A line manager who passed it on no longer sees it.
		http.Redirect(w, r, "/deviations", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/deviations/"+url.PathEscape(id)+"?saved=assign#assign", http.StatusSeeOther)
}

func (s *Server) handleAPIDeviationAssign(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Assignees []string `json:"assignees"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	ctx := r.Context()
	if err := s.assign(ctx, principalFrom(ctx), id, body.Assignees); err != nil {
		s.fail(w, r, err)
		return
	}
	// Read past the scope: a line manager who passed it on was just shown it.
	d, tl, err := s.store.GetDeviation(ctx, id)
	if err != nil {
		s.fail(w, r, fmt.Errorf("get deviation %s: %w", id, err))
		return
	}
	a := newAPIDeviation(d, s.now())
	a.Timeline = newAPITimeline(tl)
	writeJSON(w, http.StatusOK, a)
}
