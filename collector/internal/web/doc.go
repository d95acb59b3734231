// Package web owns the collector's HTTP face: the HTML pages for people, the
// JSON API under /api/v1 for programs, and what guards both — password and
// token authentication, sessions, CSRF, rate limits, role checks (one table
// of route -> roles, in routes.go), security headers and the bokmål/English
// message catalogue. It shows hosts and inventories, the removable-media log,
// the media register (with CSV import and export) and deviations, and lets
// the roles that may handle deviations move them along.
//
// It reads and writes only through the model store interfaces and the hooks
// in Config (the register's CSV form, the policy push); it holds no state of
// its own beyond in-memory rate-limit counters.
//
// It does not serve agents (that is ingest), does not sign or issue
// certificates (that is enroll), and decides nothing about findings or
// deviation lifecycles beyond checking requests (that is rules, deviation and
// the store).
package web
