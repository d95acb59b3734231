// Package register owns the municipality's registers as files and as policy:
// reading and writing the media register in CSV form (as operations keep it
// in a spreadsheet), checking it line by line, and turning the register into
// the media allow-list pushed to agents (SyncPolicy). The authorised
// assets, the software catalogue, the organisation units and people join it
// the same way.
//
// It stores nothing itself: the caller imports what it parsed through the
// store, which audits every change.
package register

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Columns of the media register's CSV form, in the order WriteMediaCSV
// writes them. A file may order them as it likes; serial, vid and pid are
// required, the others default to empty.
var MediaColumns = []string{"serial", "vid", "pid", "marking_id", "owner_unit", "classification", "encryption_required", "note"}

var requiredColumns = []string{"serial", "vid", "pid"}

// Longest values accepted per column, in bytes. A loop device's serial is
// the path of its backing file, hence the room.
var maxLen = map[string]int{
	"serial": 512, "vid": 16, "pid": 16, "marking_id": 128, "owner_unit": 128, "classification": 64,
	"encryption_required": 16, "note": 1000,
}

// bom is the UTF-8 byte order mark spreadsheets write first.
const bom = "\uFEFF"

// injectionLead are the first characters that make a spreadsheet treat a
// cell as a formula (OWASP, "CSV Injection").
const injectionLead = "=+-@\t\r"

// ParseOptions says how ParseMediaCSV treats bad lines.
type ParseOptions struct {
	// ValidOnly returns the entries of the good lines even when others are
	// bad; without it any problem means no entries at all.
	ValidOnly bool
}

// Problem is what is wrong with one line of a register file.
type Problem struct {
	Line    int    // 1 is the header
	Message string // English
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Message) }

// Report says what ParseMediaCSV found.
type Report struct {
	Lines    int // data lines read (blank ones not counted)
	Valid    int // of which had no problem
	Problems []Problem
	// Fatal reports whether the file as a whole is unusable (empty, or a bad
	// header): then no entries come back, even with ValidOnly.
	Fatal bool
}

// OK reports whether the file had no problem at all.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Error joins the problems, one per line; "" when there are none.
func (r Report) Error() string {
	var b strings.Builder
	for i, p := range r.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (r *Report) addf(line int, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Line: line, Message: fmt.Sprintf(format, args...)})
}

// ParseMediaCSV reads a media register in CSV form: a header line naming the
// columns (MediaColumns, in any order, names case-insensitive; an unknown or
// repeated column refuses the file), then one medium per line. Comma is the
// separator, or semicolon when the header uses it (as Norwegian Excel saves).
// A UTF-8 byte order mark is skipped. Fields are trimmed; a leading single
// quote before = + - @, as WriteMediaCSV adds, is taken off again.
//
// Each line is checked: vid and pid 4 hex digits (lower-cased) or both
// empty, and then a serial (a loop device's backing file, say); a known
// encryption_required value (yes/no, ja/nei, true/false, 1/0; empty is no);
// bounded lengths; no control characters; no medium twice. The Report names
// every problem with its line. The entries come back in file order, none
// when there is any problem unless opts.ValidOnly.
//
// The error is for input that cannot be read at all (the reader failed, or
// the body was too large); a malformed line is a Problem.
func ParseMediaCSV(r io.Reader, opts ParseOptions) ([]model.MediaEntry, Report, error) {
	var rep Report
	cr, cols, width, err := openRegister(r, "media register", MediaColumns, requiredColumns, &rep)
	if cr == nil {
		return nil, rep, err
	}

	var entries []model.MediaEntry
	seen := make(map[string]int) // key -> line
	err = eachRecord(cr, &rep, "media register", func(rec []string, line int) {
		before := len(rep.Problems)
		e := parseEntry(rec, cols, width, line, &rep)
		if len(rep.Problems) > before {
			return
		}
		k := e.Key()
		if first, dup := seen[k]; dup {
			rep.addf(line, "medium %s repeats line %d", k, first)
			return
		}
		seen[k] = line
		rep.Valid++
		entries = append(entries, e)
	})
	if err != nil {
		return nil, rep, err
	}
	if !rep.OK() && !opts.ValidOnly {
		return nil, rep, nil
	}
	return entries, rep, nil
}

// blank reports whether every field of a record is empty (a spreadsheet's
// row of separators).
func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseEntry reads and checks one data line, adding what is wrong to rep.
// width is the header's number of fields.
func parseEntry(rec []string, cols map[string]int, width, line int, rep *Report) model.MediaEntry {
	field, ok := lineFields(rec, cols, width, line, maxLen, rep)
	if !ok {
		return model.MediaEntry{}
	}
	e := model.MediaEntry{
		Serial: field("serial"), VID: strings.ToLower(field("vid")), PID: strings.ToLower(field("pid")),
		MarkingID: field("marking_id"), OwnerUnit: field("owner_unit"), Classification: field("classification"),
		Note: field("note"),
	}
	for _, c := range []struct{ name, v string }{{"vid", e.VID}, {"pid", e.PID}} {
		if c.v != "" && !hex4(c.v) {
			rep.addf(line, "%s %.20q is not 4 hex digits", c.name, c.v)
		}
	}
	switch {
	case (e.VID == "") != (e.PID == ""):
		rep.addf(line, "vid and pid go together: give both or neither")
	case e.VID == "" && e.Serial == "":
		rep.addf(line, "serial is empty; a medium without vid and pid needs one")
	}
	enc := field("encryption_required")
	switch strings.ToLower(enc) {
	case "", "no", "nei", "false", "0":
	case "yes", "ja", "true", "1":
		e.EncryptionRequired = true
	default:
		rep.addf(line, "encryption_required %.20q: want yes or no", enc)
	}
	return e
}

func hex4(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Neutralise makes a field safe to open in a spreadsheet: one that starts
// with a formula character (= + - @, tab, carriage return) gets a leading
// single quote. Every CSV the collector writes goes through it.
func Neutralise(s string) string {
	if s != "" && strings.ContainsRune(injectionLead, rune(s[0])) {
		return "'" + s
	}
	return s
}

// unneutralise takes off the quote Neutralise added. Leading tabs and
// carriage returns are trimmed with the field, so only = + - @ count.
func unneutralise(s string) string {
	if len(s) >= 2 && s[0] == '\'' && strings.ContainsRune("=+-@", rune(s[1])) {
		return s[1:]
	}
	return s
}

// WriteMediaCSV writes entries in the form ParseMediaCSV reads: a UTF-8 byte
// order mark (so that spreadsheets read æ, ø and å right), the header of
// MediaColumns, and one comma-separated line per entry, encryption_required
// as yes or no. A field that starts with = + - @, a tab or a carriage return
// gets a leading single quote, so that a spreadsheet shows it as text
// instead of running it as a formula.
func WriteMediaCSV(w io.Writer, entries []model.MediaEntry) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(bom); err != nil {
		return fmt.Errorf("write media register: %w", err)
	}
	cw := csv.NewWriter(bw)
	if err := cw.Write(MediaColumns); err != nil {
		return fmt.Errorf("write media register: %w", err)
	}
	rec := make([]string, len(MediaColumns))
	for _, e := range entries {
		enc := "no"
		if e.EncryptionRequired {
			enc = "yes"
		}
		for i, v := range []string{e.Serial, e.VID, e.PID, e.MarkingID, e.OwnerUnit, e.Classification, enc, e.Note} {
			rec[i] = Neutralise(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write media register: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write media register: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write media register: %w", err)
	}
	return nil
}
