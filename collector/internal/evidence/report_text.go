package evidence

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The management-review report is a document the municipality keeps, so
// its words live here rather than in the web UI's catalogue. Bokmål is the
// default; English on request.
var reportText = map[string]map[string]string{
	"nb": {
		"title":              "Rapport fra ledelsens gjennomgang %d",
		"subtitle":           "Informasjonssikkerhet, sikkerhetsstrategien S11.2–S11.4",
		"period":             "Perioden %s–%s. Laget %s av Sonevakt.",
		"none":               "Ingen.",
		"no_unit":            "(ingen enhet)",
		"col.what":           "Hva",
		"col.count":          "Antall",
		"s.controls":         "1. Resultater av årets kontroller",
		"controls.lead":      "Revisjonsloggen er hash-kjedet og signert; bevispakker kan kontrolleres uten tilgang til Sonevakt.",
		"controls.entries":   "Hendelser i revisjonsloggen",
		"controls.exports":   "Bevispakker eksportert (årlig revisjon, S8)",
		"controls.last":      "Siste eksport",
		"controls.actions":   "Hyppigste handlinger i revisjonsloggen",
		"col.action":         "Handling",
		"s.map":              "2. Endringer i informasjonssystemet",
		"map.none":           "Konfigurasjonskartet har ikke øyeblikksbilder fra både starten og slutten av året, så endringene kan ikke vises.",
		"map.lead":           "Konfigurasjonskartet %s sammenlignet med %s.",
		"map.added":          "Lagt til",
		"map.removed":        "Fjernet",
		"map.changed":        "Endret",
		"map.list":           "Endringer (de første %d av %d)",
		"col.kind":           "Type",
		"col.key":            "Nøkkel",
		"col.op":             "Endring",
		"col.before":         "Før",
		"col.after":          "Etter",
		"op.added":           "lagt til",
		"op.removed":         "fjernet",
		"op.changed":         "endret",
		"s.deviations":       "3. Avvik",
		"dev.created":        "Avvik opprettet i året",
		"dev.closed":         "Av disse lukket eller avvist",
		"dev.open":           "Av disse fortsatt åpne",
		"dev.closed_year":    "Avvik lukket eller avvist i året",
		"dev.median":         "Median tid til lukking",
		"dev.mean":           "Gjennomsnittlig tid til lukking",
		"dev.chart":          "Avvik opprettet per måned",
		"dev.by_severity":    "Avvik etter alvorlighet",
		"dev.by_rule":        "Avvik etter regel",
		"dev.by_unit":        "Avvik etter enhet",
		"col.severity":       "Alvorlighet",
		"col.rule":           "Regel",
		"col.unit":           "Enhet",
		"days":               "%s døgn",
		"s.breaches":         "4. Brudd på personopplysningssikkerheten",
		"br.total":           "Vurderinger med kjennskap i året",
		"br.notified":        "Meldt til Datatilsynet",
		"br.in72h":           "Av disse meldt innen 72 timer",
		"br.not":             "Ikke meldt (vurdert og begrunnet)",
		"br.undecided":       "Ikke avgjort",
		"s.equipment":        "5. Uautorisert utstyr",
		"eq.lead":            "Uregistrerte maskiner, ukjente enheter på nettet og flyttbare medier.",
		"eq.found":           "Funnet i året",
		"eq.resolved":        "Av disse løst",
		"eq.by_rule":         "Funnet etter regel",
		"risk.caption":       "Åpne avvik etter alvorlighet",
		"s.risk":             "6. Risikostatus",
		"risk.lead":          "Åpne avvik nå, etter alvorlighet.",
		"s.open":             "7. Åpne tiltak",
		"open.deviations":    "Åpne avvik (de %d mest alvorlige av %d)",
		"open.breaches":      "Bruddvurderinger over fristen på 72 timer",
		"col.id":             "Avvik",
		"col.title":          "Tittel",
		"col.status":         "Status",
		"col.due":            "Frist",
		"overdue":            "%s (over fristen)",
		"s.signoff":          "8. Godkjenning",
		"signoff.lead":       "Rapporten er gjennomgått av ledelsen. Vedtatte tiltak føres som avvik eller i handlingsplanen.",
		"signoff.security":   "Sikkerhetsleder",
		"signoff.management": "Kommunedirektør",
		"signoff.name":       "Navn",
		"signoff.date":       "Dato",
		"signoff.sign":       "Signatur",
		"page":               "Side %d av %s",
		"mail.review":        "Ledelsens gjennomgang av %d",
		"mail.audit":         "Årlig sikkerhetsrevisjon %d",
		"mail.subject":       "Påminnelse: %s, frist %s",
		"mail.body.review":   "Ledelsens gjennomgang av informasjonssikkerheten for %d (sikkerhetsstrategien S11) skal holdes innen %s.\n\nLag rapporten med:\n  sonevakt-collector evidence report --data KATALOG --year %d --out rapport-%d.pdf\n",
		"mail.body.audit":    "Den årlige sikkerhetsrevisjonen (sikkerhetsstrategien S8) skal gjøres innen %s.\n\nRevisor henter en signert bevispakke for året under Revisjon i Sonevakt, eller med:\n  sonevakt-collector evidence export --data KATALOG --from DATO --to DATO --out bevis.zip\n",
		"mail.link":          "\nSonevakt: %s\n",
		"mail.footer":        "\nDenne påminnelsen sendes én gang, 30 dager før fristen.\n",
		"month.1":            "jan", "month.2": "feb", "month.3": "mar", "month.4": "apr", "month.5": "mai", "month.6": "jun",
		"month.7": "jul", "month.8": "aug", "month.9": "sep", "month.10": "okt", "month.11": "nov", "month.12": "des",
		"sev.critical": "kritisk", "sev.high": "høy", "sev.medium": "middels", "sev.low": "lav",
		"status.ny": "ny", "status.under behandling": "under behandling", "status.lukket": "lukket", "status.avvist": "avvist",
	},
	"en": {
		"title":              "Management review report %d",
		"subtitle":           "Information security, security strategy S11.2–S11.4",
		"period":             "Period %s to %s. Made %s by Sonevakt.",
		"none":               "None.",
		"no_unit":            "(no unit)",
		"col.what":           "What",
		"col.count":          "Number",
		"s.controls":         "1. Results of the year's controls",
		"controls.lead":      "The audit log is hash-chained and signed; evidence bundles can be verified without access to Sonevakt.",
		"controls.entries":   "Audit log entries",
		"controls.exports":   "Evidence bundles exported (yearly audit, S8)",
		"controls.last":      "Last export",
		"controls.actions":   "Most frequent actions in the audit log",
		"col.action":         "Action",
		"s.map":              "2. Changes to the information system",
		"map.none":           "The configuration map has no snapshots from both the start and the end of the year, so its changes cannot be shown.",
		"map.lead":           "The configuration map on %s compared with %s.",
		"map.added":          "Added",
		"map.removed":        "Removed",
		"map.changed":        "Changed",
		"map.list":           "Changes (the first %d of %d)",
		"col.kind":           "Kind",
		"col.key":            "Key",
		"col.op":             "Change",
		"col.before":         "Before",
		"col.after":          "After",
		"op.added":           "added",
		"op.removed":         "removed",
		"op.changed":         "changed",
		"s.deviations":       "3. Deviations",
		"dev.created":        "Deviations opened in the year",
		"dev.closed":         "Of these closed or rejected",
		"dev.open":           "Of these still open",
		"dev.closed_year":    "Deviations closed or rejected in the year",
		"dev.median":         "Median time to close",
		"dev.mean":           "Mean time to close",
		"dev.chart":          "Deviations opened per month",
		"dev.by_severity":    "Deviations by severity",
		"dev.by_rule":        "Deviations by rule",
		"dev.by_unit":        "Deviations by unit",
		"col.severity":       "Severity",
		"col.rule":           "Rule",
		"col.unit":           "Unit",
		"days":               "%s days",
		"s.breaches":         "4. Personal data breaches",
		"br.total":           "Assessments with awareness in the year",
		"br.notified":        "Notified to Datatilsynet",
		"br.in72h":           "Of these notified within 72 hours",
		"br.not":             "Not notified (assessed and reasoned)",
		"br.undecided":       "Not decided",
		"s.equipment":        "5. Unauthorised equipment",
		"eq.lead":            "Unregistered machines, unknown devices on the network and removable media.",
		"eq.found":           "Found in the year",
		"eq.resolved":        "Of these resolved",
		"eq.by_rule":         "Found by rule",
		"risk.caption":       "Open deviations by severity",
		"s.risk":             "6. Risk status",
		"risk.lead":          "Open deviations now, by severity.",
		"s.open":             "7. Open actions",
		"open.deviations":    "Open deviations (the %d most severe of %d)",
		"open.breaches":      "Breach assessments past their 72-hour deadline",
		"col.id":             "Deviation",
		"col.title":          "Title",
		"col.status":         "Status",
		"col.due":            "Due",
		"overdue":            "%s (overdue)",
		"s.signoff":          "8. Sign-off",
		"signoff.lead":       "Management has reviewed this report. Agreed actions are recorded as deviations or in the action plan.",
		"signoff.security":   "Security officer",
		"signoff.management": "Chief executive",
		"signoff.name":       "Name",
		"signoff.date":       "Date",
		"signoff.sign":       "Signature",
		"page":               "Page %d of %s",
		"mail.review":        "Management review of %d",
		"mail.audit":         "Yearly security audit %d",
		"mail.subject":       "Reminder: %s, due %s",
		"mail.body.review":   "Management's review of information security for %d (security strategy S11) is due by %s.\n\nMake the report with:\n  sonevakt-collector evidence report --data DIR --year %d --out review-%d.pdf\n",
		"mail.body.audit":    "The yearly security audit (security strategy S8) is due by %s.\n\nThe auditor takes a signed evidence bundle for the year from Revisjon in Sonevakt, or with:\n  sonevakt-collector evidence export --data DIR --from DATE --to DATE --out evidence.zip\n",
		"mail.link":          "\nSonevakt: %s\n",
		"mail.footer":        "\nThis reminder is sent once, 30 days before the due date.\n",
		"month.1":            "Jan", "month.2": "Feb", "month.3": "Mar", "month.4": "Apr", "month.5": "May", "month.6": "Jun",
		"month.7": "Jul", "month.8": "Aug", "month.9": "Sep", "month.10": "Oct", "month.11": "Nov", "month.12": "Dec",
		"sev.critical": "critical", "sev.high": "high", "sev.medium": "medium", "sev.low": "low",
		"status.ny": "new", "status.under behandling": "in progress", "status.lukket": "closed", "status.avvist": "rejected",
	},
}

// ReportLangs are the languages the report is written in, the default first.
var ReportLangs = []string{"nb", "en"}

// text is the report's words in one language.
type text string

func (l text) t(key string, args ...any) string {
	s, ok := reportText[string(l)][key]
	if !ok {
		s, ok = reportText["nb"][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// or translates key, falling back to def when the catalogue lacks it.
func (l text) or(key, def string) string {
	if s, ok := reportText[string(l)][key]; ok {
		return s
	}
	return def
}

// num writes an integer with the language's digit grouping: 12 345 in
// bokmål (a no-break space), 12,345 in English.
func (l text) num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := "\u00a0"
	if l == "en" {
		sep = ","
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// days writes a duration in days with one decimal.
func (l text) days(d time.Duration) string {
	s := strconv.FormatFloat(d.Hours()/24, 'f', 1, 64)
	if l != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return l.t("days", s)
}

// date writes a day in Europe/Oslo: 31.12.2026 in bokmål, 2026-12-31 in English.
func (l text) date(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	if l == "en" {
		return t.In(Oslo).Format(time.DateOnly)
	}
	return t.In(Oslo).Format("02.01.2006")
}
