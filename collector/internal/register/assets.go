package register

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// AssetColumns are the columns of the asset register's CSV form, in the
// order WriteAssetsCSV writes them. A file may order them as it likes;
// asset_tag and type are required, the others default to empty (status to
// active).
var AssetColumns = []string{"asset_tag", "type", "serial", "macs", "hostname", "owner_unit", "responsible",
	"operated_by", "building", "room", "zone", "status", "note"}

var assetRequired = []string{"asset_tag", "type"}

// Longest values accepted per asset column, in bytes.
var assetMaxLen = map[string]int{
	"asset_tag": 128, "type": 16, "serial": 128, "macs": 2000, "hostname": 253, "owner_unit": 128,
	"responsible": 128, "operated_by": 128, "building": 128, "room": 64, "zone": 64, "status": 16, "note": 1000,
}

// ParseAssetsCSV reads an asset register in CSV form: a header line naming
// the columns (AssetColumns, in any order, names case-insensitive; an
// unknown or repeated column refuses the file), then one asset per line.
// Comma or semicolon separates, a UTF-8 byte order mark is skipped, fields
// are trimmed and the quote WriteAssetsCSV puts before = + - @ is taken off,
// as in ParseMediaCSV.
//
// Each line is checked: an asset tag; a known type (lower-cased); MACs,
// separated by spaces or |, each a 48-bit MAC address in any common
// notation (normalised to aa:bb:cc:dd:ee:ff; one repeated on its own line
// counts once); status active or retired (aktiv, utrangert; empty is
// active); bounded lengths; no control characters. No tag, MAC or serial
// may appear on two lines; the problem names both. The assets come back in
// file order, none when there is any problem unless opts.ValidOnly.
//
// The error is for input that cannot be read at all; a malformed line is a
// Problem.
func ParseAssetsCSV(r io.Reader, opts ParseOptions) ([]model.Asset, Report, error) {
	var rep Report
	cr, cols, width, err := openRegister(r, "asset register", AssetColumns, assetRequired, &rep)
	if cr == nil {
		return nil, rep, err
	}

	var assets []model.Asset
	tags := make(map[string]int)    // tag -> line
	macs := make(map[string]int)    // mac -> line
	serials := make(map[string]int) // serial -> line
	err = eachRecord(cr, &rep, "asset register", func(rec []string, line int) {
		before := len(rep.Problems)
		a := parseAsset(rec, cols, width, line, &rep)
		if len(rep.Problems) > before {
			return
		}
		if first, dup := tags[a.Tag]; dup {
			rep.addf(line, "asset tag %q repeats line %d", a.Tag, first)
		}
		for _, m := range a.MACs {
			if first, dup := macs[m]; dup {
				rep.addf(line, "MAC %s is also on line %d; a MAC belongs to one asset", m, first)
			}
		}
		if first, dup := serials[a.Serial]; dup && a.Serial != "" {
			rep.addf(line, "serial %q is also on line %d", a.Serial, first)
		}
		if len(rep.Problems) > before {
			return
		}
		tags[a.Tag] = line
		for _, m := range a.MACs {
			macs[m] = line
		}
		if a.Serial != "" {
			serials[a.Serial] = line
		}
		rep.Valid++
		assets = append(assets, a)
	})
	if err != nil {
		return nil, rep, err
	}
	if !rep.OK() && !opts.ValidOnly {
		return nil, rep, nil
	}
	return assets, rep, nil
}

// parseAsset reads and checks one data line, adding what is wrong to rep.
func parseAsset(rec []string, cols map[string]int, width, line int, rep *Report) model.Asset {
	field, ok := lineFields(rec, cols, width, line, assetMaxLen, rep)
	if !ok {
		return model.Asset{}
	}
	a := model.Asset{
		Tag: field("asset_tag"), Type: strings.ToLower(field("type")), Serial: field("serial"),
		Hostname: field("hostname"), OwnerUnit: field("owner_unit"), Responsible: field("responsible"),
		OperatedBy: field("operated_by"), Building: field("building"), Room: field("room"), Zone: field("zone"),
		Note: field("note"),
	}
	if a.Tag == "" && !hasProblemFor(rep, line, "asset_tag") {
		rep.addf(line, "asset_tag is empty")
	}
	if a.Type == "" {
		if !hasProblemFor(rep, line, "type") {
			rep.addf(line, "type is empty; want one of %s", strings.Join(model.AssetTypes, ", "))
		}
	} else if !slices.Contains(model.AssetTypes, a.Type) {
		rep.addf(line, "type %.20q is not an asset type; want one of %s", a.Type, strings.Join(model.AssetTypes, ", "))
	}
	for _, m := range strings.FieldsFunc(field("macs"), func(r rune) bool { return r == '|' || unicode.IsSpace(r) }) {
		mac, ok := model.NormalizeMAC(m)
		if !ok {
			rep.addf(line, "MAC %.40q is not a MAC address", m)
			continue
		}
		if !slices.Contains(a.MACs, mac) {
			a.MACs = append(a.MACs, mac)
		}
	}
	switch st := field("status"); strings.ToLower(st) {
	case "", "active", "aktiv":
		a.Status = model.AssetActive
	case "retired", "utrangert":
		a.Status = model.AssetRetired
	default:
		rep.addf(line, "status %.20q: want active or retired", st)
	}
	return a
}

// hasProblemFor reports whether rep already holds a problem on line about
// the named column, so that an empty value is not reported twice.
func hasProblemFor(rep *Report, line int, name string) bool {
	for i := len(rep.Problems) - 1; i >= 0 && rep.Problems[i].Line == line; i-- {
		if strings.HasPrefix(rep.Problems[i].Message, name+" ") {
			return true
		}
	}
	return false
}

// WriteAssetsCSV writes assets in the form ParseAssetsCSV reads: a UTF-8
// byte order mark, the header of AssetColumns, and one comma-separated line
// per asset, its MACs separated by spaces. As in WriteMediaCSV, a field that
// starts with = + - @, a tab or a carriage return gets a leading single
// quote, so that a spreadsheet shows it as text instead of running it.
func WriteAssetsCSV(w io.Writer, assets []model.Asset) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(bom); err != nil {
		return fmt.Errorf("write asset register: %w", err)
	}
	cw := csv.NewWriter(bw)
	if err := cw.Write(AssetColumns); err != nil {
		return fmt.Errorf("write asset register: %w", err)
	}
	rec := make([]string, len(AssetColumns))
	for _, a := range assets {
		for i, v := range []string{a.Tag, a.Type, a.Serial, strings.Join(a.MACs, " "), a.Hostname, a.OwnerUnit,
			a.Responsible, a.OperatedBy, a.Building, a.Room, a.Zone, a.Status, a.Note} {
			rec[i] = Neutralise(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write asset register: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write asset register: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write asset register: %w", err)
	}
	return nil
}
