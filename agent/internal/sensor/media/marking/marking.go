// Package marking decides whether a volume carries the municipality's
// marking (strategy S6.1: media holding personal data are marked): a
// volume label matching the policy's pattern, or a marker file at the
// volume's root. It owns only that judgement and the marker file format;
// reading labels and files off a medium lives in fsprobe and the media
// sensor.
//
// # Marker file format
//
// The marker file is UTF-8 text of at most 4 KiB (a UTF-8 byte order mark
// and CRLF line ends are accepted). Each line is blank, a comment starting
// with '#', or "key=value" or "key: value"; the separator is the first '='
// or ':' on the line, and keys and values are trimmed of spaces. Keys are
// case-insensitive:
//
//	id              the medium's marking id; required, once
//	classification  its classification; optional, once (the Norwegian
//	                "klassifisering" is the same key)
//
// Other keys are ignored. An example:
//
//	# Sønevakt marker, issued by the IT department
//	id=NK-0042
//	classification: fortrolig
package marking

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// MaxFileSize is the largest marker file accepted, in bytes.
const MaxFileSize = 4 << 10

// ErrNoID is returned by ParseFile for a marker file without an id line.
var ErrNoID = errors.New("marker file has no id line")

// ParseFile reads a marker file: its id and classification ("" when it
// names none). A file that breaks the format is an error naming the line.
func ParseFile(b []byte) (id, classification string, err error) {
	if len(b) > MaxFileSize {
		return "", "", fmt.Errorf("marker file is %d bytes, limit %d", len(b), MaxFileSize)
	}
	if bytes.HasPrefix(b, []byte{0xff, 0xfe}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}) {
		return "", "", errors.New("marker file is UTF-16: save it as UTF-8")
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	var idLine, classLine int
	for i, line := range strings.Split(string(b), "\n") {
		n := i + 1
		if !utf8.ValidString(line) {
			return "", "", fmt.Errorf("line %d: invalid UTF-8", n)
		}
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sep := strings.IndexAny(line, "=:")
		if sep < 0 {
			return "", "", fmt.Errorf("line %d: want key=value or key: value", n)
		}
		key := strings.ToLower(strings.TrimSpace(line[:sep]))
		value := strings.TrimSpace(line[sep+1:])
		for _, r := range value {
			if r != '\t' && unicode.IsControl(r) {
				return "", "", fmt.Errorf("line %d: control character %U in the value", n, r)
			}
		}
		switch key {
		case "id":
			if idLine > 0 {
				return "", "", fmt.Errorf("line %d: a second id line (the first is line %d)", n, idLine)
			}
			if value == "" {
				return "", "", fmt.Errorf("line %d: empty id", n)
			}
			id, idLine = value, n
		case "classification", "klassifisering":
			if classLine > 0 {
				return "", "", fmt.Errorf("line %d: a second classification line (the first is line %d)", n, classLine)
			}
			classification, classLine = value, n
		}
	}
	if idLine == 0 {
		return "", "", ErrNoID
	}
	return id, classification, nil
}

// Find returns the volume's marking under policy p, or nil when it has
// none; see FindWithProblem.
func Find(label string, file []byte, fileFound bool, p wire.MediaPolicy) *wire.MediaMarking {
	m, _ := FindWithProblem(label, file, fileFound, p)
	return m
}

// FindWithProblem returns the volume's marking under policy p, or nil, and
// what kept a marking from counting ("" when nothing did), for the sensor
// to record as a volume problem.
//
// The marker file wins: when the policy names one and the volume has it
// (fileFound, its bytes in file), a well-formed file is the marking, with
// its classification. A malformed one is no marking; the label may still
// be. The label marks the volume when the policy has a pattern and the
// label matches it by path.Match, ignoring case: FAT stores labels upper
// case, so both sides are upper-cased before matching. An empty label
// never matches.
func FindWithProblem(label string, file []byte, fileFound bool, p wire.MediaPolicy) (*wire.MediaMarking, string) {
	var problem string
	if fileFound && p.MarkerFile != "" {
		id, class, err := ParseFile(file)
		if err == nil {
			return &wire.MediaMarking{Source: wire.MarkingFile, ID: id, Classification: class}, ""
		}
		problem = fmt.Sprintf("marker file %s unreadable: %v", p.MarkerFile, err)
	}
	if p.LabelPattern == "" || label == "" {
		return nil, problem
	}
	ok, err := path.Match(strings.ToUpper(p.LabelPattern), strings.ToUpper(label))
	if err != nil {
		return nil, joinProblems(problem, fmt.Sprintf("label pattern %q: %v", p.LabelPattern, err))
	}
	if !ok {
		return nil, problem
	}
	return &wire.MediaMarking{Source: wire.MarkingLabel, ID: label}, problem
}

func joinProblems(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
