package backoffice_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/backoffice"
)

func TestLocalAccounts(t *testing.T) {
	t.Parallel()
	l := backoffice.NewLocalAccounts(&backoffice.LocalOptions{MaxFailures: 2})
	assert.Error(t, l.Add("ana", "short", backoffice.RoleAdmin), "passwords have 12 characters or more")
	for _, name := range []string{"", "a b", "a:b", "a,b", "a\nb", strings.Repeat("x", 101)} {
		assert.Error(t, l.Add(name, "long-enough-password", backoffice.RoleViewer), "%q", name)
	}
	assert.Error(t, l.Add("ana", "long-enough-password", "boss"))
	for _, h := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		assert.Error(t, l.AddHash("ana", h, backoffice.RoleAdmin), h)
	}
	require.NoError(t, l.Add("ana", "long-enough-password", backoffice.RoleAdmin))
	op, err := l.Authenticate("ana", "long-enough-password")
	require.NoError(t, err)
	assert.Equal(t, &backoffice.Operator{Name: "ana", Role: backoffice.RoleAdmin}, op)
	assert.Equal(t, "operator:ana", op.Actor())
	_, err = l.Authenticate("ana", "long-enough-passworD")
	var lf *backoffice.LoginFailure
	require.ErrorAs(t, err, &lf)
	assert.Equal(t, "ana", lf.Username)
	_, err = l.Authenticate("ana", "long-enough-password")
	require.NoError(t, err, "a success resets the count")
	_, _ = l.Authenticate("ana", "x")
	_, _ = l.Authenticate("ana", "y")
	_, err = l.Authenticate("ana", "long-enough-password")
	assert.Error(t, err, "locked after MaxFailures")
	require.NoError(t, l.Unlock("ana"))
	_, err = l.Authenticate("ana", "long-enough-password")
	assert.NoError(t, err)
	assert.Error(t, l.Unlock("nobody"))

	h, err := backoffice.HashPassword("another-long-password")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"))
	h2, _ := backoffice.HashPassword("another-long-password")
	assert.NotEqual(t, h, h2, "salted")
	require.NoError(t, l.AddHash("bia", h, backoffice.RoleViewer))
	_, err = l.Authenticate("bia", "another-long-password")
	assert.NoError(t, err)
}

func TestRoles(t *testing.T) {
	t.Parallel()
	assert.True(t, backoffice.RoleAdmin.Can(backoffice.RoleReviewer))
	assert.True(t, backoffice.RoleReviewer.Can(backoffice.RoleViewer))
	assert.False(t, backoffice.RoleViewer.Can(backoffice.RoleReviewer))
	assert.False(t, backoffice.Role("boss").Can(backoffice.RoleViewer))
	r, err := backoffice.ParseRole(" Admin ")
	require.NoError(t, err)
	assert.Equal(t, backoffice.RoleAdmin, r)
	_, err = backoffice.ParseRole("root")
	assert.Error(t, err)
}

func TestTrustedProxy(t *testing.T) {
	t.Parallel()
	_, err := backoffice.NewTrustedProxy(backoffice.ProxyOptions{})
	assert.Error(t, err, "the proxy's addresses are required")
	loopback, err := backoffice.ParsePrefixes("127.0.0.1, ::1")
	require.NoError(t, err)
	_, err = backoffice.ParsePrefixes("10.0.0.0/33")
	assert.Error(t, err)

	trusted, err := backoffice.NewTrustedProxy(backoffice.ProxyOptions{Trusted: loopback})
	require.NoError(t, err)
	e := newEnv(t, envOptions{bo: &backoffice.Options{Authenticator: trusted}})
	cust, docs := e.submitted(t, "acme")
	c := e.client(t)
	get := func(path string, hdr map[string]string) response {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		require.NoError(t, err)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return e.do(t, c, req)
	}
	res := get("/backoffice/customers/"+cust.ID, map[string]string{"X-Forwarded-User": "paula", "X-Forwarded-Role": "viewer,reviewer"})
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.body, `data-operator="paula"`)
	assert.Contains(t, res.body, `data-action="approve"`, "the highest role given")
	assert.NotContains(t, res.body, "Log out", "no session to close")
	assert.Equal(t, http.StatusSeeOther, get("/backoffice/", nil).StatusCode, "no header, no operator")
	assert.Equal(t, http.StatusForbidden, get("/backoffice/", map[string]string{"X-Forwarded-User": "paula"}).StatusCode,
		"no role and no default role")
	assert.Equal(t, http.StatusForbidden, get("/backoffice/", map[string]string{"X-Forwarded-User": "pa ula", "X-Forwarded-Role": "admin"}).StatusCode)
	assert.Equal(t, http.StatusUnauthorized, get("/backoffice/login", nil).StatusCode)

	// The decision goes on record as the proxy's operator.
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/backoffice/api/customers/"+cust.ID+"/documents/"+docs["req_ccmei"].ID+"/approve", nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-User", "paula")
	req.Header.Set("X-Forwarded-Role", "reviewer")
	require.Equal(t, http.StatusOK, e.do(t, c, req).StatusCode)
	assert.True(t, e.hasAudit(t, "operator:paula", onboarding.AuditApprove))

	// The same headers from an address that is not the proxy's are refused.
	elsewhere, err := backoffice.NewTrustedProxy(backoffice.ProxyOptions{Trusted: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")},
		DefaultRole: backoffice.RoleViewer})
	require.NoError(t, err)
	e2 := newEnv(t, envOptions{bo: &backoffice.Options{Authenticator: elsewhere}})
	req, err = http.NewRequest(http.MethodGet, e2.srv.URL+"/backoffice/", nil)
	require.NoError(t, err)
	req.Header.Set("X-Forwarded-User", "mallory")
	req.Header.Set("X-Forwarded-Role", "admin")
	res = e2.do(t, e2.client(t), req)
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.NotContains(t, res.body, "mallory")
}

// ---- an OpenID Connect provider for the tests: discovery, JWKS, authorize, token ----

type oidcProvider struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer *rsa.PrivateKey // signs tokens; another key than key to forge them
	mu     sync.Mutex
	codes  map[string]grant
	// claims are those of the next login.
	claims map[string]any
	// nonce, when set, replaces the nonce of the next token.
	nonce string
}

type grant struct {
	clientID, redirect, nonce, challenge string
	claims                               map[string]any
}

func newOIDCProvider(t *testing.T) *oidcProvider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p := &oidcProvider{t: t, key: key, signer: key, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := p.srv.URL
		writeJSONTest(w, map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		enc := base64.RawURLEncoding
		writeJSONTest(w, map[string]any{"keys": []map[string]any{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": enc.EncodeToString(key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
			!strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		code := base64.RawURLEncoding.EncodeToString(sha256.New().Sum([]byte(q.Get("state"))))[:20]
		p.mu.Lock()
		p.codes[code] = grant{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"), nonce: q.Get("nonce"),
			challenge: q.Get("code_challenge"), claims: p.claims}
		p.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		clientID, secret, ok := r.BasicAuth()
		if !ok {
			clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		p.mu.Lock()
		g, found := p.codes[r.PostForm.Get("code")]
		delete(p.codes, r.PostForm.Get("code"))
		nonce := p.nonce
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !found || secret != "client-secret" || clientID != g.clientID || r.PostForm.Get("redirect_uri") != g.redirect ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		if nonce == "" {
			nonce = g.nonce
		}
		claims := map[string]any{"iss": p.srv.URL, "sub": "subject-1", "aud": g.clientID, "nonce": nonce,
			"iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix()}
		for k, v := range g.claims {
			claims[k] = v
		}
		writeJSONTest(w, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": p.sign(claims)})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *oidcProvider) sign(claims map[string]any) string {
	enc := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	input := enc.EncodeToString(head) + "." + enc.EncodeToString(body)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.signer, crypto.SHA256, sum[:])
	require.NoError(p.t, err)
	return input + "." + enc.EncodeToString(sig)
}

func writeJSONTest(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func TestOIDC(t *testing.T) {
	t.Parallel()
	p := newOIDCProvider(t)
	ctx := context.Background()
	_, err := backoffice.NewOIDC(ctx, backoffice.OIDCOptions{Issuer: p.srv.URL})
	assert.Error(t, err, "client and redirect URL required")
	_, err = backoffice.NewOIDC(ctx, backoffice.OIDCOptions{Issuer: p.srv.URL + "/nothing", ClientID: "bo", RedirectURL: "http://x/cb"})
	assert.Error(t, err, "discovery fails")

	// The redirect URL is only known once the back office listens: a listener first.
	var redirect string
	e := newEnv(t, envOptions{bo: &backoffice.Options{Authenticator: &lazyAuth{build: func() backoffice.Authenticator {
		o, err := backoffice.NewOIDC(ctx, backoffice.OIDCOptions{Issuer: p.srv.URL, ClientID: "backoffice", ClientSecret: "client-secret",
			RedirectURL: redirect, RoleClaim: "groups", Roles: map[string]backoffice.Role{"kyc-analysts": backoffice.RoleReviewer,
				"kyc-leads": backoffice.RoleAdmin}})
		require.NoError(t, err)
		return o
	}}}})
	redirect = e.srv.URL + "/backoffice/login/callback"

	browser := func() *http.Client {
		c := e.client(t)
		c.CheckRedirect = nil // follow: backoffice → provider → callback
		return c
	}
	p.claims = map[string]any{"preferred_username": "lucia", "groups": []string{"staff", "kyc-analysts"}}
	c := browser()
	res := e.get(t, c, "/backoffice/login?next=/backoffice/operations")
	require.Equal(t, http.StatusOK, res.StatusCode, res.body)
	assert.Contains(t, res.body, `url=/backoffice/operations`, "moves on from a page of this origin")
	res = e.get(t, c, "/backoffice/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, res.body, `data-operator="lucia"`)
	assert.Contains(t, res.body, `role-reviewer`)
	assert.True(t, e.hasAudit(t, "operator:lucia", onboarding.AuditLogin))

	p.claims = map[string]any{"email": "marcos@example.com", "groups": "kyc-leads"}
	c = browser()
	e.get(t, c, "/backoffice/login")
	res = e.get(t, c, "/backoffice/api/me")
	assert.Equal(t, `{"name":"marcos@example.com","role":"admin"}`+"\n", res.body, "email when no username; a string claim")

	p.claims = map[string]any{"preferred_username": "otto", "groups": []string{"staff"}}
	c = browser()
	res = e.get(t, c, "/backoffice/login")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "no back-office role")
	assert.Equal(t, http.StatusSeeOther, e.get(t, e.client(t), "/backoffice/").StatusCode)
	assert.True(t, e.hasAudit(t, "operator:otto", onboarding.AuditLoginFailed))

	p.claims = map[string]any{"preferred_username": "lucia", "groups": []string{"kyc-analysts"}}
	p.nonce = "another-nonce"
	res = e.get(t, browser(), "/backoffice/login")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "the nonce must be this login's")
	p.nonce = ""

	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	p.signer = forger
	res = e.get(t, browser(), "/backoffice/login")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "a token not signed by the provider's key")
	p.signer = p.key

	// A callback this browser did not start (login CSRF) is refused.
	c = e.client(t)
	res = e.get(t, c, "/backoffice/login")
	require.Equal(t, http.StatusFound, res.StatusCode)
	loc, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "S256", loc.Query().Get("code_challenge_method"))
	assert.NotEmpty(t, loc.Query().Get("nonce"))
	other := e.client(t)
	res = e.get(t, other, "/backoffice/login/callback?code=x&state="+loc.Query().Get("state"))
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res = e.get(t, other, "/backoffice/login/callback?error=access_denied")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// lazyAuth builds the authenticator on first use.
type lazyAuth struct {
	once  sync.Once
	build func() backoffice.Authenticator
	a     backoffice.Authenticator
}

func (l *lazyAuth) auth() backoffice.Authenticator {
	l.once.Do(func() { l.a = l.build() })
	return l.a
}

func (l *lazyAuth) Identify(r *http.Request) (*backoffice.Operator, error) {
	return l.auth().Identify(r)
}

func (l *lazyAuth) ServeLogin(w http.ResponseWriter, r *http.Request, ui backoffice.LoginUI) (*backoffice.Operator, error) {
	return l.auth().ServeLogin(w, r, ui)
}
