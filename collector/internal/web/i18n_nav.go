package web

// The main navigation's sections.
func init() {
	extendCatalogs(map[string]map[string]string{
		"nb": {
			"nav.overview":  "Oversikt",
			"nav.traffic":   "Trafikk",
			"nav.registers": "Registre",
			"nav.audit":     "Revisjon",
			"nav.admin":     "Administrasjon",
			"nav.sub_label": "Sider i denne delen",
		},
		"en": {
			"nav.overview":  "Overview",
			"nav.traffic":   "Traffic",
			"nav.registers": "Registers",
			"nav.audit":     "Audit",
			"nav.admin":     "Administration",
			"nav.sub_label": "Pages in this section",
		},
	})
}
