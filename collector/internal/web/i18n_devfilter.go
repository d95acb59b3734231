package web

// The deviation list's severity filter.
func init() {
	extendCatalogs(map[string]map[string]string{
		"nb": {
			"dev.filter.severity":       "Alvorlighet",
			"dev.filter.all_severities": "Alle grader",
			"problem.severity_filter":   "Ukjent alvorlighetsgrad %q: velg kritisk, høy, middels eller lav.",
		},
		"en": {
			"dev.filter.severity":       "Severity",
			"dev.filter.all_severities": "All severities",
			"problem.severity_filter":   "Unknown severity %q: choose critical, high, medium or low.",
		},
	})
}
