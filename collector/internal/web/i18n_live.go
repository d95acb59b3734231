package web

// The live updates' status texts (GET /events sends them to static/app.js;
// {time} stands for the clock time of the last refresh).
func init() {
	extendCatalogs(map[string]map[string]string{
		"nb": {
			"live.connected":   "Siden oppdateres automatisk.",
			"live.updated":     "Oppdatert kl. {time}.",
			"live.offline":     "Mistet forbindelsen – prøver igjen. Last inn siden på nytt for å se det siste.",
			"live.stopped":     "Automatisk oppdatering er stoppet fordi du er logget ut. Last inn siden på nytt.",
			"live.unavailable": "Automatisk oppdatering er ikke tilgjengelig nå. Last inn siden på nytt for å se det siste.",
		},
		"en": {
			"live.connected":   "This page updates by itself.",
			"live.updated":     "Updated at {time}.",
			"live.offline":     "Connection lost – retrying. Reload the page to see the latest.",
			"live.stopped":     "Live updates stopped because you are signed out. Reload the page.",
			"live.unavailable": "Live updates are not available right now. Reload the page to see the latest.",
		},
	})
}
