package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/onboardkit/onboarding"
)

// Who may call what. A partner token carries its credential's scopes and each route
// names the scope it needs (403 forbidden otherwise). A customer-session token, from
// POST /biometrics/session-exchange, acts for one customer: it may read that customer and
// upload its KYC, and nothing else.

// DefaultCredentialCacheTTL is how long the state of a stored credential is trusted
// without reading it again (Options.CredentialCacheTTL).
const DefaultCredentialCacheTTL = time.Second

// access is what a route requires of a token.
type access struct {
	// scope is the scope a partner token needs; "" means any partner token.
	scope onboarding.Scope
	// customer lets a customer-session token call the route for its own customer.
	customer bool
	// customerOnly refuses partner tokens: only a customer-session token may call.
	customerOnly bool
}

// orCustomer is ac, also open to customer-session tokens.
func (ac access) orCustomer() access {
	ac.customer = true
	return ac
}

func forbidden(detail string) *problem {
	return &problem{status: http.StatusForbidden, code: "forbidden", detail: detail}
}

// check refuses a token the route does not admit.
func (ac access) check(r *http.Request, auth authResult) error {
	if auth.customer != "" {
		if !ac.customer && !ac.customerOnly {
			return forbidden("A customer session token may only read its customer and upload its KYC.")
		}
		if r.PathValue("id") != auth.customer {
			return forbidden("A customer session token acts only for its own customer.")
		}
		return nil
	}
	if ac.customerOnly {
		return forbidden("This route takes a customer session token (POST /biometrics/session-exchange), not a partner token.")
	}
	if ac.scope != "" && !slices.Contains(auth.scopes, ac.scope) {
		return forbidden("The credential lacks the scope " + string(ac.scope) + ".")
	}
	return nil
}

// credCache remembers, briefly, the state of stored credentials, so that checking the
// credential behind every request costs a read per credential per TTL, not per request.
type credCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]credEntry
}

type credEntry struct {
	cred *onboarding.Credential // nil: not usable
	at   time.Time
}

func newCredCache(ttl time.Duration) *credCache {
	return &credCache{ttl: ttl, m: map[string]credEntry{}}
}

// maxCachedCredentials bounds the cache; beyond, it starts over.
const maxCachedCredentials = 10000

// get returns the usable credential id, reading it through svc when the cached state is
// older than the TTL. A revoked, expired or unknown credential is nil.
func (c *credCache) get(ctx context.Context, svc *onboarding.Service, id string, now time.Time) (*onboarding.Credential, error) {
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[id]
		c.mu.Unlock()
		if ok && now.Sub(e.at) < c.ttl && now.Sub(e.at) >= 0 {
			if e.cred != nil && !e.cred.Usable(now) {
				return nil, nil // expired since it was read
			}
			return e.cred, nil
		}
	}
	cred, err := svc.CheckCredential(ctx, id)
	if errors.Is(err, onboarding.ErrInvalidCredentials) {
		cred, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if c.ttl > 0 {
		c.mu.Lock()
		if len(c.m) >= maxCachedCredentials {
			c.m = map[string]credEntry{}
		}
		c.m[id] = credEntry{cred: cred, at: now}
		c.mu.Unlock()
	}
	return cred, nil
}

// forget drops id, so that a revocation made here takes effect at once.
func (c *credCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
