package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// Client is one API credential configured by the lender: the partner it acts for and the
// hash of its secret. Partners may also create credentials of their own through
// /auth/credentials; those live in the Store.
type Client struct {
	// PartnerID is the tenant whose data the client sees.
	PartnerID string
	// SecretHash is HashSecret of the client secret; the secret itself is never stored.
	SecretHash string
	// Scopes the client's tokens carry; nil means every scope (onboarding.AllScopes).
	Scopes []onboarding.Scope
}

const secretHashPrefix = "sha256:"

// HashSecret returns the form of a client secret that Options.Clients stores:
// "sha256:" and the hex SHA-256 of the secret. Client secrets must be long random strings
// (NewClientSecret makes 256-bit ones), not passwords: a fast hash is then enough, since
// guessing the secret is as hard as guessing its random bits.
func HashSecret(secret string) string { return onboarding.HashClientSecret(secret) }

// NewClientSecret returns a new random client secret: "cs_" and 43 base64url characters
// (32 random bytes).
func NewClientSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "cs_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// authResult is what the Authorization header proved.
type authResult struct {
	partner, client string
	// customer is set for a customer-session token: the one customer it acts for.
	customer string
	// scopes are a partner token's scopes.
	scopes []onboarding.Scope
	// secretVersion is the token's fingerprint of its client's secret: a token it mints
	// (a customer session) dies with the same secret.
	secretVersion string
	err           error
}

// tokenPrefix versions the token format.
const tokenPrefix = "v1."

// maxTokenLen bounds what is parsed.
const maxTokenLen = 2048

// tokenClaims is the signed payload of an access token.
type tokenClaims struct {
	Partner  string `json:"p"`
	Client   string `json:"c"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	Nonce    string `json:"n"`
	// Customer makes the token a customer-session token for that customer.
	Customer string `json:"cu,omitempty"`
	// SecretVersion fingerprints the client's secret when the token was issued: a new
	// secret (or a removed client) ends the tokens issued under the old one at once.
	SecretVersion string `json:"sv"`
}

// secretVersion is a token's fingerprint of a client secret's hash: keyed by the token
// key, so it says nothing about the secret to whoever reads a token.
func (a *api) secretVersion(secretHash string) string { return secretVersion(a.tokenKey, secretHash) }

func secretVersion(key []byte, secretHash string) string {
	return base64.RawURLEncoding.EncodeToString(mac(key, "client secret "+secretHash)[:9])
}

func unauthorized(code, detail string) *problem {
	return &problem{status: http.StatusUnauthorized, code: code, detail: detail,
		header: http.Header{"Www-Authenticate": {`Bearer realm="onboarding", error="invalid_token"`}}}
}

// authenticate checks a Bearer token.
func (a *api) authenticate(ctx context.Context, r *http.Request) authResult {
	h := r.Header.Get("Authorization")
	if h == "" {
		p := unauthorized("missing_token", "Send Authorization: Bearer <access_token>; get one from POST /auth/token.")
		p.header.Set("Www-Authenticate", `Bearer realm="onboarding"`)
		return authResult{err: p}
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		p := unauthorized("missing_token", "The Authorization header must use the Bearer scheme.")
		p.header.Set("Www-Authenticate", `Bearer realm="onboarding"`)
		return authResult{err: p}
	}
	c, scopes, err := a.verifyToken(ctx, strings.TrimSpace(tok))
	if err != nil {
		return authResult{err: err}
	}
	return authResult{partner: c.Partner, client: c.Client, customer: c.Customer, scopes: scopes, secretVersion: c.SecretVersion}
}

// signToken issues a token for a client whose secret has the hash secretHash.
func (a *api) signToken(clientID, partnerID, secretHash string, now time.Time) string {
	return a.sign(tokenClaims{Partner: partnerID, Client: clientID, IssuedAt: now.Unix(), Expires: now.Add(a.tokenTTL).Unix(),
		SecretVersion: a.secretVersion(secretHash)})
}

// sign signs claims, with a fresh nonce.
func (a *api) sign(c tokenClaims) string {
	var n [9]byte
	_, _ = rand.Read(n[:])
	c.Nonce = base64.RawURLEncoding.EncodeToString(n[:])
	claims, _ := json.Marshal(c)
	payload := tokenPrefix + base64.RawURLEncoding.EncodeToString(claims)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(a.tokenKey, payload))
}

func mac(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

var errInvalidToken = unauthorized("invalid_token", "The access token is not valid; get a new one from POST /auth/token.")

// verifyToken checks a token's signature (under the current or a previous key), its
// expiry, and that its client still exists for the same partner: a configured client, or
// a stored credential still active and unexpired (read through the credential cache). It
// returns the claims and the client's scopes.
func (a *api) verifyToken(ctx context.Context, tok string) (*tokenClaims, []onboarding.Scope, error) {
	c, err := a.parseToken(tok)
	if err != nil {
		return nil, nil, err
	}
	if a.now().Unix() >= c.Expires {
		return nil, nil, unauthorized("token_expired", "The access token has expired; get a new one from POST /auth/token.")
	}
	if cl, ok := a.clients[c.Client]; ok {
		if cl.PartnerID != c.Partner || !a.sameSecret(c, cl.SecretHash) {
			return nil, nil, errInvalidToken // the client's secret changed since: its tokens die
		}
		if cl.Scopes == nil {
			return c, onboarding.AllScopes(), nil
		}
		return c, cl.Scopes, nil
	}
	cred, err := a.creds.get(ctx, a.svc, c.Client, a.now())
	if err != nil {
		return nil, nil, err
	}
	if cred == nil || cred.PartnerID != c.Partner || !a.sameSecret(c, cred.SecretHash) {
		return nil, nil, errInvalidToken // removed, revoked, expired, moved or a new secret: its tokens die
	}
	return c, cred.Scopes, nil
}

// sameSecret reports whether c was issued under the secret whose hash is secretHash (its
// fingerprint made with the current token key or a previous one).
func (a *api) sameSecret(c *tokenClaims, secretHash string) bool {
	for _, k := range a.verifyKey {
		if hmac.Equal([]byte(c.SecretVersion), []byte(secretVersion(k, secretHash))) {
			return true
		}
	}
	return false
}

// parseToken checks a token's format and signature and returns its claims.
func (a *api) parseToken(tok string) (*tokenClaims, error) {
	if len(tok) > maxTokenLen || !strings.HasPrefix(tok, tokenPrefix) {
		return nil, errInvalidToken
	}
	i := strings.LastIndexByte(tok, '.')
	if i <= len(tokenPrefix) {
		return nil, errInvalidToken
	}
	payload := tok[:i]
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return nil, errInvalidToken
	}
	ok := false
	for _, k := range a.verifyKey {
		if hmac.Equal(sig, mac(k, payload)) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, errInvalidToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload[len(tokenPrefix):])
	if err != nil {
		return nil, errInvalidToken
	}
	var c tokenClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, errInvalidToken
	}
	return &c, nil
}

// tokenResponse is the body of a successful POST /auth/token.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// maxFormBody bounds the token endpoint's form.
const maxFormBody = 16 << 10

func invalidClient() *problem {
	return &problem{status: http.StatusUnauthorized, code: "invalid_client", oauth: "invalid_client",
		detail: "The client credentials are missing or wrong; send Authorization: Basic base64(client_id:client_secret).",
		header: http.Header{"Www-Authenticate": {`Basic realm="onboarding"`}}}
}

// issueToken is POST /auth/token: the OAuth 2.0 client-credentials grant.
func (a *api) issueToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		p := badContentType("application/x-www-form-urlencoded")
		p.oauth = "invalid_request"
		return p
	}
	r.Body = http.MaxBytesReader(rc.rawW, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge("body_too_large", maxFormBody)
		}
		p := malformed("The form body could not be parsed.")
		p.oauth = "invalid_request"
		return p
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return &problem{status: http.StatusBadRequest, code: "missing_required_field", param: "grant_type",
			oauth: "invalid_request", detail: "grant_type is required and must be client_credentials."}
	default:
		return &problem{status: http.StatusBadRequest, code: "unsupported_grant_type", param: "grant_type",
			oauth: "unsupported_grant_type", detail: "grant_type must be client_credentials."}
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 §2.3.1: both are form-encoded inside the Basic credentials.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" || secret == "" {
		return invalidClient()
	}
	c, known := a.clients[id]
	partner, secretHash := c.PartnerID, c.SecretHash
	if known {
		if subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(c.SecretHash)) != 1 {
			return invalidClient()
		}
	} else {
		// Not configured by the lender: a credential the partner created.
		cred, err := a.svc.AuthenticateCredential(r.Context(), id, secret)
		if errors.Is(err, onboarding.ErrInvalidCredentials) {
			return invalidClient()
		}
		if err != nil {
			return err
		}
		partner, secretHash = cred.PartnerID, cred.SecretHash
	}
	rc.partner, rc.client = partner, id
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	a.writeJSON(w, r, http.StatusOK, tokenResponse{AccessToken: a.signToken(id, partner, secretHash, a.now()),
		TokenType: "bearer", ExpiresIn: int64(a.tokenTTL / time.Second)})
	return nil
}
