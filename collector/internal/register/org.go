package register

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// The organisation register's four CSV forms (S1.2, S2.2, S2.3, S5.2,
// S10.1): the columns in the order the writers write them. A file may
// order them as it likes; the first columns named in each *Required list
// are required.
var (
	UnitColumns           = []string{"id", "name", "parent", "manager"}
	PersonColumns         = []string{"id", "name", "email", "phone", "unit", "roles", "username", "lang"}
	SupplierColumns       = []string{"id", "name", "supplier", "email", "accounts", "declaration_signed", "declaration_sha256", "declaration_expires"}
	SharedSolutionColumns = []string{"host", "zones", "risk_accepted_by", "risk_accepted_at", "document_sha256", "expires", "note"}
)

var (
	unitRequired     = []string{"id", "name"}
	personRequired   = []string{"id", "name"}
	supplierRequired = []string{"id", "name", "supplier"}
	sharedRequired   = []string{"host", "zones", "risk_accepted_by", "risk_accepted_at", "document_sha256"}
)

// Longest values accepted per organisation column, in bytes.
var orgMaxLen = map[string]int{
	"id": 64, "name": 200, "parent": 64, "manager": 64, "email": 254, "phone": 32, "unit": 64, "roles": 500,
	"username": 128, "lang": 8, "supplier": 200, "accounts": 2000, "declaration_signed": 10,
	"declaration_sha256": 64, "declaration_expires": 10, "host": 253, "zones": 1000, "risk_accepted_by": 64,
	"risk_accepted_at": 10, "document_sha256": 64, "expires": 10, "note": 1000,
}

// dateLayout is how the organisation register writes dates.
const dateLayout = "2006-01-02"

// orgLine reads the fields of one data line: get returns a column's value,
// trimmed and checked (a problem on the line, and "", when it is not
// UTF-8, too long or holds a control character).
type orgLine struct {
	rec  []string
	cols map[string]int
	line int
	rep  *Report
}

func (l orgLine) get(name string) string {
	i, ok := l.cols[name]
	if !ok {
		return ""
	}
	v := unneutralise(strings.TrimSpace(l.rec[i]))
	switch {
	case !utf8.ValidString(v):
		l.rep.addf(l.line, "%s is not UTF-8 text (save the file as CSV UTF-8)", name)
	case len(v) > orgMaxLen[name]:
		l.rep.addf(l.line, "%s is %d bytes long; at most %d", name, len(v), orgMaxLen[name])
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		l.rep.addf(l.line, "%s holds a control character", name)
	default:
		return v
	}
	return ""
}

// slug reads a column holding a register id, lower-cased; empty is a
// problem when required.
func (l orgLine) slug(name string, required bool) string {
	v := strings.ToLower(l.get(name))
	switch {
	case v == "" && required && !hasProblemFor(l.rep, l.line, name):
		l.rep.addf(l.line, "%s is empty", name)
	case v != "" && !model.ValidSlug(v):
		l.rep.addf(l.line, "%s %.70q is not an id: want lower-case letters, digits, '.', '_' and '-'", name, v)
		return ""
	}
	return v
}

// text reads a free-text column; empty is a problem when required.
func (l orgLine) text(name string, required bool) string {
	v := l.get(name)
	if v == "" && required && !hasProblemFor(l.rep, l.line, name) {
		l.rep.addf(l.line, "%s is empty", name)
	}
	return v
}

// email reads an optional e-mail address.
func (l orgLine) email(name string) string {
	v := l.get(name)
	if v != "" && !model.ValidEmail(v) {
		l.rep.addf(l.line, "%s %.70q is not an e-mail address", name, v)
		return ""
	}
	return v
}

// date reads a date YYYY-MM-DD (UTC midnight); empty is the zero time, a
// problem when required.
func (l orgLine) date(name string, required bool) time.Time {
	v := l.get(name)
	if v == "" {
		if required && !hasProblemFor(l.rep, l.line, name) {
			l.rep.addf(l.line, "%s is empty; want a date YYYY-MM-DD", name)
		}
		return time.Time{}
	}
	t, err := time.Parse(dateLayout, v)
	if err != nil {
		l.rep.addf(l.line, "%s %.20q is not a date YYYY-MM-DD", name, v)
		return time.Time{}
	}
	return t
}

// sha256 reads a SHA-256 digest in hex (lower-cased).
func (l orgLine) sha256(name string, required bool) string {
	v := strings.ToLower(l.get(name))
	switch {
	case v == "" && required && !hasProblemFor(l.rep, l.line, name):
		l.rep.addf(l.line, "%s is empty; want the document's SHA-256 in hex", name)
	case v != "" && !model.ValidSHA256(v):
		l.rep.addf(l.line, "%s %.70q is not a SHA-256 digest (64 hex digits)", name, v)
		return ""
	}
	return v
}

// list splits a column at the runes sep reports, without empty items or
// repeats, in file order.
func (l orgLine) list(name string, sep func(rune) bool) []string {
	var out []string
	for _, f := range strings.FieldsFunc(l.get(name), sep) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func spaceOrBar(r rune) bool { return r == '|' || unicode.IsSpace(r) }
func bar(r rune) bool        { return r == '|' }

// parseOrgCSV reads one of the organisation register's CSV forms: what
// names it in messages, columns and required its header, parse one data
// line (nothing added to rep means the line is good) and key its entry's
// key. It checks the header, the number of fields and repeated keys as
// ParseAssetsCSV does; entries come back in file order with their lines.
func parseOrgCSV[T any](r io.Reader, what string, columns, required []string, parse func(l orgLine) T, key func(T) string) ([]T, []int, Report, error) {
	var rep Report
	cr, cols, width, err := openRegister(r, what, columns, required, &rep)
	if cr == nil {
		return nil, nil, rep, err
	}
	var out []T
	var lines []int
	seen := make(map[string]int) // key -> line
	err = eachRecord(cr, &rep, what, func(rec []string, line int) {
		if len(rec) < width || (len(rec) > width && !blank(rec[width:])) {
			rep.addf(line, "has %d fields, the header %d", len(rec), width)
			return
		}
		before := len(rep.Problems)
		e := parse(orgLine{rec: rec, cols: cols, line: line, rep: &rep})
		if len(rep.Problems) > before {
			return
		}
		k := key(e)
		if first, dup := seen[k]; dup {
			rep.addf(line, "%s %q repeats line %d", columns[0], k, first)
			return
		}
		seen[k] = line
		out = append(out, e)
		lines = append(lines, line)
	})
	if err != nil {
		return nil, nil, rep, err
	}
	return out, lines, rep, nil
}

// finish applies the second pass's problems (cross-line checks) and
// returns the entries whose lines have no problem, or none when any line
// has one and not opts.ValidOnly.
func finish[T any](entries []T, lines []int, rep *Report, opts ParseOptions) []T {
	slices.SortStableFunc(rep.Problems, func(a, b Problem) int { return a.Line - b.Line })
	bad := make(map[int]bool, len(rep.Problems))
	for _, p := range rep.Problems {
		bad[p.Line] = true
	}
	var out []T
	for i, e := range entries {
		if !bad[lines[i]] {
			out = append(out, e)
		}
	}
	rep.Valid = len(out)
	if !rep.OK() && !opts.ValidOnly {
		return nil
	}
	return out
}

// ParseUnitsCSV reads organisational units in CSV form (UnitColumns; id
// and name required), read like ParseAssetsCSV: any column order, comma or
// semicolon, a byte order mark skipped, fields trimmed, the quote
// WriteUnitsCSV puts before = + - @ taken off.
//
// Each line is checked: id, parent and manager are ids (lower-cased); a
// name; no id twice. The parent must be a unit of the file or of held (the
// register as stored); the manager a person of held; no parent chain,
// with the file's units in place of held's, may return to itself. The
// units come back in file order, none when there is any problem unless
// opts.ValidOnly. The error is for input that cannot be read at all.
func ParseUnitsCSV(r io.Reader, opts ParseOptions, held model.Org) ([]model.Unit, Report, error) {
	units, lines, rep, err := parseOrgCSV(r, "unit register", UnitColumns, unitRequired, func(l orgLine) model.Unit {
		return model.Unit{ID: l.slug("id", true), Name: l.text("name", true), Parent: l.slug("parent", false), Manager: l.slug("manager", false)}
	}, func(u model.Unit) string { return u.ID })
	if err != nil || rep.Fatal {
		return nil, rep, err
	}
	parent := make(map[string]string)
	for _, u := range held.Units {
		parent[u.ID] = u.Parent
	}
	for _, u := range units {
		parent[u.ID] = u.Parent
	}
	people := make(map[string]bool, len(held.People))
	for _, p := range held.People {
		people[p.ID] = true
	}
	for i, u := range units {
		if _, ok := parent[u.Parent]; u.Parent != "" && !ok {
			rep.addf(lines[i], "parent %q is not a unit of this file or of the register", u.Parent)
		}
		if u.Manager != "" && !people[u.Manager] {
			rep.addf(lines[i], "manager %q is not a registered person; import people first, then units with managers", u.Manager)
		}
		if c := model.UnitCycle(u.ID, parent); c != "" {
			rep.addf(lines[i], "the parent chain %s is a cycle", c)
		}
	}
	// A unit whose parent is only in this file, on lines that all have a
	// problem, has a problem too: with ValidOnly the parent would not be
	// imported. It passes down the parent chains.
	heldUnit := make(map[string]bool, len(held.Units))
	for _, u := range held.Units {
		heldUnit[u.ID] = true
	}
	bad := make(map[int]bool, len(rep.Problems))
	for _, p := range rep.Problems {
		bad[p.Line] = true
	}
	children := make(map[string][]int)
	good := make(map[string]int) // lines without a problem, by unit id
	var queue []int              // units with a problem, to pass it on
	for i, u := range units {
		if u.Parent != "" && !heldUnit[u.Parent] {
			children[u.Parent] = append(children[u.Parent], i)
		}
		if bad[lines[i]] {
			queue = append(queue, i)
		} else {
			good[u.ID]++
		}
	}
	for len(queue) > 0 {
		p := units[queue[0]]
		queue = queue[1:]
		if good[p.ID] > 0 {
			continue
		}
		for _, c := range children[p.ID] {
			if !bad[lines[c]] {
				rep.addf(lines[c], "parent %q has a problem on its line", p.ID)
				bad[lines[c]] = true
				good[units[c].ID]--
				queue = append(queue, c)
			}
		}
	}
	return finish(units, lines, &rep, opts), rep, nil
}

// ParsePeopleCSV reads people in CSV form (PersonColumns; id and name
// required), read like ParseUnitsCSV. Each line is checked: id and unit are
// ids (lower-cased), the unit one of held; an e-mail address when given; a
// phone number of digits, spaces and + ( ) - .; roles separated by spaces
// or |, each an id (lower-cased, repeats dropped); lang nb or en (empty is
// nb); no id and no user name twice. That at least one security officer
// remains is checked by the store, which knows whether the import merges
// or replaces.
func ParsePeopleCSV(r io.Reader, opts ParseOptions, held model.Org) ([]model.Person, Report, error) {
	people, lines, rep, err := parseOrgCSV(r, "people register", PersonColumns, personRequired, func(l orgLine) model.Person {
		p := model.Person{ID: l.slug("id", true), Name: l.text("name", true), Email: l.email("email"),
			Phone: l.get("phone"), Unit: l.slug("unit", false), Username: l.get("username"), Lang: strings.ToLower(l.get("lang"))}
		if strings.TrimFunc(p.Phone, func(r rune) bool { return unicode.IsDigit(r) || strings.ContainsRune(" +()-.", r) }) != "" {
			l.rep.addf(l.line, "phone %.40q is not a phone number", p.Phone)
		}
		for _, role := range l.list("roles", spaceOrBar) {
			role = strings.ToLower(role)
			if !model.ValidSlug(role) {
				l.rep.addf(l.line, "role %.40q is not a role name", role)
				continue
			}
			if !slices.Contains(p.Roles, role) {
				p.Roles = append(p.Roles, role)
			}
		}
		if p.Lang == "" {
			p.Lang = model.OrgLangs[0]
		} else if !slices.Contains(model.OrgLangs, p.Lang) {
			l.rep.addf(l.line, "lang %.10q: want %s", p.Lang, strings.Join(model.OrgLangs, " or "))
		}
		return p
	}, func(p model.Person) string { return p.ID })
	if err != nil || rep.Fatal {
		return nil, rep, err
	}
	units := make(map[string]bool, len(held.Units))
	for _, u := range held.Units {
		units[u.ID] = true
	}
	users := make(map[string]int)
	for i, p := range people {
		if p.Unit != "" && !units[p.Unit] {
			rep.addf(lines[i], "unit %q is not a registered unit", p.Unit)
		}
		if p.Username == "" {
			continue
		}
		if first, dup := users[p.Username]; dup {
			rep.addf(lines[i], "user name %q is also on line %d", p.Username, first)
			continue
		}
		users[p.Username] = lines[i]
	}
	return finish(people, lines, &rep, opts), rep, nil
}

// ParseSupplierPeopleCSV reads supplier personnel in CSV form
// (SupplierColumns; id, name and supplier required), read like
// ParseUnitsCSV. Each line is checked: an id (lower-cased); an e-mail
// address when given; accounts separated by | (an account name may hold
// spaces), no account on two lines; a declaration is a signing date
// YYYY-MM-DD and the document's SHA-256 together, or neither, and expires
// (a date, or empty for never) after it was signed.
func ParseSupplierPeopleCSV(r io.Reader, opts ParseOptions) ([]model.SupplierPerson, Report, error) {
	sps, lines, rep, err := parseOrgCSV(r, "supplier personnel register", SupplierColumns, supplierRequired, func(l orgLine) model.SupplierPerson {
		s := model.SupplierPerson{ID: l.slug("id", true), Name: l.text("name", true), Supplier: l.text("supplier", true),
			Email: l.email("email"), Accounts: l.list("accounts", bar),
			DeclarationSigned: l.date("declaration_signed", false), DeclarationSHA256: l.sha256("declaration_sha256", false),
			DeclarationExpires: l.date("declaration_expires", false)}
		switch {
		case s.DeclarationSigned.IsZero() && s.DeclarationSHA256 != "" && !hasProblemFor(l.rep, l.line, "declaration_signed"):
			l.rep.addf(l.line, "declaration_signed is empty; a declaration's hash needs the date it was signed")
		case !s.DeclarationSigned.IsZero() && s.DeclarationSHA256 == "" && !hasProblemFor(l.rep, l.line, "declaration_sha256"):
			l.rep.addf(l.line, "declaration_sha256 is empty; a signed declaration needs its document's SHA-256")
		}
		if !s.DeclarationExpires.IsZero() && !s.DeclarationExpires.After(s.DeclarationSigned) {
			l.rep.addf(l.line, "declaration_expires %s is not after declaration_signed", s.DeclarationExpires.Format(dateLayout))
		}
		return s
	}, func(s model.SupplierPerson) string { return s.ID })
	if err != nil || rep.Fatal {
		return nil, rep, err
	}
	accounts := make(map[string]int)
	for i, s := range sps {
		for _, a := range s.Accounts {
			if first, dup := accounts[strings.ToLower(a)]; dup {
				rep.addf(lines[i], "account %q is also on line %d; an account belongs to one person", a, first)
				continue
			}
			accounts[strings.ToLower(a)] = lines[i]
		}
	}
	return finish(sps, lines, &rep, opts), rep, nil
}

// ParseSharedSolutionsCSV reads shared-solution machines in CSV form
// (SharedSolutionColumns; all but expires and note required), read like
// ParseUnitsCSV. Each line is checked: a host name or agent id without
// spaces; at least two zones, separated by spaces or |; who accepted the
// risk (a person id, lower-cased) and when (YYYY-MM-DD); the risk
// acceptance document's SHA-256; expires, when given, after the
// acceptance; no host twice.
func ParseSharedSolutionsCSV(r io.Reader, opts ParseOptions) ([]model.SharedSolution, Report, error) {
	ss, lines, rep, err := parseOrgCSV(r, "shared-solution register", SharedSolutionColumns, sharedRequired, func(l orgLine) model.SharedSolution {
		s := model.SharedSolution{Host: l.text("host", true), Zones: l.list("zones", spaceOrBar),
			RiskAcceptedBy: l.slug("risk_accepted_by", true), RiskAcceptedAt: l.date("risk_accepted_at", true),
			DocumentSHA256: l.sha256("document_sha256", true), Expires: l.date("expires", false), Note: l.get("note")}
		if strings.IndexFunc(s.Host, unicode.IsSpace) >= 0 {
			l.rep.addf(l.line, "host %.70q holds a space", s.Host)
		}
		if len(s.Zones) < 2 && !hasProblemFor(l.rep, l.line, "zones") {
			l.rep.addf(l.line, "zones names %d zone(s); a shared solution reaches at least two", len(s.Zones))
		}
		if !s.Expires.IsZero() && !s.Expires.After(s.RiskAcceptedAt) {
			l.rep.addf(l.line, "expires %s is not after risk_accepted_at", s.Expires.Format(dateLayout))
		}
		return s
	}, func(s model.SharedSolution) string { return s.Host })
	if err != nil || rep.Fatal {
		return nil, rep, err
	}
	return finish(ss, lines, &rep, opts), rep, nil
}

// formatDate writes a date as the organisation register's CSV forms read
// it; "" for the zero time.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dateLayout)
}

// writeOrgCSV writes one of the organisation register's CSV forms: a UTF-8
// byte order mark, the header, and one line per entry as fields gives it,
// each field neutralised as in WriteAssetsCSV.
func writeOrgCSV[T any](w io.Writer, what string, columns []string, entries []T, fields func(T) []string) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(bom); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	cw := csv.NewWriter(bw)
	if err := cw.Write(columns); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	for _, e := range entries {
		rec := fields(e)
		for i := range rec {
			rec[i] = Neutralise(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write %s: %w", what, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// WriteUnitsCSV writes units in the form ParseUnitsCSV reads, cells a
// spreadsheet would run as formulas neutralised.
func WriteUnitsCSV(w io.Writer, units []model.Unit) error {
	return writeOrgCSV(w, "unit register", UnitColumns, units, func(u model.Unit) []string {
		return []string{u.ID, u.Name, u.Parent, u.Manager}
	})
}

// WritePeopleCSV writes people in the form ParsePeopleCSV reads, roles
// separated by spaces.
func WritePeopleCSV(w io.Writer, people []model.Person) error {
	return writeOrgCSV(w, "people register", PersonColumns, people, func(p model.Person) []string {
		return []string{p.ID, p.Name, p.Email, p.Phone, p.Unit, strings.Join(p.Roles, " "), p.Username, p.Lang}
	})
}

// WriteSupplierPeopleCSV writes supplier personnel in the form
// ParseSupplierPeopleCSV reads, accounts separated by " | ".
func WriteSupplierPeopleCSV(w io.Writer, sps []model.SupplierPerson) error {
	return writeOrgCSV(w, "supplier personnel register", SupplierColumns, sps, func(s model.SupplierPerson) []string {
		return []string{s.ID, s.Name, s.Supplier, s.Email, strings.Join(s.Accounts, " | "), formatDate(s.DeclarationSigned),
			s.DeclarationSHA256, formatDate(s.DeclarationExpires)}
	})
}

// WriteSharedSolutionsCSV writes shared-solution machines in the form
// ParseSharedSolutionsCSV reads, zones separated by spaces.
func WriteSharedSolutionsCSV(w io.Writer, ss []model.SharedSolution) error {
	return writeOrgCSV(w, "shared-solution register", SharedSolutionColumns, ss, func(s model.SharedSolution) []string {
		return []string{s.Host, strings.Join(s.Zones, " "), s.RiskAcceptedBy, formatDate(s.RiskAcceptedAt), s.DocumentSHA256,
			formatDate(s.Expires), s.Note}
	})
}
