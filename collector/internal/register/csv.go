package register

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// openCSV prepares r for reading a register in CSV form: it skips a UTF-8
// byte order mark and picks semicolon as separator when the header line has
// more semicolons than commas (as Norwegian Excel saves). An empty file is a
// fatal problem on rep (header names the columns a header wants); then the
// reader is nil. The error is for input that cannot be read at all.
func openCSV(r io.Reader, what, header string, rep *Report) (*csv.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(len(bom)); err == nil && string(b) == bom {
		_, _ = br.Discard(len(bom))
	}
	head, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(bytes.TrimSpace(head)) == 0 {
		rep.addf(1, "the file is empty; want a header line: %s", header)
		rep.Fatal = true
		return nil, nil
	}
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	cr := csv.NewReader(br)
	if bytes.Count(head, []byte(";")) > bytes.Count(head, []byte(",")) {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1 // the caller says which line is short
	cr.LazyQuotes = true    // a hand-typed 3.5" in a note is no reason to refuse
	cr.ReuseRecord = true
	return cr, nil
}

// openRegister opens a register's CSV (openCSV) and reads its header
// (readColumns): what names the register in messages, columns and required
// the header it wants. It returns the reader, the columns by name and the
// width a data line must have (up to the last named column). A file that is
// unusable as a whole (empty, a bad header) is a fatal problem on rep and
// gives a nil reader; the error is for input that cannot be read at all.
func openRegister(r io.Reader, what string, columns, required []string, rep *Report) (cr *csv.Reader, cols map[string]int, width int, err error) {
	cr, err = openCSV(r, what, strings.Join(columns, ","), rep)
	if cr == nil {
		return nil, nil, 0, err
	}
	header, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if !errors.As(err, &pe) {
			return nil, nil, 0, fmt.Errorf("read %s: %w", what, err)
		}
		rep.addf(1, "header: %v", pe.Err)
		rep.Fatal = true
		return nil, nil, 0, nil
	}
	cols, ok := readColumns(header, columns, required, rep)
	if !ok {
		rep.Fatal = true
		return nil, nil, 0, nil
	}
	for _, i := range cols {
		width = max(width, i+1)
	}
	return cr, cols, width, nil
}

// readColumns maps the header's column names (case-insensitive, trimmed) to
// their positions. known lists the columns a file may name, required those
// it must; an unknown, repeated or missing column is a problem on line 1.
func readColumns(header, known, required []string, rep *Report) (map[string]int, bool) {
	cols := make(map[string]int, len(header))
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if i == 0 {
			name = strings.TrimPrefix(name, bom)
		}
		if name == "" && i == len(header)-1 && i > 0 {
			continue // a trailing separator
		}
		found := false
		for _, k := range known {
			if k == name {
				found = true
				break
			}
		}
		if !found {
			rep.addf(1, "unknown column %.40q; the columns are %s", h, strings.Join(known, ", "))
			return nil, false
		}
		if _, dup := cols[name]; dup {
			rep.addf(1, "column %q repeats", name)
			return nil, false
		}
		cols[name] = i
	}
	var missing []string
	for _, c := range required {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		rep.addf(1, "missing column %s; the header must name at least %s", strings.Join(missing, ", "), strings.Join(required, ", "))
		return nil, false
	}
	return cols, true
}

// eachRecord reads cr to its end: every line counts in rep, a line the CSV
// reader cannot parse is a problem of that line, and fn gets each non-blank
// record with the line it starts on. The error is for input that cannot be
// read at all (what names the register).
func eachRecord(cr *csv.Reader, rep *Report, what string, fn func(rec []string, line int)) error {
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("read %s: %w", what, err)
			}
			// The reader goes on with the next line.
			rep.Lines++
			rep.addf(pe.StartLine, "%v", pe.Err)
			continue
		}
		if blank(rec) {
			continue
		}
		line, _ := cr.FieldPos(0)
		rep.Lines++
		fn(rec, line)
	}
}

// lineFields checks that a data line has the header's width (trailing empty
// fields aside) and returns a reader of its fields by column name: trimmed,
// with the export's formula guard taken off, and checked to be UTF-8 text
// without control characters of at most maxLen[name] bytes. What is wrong
// goes to rep by line; a wrong field reads as "". ok is false when the
// width is wrong, and then nothing of the line can be read.
func lineFields(rec []string, cols map[string]int, width, line int, maxLen map[string]int, rep *Report) (field func(name string) string, ok bool) {
	if len(rec) < width || (len(rec) > width && !blank(rec[width:])) {
		rep.addf(line, "has %d fields, the header %d", len(rec), width)
		return nil, false
	}
	return func(name string) string {
		i, ok := cols[name]
		if !ok {
			return ""
		}
		v := unneutralise(strings.TrimSpace(rec[i]))
		switch {
		case !utf8.ValidString(v):
			rep.addf(line, "%s is not UTF-8 text (save the file as CSV UTF-8)", name)
		case len(v) > maxLen[name]:
			rep.addf(line, "%s is %d bytes long; at most %d", name, len(v), maxLen[name])
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			rep.addf(line, "%s holds a control character", name)
		default:
			return v
		}
		return ""
	}, true
}
