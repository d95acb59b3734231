package web

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Who may do what. Every route that needs a login names one of these in
// routeTable, which is the only place role checks are decided.
var (
	// everyone may read hosts, inventories, software, the media log, the
	// media register, the asset register, zones, traffic and neighbours.
	everyone = model.Roles
	// registerEditors keep the registers.
	registerEditors = []model.Role{model.RoleAdmin, model.RoleDrift}
	// deviationReaders see deviations; the auditor reads without acting.
	deviationReaders = []model.Role{model.RoleAdmin, model.RoleSikkerhet, model.RoleLeder, model.RoleRevisor}
	// deviationHandlers move deviations along and comment on them. Which
	// deviations a line manager may see and handle is narrowed in
	// visibleDeviation.
	deviationHandlers = []model.Role{model.RoleAdmin, model.RoleSikkerhet, model.RoleLeder}
	// breachDeciders decide breach assessments and approve and revoke
	// exceptions (exceptions.go, breach.go).
	breachDeciders = []model.Role{model.RoleAdmin, model.RoleSikkerhet}
	// auditReaders read the audit log and take evidence out (Revisjon).
	auditReaders = []model.Role{model.RoleAdmin, model.RoleSikkerhet, model.RoleRevisor}
	// admins manage users, tokens and agents.
	admins = []model.Role{model.RoleAdmin}
)

// routeKind says how a route authenticates.
type routeKind int

const (
	// pageRoute needs a browser session; unsafe methods must carry the
	// session's CSRF token in the form (or the X-CSRF-Token header).
	pageRoute routeKind = iota
	// apiRoute takes a bearer token or a session; with a session, unsafe
	// methods must carry the CSRF token in X-CSRF-Token.
	apiRoute
)

// route is one authenticated route: its method and path pattern, how it
// authenticates, which roles may use it, and the most body bytes an unsafe
// method may send.
type route struct {
	pattern string
	kind    routeKind
	roles   []model.Role
	maxBody int64 // 0: maxFormBytes
	handler http.HandlerFunc
}

// routeTable lists every route that needs a login.
func (s *Server) routeTable() []route {
	return []route{
		{"GET /{$}", pageRoute, everyone, 0, s.handleOverview},
		{"GET /api/v1/overview", apiRoute, everyone, 0, s.handleAPIOverview},
		{"GET /events", pageRoute, everyone, 0, s.handleEvents},
		{"GET /configmap.svg", pageRoute, everyone, 0, s.handleConfigMapSVG},
		{"GET /configmap.dot", pageRoute, everyone, 0, s.handleConfigMapDOT},
		{"GET /admin", pageRoute, admins, 0, s.handleAdminPage},
		{"POST /admin/users", pageRoute, admins, 0, s.handleAdminUserCreate},
		{"POST /admin/users/{name}", pageRoute, admins, 0, s.handleAdminUserUpdate},
		{"POST /admin/users/{name}/password", pageRoute, admins, 0, s.handleAdminUserPassword},
		{"POST /admin/tokens", pageRoute, admins, 0, s.handleAdminTokenCreate},
		{"POST /admin/tokens/{id}/revoke", pageRoute, admins, 0, s.handleAdminTokenRevoke},
		{"POST /admin/enroll-tokens", pageRoute, admins, 0, s.handleAdminEnrollCreate},
		{"POST /admin/enroll-tokens/{id}/revoke", pageRoute, admins, 0, s.handleAdminEnrollRevoke},
		{"POST /admin/agents/{id}/revoke", pageRoute, admins, 0, s.handleAdminAgentRevoke},
		{"GET /audit", pageRoute, auditReaders, 0, s.handleAuditPage},
		{"GET /api/v1/audit", apiRoute, auditReaders, 0, s.handleAPIAudit},
		{"POST /audit/export", pageRoute, auditReaders, 0, s.handleAuditExport},
		{"POST /deviations/{id}/assign", pageRoute, deviationHandlers, 0, s.handleDeviationAssignForm},
		{"POST /api/v1/deviations/{id}/assign", apiRoute, deviationHandlers, maxJSONBytes, s.handleAPIDeviationAssign},
		{"GET /hosts", pageRoute, everyone, 0, s.handleHosts},
		{"GET /hosts/{id}", pageRoute, everyone, 0, s.handleHost},
		{"GET /software", pageRoute, everyone, 0, s.handleSoftware},
		{"GET /media", pageRoute, everyone, 0, s.handleMediaPage},
		{"GET /media/register", pageRoute, everyone, 0, s.handleRegisterPage},
		{"POST /media/register", pageRoute, registerEditors, maxUploadBytes, s.handleRegisterUpload},
		{"POST /media/register/delete", pageRoute, registerEditors, 0, s.handleRegisterDeleteForm},
		{"GET /assets", pageRoute, everyone, 0, s.handleAssetsPage},
		{"POST /assets", pageRoute, registerEditors, maxUploadBytes, s.handleAssetsUpload},
		{"GET /org", pageRoute, everyone, 0, s.handleOrgPage},
		{"POST /org", pageRoute, registerEditors, maxUploadBytes, s.handleOrgUpload},
		{"GET /software/catalog", pageRoute, everyone, 0, s.handleSoftwareCatalogPage},
		{"POST /software/catalog", pageRoute, registerEditors, maxUploadBytes, s.handleSoftwareCatalogUpload},
		{"GET /zones", pageRoute, everyone, 0, s.handleZonesPage},
		{"GET /flows", pageRoute, everyone, 0, s.handleFlowsPage},
		{"GET /neighbours", pageRoute, everyone, 0, s.handleNeighboursPage},
		{"GET /deviations", pageRoute, deviationReaders, 0, s.handleDeviationsPage},
		{"GET /deviations/{id}", pageRoute, deviationReaders, 0, s.handleDeviationPage},
		{"POST /deviations/{id}/status", pageRoute, deviationHandlers, 0, s.handleDeviationStatusForm},
		{"POST /deviations/{id}/comments", pageRoute, deviationHandlers, 0, s.handleDeviationCommentForm},
		{"POST /deviations/{id}/exception", pageRoute, breachDeciders, 0, s.handleDeviationExceptionForm},
		{"POST /deviations/{id}/breach", pageRoute, breachDeciders, 0, s.handleDeviationBreachForm},

		{"GET /api/v1/hosts", apiRoute, everyone, 0, s.handleAPIHosts},
		{"GET /api/v1/hosts/{id}", apiRoute, everyone, 0, s.handleAPIHost},
		{"GET /api/v1/hosts/{id}/inventory", apiRoute, everyone, 0, s.handleAPIInventory},
		{"GET /api/v1/hosts/{id}/inventory/history", apiRoute, everyone, 0, s.handleAPIInventoryHistory},
		{"GET /api/v1/hosts/{id}/media", apiRoute, everyone, 0, s.handleAPIHostMedia},
		{"GET /api/v1/software", apiRoute, everyone, 0, s.handleAPISoftware},
		{"GET /api/v1/media", apiRoute, everyone, 0, s.handleAPIMedia},
		{"GET /api/v1/media/register", apiRoute, everyone, 0, s.handleAPIRegister},
		{"GET /api/v1/media/register.csv", apiRoute, everyone, 0, s.handleAPIRegisterCSV},
		{"POST /api/v1/media/register", apiRoute, registerEditors, maxCSVBytes, s.handleAPIRegisterImport},
		{"DELETE /api/v1/media/register/{key}", apiRoute, registerEditors, 0, s.handleAPIRegisterDelete},
		{"GET /api/v1/assets", apiRoute, everyone, 0, s.handleAPIAssets},
		{"GET /api/v1/assets.csv", apiRoute, everyone, 0, s.handleAPIAssetsCSV},
		{"POST /api/v1/assets", apiRoute, registerEditors, maxCSVBytes, s.handleAPIAssetsImport},
		{"DELETE /api/v1/assets/{tag}", apiRoute, registerEditors, 0, s.handleAPIAssetDelete},
		{"GET /api/v1/org/units", apiRoute, everyone, 0, s.handleAPIOrgList(model.OrgUnits)},
		{"GET /api/v1/org/units.csv", apiRoute, everyone, 0, s.handleAPIOrgCSV(model.OrgUnits)},
		{"POST /api/v1/org/units", apiRoute, registerEditors, maxCSVBytes, s.handleAPIOrgImport(model.OrgUnits)},
		{"GET /api/v1/org/people", apiRoute, everyone, 0, s.handleAPIOrgList(model.OrgPeople)},
		{"GET /api/v1/org/people.csv", apiRoute, everyone, 0, s.handleAPIOrgCSV(model.OrgPeople)},
		{"POST /api/v1/org/people", apiRoute, registerEditors, maxCSVBytes, s.handleAPIOrgImport(model.OrgPeople)},
		{"GET /api/v1/org/suppliers", apiRoute, orgReaders, 0, s.handleAPIOrgList(model.OrgSuppliers)},
		{"GET /api/v1/org/suppliers.csv", apiRoute, orgReaders, 0, s.handleAPIOrgCSV(model.OrgSuppliers)},
		{"POST /api/v1/org/suppliers", apiRoute, registerEditors, maxCSVBytes, s.handleAPIOrgImport(model.OrgSuppliers)},
		{"GET /api/v1/org/shared-solutions", apiRoute, orgReaders, 0, s.handleAPIOrgList(model.OrgSharedSolutions)},
		{"GET /api/v1/org/shared-solutions.csv", apiRoute, orgReaders, 0, s.handleAPIOrgCSV(model.OrgSharedSolutions)},
		{"POST /api/v1/org/shared-solutions", apiRoute, registerEditors, maxCSVBytes, s.handleAPIOrgImport(model.OrgSharedSolutions)},
		{"DELETE /api/v1/org/{kind}/{id}", apiRoute, registerEditors, 0, s.handleAPIOrgDelete},
		{"GET /api/v1/software/catalog", apiRoute, everyone, 0, s.handleAPISoftwareCatalog},
		{"GET /api/v1/software/catalog.csv", apiRoute, everyone, 0, s.handleAPISoftwareCatalogCSV},
		{"POST /api/v1/software/catalog", apiRoute, registerEditors, maxCSVBytes, s.handleAPISoftwareCatalogImport},
		{"DELETE /api/v1/software/catalog/{id}", apiRoute, registerEditors, 0, s.handleAPISoftwareEntryDelete},
		{"GET /api/v1/zones", apiRoute, everyone, 0, s.handleAPIZones},
		{"GET /api/v1/zones/matrix", apiRoute, everyone, 0, s.handleAPIZoneMatrix},
		{"GET /api/v1/flows", apiRoute, everyone, 0, s.handleAPIFlows},
		{"GET /api/v1/neighbours", apiRoute, everyone, 0, s.handleAPINeighbours},
		{"GET /configmap", pageRoute, everyone, 0, s.handleConfigMapPage},
		{"POST /configmap/snapshots", pageRoute, mapSnapshotters, 0, s.handleConfigMapSnapshotForm},
		{"GET /api/v1/configmap", apiRoute, everyone, 0, s.handleAPIConfigMap},
		{"GET /api/v1/configmap/snapshots", apiRoute, everyone, 0, s.handleAPIMapSnapshots},
		{"POST /api/v1/configmap/snapshots", apiRoute, mapSnapshotters, maxJSONBytes, s.handleAPIMapSnapshotCreate},
		{"GET /api/v1/configmap/snapshots/{id}", apiRoute, everyone, 0, s.handleAPIMapSnapshot},
		{"GET /api/v1/configmap/diff", apiRoute, everyone, 0, s.handleAPIMapDiff},
		{"GET /api/v1/deviations", apiRoute, deviationReaders, 0, s.handleAPIDeviations},
		{"GET /api/v1/deviations/{id}", apiRoute, deviationReaders, 0, s.handleAPIDeviation},
		{"POST /api/v1/deviations/{id}/status", apiRoute, deviationHandlers, maxJSONBytes, s.handleAPIDeviationStatus},
		{"POST /api/v1/deviations/{id}/comments", apiRoute, deviationHandlers, maxJSONBytes, s.handleAPIDeviationComment},
		{"POST /api/v1/deviations/{id}/exception", apiRoute, breachDeciders, maxJSONBytes, s.handleAPIDeviationException},
		{"POST /api/v1/deviations/{id}/breach", apiRoute, breachDeciders, maxJSONBytes, s.handleAPIDeviationBreach},
		{"GET /api/v1/exceptions", apiRoute, deviationReaders, 0, s.handleAPIExceptions},
		{"DELETE /api/v1/exceptions/{id}", apiRoute, breachDeciders, 0, s.handleAPIExceptionRevoke},
		{"GET /api/v1/breaches", apiRoute, deviationReaders, 0, s.handleAPIBreaches},
		{"GET /api/v1/breaches.csv", apiRoute, deviationReaders, 0, s.handleAPIBreachesCSV},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /static/style.css", s.handleCSS)
	mux.HandleFunc("GET /static/app.js", s.handleJS)
	mux.HandleFunc("GET /login", s.handleLoginForm)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)

	s.access = make(map[string][]model.Role)
	for _, rt := range s.routeTable() {
		s.access[rt.pattern] = rt.roles
		var h http.Handler = rt.handler
		unsafe := !safeMethod(methodOf(rt.pattern))
		if unsafe && rt.kind == pageRoute {
			h = s.formCSRF(h)
		}
		h = s.requireRole(rt.roles...)(h)
		if unsafe {
			h = limitBody(rt.maxBody, h)
		}
		if rt.kind == pageRoute {
			h = s.page(h)
		} else {
			h = s.api(h)
		}
		if unsafe {
			h = s.publishOnSuccess(routeTopics(rt.pattern), h)
		}
		mux.Handle(rt.pattern, h)
	}

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, model.ErrNotFound)
	})

	// Browsers tell us where a request comes from; refuse unsafe cross-origin
	// requests before any handler runs, in addition to the CSRF tokens.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errCSRF)
	}))
	return s.securityHeaders(s.language(cop.Handler(mux)))
}

// methodOf returns the method of a "METHOD /path" pattern.
func methodOf(pattern string) string {
	m, _, _ := strings.Cut(pattern, " ")
	return m
}

// allowed reports whether role may use the route with pattern.
func (s *Server) allowed(role model.Role, pattern string) bool {
	return slices.Contains(s.access[pattern], role)
}

// perms are what the pages show or hide by role: links and forms a role
// could not use are left out. The routes still check on their own.
type perms struct {
	Deviations       bool // may read deviations
	HandleDeviations bool // may change their status and comment
	EditRegister     bool // may import into and delete from the media register
	EditAssets       bool // may import into the asset register
}

func (s *Server) permsOf(role model.Role) perms {
	return perms{
		Deviations:       s.allowed(role, "GET /deviations"),
		HandleDeviations: s.allowed(role, "POST /deviations/{id}/status"),
		EditRegister:     s.allowed(role, "POST /media/register"),
		EditAssets:       s.allowed(role, "POST /assets"),
	}
}

// limitBody caps the request body at n bytes (maxFormBytes for 0).
func limitBody(n int64, next http.Handler) http.Handler {
	if n == 0 {
		n = maxFormBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// formCSRF parses a posted form (URL-encoded or multipart) and lets it through
// only when it carries the session's CSRF token, in the csrf field or the
// X-CSRF-Token header. It goes inside page, which establishes the session.
func (s *Server) formCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		if p == nil || p.Session == nil {
			s.fail(w, r, errUnauthorized)
			return
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		var err error
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(maxMultipartMemory)
			if r.MultipartForm != nil {
				defer func() { _ = r.MultipartForm.RemoveAll() }()
			}
		} else {
			err = r.ParseForm()
		}
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			s.fail(w, r, refuse(errTooLarge, "problem.too_large", mbe.Limit))
			return
		case err != nil && !errors.Is(err, http.ErrNotMultipart):
			s.fail(w, r, fmt.Errorf("parse form: %v: %w", err, model.ErrInvalid))
			return
		}
		token := r.Header.Get(csrfHeader)
		if token == "" {
			token = r.PostFormValue(csrfField)
		}
		if !csrfEqual(token, p.Session.CSRF) {
			s.fail(w, r, errCSRF)
			return
		}
		next.ServeHTTP(w, r)
	})
}
