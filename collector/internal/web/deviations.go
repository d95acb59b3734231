package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/rules"
)

// Limits of the deviation list.
const (
	defaultDeviationLimit = 100  // API, without ?limit=
	maxDeviationLimit     = 1000 // API
	deviationPageRows     = 500  // the deviations page
)

// knownRules are the rules of the catalogue, in its order: the rule filter
// offers them and the message catalogue describes each (rule.<name>).
var knownRules = rules.Names()

// statuses are the deviation statuses in lifecycle order.
var statuses = []string{model.StatusNew, model.StatusHandling, model.StatusClosed, model.StatusRejected}

// statusKey is the catalogue key of a status's name; "" for no status.
func statusKey(st string) string {
	switch st {
	case model.StatusNew:
		return "status.new"
	case model.StatusHandling:
		return "status.handling"
	case model.StatusClosed:
		return "status.closed"
	case model.StatusRejected:
		return "status.rejected"
	}
	return ""
}

func statusLabel(lang, st string) string {
	if k := statusKey(st); k != "" {
		return translate(lang, k)
	}
	return st
}

// nextStatuses are the steps a deviation in status st may take:
// ny -> under behandling -> lukket, and either open status -> avvist.
func nextStatuses(st string) []string {
	switch st {
	case model.StatusNew:
		return []string{model.StatusHandling, model.StatusRejected}
	case model.StatusHandling:
		return []string{model.StatusClosed, model.StatusRejected}
	}
	return nil
}

// needsReason reports whether moving to st must say why.
func needsReason(st string) bool { return st == model.StatusClosed || st == model.StatusRejected }

// overdue reports whether an open deviation is past its SLA due date.
func overdue(d model.Deviation, now time.Time) bool {
	return model.StatusOpen(d.Status) && !d.DueAt.IsZero() && now.After(d.DueAt)
}

// breachOverdue reports whether an open deviation is past its 72-hour breach
// deadline.
func breachOverdue(d model.Deviation, now time.Time) bool {
	return model.StatusOpen(d.Status) && d.PersonalData && !d.BreachDue.IsZero() && now.After(d.BreachDue)
}

// deviationScope returns which deviations p may see, and (with a handling
// role) handle: every one (nil) for every role but leder; a line manager sees
// those assigned to them in person or filed under a unit they manage or one
// below it (the organisation register). Lists and every single-deviation
// route, page and API, pass through here, so that rule lives here and
// nowhere else.
func (s *Server) deviationScope(ctx context.Context, p *principal) (*leaderScope, error) {
	if p == nil || p.Role != model.RoleLeder {
		return nil, nil
	}
	sc, err := s.leaderScopeOf(ctx, p.Acts)
	if err != nil {
		return nil, fmt.Errorf("scope of %s: %w", p.Name, err)
	}
	return &sc, nil
}

// inScope reports whether d is in the scope (nil: all).
func inScope(sc *leaderScope, d model.Deviation) bool { return sc == nil || sc.sees(d.Assignees) }

// getDeviation returns a deviation p may see, with its timeline; one p may
// not see is not found, so that its existence is not told.
func (s *Server) getDeviation(ctx context.Context, p *principal, id string) (model.Deviation, []model.TimelineEvent, error) {
	d, tl, err := s.store.GetDeviation(ctx, id)
	if err != nil {
		return model.Deviation{}, nil, fmt.Errorf("get deviation %s: %w", id, err)
	}
	sc, err := s.deviationScope(ctx, p)
	if err != nil {
		return model.Deviation{}, nil, err
	}
	if !inScope(sc, d) {
		return model.Deviation{}, nil, fmt.Errorf("deviation %s outside %s's scope: %w", id, p.Name, model.ErrNotFound)
	}
	return d, tl, nil
}

// listDeviations runs q and keeps what p may see. A line manager's list is
// filtered after the query, so it may hold fewer than the limit although
// more exist; the scope belongs in the query once deviations carry their
// unit as a column.
func (s *Server) listDeviations(ctx context.Context, p *principal, q model.DeviationQuery) ([]model.Deviation, error) {
	sc, err := s.deviationScope(ctx, p)
	if err != nil {
		return nil, err
	}
	ds, err := s.store.ListDeviations(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list deviations: %w", err)
	}
	return slices.DeleteFunc(ds, func(d model.Deviation) bool { return !inScope(sc, d) }), nil
}

// deviationQuery reads the list filters: status ("open", a status, or none
// for all), rule, agent and subject.
func deviationQuery(r *http.Request) (model.DeviationQuery, error) {
	var q model.DeviationQuery
	var err error
	if q.Status, err = queryParam(r, "status"); err != nil {
		return q, err
	}
	switch q.Status {
	case "", "open":
	case "all":
		q.Status = ""
	default:
		if statusKey(q.Status) == "" {
			return q, refuse(model.ErrInvalid, "problem.status_filter", q.Status)
		}
	}
	if q.Rule, err = queryParam(r, "rule"); err != nil {
		return q, err
	}
	if q.AgentID, err = queryParam(r, "agent"); err != nil {
		return q, err
	}
	if q.Subject, err = queryParam(r, "subject"); err != nil {
		return q, err
	}
	if q.Severity, err = queryParam(r, "severity"); err != nil {
		return q, err
	}
	if q.Severity != "" && !slices.Contains(severities, q.Severity) {
		return q, refuse(model.ErrInvalid, "problem.severity_filter", q.Severity)
	}
	return q, nil
}

// changeStatus moves deviation id to status for p, saying why.
func (s *Server) changeStatus(ctx context.Context, p *principal, id, status, reason string) error {
	if statusKey(status) == "" {
		return refuse(model.ErrInvalid, "problem.status_unknown", status)
	}
	d, _, err := s.getDeviation(ctx, p, id)
	if err != nil {
		return err
	}
	if !slices.Contains(nextStatuses(d.Status), status) {
		return refuse(model.ErrInvalid, "problem.status_step", d.Status, status)
	}
	if reason, err = checkText(reason, needsReason(status), "problem.reason_required"); err != nil {
		return err
	}
	if err := s.store.SetDeviationStatus(ctx, id, status, p.Name, reason, s.now()); err != nil {
		if errors.Is(err, model.ErrInvalid) {
			// Checked above, so the deviation moved meanwhile.
			return refuse(model.ErrInvalid, "problem.status_changed")
		}
		return fmt.Errorf("set status of %s: %w", id, err)
	}
	return nil
}

// addComment appends p's comment to deviation id.
func (s *Server) addComment(ctx context.Context, p *principal, id, text string) error {
	text, err := checkText(text, true, "problem.comment_required")
	if err != nil {
		return err
	}
	if _, _, err := s.getDeviation(ctx, p, id); err != nil {
		return err
	}
	if err := s.store.CommentDeviation(ctx, id, p.Name, text, s.now()); err != nil {
		return fmt.Errorf("comment on %s: %w", id, err)
	}
	return nil
}

// API.

// apiDeviation is a deviation in the JSON API. Times are RFC 3339 in UTC;
// zero times are left out. The timeline comes with a single deviation only.
type apiDeviation struct {
	ID            string              `json:"id"`
	Rule          string              `json:"rule"`
	Subject       string              `json:"subject"`
	AgentID       string              `json:"agent_id,omitempty"`
	Title         string              `json:"title"`
	Severity      string              `json:"severity"`
	Refs          []string            `json:"refs"`
	Status        string              `json:"status"`
	Open          bool                `json:"open"`
	Assignees     []string            `json:"assignees"`
	CreatedAt     string              `json:"created_at,omitempty"`
	UpdatedAt     string              `json:"updated_at,omitempty"`
	DueAt         string              `json:"due_at,omitempty"`
	Overdue       bool                `json:"overdue"`
	FirstSeen     string              `json:"first_seen,omitempty"`
	LastSeen      string              `json:"last_seen,omitempty"`
	Count         int                 `json:"count"`
	PersonalData  bool                `json:"personal_data"`
	BreachT0      string              `json:"breach_t0,omitempty"`
	BreachDue     string              `json:"breach_due,omitempty"`
	BreachOverdue bool                `json:"breach_overdue"`
	Facts         map[string]string   `json:"facts"`
	Evidence      []model.EvidenceRef `json:"evidence"`
	Timeline      []apiTimelineEvent  `json:"timeline,omitempty"`
}

// apiTimelineEvent is one timeline entry; detail is the stored JSON (or the
// stored text as a JSON string when it is none).
type apiTimelineEvent struct {
	Seq    int64           `json:"seq"`
	At     string          `json:"at"`
	Actor  string          `json:"actor"`
	Type   string          `json:"type"`
	Text   string          `json:"text,omitempty"`
	Detail json.RawMessage `json:"detail,omitempty"`
}

func newAPIDeviation(d model.Deviation, now time.Time) apiDeviation {
	a := apiDeviation{
		ID: d.ID, Rule: d.Rule, Subject: d.Subject, AgentID: d.AgentID, Title: d.Title, Severity: d.Severity,
		Refs: nonNil(d.Refs), Status: d.Status, Open: model.StatusOpen(d.Status), Assignees: nonNil(d.Assignees),
		CreatedAt: apiTime(d.CreatedAt), UpdatedAt: apiTime(d.UpdatedAt), DueAt: apiTime(d.DueAt), Overdue: overdue(d, now),
		FirstSeen: apiTime(d.FirstSeen), LastSeen: apiTime(d.LastSeen), Count: d.Count,
		PersonalData: d.PersonalData, BreachT0: apiTime(d.BreachT0), BreachDue: apiTime(d.BreachDue),
		BreachOverdue: breachOverdue(d, now), Facts: d.Facts, Evidence: nonNil(d.Evidence),
	}
	if a.Facts == nil {
		a.Facts = map[string]string{}
	}
	return a
}

func newAPITimeline(tl []model.TimelineEvent) []apiTimelineEvent {
	out := make([]apiTimelineEvent, 0, len(tl))
	for _, e := range tl {
		out = append(out, apiTimelineEvent{Seq: e.Seq, At: apiTime(e.At), Actor: e.Actor, Type: e.Type, Text: e.Text, Detail: detailJSON(e.Detail)})
	}
	return out
}

// detailJSON is a stored detail as JSON: itself when it is JSON, else a JSON
// string of it.
func detailJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	if b := rawJSON(s); b != nil {
		return b
	}
	b, _ := json.Marshal(s)
	return b
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func (s *Server) handleAPIDeviations(w http.ResponseWriter, r *http.Request) {
	q, err := deviationQuery(r)
	if err == nil {
		q.Limit, err = queryLimit(r, defaultDeviationLimit, maxDeviationLimit)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ds, err := s.listDeviations(r.Context(), principalFrom(r.Context()), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	out := make([]apiDeviation, 0, len(ds))
	for _, d := range ds {
		out = append(out, newAPIDeviation(d, now))
	}
	writeJSON(w, http.StatusOK, struct {
		Deviations []apiDeviation `json:"deviations"`
	}{out})
}

// writeDeviation answers with deviation id and its timeline.
func (s *Server) writeDeviation(w http.ResponseWriter, r *http.Request, status int, id string) {
	d, tl, err := s.getDeviation(r.Context(), principalFrom(r.Context()), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a := newAPIDeviation(d, s.now())
	a.Timeline = newAPITimeline(tl)
	writeJSON(w, status, a)
}

func (s *Server) handleAPIDeviation(w http.ResponseWriter, r *http.Request) {
	s.writeDeviation(w, r, http.StatusOK, r.PathValue("id"))
}

func (s *Server) handleAPIDeviationStatus(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := s.changeStatus(r.Context(), principalFrom(r.Context()), id, body.Status, body.Reason); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeDeviation(w, r, http.StatusOK, id)
}

func (s *Server) handleAPIDeviationComment(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text string `json:"text"`
	}
	if err := decodeJSONBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := s.addComment(r.Context(), principalFrom(r.Context()), id, body.Text); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeDeviation(w, r, http.StatusCreated, id)
}

// Pages.

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// deviationRow is a deviation as the pages show it.
type deviationRow struct {
	model.Deviation
	Host          string // the host's name, or its agent id
	StatusLabel   string
	RuleLabel     string
	SeverityLabel string
	Overdue       bool
	BreachOverdue bool
}

func newDeviationRow(lang string, d model.Deviation, host string, now time.Time) deviationRow {
	if host == "" {
		host = d.AgentID
	}
	return deviationRow{
		Deviation: d, Host: host,
		StatusLabel:   statusLabel(lang, d.Status),
		RuleLabel:     translateOr(lang, "rule."+d.Rule, d.Rule),
		SeverityLabel: translateOr(lang, "severity."+d.Severity, d.Severity),
		Overdue:       overdue(d, now),
		BreachOverdue: breachOverdue(d, now),
	}
}

// Orders of the deviations page.
const (
	sortNewest   = "newest"    // opened most recently first (the store's order)
	sortLastSeen = "last_seen" // seen most recently first
	sortDue      = "due"       // soonest due first; none last
)

// deviationsView is the deviations page.
type deviationsView struct {
	Rows       []deviationRow
	Statuses   []option
	Rules      []option
	Severities []option
	Sorts      []option
	Filtered   bool // a filter other than the default is set
	Limited    bool
	Limit      int
}

func (s *Server) handleDeviationsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	lang := langFrom(ctx)
	status := r.URL.Query().Get("status")
	if !r.URL.Query().Has("status") {
		status = "open" // what needs handling, unless asked otherwise
	}
	q, err := deviationQuery(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if status == "open" {
		q.Status = "open"
	}
	order := r.URL.Query().Get("sort")
	switch order {
	case sortNewest, sortLastSeen, sortDue:
	case "":
		order = sortNewest
	default:
		s.fail(w, r, refuse(model.ErrInvalid, "problem.sort"))
		return
	}
	q.Limit = deviationPageRows + 1
	ds, err := s.listDeviations(ctx, principalFrom(ctx), q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v := deviationsView{Limit: deviationPageRows, Filtered: q.Status != "open" || q.Rule != "" || q.AgentID != "" || q.Subject != "" || q.Severity != ""}
	if len(ds) > deviationPageRows {
		ds, v.Limited = ds[:deviationPageRows], true
	}
	names, err := s.hostNames(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	for _, d := range ds {
		v.Rows = append(v.Rows, newDeviationRow(lang, d, names[d.AgentID], now))
	}
	sortDeviations(v.Rows, order)

	shown := q.Status
	if shown == "" {
		shown = "all"
	}
	v.Statuses = append(v.Statuses,
		option{"open", translate(lang, "dev.filter.open"), shown == "open"},
		option{"all", translate(lang, "dev.filter.all"), shown == "all"})
	for _, st := range statuses {
		v.Statuses = append(v.Statuses, option{st, statusLabel(lang, st), shown == st})
	}
	v.Severities = append(v.Severities, option{"", translate(lang, "dev.filter.all_severities"), q.Severity == ""})
	for _, sev := range severities {
		v.Severities = append(v.Severities, option{sev, translateOr(lang, "severity."+sev, sev), q.Severity == sev})
	}
	v.Rules = append(v.Rules, option{"", translate(lang, "dev.filter.all_rules"), q.Rule == ""})
	ruleNames := slices.Clone(knownRules)
	if q.Rule != "" && !slices.Contains(ruleNames, q.Rule) {
		ruleNames = append(ruleNames, q.Rule)
	}
	for _, rule := range ruleNames {
		v.Rules = append(v.Rules, option{rule, translateOr(lang, "rule."+rule, rule), q.Rule == rule})
	}
	for _, o := range []string{sortNewest, sortLastSeen, sortDue} {
		v.Sorts = append(v.Sorts, option{o, translate(lang, "dev.sort."+o), order == o})
	}
	s.render(w, r, http.StatusOK, "deviations", pageData{Title: "dev.title", Nav: "deviations", Live: TopicDeviations, Data: v})
}

// sortDeviations orders rows for the page; ties keep the store's order.
func sortDeviations(rows []deviationRow, order string) {
	switch order {
	case sortNewest:
		slices.SortStableFunc(rows, func(a, b deviationRow) int { return b.CreatedAt.Compare(a.CreatedAt) })
	case sortLastSeen:
		slices.SortStableFunc(rows, func(a, b deviationRow) int { return b.LastSeen.Compare(a.LastSeen) })
	case sortDue:
		slices.SortStableFunc(rows, func(a, b deviationRow) int {
			if a.DueAt.IsZero() != b.DueAt.IsZero() {
				return cmp.Compare(boolInt(a.DueAt.IsZero()), boolInt(b.DueAt.IsZero()))
			}
			return a.DueAt.Compare(b.DueAt)
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// hostNames maps agent ids to host names.
func (s *Server) hostNames(ctx context.Context) (map[string]string, error) {
	hosts, err := s.store.ListHosts(ctx)
	if err != nil {
		return nil, fmt.Errorf("list hosts: %w", err)
	}
	m := make(map[string]string, len(hosts))
	for _, h := range hosts {
		m[h.ID] = hostname(h)
	}
	return m, nil
}

// deviationView is the page of one deviation.
type deviationView struct {
	deviationRow
	HostKnown bool
	Facts     []factRow
	Evidence  []evidenceRow
	Timeline  []timelineRow
	Next      []option // the statuses it may move to
	Saved     string   // catalogue key of what was just saved
	// A refused form: which one, why, and what was typed.
	FormFor   string // "status", "comment", "breach" or "exception"
	FormError string
	Reason    string
	Comment   string

	breachSection // breach.go: the breach assessment and the exception form
	assignSection // assign.go: who handles it, and the assignment form
}

type factRow struct{ Label, Key, Value string }

type evidenceRow struct {
	AgentID, Host string
	Seq           uint64
	Kind          string
	KnownHost     bool
}

type timelineRow struct {
	At        time.Time
	Actor     string
	Type      string
	TypeLabel string
	Change    string // a status change: from → to, in the page's language
	Text      string // a comment, a reason, or what happened
}

// newTimelineRow words a timeline entry for the page. What the system wrote
// (the opening finding's English title, an occurrence on another host) is
// told from the rule and the detail in the page's language; what people
// wrote (comments, reasons) is shown as they wrote it.
func newTimelineRow(lang string, e model.TimelineEvent, ruleLabel string, hosts map[string]string) timelineRow {
	row := timelineRow{At: e.At, Actor: e.Actor, Type: e.Type, TypeLabel: translateOr(lang, "timeline."+e.Type, e.Type), Text: e.Text}
	var detail struct {
		AgentID  string `json:"agent_id"`
		From, To string
	}
	_ = json.Unmarshal([]byte(e.Detail), &detail)
	switch e.Type {
	case model.TimelineCreated:
		row.Text = ruleLabel
	case model.TimelineOccurrence:
		if detail.AgentID != "" {
			host := cmp.Or(hosts[detail.AgentID], detail.AgentID)
			row.Text = translatef(lang, "timeline.seen_on", host)
		}
	case model.TimelineStatus:
		if detail.From != "" && detail.To != "" {
			row.Change = statusLabel(lang, detail.From) + " → " + statusLabel(lang, detail.To)
		}
	}
	return row
}

func (s *Server) handleDeviationPage(w http.ResponseWriter, r *http.Request) {
	v := deviationView{}
	switch r.URL.Query().Get("saved") {
	case "status":
		v.Saved = "dev.saved.status"
	case "comment":
		v.Saved = "dev.saved.comment"
	case "assign":
		v.Saved = "dev.saved.assign"
	}
	s.renderDeviation(w, r, http.StatusOK, r.PathValue("id"), v)
}

func (s *Server) renderDeviation(w http.ResponseWriter, r *http.Request, status int, id string, v deviationView) {
	ctx := r.Context()
	lang := langFrom(ctx)
	d, tl, err := s.getDeviation(ctx, principalFrom(ctx), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names, err := s.hostNames(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, v.HostKnown = names[d.AgentID]
	v.deviationRow = newDeviationRow(lang, d, names[d.AgentID], s.now())
	for _, k := range slices.Sorted(maps.Keys(d.Facts)) {
		v.Facts = append(v.Facts, factRow{Label: translateOr(lang, "fact."+k, k), Key: k, Value: d.Facts[k]})
	}
	for _, e := range d.Evidence {
		host, ok := names[e.AgentID]
		if !ok {
			host = e.AgentID
		}
		v.Evidence = append(v.Evidence, evidenceRow{AgentID: e.AgentID, Host: host, Seq: e.Seq,
			Kind: translateOr(lang, "evidence.kind."+e.Kind, e.Kind), KnownHost: ok})
	}
	for _, e := range tl {
		v.Timeline = append(v.Timeline, newTimelineRow(lang, e, v.RuleLabel, names))
	}
	for i, st := range nextStatuses(d.Status) {
		v.Next = append(v.Next, option{st, statusLabel(lang, st), i == 0})
	}
	if err := s.fillBreachSection(ctx, r, principalFrom(ctx), d, &v); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.fillAssignSection(ctx, d, &v); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "deviation", pageData{TitleText: d.ID, Nav: "deviations", Data: v})
}

// formRefused shows the deviation page again with the form's error, or
// fails outright when err is not the person's to fix.
func (s *Server) formRefused(w http.ResponseWriter, r *http.Request, err error, v deviationView) {
	var ue *userError
	if !errors.As(err, &ue) || !errors.Is(err, model.ErrInvalid) {
		s.fail(w, r, err)
		return
	}
	v.FormError = ue.message(langFrom(r.Context()))
	s.renderDeviation(w, r, http.StatusBadRequest, r.PathValue("id"), v)
}

func (s *Server) handleDeviationStatusForm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	status, reason := r.PostFormValue("status"), r.PostFormValue("reason")
	if err := s.changeStatus(r.Context(), principalFrom(r.Context()), id, status, reason); err != nil {
		s.formRefused(w, r, err, deviationView{FormFor: "status", Reason: reason})
		return
	}
	http.Redirect(w, r, "/deviations/"+url.PathEscape(id)+"?saved=status", http.StatusSeeOther)
}

func (s *Server) handleDeviationCommentForm(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	text := r.PostFormValue("text")
	if err := s.addComment(r.Context(), principalFrom(r.Context()), id, text); err != nil {
		s.formRefused(w, r, err, deviationView{FormFor: "comment", Comment: text})
		return
	}
	http.Redirect(w, r, "/deviations/"+url.PathEscape(id)+"?saved=comment#timeline", http.StatusSeeOther)
}

// severities are the deviation list's severity filter values, gravest first.
var severities = []string{model.SeverityCritical, model.SeverityHigh, model.SeverityMedium, model.SeverityLow}
