package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Limits of the audit log's page and API.
const (
	auditPageRows     = 50
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
	auditScanChunk    = 1000 // events read from the store at a time
	maxAuditDetail    = 2000 // characters of a detail shown on the page
)

// auditFilter selects audit events: the actor contains Actor (ignoring
// case), the action is Action or starts with Action and a dot ("user"
// matches user.login), and the time is in [From, To).
type auditFilter struct {
	Actor, Action string
	From, To      time.Time
}

func (f auditFilter) match(e model.AuditEvent) bool {
	switch {
	case f.Actor != "" && !strings.Contains(strings.ToLower(e.Actor), strings.ToLower(f.Actor)),
		f.Action != "" && e.Action != f.Action && !strings.HasPrefix(e.Action, f.Action+"."),
		!f.From.IsZero() && e.At.Before(f.From),
		!f.To.IsZero() && !e.At.Before(f.To):
		return false
	}
	return true
}

// auditFilterOf reads ?actor=, ?action=, ?from= and ?to=.
func auditFilterOf(r *http.Request) (auditFilter, error) {
	var f auditFilter
	var err error
	if f.Actor, err = queryParam(r, "actor"); err != nil {
		return f, err
	}
	if f.Action, err = queryParam(r, "action"); err != nil {
		return f, err
	}
	f.Action = strings.TrimSuffix(f.Action, ".")
	f.From, f.To, err = queryPeriod(r)
	return f, err
}

// querySeq reads a sequence-number parameter: 0 without one.
func querySeq(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, refuse(model.ErrInvalid, "audit.problem.seq", name)
	}
	return n, nil
}

// eachAudit calls fn with the audit events after seq after, in order, until
// fn returns false. The store answers in chunks; the filters are applied
// here, so that the audit log's store stays as simple as an append-only log.
func (s *Server) eachAudit(ctx context.Context, after int64, fn func(model.AuditEvent) bool) error {
	for {
		es, err := s.store.ListAudit(ctx, after, auditScanChunk)
		if err != nil {
			return fmt.Errorf("list audit: %w", err)
		}
		for _, e := range es {
			if !fn(e) {
				return nil
			}
			after = e.Seq
		}
		if len(es) < auditScanChunk {
			return nil
		}
	}
}

// auditView is the Revisjon page: one page of the audit log, newest first.
type auditView struct {
	Rows                    []auditRow
	Actor, Action, From, To string // the filters as given
	Filtered                bool
	OlderHref, NewestHref   string // "" when there is no such page
	PageRows                int
	// The evidence export form: offered when the collector can export;
	// the dates it starts with (this year so far).
	CanExport            bool
	ExportFrom, ExportTo string
}

type auditRow struct {
	model.AuditEvent
	DetailShown string
}

func (s *Server) handleAuditPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := auditFilterOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	before, err := querySeq(r, "before")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Keep the newest auditPageRows+1 matches below before: one more than
	// shown tells whether an older page exists.
	var window []model.AuditEvent
	err = s.eachAudit(ctx, 0, func(e model.AuditEvent) bool {
		if before > 0 && e.Seq >= before {
			return false
		}
		if f.match(e) {
			window = append(window, e)
			if len(window) > 4*(auditPageRows+1) {
				window = slices.Clone(window[len(window)-(auditPageRows+1):])
			}
		}
		return true
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	v := auditView{Actor: q.Get("actor"), Action: q.Get("action"), From: q.Get("from"), To: q.Get("to"), PageRows: auditPageRows}
	v.Filtered = v.Actor != "" || v.Action != "" || v.From != "" || v.To != ""
	if s.exportEvidence != nil {
		today := s.now().In(uiZone)
		v.CanExport = true
		v.ExportFrom = time.Date(today.Year(), 1, 1, 0, 0, 0, 0, uiZone).Format(dateLayout)
		v.ExportTo = today.Format(dateLayout)
	}
	older := len(window) > auditPageRows
	if older {
		window = window[len(window)-auditPageRows:]
	}
	slices.Reverse(window)
	for _, e := range window {
		v.Rows = append(v.Rows, auditRow{AuditEvent: e, DetailShown: shorten(e.Detail, maxAuditDetail)})
	}
	link := func(before int64) string {
		keep := url.Values{}
		for _, k := range []string{"actor", "action", "from", "to", langParam} {
			if x := q.Get(k); x != "" {
				keep.Set(k, x)
			}
		}
		if before > 0 {
			keep.Set("before", strconv.FormatInt(before, 10))
		}
		if len(keep) == 0 {
			return "/audit"
		}
		return "/audit?" + keep.Encode()
	}
	if older {
		v.OlderHref = link(window[len(window)-1].Seq)
	}
	if before > 0 {
		v.NewestHref = link(0)
	}
	s.render(w, r, http.StatusOK, "audit", pageData{Title: "audit.title", Nav: "audit", Data: v})
}

// shorten cuts s to at most n characters, marking the cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// apiAuditEvent is one audit event in the JSON API; detail is the stored
// JSON, or the stored text as a JSON string.
type apiAuditEvent struct {
	Seq     int64           `json:"seq"`
	At      string          `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject,omitempty"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// handleAPIAudit answers the audit log oldest first from ?after= (a seq), at
// most ?limit= events that pass the filters; next is the seq to ask after
// for more, 0 when the log holds no more.
func (s *Server) handleAPIAudit(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilterOf(r)
	var after int64
	var limit int
	if err == nil {
		after, err = querySeq(r, "after")
	}
	if err == nil {
		limit, err = queryLimit(r, defaultAuditLimit, maxAuditLimit)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []apiAuditEvent{}
	var next int64
	err = s.eachAudit(r.Context(), after, func(e model.AuditEvent) bool {
		if len(out) == limit {
			next = out[len(out)-1].Seq // there is more after the last one sent
			return false
		}
		if f.match(e) {
			out = append(out, apiAuditEvent{Seq: e.Seq, At: apiTime(e.At), Actor: e.Actor, Action: e.Action,
				Subject: e.Subject, Detail: detailJSON(e.Detail)})
		}
		return true
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Events []apiAuditEvent `json:"events"`
		Next   int64           `json:"next"`
	}{out, next})
}
