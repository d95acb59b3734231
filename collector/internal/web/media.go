package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// Limits of the media log.
const (
	defaultMediaLimit = 100  // API, without ?limit=
	maxMediaLimit     = 1000 // API and page
	mediaPageRows     = 100  // the media page
	hostMediaRows     = 20   // the media section of the host page
)

// mediaQuery reads the media log's query parameters: agent, key, before and
// limit.
func mediaQuery(r *http.Request, defLimit int) (model.MediaLogQuery, error) {
	var q model.MediaLogQuery
	var err error
	if q.AgentID, err = queryParam(r, "agent"); err != nil {
		return q, err
	}
	if q.Key, err = queryParam(r, "key"); err != nil {
		return q, err
	}
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return q, refuse(model.ErrInvalid, "problem.before")
		}
		q.BeforeID = n
	}
	if q.Limit, err = queryLimit(r, defLimit, maxMediaLimit); err != nil {
		return q, err
	}
	return q, nil
}

// mediaLog runs q and returns at most q.Limit events; next is the id to page
// on with ?before= when there are older ones, else 0.
func (s *Server) mediaLog(r *http.Request, q model.MediaLogQuery) (evs []model.MediaEvent, next int64, err error) {
	limit := q.Limit
	q.Limit++
	evs, err = s.store.MediaLog(r.Context(), q)
	if err != nil {
		return nil, 0, fmt.Errorf("media log: %w", err)
	}
	if len(evs) > limit {
		evs = evs[:limit]
		next = evs[limit-1].ID
	}
	return evs, next, nil
}

// apiMediaEvent is one media event in the JSON API; event is the agent's
// report as it sent it.
type apiMediaEvent struct {
	ID         int64           `json:"id"`
	AgentID    string          `json:"agent_id"`
	Hostname   string          `json:"hostname,omitempty"`
	Seq        uint64          `json:"seq"`
	At         string          `json:"at"`
	ReceivedAt string          `json:"received_at,omitempty"`
	Key        string          `json:"key"` // the medium's register key, vid:pid:serial
	Evaluated  bool            `json:"evaluated"`
	Event      wire.MediaEvent `json:"event"`
}

// apiMediaLog is a page of the media log, newest first. Next, when set, is
// the ?before= of the following (older) page.
type apiMediaLog struct {
	AgentID string          `json:"agent_id,omitempty"`
	Events  []apiMediaEvent `json:"events"`
	Next    int64           `json:"next,omitempty"`
}

func newAPIMediaLog(agent string, evs []model.MediaEvent, next int64) apiMediaLog {
	out := apiMediaLog{AgentID: agent, Events: make([]apiMediaEvent, 0, len(evs)), Next: next}
	for _, e := range evs {
		out.Events = append(out.Events, apiMediaEvent{
			ID: e.ID, AgentID: e.AgentID, Hostname: e.Hostname, Seq: e.Seq,
			At: apiTime(e.At), ReceivedAt: apiTime(e.ReceivedAt),
			Key: e.Event.Device.Key(), Evaluated: e.Evaluated, Event: e.Event,
		})
	}
	return out
}

func (s *Server) handleAPIMedia(w http.ResponseWriter, r *http.Request) {
	q, err := mediaQuery(r, defaultMediaLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	evs, next, err := s.mediaLog(r, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newAPIMediaLog("", evs, next))
}

func (s *Server) handleAPIHostMedia(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.store.GetHost(r.Context(), id); err != nil {
		s.fail(w, r, fmt.Errorf("get host: %w", err))
		return
	}
	q, err := mediaQuery(r, defaultMediaLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q.AgentID = id
	evs, next, err := s.mediaLog(r, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newAPIMediaLog(id, evs, next))
}

// mediaRow is one media event as the pages show it, its words already in
// the page's language.
type mediaRow struct {
	ID          int64
	At          time.Time
	AgentID     string
	Host        string
	Action      string // wire.Media… action, for the badge's look
	ActionLabel string
	Class       string
	VIDPID      string
	Key         string
	Vendor      string
	Product     string
	Serial      string
	HasVolumes  bool
	Labels      []string
	FS          []string
	Encrypted   string // yes, no, unknown; "" without volumes
	EncLabel    string
	Markings    []markingView
	Decision    *decisionView
	MountPoints []string
	MountUser   string
	ReadOnly    bool
}

type markingView struct {
	ID, Classification, Source string
}

type decisionView struct {
	Verdict      string // wire.Verdict…, for the badge's look
	VerdictLabel string
	Rule         string
	RuleLabel    string
	Mode         string
	Enforced     bool
	Error        string
}

func newMediaRow(lang string, e model.MediaEvent) mediaRow {
	d := e.Event.Device
	row := mediaRow{
		ID: e.ID, At: e.At, AgentID: e.AgentID, Host: e.Hostname,
		Action:      e.Event.Action,
		ActionLabel: translateOr(lang, "media.action."+e.Event.Action, e.Event.Action),
		Class:       translateOr(lang, "media.class."+d.Class, d.Class),
		Key:         d.Key(),
		Vendor:      d.Vendor, Product: d.Product, Serial: d.Serial,
	}
	if row.Host == "" {
		row.Host = e.AgentID
	}
	if d.VID != "" || d.PID != "" {
		row.VIDPID = d.VID + ":" + d.PID
	}
	enc := ""
	row.HasVolumes = len(d.Volumes) > 0
	for _, v := range d.Volumes {
		if v.Label != "" {
			row.Labels = append(row.Labels, v.Label)
		}
		if v.FSType != "" && !slices.Contains(row.FS, v.FSType) {
			row.FS = append(row.FS, v.FSType)
		}
		if v.MountPoint != "" {
			row.MountPoints = append(row.MountPoints, v.MountPoint)
		}
		if m := v.Marking; m != nil {
			row.Markings = append(row.Markings, markingView{
				ID: m.ID, Classification: m.Classification,
				Source: translateOr(lang, "media.marking."+m.Source, m.Source),
			})
		}
		enc = worseEncryption(enc, v.Encrypted)
	}
	if enc != "" {
		row.Encrypted = enc
		row.EncLabel = translate(lang, "media.encrypted."+enc)
	}
	if dec := e.Event.Decision; dec != nil {
		row.Decision = &decisionView{
			Verdict:      dec.Verdict,
			VerdictLabel: translateOr(lang, "media.verdict."+dec.Verdict, dec.Verdict),
			Rule:         dec.Rule,
			RuleLabel:    translateOr(lang, "media.rule."+dec.Rule, dec.Rule),
			Mode:         translateOr(lang, "media.mode."+dec.Mode, dec.Mode),
			Enforced:     dec.Enforced,
			Error:        dec.Error,
		}
	}
	if m := e.Event.Mount; m != nil {
		if m.Point != "" && !slices.Contains(row.MountPoints, m.Point) {
			row.MountPoints = append([]string{m.Point}, row.MountPoints...)
		}
		row.MountUser, row.ReadOnly = m.User, m.ReadOnly
		if m.FSType != "" && !slices.Contains(row.FS, m.FSType) {
			row.FS = append(row.FS, m.FSType)
		}
	}
	return row
}

// worseEncryption folds one volume's encryption into a medium's: any
// unencrypted volume makes the medium unencrypted; it is encrypted only when
// every volume is; anything else is unknown.
func worseEncryption(acc, v string) string {
	if v != "yes" && v != "no" {
		v = "unknown"
	}
	switch {
	case acc == "":
		return v
	case acc == "no" || v == "no":
		return "no"
	case acc == "yes" && v == "yes":
		return "yes"
	default:
		return "unknown"
	}
}

func mediaRows(lang string, evs []model.MediaEvent) []mediaRow {
	out := make([]mediaRow, 0, len(evs))
	for _, e := range evs {
		out = append(out, newMediaRow(lang, e))
	}
	return out
}

// mediaView is the media page.
type mediaView struct {
	Rows       []mediaRow
	Hosts      []model.HostSummary // for the host filter
	Agent, Key string
	Paged      bool   // showing an older page
	OlderHref  string // "" on the last page
	NewestHref string
}

func (s *Server) handleMediaPage(w http.ResponseWriter, r *http.Request) {
	q, err := mediaQuery(r, mediaPageRows)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	evs, next, err := s.mediaLog(r, q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hosts, err := s.store.ListHosts(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list hosts: %w", err))
		return
	}
	v := mediaView{
		Rows: mediaRows(langFrom(r.Context()), evs), Hosts: hosts,
		Agent: q.AgentID, Key: q.Key, Paged: q.BeforeID != 0,
	}
	link := func(before int64) string {
		u := url.Values{}
		if q.AgentID != "" {
			u.Set("agent", q.AgentID)
		}
		if q.Key != "" {
			u.Set("key", q.Key)
		}
		if v := r.URL.Query().Get("limit"); v != "" {
			u.Set("limit", v)
		}
		if before != 0 {
			u.Set("before", strconv.FormatInt(before, 10))
		}
		if len(u) == 0 {
			return "/media"
		}
		return "/media?" + u.Encode()
	}
	if next != 0 {
		v.OlderHref = link(next)
	}
	v.NewestHref = link(0)
	s.render(w, r, http.StatusOK, "media", pageData{Title: "media.title", Nav: "media", Live: TopicMedia, Data: v})
}

// hostMedia returns the host's newest media events for its page, and whether
// there are more.
func (s *Server) hostMedia(r *http.Request, id string) ([]mediaRow, bool, error) {
	evs, next, err := s.mediaLog(r, model.MediaLogQuery{AgentID: id, Limit: hostMediaRows})
	if err != nil {
		return nil, false, err
	}
	return mediaRows(langFrom(r.Context()), evs), next != 0, nil
}

// mediaTable is what the mediatable template gets.
type mediaTable struct {
	Rows       []mediaRow
	ShowHost   bool   // a column for the host (off on the host's own page)
	LabelledBy string // id of the heading that names the table
}
