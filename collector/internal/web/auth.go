package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

const (
	sessionCookie  = "sv_session"
	preloginCookie = "sv_login" // binds the login form's CSRF token before there is a session
	csrfField      = "csrf"
	csrfHeader     = "X-CSRF-Token"
	sessionIDBytes = 32
	csrfBytes      = 32
)

// principal is who a request acts for.
type principal struct {
	Name string // user name, or "token:<id>"
	// Acts is the user name whose scope the principal has: the user's own
	// name, or a token's name (apitoken create --name), so that a line
	// manager's token sees what the line manager does.
	Acts    string
	Role    model.Role
	Session *model.Session // nil for API tokens
}

type ctxKey int

const (
	principalKey ctxKey = iota
	langKey
)

func withPrincipal(ctx context.Context, p *principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	return p
}

// requireRole lets a request through only when it is authenticated with one
// of roles. It goes inside page or api, which establish who is asking.
func (s *Server) requireRole(roles ...model.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := principalFrom(r.Context())
			switch {
			case p == nil:
				s.fail(w, r, errUnauthorized)
			case !slices.Contains(roles, p.Role):
				s.fail(w, r, fmt.Errorf("role %s may not %s %s: %w", p.Role, r.Method, r.URL.Path, model.ErrForbidden))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// page requires a browser session; without one, GET and HEAD are sent to the
// login page and other methods refused.
func (s *Server) page(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.sessionPrincipal(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if p == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			s.fail(w, r, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// api authenticates an API request by bearer token or, for browsers, by
// session cookie. A cookie alone allows only safe methods; anything else must
// also carry the session's CSRF token in X-CSRF-Token.
func (s *Server) api(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p *principal
		var err error
		if authz := r.Header.Get("Authorization"); authz != "" {
			p, err = s.tokenPrincipal(r.Context(), authz)
		} else {
			p, err = s.sessionPrincipal(r)
			if err == nil && p != nil && !safeMethod(r.Method) && !csrfEqual(r.Header.Get(csrfHeader), p.Session.CSRF) {
				err = errCSRF
			}
		}
		if err == nil && p == nil {
			err = errUnauthorized
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func csrfEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// tokenPrincipal checks an Authorization header. Anything wrong with the token
// is errUnauthorized; only store failures are other errors.
func (s *Server) tokenPrincipal(ctx context.Context, authz string) (*principal, error) {
	scheme, tok, ok := strings.Cut(authz, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, errUnauthorized
	}
	id, secret, ok := parseAPIToken(strings.TrimSpace(tok))
	if !ok {
		return nil, errUnauthorized
	}
	t, err := s.store.GetAPIToken(ctx, id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("get api token %s: %w", id, err)
	}
	sum := sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(sum[:], t.Hash) != 1 || t.Revoked() {
		return nil, errUnauthorized
	}
	if err := s.store.TouchAPIToken(ctx, id, s.now()); err != nil {
		s.log.WarnContext(ctx, "touch api token", "token", id, "err", err)
	}
	return &principal{Name: "token:" + id, Role: t.Role, Acts: t.Name}, nil
}

// sessionPrincipal returns the principal of the request's session cookie, or
// nil when there is no valid session.
func (s *Server) sessionPrincipal(r *http.Request) (*principal, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	raw, err := b64url.Strict().DecodeString(c.Value)
	if err != nil || len(raw) != sessionIDBytes {
		return nil, nil
	}
	ctx := r.Context()
	hash := sha256.Sum256(raw)
	sess, err := s.store.GetSession(ctx, hash[:])
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	if !s.now().Before(sess.ExpiresAt) {
		if err := s.store.DeleteSession(ctx, hash[:]); err != nil && !errors.Is(err, model.ErrNotFound) {
			s.log.WarnContext(ctx, "delete expired session", "user", sess.User, "err", err)
		}
		return nil, nil
	}
	u, err := s.store.GetUser(ctx, sess.User)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil // the user was removed; the session dies with it
	}
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", sess.User, err)
	}
	if u.Disabled {
		return nil, nil // disabling ends the sessions; this one slipped through
	}
	return &principal{Name: u.Name, Role: u.Role, Session: &sess, Acts: u.Name}, nil
}

// newSession stores a session for user and returns the cookie value: the raw
// id, which is stored only as its SHA-256.
func (s *Server) newSession(ctx context.Context, user string) (cookie string, sess model.Session, err error) {
	raw := make([]byte, sessionIDBytes)
	cookie = randomIntoToken(raw)
	hash := sha256.Sum256(raw)
	now := s.now()
	sess = model.Session{
		IDHash:    hash[:],
		User:      user,
		CSRF:      randomToken(csrfBytes),
		CreatedAt: now,
		ExpiresAt: now.Add(sessionTTL),
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return "", model.Session{}, fmt.Errorf("create session: %w", err)
	}
	return cookie, sess, nil
}

func (s *Server) setCookie(w http.ResponseWriter, name, value, path string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     path,
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteStrictMode,
	}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
		c.Expires = s.now().Add(maxAge)
	case maxAge < 0:
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// clientIP is the address the connection comes from. Headers such as
// X-Forwarded-For are ignored: the collector is not meant to sit behind a proxy.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// rateLimiter allows at most limit events per key within a sliding window.
type rateLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	hits   map[string][]time.Time
}

const rateLimiterSweep = 4096 // keys before stale ones are dropped

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, hits: make(map[string][]time.Time)}
}

// allow records an event for key at now and reports whether it is within the
// limit. Refused events are not recorded.
func (l *rateLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	cutoff := now.Add(-l.window)
	if len(l.hits) >= rateLimiterSweep {
		for k, ts := range l.hits {
			if len(ts) == 0 || !ts[len(ts)-1].After(cutoff) {
				delete(l.hits, k)
			}
		}
	}
	ts := l.hits[key]
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	ts = ts[i:]
	if len(ts) >= l.limit {
		l.hits[key] = ts
		return false
	}
	l.hits[key] = append(ts, now)
	return true
}
