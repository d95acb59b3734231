package evidence

// Control maps one item of the bundle to what it is evidence for: the
// strategy's ids and the outside frameworks' ids that ask the same, as the
// controls map (COMPLIANCE.md in the design) lists them. controls.csv is
// this table, with what the period holds counted per file.
type Control struct {
	File     string // the bundle file
	Item     string // what it shows, in English
	Strategy string // the strategy's ids (S…)
	GDPR     string // GDPR articles today
	NSM      string // NSM Grunnprinsipper for IKT-sikkerhet v2.0
	CIS      string // CIS Controls v8 safeguards
	ISO27001 string // ISO/IEC 27001:2022 Annex A controls and clauses
}

// Rows of the controls map, by strategy area.
var (
	ctlMap = Control{Strategy: "S1.3, S1.4", GDPR: "5(2), 24, 30, 32", NSM: "1.1.5, 1.1.6, 1.2.1-1.2.4, 2.4.1",
		CIS: "1.1-1.5, 2.1-2.5, 12.4", ISO27001: "5.9, 5.10, 8.1, 8.9, 8.19"}
	ctlDeviation = Control{Strategy: "S1.2, S9.1", GDPR: "33, 33(5), 34", NSM: "3.3.1",
		CIS: "17.3, 17.4, 17.9", ISO27001: "5.24-5.28, 6.8, 10.2"}
	ctlSupplier = Control{Strategy: "S2.2, S2.3", GDPR: "28, 29, 32(4)", NSM: "2.1.10, 2.5.7, 1.3.1",
		CIS: "15.1, 15.4, 6.1", ISO27001: "5.19-5.22, 6.6"}
	ctlZones = Control{Strategy: "S5.1-S5.3", GDPR: "25, 32", NSM: "2.2.3, 2.5.1-2.5.4, 3.2.4",
		CIS: "3.12, 12.2, 13.4, 13.6, 13.9", ISO27001: "8.16, 8.20-8.22"}
	ctlMedia = Control{Strategy: "S6.1", GDPR: "32(1)(a), 34(3)(a)", NSM: "1.2.1, 1.2.3b, 2.7.3",
		CIS: "3.9, 10.3, 10.4", ISO27001: "5.13, 7.10"}
	ctlAudit = Control{Strategy: "S8.1, S8.2", GDPR: "5(2), 32(1)(d)", NSM: "3.2.1, 3.2.6",
		CIS: "8.11", ISO27001: "5.35, 5.36 (clause 9.2)"}
	ctlOrg = Control{Strategy: "S10.1", GDPR: "24, 37-39", NSM: "1.1.2, 1.3.3",
		CIS: "17.1, 17.5", ISO27001: "5.2, 5.4"}
)

func ctl(base Control, file, item string) Control {
	base.File, base.Item = file, item
	return base
}

// Controls lists every content file of a bundle with its mapping, in the
// order controls.csv shows them.
var Controls = []Control{
	ctl(ctlMap, "assets.csv", "asset register: authorised equipment with owner unit, location, operator"),
	ctl(ctlMap, "software-catalog.csv", "software catalogue: approved and denied software"),
	ctl(ctlMap, "software-summary.csv", "installed software across hosts: versions and host counts"),
	ctl(ctlMap, "agents.csv", "enrolled agents: enrollment, revocation, last report"),
	ctl(ctlMap, "coverage.csv", "agent coverage: registered assets with and without a reporting agent"),
	ctl(ctlMap, "configmap.json", "configuration map at the period's end"),
	ctl(ctlMap, "configmap.csv", "configuration map at the period's end, one row per entry"),
	ctl(ctlMap, "configmap.svg", "configuration map at the period's end as a picture (zones and their entries)"),
	ctl(ctlMap, "configmap-changes.csv", "changes to the configuration map during the period"),
	ctl(ctlDeviation, "deviations.csv", "deviations handled in the period, with routing, SLA and status"),
	ctl(ctlDeviation, "deviation-timeline.csv", "timelines of the deviations: created, assigned, notified, closed"),
	ctl(ctlDeviation, "breaches.csv", "breach register: every personal-data breach, notified or not, against the 72-hour deadline"),
	ctl(ctlZones, "flows-zone-matrix.csv", "observed zone-to-zone flows against the firewall map"),
	ctl(ctlZones, "org-shared-solutions.csv", "shared-solution machines with their risk acceptance"),
	ctl(ctlMedia, "media-register.csv", "media register: the municipality's own removable media"),
	ctl(ctlMedia, "media-events.csv", "removable-media log of the period: host, user, device, encryption, marking"),
	ctl(ctlSupplier, "org-suppliers.csv", "supplier personnel, their accounts and confidentiality declarations"),
	ctl(ctlOrg, "org-units.csv", "organisational units and their line managers"),
	ctl(ctlOrg, "org-people.csv", "people, roles and units"),
	ctl(ctlAudit, AuditLogFile, "hash-chained audit log of every state change, the period's segment"),
	ctl(ctlAudit, CheckpointsFile, "signed checkpoints of the audit chain"),
	ctl(ctlAudit, "controls.csv", "this mapping of the bundle's items to the controls"),
}
