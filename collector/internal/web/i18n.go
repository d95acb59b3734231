package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Languages the UI speaks; the first is the default.
var languages = []string{"nb", "en"}

const (
	defaultLang = "nb"
	langCookie  = "lang"
	langParam   = "lang"
)

// catalogs holds every user-visible string, per language. Values may hold
// fmt verbs; keys ending in .one and .other are plural forms (see tn).
var catalogs = map[string]map[string]string{
	"nb": {
		"app.name":    "Sonevakt",
		"app.tagline": "Oversikt over maskiner, soner og avvik",

		"nav.skip":         "Hopp til innholdet",
		"nav.label":        "Hovedmeny",
		"nav.hosts":        "Verter",
		"nav.signed_in_as": "Innlogget som %s",
		"nav.logout":       "Logg ut",
		"lang.label":       "Språk",
		"lang.nb":          "Norsk",
		"lang.en":          "English",

		"role.admin":     "administrator",
		"role.drift":     "drift",
		"role.sikkerhet": "informasjonssikkerhet",
		"role.leder":     "leder",
		"role.revisor":   "revisor",

		"login.title":           "Logg inn",
		"login.lead":            "Logg inn med brukernavn og passord for å se maskinene som rapporterer til Sonevakt.",
		"login.failed":          "Innloggingen mislyktes.",
		"login.username":        "Brukernavn",
		"login.password":        "Passord",
		"login.submit":          "Logg inn",
		"login.bad_credentials": "Feil brukernavn eller passord, eller kontoen er midlertidig låst etter for mange feilforsøk. Prøv igjen, eller vent 15 minutter.",
		"login.rate_limited":    "For mange innloggingsforsøk fra denne maskinen. Vent ett minutt og prøv igjen.",
		"login.csrf":            "Skjemaet var utløpt eller ugyldig (manglende sikkerhetsnøkkel). Vi har lastet det på nytt – prøv å logge inn igjen.",

		"error.unauthorized":       "Du må logge inn for å se dette.",
		"error.unauthorized.title": "Innlogging kreves",
		"error.csrf":               "Forespørselen ble avvist fordi den manglet en gyldig sikkerhetsnøkkel (CSRF). Last siden på nytt og prøv igjen.",
		"error.csrf.title":         "Forespørselen ble avvist",
		"error.not_found":          "Vi fant ikke det du lette etter.",
		"error.not_found.title":    "Ikke funnet",
		"error.invalid":            "Forespørselen er ugyldig.",
		"error.invalid.title":      "Ugyldig forespørsel",
		"error.forbidden":          "Rollen din gir ikke tilgang til dette.",
		"error.forbidden.title":    "Ingen tilgang",
		"error.conflict":           "Dette finnes allerede eller ble endret samtidig av noen andre.",
		"error.conflict.title":     "Konflikt",
		"error.rate_limited":       "For mange forespørsler. Vent litt og prøv igjen.",
		"error.rate_limited.title": "For mange forespørsler",
		"error.internal":           "Det oppstod en intern feil. Feilen er logget; prøv igjen senere.",
		"error.internal.title":     "Intern feil",
		"error.back":               "Tilbake til vertene",
		"error.to_login":           "Til innloggingen",

		"hosts.title":       "Verter",
		"hosts.count.one":   "%d vert",
		"hosts.count.other": "%d verter",
		"hosts.caption":     "Innrullerte verter med maskinvare, nettverk og agentstatus",
		"hosts.empty":       "Ingen verter er innrullert ennå.",
		"hosts.empty_hint":  "Verter dukker opp her når en agent er installert og har rullet seg inn med et innrulleringstoken.",

		"host.hostname":       "Vertsnavn",
		"host.domain":         "Domene",
		"host.os":             "Operativsystem",
		"host.kernel":         "Kjerne",
		"host.arch":           "Arkitektur",
		"host.cpu":            "Prosessor",
		"host.cpu_counts":     "%d kjerner, %d tråder",
		"host.memory":         "Minne",
		"host.network":        "Nettverk (MAC og adresser)",
		"host.agent_version":  "Agentversjon",
		"host.last_seen":      "Sist sett",
		"host.records":        "Poster",
		"host.status":         "Status",
		"host.no_facts":       "Ingen maskinvaredata mottatt ennå.",
		"host.back":           "← Alle verter",
		"host.agent":          "Agent",
		"host.agent_id":       "Agent-ID",
		"host.enrolled_at":    "Innrullert",
		"host.revoked_at":     "Tilbakekalt",
		"host.addr":           "Siste tilkobling fra",
		"host.fingerprint":    "Maskinvarefingeravtrykk",
		"host.cert_serial":    "Sertifikatets serienummer",
		"host.cert_not_after": "Sertifikatet gyldig til",
		"host.seq_range":      "Sekvensnumre",
		"host.facts":          "Maskinvare og system",
		"host.facts_at":       "Rapportert %s",
		"host.boot_time":      "Startet",
		"host.virtualization": "Virtualisering",
		"host.machine_id":     "Maskin-ID",
		"host.interfaces":     "Nettverksgrensesnitt",
		"host.no_interfaces":  "Ingen nettverksgrensesnitt rapportert.",

		"iface.name":  "Navn",
		"iface.mac":   "MAC-adresse",
		"iface.addrs": "Adresser",
		"iface.state": "Tilstand",
		"iface.mtu":   "MTU",
		"iface.up":    "Oppe",
		"iface.down":  "Nede",

		"state.active":  "Aktiv",
		"state.revoked": "Tilbakekalt",

		"time.never":  "aldri",
		"ago.seconds": "for %d s siden",
		"ago.minutes": "for %d min siden",
		"ago.hours":   "for %d t siden",
		"ago.days":    "for %d d siden",
	},
	"en": {
		"app.name":    "Sonevakt",
		"app.tagline": "Overview of machines, zones and deviations",

		"nav.skip":         "Skip to content",
		"nav.label":        "Main menu",
		"nav.hosts":        "Hosts",
		"nav.signed_in_as": "Signed in as %s",
		"nav.logout":       "Log out",
		"lang.label":       "Language",
		"lang.nb":          "Norsk",
		"lang.en":          "English",

		"role.admin":     "administrator",
		"role.drift":     "operations",
		"role.sikkerhet": "information security",
		"role.leder":     "line manager",
		"role.revisor":   "auditor",

		"login.title":           "Log in",
		"login.lead":            "Log in with your user name and password to see the machines that report to Sonevakt.",
		"login.failed":          "Login failed.",
		"login.username":        "User name",
		"login.password":        "Password",
		"login.submit":          "Log in",
		"login.bad_credentials": "Wrong user name or password, or the account is locked for a while after too many failed attempts. Try again, or wait 15 minutes.",
		"login.rate_limited":    "Too many login attempts from this machine. Wait a minute and try again.",
		"login.csrf":            "The form had expired or was invalid (missing security token). We have reloaded it – please log in again.",

		"error.unauthorized":       "Authentication required.",
		"error.unauthorized.title": "Login required",
		"error.csrf":               "The request was refused because it lacked a valid security token (CSRF). Reload the page and try again.",
		"error.csrf.title":         "Request refused",
		"error.not_found":          "Not found.",
		"error.not_found.title":    "Not found",
		"error.invalid":            "Invalid request.",
		"error.invalid.title":      "Invalid request",
		"error.forbidden":          "Your role does not allow this.",
		"error.forbidden.title":    "Access denied",
		"error.conflict":           "This exists already or was changed by someone else at the same time.",
		"error.conflict.title":     "Conflict",
		"error.rate_limited":       "Too many requests. Wait a little and try again.",
		"error.rate_limited.title": "Too many requests",
		"error.internal":           "Internal error. It has been logged; try again later.",
		"error.internal.title":     "Internal error",
		"error.back":               "Back to the hosts",
		"error.to_login":           "Go to login",

		"hosts.title":       "Hosts",
		"hosts.count.one":   "%d host",
		"hosts.count.other": "%d hosts",
		"hosts.caption":     "Enrolled hosts with hardware, network and agent state",
		"hosts.empty":       "No hosts are enrolled yet.",
		"hosts.empty_hint":  "Hosts appear here once an agent is installed and has enrolled with an enrollment token.",

		"host.hostname":       "Host name",
		"host.domain":         "Domain",
		"host.os":             "Operating system",
		"host.kernel":         "Kernel",
		"host.arch":           "Architecture",
		"host.cpu":            "Processor",
		"host.cpu_counts":     "%d cores, %d threads",
		"host.memory":         "Memory",
		"host.network":        "Network (MAC and addresses)",
		"host.agent_version":  "Agent version",
		"host.last_seen":      "Last seen",
		"host.records":        "Records",
		"host.status":         "State",
		"host.no_facts":       "No hardware facts received yet.",
		"host.back":           "← All hosts",
		"host.agent":          "Agent",
		"host.agent_id":       "Agent ID",
		"host.enrolled_at":    "Enrolled",
		"host.revoked_at":     "Revoked",
		"host.addr":           "Last connected from",
		"host.fingerprint":    "Hardware fingerprint",
		"host.cert_serial":    "Certificate serial",
		"host.cert_not_after": "Certificate valid until",
		"host.seq_range":      "Sequence numbers",
		"host.facts":          "Hardware and system",
		"host.facts_at":       "Reported %s",
		"host.boot_time":      "Booted",
		"host.virtualization": "Virtualisation",
		"host.machine_id":     "Machine ID",
		"host.interfaces":     "Network interfaces",
		"host.no_interfaces":  "No network interfaces reported.",

		"iface.name":  "Name",
		"iface.mac":   "MAC address",
		"iface.addrs": "Addresses",
		"iface.state": "State",
		"iface.mtu":   "MTU",
		"iface.up":    "Up",
		"iface.down":  "Down",

		"state.active":  "Active",
		"state.revoked": "Revoked",

		"time.never":  "never",
		"ago.seconds": "%d s ago",
		"ago.minutes": "%d min ago",
		"ago.hours":   "%d h ago",
		"ago.days":    "%d d ago",
	},
}

// translate returns the message for key in lang, or a marked key when the
// catalogue lacks it, so that a gap shows on the page and in tests.
func translate(lang, key string) string {
	if m, ok := catalogs[lang][key]; ok {
		return m
	}
	return "⟦" + key + "⟧"
}

// translatef formats the message for key with args.
func translatef(lang, key string, args ...any) string {
	return fmt.Sprintf(translate(lang, key), args...)
}

// language picks the language of each request and puts it in the context: a
// ?lang= parameter (remembered in a cookie), then the cookie, then
// Accept-Language, then bokmål.
func (s *Server) language(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := ""
		if q := r.URL.Query().Get(langParam); supported(q) {
			lang = q
			c := &http.Cookie{
				Name: langCookie, Value: q, Path: "/", MaxAge: 365 * 24 * 3600,
				HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
			}
			http.SetCookie(w, c)
		} else if c, err := r.Cookie(langCookie); err == nil && supported(c.Value) {
			lang = c.Value
		} else {
			lang = acceptLanguage(r.Header.Get("Accept-Language"))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), langKey, lang)))
	})
}

func langFrom(ctx context.Context) string {
	if l, ok := ctx.Value(langKey).(string); ok {
		return l
	}
	return defaultLang
}

func supported(lang string) bool { return slices.Contains(languages, lang) }

// acceptLanguage picks the supported language the header prefers most; all
// Norwegian tags (no, nb, nn) mean bokmål.
func acceptLanguage(header string) string {
	best, bestQ := defaultLang, -1.0
	for part := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		var lang string
		switch primary {
		case "nb", "no", "nn":
			lang = "nb"
		case "en":
			lang = "en"
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ = lang, q
		}
	}
	return best
}

// formatter renders numbers, sizes and times the way a language writes them.
type formatter struct {
	lang string
	now  func() time.Time
}

// ago renders how long ago t was: "for 12 s siden", "3 min ago".
func (f formatter) ago(t time.Time) string {
	if t.IsZero() {
		return translate(f.lang, "time.never")
	}
	d := max(f.now().Sub(t), 0)
	switch {
	case d < time.Minute:
		return translatef(f.lang, "ago.seconds", int(d/time.Second))
	case d < time.Hour:
		return translatef(f.lang, "ago.minutes", int(d/time.Minute))
	case d < 48*time.Hour:
		return translatef(f.lang, "ago.hours", int(d/time.Hour))
	default:
		return translatef(f.lang, "ago.days", int(d/(24*time.Hour)))
	}
}

// datetime renders t in the server's zone, or a dash for the zero time.
func (f formatter) datetime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// num renders n with grouped thousands: 12 345 in bokmål, 12,345 in English.
func (f formatter) num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := "\u00a0"
	if f.lang == "en" {
		sep = ","
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// bytes renders a size in binary units with one decimal: 15,5 GiB.
func (f formatter) bytes(n uint64) string {
	if n == 0 {
		return "–"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	if i == 0 {
		s = strconv.FormatUint(n, 10)
	}
	if f.lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + "\u00a0" + units[i]
}
