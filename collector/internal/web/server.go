package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/pkg/zone"
)

//go:embed templates/*.html static/style.css static/app.js
var assets embed.FS

// WebStore is what the web layer reads and writes.
type WebStore interface {
	model.AuthStore
	model.TokenStore
	model.HostStore
	model.InventoryStore
	model.AuditStore
	model.AgentStore
	model.MediaStore
	model.DeviationStore
	model.AssetStore
	model.OrgStore
	model.SoftwareCatalogStore
}

// CSVProblem is what is wrong with one line of an uploaded register.
type CSVProblem struct {
	Line    int    `json:"line"`    // 1 is the header
	Message string `json:"message"` // English, from the parser
}

// Config configures a Server.
type Config struct {
	Store  WebStore
	Logger *slog.Logger     // nil discards logs
	Now    func() time.Time // nil means time.Now
	// Secure reports whether the UI is served over HTTPS: cookies get the
	// Secure flag and responses carry HSTS. True in production.
	Secure bool

	// ParseMediaCSV reads a media register in CSV form. It reports what is
	// wrong line by line; with validOnly the entries of the good lines come
	// back beside the problems of the bad ones, without it entries matter
	// only when there are no problems. An error means the input could not
	// be read at all. Nil leaves the register import unavailable.
	ParseMediaCSV func(r io.Reader, validOnly bool) ([]model.MediaEntry, []CSVProblem, error)
	// WriteMediaCSV writes the register in the form ParseMediaCSV reads,
	// with cells a spreadsheet would run as formulas neutralised. Nil leaves
	// the CSV export unavailable.
	WriteMediaCSV func(w io.Writer, entries []model.MediaEntry) error
	// ParseAssetsCSV reads an asset register in CSV form, reporting like
	// ParseMediaCSV. Nil leaves the asset register import unavailable.
	ParseAssetsCSV func(r io.Reader, validOnly bool) ([]model.Asset, []CSVProblem, error)
	// WriteAssetsCSV writes the asset register in the form ParseAssetsCSV
	// reads, with formula-like cells neutralised. Nil leaves the asset
	// register's CSV export unavailable.
	WriteAssetsCSV func(w io.Writer, assets []model.Asset) error
	// ParseSoftwareCSV reads the software catalogue in CSV form, reporting
	// like ParseMediaCSV. Nil leaves the catalogue import unavailable.
	ParseSoftwareCSV func(r io.Reader, validOnly bool) ([]model.SoftwareEntry, []CSVProblem, error)
	// WriteSoftwareCSV writes the software catalogue in the form
	// ParseSoftwareCSV reads, with formula-like cells neutralised. Nil
	// leaves the catalogue's CSV export unavailable.
	WriteSoftwareCSV func(w io.Writer, entries []model.SoftwareEntry) error
	// SoftwareCatalogChanged is called after an import or a delete changed
	// the software catalogue, so that the rules rebuild their index. Nil
	// when nobody needs to hear of it.
	SoftwareCatalogChanged func(ctx context.Context)
	// AssetsChanged is called after an import or a delete changed the asset
	// register, so that the rules judge the hosts against it anew.
	AssetsChanged func(ctx context.Context)
	// OrgChanged is called after an import or a delete changed the
	// organisation register, so that deviation routing (a
	// deviation.Router) is rebuilt. Nil when nobody needs to hear of it.
	OrgChanged func(ctx context.Context)
	// SyncPolicy is called after the media register changed, so that agents
	// get the new allow-list. Nil when there is nothing to push.
	SyncPolicy func(ctx context.Context) error
	// Traffic reads the hourly flows and the devices seen on the wire. Nil
	// leaves the traffic and neighbour pages and API unavailable (404).
	Traffic model.TrafficStore
	// Zones returns the current zone map: the zones and the firewall map
	// that the zone pages show and judge observed traffic by. Nil, or a nil
	// map, means no zones file is loaded.
	Zones func() *zone.Map
	// ConfigMap builds the current configuration map (configmap.Build with
	// the collector's options bound). Nil builds it from Store and Traffic
	// with default options, when Store is a model.ConfigMapStore.
	ConfigMap func(ctx context.Context) (configmap.Map, error)
	// MapSnapshots keeps the configuration map's snapshots. Nil uses Store
	// when it is a model.ConfigMapStore; without either the configuration
	// map pages and API are unavailable (404).
	MapSnapshots model.ConfigMapStore

	// CreateEnrollToken makes an enrollment token for uses enrollments
	// within ttl and writes its audit entry (enroll.Authority.CreateToken),
	// returning the token as agents take it. Nil leaves the administration
	// page without enrollment-token creation.
	CreateEnrollToken func(ctx context.Context, ttl time.Duration, uses int, actor string) (token string, rec model.EnrollToken, err error)
	// RevokeAgent revokes an agent and writes its audit entry
	// (enroll.Authority.Revoke); the agent listener checks revocation on
	// every batch, so it needs no word of its own. Nil revokes in Store.
	RevokeAgent func(ctx context.Context, id, actor string) error
	// Live fans change topics out to open pages (GET /events); changes made
	// through the UI publish to it too. Nil leaves pages without live updates.
	Live *Hub
	// ExportEvidence writes the signed evidence bundle of [from, to) to w,
	// auditing the export as actor (evidence.Export). Nil leaves the export
	// on the Revisjon page unavailable.
	ExportEvidence func(ctx context.Context, w io.Writer, from, to time.Time, actor string) error
	// Duties returns the dated yearly duties (the management review and the
	// security audit) the overview shows. Nil shows none.
	Duties func(ctx context.Context) []Duty
}

// Limits of the login guard.
const (
	sessionTTL       = 12 * time.Hour
	loginRateLimit   = 10 // attempts per client IP …
	loginRateWindow  = time.Minute
	maxFailedLogins  = 5 // consecutive failures before the user is locked …
	lockoutDuration  = 15 * time.Minute
	preloginTTL      = time.Hour
	maxFormBytes     = 64 << 10
	maxUserNameBytes = 128
)

// Server serves the UI and the API.
type Server struct {
	store   WebStore
	log     *slog.Logger
	now     func() time.Time
	secure  bool
	pages   map[string]map[string]*template.Template // lang -> page -> template
	limiter *rateLimiter
	hashSem chan struct{}           // bounds concurrent argon2 runs (64 MiB each)
	access  map[string][]model.Role // route pattern -> roles, from routeTable

	parseCSV       func(io.Reader, bool) ([]model.MediaEntry, []CSVProblem, error)
	writeCSV       func(io.Writer, []model.MediaEntry) error
	parseAssetsCSV func(io.Reader, bool) ([]model.Asset, []CSVProblem, error)
	writeAssetsCSV func(io.Writer, []model.Asset) error
	syncPolicy     func(context.Context) error
	traffic        model.TrafficStore
	zones          func() *zone.Map
	configMap      func(context.Context) (configmap.Map, error)
	mapSnapshots   model.ConfigMapStore

	// The software catalogue's CSV form and change hook (Config).
	parseSoftwareCSV func(io.Reader, bool) ([]model.SoftwareEntry, []CSVProblem, error)
	writeSoftwareCSV func(io.Writer, []model.SoftwareEntry) error
	onSoftwareChange func(context.Context)
	onAssetsChange   func(context.Context) // Config.AssetsChanged
	onOrgChange      func(context.Context) // Config.OrgChanged

	enrollToken func(context.Context, time.Duration, int, string) (string, model.EnrollToken, error) // Config.CreateEnrollToken
	revokeAgent func(context.Context, string, string) error                                          // Config.RevokeAgent

	live *Hub // Config.Live

	exportEvidence func(context.Context, io.Writer, time.Time, time.Time, string) error // Config.ExportEvidence
	duties         func(context.Context) []Duty                                         // Config.Duties

	dummyOnce sync.Once
	dummyHash string // compared against for unknown or locked users, so timing tells nothing

	changes  atomic.Uint64 // changes made through the routes (publishOnSuccess)
	mapCache mapCache      // the configuration map shared between requests (currentMap)

	handler http.Handler
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("web: config has no store")
	}
	s := &Server{
		store:   cfg.Store,
		log:     cfg.Logger,
		now:     cfg.Now,
		secure:  cfg.Secure,
		limiter: newRateLimiter(loginRateLimit, loginRateWindow),
		hashSem: make(chan struct{}, max(1, min(runtime.NumCPU(), 4))),

		parseCSV:       cfg.ParseMediaCSV,
		writeCSV:       cfg.WriteMediaCSV,
		parseAssetsCSV: cfg.ParseAssetsCSV,
		writeAssetsCSV: cfg.WriteAssetsCSV,
		syncPolicy:     cfg.SyncPolicy,
		traffic:        cfg.Traffic,
		zones:          cfg.Zones,
	}
	s.configMap, s.mapSnapshots = configMapDeps(cfg)
	s.parseSoftwareCSV, s.writeSoftwareCSV, s.onSoftwareChange = cfg.ParseSoftwareCSV, cfg.WriteSoftwareCSV, cfg.SoftwareCatalogChanged
	s.onOrgChange = cfg.OrgChanged
	s.onAssetsChange = cfg.AssetsChanged
	s.enrollToken, s.revokeAgent = cfg.CreateEnrollToken, cfg.RevokeAgent
	s.live = cfg.Live
	s.exportEvidence, s.duties = cfg.ExportEvidence, cfg.Duties
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "web")
	if s.now == nil {
		s.now = time.Now
	}
	pages, err := s.parseTemplates()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler for the UI and the API.
func (s *Server) Handler() http.Handler { return s.handler }

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) handleCSS(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("static/style.css")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
