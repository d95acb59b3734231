package web

import (
	"context"
	"fmt"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// recordReader is the part of a store that returns an agent's raw records.
// The host page reads the agent's newest health record through it when the
// store offers it (the SQL store does); without it the page shows no
// resource guard.
type recordReader interface {
	Records(ctx context.Context, agentID string, after uint64, limit int) ([]wire.Record, error)
}

// healthScan is how many of an agent's newest records the host page looks
// through for its newest health record (the agent sends one a minute, among
// flows and sockets records of the same minute).
const healthScan = 500

// healthView is the agent's resource guard as its newest health record
// reports it: CPU and memory against the budgets of the agent's config,
// and the sensors the guard slows.
type healthView struct {
	CPU, CPUBudget      string // percent of one core, in the page's language
	RSS, MemoryBudget   uint64
	OverCPU, OverMemory bool
	Throttled           []throttledView
}

type throttledView struct {
	Name   string
	Factor int
	Reason string // the agent's words (English)
}

// hostHealth returns the resource guard's view from the agent's newest
// health record among its last healthScan records; nil when the store
// cannot say, there is none, or the agent predates the guard.
func (s *Server) hostHealth(ctx context.Context, lang string, h model.HostSummary) (*healthView, error) {
	rr, ok := s.store.(recordReader)
	if !ok || h.Records == 0 {
		return nil, nil
	}
	after := uint64(0)
	if h.MaxSeq > healthScan {
		after = h.MaxSeq - healthScan
	}
	recs, err := rr.Records(ctx, h.ID, after, healthScan)
	if err != nil {
		return nil, fmt.Errorf("records of agent %s: %w", h.ID, err)
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind != wire.KindHealth {
			continue
		}
		var hl wire.Health
		if err := recs[i].DecodeBody(&hl); err != nil {
			continue // stored raw as evidence; an older one may still tell
		}
		return newHealthView(lang, hl), nil
	}
	return nil, nil
}

func newHealthView(lang string, h wire.Health) *healthView {
	v := &healthView{CPU: percent(lang, h.CPUPercent), CPUBudget: percent(lang, h.CPUBudget),
		RSS: h.RSSBytes, MemoryBudget: h.MemoryBudget}
	for _, o := range h.OverBudget {
		switch o {
		case "cpu":
			v.OverCPU = true
		case "memory":
			v.OverMemory = true
		}
	}
	for _, ss := range h.Sensors {
		if ss.State == "throttled" {
			v.Throttled = append(v.Throttled, throttledView{Name: ss.Name, Factor: ss.Slowdown, Reason: ss.Reason})
		}
	}
	if h.CPUBudget == 0 && h.MemoryBudget == 0 && len(v.Throttled) == 0 {
		return nil // an agent without the guard
	}
	if h.CPUBudget == 0 {
		v.CPUBudget = "–"
	}
	return v
}

// percent formats a share of one core with one decimal, a decimal comma in
// Norwegian.
func percent(lang string, p float64) string {
	s := fmt.Sprintf("%.1f %%", p)
	if lang == "nb" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// The SQL store's ingest side answers Records as the host page reads it.
var _ recordReader = model.IngestStore(nil)
