package web

// The host page's view of the agent's resource guard (its newest health
// record): CPU and memory against the budgets of the agent's config, and the
// sensors it slows.
func init() {
	extendCatalogs(map[string]map[string]string{
		"nb": {
			"host.guard":           "Ressursvakt",
			"host.guard.cpu":       "CPU %s av én kjerne, budsjett %s",
			"host.guard.memory":    "Minne %s, budsjett %s",
			"host.guard.over":      "over budsjett",
			"host.guard.throttled": "%s bremset ×%d",
		},
		"en": {
			"host.guard":           "Resource guard",
			"host.guard.cpu":       "CPU %s of one core, budget %s",
			"host.guard.memory":    "Memory %s, budget %s",
			"host.guard.over":      "over budget",
			"host.guard.throttled": "%s slowed ×%d",
		},
	})
}
