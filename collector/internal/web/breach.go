package web

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
)

// breachStore is the store's breach assessments; ErrNotFound when it keeps
// none (then the breach routes are not found).
func (s *Server) breachStore() (model.BreachStore, error) {
	if b, ok := s.store.(model.BreachStore); ok {
		return b, nil
	}
	return nil, fmt.Errorf("breach assessments: the store keeps none: %w", model.ErrNotFound)
}

// breachInput is a breach decision as a form or JSON sends it.
type breachInput struct {
	Decision   string `json:"decision"`
	Rationale  string `json:"rationale"`
	Art34      bool   `json:"art34"`
	NotifiedAt string `json:"notified_at"`
	Reference  string `json:"reference"`
}

// decideBreach records p's breach decision on deviation id.
func (s *Server) decideBreach(ctx context.Context, p *principal, id string, in breachInput) error {
	bs, err := s.breachStore()
	if err != nil {
		return err
	}
	d := model.BreachDecision{DeviationID: id, Decision: in.Decision, Art34: in.Art34, DecidedBy: p.Name, DecidedAt: s.now()}
	if d.Decision != model.BreachNotify && d.Decision != model.BreachNoNotify {
		return refuse(model.ErrInvalid, "problem.breach_decision", in.Decision)
	}
	if d.Rationale, err = checkText(in.Rationale, true, "problem.breach_rationale"); err != nil {
		return err
	}
	if d.Reference, err = checkText(in.Reference, false, ""); err != nil {
		return err
	}
	if d.Decision == model.BreachNotify {
		if strings.TrimSpace(in.NotifiedAt) == "" {
			return refuse(model.ErrInvalid, "problem.breach_notified_at")
		}
		if d.NotifiedAt, err = parseWhen(in.NotifiedAt, "problem.breach_notified_when"); err != nil {
			return err
		}
	}
	dev, _, err := s.getDeviation(ctx, p, id)
	if err != nil {
		return err
	}
	if !dev.PersonalData {
		return refuse(model.ErrInvalid, "problem.breach_no_personal_data", id)
	}
	if err := bs.DecideBreach(ctx, d); err != nil {
		return fmt.Errorf("decide breach of %s: %w", id, err)
	}
	return nil
}

func (s *Server) handleAPIDeviationBreach(w http.ResponseWriter, r *http.Request) {
	var in breachInput
	if err := decodeJSONBody(r, &in); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := s.decideBreach(r.Context(), principalFrom(r.Context()), id, in); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeDeviation(w, r, http.StatusOK, id)
}

func (s *Server) handleDeviationBreachForm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	in := breachInput{Decision: r.PostFormValue("decision"), Rationale: r.PostFormValue("rationale"),
		Art34: r.PostFormValue("art34") == "on", NotifiedAt: r.PostFormValue("notified_at"), Reference: r.PostFormValue("reference")}
	if err := s.decideBreach(r.Context(), principalFrom(r.Context()), id, in); err != nil {
		s.formRefused(w, r, err, deviationView{FormFor: "breach", breachSection: breachSection{BreachForm: in}})
		return
	}
	http.Redirect(w, r, "/deviations/"+url.PathEscape(id)+"?saved=breach#breach", http.StatusSeeOther)
}

// breachRegister returns the breach register as p may see it.
func (s *Server) breachRegister(ctx context.Context, p *principal) ([]model.BreachEntry, error) {
	bs, err := s.breachStore()
	if err != nil {
		return nil, err
	}
	sc, err := s.deviationScope(ctx, p)
	if err != nil {
		return nil, err
	}
	reg, err := bs.BreachRegister(ctx)
	if err != nil {
		return nil, fmt.Errorf("breach register: %w", err)
	}
	return slices.DeleteFunc(reg, func(b model.BreachEntry) bool { return !inScope(sc, b.Deviation) }), nil
}

// apiBreach is one line of the breach register in the JSON API.
type apiBreach struct {
	DeviationID string `json:"deviation_id"`
	Rule        string `json:"rule"`
	Subject     string `json:"subject"`
	Status      string `json:"status"`
	T0          string `json:"t0"`
	Deadline    string `json:"deadline"`
	Overdue     bool   `json:"overdue"`
	EscalatedAt string `json:"escalated_at,omitempty"`
	Decision    string `json:"decision,omitempty"`
	Rationale   string `json:"rationale,omitempty"`
	Art34       bool   `json:"art34"`
	Notified    bool   `json:"notified"`
	NotifiedAt  string `json:"notified_at,omitempty"`
	Reference   string `json:"reference,omitempty"`
	DecidedBy   string `json:"decided_by,omitempty"`
	DecidedAt   string `json:"decided_at,omitempty"`
}

func newAPIBreach(b model.BreachEntry, now time.Time) apiBreach {
	d := b.Deviation
	a := apiBreach{DeviationID: d.ID, Rule: d.Rule, Subject: d.Subject, Status: d.Status, T0: apiTime(d.BreachT0),
		Deadline: apiTime(d.BreachDue), Overdue: b.Overdue(now), EscalatedAt: apiTime(b.EscalatedAt)}
	if x := b.Decision; x != nil {
		a.Decision, a.Rationale, a.Art34, a.Reference = x.Decision, x.Rationale, x.Art34, x.Reference
		a.Notified, a.NotifiedAt = x.Decision == model.BreachNotify, apiTime(x.NotifiedAt)
		a.DecidedBy, a.DecidedAt = x.DecidedBy, apiTime(x.DecidedAt)
	}
	return a
}

func (s *Server) handleAPIBreaches(w http.ResponseWriter, r *http.Request) {
	reg, err := s.breachRegister(r.Context(), principalFrom(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	out := make([]apiBreach, 0, len(reg))
	for _, b := range reg {
		out = append(out, newAPIBreach(b, now))
	}
	writeJSON(w, http.StatusOK, struct {
		Breaches []apiBreach `json:"breaches"`
	}{out})
}

// breachCSVHeader is the breach register's CSV header.
var breachCSVHeader = []string{"deviation_id", "rule", "subject", "status", "t0", "deadline", "overdue", "escalated_at",
	"decision", "rationale", "art34", "notified", "notified_at", "reference", "decided_by", "decided_at"}

func (s *Server) handleAPIBreachesCSV(w http.ResponseWriter, r *http.Request) {
	reg, err := s.breachRegister(r.Context(), principalFrom(r.Context()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="breach-register-`+now.UTC().Format(time.DateOnly)+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(breachCSVHeader)
	for _, b := range reg {
		a := newAPIBreach(b, now)
		row := []string{a.DeviationID, a.Rule, a.Subject, a.Status, a.T0, a.Deadline, strconv.FormatBool(a.Overdue), a.EscalatedAt,
			a.Decision, a.Rationale, strconv.FormatBool(a.Art34), strconv.FormatBool(a.Notified), a.NotifiedAt, a.Reference,
			a.DecidedBy, a.DecidedAt}
		for i := range row {
			row[i] = register.Neutralise(row[i])
		}
		if err := cw.Write(row); err != nil {
			s.log.ErrorContext(r.Context(), "write breach register CSV", "err", err)
			return
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.log.ErrorContext(r.Context(), "write breach register CSV", "err", err)
	}
}

// breachSection is the deviation page's breach assessment and exception
// form (embedded in deviationView; its names do not clash with the
// deviation's).
type breachSection struct {
	// HasBreach: the deviation involves personal data.
	HasBreach bool
	// BreachLeft is the time to the deadline ("2 d 3 h") while undecided
	// and not yet due; BreachLate: past the deadline without a decision.
	BreachLeft      string
	BreachLate      bool
	BreachDecision  *model.BreachDecision
	BreachDecisions []option // notify / no-notify, for the form
	// CanDecide: the viewer may decide the breach and approve exceptions.
	CanDecide  bool
	BreachForm breachInput // what was typed in a refused breach form
	// CanExcept: the deviation is open and the viewer may approve an
	// exception; ExceptionReason and ExceptionExpires are what was typed
	// in a refused form; ExceptionMin and ExceptionMax bound the date.
	CanExcept        bool
	ExceptionReason  string
	ExceptionExpires string
	ExceptionMin     string
	ExceptionMax     string
}

// fillBreachSection fills v's breach section for d as p sees it.
func (s *Server) fillBreachSection(ctx context.Context, r *http.Request, p *principal, d model.Deviation, v *deviationView) error {
	lang := langFrom(ctx)
	if v.Saved == "" {
		switch r.URL.Query().Get("saved") {
		case "exception":
			v.Saved = "exc.saved"
		case "breach":
			v.Saved = "breach.saved"
		}
	}
	b := &v.breachSection
	b.CanDecide = p != nil && s.allowed(p.Role, "POST /deviations/{id}/breach")
	now := s.now()
	if _, err := s.exceptionStore(); err == nil && b.CanDecide && model.StatusOpen(d.Status) {
		b.CanExcept = true
		b.ExceptionMin = now.AddDate(0, 0, 1).UTC().Format(time.DateOnly)
		b.ExceptionMax = now.AddDate(model.MaxExceptionYears, 0, 0).UTC().Format(time.DateOnly)
	}
	if !d.PersonalData {
		return nil
	}
	b.HasBreach = true
	if bs, err := s.breachStore(); err == nil {
		if b.BreachDecision, err = bs.GetBreachDecision(ctx, d.ID); err != nil {
			return fmt.Errorf("breach decision of %s: %w", d.ID, err)
		}
	} else if !errors.Is(err, model.ErrNotFound) {
		return err
	}
	if b.BreachDecision == nil && !d.BreachDue.IsZero() {
		if left := d.BreachDue.Sub(now); left > 0 {
			h := int(left.Hours())
			b.BreachLeft = translatef(lang, "breach.time_left", h/24, h%24)
		} else {
			b.BreachLate = true
		}
	}
	if b.BreachForm.Decision == "" && b.BreachDecision != nil {
		x := b.BreachDecision
		b.BreachForm = breachInput{Decision: x.Decision, Art34: x.Art34, Reference: x.Reference}
	}
	for _, o := range []string{model.BreachNoNotify, model.BreachNotify} {
		b.BreachDecisions = append(b.BreachDecisions, option{o, translate(lang, "breach.decision."+o), b.BreachForm.Decision == o})
	}
	return nil
}
