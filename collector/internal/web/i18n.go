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
