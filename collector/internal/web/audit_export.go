package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// exportDate reads a date field of the evidence export form: a whole day
// in Europe/Oslo.
func exportDate(r *http.Request, name string) (time.Time, error) {
	v := strings.TrimSpace(r.PostFormValue(name))
	if v == "" {
		return time.Time{}, refuse(model.ErrInvalid, "evidence.problem.missing", name)
	}
	d, err := time.ParseInLocation(dateLayout, v, uiZone)
	if err != nil {
		return time.Time{}, refuse(model.ErrInvalid, "evidence.problem.date", name, v)
	}
	return d, nil
}

// countingWriter tells whether anything reached the response.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// handleAuditExport streams the evidence bundle of the form's period (from
// and to are dates, to included) as a zip attachment. The export writes its
// own audit entry and checkpoint (evidence.Export).
func (s *Server) handleAuditExport(w http.ResponseWriter, r *http.Request) {
	if s.exportEvidence == nil {
		s.fail(w, r, refuse(model.ErrNotFound, "evidence.problem.unavailable"))
		return
	}
	from, err := exportDate(r, "from")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to, err := exportDate(r, "to")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if to.Before(from) {
		s.fail(w, r, refuse(model.ErrInvalid, "evidence.problem.period"))
		return
	}
	end := to.AddDate(0, 0, 1)
	name := fmt.Sprintf("evidence-%s-%s.zip", from.Format(dateLayout), to.Format(dateLayout))
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := &countingWriter{w: w}
	if err := s.exportEvidence(r.Context(), cw, from, end, principalFrom(r.Context()).Name); err != nil {
		if cw.n == 0 {
			w.Header().Del("Content-Disposition")
			w.Header().Del("Content-Type")
			s.fail(w, r, err)
			return
		}
		// Part of the zip is out: cut the connection so that the browser
		// does not keep a truncated bundle as if it were whole.
		s.log.ErrorContext(r.Context(), "evidence export failed while streaming", "err", err)
		panic(http.ErrAbortHandler)
	}
}
