package httpapi

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/ratelimit"
)

// Prefixes are the path prefixes every route is served under: the guide's cURL uses the
// first, the SDK's base URL the second.
var Prefixes = []string{"/v3", "/api/v3"}

// Defaults of Options.
const (
	// DefaultTokenTTL is how long an access token lives. The SDK refreshes 300 s before
	// expiry, so it must stay well above that.
	DefaultTokenTTL = time.Hour
	// DefaultRateLimit is the sustained number of requests per second a partner may make.
	DefaultRateLimit rate.Limit = 50
	// DefaultRateBurst is how many requests a partner may make at once.
	DefaultRateBurst = 100
	// DefaultMaxJSONBody bounds a JSON (or form) request body: 1 MiB.
	DefaultMaxJSONBody int64 = 1 << 20
	// MultipartOverhead is what a multipart upload may carry beyond its file: the other
	// fields, part headers and boundaries.
	MultipartOverhead int64 = 64 << 10
	// DefaultIdempotencyTTL is how long an idempotency key is remembered.
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultIdempotencyLockTimeout is how long a key may stay in flight before a retry
	// may take it over (its first request is then presumed dead with its process).
	DefaultIdempotencyLockTimeout = 5 * time.Minute
	// DefaultProblemTypeBase prefixes the code in a problem's "type" URI.
	DefaultProblemTypeBase = "urn:onboarding:problem:"
)

// MinTokenKeyLen is the shortest Options.TokenKey accepted: 32 bytes, as long as an
// HMAC-SHA256 output.
const MinTokenKeyLen = 32

// Options configures the handler. Only Clients is needed to serve partners; the zero
// value of every other field means the documented default.
type Options struct {
	// Clients are the API credentials the lender issued, by client ID. A partner may hold
	// several clients; removing a client revokes its tokens at once.
	Clients map[string]Client

	// TokenKey signs access tokens (HMAC-SHA256), at least MinTokenKeyLen bytes. Give
	// every replica the same key so that any of them accepts a token another issued; keep
	// it secret. When nil, New draws a random key: tokens then work only in this process
	// and die with it.
	TokenKey []byte
	// PreviousTokenKeys still verify tokens (not sign them), so a key can be rotated
	// without logging partners out: add the old key here for one TokenTTL.
	PreviousTokenKeys [][]byte
	// TokenTTL is the lifetime of an access token. Default DefaultTokenTTL.
	TokenTTL time.Duration

	// NowFunc is the clock of tokens, rate limits and idempotency keys. Default time.Now.
	NowFunc func() time.Time
	// Logger receives one access-log record per request and the errors behind 500s.
	// Default slog.Default().
	Logger *slog.Logger

	// RateLimit is the sustained number of requests per second of each partner (and of
	// each client address for unauthenticated requests). Default DefaultRateLimit;
	// rate.Inf turns rate limiting (and its headers) off.
	RateLimit rate.Limit
	// RateBurst is the bucket size: how many requests may come at once. Default
	// DefaultRateBurst.
	RateBurst int
	// ClientIPFunc returns the address unauthenticated requests are rate limited by.
	// Default: the host of r.RemoteAddr. Behind a proxy, return the address the proxy
	// vouches for.
	ClientIPFunc func(r *http.Request) string

	// MaxJSONBody bounds JSON and form bodies. Default DefaultMaxJSONBody.
	MaxJSONBody int64
	// MaxUploadSize is the largest file the Service accepts (its UploadRules). A multipart
	// body may hold that plus MultipartOverhead; beyond, the upload is cut short with 413.
	// The Service still enforces its own per-type limits. Default: the largest limit of
	// the Service's UploadRules.
	MaxUploadSize int64

	// MinBodyRate is the slowest a request body may arrive, in bytes a second, once
	// BodyRateWindow has passed: slower, the request is refused with 408 and its connection
	// closed. Default DefaultMinBodyRate; negative: no minimum.
	MinBodyRate int64
	// BodyRateWindow is the grace a body gets before MinBodyRate counts. Default
	// DefaultBodyRateWindow.
	BodyRateWindow time.Duration

	// IdempotencyTTL is how long an idempotency key is kept. Default
	// DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// IdempotencyLockTimeout is how long a key may stay in flight before a retry takes
	// it over. Default DefaultIdempotencyLockTimeout.
	IdempotencyLockTimeout time.Duration

	// ProblemTypeBase prefixes the error code to form a problem's "type" URI, e.g.
	// "https://docs.lender.example/errors#". Default DefaultProblemTypeBase.
	ProblemTypeBase string
	// SDKProblemTypeBase prefixes the slug of a problem's "type" under SDKPrefix (one of
	// authentication-failed, invalid-request, conflict, not-found, forbidden,
	// rate-limit-exceeded, internal, validation-failed). Default
	// DefaultSDKProblemTypeBase, the base the official SDK dispatches on.
	SDKProblemTypeBase string

	// CredentialCacheTTL is how long a stored credential's state (active, scopes) is
	// trusted without reading it again. A revocation made through another replica takes
	// effect here within this time; one made through this handler, at once. Default
	// DefaultCredentialCacheTTL; negative disables the cache.
	CredentialCacheTTL time.Duration

	// Telemetry sets where the API's spans and HTTP metrics go (telemetry.go); nil means
	// the global OpenTelemetry providers.
	Telemetry *Telemetry
}

// Validate reports what is wrong with o, if anything. New panics on the same errors.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	var errs []error
	if o.TokenKey != nil && len(o.TokenKey) < MinTokenKeyLen {
		errs = append(errs, fmt.Errorf("httpapi: TokenKey must be at least %d bytes", MinTokenKeyLen))
	}
	for i, k := range o.PreviousTokenKeys {
		if len(k) < MinTokenKeyLen {
			errs = append(errs, fmt.Errorf("httpapi: PreviousTokenKeys[%d] must be at least %d bytes", i, MinTokenKeyLen))
		}
	}
	for id, c := range o.Clients {
		if err := validClientID(id); err != nil {
			errs = append(errs, err)
		}
		if err := validPartnerID(c.PartnerID); err != nil {
			errs = append(errs, fmt.Errorf("httpapi: client %q: %w", id, err))
		}
		if !strings.HasPrefix(c.SecretHash, secretHashPrefix) || len(c.SecretHash) != len(secretHashPrefix)+64 {
			errs = append(errs, fmt.Errorf("httpapi: client %q: SecretHash must come from HashSecret", id))
		}
	}
	if o.TokenTTL < 0 || o.TokenTTL > 0 && o.TokenTTL <= 5*time.Minute {
		errs = append(errs, errors.New("httpapi: TokenTTL must be more than 5 minutes (the SDK refreshes 300 s early)"))
	}
	if o.SDKProblemTypeBase != "" && !strings.Contains(o.SDKProblemTypeBase, ":") {
		errs = append(errs, errors.New("httpapi: SDKProblemTypeBase must be a URI"))
	}
	for id, c := range o.Clients {
		for _, sc := range c.Scopes {
			if !slices.Contains(onboarding.AllScopes(), sc) {
				errs = append(errs, fmt.Errorf("httpapi: client %q: unknown scope %q", id, sc))
			}
		}
	}
	if o.RateLimit < 0 || o.RateBurst < 0 || o.MaxJSONBody < 0 || o.MaxUploadSize < 0 ||
		o.IdempotencyTTL < 0 || o.IdempotencyLockTimeout < 0 || o.BodyRateWindow < 0 {
		errs = append(errs, errors.New("httpapi: limits and durations must not be negative"))
	}
	return errors.Join(errs...)
}

// validPartnerID mirrors the Service's rule for partner IDs.
func validPartnerID(id string) error {
	if id == "" || len(id) > 64 {
		return errors.New("PartnerID must be 1 to 64 characters")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return errors.New("PartnerID may hold only letters, digits, '_', '-' and '.'")
		}
	}
	return nil
}

// validClientID accepts printable ASCII without ':' (the Basic separator), 1..128 bytes.
func validClientID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("httpapi: client ID %q must be 1 to 128 characters", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return fmt.Errorf("httpapi: client ID %q may hold only printable ASCII without spaces or ':'", id)
		}
	}
	return nil
}

// api is the handler New returns.
type api struct {
	svc   *onboarding.Service
	store onboarding.Store
	mux   *http.ServeMux
	log   *slog.Logger
	now   func() time.Time

	clients   map[string]Client
	tokenKey  []byte
	verifyKey [][]byte
	tokenTTL  time.Duration

	limits       *limiters
	clientIP     func(*http.Request) string
	maxJSON      int64
	maxMultipart int64

	minBodyRate    int64
	bodyRateWindow time.Duration

	idemTTL  time.Duration
	idemLock time.Duration

	typeBase    string
	sdkTypeBase string

	creds *credCache
}

// New returns the partner REST API (docs/http-api.md) over svc, under both Prefixes. opts may be
// nil (no clients: every route but the token endpoint answers 401). New panics when
// opts.Validate fails: the options are the lender's configuration, not input.
func New(svc *onboarding.Service, opts *Options) http.Handler {
	if svc == nil {
		panic("httpapi: New needs a Service")
	}
	if opts == nil {
		opts = &Options{}
	}
	if err := opts.Validate(); err != nil {
		panic(err.Error())
	}
	a := &api{svc: svc, store: svc.Store(), log: opts.Logger, now: opts.NowFunc,
		tokenTTL: opts.TokenTTL, clientIP: opts.ClientIPFunc, maxJSON: opts.MaxJSONBody,
		minBodyRate: opts.MinBodyRate, bodyRateWindow: opts.BodyRateWindow,
		idemTTL: opts.IdempotencyTTL, idemLock: opts.IdempotencyLockTimeout, typeBase: opts.ProblemTypeBase,
		clients: make(map[string]Client, len(opts.Clients))}
	for id, c := range opts.Clients {
		a.clients[id] = c
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.tokenKey = opts.TokenKey
	if a.tokenKey == nil {
		a.tokenKey = make([]byte, MinTokenKeyLen)
		_, _ = rand.Read(a.tokenKey)
		a.log.Warn("httpapi: no Options.TokenKey: tokens are signed with a random key, so other replicas reject them and they die with this process")
	}
	a.verifyKey = append([][]byte{a.tokenKey}, opts.PreviousTokenKeys...)
	if a.tokenTTL == 0 {
		a.tokenTTL = DefaultTokenTTL
	}
	limit, burst := opts.RateLimit, opts.RateBurst
	if limit == 0 {
		limit = DefaultRateLimit
	}
	if burst == 0 {
		burst = DefaultRateBurst
	}
	a.limits = newLimiters(limit, burst)
	if a.clientIP == nil {
		a.clientIP = remoteHost
	}
	if a.maxJSON == 0 {
		a.maxJSON = DefaultMaxJSONBody
	}
	if a.minBodyRate == 0 {
		a.minBodyRate = DefaultMinBodyRate
	}
	if a.bodyRateWindow <= 0 {
		a.bodyRateWindow = DefaultBodyRateWindow
	}
	maxUpload := opts.MaxUploadSize
	if maxUpload == 0 {
		rules := svc.UploadRules()
		maxUpload = rules.Largest()
	}
	a.maxMultipart = maxUpload + MultipartOverhead
	if a.idemTTL == 0 {
		a.idemTTL = DefaultIdempotencyTTL
	}
	if a.idemLock == 0 {
		a.idemLock = DefaultIdempotencyLockTimeout
	}
	if a.typeBase == "" {
		a.typeBase = DefaultProblemTypeBase
	}
	a.sdkTypeBase = opts.SDKProblemTypeBase
	if a.sdkTypeBase == "" {
		a.sdkTypeBase = DefaultSDKProblemTypeBase
	}
	ttl := opts.CredentialCacheTTL
	if ttl == 0 {
		ttl = DefaultCredentialCacheTTL
	}
	a.creds = newCredCache(ttl)
	a.routes()
	return a.instrument(opts.Telemetry)
}

// remoteHost is the default ClientIPFunc.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// body says how a route reads its request body.
type body int

const (
	noBody        body = iota // GET, DELETE, and POSTs that take nothing
	jsonBody                  // a JSON object, required
	optionalJSON              // a JSON object or nothing at all
	multipartBody             // multipart/form-data, streamed
)

// route is one partner route, under every prefix.
type route struct {
	method, path string
	body         body
	access       access
	h            handlerFunc
}

// routes registers every route under every prefix.
func (a *api) routes() {
	a.mux = http.NewServeMux()
	for _, p := range Prefixes {
		a.mux.Handle("POST "+p+"/auth/token", a.public(p, a.issueToken))
		for _, rt := range a.routeTable() {
			a.mux.Handle(rt.method+" "+p+rt.path, a.protected(p, rt.path, rt.body, rt.access, rt.h))
		}
	}
	a.mux.HandleFunc("/", a.notFound)
}

// routeTable is every partner route but the token endpoint.
func (a *api) routeTable() []route {
	var (
		custRead   = access{scope: onboarding.ScopeCustomersRead}
		custWrite  = access{scope: onboarding.ScopeCustomersWrite}
		kycUpload  = access{scope: onboarding.ScopeKYCUpload}
		offersRead = access{scope: onboarding.ScopeOffersRead}
		webhooks   = access{scope: onboarding.ScopeWebhooksManage}
		creds      = access{scope: onboarding.ScopeCredentialsManage}
		anyPartner = access{}
	)
	rs := []route{
		{"GET", "/customers", noBody, custRead, a.listCustomers},
		{"POST", "/customers", jsonBody, custWrite, a.createCustomer},
		{"GET", "/customers/{id}", noBody, custRead.orCustomer(), a.getCustomer},
		{"PATCH", "/customers/{id}", jsonBody, custWrite, a.updateCustomer},
		{"GET", "/customers/{id}/documents", noBody, custRead, a.listDocuments},
		{"POST", "/customers/{id}/documents", multipartBody, kycUpload, a.uploadDocument},
		{"POST", "/customers/{id}/kyc-attachments", multipartBody, kycUpload.orCustomer(), a.uploadAttachment},
		{"POST", "/customers/{id}/kyc-attachments/selfie", multipartBody, access{customerOnly: true}, a.uploadSelfie},
		{"POST", "/customers/{id}/kyc-review", noBody, custWrite, a.startKYCReview},
		{"GET", "/customers/{id}/bank-account", noBody, custRead, a.getBankAccount},
		{"POST", "/customers/{id}/bank-account", jsonBody, custWrite, a.setBankAccount},
		{"POST", "/customers/{id}/biometrics", noBody, custWrite, a.startBiometrics},
		{"GET", "/customers/{id}/credit-offers", noBody, offersRead, a.listCustomerOffers},
		{"GET", "/credit-offers", noBody, offersRead, a.listOffers},
		{"GET", "/credit-offers/{id}", noBody, offersRead, a.getOffer},
		{"POST", "/credit-offers/{id}/simulations", jsonBody, offersRead, a.createSimulation},
		{"GET", "/credit-offers/{id}/simulations/{sim}", noBody, offersRead, a.getSimulation},
		{"GET", "/banks", noBody, anyPartner, a.listBanks},
		{"POST", "/biometrics/session-exchange", jsonBody, access{scope: onboarding.ScopeBiometricsExchange}, a.exchangeBiometricsCode},
		{"GET", "/auth/credentials", noBody, creds, a.listCredentials},
		{"POST", "/auth/credentials", jsonBody, creds, a.createCredential},
		{"GET", "/auth/credentials/{id}", noBody, creds, a.getCredential},
		{"DELETE", "/auth/credentials/{id}", noBody, creds, a.revokeCredential},
		{"GET", "/webhooks/endpoints", noBody, webhooks, a.listEndpoints},
		{"POST", "/webhooks/endpoints", jsonBody, webhooks, a.createEndpoint},
		{"GET", "/webhooks/endpoints/{id}", noBody, webhooks, a.getEndpoint},
		{"PATCH", "/webhooks/endpoints/{id}", jsonBody, webhooks, a.updateEndpoint},
		{"DELETE", "/webhooks/endpoints/{id}", noBody, webhooks, a.deleteEndpoint},
		{"POST", "/webhooks/endpoints/{id}/secret/rotate", optionalJSON, webhooks, a.rotateSecret},
		{"POST", "/webhooks/endpoints/{id}/rotate-secret", optionalJSON, webhooks, a.rotateSecret},
		{"POST", "/webhooks/endpoints/{id}/recover", jsonBody, webhooks, a.recoverEndpoint},
	}
	return rs
}

// ServeHTTP implements http.Handler: request ID, access log, panic recovery, rate
// limiting, then the route.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc := &reqCtx{id: requestID(r), start: start, rawW: w, format: formatOf(r.URL.Path)}
	sw := &statusWriter{ResponseWriter: w}
	w = sw
	w.Header().Set("X-Request-Id", rc.id)
	r = r.WithContext(withReqCtx(r.Context(), rc))
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			rc.err = fmt.Errorf("panic: %v", p)
			if !sw.wroteHeader {
				a.writeProblem(sw, r, &problem{status: http.StatusInternalServerError, code: "internal",
					detail: "An internal error occurred; it was logged with the request id."})
			}
		}
		a.accessLog(r, sw, rc, time.Since(start))
	}()

	// Authenticate before limiting so that a partner is limited as a partner wherever its
	// requests come from; the route decides whether it needs the result.
	rc.auth = a.authenticate(r.Context(), r)
	key := "ip:" + ratelimit.AddressBlock(a.clientIP(r))
	if rc.auth.err == nil {
		key = "partner:" + rc.auth.partner
	}
	if !a.limits.allow(w.Header(), key, a.now()) {
		letGo(w, r, rc.rawW)
		a.writeProblem(w, r, &problem{status: http.StatusTooManyRequests, code: "rate_limit_exceeded",
			detail: "Too many requests; retry after the number of seconds in Retry-After."})
		return
	}
	a.mux.ServeHTTP(w, r)
}

// notFound answers requests no route matches: 405 when the path exists with other methods.
func (a *api) notFound(w http.ResponseWriter, r *http.Request) {
	if rc := reqFrom(r.Context()); rc != nil {
		letGo(w, r, rc.rawW)
	}
	var allowed []string
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, pattern := a.mux.Handler(r2); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		a.writeProblem(w, r, &problem{status: http.StatusMethodNotAllowed, code: "method_not_allowed",
			detail: "This path does not support " + r.Method + "."})
		return
	}
	a.writeProblem(w, r, &problem{status: http.StatusNotFound, code: "not_found",
		detail: "There is no such route."})
}

// statusWriter records what was written, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
