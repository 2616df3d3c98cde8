package webhook

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EndpointStatus says whether an endpoint receives deliveries.
type EndpointStatus string

const (
	// EndpointActive endpoints receive the events their filter matches.
	EndpointActive EndpointStatus = "active"
	// EndpointDisabled endpoints receive nothing: their owner disabled them, or the
	// receiver answered 410 Gone.
	EndpointDisabled EndpointStatus = "disabled"
)

// Rotation grace bounds (the API's expire_current_in defaults to 3600 s, at most 86400 s).
const (
	DefaultRotationGrace = time.Hour
	MaxRotationGrace     = 24 * time.Hour
)

// Limits on what an endpoint may hold.
const (
	MaxURLLength    = 2048
	MaxFilterLength = 64  // patterns in an event filter
	maxPatternLen   = 128 // bytes in one pattern
	maxSecrets      = 5   // the current secret and up to four still in their grace period
)

// Endpoint validation errors; each names the API field at fault.
var (
	// ErrInvalidURL is returned for an endpoint URL that is not absolute https (or http
	// when allowed), holds user info or a fragment, or names a forbidden host.
	ErrInvalidURL = errors.New("webhook: invalid endpoint url")
	// ErrInvalidFilter is returned for an event filter pattern that is malformed or, when
	// a catalogue is given, matches no known event type.
	ErrInvalidFilter = errors.New("webhook: invalid event filter")
	// ErrInvalidStatus is returned for a status other than active or disabled.
	ErrInvalidStatus = errors.New("webhook: invalid endpoint status")
	// ErrInvalidGrace is returned by Rotate for a grace period outside 0..24h.
	ErrInvalidGrace = errors.New("webhook: invalid rotation grace period")
)

// Secret is one signing secret of an endpoint.
type Secret struct {
	// Value is the secret in its "whsec_<base64>" form.
	Value string
	// CreatedAt is when the secret was generated.
	CreatedAt time.Time
	// ExpiresAt is zero for the current secret; a secret replaced by a rotation stays
	// valid for signing until ExpiresAt.
	ExpiresAt time.Time
}

// Endpoint is a partner's webhook destination. The JSON form is the API's endpoint
// object: it never includes the secrets or the partner.
type Endpoint struct {
	// ID identifies the endpoint ("we_…").
	ID string `json:"id"`
	// PartnerID is the tenant that owns the endpoint.
	PartnerID string `json:"-"`
	// URL receives the POSTs.
	URL string `json:"url"`
	// Events is the filter: exact types ("customer.active"), prefix wildcards
	// ("customer.*") or "*". Empty means every event.
	Events []string `json:"events"`
	// Description is free text for the endpoint's owner.
	Description string `json:"description"`
	// Status says whether the endpoint receives deliveries.
	Status EndpointStatus `json:"status"`
	// Secrets holds the current secret and those still in a rotation's grace period.
	Secrets []Secret `json:"-"`
	// CreatedAt is when the endpoint was registered.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when it last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// Matches reports whether the endpoint's event filter selects eventType. It looks at the
// filter only; a disabled endpoint may still match. An opt-in type (see OptIn) matches
// only a filter that lists it exactly.
func (e *Endpoint) Matches(eventType string) bool {
	if OptIn(eventType) {
		return slices.Contains(e.Events, eventType)
	}
	return MatchFilter(e.Events, eventType)
}

// MatchFilter reports whether filter selects eventType: the filter is empty, holds "*",
// holds eventType itself, or holds "prefix.*" where eventType starts with "prefix.".
func MatchFilter(filter []string, eventType string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, p := range filter {
		if matchPattern(p, eventType) {
			return true
		}
	}
	return false
}

func matchPattern(pattern, eventType string) bool {
	if pattern == "*" || pattern == eventType {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok && strings.HasSuffix(prefix, ".") {
		return strings.HasPrefix(eventType, prefix) && len(eventType) > len(prefix)
	}
	return false
}

// ValidateFilter checks an event filter. Every pattern is "*", or dot-separated
// segments of [A-Za-z0-9_] of which the last may be "*" ("customer.*"). When known
// event types are given, every pattern must also match at least one of them, which
// catches typos such as "customer.actve". Errors wrap ErrInvalidFilter.
func ValidateFilter(filter []string, known ...string) error {
	if len(filter) > MaxFilterLength {
		return fmt.Errorf("%w: %d patterns, at most %d", ErrInvalidFilter, len(filter), MaxFilterLength)
	}
	for _, p := range filter {
		if !validPattern(p) {
			return fmt.Errorf("%w: %q", ErrInvalidFilter, p)
		}
		if len(known) > 0 && !slices.ContainsFunc(known, func(t string) bool { return matchPattern(p, t) }) {
			return fmt.Errorf("%w: %q matches no event type", ErrInvalidFilter, p)
		}
	}
	return nil
}

func validPattern(p string) bool {
	if p == "*" {
		return true
	}
	if p == "" || len(p) > maxPatternLen {
		return false
	}
	segs := strings.Split(p, ".")
	for i, s := range segs {
		if s == "*" && i == len(segs)-1 && i > 0 {
			continue
		}
		if s == "" {
			return false
		}
		for j := 0; j < len(s); j++ {
			c := s[j]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// URLOptions relaxes endpoint URL validation. A nil *URLOptions means the production
// defaults: https only, no private or loopback destinations.
type URLOptions struct {
	// AllowInsecure accepts http:// URLs (sandbox and tests).
	AllowInsecure bool
	// AllowPrivate accepts loopback, private, link-local and other internal addresses
	// (sandbox and tests). See ForbiddenAddr.
	AllowPrivate bool
}

// ValidateURL checks an endpoint URL at registration: absolute https (http only with
// AllowInsecure), a host, no user info (credentials would be logged and sent to every
// redirect target), no fragment, a numeric port, at most MaxURLLength bytes. Unless
// AllowPrivate, a literal forbidden IP address and "localhost" are refused here too —
// but names are only resolved at dial time, where the real guard sits (see NewDialer).
// Errors wrap ErrInvalidURL (and ErrForbiddenAddress for a forbidden literal address).
func ValidateURL(rawURL string, opts *URLOptions) error {
	var o URLOptions
	if opts != nil {
		o = *opts
	}
	if rawURL == "" {
		return fmt.Errorf("%w: empty", ErrInvalidURL)
	}
	if len(rawURL) > MaxURLLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidURL, MaxURLLength)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !o.AllowInsecure {
			return fmt.Errorf("%w: https is required", ErrInvalidURL)
		}
	default:
		return fmt.Errorf("%w: scheme must be https", ErrInvalidURL)
	}
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%w: no host", ErrInvalidURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: user info is not allowed", ErrInvalidURL)
	}
	if strings.Contains(rawURL, "#") {
		return fmt.Errorf("%w: a fragment is not allowed", ErrInvalidURL)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%w: bad port %q", ErrInvalidURL, port)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return fmt.Errorf("%w: empty port", ErrInvalidURL)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !o.AllowPrivate && ForbiddenAddr(ip) {
			return fmt.Errorf("%w: %w: %s", ErrInvalidURL, ErrForbiddenAddress, ip)
		}
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("%w: bad host name %q", ErrInvalidURL, host)
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if !o.AllowPrivate && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
		return fmt.Errorf("%w: %w: %s", ErrInvalidURL, ErrForbiddenAddress, host)
	}
	return nil
}

// validHostname accepts an ASCII DNS name (internationalized names go in their
// punycode form) whose last label is not numeric: "2130706433" or "127.1" would be read
// as IPv4 addresses by some resolvers.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	numeric := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			numeric = false
		}
	}
	return !numeric && !strings.HasPrefix(strings.ToLower(last), "0x")
}

// Validate checks the endpoint's URL (see ValidateURL), filter (see ValidateFilter,
// without a catalogue), status and secrets.
func (e *Endpoint) Validate(opts *URLOptions) error {
	if err := ValidateURL(e.URL, opts); err != nil {
		return err
	}
	if err := ValidateFilter(e.Events); err != nil {
		return err
	}
	if e.Status != EndpointActive && e.Status != EndpointDisabled {
		return fmt.Errorf("%w: %q", ErrInvalidStatus, e.Status)
	}
	for _, s := range e.Secrets {
		if err := ValidateSecret(s.Value); err != nil {
			return err
		}
	}
	return nil
}

// Rotate replaces the current secret with a new one, which it returns. The replaced
// secret keeps signing until now+expireCurrentIn, so receivers can switch secrets
// without losing a message: deliveries carry both signatures meanwhile.
// expireCurrentIn must be within 0..MaxRotationGrace; 0 retires the old secret at once
// (for a leaked secret), and callers use DefaultRotationGrace when the user gave none.
// Secrets already expired are dropped, and at most four old secrets are kept.
// Errors wrap ErrInvalidGrace.
func (e *Endpoint) Rotate(now time.Time, expireCurrentIn time.Duration) (string, error) {
	if expireCurrentIn < 0 || expireCurrentIn > MaxRotationGrace {
		return "", fmt.Errorf("%w: %s, want 0 to %s", ErrInvalidGrace, expireCurrentIn, MaxRotationGrace)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	kept := []Secret{{Value: secret, CreatedAt: now}}
	for _, s := range e.sortedSecrets() {
		if s.ExpiresAt.IsZero() {
			s.ExpiresAt = now.Add(expireCurrentIn)
		}
		if s.ExpiresAt.After(now) && len(kept) < maxSecrets {
			kept = append(kept, s)
		}
	}
	e.Secrets = kept
	e.UpdatedAt = now
	return secret, nil
}

// sortedSecrets returns a copy of the secrets, current ones first, then by expiry, the
// latest first (the most recently replaced).
func (e *Endpoint) sortedSecrets() []Secret {
	s := slices.Clone(e.Secrets)
	slices.SortStableFunc(s, func(a, b Secret) int {
		switch {
		case a.ExpiresAt.IsZero() && b.ExpiresAt.IsZero():
			return b.CreatedAt.Compare(a.CreatedAt)
		case a.ExpiresAt.IsZero():
			return -1
		case b.ExpiresAt.IsZero():
			return 1
		}
		return cmp.Or(b.ExpiresAt.Compare(a.ExpiresAt), b.CreatedAt.Compare(a.CreatedAt))
	})
	return s
}

// ActiveSecrets returns the secrets to sign with at now: the current one first, then
// those replaced by a rotation whose grace period has not ended.
func (e *Endpoint) ActiveSecrets(now time.Time) []string {
	var out []string
	for _, s := range e.sortedSecrets() {
		if s.ExpiresAt.IsZero() || s.ExpiresAt.After(now) {
			out = append(out, s.Value)
		}
	}
	return out
}

// CurrentSecret returns the secret new receivers should be given ("" if none).
func (e *Endpoint) CurrentSecret() string {
	if s := e.sortedSecrets(); len(s) > 0 && s[0].ExpiresAt.IsZero() {
		return s[0].Value
	}
	return ""
}
