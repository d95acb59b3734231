package register

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/inventory"
	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// SoftwareColumns are the columns of the software catalogue's CSV form, in
// the order WriteSoftwareCSV writes them. A file may order them as it likes;
// verdict and name are required, the others default to empty.
var SoftwareColumns = []string{"verdict", "name", "publisher", "source", "min_version", "max_version", "reason", "owner_unit"}

var softwareRequired = []string{"verdict", "name"}

// Longest values accepted per software column, in bytes.
var softwareMaxLen = map[string]int{
	"verdict": 16, "name": 256, "publisher": 256, "source": 16, "min_version": 128, "max_version": 128,
	"reason": 1000, "owner_unit": 128,
}

// ParseSoftwareCSV reads the software catalogue in CSV form: a header line
// naming the columns (SoftwareColumns, in any order, names
// case-insensitive; an unknown or repeated column refuses the file), then
// one entry per line. Separators, byte order mark, trimming and the quote
// WriteSoftwareCSV puts before = + - @ are as in ParseAssetsCSV.
//
// Each line is checked: verdict approved or denied (godkjent, forbudt);
// name a pattern model.ParseSoftwareGlob accepts (* and ?, nothing else);
// publisher a pattern too, or empty for any; source dpkg, rpm, windows or
// empty for any (lower-cased); min_version below max_version when both are
// given, by the source's version order (inventory.CompareVersions; dotted
// numbers for any source); bounded lengths; no control characters. No
// entry (model.SoftwareEntryID: verdict, name, publisher, source) may
// appear on two lines; the problem names both. The entries come back in
// file order with their IDs set, none when there is any problem unless
// opts.ValidOnly.
//
// The error is for input that cannot be read at all; a malformed line is a
// Problem.
func ParseSoftwareCSV(r io.Reader, opts ParseOptions) ([]model.SoftwareEntry, Report, error) {
	var rep Report
	cr, cols, width, err := openRegister(r, "software catalogue", SoftwareColumns, softwareRequired, &rep)
	if cr == nil {
		return nil, rep, err
	}

	var entries []model.SoftwareEntry
	ids := make(map[string]int) // id -> line
	err = eachRecord(cr, &rep, "software catalogue", func(rec []string, line int) {
		before := len(rep.Problems)
		e := parseSoftwareLine(rec, cols, width, line, &rep)
		if len(rep.Problems) > before {
			return
		}
		if first, dup := ids[e.ID]; dup {
			rep.addf(line, "entry %s repeats line %d", e.ID, first)
			return
		}
		ids[e.ID] = line
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

// parseSoftwareLine reads and checks one data line, adding what is wrong to rep.
func parseSoftwareLine(rec []string, cols map[string]int, width, line int, rep *Report) model.SoftwareEntry {
	field, ok := lineFields(rec, cols, width, line, softwareMaxLen, rep)
	if !ok {
		return model.SoftwareEntry{}
	}
	e := model.SoftwareEntry{
		NamePattern: field("name"), Publisher: field("publisher"), MinVersion: field("min_version"),
		MaxVersion: field("max_version"), Reason: field("reason"), OwnerUnit: field("owner_unit"),
	}
	switch v := field("verdict"); strings.ToLower(v) {
	case "approved", "godkjent":
		e.Verdict = model.SoftwareApproved
	case "denied", "forbudt":
		e.Verdict = model.SoftwareDenied
	case "":
		if !hasProblemFor(rep, line, "verdict") {
			rep.addf(line, "verdict is empty; want approved or denied")
		}
	default:
		rep.addf(line, "verdict %.20q: want approved or denied", v)
	}
	if e.NamePattern == "" {
		if !hasProblemFor(rep, line, "name") {
			rep.addf(line, "name is empty; want a package name or a pattern with * and ?")
		}
	} else if _, err := model.ParseSoftwareGlob(e.NamePattern); err != nil {
		rep.addf(line, "name: %v", err)
	}
	if _, err := model.ParseSoftwareGlob(e.Publisher); err != nil {
		rep.addf(line, "publisher: %v", err)
	}
	switch src := field("source"); strings.ToLower(src) {
	case "":
	case inventory.SourceDpkg, inventory.SourceRPM, inventory.SourceWindows:
		e.Source = strings.ToLower(src)
	default:
		rep.addf(line, "source %.20q: want dpkg, rpm, windows or empty for any", src)
	}
	if e.MinVersion != "" && e.MaxVersion != "" && inventory.CompareVersions(e.Source, e.MinVersion, e.MaxVersion) >= 0 {
		rep.addf(line, "min_version %.40q is not below max_version %.40q (the range holds min_version up to, not including, max_version)",
			e.MinVersion, e.MaxVersion)
	}
	e.ID = e.Key()
	return e
}

// WriteSoftwareCSV writes entries in the form ParseSoftwareCSV reads: a
// UTF-8 byte order mark, the header of SoftwareColumns, and one
// comma-separated line per entry. As in WriteMediaCSV, a field that starts
// with = + - @, a tab or a carriage return gets a leading single quote, so
// that a spreadsheet shows it as text instead of running it.
func WriteSoftwareCSV(w io.Writer, entries []model.SoftwareEntry) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(bom); err != nil {
		return fmt.Errorf("write software catalogue: %w", err)
	}
	cw := csv.NewWriter(bw)
	if err := cw.Write(SoftwareColumns); err != nil {
		return fmt.Errorf("write software catalogue: %w", err)
	}
	rec := make([]string, len(SoftwareColumns))
	for _, e := range entries {
		for i, v := range []string{e.Verdict, e.NamePattern, e.Publisher, e.Source, e.MinVersion, e.MaxVersion, e.Reason, e.OwnerUnit} {
			rec[i] = Neutralise(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write software catalogue: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write software catalogue: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write software catalogue: %w", err)
	}
	return nil
}
