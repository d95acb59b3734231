package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// apiHost is one host in the JSON API. Times are RFC 3339 in UTC; zero times
// are left out.
type apiHost struct {
	AgentID         string     `json:"agent_id"`
	Hostname        string     `json:"hostname"`
	OS              string     `json:"os"`
	Platform        string     `json:"platform"`
	PlatformVersion string     `json:"platform_version"`
	Kernel          string     `json:"kernel"`
	Arch            string     `json:"arch"`
	Version         string     `json:"version"`
	EnrolledAt      string     `json:"enrolled_at,omitempty"`
	LastSeen        string     `json:"last_seen,omitempty"`
	Revoked         bool       `json:"revoked"`
	RevokedAt       string     `json:"revoked_at,omitempty"`
	Records         int64      `json:"records"`
	MinSeq          uint64     `json:"min_seq"`
	MaxSeq          uint64     `json:"max_seq"`
	FactsAt         string     `json:"facts_at,omitempty"`
	Facts           *wire.Host `json:"facts,omitempty"`
}

func newAPIHost(h model.HostSummary) apiHost {
	a := apiHost{
		AgentID:    h.ID,
		Hostname:   hostname(h),
		Version:    h.Version,
		EnrolledAt: apiTime(h.EnrolledAt),
		LastSeen:   apiTime(h.LastSeen),
		Revoked:    h.Revoked(),
		RevokedAt:  apiTime(h.RevokedAt),
		Records:    h.Records,
		MinSeq:     h.MinSeq,
		MaxSeq:     h.MaxSeq,
		FactsAt:    apiTime(h.FactsAt),
		Facts:      h.Facts,
	}
	if f := h.Facts; f != nil {
		a.OS, a.Platform, a.PlatformVersion, a.Kernel, a.Arch = f.OS, f.Platform, f.PlatformVersion, f.Kernel, f.Arch
	}
	return a
}

func apiTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) handleAPIHosts(w http.ResponseWriter, r *http.Request) {
	hosts, err := s.store.ListHosts(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list hosts: %w", err))
		return
	}
	out := make([]apiHost, 0, len(hosts))
	for _, h := range hosts {
		out = append(out, newAPIHost(h))
	}
	writeJSON(w, http.StatusOK, struct {
		Hosts []apiHost `json:"hosts"`
	}{out})
}

func (s *Server) handleAPIHost(w http.ResponseWriter, r *http.Request) {
	h, err := s.store.GetHost(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, fmt.Errorf("get host: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, newAPIHost(h))
}
