package backoffice

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDC authenticates operators with an OpenID Connect provider (Keycloak, Entra ID,
// Google Workspace, Okta...): the authorization code flow with PKCE, a nonce bound to
// the browser, the ID token verified against the provider's published keys, and the role
// read from a claim of the token.
type OIDC struct {
	provider  *oidc.Provider
	verifier  *oidc.IDTokenVerifier
	config    oauth2.Config
	client    *http.Client
	roleClaim string
	nameClaim string
	roles     map[string]Role
	now       func() time.Time

	mu      sync.Mutex
	pending map[string]*pendingLogin // by state
}

type pendingLogin struct {
	nonce    string
	verifier string
	expires  time.Time
}

// OIDCOptions configures OIDC.
type OIDCOptions struct {
	// Issuer is the provider's issuer URL; its discovery document is read at
	// /.well-known/openid-configuration. Required.
	Issuer string
	// ClientID and ClientSecret are the back office's client at the provider. ClientID
	// is required.
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends operators back: the back office's
	// https://…/backoffice/login/callback, registered at the provider. Required.
	RedirectURL string
	// Scopes are asked besides openid. Default profile and email.
	Scopes []string
	// RoleClaim is the ID token claim holding the operator's role or roles (a string or
	// an array of strings); the highest known one wins. Default "roles".
	RoleClaim string
	// Roles maps the claim's values to roles, for providers whose group names differ
	// ("kyc-analysts": RoleReviewer). Default: the values are the role names.
	Roles map[string]Role
	// NameClaim is the claim naming the operator. Default "preferred_username", then
	// "email", then "sub" when the token lacks it.
	NameClaim string
	// HTTPClient talks to the provider. Default http.DefaultClient.
	HTTPClient *http.Client
	// NowFunc is the clock of pending logins. Default time.Now.
	NowFunc func() time.Time
}

// loginTimeout bounds the time between leaving for the provider and coming back.
const loginTimeout = 10 * time.Minute

// NewOIDC reads the provider's discovery document and returns the authenticator.
func NewOIDC(ctx context.Context, opts OIDCOptions) (*OIDC, error) {
	if opts.Issuer == "" || opts.ClientID == "" || opts.RedirectURL == "" {
		return nil, errors.New("backoffice: OIDC needs an issuer, a client ID and a redirect URL")
	}
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	for v, r := range opts.Roles {
		if _, err := ParseRole(string(r)); err != nil {
			return nil, fmt.Errorf("backoffice: OIDC role for %q: %w", v, err)
		}
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("backoffice: OIDC discovery: %w", err)
	}
	scopes := opts.Scopes
	if scopes == nil {
		scopes = []string{"profile", "email"}
	}
	o := &OIDC{provider: provider, client: client, roleClaim: opts.RoleClaim, nameClaim: opts.NameClaim,
		roles: opts.Roles, now: opts.NowFunc, pending: map[string]*pendingLogin{},
		verifier: provider.Verifier(&oidc.Config{ClientID: opts.ClientID}),
		config: oauth2.Config{ClientID: opts.ClientID, ClientSecret: opts.ClientSecret, RedirectURL: opts.RedirectURL,
			Endpoint: provider.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, scopes...)}}
	if o.roleClaim == "" {
		o.roleClaim = "roles"
	}
	if o.now == nil {
		o.now = time.Now
	}
	return o, nil
}

// Identify implements Authenticator: the session cookie decides.
func (o *OIDC) Identify(*http.Request) (*Operator, error) { return nil, nil }

// stateCookie binds a login to the browser that started it. SameSite=Lax, not Strict:
// the provider's redirect back is a cross-site navigation.
const stateCookie = "onboarding_backoffice_oidc"

// ServeLogin implements Authenticator: GET /backoffice/login leaves for the provider;
// GET /backoffice/login/callback comes back with a code, exchanged and verified.
func (o *OIDC) ServeLogin(w http.ResponseWriter, r *http.Request, ui LoginUI) (*Operator, error) {
	if r.Method != http.MethodGet {
		ui.Error(w, r, http.StatusMethodNotAllowed, "Sign in with the link on the login page.")
		return nil, nil
	}
	if !strings.HasSuffix(r.URL.Path, "/callback") {
		return nil, o.start(w, r, ui)
	}
	op, err := o.finish(r)
	if err != nil {
		ui.Error(w, r, http.StatusUnauthorized, "The sign-in did not succeed. Try again, or ask an admin for a back-office role.")
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Path: "/backoffice/login", MaxAge: -1, HttpOnly: true,
		Secure: ui.SecureCookies(), SameSite: http.SameSiteLaxMode})
	return op, nil
}

func randomString() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("backoffice: cannot read random bytes: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (o *OIDC) start(w http.ResponseWriter, r *http.Request, ui LoginUI) error {
	state, nonce, verifier := randomString(), randomString(), oauth2.GenerateVerifier()
	now := o.now()
	o.mu.Lock()
	for k, p := range o.pending {
		if now.After(p.expires) {
			delete(o.pending, k)
		}
	}
	if len(o.pending) >= 10000 {
		o.mu.Unlock()
		ui.Error(w, r, http.StatusServiceUnavailable, "Too many sign-ins in progress; try again in a few minutes.")
		return nil
	}
	o.pending[state] = &pendingLogin{nonce: nonce, verifier: verifier, expires: now.Add(loginTimeout)}
	o.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state, Path: "/backoffice/login", MaxAge: int(loginTimeout.Seconds()),
		HttpOnly: true, Secure: ui.SecureCookies(), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, o.config.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	return nil
}

func (o *OIDC) finish(r *http.Request) (*Operator, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return nil, &LoginFailure{Reason: "the provider answered " + truncateName(e)}
	}
	state := q.Get("state")
	c, err := r.Cookie(stateCookie)
	if err != nil || state == "" || c.Value != state {
		return nil, &LoginFailure{Reason: "the state does not match this browser's"}
	}
	o.mu.Lock()
	p := o.pending[state]
	delete(o.pending, state) // a state is good once
	o.mu.Unlock()
	if p == nil || o.now().After(p.expires) {
		return nil, &LoginFailure{Reason: "unknown or expired state"}
	}
	ctx := oidc.ClientContext(r.Context(), o.client)
	tok, err := o.config.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		return nil, &LoginFailure{Reason: "code exchange: " + err.Error()}
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, &LoginFailure{Reason: "the token response has no id_token"}
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, &LoginFailure{Reason: "id token: " + err.Error()}
	}
	if idt.Nonce != p.nonce {
		return nil, &LoginFailure{Username: idt.Subject, Reason: "the id token's nonce does not match"}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, &LoginFailure{Username: idt.Subject, Reason: "id token claims: " + err.Error()}
	}
	name := o.name(claims, idt.Subject)
	if err := checkOperatorName(name); err != nil {
		return nil, &LoginFailure{Username: truncateName(name), Reason: "unusable operator name"}
	}
	role := highestRole(claimStrings(claims[o.roleClaim]), o.roles)
	if role == "" {
		return nil, &LoginFailure{Username: name, Reason: "no back-office role in claim " + o.roleClaim}
	}
	return &Operator{Name: name, Role: role}, nil
}

func (o *OIDC) name(claims map[string]any, sub string) string {
	for _, k := range []string{o.nameClaim, "preferred_username", "email"} {
		if v, ok := claims[k].(string); k != "" && ok && v != "" {
			return v
		}
	}
	return sub
}

// claimStrings reads a claim that is a string, a space- or comma-separated list, or an
// array of strings.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
