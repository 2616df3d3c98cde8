package kycapp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

// Session is what a link's one-time code stands for: one customer of one partner, until
// ExpiresAt.
type Session struct {
	PartnerID  string
	CustomerID string
	// ExpiresAt ends the browser session; zero means Options.SessionTTL from the exchange.
	ExpiresAt time.Time
}

// Sessions exchanges the one-time code of a session link for the customer it was issued
// for. An implementation must accept each code once, refuse it after its expiry, and be
// safe for concurrent use. Production passes the Service's exchange of biometrics session
// codes (the code of POST /customers/{id}/biometrics' session_url) through a small
// adapter; tests may pass any store with those properties.
type Sessions interface {
	Exchange(ctx context.Context, code string) (Session, error)
}

// SessionsFunc adapts a function to Sessions.
type SessionsFunc func(ctx context.Context, code string) (Session, error)

// Exchange calls f.
func (f SessionsFunc) Exchange(ctx context.Context, code string) (Session, error) {
	return f(ctx, code)
}

// Errors of an exchange that mean "this link no longer opens anything". The handler
// answers 410 Gone to each (and to onboarding.ErrNotFound), with a page that says nothing
// about the customer; any other error is a 500.
var (
	// ErrCodeUsed: the code was already exchanged.
	ErrCodeUsed = errors.New("kycapp: the link was already used")
	// ErrCodeExpired: the code's time is over.
	ErrCodeExpired = errors.New("kycapp: the link has expired")
	// ErrCodeUnknown: no such code was issued (or it was malformed).
	ErrCodeUnknown = errors.New("kycapp: unknown link")
)

// maxCodeLen bounds a code before it is passed to the exchange.
const maxCodeLen = 512

// claims is the content of the session cookie.
type claims struct {
	PartnerID  string `json:"p"`
	CustomerID string `json:"c"`
	Expires    int64  `json:"e"` // Unix seconds
	ID         string `json:"s"` // random; keys the rate limiter
}

// cookieCodec signs and checks session cookies. The cookie holds IDs only (no personal
// data) and is HttpOnly, so it is signed, not encrypted.
type cookieCodec struct{ key []byte }

const cookieVersion = "v1"

func (c cookieCodec) mac(payload string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("kycapp-session." + cookieVersion + "." + payload))
	return m.Sum(nil)
}

func (c cookieCodec) encode(cl claims) string {
	b, _ := json.Marshal(cl)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return cookieVersion + "." + payload + "." + base64.RawURLEncoding.EncodeToString(c.mac(payload))
}

// decode returns the claims of a cookie value signed with the key and not expired at now.
func (c cookieCodec) decode(v string, now time.Time) (claims, bool) {
	if len(v) > 1024 {
		return claims{}, false
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[0] != cookieVersion {
		return claims{}, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, c.mac(parts[1])) {
		return claims{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}, false
	}
	var cl claims
	if json.Unmarshal(b, &cl) != nil || cl.PartnerID == "" || cl.CustomerID == "" || cl.ID == "" {
		return claims{}, false
	}
	if now.Unix() >= cl.Expires {
		return claims{}, false
	}
	return cl, true
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// ServiceSessions is the exchange production uses: the one-time codes that the Service
// puts in session URLs (Options.KYCPageURL, Service.StartBiometricsSession), exchanged
// through Service.ExchangeBiometricsCode for any partner's customer. A used, expired or
// unknown code — the Service does not say which — is ErrCodeUnknown, and so is the code
// of a customer who was denied since: every one of them answers 410 and shows nothing.
func ServiceSessions(svc *onboarding.Service) Sessions {
	return SessionsFunc(func(ctx context.Context, code string) (Session, error) {
		cs, err := svc.ExchangeBiometricsCode(ctx, "", code)
		switch {
		case errors.Is(err, onboarding.ErrInvalidCode), errors.Is(err, onboarding.ErrInvalidTransition),
			errors.Is(err, onboarding.ErrNotFound):
			return Session{}, fmt.Errorf("%w: %w", ErrCodeUnknown, err)
		case err != nil:
			return Session{}, err
		}
		return Session{PartnerID: cs.PartnerID, CustomerID: cs.CustomerID, ExpiresAt: cs.ExpiresAt}, nil
	})
}
