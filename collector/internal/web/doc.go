// Package web owns the collector's HTTP face: the HTML pages for people, the
// JSON API under /api/v1 for programs, and what guards both — password and
// token authentication, sessions, CSRF, rate limits, role checks, security
// headers and the bokmål/English message catalogue. It reads and writes only
// through the model store interfaces; it holds no state of its own beyond
// in-memory rate-limit counters.
//
// It does not serve agents (that is ingest) and does not sign or issue
// certificates (that is enroll).
package web
