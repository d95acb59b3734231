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

		"nav.software": "Programvare",

		"inv.title":         "Inventar",
		"inv.none":          "Ingen inventar mottatt ennå.",
		"inv.fetched_at":    "Innhentet %s",
		"inv.hash":          "innholdshash",
		"inv.warnings":      "Advarsler fra innsamlingen.",
		"inv.warnings_lead": "Agenten møtte disse problemene; resten av inventaret kom fram.",
		"inv.hardware":      "Maskinvare",
		"inv.no_hardware":   "Ingen maskinvaredata i inventaret.",
		"inv.disks":         "Disker og volumer",
		"inv.no_disks":      "Ingen disker rapportert.",
		"inv.usb":           "USB-enheter",
		"inv.no_usb":        "Ingen USB-enheter tilkoblet.",
		"inv.software":      "Programvare",
		"inv.services":      "Tjenester",
		"inv.no_services":   "Ingen tjenester rapportert.",
		"inv.users":         "Lokale brukere",
		"inv.no_users":      "Ingen lokale brukere rapportert.",
		"inv.groups":        "Lokale grupper",
		"inv.no_groups":     "Ingen lokale grupper rapportert.",
		"inv.sessions":      "Innloggede brukere",
		"inv.no_sessions":   "Ingen er logget inn.",
		"inv.history":       "Endringshistorikk",

		"hw.vendor":       "Produsent",
		"hw.model":        "Modell",
		"hw.serial":       "Serienummer",
		"hw.chassis":      "Kabinett",
		"hw.uuid":         "System-UUID",
		"hw.asset_tag":    "Inventarnummer",
		"hw.board_serial": "Hovedkortets serienummer",
		"hw.bios":         "BIOS",

		"disk.name":               "Disk eller partisjon",
		"disk.model":              "Modell og buss",
		"disk.size":               "Størrelse",
		"disk.fs":                 "Filsystem",
		"disk.mountpoint":         "Monteringspunkt",
		"disk.encryption":         "Kryptering",
		"disk.removable":          "flyttbar",
		"disk.no_partitions":      "Ingen partisjoner rapportert.",
		"disk.encrypted":          "Kryptert (%s)",
		"disk.encrypted_plain":    "Kryptert",
		"disk.not_encrypted":      "Ikke kryptert",
		"disk.encryption_unknown": "Ukjent om kryptert",

		"usb.id":      "VID:PID",
		"usb.vendor":  "Produsent",
		"usb.product": "Produkt",
		"usb.serial":  "Serienummer",
		"usb.class":   "Klasse",
		"usb.path":    "Plassering",

		"sw.filter":        "Filtrer på navn",
		"sw.filter_submit": "Filtrer",
		"sw.filter_clear":  "Vis alle",
		"sw.count":         "Viser %d av %d pakker.",
		"sw.name":          "Navn",
		"sw.version":       "Versjon",
		"sw.arch":          "Arkitektur",
		"sw.source":        "Kilde",
		"sw.publisher":     "Utgiver",
		"sw.scope":         "Installert for",
		"sw.scope_machine": "hele maskinen",
		"sw.installed":     "Installert",
		"sw.none":          "Ingen pakker rapportert.",
		"sw.no_match":      "Ingen pakker passer filteret.",

		"source.dpkg":    "Debian (dpkg)",
		"source.rpm":     "RPM",
		"source.windows": "Windows",

		"svc.name":       "Tjeneste",
		"svc.state":      "Tilstand",
		"svc.start_mode": "Oppstart",
		"svc.account":    "Kjører som",

		"user.name":      "Brukernavn",
		"user.id":        "ID",
		"user.full_name": "Fullt navn",
		"user.home":      "Hjemmekatalog",
		"user.shell":     "Skall",
		"user.flags":     "Egenskaper",
		"user.admin":     "Administrator",
		"user.system":    "Systemkonto",
		"user.disabled":  "Deaktivert",

		"group.name":       "Gruppe",
		"group.id":         "ID",
		"group.members":    "Medlemmer",
		"group.no_members": "Ingen medlemmer",

		"session.user":    "Bruker",
		"session.id":      "Økt",
		"session.kind":    "Type",
		"session.remote":  "Fra",
		"session.started": "Startet",

		"hist.when":    "Tidspunkt",
		"hist.section": "Område",
		"hist.op":      "Endring",
		"hist.item":    "Hva",
		"hist.details": "Detaljer",
		"hist.none":    "Ingen endringer registrert ennå.",
		"hist.first":   "Første fullstendige inventar mottatt (%s)",
		"hist.limited": "Viser de %d nyeste endringene.",

		"change.op.added":   "Lagt til",
		"change.op.removed": "Fjernet",
		"change.op.changed": "Endret",

		"change.section.inventory": "Inventar",
		"change.section.host":      "Vert",
		"change.section.hardware":  "Maskinvare",
		"change.section.disks":     "Disker",
		"change.section.usb":       "USB-enheter",
		"change.section.software":  "Programvare",
		"change.section.services":  "Tjenester",
		"change.section.users":     "Brukere",
		"change.section.groups":    "Grupper",

		"change.group.identity":   "Identitet",
		"change.group.os":         "Operativsystem",
		"change.group.cpu":        "Prosessor",
		"change.group.memory":     "Minne",
		"change.group.interfaces": "Nettverksgrensesnitt",
		"change.group.system":     "System",
		"change.group.bios":       "BIOS",

		"value.yes":   "ja",
		"value.no":    "nei",
		"value.empty": "(tom)",

		"field.name":             "Navn",
		"field.version":          "Versjon",
		"field.arch":             "Arkitektur",
		"field.source":           "Kilde",
		"field.publisher":        "Utgiver",
		"field.install_date":     "Installert",
		"field.scope":            "Installert for",
		"field.display":          "Visningsnavn",
		"field.state":            "Tilstand",
		"field.start_mode":       "Oppstart",
		"field.account":          "Kjører som",
		"field.id":               "ID",
		"field.full_name":        "Fullt navn",
		"field.home":             "Hjemmekatalog",
		"field.shell":            "Skall",
		"field.disabled":         "Deaktivert",
		"field.system":           "Systemkonto",
		"field.admin":            "Administrator",
		"field.members":          "Medlemmer",
		"field.model":            "Modell",
		"field.serial":           "Serienummer",
		"field.size_bytes":       "Størrelse (byte)",
		"field.bus":              "Buss",
		"field.removable":        "Flyttbar",
		"field.partitions":       "Partisjoner",
		"field.fs_type":          "Filsystem",
		"field.label":            "Etikett",
		"field.uuid":             "UUID",
		"field.mountpoint":       "Monteringspunkt",
		"field.encrypted":        "Kryptert",
		"field.encryption":       "Kryptering",
		"field.path":             "Plassering",
		"field.vid":              "Produsent-ID (VID)",
		"field.pid":              "Produkt-ID (PID)",
		"field.vendor":           "Produsent",
		"field.product":          "Produkt",
		"field.class":            "Klasse",
		"field.hostname":         "Vertsnavn",
		"field.domain":           "Domene",
		"field.os":               "Operativsystem",
		"field.platform":         "Plattform",
		"field.platform_version": "Plattformversjon",
		"field.kernel":           "Kjerne",
		"field.boot_time":        "Startet",
		"field.virtualization":   "Virtualisering",
		"field.machine_id":       "Maskin-ID",
		"field.cpu":              "Prosessor",
		"field.memory_bytes":     "Minne (byte)",
		"field.interfaces":       "Nettverksgrensesnitt",
		"field.cores":            "Kjerner",
		"field.threads":          "Tråder",
		"field.mac":              "MAC-adresse",
		"field.addrs":            "Adresser",
		"field.up":               "Oppe",
		"field.mtu":              "MTU",
		"field.chassis":          "Kabinett",
		"field.asset_tag":        "Inventarnummer",
		"field.bios_vendor":      "BIOS-produsent",
		"field.bios_version":     "BIOS-versjon",
		"field.board_serial":     "Hovedkortets serienummer",
		"field.disks":            "Disker",
		"field.usb":              "USB-enheter",

		"software.title":       "Programvare",
		"software.lead":        "Finn maskinene som har en bestemt programvare installert – eventuelt bare de som har en eldre versjon enn den du oppgir.",
		"software.name":        "Navn",
		"software.name_hint":   "En del av navnet, eller et mønster med * (for eksempel openssl*). Store og små bokstaver er likegyldige.",
		"software.below":       "Lavere enn versjon",
		"software.below_hint":  "Valgfritt. Versjoner sammenlignes etter pakkesystemets egne regler: Debian, RPM eller Windows.",
		"software.submit":      "Søk",
		"software.hits.one":    "%d treff",
		"software.hits.other":  "%d treff",
		"software.hosts.one":   "på %d vert",
		"software.hosts.other": "på %d verter",
		"software.none":        "Ingen maskiner har programvare som passer søket.",
		"software.limited":     "Viser de første %d treffene. Snevre inn søket for å se resten.",
		"software.caption":     "Programvare per vert",
		"software.host":        "Vert",

		"nav.deviations": "Avvik",
		"nav.media":      "Flyttbare medier",
		"nav.register":   "Medieregister",

		"error.too_large":        "Forespørselen er for stor.",
		"error.too_large.title":  "For stor forespørsel",
		"error.media_type":       "Innholdet har en type som ikke godtas her.",
		"error.media_type.title": "Feil innholdstype",

		"filter.submit": "Vis",
		"filter.clear":  "Nullstill",
		"pager.label":   "Sider",
		"pager.newest":  "← Nyeste hendelser",
		"pager.older":   "Eldre hendelser →",

		"media.title":                    "Flyttbare medier",
		"media.lead":                     "Alle hendelser med minnepenner, minnekort og optiske plater som agentene har rapportert, nyeste først – med agentens beslutning og om mediet var kryptert og merket.",
		"media.filter.host":              "Vert",
		"media.filter.all_hosts":         "Alle verter",
		"media.filter.key":               "Medium (VID:PID:serienummer)",
		"media.filter.key_hint":          "Hele nøkkelen, for eksempel 0951:1666:E0D55EA57486.",
		"media.empty":                    "Ingen mediehendelser er registrert.",
		"media.empty_hint":               "Hendelser dukker opp her når en agent ser et flyttbart medium bli satt inn, montert eller tatt ut.",
		"media.caption":                  "Mediehendelser, nyeste først",
		"media.col.time":                 "Tidspunkt",
		"media.col.host":                 "Vert",
		"media.col.action":               "Hendelse",
		"media.col.class":                "Type",
		"media.col.vidpid":               "VID:PID",
		"media.col.product":              "Produsent og produkt",
		"media.col.serial":               "Serienummer",
		"media.col.labels":               "Etiketter",
		"media.col.fs":                   "Filsystem",
		"media.col.encrypted":            "Kryptert",
		"media.col.marking":              "Merking",
		"media.col.decision":             "Beslutning",
		"media.col.mount":                "Montert på",
		"media.unmarked":                 "Ingen merking funnet",
		"media.mode":                     "Modus: %s",
		"media.enforced":                 "Håndhevet",
		"media.not_enforced":             "Ikke håndhevet",
		"media.mounted_by":               "av %s",
		"media.read_only":                "skrivebeskyttet",
		"media.action.present":           "Tilkoblet ved start",
		"media.action.add":               "Satt inn",
		"media.action.remove":            "Tatt ut",
		"media.action.mount":             "Montert",
		"media.action.unmount":           "Avmontert",
		"media.class.usb-storage":        "USB-lagring",
		"media.class.memory-card":        "Minnekort",
		"media.class.optical":            "Optisk plate",
		"media.class.loop":               "Loop-enhet",
		"media.encrypted.yes":            "Kryptert",
		"media.encrypted.no":             "Ikke kryptert",
		"media.encrypted.unknown":        "Ukjent",
		"media.marking.label":            "fra volumetiketten",
		"media.marking.file":             "fra merkefilen",
		"media.verdict.allow":            "Tillatt",
		"media.verdict.block":            "Blokkert",
		"media.rule.media.register":      "I medieregisteret",
		"media.rule.media.default.audit": "Standard: bare rapporter",
		"media.rule.media.default.block": "Standard: blokker det registeret ikke har",
		"media.rule.media.class.exempt":  "Typen håndheves ikke",
		"media.mode.audit":               "rapporter",
		"media.mode.block":               "blokker",

		"host.media":         "Flyttbare medier",
		"host.media_limited": "Viser de %d nyeste hendelsene.",
		"host.media_all":     "Alle mediehendelser for denne verten →",
		"host.no_media":      "Ingen mediehendelser fra denne verten.",

		"register.title":               "Medieregister",
		"register.count.one":           "%d medium",
		"register.count.other":         "%d medier",
		"register.lead":                "Kommunens egne flyttbare medier (S6.1): hvem som eier dem, hvordan de er merket og klassifisert. Agentene får registeret som tillatelsesliste.",
		"register.imported":            "Registeret er oppdatert.",
		"register.imported_counts":     "%d lagt til, %d endret, %d fjernet, %d uendret.",
		"register.skipped.one":         "%d linje med feil ble hoppet over:",
		"register.skipped.other":       "%d linjer med feil ble hoppet over:",
		"register.deleted":             "%s er fjernet fra registeret.",
		"register.sync_failed":         "Registeret er endret, men den nye tillatelseslisten kunne ikke sendes til agentene. Se loggen til innsamleren.",
		"register.caption":             "Registrerte medier",
		"register.col.vidpid":          "VID:PID",
		"register.col.serial":          "Serienummer",
		"register.col.marking":         "Merke-ID",
		"register.col.owner":           "Eier (enhet)",
		"register.col.classification":  "Klassifisering",
		"register.col.encryption":      "Kryptering påkrevd",
		"register.col.note":            "Merknad",
		"register.col.updated":         "Sist endret",
		"register.col.actions":         "Handlinger",
		"register.any_serial":          "alle serienumre",
		"register.encryption_required": "påkrevd",
		"register.delete":              "Fjern",
		"register.delete_label":        "Fjern %s fra registeret",
		"register.empty":               "Registeret er tomt.",
		"register.export":              "Last ned registeret som CSV",
		"register.upload":              "Last opp register (CSV)",
		"register.upload_lead":         "Filen kan være på høyst %d MiB. Første linje er kolonnenavnene, som i eksporten.",
		"register.problems_limited":    "Viser de første %d av %d problemene.",
		"register.file":                "CSV-fil",
		"register.file_hint":           "Kolonner: serial, vid, pid, marking_id, owner_unit, classification, encryption_required, note.",
		"register.mode":                "Hvordan filen brukes",
		"register.mode.merge":          "Slå sammen",
		"register.mode.replace":        "Erstatt",
		"register.mode.merge.hint":     "Medier i filen legges til eller oppdateres; de andre blir stående.",
		"register.mode.replace.hint":   "Registeret blir nøyaktig det filen inneholder; medier som ikke er med, fjernes.",
		"register.valid_only":          "Importer bare gyldige linjer",
		"register.valid_only_hint":     "Linjer med feil hoppes over og vises etterpå. Uten dette avvises hele filen hvis én linje har feil. Kan ikke brukes sammen med «Erstatt».",
		"register.submit":              "Last opp",
		"register.problems":            "Problemer i filen",
		"register.problem.line":        "Linje",
		"register.problem.message":     "Problem",
		"register.refused":             "Filen har %d problemer. Ingenting er importert; rett linjene under og prøv igjen.",

		"dev.title":            "Avvik",
		"dev.count.one":        "%d avvik",
		"dev.count.other":      "%d avvik",
		"dev.filter.status":    "Status",
		"dev.filter.rule":      "Regel",
		"dev.filter.sort":      "Sortering",
		"dev.filter.open":      "Åpne (ny og under behandling)",
		"dev.filter.all":       "Alle",
		"dev.filter.all_rules": "Alle regler",
		"dev.sort.newest":      "Nyeste først",
		"dev.sort.last_seen":   "Sist sett først",
		"dev.sort.due":         "Frist først",
		"dev.limited":          "Viser de %d nyeste avvikene. Snevre inn med filtrene for å se resten.",
		"dev.caption":          "Avvik med regel, vert, alvorlighet, status og frister",
		"dev.col.id":           "Avvik",
		"dev.col.rule":         "Regel",
		"dev.col.subject":      "Gjelder",
		"dev.col.host":         "Vert",
		"dev.col.severity":     "Alvorlighet",
		"dev.col.status":       "Status",
		"dev.col.count":        "Antall",
		"dev.col.last_seen":    "Sist sett",
		"dev.col.due":          "Frist",
		"dev.col.breach_due":   "Frist for bruddvurdering",
		"dev.empty":            "Ingen avvik passer filteret.",
		"dev.overdue":          "Forfalt",
		"dev.breach_overdue":   "72 timer passert",
		"dev.back":             "← Alle avvik",
		"dev.saved.status":     "Statusen er endret.",
		"dev.saved.comment":    "Kommentaren er lagt til.",
		"dev.facts":            "Fakta",
		"dev.refs":             "Strategikrav",
		"dev.assignees":        "Tildelt",
		"dev.created":          "Opprettet",
		"dev.updated":          "Sist endret",
		"dev.first_seen":       "Først sett",
		"dev.occurrences":      "Forekomster",
		"dev.personal_data":    "Kan gjelde personopplysninger",
		"dev.breach_t0":        "Kjent fra (T0)",
		"dev.observed":         "Hva regelen så",
		"dev.no_facts":         "Regelen registrerte ingen detaljer.",
		"dev.evidence":         "Bevis",
		"dev.evidence.seq":     "post %d",
		"dev.no_evidence":      "Ingen poster er knyttet til avviket.",
		"dev.timeline":         "Tidslinje",
		"dev.tl.when":          "Tidspunkt",
		"dev.tl.actor":         "Hvem",
		"dev.tl.type":          "Hva",
		"dev.tl.text":          "Detaljer",
		"dev.no_timeline":      "Tidslinjen er tom.",
		"dev.handle":           "Behandling",
		"dev.status_form":      "Endre status",
		"dev.new_status":       "Ny status",
		"dev.reason":           "Begrunnelse",
		"dev.reason_hint":      "Påkrevd når avviket lukkes eller avvises. Begrunnelsen lagres i tidslinjen og revisjonsloggen.",
		"dev.status_submit":    "Endre status",
		"dev.finished":         "Avviket er avsluttet; statusen kan ikke endres.",
		"dev.comment_form":     "Legg til kommentar",
		"dev.comment":          "Kommentar",
		"dev.comment_submit":   "Legg til kommentar",

		"status.new":      "ny",
		"status.handling": "under behandling",
		"status.closed":   "lukket",
		"status.rejected": "avvist",

		"severity.low":      "lav",
		"severity.medium":   "middels",
		"severity.high":     "høy",
		"severity.critical": "kritisk",

		"timeline.created":      "Opprettet",
		"timeline.occurrence":   "Ny forekomst",
		"timeline.comment":      "Kommentar",
		"timeline.assignment":   "Tildeling",
		"timeline.status":       "Status",
		"timeline.notification": "Varsel sendt",
		"timeline.seen_on":      "Sett også på %s",

		"rule.unregistered-host":   "Maskin som ikke står i registeret",
		"rule.unknown-device":      "Ukjent enhet på nettet",
		"rule.unknown-media":       "Flyttbart medium som ikke står i medieregisteret",
		"rule.unmarked-media":      "Umerket eller ukryptert flyttbart medium",
		"rule.unapproved-software": "Programvare som ikke er godkjent",
		"rule.cross-zone-flow":     "Trafikk mellom soner som brannmurkartet ikke tillater",
		"rule.shared-solution":     "Maskin i flere soner uten å være registrert som fellesløsning",
		"rule.agent-silent":        "Agenten har sluttet å rapportere",
		"rule.duplicate-identity":  "Klonet maskinidentitet",
		"rule.supplier-access":     "Leverandørkonto uten taushetserklæring",

		"evidence.kind.hello":      "oppkobling",
		"evidence.kind.inventory":  "inventar",
		"evidence.kind.media":      "mediehendelse",
		"evidence.kind.flows":      "trafikkflyt",
		"evidence.kind.neighbours": "naboenheter",
		"evidence.kind.sockets":    "tilkoblinger",
		"evidence.kind.health":     "agentstatus",

		"problem.json":               "Innholdet er ikke gyldig JSON for denne forespørselen: %s",
		"problem.json_trailing":      "Innholdet har data etter JSON-objektet.",
		"problem.too_large":          "Innholdet er større enn grensen på %d byte.",
		"problem.content_type":       "Content-Type må være %s.",
		"problem.param":              "Parameteren %s er lengre enn %d byte eller er ikke gyldig UTF-8.",
		"problem.limit":              "limit må være et heltall fra 1 til %d.",
		"problem.bool":               "%s må være true eller false.",
		"problem.before":             "before må være ID-en til en hendelse (et positivt heltall).",
		"problem.sort":               "Ukjent sortering.",
		"problem.text_utf8":          "Teksten er ikke gyldig UTF-8.",
		"problem.text_too_long":      "Teksten er for lang (høyst %d tegn).",
		"problem.mode":               "mode må være merge eller replace.",
		"problem.replace_valid_only": "«Erstatt» (mode=replace) kan ikke kombineres med «bare gyldige linjer» (valid_only): mediene på linjene som hoppes over, ville blitt fjernet fra registeret.",
		"problem.csv_unreadable":     "CSV-filen kunne ikke leses: %s",
		"problem.no_file":            "Velg en CSV-fil å laste opp.",
		"problem.key_required":       "Oppgi hvilket medium som skal fjernes.",
		"problem.status_filter":      "Ukjent status %q. Bruk open, all, ny, under behandling, lukket eller avvist.",
		"problem.status_unknown":     "Ukjent status %q. Gyldige verdier er ny, under behandling, lukket og avvist.",
		"problem.status_step":        "Et avvik med status %q kan ikke få status %q. Stegene er ny → under behandling → lukket, og ny eller under behandling → avvist.",
		"problem.reason_required":    "Skriv en begrunnelse når avviket lukkes eller avvises.",
		"problem.status_changed":     "Noen andre endret avviket samtidig. Last siden på nytt og prøv igjen.",
		"problem.comment_required":   "Kommentaren er tom.",
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

		"nav.software": "Software",

		"inv.title":         "Inventory",
		"inv.none":          "No inventory received yet.",
		"inv.fetched_at":    "Collected %s",
		"inv.hash":          "content hash",
		"inv.warnings":      "Collection warnings.",
		"inv.warnings_lead": "The agent met these problems; the rest of the inventory arrived.",
		"inv.hardware":      "Hardware",
		"inv.no_hardware":   "No hardware data in the inventory.",
		"inv.disks":         "Disks and volumes",
		"inv.no_disks":      "No disks reported.",
		"inv.usb":           "USB devices",
		"inv.no_usb":        "No USB devices attached.",
		"inv.software":      "Software",
		"inv.services":      "Services",
		"inv.no_services":   "No services reported.",
		"inv.users":         "Local users",
		"inv.no_users":      "No local users reported.",
		"inv.groups":        "Local groups",
		"inv.no_groups":     "No local groups reported.",
		"inv.sessions":      "Logged-on users",
		"inv.no_sessions":   "No one is logged on.",
		"inv.history":       "Change history",

		"hw.vendor":       "Vendor",
		"hw.model":        "Model",
		"hw.serial":       "Serial number",
		"hw.chassis":      "Chassis",
		"hw.uuid":         "System UUID",
		"hw.asset_tag":    "Asset tag",
		"hw.board_serial": "Board serial number",
		"hw.bios":         "BIOS",

		"disk.name":               "Disk or partition",
		"disk.model":              "Model and bus",
		"disk.size":               "Size",
		"disk.fs":                 "File system",
		"disk.mountpoint":         "Mount point",
		"disk.encryption":         "Encryption",
		"disk.removable":          "removable",
		"disk.no_partitions":      "No partitions reported.",
		"disk.encrypted":          "Encrypted (%s)",
		"disk.encrypted_plain":    "Encrypted",
		"disk.not_encrypted":      "Not encrypted",
		"disk.encryption_unknown": "Encryption unknown",

		"usb.id":      "VID:PID",
		"usb.vendor":  "Vendor",
		"usb.product": "Product",
		"usb.serial":  "Serial number",
		"usb.class":   "Class",
		"usb.path":    "Location",

		"sw.filter":        "Filter by name",
		"sw.filter_submit": "Filter",
		"sw.filter_clear":  "Show all",
		"sw.count":         "Showing %d of %d packages.",
		"sw.name":          "Name",
		"sw.version":       "Version",
		"sw.arch":          "Architecture",
		"sw.source":        "Source",
		"sw.publisher":     "Publisher",
		"sw.scope":         "Installed for",
		"sw.scope_machine": "the whole machine",
		"sw.installed":     "Installed",
		"sw.none":          "No packages reported.",
		"sw.no_match":      "No packages match the filter.",

		"source.dpkg":    "Debian (dpkg)",
		"source.rpm":     "RPM",
		"source.windows": "Windows",

		"svc.name":       "Service",
		"svc.state":      "State",
		"svc.start_mode": "Start mode",
		"svc.account":    "Runs as",

		"user.name":      "User name",
		"user.id":        "ID",
		"user.full_name": "Full name",
		"user.home":      "Home directory",
		"user.shell":     "Shell",
		"user.flags":     "Properties",
		"user.admin":     "Administrator",
		"user.system":    "System account",
		"user.disabled":  "Disabled",

		"group.name":       "Group",
		"group.id":         "ID",
		"group.members":    "Members",
		"group.no_members": "No members",

		"session.user":    "User",
		"session.id":      "Session",
		"session.kind":    "Kind",
		"session.remote":  "From",
		"session.started": "Started",

		"hist.when":    "When",
		"hist.section": "Area",
		"hist.op":      "Change",
		"hist.item":    "What",
		"hist.details": "Details",
		"hist.none":    "No changes recorded yet.",
		"hist.first":   "First full inventory received (%s)",
		"hist.limited": "Showing the %d newest changes.",

		"change.op.added":   "Added",
		"change.op.removed": "Removed",
		"change.op.changed": "Changed",

		"change.section.inventory": "Inventory",
		"change.section.host":      "Host",
		"change.section.hardware":  "Hardware",
		"change.section.disks":     "Disks",
		"change.section.usb":       "USB devices",
		"change.section.software":  "Software",
		"change.section.services":  "Services",
		"change.section.users":     "Users",
		"change.section.groups":    "Groups",

		"change.group.identity":   "Identity",
		"change.group.os":         "Operating system",
		"change.group.cpu":        "Processor",
		"change.group.memory":     "Memory",
		"change.group.interfaces": "Network interfaces",
		"change.group.system":     "System",
		"change.group.bios":       "BIOS",

		"value.yes":   "yes",
		"value.no":    "no",
		"value.empty": "(empty)",

		"field.name":             "Name",
		"field.version":          "Version",
		"field.arch":             "Architecture",
		"field.source":           "Source",
		"field.publisher":        "Publisher",
		"field.install_date":     "Installed",
		"field.scope":            "Installed for",
		"field.display":          "Display name",
		"field.state":            "State",
		"field.start_mode":       "Start mode",
		"field.account":          "Runs as",
		"field.id":               "ID",
		"field.full_name":        "Full name",
		"field.home":             "Home directory",
		"field.shell":            "Shell",
		"field.disabled":         "Disabled",
		"field.system":           "System account",
		"field.admin":            "Administrator",
		"field.members":          "Members",
		"field.model":            "Model",
		"field.serial":           "Serial number",
		"field.size_bytes":       "Size (bytes)",
		"field.bus":              "Bus",
		"field.removable":        "Removable",
		"field.partitions":       "Partitions",
		"field.fs_type":          "File system",
		"field.label":            "Label",
		"field.uuid":             "UUID",
		"field.mountpoint":       "Mount point",
		"field.encrypted":        "Encrypted",
		"field.encryption":       "Encryption",
		"field.path":             "Location",
		"field.vid":              "Vendor ID (VID)",
		"field.pid":              "Product ID (PID)",
		"field.vendor":           "Vendor",
		"field.product":          "Product",
		"field.class":            "Class",
		"field.hostname":         "Host name",
		"field.domain":           "Domain",
		"field.os":               "Operating system",
		"field.platform":         "Platform",
		"field.platform_version": "Platform version",
		"field.kernel":           "Kernel",
		"field.boot_time":        "Booted",
		"field.virtualization":   "Virtualisation",
		"field.machine_id":       "Machine ID",
		"field.cpu":              "Processor",
		"field.memory_bytes":     "Memory (bytes)",
		"field.interfaces":       "Network interfaces",
		"field.cores":            "Cores",
		"field.threads":          "Threads",
		"field.mac":              "MAC address",
		"field.addrs":            "Addresses",
		"field.up":               "Up",
		"field.mtu":              "MTU",
		"field.chassis":          "Chassis",
		"field.asset_tag":        "Asset tag",
		"field.bios_vendor":      "BIOS vendor",
		"field.bios_version":     "BIOS version",
		"field.board_serial":     "Board serial number",
		"field.disks":            "Disks",
		"field.usb":              "USB devices",

		"software.title":       "Software",
		"software.lead":        "Find the machines that have a given piece of software installed – optionally only those with a version older than the one you give.",
		"software.name":        "Name",
		"software.name_hint":   "Part of the name, or a pattern with * (for example openssl*). Case does not matter.",
		"software.below":       "Below version",
		"software.below_hint":  "Optional. Versions compare by the packaging system's own rules: Debian, RPM or Windows.",
		"software.submit":      "Search",
		"software.hits.one":    "%d hit",
		"software.hits.other":  "%d hits",
		"software.hosts.one":   "on %d host",
		"software.hosts.other": "on %d hosts",
		"software.none":        "No machine has software that matches the search.",
		"software.limited":     "Showing the first %d hits. Narrow the search to see the rest.",
		"software.caption":     "Software by host",
		"software.host":        "Host",

		"nav.deviations": "Deviations",
		"nav.media":      "Removable media",
		"nav.register":   "Media register",

		"error.too_large":        "The request is too large.",
		"error.too_large.title":  "Request too large",
		"error.media_type":       "The body has a content type that is not accepted here.",
		"error.media_type.title": "Wrong content type",

		"filter.submit": "Show",
		"filter.clear":  "Reset",
		"pager.label":   "Pages",
		"pager.newest":  "← Newest events",
		"pager.older":   "Older events →",

		"media.title":                    "Removable media",
		"media.lead":                     "Every event with USB sticks, memory cards and optical discs the agents reported, newest first – with the agent's decision and whether the medium was encrypted and marked.",
		"media.filter.host":              "Host",
		"media.filter.all_hosts":         "All hosts",
		"media.filter.key":               "Medium (VID:PID:serial)",
		"media.filter.key_hint":          "The whole key, for example 0951:1666:E0D55EA57486.",
		"media.empty":                    "No media events recorded.",
		"media.empty_hint":               "Events appear here when an agent sees a removable medium inserted, mounted or removed.",
		"media.caption":                  "Media events, newest first",
		"media.col.time":                 "When",
		"media.col.host":                 "Host",
		"media.col.action":               "Event",
		"media.col.class":                "Kind",
		"media.col.vidpid":               "VID:PID",
		"media.col.product":              "Vendor and product",
		"media.col.serial":               "Serial number",
		"media.col.labels":               "Labels",
		"media.col.fs":                   "File system",
		"media.col.encrypted":            "Encrypted",
		"media.col.marking":              "Marking",
		"media.col.decision":             "Decision",
		"media.col.mount":                "Mounted at",
		"media.unmarked":                 "No marking found",
		"media.mode":                     "Mode: %s",
		"media.enforced":                 "Enforced",
		"media.not_enforced":             "Not enforced",
		"media.mounted_by":               "by %s",
		"media.read_only":                "read-only",
		"media.action.present":           "Attached at start",
		"media.action.add":               "Inserted",
		"media.action.remove":            "Removed",
		"media.action.mount":             "Mounted",
		"media.action.unmount":           "Unmounted",
		"media.class.usb-storage":        "USB storage",
		"media.class.memory-card":        "Memory card",
		"media.class.optical":            "Optical disc",
		"media.class.loop":               "Loop device",
		"media.encrypted.yes":            "Encrypted",
		"media.encrypted.no":             "Not encrypted",
		"media.encrypted.unknown":        "Unknown",
		"media.marking.label":            "from the volume label",
		"media.marking.file":             "from the marker file",
		"media.verdict.allow":            "Allowed",
		"media.verdict.block":            "Blocked",
		"media.rule.media.register":      "In the media register",
		"media.rule.media.default.audit": "Default: report only",
		"media.rule.media.default.block": "Default: block what the register lacks",
		"media.rule.media.class.exempt":  "Kind not enforced",
		"media.mode.audit":               "report",
		"media.mode.block":               "block",

		"host.media":         "Removable media",
		"host.media_limited": "Showing the %d newest events.",
		"host.media_all":     "All media events of this host →",
		"host.no_media":      "No media events from this host.",

		"register.title":               "Media register",
		"register.count.one":           "%d medium",
		"register.count.other":         "%d media",
		"register.lead":                "The municipality's own removable media (S6.1): who owns them, how they are marked and classified. Agents get the register as their allow-list.",
		"register.imported":            "The register is updated.",
		"register.imported_counts":     "%d added, %d updated, %d removed, %d unchanged.",
		"register.skipped.one":         "%d line with problems was skipped:",
		"register.skipped.other":       "%d lines with problems were skipped:",
		"register.deleted":             "%s is removed from the register.",
		"register.sync_failed":         "The register changed, but the new allow-list could not be sent to the agents. See the collector's log.",
		"register.caption":             "Registered media",
		"register.col.vidpid":          "VID:PID",
		"register.col.serial":          "Serial number",
		"register.col.marking":         "Marking ID",
		"register.col.owner":           "Owner (unit)",
		"register.col.classification":  "Classification",
		"register.col.encryption":      "Encryption required",
		"register.col.note":            "Note",
		"register.col.updated":         "Last changed",
		"register.col.actions":         "Actions",
		"register.any_serial":          "any serial",
		"register.encryption_required": "required",
		"register.delete":              "Remove",
		"register.delete_label":        "Remove %s from the register",
		"register.empty":               "The register is empty.",
		"register.export":              "Download the register as CSV",
		"register.upload":              "Upload a register (CSV)",
		"register.upload_lead":         "The file may be at most %d MiB. The first line holds the column names, as in the export.",
		"register.problems_limited":    "Showing the first %d of %d problems.",
		"register.file":                "CSV file",
		"register.file_hint":           "Columns: serial, vid, pid, marking_id, owner_unit, classification, encryption_required, note.",
		"register.mode":                "How the file is used",
		"register.mode.merge":          "Merge",
		"register.mode.replace":        "Replace",
		"register.mode.merge.hint":     "Media in the file are added or updated; the others stay.",
		"register.mode.replace.hint":   "The register becomes exactly what the file holds; media not in it are removed.",
		"register.valid_only":          "Import valid lines only",
		"register.valid_only_hint":     "Lines with problems are skipped and listed afterwards. Without this, one bad line refuses the whole file. Cannot be combined with “Replace”.",
		"register.submit":              "Upload",
		"register.problems":            "Problems in the file",
		"register.problem.line":        "Line",
		"register.problem.message":     "Problem",
		"register.refused":             "The file has %d problems. Nothing was imported; fix the lines below and try again.",

		"dev.title":            "Deviations",
		"dev.count.one":        "%d deviation",
		"dev.count.other":      "%d deviations",
		"dev.filter.status":    "Status",
		"dev.filter.rule":      "Rule",
		"dev.filter.sort":      "Order",
		"dev.filter.open":      "Open (new and in progress)",
		"dev.filter.all":       "All",
		"dev.filter.all_rules": "All rules",
		"dev.sort.newest":      "Newest first",
		"dev.sort.last_seen":   "Last seen first",
		"dev.sort.due":         "Due first",
		"dev.limited":          "Showing the %d newest deviations. Narrow the filters to see the rest.",
		"dev.caption":          "Deviations with rule, host, severity, status and deadlines",
		"dev.col.id":           "Deviation",
		"dev.col.rule":         "Rule",
		"dev.col.subject":      "Subject",
		"dev.col.host":         "Host",
		"dev.col.severity":     "Severity",
		"dev.col.status":       "Status",
		"dev.col.count":        "Count",
		"dev.col.last_seen":    "Last seen",
		"dev.col.due":          "Due",
		"dev.col.breach_due":   "Breach assessment due",
		"dev.empty":            "No deviations match the filter.",
		"dev.overdue":          "Overdue",
		"dev.breach_overdue":   "72 hours passed",
		"dev.back":             "← All deviations",
		"dev.saved.status":     "The status is changed.",
		"dev.saved.comment":    "The comment is added.",
		"dev.facts":            "Facts",
		"dev.refs":             "Strategy requirements",
		"dev.assignees":        "Assigned to",
		"dev.created":          "Opened",
		"dev.updated":          "Last changed",
		"dev.first_seen":       "First seen",
		"dev.occurrences":      "Occurrences",
		"dev.personal_data":    "May involve personal data",
		"dev.breach_t0":        "Known since (T0)",
		"dev.observed":         "What the rule saw",
		"dev.no_facts":         "The rule recorded no details.",
		"dev.evidence":         "Evidence",
		"dev.evidence.seq":     "record %d",
		"dev.no_evidence":      "No records are linked to the deviation.",
		"dev.timeline":         "Timeline",
		"dev.tl.when":          "When",
		"dev.tl.actor":         "Who",
		"dev.tl.type":          "What",
		"dev.tl.text":          "Details",
		"dev.no_timeline":      "The timeline is empty.",
		"dev.handle":           "Handling",
		"dev.status_form":      "Change status",
		"dev.new_status":       "New status",
		"dev.reason":           "Reason",
		"dev.reason_hint":      "Required when the deviation is closed or rejected. The reason is kept in the timeline and the audit log.",
		"dev.status_submit":    "Change status",
		"dev.finished":         "The deviation is finished; its status cannot change.",
		"dev.comment_form":     "Add a comment",
		"dev.comment":          "Comment",
		"dev.comment_submit":   "Add comment",

		"status.new":      "new",
		"status.handling": "in progress",
		"status.closed":   "closed",
		"status.rejected": "rejected",

		"severity.low":      "low",
		"severity.medium":   "medium",
		"severity.high":     "high",
		"severity.critical": "critical",

		"timeline.created":      "Opened",
		"timeline.occurrence":   "New occurrence",
		"timeline.comment":      "Comment",
		"timeline.assignment":   "Assignment",
		"timeline.status":       "Status",
		"timeline.notification": "Notification sent",
		"timeline.seen_on":      "Also seen on %s",

		"rule.unregistered-host":   "Machine not in the asset register",
		"rule.unknown-device":      "Unknown device on the network",
		"rule.unknown-media":       "Removable medium not in the media register",
		"rule.unmarked-media":      "Unmarked or unencrypted removable medium",
		"rule.unapproved-software": "Software that is not approved",
		"rule.cross-zone-flow":     "Traffic between zones the firewall map does not allow",
		"rule.shared-solution":     "Machine in several zones without being registered as a shared solution",
		"rule.agent-silent":        "The agent stopped reporting",
		"rule.duplicate-identity":  "Cloned machine identity",
		"rule.supplier-access":     "Supplier account without a confidentiality declaration",

		"evidence.kind.hello":      "connection",
		"evidence.kind.inventory":  "inventory",
		"evidence.kind.media":      "media event",
		"evidence.kind.flows":      "traffic flows",
		"evidence.kind.neighbours": "neighbouring devices",
		"evidence.kind.sockets":    "connections",
		"evidence.kind.health":     "agent health",

		"problem.json":               "The body is not valid JSON for this request: %s",
		"problem.json_trailing":      "The body has data after the JSON object.",
		"problem.too_large":          "The body is larger than the limit of %d bytes.",
		"problem.content_type":       "Content-Type must be %s.",
		"problem.param":              "Parameter %s is longer than %d bytes or not valid UTF-8.",
		"problem.limit":              "limit must be a whole number from 1 to %d.",
		"problem.bool":               "%s must be true or false.",
		"problem.before":             "before must be the id of an event (a positive whole number).",
		"problem.sort":               "Unknown order.",
		"problem.text_utf8":          "The text is not valid UTF-8.",
		"problem.text_too_long":      "The text is too long (at most %d characters).",
		"problem.mode":               "mode must be merge or replace.",
		"problem.replace_valid_only": "“Replace” (mode=replace) cannot be combined with “valid lines only” (valid_only): the media on the skipped lines would be removed from the register.",
		"problem.csv_unreadable":     "The CSV file could not be read: %s",
		"problem.no_file":            "Choose a CSV file to upload.",
		"problem.key_required":       "Say which medium to remove.",
		"problem.status_filter":      "Unknown status %q. Use open, all, ny, under behandling, lukket or avvist.",
		"problem.status_unknown":     "Unknown status %q. Valid values are ny, under behandling, lukket and avvist.",
		"problem.status_step":        "A deviation with status %q cannot move to %q. The steps are ny → under behandling → lukket, and ny or under behandling → avvist.",
		"problem.reason_required":    "Give a reason when closing or rejecting a deviation.",
		"problem.status_changed":     "Someone else changed the deviation meanwhile. Reload the page and try again.",
		"problem.comment_required":   "The comment is empty.",
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

// translateOr returns the message for key in lang, or fallback when the
// catalogue has none: for names that come with the data (a rule or a class
// the catalogue does not know yet), which are shown as they are.
func translateOr(lang, key, fallback string) string {
	if m, ok := catalogs[lang][key]; ok {
		return m
	}
	return fallback
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
