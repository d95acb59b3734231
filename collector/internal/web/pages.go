package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/wire"
)

// pageNames are the templates/<name>.html files that are whole pages; each is
// parsed together with layout.html and parts.html.
var pageNames = []string{"login", "error", "hosts", "host", "software", "media", "register", "assets", "software_catalog", "deviations", "deviation", "zones", "flows", "neighbours", "configmap", "org", "admin", "audit", "overview"}

// pageData is what every page template gets.
type pageData struct {
	Lang      string
	Langs     []langLink
	User      string
	Role      model.Role
	CSRF      string // the session's token, or the login form's
	Nav       string // which main-nav entry is current
	Title     string // catalogue key of the page title
	TitleText string // a title that is data, not a message (a host name)
	Error     string // catalogue key of an error message
	Detail    string // the error's own message, already in the page's language
	Can       perms  // what the user's role may do, for links and forms
	MainNav   []navLink
	SubNav    []navLink
	// Live names the change topics (comma-separated) on which the page's
	// live regions reload themselves; empty for a page that stays still.
	Live string
	Data any
}

// langLink is one entry of the language switch.
type langLink struct {
	Code, Name, Href string
	Current          bool
}

func (s *Server) parseTemplates() (map[string]map[string]*template.Template, error) {
	out := make(map[string]map[string]*template.Template)
	for _, lang := range languages {
		base, err := template.New("").Funcs(s.funcs(lang)).ParseFS(assets, "templates/layout.html", "templates/parts.html")
		if err != nil {
			return nil, fmt.Errorf("parse layout: %w", err)
		}
		out[lang] = make(map[string]*template.Template)
		for _, name := range pageNames {
			t, err := base.Clone()
			if err != nil {
				return nil, fmt.Errorf("clone layout: %w", err)
			}
			if t, err = t.ParseFS(assets, "templates/"+name+".html"); err != nil {
				return nil, fmt.Errorf("parse page %s: %w", name, err)
			}
			out[lang][name] = t
		}
	}
	return out, nil
}

// funcs are the template functions, bound to one language.
func (s *Server) funcs(lang string) template.FuncMap {
	f := formatter{lang: lang, now: s.now}
	return template.FuncMap{
		"t":  func(key string) string { return translate(lang, key) },
		"tf": func(key string, args ...any) string { return translatef(lang, key, args...) },
		"tn": func(key string, n int) string { // plural: key.one or key.other
			if n == 1 {
				return translatef(lang, key+".one", n)
			}
			return translatef(lang, key+".other", n)
		},
		"ago":      f.ago,
		"datetime": f.datetime,
		"num":      f.num,
		"bytes":    f.bytes,
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"unix": func(sec int64) time.Time {
			if sec == 0 {
				return time.Time{}
			}
			return time.Unix(sec, 0)
		},
		"hostname":   hostname,
		"ifaces":     shownInterfaces,
		"encryption": func(p wire.Partition) string { return encryptionText(lang, p) },
		"source":     func(src string) string { return sourceName(lang, src) },
		"hithost":    hitHostname,
		"short":      shortHash,
		"matrixpart": newMatrixPart,
		"mediatable": func(rows []mediaRow, showHost bool, labelledBy string) mediaTable {
			return mediaTable{Rows: rows, ShowHost: showHost, LabelledBy: labelledBy}
		},
		"modes": func(selected string) []option {
			out := make([]option, 0, 2)
			for _, m := range []string{"merge", "replace"} {
				out = append(out, option{m, translate(lang, "register.mode."+m), m == selected})
			}
			return out
		},
	}
}

// hostname is the best name we have for a host.
func hostname(h model.HostSummary) string {
	switch {
	case h.Hostname != "":
		return h.Hostname
	case h.Facts != nil && h.Facts.Hostname != "":
		return h.Facts.Hostname
	default:
		return h.ID
	}
}

// shownInterfaces leaves out interfaces that say nothing about the host on the
// network: no MAC and only loopback addresses (or none).
func shownInterfaces(h *wire.Host) []wire.Interface {
	var out []wire.Interface
	for _, i := range h.Interfaces {
		if i.MAC == "" && onlyLoopback(i.Addrs) {
			continue
		}
		out = append(out, i)
	}
	return out
}

func onlyLoopback(addrs []string) bool {
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.") && !strings.HasPrefix(a, "::1") {
			return false
		}
	}
	return true
}

// render executes a page into a buffer first, so that a template error turns
// into a clean 500 instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	lang := langFrom(r.Context())
	d.Lang = lang
	d.Langs = langLinks(r, lang)
	if p := principalFrom(r.Context()); p != nil && p.Session != nil {
		d.User, d.Role, d.CSRF = p.Name, p.Role, p.Session.CSRF
		d.Can = s.permsOf(p.Role)
		d.MainNav, d.SubNav = navFor(p.Role, d.Nav)
	}
	t := s.pages[lang][page]
	var buf bytes.Buffer
	if t == nil {
		s.log.ErrorContext(r.Context(), "render: no such page", "page", page)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// langLinks builds the language switch: the current page with ?lang=xx.
func langLinks(r *http.Request, current string) []langLink {
	out := make([]langLink, 0, len(languages))
	for _, l := range languages {
		q := url.Values{}
		for k, v := range r.URL.Query() {
			if k != langParam {
				q[k] = v
			}
		}
		q.Set(langParam, l)
		out = append(out, langLink{
			Code:    l,
			Name:    translate(l, "lang."+l),
			Href:    r.URL.Path + "?" + q.Encode(),
			Current: l == current,
		})
	}
	return out
}

// listPageRows is the number of rows a page of a long list shows.
const listPageRows = 100

// pager is one page of a long list: which rows it shows and links to the
// neighbouring pages that keep the other query parameters.
type pager struct {
	Page, Pages                 int
	From, To, Total             int // rows From..To (1-based) of Total
	PrevHref, NextHref          string
	FirstHref, LastHref         string
	FromText, ToText, TotalText string
}

// queryPage reads ?page=: 1 without one, else a whole number from 1.
func queryPage(r *http.Request) (int, error) {
	v := strings.TrimSpace(r.URL.Query().Get("page"))
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, refuse(model.ErrInvalid, "problem.page")
	}
	return n, nil
}

// newPager pages total rows perPage at a time; a page past the last shows
// the last (a list may shrink while someone reads it). lo and hi bound the
// rows of the page.
func newPager(r *http.Request, total, perPage, page int) (p pager, lo, hi int) {
	p.Total, p.Pages = total, max(1, (total+perPage-1)/perPage)
	p.Page = min(page, p.Pages)
	lo, hi = (p.Page-1)*perPage, min(p.Page*perPage, total)
	p.From, p.To = min(lo+1, total), hi
	href := func(n int) string {
		q := r.URL.Query()
		q.Del("page")
		if n > 1 {
			q.Set("page", strconv.Itoa(n))
		}
		if len(q) == 0 {
			return r.URL.Path
		}
		return r.URL.Path + "?" + q.Encode()
	}
	if p.Page > 1 {
		p.PrevHref, p.FirstHref = href(p.Page-1), href(1)
	}
	if p.Page < p.Pages {
		p.NextHref, p.LastHref = href(p.Page+1), href(p.Pages)
	}
	f := formatter{lang: langFrom(r.Context())}
	p.FromText, p.ToText, p.TotalText = f.num(int64(p.From)), f.num(int64(p.To)), f.num(int64(total))
	return p, lo, hi
}

// hostsView is one page of the host list.
type hostsView struct {
	Hosts []model.HostSummary
	Total int
	Pager pager
}

func (s *Server) handleHosts(w http.ResponseWriter, r *http.Request) {
	page, err := queryPage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hosts, err := s.store.ListHosts(r.Context())
	if err != nil {
		s.fail(w, r, fmt.Errorf("list hosts: %w", err))
		return
	}
	pg, lo, hi := newPager(r, len(hosts), listPageRows, page)
	v := hostsView{Hosts: hosts[lo:hi], Total: len(hosts), Pager: pg}
	s.render(w, r, http.StatusOK, "hosts", pageData{Title: "hosts.title", Nav: "hosts", Live: "hosts", Data: v})
}
