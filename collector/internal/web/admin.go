package web

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

// Limits and defaults of the administration page.
const (
	flashCookie       = "sv_flash"
	flashTTL          = 5 * time.Minute
	silentAfter       = 24 * time.Hour      // an agent not heard of for longer is silent
	certExpiringIn    = 14 * 24 * time.Hour // a certificate ending sooner is flagged
	maxEnrollUses     = 1000
	maxEnrollHours    = 30 * 24
	defaultEnrollHrs  = 24
	maxAdminNameBytes = 64
)

// adminView is the administration page: users, API tokens, enrollment
// tokens and agents, with a notice of what was just done, a secret shown
// this once, or why a form was refused.
type adminView struct {
	Users     []userRow
	Tokens    []apiTokenRow
	Enroll    []enrollRow
	Agents    []agentRow
	Roles     []option // the roles, for the create forms
	CanEnroll bool     // enrollment tokens can be made here

	Flash     string      // what was just done, in the page's language
	Secret    *secretOnce // a new password or token, shown in this response only
	FormFor   string      // the refused form: "user", "token", "enroll" or "row"
	FormError string

	// What was typed into a refused create form.
	UserName, UserRole, TokenName, TokenRole, EnrollUses, EnrollHours string
}

// secretOnce is a password or token shown once: what it is (a catalogue
// key), whom or what it is for, and the secret.
type secretOnce struct {
	Label, Subject, Value string
}

type userRow struct {
	model.User
	RoleLabel string
	State     string // "active", "locked" or "disabled"
	LangLabel string
	Roles     []option // the role select, the user's own selected
}

type apiTokenRow struct {
	model.APIToken
	RoleLabel string
}

type enrollRow struct {
	model.EnrollToken
	State string // "active", "expired", "used_up" or "revoked"
}

type agentRow struct {
	model.Agent
	Health       string // "ok", "silent", "never" or "revoked"
	CertExpired  bool
	CertExpiring bool
}

// adminAction says what a handled form did: a catalogue key and its
// argument, shown once on the next page.
type adminAction struct {
	Key string `json:"k"`
	Arg string `json:"a"`
}

// newAdminView is the page with its create forms at their defaults.
func newAdminView() adminView {
	return adminView{EnrollUses: "1", EnrollHours: strconv.Itoa(defaultEnrollHrs), UserRole: string(model.RoleLeder), TokenRole: string(model.RoleRevisor)}
}

// withSecret is the page telling what was done and showing a secret once.
func withSecret(flash string, secret *secretOnce) adminView {
	v := newAdminView()
	v.Flash, v.Secret = flash, secret
	return v
}

func (s *Server) handleAdminPage(w http.ResponseWriter, r *http.Request) {
	v := newAdminView()
	if c, err := r.Cookie(flashCookie); err == nil {
		s.setCookie(w, flashCookie, "", "/admin", -1)
		if a, ok := decodeFlash(c.Value); ok {
			v.Flash = translatef(langFrom(r.Context()), a.Key, a.Arg)
		}
	}
	s.renderAdmin(w, r, http.StatusOK, v)
}

// decodeFlash reads a flash cookie; only the administration page's own
// notices are shown.
func decodeFlash(v string) (adminAction, bool) {
	b, err := b64url.Strict().DecodeString(v)
	var a adminAction
	if err != nil || json.Unmarshal(b, &a) != nil || !strings.HasPrefix(a.Key, "admin.done.") {
		return adminAction{}, false
	}
	if _, ok := catalogs[defaultLang][a.Key]; !ok {
		return adminAction{}, false
	}
	return a, true
}

// adminDone sends the browser back to the administration page, which tells
// once what was done.
func (s *Server) adminDone(w http.ResponseWriter, r *http.Request, key, arg string) {
	b, _ := json.Marshal(adminAction{key, arg})
	s.setCookie(w, flashCookie, b64url.EncodeToString(b), "/admin", flashTTL)
	http.Redirect(w, r, "/admin", http.StatusSeeOther)
}

// adminRefused shows the page again with why the form was refused, or fails
// outright when err is not the person's to fix.
func (s *Server) adminRefused(w http.ResponseWriter, r *http.Request, err error, v adminView) {
	var ue *userError
	if !errors.As(err, &ue) {
		s.fail(w, r, err)
		return
	}
	status, _ := errorStatus(err)
	if status >= 500 {
		s.fail(w, r, err)
		return
	}
	v.FormError = ue.message(langFrom(r.Context()))
	s.renderAdmin(w, r, status, v)
}

func (s *Server) renderAdmin(w http.ResponseWriter, r *http.Request, status int, v adminView) {
	ctx := r.Context()
	lang := langFrom(ctx)
	now := s.now()
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list users: %w", err))
		return
	}
	for _, u := range users {
		row := userRow{User: u, RoleLabel: translate(lang, "role."+string(u.Role)), State: "active", LangLabel: "–"}
		switch {
		case u.Disabled:
			row.State = "disabled"
		case now.Before(u.LockedUntil):
			row.State = "locked"
		}
		if supported(u.Lang) {
			row.LangLabel = translate(u.Lang, "lang."+u.Lang)
		}
		row.Roles = roleOptions(lang, u.Role)
		v.Users = append(v.Users, row)
	}
	tokens, err := s.store.ListAPITokens(ctx)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list api tokens: %w", err))
		return
	}
	for _, t := range tokens {
		v.Tokens = append(v.Tokens, apiTokenRow{APIToken: t, RoleLabel: translate(lang, "role."+string(t.Role))})
	}
	enroll, err := s.store.ListEnrollTokens(ctx)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list enrollment tokens: %w", err))
		return
	}
	for _, t := range enroll {
		row := enrollRow{EnrollToken: t, State: "active"}
		switch {
		case t.Revoked():
			row.State = "revoked"
		case !now.Before(t.ExpiresAt):
			row.State = "expired"
		case t.UsesLeft == 0:
			row.State = "used_up"
		}
		v.Enroll = append(v.Enroll, row)
	}
	slices.Reverse(v.Enroll) // newest first
	agents, err := s.store.ListAgents(ctx)
	if err != nil {
		s.fail(w, r, fmt.Errorf("list agents: %w", err))
		return
	}
	for _, a := range agents {
		v.Agents = append(v.Agents, newAgentRow(a, now))
	}
	slices.SortStableFunc(v.Agents, func(a, b agentRow) int {
		return cmp.Or(strings.Compare(a.Hostname, b.Hostname), strings.Compare(a.ID, b.ID))
	})
	v.Roles = roleOptions(lang, "")
	v.CanEnroll = s.enrollToken != nil
	s.render(w, r, status, "admin", pageData{Title: "admin.title", Nav: "admin", Data: v})
}

// newAgentRow judges an agent's health at now: revoked, never heard of,
// silent (not seen for longer than silentAfter) or reporting.
func newAgentRow(a model.Agent, now time.Time) agentRow {
	row := agentRow{Agent: a, Health: "ok"}
	switch {
	case a.Revoked():
		row.Health = "revoked"
	case a.LastSeen.IsZero():
		row.Health = "never"
	case now.Sub(a.LastSeen) > silentAfter:
		row.Health = "silent"
	}
	if !a.CertNotAfter.IsZero() {
		row.CertExpired = !now.Before(a.CertNotAfter)
		row.CertExpiring = !row.CertExpired && a.CertNotAfter.Sub(now) < certExpiringIn
	}
	return row
}

// roleOptions lists the roles with selected chosen.
func roleOptions(lang string, selected model.Role) []option {
	out := make([]option, 0, len(model.Roles))
	for _, r := range model.Roles {
		out = append(out, option{string(r), translate(lang, "role."+string(r)), r == selected})
	}
	return out
}

// formRole reads a role from a form field.
func formRole(r *http.Request, field string) (model.Role, error) {
	role := model.Role(strings.TrimSpace(r.PostFormValue(field)))
	if !role.Valid() {
		return "", refuse(model.ErrInvalid, "admin.problem.role", string(role))
	}
	return role, nil
}

// checkUserName refuses a name that is empty, too long, or has characters
// other than letters, digits and . _ @ -: names go into paths, element ids
// and assignees ("user:<name>").
func checkUserName(name string) error {
	ok := name != "" && len(name) <= maxAdminNameBytes && strings.IndexFunc(name, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._@-", c))
	}) < 0
	if !ok {
		return refuse(model.ErrInvalid, "admin.problem.name", maxAdminNameBytes)
	}
	return nil
}

func (s *Server) handleAdminUserCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	name := strings.TrimSpace(r.PostFormValue("name"))
	v := newAdminView()
	v.FormFor, v.UserName, v.UserRole = "user", name, r.PostFormValue("role")
	if err := checkUserName(name); err != nil {
		s.adminRefused(w, r, err, v)
		return
	}
	role, err := formRole(r, "role")
	if err != nil {
		s.adminRefused(w, r, err, v)
		return
	}
	password := newPassword(generatedPassword)
	hash, err := HashPassword(password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.now()
	err = s.store.CreateUser(ctx, model.User{Name: name, PasswordHash: hash, Role: role, CreatedAt: now})
	if errors.Is(err, model.ErrConflict) {
		s.adminRefused(w, r, refuse(model.ErrConflict, "admin.problem.user_exists", name), v)
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("create user %s: %w", name, err))
		return
	}
	if err := appendAudit(ctx, s.store, now, p.Name, "user.create", name, auditDetail{"role": string(role)}); err != nil {
		s.fail(w, r, err)
		return
	}
	lang := langFrom(ctx)
	s.renderAdmin(w, r, http.StatusOK, withSecret(translatef(lang, "admin.done.user_create", name), &secretOnce{Label: "admin.secret.password", Subject: name, Value: password}))
}

// activeAdmins counts the users with role admin who are not disabled.
func (s *Server) activeAdmins(ctx context.Context) (int, error) {
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return 0, fmt.Errorf("list users: %w", err)
	}
	n := 0
	for _, u := range users {
		if u.Role == model.RoleAdmin && !u.Disabled {
			n++
		}
	}
	return n, nil
}

// handleAdminUserUpdate changes one user, by the action (a form field, or a
// parameter of the URL): "role"
// (with role), "disable", "enable" or "unlock". A change of role and
// disabling end the user's sessions; the last active administrator can be
// neither demoted nor disabled.
func (s *Server) handleAdminUserUpdate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principalFrom(ctx)
	name := r.PathValue("name")
	v := newAdminView()
	v.FormFor = "row"
	u, err := s.store.GetUser(ctx, name)
	if err != nil {
		s.fail(w, r, fmt.Errorf("get user %s: %w", name, err))
		return
	}
	action := r.PostFormValue("action")
	if action == "" {
		action = r.URL.Query().Get("action") // the page's forms name it in their URL
	}
	var (
		detail     auditDetail
		endSession bool
		done       string
	)
	switch action {
	case "role":
		role, err := formRole(r, "role")
		if err != nil {
			s.adminRefused(w, r, err, v)
			return
		}
		if role == u.Role {
			s.adminDone(w, r, "admin.done.unchanged", name)
			return
		}
		if role != model.RoleAdmin {
			if err := s.keepOneAdmin(ctx, u); err != nil {
				s.adminRefused(w, r, err, v)
				return
			}
		}
		detail = auditDetail{"from": string(u.Role), "to": string(role)}
		u.Role, endSession, done = role, true, "admin.done.user_role"
	case "disable":
		if u.Disabled {
			s.adminDone(w, r, "admin.done.unchanged", name)
			return
		}
		if err := s.keepOneAdmin(ctx, u); err != nil {
			s.adminRefused(w, r, err, v)
			return
		}
		u.Disabled, endSession, done = true, true, "admin.done.user_disable"
	case "enable":
		if !u.Disabled {
			s.adminDone(w, r, "admin.done.unchanged", name)
			return
		}
		u.Disabled, u.FailedLogins, u.LockedUntil, done = false, 0, time.Time{}, "admin.done.user_enable"
	case "unlock":
		u.FailedLogins, u.LockedUntil, done = 0, time.Time{}, "admin.done.user_unlock"
	default:
		s.adminRefused(w, r, refuse(model.ErrInvalid, "admin.problem.action", action), v)
		return
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		s.fail(w, r, fmt.Errorf("update user %s: %w", name, err))
		return
	}
	if endSession {
		n, err := s.store.DeleteUserSessions(ctx, name)
		if err != nil {
			s.fail(w, r, fmt.Errorf("end sessions of %s: %w", name, err))
			return
		}
		if detail == nil {
			detail = auditDetail{}
		}
		detail["sessions_ended"] = strconv.Itoa(n)
	}
	if err := appendAudit(ctx, s.store, s.now(), p.Name, "user."+action, name, detail); err != nil {
		s.fail(w, r, err)
		return
	}
	s.adminDone(w, r, done, name)
}

// keepOneAdmin refuses to take u out of the active administrators when u is
// the last of them.
func (s *Server) keepOneAdmin(ctx context.Context, u model.User) error {
	if u.Role != model.RoleAdmin || u.Disabled {
		return nil
	}
	n, err := s.activeAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return refuse(model.ErrConflict, "admin.problem.last_admin", u.Name)
	}
	return nil
}

func (s *Server) handleAdminUserPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	password, err := resetPassword(ctx, s.store, name, principalFrom(ctx).Name, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderAdmin(w, r, http.StatusOK, withSecret(translatef(langFrom(ctx), "admin.done.user_password", name), &secretOnce{Label: "admin.secret.password", Subject: name, Value: password}))
}

func (s *Server) handleAdminTokenCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := strings.TrimSpace(r.PostFormValue("name"))
	v := newAdminView()
	v.FormFor, v.TokenName, v.TokenRole = "token", name, r.PostFormValue("role")
	role, err := formRole(r, "role")
	if err == nil && (name == "" || len(name) > maxTokenNameBytes) {
		err = refuse(model.ErrInvalid, "admin.problem.token_name", maxTokenNameBytes)
	}
	if err != nil {
		s.adminRefused(w, r, err, v)
		return
	}
	tok, err := CreateAPIToken(ctx, s.store, role, name, principalFrom(ctx).Name, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderAdmin(w, r, http.StatusOK, withSecret(translatef(langFrom(ctx), "admin.done.token_create", name), &secretOnce{Label: "admin.secret.api_token", Subject: name, Value: tok}))
}

func (s *Server) handleAdminTokenRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := s.now()
	if err := s.store.RevokeAPIToken(ctx, id, now); err != nil {
		s.fail(w, r, fmt.Errorf("revoke api token %s: %w", id, err))
		return
	}
	if err := appendAudit(ctx, s.store, now, principalFrom(ctx).Name, "api.token.revoke", "token:"+id, nil); err != nil {
		s.fail(w, r, err)
		return
	}
	s.adminDone(w, r, "admin.done.token_revoke", id)
}

// formInt reads a whole number lo..hi from a form field; key is the refusal.
func formInt(r *http.Request, field string, lo, hi int, key string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue(field)))
	if err != nil || n < lo || n > hi {
		return 0, refuse(model.ErrInvalid, key, lo, hi)
	}
	return n, nil
}

func (s *Server) handleAdminEnrollCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := newAdminView()
	v.FormFor, v.EnrollUses, v.EnrollHours = "enroll", r.PostFormValue("uses"), r.PostFormValue("hours")
	if s.enrollToken == nil {
		s.adminRefused(w, r, refuse(model.ErrNotFound, "admin.problem.no_enroll"), v)
		return
	}
	uses, err := formInt(r, "uses", 1, maxEnrollUses, "admin.problem.uses")
	if err != nil {
		s.adminRefused(w, r, err, v)
		return
	}
	hours, err := formInt(r, "hours", 1, maxEnrollHours, "admin.problem.hours")
	if err != nil {
		s.adminRefused(w, r, err, v)
		return
	}
	tok, rec, err := s.enrollToken(ctx, time.Duration(hours)*time.Hour, uses, principalFrom(ctx).Name)
	if err != nil {
		s.fail(w, r, fmt.Errorf("create enrollment token: %w", err))
		return
	}
	s.renderAdmin(w, r, http.StatusOK, withSecret(translatef(langFrom(ctx), "admin.done.enroll_create", rec.ID), &secretOnce{Label: "admin.secret.enroll_token", Subject: rec.ID, Value: tok}))
}

func (s *Server) handleAdminEnrollRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	now := s.now()
	if err := s.store.RevokeEnrollToken(ctx, id, now); err != nil {
		s.fail(w, r, fmt.Errorf("revoke enrollment token %s: %w", id, err))
		return
	}
	if err := appendAudit(ctx, s.store, now, principalFrom(ctx).Name, "enroll.token.revoke", id, nil); err != nil {
		s.fail(w, r, err)
		return
	}
	s.adminDone(w, r, "admin.done.enroll_revoke", id)
}

func (s *Server) handleAdminAgentRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	actor := principalFrom(ctx).Name
	if s.revokeAgent != nil {
		if err := s.revokeAgent(ctx, id, actor); err != nil {
			s.fail(w, r, fmt.Errorf("revoke agent %s: %w", id, err))
			return
		}
	} else {
		now := s.now()
		if err := s.store.RevokeAgent(ctx, id, now); err != nil {
			s.fail(w, r, fmt.Errorf("revoke agent %s: %w", id, err))
			return
		}
		if err := appendAudit(ctx, s.store, now, actor, "agent.revoke", id, nil); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.adminDone(w, r, "admin.done.agent_revoke", id)
}
