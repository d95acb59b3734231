package web

// The evidence export on the Revisjon page (issue 8).
func init() {
	extendCatalogs(map[string]map[string]string{
		"nb": {
			"evidence.export.title":        "Last ned en bevispakke",
			"evidence.export.hint":         "Hele dager, begge datoene tatt med. Eksporten føres i revisjonsloggen og signeres.",
			"evidence.export.from":         "Fra dato",
			"evidence.export.to":           "Til og med dato",
			"evidence.export.submit":       "Last ned bevispakke (zip)",
			"evidence.problem.missing":     "Feltet %s mangler: oppgi en dato (ÅÅÅÅ-MM-DD).",
			"evidence.problem.date":        "Feltet %s: «%s» er ikke en dato (ÅÅÅÅ-MM-DD).",
			"evidence.problem.period":      "Fra-datoen må være samme dag som eller før til-datoen.",
			"evidence.problem.unavailable": "Denne collectoren kan ikke eksportere bevispakker.",
			"overview.tasks":               "Årlige plikter",
			"overview.task.review":         "Ledelsens gjennomgang av %d (S11)",
			"overview.task.audit":          "Årlig sikkerhetsrevisjon %d (S8)",
			"overview.task.due":            "frist %s",
			"overview.task.left":           "om %d dager",
			"overview.task.today":          "frist i dag",
			"overview.task.overdue":        "%d dager over fristen",
		},
		"en": {
			"evidence.export.title":        "Download an evidence bundle",
			"evidence.export.hint":         "Whole days, both dates included. The export is recorded in the audit log and signed.",
			"evidence.export.from":         "From date",
			"evidence.export.to":           "To date, inclusive",
			"evidence.export.submit":       "Download evidence bundle (zip)",
			"evidence.problem.missing":     "Field %s is missing: give a date (YYYY-MM-DD).",
			"evidence.problem.date":        "Field %s: \"%s\" is not a date (YYYY-MM-DD).",
			"evidence.problem.period":      "The from date must be on or before the to date.",
			"evidence.problem.unavailable": "This collector cannot export evidence bundles.",
			"overview.tasks":               "Yearly duties",
			"overview.task.review":         "Management review of %d (S11)",
			"overview.task.audit":          "Yearly security audit %d (S8)",
			"overview.task.due":            "due %s",
			"overview.task.left":           "in %d days",
			"overview.task.today":          "due today",
			"overview.task.overdue":        "%d days overdue",
		},
	})
}
