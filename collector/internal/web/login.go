package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Catalogue keys of the login page's messages.
const (
	msgBadCredentials = "login.bad_credentials"
	msgRateLimited    = "login.rate_limited"
	msgLoginCSRF      = "login.csrf"
)

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	p, err := s.sessionPrincipal(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, "", "")
}

// renderLogin shows the login form with a CSRF token bound to the pre-login
// cookie: the form's token must equal the cookie, which another site can
// neither read nor set.
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, user, msg string) {
	token := ""
	if c, err := r.Cookie(preloginCookie); err == nil && validRandomToken(c.Value, csrfBytes) {
		token = c.Value
	} else {
		token = randomToken(csrfBytes)
	}
	s.setCookie(w, preloginCookie, token, "/login", preloginTTL)
	s.render(w, r, status, "login", pageData{Title: "login.title", CSRF: token, Error: msg, Data: user})
}

func validRandomToken(v string, n int) bool {
	b, err := b64url.Strict().DecodeString(v)
	return err == nil && len(b) == n
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, fmt.Errorf("parse login form: %v: %w", err, model.ErrInvalid))
		return
	}
	name := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	if len(name) > maxUserNameBytes {
		// Keep what reaches the audit log short and valid UTF-8.
		name = strings.ToValidUTF8(name[:maxUserNameBytes], "")
	}

	c, err := r.Cookie(preloginCookie)
	if err != nil || !validRandomToken(c.Value, csrfBytes) || !csrfEqual(r.PostFormValue(csrfField), c.Value) {
		s.log.InfoContext(ctx, "login refused: csrf token missing or wrong", "ip", clientIP(r))
		// The form comes back with a valid token, so that the person can simply try again.
		s.renderLogin(w, r, http.StatusForbidden, name, msgLoginCSRF)
		return
	}

	ip := clientIP(r)
	now := s.now()
	if !s.limiter.allow(ip, now) {
		s.log.WarnContext(ctx, "login rate limited", "ip", ip)
		s.renderLogin(w, r, http.StatusTooManyRequests, name, msgRateLimited)
		return
	}

	fail := func(reason string) {
		if err := appendAudit(ctx, s.store, now, "anonymous", "user.login.failed", name, auditDetail{"ip": ip, "reason": reason}); err != nil {
			s.log.ErrorContext(ctx, "audit failed login", "err", err)
		}
		s.renderLogin(w, r, http.StatusUnauthorized, name, msgBadCredentials)
	}

	u, err := s.store.GetUser(ctx, name)
	switch {
	case errors.Is(err, model.ErrNotFound) || name == "":
		s.burnHash(password)
		fail("unknown user")
		return
	case err != nil:
		s.fail(w, r, fmt.Errorf("get user: %w", err))
		return
	}
	if u.Disabled {
		s.burnHash(password) // told apart from a wrong password by neither text nor time
		fail("disabled")
		return
	}
	if now.Before(u.LockedUntil) {
		s.burnHash(password) // the password is not even checked while locked
		fail("locked")
		return
	}

	ok, err := s.checkPassword(u.PasswordHash, password)
	if err != nil {
		s.log.ErrorContext(ctx, "check password: stored hash unusable", "user", u.Name, "err", err)
		ok = false
	}
	if !ok {
		u.FailedLogins++
		locked := u.FailedLogins >= maxFailedLogins
		if locked {
			u.LockedUntil = now.Add(lockoutDuration)
			u.FailedLogins = 0 // a fresh count once the lock ends
		}
		if err := s.store.UpdateUser(ctx, u); err != nil {
			s.fail(w, r, fmt.Errorf("update user %s: %w", u.Name, err))
			return
		}
		fail("wrong password")
		if locked {
			if err := appendAudit(ctx, s.store, now, "system", "user.lock", u.Name,
				auditDetail{"until": u.LockedUntil.UTC().Format(time.RFC3339), "ip": ip}); err != nil {
				s.log.ErrorContext(ctx, "audit lockout", "err", err)
			}
		}
		return
	}

	if u.FailedLogins != 0 || !u.LockedUntil.IsZero() {
		u.FailedLogins = 0
		u.LockedUntil = time.Time{}
		if err := s.store.UpdateUser(ctx, u); err != nil {
			s.fail(w, r, fmt.Errorf("update user %s: %w", u.Name, err))
			return
		}
	}
	cookie, sess, err := s.newSession(ctx, u.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := appendAudit(ctx, s.store, now, u.Name, "user.login", u.Name, auditDetail{"ip": ip}); err != nil {
		// No login that the audit log does not know about.
		if derr := s.store.DeleteSession(ctx, sess.IDHash); derr != nil {
			s.log.ErrorContext(ctx, "delete unaudited session", "err", derr)
		}
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, sessionCookie, cookie, "/", sessionTTL)
	s.setCookie(w, preloginCookie, "", "/login", -1)
	if supported(u.Lang) {
		s.setLangCookie(w, u.Lang) // the user's own choice wins over this browser's
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p, err := s.sessionPrincipal(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p == nil {
		s.setCookie(w, sessionCookie, "", "/", -1)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	r = r.WithContext(withPrincipal(ctx, p))
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil || !csrfEqual(r.PostFormValue(csrfField), p.Session.CSRF) {
		s.fail(w, r, errCSRF)
		return
	}
	if err := s.store.DeleteSession(ctx, p.Session.IDHash); err != nil && !errors.Is(err, model.ErrNotFound) {
		s.fail(w, r, fmt.Errorf("delete session: %w", err))
		return
	}
	if err := appendAudit(ctx, s.store, s.now(), p.Name, "user.logout", p.Name, auditDetail{"ip": clientIP(r)}); err != nil {
		s.log.ErrorContext(ctx, "audit logout", "err", err)
	}
	s.setCookie(w, sessionCookie, "", "/", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// checkPassword runs CheckPassword with bounded concurrency: each run takes
// 64 MiB.
func (s *Server) checkPassword(hash, pw string) (bool, error) {
	s.hashSem <- struct{}{}
	defer func() { <-s.hashSem }()
	return CheckPassword(hash, pw)
}

// burnHash spends the time of one password check, so that an unknown or
// locked user answers as slowly as a wrong password.
func (s *Server) burnHash(pw string) {
	s.dummyOnce.Do(func() {
		h, err := HashPassword("sonevakt-dummy-password")
		if err != nil {
			return
		}
		s.dummyHash = h
	})
	if s.dummyHash != "" {
		_, _ = s.checkPassword(s.dummyHash, pw)
	}
}
