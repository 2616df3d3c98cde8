package onboarding

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The credentials capability: API clients a partner creates, lists and revokes itself.
// The secret is shown once, at creation; the Store keeps only its SHA-256. A credential
// carries scopes, may expire, and records when it last got a token. An HTTP layer checks
// the credential behind every request (CheckCredential), so that revoking it stops the
// tokens it already holds.

// Scope is a permission a credential grants.
type Scope string

// The scopes. A credential created without scopes has all of them.
const (
	ScopeCustomersRead      Scope = "customers:read"
	ScopeCustomersWrite     Scope = "customers:write"
	ScopeKYCUpload          Scope = "kyc:upload"
	ScopeOffersRead         Scope = "offers:read"
	ScopeWebhooksManage     Scope = "webhooks:manage"
	ScopeCredentialsManage  Scope = "credentials:manage"
	ScopeBiometricsExchange Scope = "biometrics:exchange"
)

// AllScopes returns every scope, in a stable order (a new slice each call).
func AllScopes() []Scope {
	return []Scope{ScopeCustomersRead, ScopeCustomersWrite, ScopeKYCUpload, ScopeOffersRead, ScopeWebhooksManage,
		ScopeCredentialsManage, ScopeBiometricsExchange}
}

// CredentialStatus is active or revoked.
type CredentialStatus string

// The credential statuses.
const (
	CredentialActive  CredentialStatus = "active"
	CredentialRevoked CredentialStatus = "revoked"
)

// ErrInvalidCredentials is returned by AuthenticateCredential and CheckCredential for an
// unknown client, a wrong secret, or a revoked or expired credential: deliberately one
// answer for all of them.
var ErrInvalidCredentials = errors.New("onboarding: invalid client credentials")

// Credential is a partner's API client. Its ID is the OAuth client_id.
type Credential struct {
	ID        string
	PartnerID string
	Name      string
	// SecretHash is HashClientSecret of the secret; the secret itself is never stored.
	SecretHash string
	Scopes     []Scope
	Status     CredentialStatus
	// ExpiresAt is zero for a credential that does not expire.
	ExpiresAt time.Time
	// LastUsedAt is when the credential last obtained a token (zero: never).
	LastUsedAt time.Time
	// RevokedAt is when it was revoked (zero: it was not).
	RevokedAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Clone returns a deep copy of c.
func (c *Credential) Clone() *Credential {
	if c == nil {
		return nil
	}
	out := *c
	out.Scopes = slices.Clone(c.Scopes)
	return &out
}

// Usable reports whether the credential may authenticate at now: active and unexpired.
func (c *Credential) Usable(now time.Time) bool {
	return c.Status == CredentialActive && (c.ExpiresAt.IsZero() || now.Before(c.ExpiresAt))
}

// HasScope reports whether the credential grants sc.
func (c *Credential) HasScope(sc Scope) bool { return slices.Contains(c.Scopes, sc) }

// credentialJSON is the guide's form of a credential (RFC 3339 times).
type credentialJSON struct {
	ID         string           `json:"id"`
	ClientID   string           `json:"client_id"`
	Name       string           `json:"name"`
	Status     CredentialStatus `json:"status"`
	Scopes     []Scope          `json:"scopes"`
	ExpiresAt  *time.Time       `json:"expires_at"`
	LastUsedAt *time.Time       `json:"last_used_at"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// MarshalJSON encodes the credential as the guide's API object: never its secret hash.
func (c *Credential) MarshalJSON() ([]byte, error) {
	return json.Marshal(credentialJSON{ID: c.ID, ClientID: c.ID, Name: c.Name, Status: c.Status, Scopes: c.Scopes,
		ExpiresAt: timePtr(c.ExpiresAt), LastUsedAt: timePtr(c.LastUsedAt), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt})
}

// CredentialQueries are the Store's reads and writes of credentials.
type CredentialQueries interface {
	// InsertCredential stores a new credential.
	InsertCredential(ctx context.Context, c *Credential) error
	// GetCredential returns one of the partner's credentials.
	GetCredential(ctx context.Context, partnerID, id string) (*Credential, error)
	// FindCredential returns a credential by client ID, whatever its partner: the token
	// endpoint knows only the client ID.
	FindCredential(ctx context.Context, id string) (*Credential, error)
	// ListCredentials returns up to f.Limit of the partner's credentials after
	// f.StartingAfter, oldest first.
	ListCredentials(ctx context.Context, partnerID string, f ListCredentialsParams) ([]*Credential, error)
	// RevokeCredential marks an active credential revoked at `at`; revoking a revoked
	// one changes nothing. ErrNotFound when the partner has no such credential.
	RevokeCredential(ctx context.Context, partnerID, id string, at time.Time) error
	// TouchCredential sets LastUsedAt to `at` unless it is already later.
	TouchCredential(ctx context.Context, id string, at time.Time) error
}

// ListCredentialsParams pages ListCredentials.
type ListCredentialsParams struct {
	Limit         int
	StartingAfter string
}

// CredentialPage is one page of credentials.
type CredentialPage = Page[*Credential]

// CreateCredentialParams creates a credential.
type CreateCredentialParams struct {
	// Name is required: 1 to 200 characters, for the partner's own bookkeeping.
	Name string
	// ExpiresAt, when not zero, must be in the future: the credential stops working then.
	ExpiresAt time.Time
	// Scopes the credential grants; nil or empty means AllScopes.
	Scopes []Scope
}

// HashClientSecret is how a client secret is stored: "sha256:" and its hex SHA-256.
// Secrets are 256 random bits, not passwords, so a fast hash is enough.
func HashClientSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newSecret returns prefix and 43 base64url characters (32 random bytes).
func newSecret(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("onboarding: read random bytes: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// prefixCredential prefixes client IDs of stored credentials.
const prefixCredential = "ci"

// CreateCredential creates a credential for the partner and returns it with its secret,
// which is never shown again.
func (s *Service) CreateCredential(ctx context.Context, partnerID string, p CreateCredentialParams) (*Credential, string, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, "", err
	}
	now := s.clock()
	ve := &ValidationError{}
	name := strings.TrimSpace(p.Name)
	checkText(ve, "name", name, true, maxNameLen)
	if !p.ExpiresAt.IsZero() && !p.ExpiresAt.After(now) {
		ve.add("expires_at", CodeInvalidValue, "must be in the future")
	}
	scopes := slices.Clone(p.Scopes)
	if len(scopes) == 0 {
		scopes = AllScopes()
	}
	for _, sc := range scopes {
		if !slices.Contains(AllScopes(), sc) {
			ve.add("scopes", CodeInvalidValue, "holds an unknown scope; known: "+scopeList())
			break
		}
	}
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	if err := ve.orNil(); err != nil {
		return nil, "", err
	}
	secret, err := newSecret("cs_")
	if err != nil {
		return nil, "", err
	}
	c := &Credential{ID: NewID(prefixCredential), PartnerID: partnerID, Name: name, SecretHash: HashClientSecret(secret),
		Scopes: scopes, Status: CredentialActive, CreatedAt: now, UpdatedAt: now}
	if !p.ExpiresAt.IsZero() {
		c.ExpiresAt = p.ExpiresAt.UTC().Truncate(time.Microsecond)
	}
	if err := s.store.InsertCredential(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

func scopeList() string {
	var names []string
	for _, sc := range AllScopes() {
		names = append(names, string(sc))
	}
	return strings.Join(names, ", ")
}

// GetCredential returns one of the partner's credentials.
func (s *Service) GetCredential(ctx context.Context, partnerID, id string) (*Credential, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.store.GetCredential(ctx, partnerID, id)
}

// ListCredentials pages through the partner's credentials, oldest first.
func (s *Service) ListCredentials(ctx context.Context, partnerID string, p ListCredentialsParams) (*CredentialPage, error) {
	return listPage(partnerID, p.Limit, nil, func(limit int) ([]*Credential, error) {
		p.Limit = limit
		return s.store.ListCredentials(ctx, partnerID, p)
	})
}

// RevokeCredential revokes a credential at once and for good: it gets no new token, and
// a layer that checks CheckCredential per request refuses the tokens it holds.
func (s *Service) RevokeCredential(ctx context.Context, partnerID, id string) (*Credential, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	if err := s.store.RevokeCredential(ctx, partnerID, id, s.clock()); err != nil {
		return nil, err
	}
	return s.store.GetCredential(ctx, partnerID, id)
}

// AuthenticateCredential checks a client ID and secret (in constant time) and returns
// the credential, recording the use. Any failure is ErrInvalidCredentials.
func (s *Service) AuthenticateCredential(ctx context.Context, clientID, secret string) (*Credential, error) {
	c, err := s.store.FindCredential(ctx, clientID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	want := HashClientSecret("onboarding: no such credential")
	if c != nil {
		want = c.SecretHash
	}
	match := subtle.ConstantTimeCompare([]byte(HashClientSecret(secret)), []byte(want)) == 1
	now := s.clock()
	if c == nil || !match || !c.Usable(now) {
		return nil, ErrInvalidCredentials
	}
	if err := s.store.TouchCredential(ctx, c.ID, now); err != nil {
		return nil, err
	}
	c.LastUsedAt = now
	return c, nil
}

// CheckCredential returns the credential behind a token when it is still usable, and
// ErrInvalidCredentials when it was revoked, expired or deleted.
func (s *Service) CheckCredential(ctx context.Context, clientID string) (*Credential, error) {
	c, err := s.store.FindCredential(ctx, clientID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if !c.Usable(s.clock()) {
		return nil, ErrInvalidCredentials
	}
	return c, nil
}
