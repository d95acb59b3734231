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
	errTooLarge     = errors.New("request body too large")
	errMediaType    = errors.New("unsupported content type")
)

// userError is a refusal whose reason the client should read: a catalogue
// key and its arguments, over an error kind that decides the status. The
// message is rendered in the page's language, and in English for the API.
type userError struct {
	kind error
	key  string
	args []any
}

// refuse returns a userError of kind with the message key.
func refuse(kind error, key string, args ...any) error {
	return &userError{kind: kind, key: key, args: args}
}

func (e *userError) Error() string { return translatef("en", e.key, e.args...) }
func (e *userError) Unwrap() error { return e.kind }

// message renders the refusal in lang.
func (e *userError) message(lang string) string { return translatef(lang, e.key, e.args...) }

// errorStatus is the one place that maps error kinds to an HTTP status and the
// catalogue key of the message shown to the client. Anything unknown is a 500
// whose real cause is logged, never shown.
func errorStatus(err error) (status int, key string) {
	switch {
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, "error.unauthorized"
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, "error.csrf"
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, "error.too_large"
	case errors.Is(err, errMediaType):
		return http.StatusUnsupportedMediaType, "error.media_type"
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

// apiError is the body of every API error: a message for people, a stable
// code for programs (the kind: "invalid", "not_found" …) and, for a refused
// register import, the problems line by line.
type apiError struct {
	Error    string       `json:"error"`
	Code     string       `json:"code"`
	Problems []CSVProblem `json:"problems,omitempty"`
}

// fail answers a request with err: JSON under /api/, an HTML page elsewhere.
// A userError's own message is shown; other errors show their kind's.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, key := errorStatus(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var ue *userError
	if !errors.As(err, &ue) || status >= 500 {
		ue = nil
	}
	if isAPI(r) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sonevakt"`)
		}
		// API messages are stable English so that scripts may match them.
		msg := translate("en", key)
		if ue != nil {
			msg = ue.message("en")
		}
		writeJSON(w, status, apiError{Error: msg, Code: strings.TrimPrefix(key, "error.")})
		return
	}
	d := pageData{Title: key + ".title", Error: key}
	if ue != nil {
		d.Detail = ue.message(langFrom(r.Context()))
	}
	s.render(w, r, status, "error", d)
}

func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
