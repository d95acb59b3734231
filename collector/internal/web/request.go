package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Request limits.
const (
	maxJSONBytes       = 64 << 10            // JSON bodies of the API
	maxCSVBytes        = 32 << 20            // a media register in CSV
	maxUploadBytes     = maxCSVBytes + 1<<20 // the upload form: the file and the multipart framing
	maxMultipartMemory = 8 << 20             // upload bytes held in memory; the rest spills to a temporary file
	maxParamBytes      = 300                 // one query or form parameter (filters, keys)
	maxTextRunes       = 8000                // a comment or a reason
)

// decodeJSONBody decodes the request's body into v: application/json, one
// value, no fields v does not know.
func decodeJSONBody(r *http.Request, v any) error {
	if err := requireContentType(r, "application/json"); err != nil {
		return err
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return refuse(model.ErrInvalid, "problem.json_trailing")
	}
	return nil
}

// bodyError turns an error from reading a body into what the client is told.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return refuse(errTooLarge, "problem.too_large", mbe.Limit)
	}
	return refuse(model.ErrInvalid, "problem.json", err.Error())
}

// requireContentType refuses a body whose media type is none of allowed.
func requireContentType(r *http.Request, allowed ...string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && slices.Contains(allowed, mt) {
		return nil
	}
	return refuse(errMediaType, "problem.content_type", strings.Join(allowed, ", "))
}

// queryParam returns a query parameter, trimmed; ErrInvalid when longer than
// maxParamBytes or not UTF-8.
func queryParam(r *http.Request, name string) (string, error) {
	return checkParam(name, strings.TrimSpace(r.URL.Query().Get(name)))
}

// checkParam refuses a parameter longer than maxParamBytes or not UTF-8.
func checkParam(name, v string) (string, error) {
	if len(v) > maxParamBytes || !utf8.ValidString(v) {
		return "", refuse(model.ErrInvalid, "problem.param", name, maxParamBytes)
	}
	return v, nil
}

// queryLimit reads ?limit=: def without one, else a whole number 1..most.
func queryLimit(r *http.Request, def, most int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, refuse(model.ErrInvalid, "problem.limit", most)
	}
	return n, nil
}

// queryBool reads a true/false query parameter; false without one.
func queryBool(r *http.Request, name string) (bool, error) {
	switch strings.ToLower(r.URL.Query().Get(name)) {
	case "", "false", "0", "no":
		return false, nil
	case "true", "1", "yes", "on":
		return true, nil
	}
	return false, refuse(model.ErrInvalid, "problem.bool", name)
}

// checkText validates a comment or reason: trimmed, valid UTF-8, at most
// maxTextRunes characters. required says whether it may be empty; emptyKey
// is the message when it is.
func checkText(text string, required bool, emptyKey string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case !utf8.ValidString(text):
		return "", refuse(model.ErrInvalid, "problem.text_utf8")
	case required && text == "":
		return "", refuse(model.ErrInvalid, emptyKey)
	case utf8.RuneCountInString(text) > maxTextRunes:
		return "", refuse(model.ErrInvalid, "problem.text_too_long", maxTextRunes)
	}
	return text, nil
}
