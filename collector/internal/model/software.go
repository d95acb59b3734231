package model

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Software catalogue verdicts.
const (
	SoftwareApproved = "approved"
	SoftwareDenied   = "denied"
)

// SoftwareVerdicts lists the verdicts, in the order forms show them.
var SoftwareVerdicts = []string{SoftwareApproved, SoftwareDenied}

// SoftwareSources lists the package sources a catalogue entry may be bound
// to, as wire.Package.Source names them; an entry with Source "" holds for
// every source.
var SoftwareSources = []string{"dpkg", "rpm", "windows"}

// SoftwareEntry is one entry of the software catalogue (S1.3): software the
// municipality approves or denies, by name pattern, publisher and version
// range.
//
// NamePattern and Publisher are globs matched case-insensitively against the
// whole package name and publisher: * stands for any run of characters
// (also none), ? for exactly one, everything else for itself (see
// ParseSoftwareGlob). A Publisher of "" holds for every publisher, also
// none. The version range is half-open: a package matches when MinVersion
// <= version (inclusive, "" no lower bound) and version < MaxVersion
// (exclusive, "" no upper bound), compared by the package's own source's
// version order; a package without a version matches no bounded range.
type SoftwareEntry struct {
	ID          string // the entry's key: SoftwareEntryID of the fields below
	Verdict     string // SoftwareApproved or SoftwareDenied
	NamePattern string
	Publisher   string
	Source      string // "" for every source, else one of SoftwareSources
	MinVersion  string // inclusive; "" no lower bound
	MaxVersion  string // exclusive; "" no upper bound
	Reason      string // why it is approved or denied
	OwnerUnit   string // the unit answerable for the entry
	UpdatedAt   time.Time
	UpdatedBy   string
}

// SoftwareEntryID is the stable key of a catalogue entry:
// "<verdict>:<name pattern>:<publisher>:<source>", patterns lower-cased (as
// they match without regard to case). Two entries with one key may not
// stand in the catalogue together; a version range is one entry's business.
func SoftwareEntryID(verdict, namePattern, publisher, source string) string {
	return verdict + ":" + strings.ToLower(namePattern) + ":" + strings.ToLower(publisher) + ":" + source
}

// Key returns SoftwareEntryID of the entry's fields.
func (e SoftwareEntry) Key() string {
	return SoftwareEntryID(e.Verdict, e.NamePattern, e.Publisher, e.Source)
}

// SoftwareCatalogStore keeps the software catalogue.
type SoftwareCatalogStore interface {
	// SoftwareCatalog returns the catalogue sorted by ID (byte order).
	SoftwareCatalog(ctx context.Context) ([]SoftwareEntry, error)
	// ImportSoftwareCatalog writes entries in one transaction: with
	// replace, the catalogue becomes exactly entries; without, entries are
	// added or updated by ID and the rest stay. Each entry's ID is set from
	// its fields (Key). Every entry added, updated or removed lands in the
	// audit log with actor, before and after. ErrConflict when entries
	// repeat an ID; ErrInvalid for an entry CheckSoftwareEntry refuses or
	// whose version range is empty (MinVersion not below MaxVersion by the
	// source's version order). Either way nothing is written.
	ImportSoftwareCatalog(ctx context.Context, entries []SoftwareEntry, replace bool, actor string, at time.Time) (RegisterChange, error)
	// DeleteSoftwareEntry removes one entry (audited); ErrNotFound if absent.
	DeleteSoftwareEntry(ctx context.Context, id, actor string, at time.Time) error
}

// CheckSoftwareEntry checks what a store requires of an entry: a known
// verdict and source, a name pattern, and patterns ParseSoftwareGlob
// accepts, all valid UTF-8. The version range's order is the register's
// check (it needs the packaging systems' version orders). The error wraps
// ErrInvalid.
func CheckSoftwareEntry(e SoftwareEntry) error {
	if e.Verdict != SoftwareApproved && e.Verdict != SoftwareDenied {
		return fmt.Errorf("software entry %q: verdict %q: %w", e.NamePattern, e.Verdict, ErrInvalid)
	}
	if e.Source != "" && e.Source != "dpkg" && e.Source != "rpm" && e.Source != "windows" {
		return fmt.Errorf("software entry %q: source %q: %w", e.NamePattern, e.Source, ErrInvalid)
	}
	if e.NamePattern == "" {
		return fmt.Errorf("software entry without a name pattern: %w", ErrInvalid)
	}
	for _, p := range []string{e.NamePattern, e.Publisher} {
		if _, err := ParseSoftwareGlob(p); err != nil {
			return fmt.Errorf("software entry %q: %w: %w", e.NamePattern, err, ErrInvalid)
		}
	}
	for _, v := range []string{e.MinVersion, e.MaxVersion, e.Reason, e.OwnerUnit} {
		if !utf8.ValidString(v) {
			return fmt.Errorf("software entry %q: text is not UTF-8: %w", e.NamePattern, ErrInvalid)
		}
	}
	return nil
}

// SoftwareGlob is a compiled name or publisher pattern of the software
// catalogue. The zero SoftwareGlob matches only "".
type SoftwareGlob struct {
	pattern string // lower-cased
	// prefix is the literal run before the first wildcard, suffix the one
	// after the last; exact reports whether the pattern has no wildcard at
	// all (then prefix is the pattern).
	prefix, suffix string
	exact          bool
	// stars reports whether * is the only wildcard; then middle are the
	// literal runs between the stars, found in order with strings.Index.
	stars  bool
	middle []string
}

// globRefused are characters other glob dialects give a meaning; here they
// would silently match themselves, so a pattern holding one is refused.
const globRefused = `[]{}\`

// ParseSoftwareGlob compiles a catalogue pattern: * matches any run of
// characters (also none), ? exactly one character, everything else itself,
// without regard to case. Character classes, alternatives and escapes ([ ]
// { } \) are refused, as are control characters and text that is not UTF-8.
func ParseSoftwareGlob(pattern string) (SoftwareGlob, error) {
	if !utf8.ValidString(pattern) {
		return SoftwareGlob{}, fmt.Errorf("pattern %q is not UTF-8", pattern)
	}
	for _, r := range pattern {
		if strings.ContainsRune(globRefused, r) {
			return SoftwareGlob{}, fmt.Errorf("pattern %q: %q is not supported; use * and ? only", pattern, r)
		}
		if r < 0x20 || r == 0x7f {
			return SoftwareGlob{}, fmt.Errorf("pattern %q holds a control character", pattern)
		}
	}
	p := strings.ToLower(pattern)
	g := SoftwareGlob{pattern: p}
	i := strings.IndexAny(p, "*?")
	if i < 0 {
		g.prefix, g.exact = p, true
		return g, nil
	}
	j := strings.LastIndexAny(p, "*?")
	g.prefix, g.suffix = p[:i], p[j+1:]
	if !strings.Contains(p, "?") {
		g.stars = true
		for _, m := range strings.Split(p[i:j+1], "*") {
			if m != "" {
				g.middle = append(g.middle, m)
			}
		}
	}
	return g, nil
}

// Pattern returns the pattern, lower-cased.
func (g SoftwareGlob) Pattern() string { return g.pattern }

// Literal returns the literal text every match starts with, and whether the
// pattern is only that (has no wildcard).
func (g SoftwareGlob) Literal() (prefix string, exact bool) { return g.prefix, g.exact }

// Suffix returns the literal text every match ends with ("" when the
// pattern ends in a wildcard, the whole pattern when it has none).
func (g SoftwareGlob) Suffix() string {
	if g.exact {
		return g.pattern
	}
	return g.suffix
}

// Match reports whether s matches the whole pattern, without regard to case.
func (g SoftwareGlob) Match(s string) bool {
	return g.MatchLower(strings.ToLower(s))
}

// MatchLower is Match for an s that is already lower-cased, which saves the
// copy when one name is matched against many patterns.
func (g SoftwareGlob) MatchLower(s string) bool {
	if g.exact {
		return s == g.pattern
	}
	if len(s) < len(g.prefix)+len(g.suffix) || !strings.HasPrefix(s, g.prefix) || !strings.HasSuffix(s, g.suffix) {
		return false
	}
	if !g.stars {
		return globMatch(g.pattern[len(g.prefix):], s[len(g.prefix):])
	}
	rest := s[len(g.prefix) : len(s)-len(g.suffix)]
	for _, m := range g.middle {
		k := strings.Index(rest, m)
		if k < 0 {
			return false
		}
		rest = rest[k+len(m):]
	}
	return true
}

// globMatch matches s against p (* and ? wildcards) by the usual greedy
// walk that backtracks to the last star only, linear in practice.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi] {
			case '*':
				star, mark = pi, si
				pi++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				pi++
				si += n
				continue
			default:
				if p[pi] == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		// Let the last star take one more character and try again.
		_, n := utf8.DecodeRuneInString(s[mark:])
		mark += n
		pi, si = star+1, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
