package backoffice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// Prefix is where the back office is mounted: every route is under it.
const Prefix = "/backoffice"

// Options configures the back office. Authenticator is required; the zero value of every
// other field means its documented default.
type Options struct {
	// Authenticator says who operators are: LocalAccounts, OIDC or TrustedProxy.
	Authenticator Authenticator
	// IdleTimeout closes a session unused for this long. Default 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout closes a session this long after its login, used or not.
	// Default 12 hours.
	AbsoluteTimeout time.Duration
	// InsecureCookies drops the Secure attribute of cookies, for a console served over
	// plain HTTP on a developer's machine. Never set it when the console is reachable
	// over a network.
	InsecureCookies bool
	// Logger receives the errors behind 500s and refused requests. It never receives
	// customers' personal data. Default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock of sessions. Default time.Now.
	NowFunc func() time.Time
}

// Defaults of Options.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// ErrInvalidOptions is matched by the errors of Options.Validate.
var ErrInvalidOptions = errors.New("backoffice: invalid options")

// Validate reports what makes the options unusable.
func (o *Options) Validate() error {
	if o == nil || o.Authenticator == nil {
		return fmt.Errorf("%w: an Authenticator is required", ErrInvalidOptions)
	}
	if o.IdleTimeout < 0 || o.AbsoluteTimeout < 0 {
		return fmt.Errorf("%w: timeouts must not be negative", ErrInvalidOptions)
	}
	if o.IdleTimeout > 0 && o.AbsoluteTimeout > 0 && o.IdleTimeout > o.AbsoluteTimeout {
		return fmt.Errorf("%w: the idle timeout exceeds the absolute one", ErrInvalidOptions)
	}
	return nil
}

// Handler is the back office: an http.Handler serving every route under Prefix. Mount it
// with mux.Handle("/backoffice/", h).
type Handler struct {
	svc      *onboarding.Service
	auth     Authenticator
	sessions *sessions
	secure   bool
	log      *slog.Logger
	now      func() time.Time
	pages    *pages
	root     http.Handler
}

// sessionCookie names the session cookie; nextCookie holds where to go after a login.
const (
	sessionCookie = "onboarding_backoffice"
	nextCookie    = "onboarding_backoffice_next"
)

// New returns the back office over svc.
func New(svc *onboarding.Service, opts *Options) (*Handler, error) {
	if svc == nil {
		return nil, fmt.Errorf("%w: a Service is required", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := *opts
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.AbsoluteTimeout == 0 {
		o.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NowFunc == nil {
		o.NowFunc = time.Now
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	h := &Handler{svc: svc, auth: o.Authenticator, sessions: newSessions(o.IdleTimeout, o.AbsoluteTimeout, o.NowFunc),
		secure: !o.InsecureCookies, log: o.Logger, now: o.NowFunc, pages: pg}
	mux := http.NewServeMux()
	h.routes(mux)
	// Every unsafe request (every POST) must come from a page of this origin: a form on
	// another site, even one whose request carries the session cookie, is refused.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusForbidden, "This request came from another site and was refused.")
	}))
	h.root = securityHeaders(cop.Handler(mux))
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.root.ServeHTTP(w, r) }

// pageCSP is the policy of every page: nothing but this origin's own files, no inline
// script or style, no framing by anyone.
const pageCSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", pageCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store") // pages hold personal data
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) routes(mux *http.ServeMux) {
	p := Prefix
	mux.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", staticFiles()))
	mux.HandleFunc(p+"/login", h.login)
	mux.HandleFunc("GET "+p+"/login/callback", h.login)
	mux.HandleFunc("POST "+p+"/logout", h.logout)

	page := func(min Role, fn func(w http.ResponseWriter, r *http.Request, op *Operator)) http.HandlerFunc {
		return h.need(min, false, fn)
	}
	mux.HandleFunc(p+"/{$}", page(RoleViewer, h.queuePage)) // GET, and POST for a search kept out of URLs
	mux.HandleFunc("GET "+p+"/customers/{id}", page(RoleViewer, h.customerPage))
	mux.HandleFunc("GET "+p+"/documents/{id}/{name}", page(RoleViewer, h.document))
	mux.HandleFunc("POST "+p+"/customers/{id}/documents/{doc}/approve", page(RoleReviewer, h.decideForm(onboarding.ReviewApprove)))
	mux.HandleFunc("POST "+p+"/customers/{id}/documents/{doc}/reject", page(RoleReviewer, h.decideForm(onboarding.ReviewReject)))
	mux.HandleFunc("POST "+p+"/customers/{id}/deny", page(RoleAdmin, h.denyForm))
	mux.HandleFunc("POST "+p+"/customers/{id}/export", page(RoleAdmin, h.exportForm))
	mux.HandleFunc("POST "+p+"/customers/{id}/erase", page(RoleAdmin, h.eraseForm))
	mux.HandleFunc("GET "+p+"/operations", page(RoleAdmin, h.operationsPage))
	mux.HandleFunc("POST "+p+"/jobs/{id}/replay", page(RoleAdmin, h.replayJobForm))
	mux.HandleFunc("POST "+p+"/deliveries/{id}/replay", page(RoleAdmin, h.replayDeliveryForm))
	mux.HandleFunc("POST "+p+"/endpoints/{id}/recover", page(RoleAdmin, h.recoverForm))
	mux.HandleFunc("POST "+p+"/operators/{name}/unlock", page(RoleAdmin, h.unlockForm))
	mux.HandleFunc("GET "+p+"/audit", page(RoleAdmin, h.auditPage))

	api := func(min Role, fn func(w http.ResponseWriter, r *http.Request, op *Operator)) http.HandlerFunc {
		return h.need(min, true, fn)
	}
	a := p + "/api"
	mux.HandleFunc("GET "+a+"/me", api(RoleViewer, h.apiMe))
	mux.HandleFunc("GET "+a+"/queue", api(RoleViewer, h.apiQueue))
	mux.HandleFunc("POST "+a+"/search", api(RoleViewer, h.apiSearch))
	mux.HandleFunc("GET "+a+"/customers/{id}", api(RoleViewer, h.apiCustomer))
	mux.HandleFunc("POST "+a+"/customers/{id}/documents/{doc}/approve", api(RoleReviewer, h.apiDecide(onboarding.ReviewApprove)))
	mux.HandleFunc("POST "+a+"/customers/{id}/documents/{doc}/reject", api(RoleReviewer, h.apiDecide(onboarding.ReviewReject)))
	mux.HandleFunc("POST "+a+"/customers/{id}/deny", api(RoleAdmin, h.apiDeny))
	mux.HandleFunc("POST "+a+"/customers/{id}/export", api(RoleAdmin, h.apiExport))
	mux.HandleFunc("POST "+a+"/customers/{id}/erase", api(RoleAdmin, h.apiErase))
	mux.HandleFunc("GET "+a+"/operations", api(RoleAdmin, h.apiOperations))
	mux.HandleFunc("POST "+a+"/jobs/{id}/replay", api(RoleAdmin, h.apiReplayJob))
	mux.HandleFunc("POST "+a+"/deliveries/{id}/replay", api(RoleAdmin, h.apiReplayDelivery))
	mux.HandleFunc("POST "+a+"/endpoints/{id}/recover", api(RoleAdmin, h.apiRecover))
	mux.HandleFunc("GET "+a+"/audit", api(RoleAdmin, h.apiAudit))
	mux.HandleFunc(a+"/", api(RoleViewer, func(w http.ResponseWriter, r *http.Request, _ *Operator) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	}))
	mux.HandleFunc(p+"/", page(RoleViewer, func(w http.ResponseWriter, r *http.Request, _ *Operator) {
		h.fail(w, r, http.StatusNotFound, "There is no such page.")
	}))
}

// operator returns who makes r, and whether it came with a session cookie (so it may log
// out). err refuses the request.
func (h *Handler) operator(r *http.Request) (op *Operator, fromSession bool, err error) {
	op, err = h.auth.Identify(r)
	if err != nil || op != nil {
		return op, false, err
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, false, nil
	}
	v, ok := h.sessions.get(c.Value)
	if !ok {
		return nil, false, nil
	}
	return &v, true, nil
}

// need wraps a route that needs an operator with at least the role min. Without one, a
// page redirects to the login and the API answers 401; with too small a role, 403 (the
// refusal of an action is audited).
func (h *Handler) need(min Role, api bool, fn func(w http.ResponseWriter, r *http.Request, op *Operator)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, fromSession, err := h.operator(r)
		if err != nil {
			h.log.WarnContext(r.Context(), "backoffice: request refused", "error", err, "path", r.URL.Path)
			h.deny(w, r, api, http.StatusForbidden, "Your identity could not be accepted.")
			return
		}
		if op == nil {
			if api {
				writeError(w, http.StatusUnauthorized, "unauthenticated", "log in first")
				return
			}
			next := r.URL.Path
			if r.Method != http.MethodGet {
				next = Prefix + "/"
			}
			http.Redirect(w, r, Prefix+"/login?next="+urlQueryEscape(next), http.StatusSeeOther)
			return
		}
		if !op.Role.Can(min) {
			if r.Method == http.MethodPost {
				e := onboarding.AuditEntry{Action: onboarding.AuditRefused, Target: r.URL.Path, Detail: "needs the role " + string(min)}
				if strings.Contains(r.Pattern, "/customers/{id}") {
					e.CustomerID = r.PathValue("id")
				}
				h.audit(r, op, e)
			}
			h.deny(w, r, api, http.StatusForbidden, "Your role ("+string(op.Role)+") may not do this.")
			return
		}
		ctx := r.Context()
		ctx = contextWithOperator(ctx, op, fromSession)
		fn(w, r.WithContext(ctx), op)
	}
}

func (h *Handler) deny(w http.ResponseWriter, r *http.Request, api bool, status int, msg string) {
	if api {
		writeError(w, status, "forbidden", msg)
		return
	}
	h.fail(w, r, status, msg)
}

// audit writes an operator's action to the audit log; a failure to write it is logged
// (the action itself is done).
func (h *Handler) audit(r *http.Request, op *Operator, e onboarding.AuditEntry) {
	h.record(r, op, e, func(ctx context.Context, e onboarding.AuditEntry) error {
		_, err := h.svc.RecordAudit(ctx, e)
		return err
	})
}

// auditCustomer is audit for an entry whose Detail quotes an operator's reason about the
// customer, which may hold personal data; redacted is that Detail without the reason
// (onboarding.Service.RecordCustomerAudit).
func (h *Handler) auditCustomer(r *http.Request, op *Operator, e onboarding.AuditEntry, redacted string) {
	h.record(r, op, e, func(ctx context.Context, e onboarding.AuditEntry) error {
		_, err := h.svc.RecordCustomerAudit(ctx, e, redacted)
		return err
	})
}

// auditTimeout bounds the writing of an audit entry, which may wait for an erasure of its
// customer under way.
const auditTimeout = 30 * time.Second

// record writes e as op with write. The action is done whatever the operator does next:
// the entry is written even when the request is cancelled meanwhile.
func (h *Handler) record(r *http.Request, op *Operator, e onboarding.AuditEntry, write func(context.Context, onboarding.AuditEntry) error) {
	if op != nil {
		e.Actor = op.Actor()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := write(ctx, e); err != nil {
		h.log.ErrorContext(ctx, "backoffice: audit", "error", err, "action", e.Action)
	}
}

// ---- login ----

// loginUI is the LoginUI the handler lends its Authenticator.
type loginUI struct{ h *Handler }

func (u loginUI) Form(w http.ResponseWriter, r *http.Request, status int, message string) {
	u.h.render(w, r, status, "login", &view{Title: "Log in", Error: message,
		Data: map[string]any{"Next": safeNext(r.FormValue("next")), "Form": true}})
}

func (u loginUI) Error(w http.ResponseWriter, r *http.Request, status int, message string) {
	u.h.render(w, r, status, "login", &view{Title: "Log in", Error: message,
		Data: map[string]any{"Next": safeNext(r.FormValue("next")), "Form": false}})
}

func (u loginUI) SecureCookies() bool { return u.h.secure }

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		h.fail(w, r, http.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	if next := r.URL.Query().Get("next"); next != "" && r.Method == http.MethodGet {
		// Kept for the way back from an identity provider, which drops the query.
		http.SetCookie(w, &http.Cookie{Name: nextCookie, Value: safeNext(next), Path: Prefix + "/login",
			MaxAge: int(loginTimeout.Seconds()), HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	}
	op, err := h.auth.ServeLogin(w, r, loginUI{h})
	var lf *LoginFailure
	switch {
	case errors.As(err, &lf):
		name := sanitizeName(lf.Username)
		h.audit(r, nil, onboarding.AuditEntry{Actor: "operator:" + name, Action: onboarding.AuditLoginFailed, Detail: lf.Reason})
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "backoffice: login", "error", err)
		h.fail(w, r, http.StatusInternalServerError, "The login failed; try again.")
		return
	case op == nil:
		return // the authenticator answered
	}
	token := h.sessions.create(*op)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: Prefix + "/", HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteStrictMode})
	h.audit(r, op, onboarding.AuditEntry{Action: onboarding.AuditLogin})
	next := r.FormValue("next")
	if c, err := r.Cookie(nextCookie); err == nil && next == "" {
		next = c.Value
	}
	next = safeNext(next)
	http.SetCookie(w, &http.Cookie{Name: nextCookie, Path: Prefix + "/login", MaxAge: -1, HttpOnly: true, Secure: h.secure,
		SameSite: http.SameSiteLaxMode})
	if r.Method == http.MethodGet {
		// Back from an identity provider: this navigation started on another site, so a
		// redirect would not carry the SameSite=Strict cookie just set. A page of this
		// origin moves on instead.
		h.render(w, r, http.StatusOK, "continue", &view{Title: "Logged in", Data: next})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if op, ok := h.sessions.get(c.Value); ok {
			h.audit(r, &op, onboarding.AuditEntry{Action: onboarding.AuditLogout})
		}
		h.sessions.delete(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: Prefix + "/", MaxAge: -1, HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// safeNext keeps a post-login destination inside the back office (no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		strings.Contains(next, "/login") {
		return Prefix + "/"
	}
	return next
}

// sanitizeName makes a tried username fit an audit actor.
func sanitizeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = truncateName(s)
	if s == "" {
		return "unknown"
	}
	return s
}
