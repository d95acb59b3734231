package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Errors of the web layer itself; model error kinds cover the rest.
var (
	errUnauthorized = errors.New("unauthorized")
	errCSRF         = fmt.Errorf("missing or wrong CSRF token: %w", model.ErrForbidden)
)

// errorStatus is the one place that maps error kinds to an HTTP status and the
// catalogue key of the message shown to the client. Anything unknown is a 500
// whose real cause is logged, never shown.
func errorStatus(err error) (status int, key string) {
	switch {
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, "error.unauthorized"
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, "error.csrf"
	case errors.Is(err, model.ErrNotFound):
		return http.StatusNotFound, "error.not_found"
	case errors.Is(err, model.ErrInvalid):
		return http.StatusBadRequest, "error.invalid"
	case errors.Is(err, model.ErrForbidden):
		return http.StatusForbidden, "error.forbidden"
	case errors.Is(err, model.ErrConflict):
		return http.StatusConflict, "error.conflict"
	case errors.Is(err, model.ErrRateLimited):
		return http.StatusTooManyRequests, "error.rate_limited"
	default:
		return http.StatusInternalServerError, "error.internal"
	}
}

// fail answers a request with err: JSON under /api/, an HTML page elsewhere.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, key := errorStatus(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if isAPI(r) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sonevakt"`)
		}
		// API messages are stable English so that scripts may match them.
		writeJSON(w, status, map[string]string{"error": translate("en", key)})
		return
	}
	s.render(w, r, status, "error", pageData{Title: key + ".title", Error: key})
}

func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
