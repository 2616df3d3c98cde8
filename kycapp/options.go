package kycapp

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/onboardkit/onboarding"
)

// Defaults of Options.
const (
	// DefaultPath is where the handler expects to be mounted.
	DefaultPath = "/kyc/"
	// DefaultSessionTTL bounds a browser session when the exchange gives no expiry.
	DefaultSessionTTL = time.Hour
	// DefaultRateLimit is the sustained requests per second of one browser session (and of
	// one client address opening links).
	DefaultRateLimit rate.Limit = 2
	// DefaultRateBurst is how many requests one session may make at once.
	DefaultRateBurst = 20
	// MinCookieKeyLen is the shortest Options.CookieKey accepted.
	MinCookieKeyLen = 32
	// CookieName is the name of the session cookie.
	CookieName = "kyc_session"
)

// Options configure the wizard. The zero value is usable: pt-BR pages under /kyc/
// without branding, a random cookie key (sessions die with the process and do not cross
// replicas), 2 requests per second per session with bursts of 20.
type Options struct {
	// Path is the URL path the handler is mounted at, with a trailing slash
	// (default "/kyc/"): the session cookie is scoped to it and the page's links and assets
	// are built under it. Mount the handler there without stripping the prefix.
	Path string

	// Brand is the lender's name, logo and colour.
	Brand Brand

	// Templates replaces some or all of the page templates: every *.html file in it is
	// parsed over the defaults, so a file that defines "brand" changes only the header.
	// The templates and the data they receive are described in the package documentation.
	Templates fs.FS

	// CookieKey signs the session cookie; at least MinCookieKeyLen bytes, the same on
	// every replica. Nil means a random key per process.
	CookieKey []byte
	// SessionTTL bounds a browser session when the exchange gives no expiry (default
	// DefaultSessionTTL).
	SessionTTL time.Duration

	// TrustForwardedProto makes the handler believe an X-Forwarded-Proto: https header
	// when it decides whether the cookie is Secure. Set it only behind a proxy that sets
	// (or strips) that header; a request with r.TLS is always treated as HTTPS.
	TrustForwardedProto bool

	// TrustedOrigins are origins (scheme://host[:port]) allowed to POST besides the page's
	// own, for http.CrossOriginProtection.
	TrustedOrigins []string

	// RateLimit and RateBurst bound the requests of one browser session, and the links
	// opened from one client address (defaults DefaultRateLimit, DefaultRateBurst).
	// rate.Inf turns limiting off.
	RateLimit rate.Limit
	RateBurst int
	// ClientIPFunc returns the client address used to limit link openings (default: the
	// host of r.RemoteAddr). Behind a proxy, return the address it forwards.
	ClientIPFunc func(*http.Request) string

	// Logger receives the errors behind 500 answers (default slog.Default()). Nothing
	// personal is logged: IDs and error messages only.
	Logger *slog.Logger
	// NowFunc is the clock (default time.Now).
	NowFunc func() time.Time
}

// Brand is how the lender's customers recognise the page.
type Brand struct {
	// Name is shown in the header and the title (default: none).
	Name string
	// Logo is a PNG, JPEG, GIF or WebP image served by the handler and shown in the
	// header; nil shows none.
	Logo []byte
	// Color is the accent colour as a CSS hex colour, #rgb or #rrggbb (default #0b57d0).
	Color string
}

// defaultColor is the accent colour without branding.
const defaultColor = "#0b57d0"

var hexColor = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// logoTypes are the content types a logo may have: raster images only, because an SVG
// served from the page's origin could carry script.
var logoTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

// Validate reports options that cannot work; every error matches
// onboarding.ErrInvalidOptions.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: kycapp: "+format, append([]any{onboarding.ErrInvalidOptions}, args...)...))
	}
	if o.Path != "" && (!strings.HasPrefix(o.Path, "/") || !strings.HasSuffix(o.Path, "/") || strings.ContainsAny(o.Path, "?#;, \t\r\n\"")) {
		bad("Path %q must start and end with / and hold no query, spaces or separators", o.Path)
	}
	if o.Brand.Color != "" && !hexColor.MatchString(o.Brand.Color) {
		bad("Brand.Color %q is not a CSS hex colour (#rgb or #rrggbb)", o.Brand.Color)
	}
	if len(o.Brand.Name) > 100 {
		bad("Brand.Name is longer than 100 bytes")
	}
	if o.Brand.Logo != nil {
		ct := http.DetectContentType(o.Brand.Logo)
		ok := false
		for _, t := range logoTypes {
			ok = ok || ct == t
		}
		if !ok {
			bad("Brand.Logo is %s, want PNG, JPEG, GIF or WebP", ct)
		}
		if len(o.Brand.Logo) > 512<<10 {
			bad("Brand.Logo is larger than 512 KiB")
		}
	}
	if o.CookieKey != nil && len(o.CookieKey) < MinCookieKeyLen {
		bad("CookieKey must be at least %d bytes", MinCookieKeyLen)
	}
	if o.SessionTTL < 0 {
		bad("SessionTTL is negative")
	}
	if o.RateLimit < 0 || o.RateBurst < 0 {
		bad("RateLimit and RateBurst must not be negative")
	}
	for _, origin := range o.TrustedOrigins {
		if err := http.NewCrossOriginProtection().AddTrustedOrigin(origin); err != nil {
			bad("TrustedOrigins: %v", err)
		}
	}
	return errors.Join(errs...)
}
