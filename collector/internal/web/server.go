package web

import (
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

//go:embed templates/*.html static/style.css
var assets embed.FS

// WebStore is what the web layer reads and writes.
type WebStore interface {
	model.AuthStore
	model.HostStore
	model.InventoryStore
	model.AuditStore
	model.AgentStore
}

// Config configures a Server.
type Config struct {
	Store  WebStore
	Logger *slog.Logger     // nil discards logs
	Now    func() time.Time // nil means time.Now
	// Secure reports whether the UI is served over HTTPS: cookies get the
	// Secure flag and responses carry HSTS. True in production.
	Secure bool
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
	hashSem chan struct{} // bounds concurrent argon2 runs (64 MiB each)

	dummyOnce sync.Once
	dummyHash string // compared against for unknown or locked users, so timing tells nothing

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
	}
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

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	readHosts := s.requireRole(model.Roles...) // every role may read hosts, inventories and software

	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.HandleFunc("GET /static/style.css", s.handleCSS)

	mux.HandleFunc("GET /login", s.handleLoginForm)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.Handle("GET /{$}", s.page(http.RedirectHandler("/hosts", http.StatusSeeOther)))
	mux.Handle("GET /hosts", s.page(readHosts(http.HandlerFunc(s.handleHosts))))
	mux.Handle("GET /hosts/{id}", s.page(readHosts(http.HandlerFunc(s.handleHost))))
	mux.Handle("GET /software", s.page(readHosts(http.HandlerFunc(s.handleSoftware))))

	mux.Handle("GET /api/v1/hosts", s.api(readHosts(http.HandlerFunc(s.handleAPIHosts))))
	mux.Handle("GET /api/v1/hosts/{id}", s.api(readHosts(http.HandlerFunc(s.handleAPIHost))))
	mux.Handle("GET /api/v1/hosts/{id}/inventory", s.api(readHosts(http.HandlerFunc(s.handleAPIInventory))))
	mux.Handle("GET /api/v1/hosts/{id}/inventory/history", s.api(readHosts(http.HandlerFunc(s.handleAPIInventoryHistory))))
	mux.Handle("GET /api/v1/software", s.api(readHosts(http.HandlerFunc(s.handleAPISoftware))))

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
