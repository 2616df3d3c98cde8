package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/pgtest"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
)

// Test clients: two partners, acme with two credentials.
const (
	acmeClient    = "acme-client-1"
	acmeClient2   = "acme-client-2"
	acmeSecret    = "cs_acme-secret-0123456789abcdefghijklmnopqrstu"
	globexClient  = "globex-client-1"
	globexSecret  = "cs_globex-secret-0123456789abcdefghijklmnopqrs"
	acmePartner   = "acme"
	globexPartner = "globex"
)

var testTokenKey = []byte("0123456789abcdef0123456789abcdef-test-key")

func testClients() map[string]httpapi.Client {
	return map[string]httpapi.Client{
		acmeClient:   {PartnerID: acmePartner, SecretHash: httpapi.HashSecret(acmeSecret)},
		acmeClient2:  {PartnerID: acmePartner, SecretHash: httpapi.HashSecret(acmeSecret + "2")},
		globexClient: {PartnerID: globexPartner, SecretHash: httpapi.HashSecret(globexSecret)},
	}
}

// backend opens a fresh Store.
type backend struct {
	name string
	open func(t testing.TB) onboarding.Store
}

func backends() []backend {
	return []backend{
		{"memstore", func(testing.TB) onboarding.Store { return memstore.New() }},
		{"sqlite", func(t testing.TB) onboarding.Store { return bunstore.New(openSQLite(t), nil) }},
		{"postgres", func(t testing.TB) onboarding.Store { return bunstore.New(openPostgres(t), nil) }},
	}
}

func openSQLite(t testing.TB) *bun.DB {
	t.Helper()
	db, err := bunstore.OpenSQLite(filepath.Join(t.TempDir(), "onboarding.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, bunstore.Migrate(context.Background(), db))
	return db
}

// openPostgres returns a migrated database in a schema of its own, dropped at the end.
// Without ONBOARDING_TEST_POSTGRES_DSN it skips (fails under CI=true, like store/bunstore).
func openPostgres(t testing.TB) *bun.DB {
	t.Helper()
	db, err := bunstore.OpenPostgres(pgtest.SchemaDSN(t, "httpapi"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, bunstore.Migrate(context.Background(), db))
	return db
}

// env is one API server over one Service.
type env struct {
	t      testing.TB
	svc    *onboarding.Service
	store  onboarding.Store
	clock  *onboardingtest.Clock
	srv    *httptest.Server
	client *http.Client
	base   string // server URL + "/v3"
	logs   *syncBuffer

	tokens map[string]string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// bothPaths runs test on the API without telemetry configured (otelhttp is skipped while
// OpenTelemetry's globals are its defaults) and with explicit no-op providers (otelhttp
// wraps every request, its body and its response writer, as in production with
// telemetry on).
func bothPaths(t *testing.T, test func(t *testing.T, tel *httpapi.Telemetry)) {
	t.Run("otelhttp-skipped", func(t *testing.T) { test(t, nil) })
	t.Run("otelhttp", func(t *testing.T) {
		test(t, &httpapi.Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
	})
}

// setup starts a server on store (memstore when nil). svcOpts and apiOpts may be nil;
// their clock, logger and clients are filled in.
func setup(t testing.TB, store onboarding.Store, svcOpts *onboarding.Options, apiOpts *httpapi.Options) *env {
	t.Helper()
	if store == nil {
		store = memstore.New()
	}
	e := &env{t: t, store: store, clock: onboardingtest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)),
		logs: &syncBuffer{}, tokens: map[string]string{}}
	if svcOpts == nil {
		svcOpts = &onboarding.Options{}
	}
	svcOpts.NowFunc = e.clock.Now
	if svcOpts.Logger == nil {
		svcOpts.Logger = slog.New(slog.DiscardHandler)
	}
	e.svc = onboardingtest.NewService(t, store, svcOpts)
	if apiOpts == nil {
		apiOpts = &httpapi.Options{}
	}
	if apiOpts.Clients == nil {
		apiOpts.Clients = testClients()
	}
	if apiOpts.TokenKey == nil {
		apiOpts.TokenKey = testTokenKey
	}
	if apiOpts.NowFunc == nil {
		apiOpts.NowFunc = e.clock.Now
	}
	if apiOpts.Logger == nil {
		apiOpts.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if apiOpts.RateLimit == 0 {
		apiOpts.RateLimit = 1e6
		apiOpts.RateBurst = 1e6
	}
	e.srv = httptest.NewServer(httpapi.New(e.svc, apiOpts))
	t.Cleanup(e.srv.Close)
	e.client = e.srv.Client()
	e.base = e.srv.URL + "/v3"
	return e
}

// resp is a response read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// problem decodes a problem response and checks its basics.
func (r *resp) problem(t testing.TB, status int, code string) httpapi.Problem {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	var p httpapi.Problem
	require.NoError(t, json.Unmarshal(r.body, &p))
	require.Equal(t, code, p.Code, "body: %s", r.body)
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.RequestID)
	if r.header.Get("Idempotent-Replayed") == "" { // a replay is the first answer, byte for byte
		require.Equal(t, r.header.Get("X-Request-Id"), p.RequestID)
	}
	require.NotEmpty(t, p.Instance)
	if strings.HasPrefix(p.Instance, httpapi.SDKPrefix+"/") {
		require.True(t, strings.HasPrefix(p.Type, httpapi.DefaultSDKProblemTypeBase), "SDK type %s", p.Type)
	} else {
		require.True(t, strings.HasSuffix(p.Type, code))
	}
	return p
}

// token returns (and caches) an access token for a client.
func (e *env) token(client string) string {
	e.t.Helper()
	if tok, ok := e.tokens[client]; ok {
		return tok
	}
	secret := map[string]string{acmeClient: acmeSecret, acmeClient2: acmeSecret + "2", globexClient: globexSecret}[client]
	tok := e.tokenWith(e.t, client, secret)
	e.tokens[client] = tok
	return tok
}

// tokenWith gets a new access token for a client with its secret.
func (e *env) tokenWith(t testing.TB, client, secret string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", e.base+"/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	r := e.send(req)
	require.Equal(t, 200, r.status, "token: %s", r.body)
	return r.json(t)["access_token"].(string)
}

func (e *env) send(req *http.Request) *resp {
	e.t.Helper()
	res, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

// do sends a request with a token (client "" sends none) and a JSON body (nil: none;
// a string or []byte is sent as is). Extra headers come in pairs.
func (e *env) do(method, path, client string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(raw)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = e.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(e.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if client != "" {
		req.Header.Set("Authorization", "Bearer "+e.token(client))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

// part is one multipart part.
type part struct {
	name, filename, contentType string
	data                        []byte
}

func field(name, value string) part { return part{name: name, data: []byte(value)} }

func filePart(name, filename string, data []byte) part {
	return part{name: name, filename: filename, contentType: "application/octet-stream", data: data}
}

// multipartBody encodes parts with a fixed boundary.
func multipartBody(t testing.TB, parts ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.SetBoundary("test-boundary-0123456789"))
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		require.NoError(t, err)
		_, _ = w.Write(p.data)
	}
	require.NoError(t, mw.Close())
	return buf.Bytes(), mw.FormDataContentType()
}

// upload posts parts to path.
func (e *env) upload(path, client string, parts []part, headers ...string) *resp {
	e.t.Helper()
	body, ct := multipartBody(e.t, parts...)
	req, err := http.NewRequest("POST", e.base+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+e.token(client))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

var seed atomic.Uint64

// newCustomer returns a valid, unique registration body.
func newCustomer() map[string]any {
	n := seed.Add(1)
	r := mrand.New(mrand.NewPCG(n, uint64(time.Now().UnixNano())))
	cnpj := taxid.GenerateCNPJ(r, false)
	for strings.HasPrefix(string(cnpj), "1111111") || strings.HasPrefix(string(cnpj), "2222222") ||
		strings.HasPrefix(string(cnpj), "3333333") || strings.HasPrefix(string(cnpj), "4444444") {
		cnpj = taxid.GenerateCNPJ(r, false)
	}
	return map[string]any{
		"external_id": fmt.Sprintf("seller-%d-%d", n, r.Uint32()), "cpf": taxid.GenerateCPF(r).String(),
		"cnpj": cnpj.String(), "name": "Maria da Silva", "email": "maria@padaria.example",
		"phone": "+55 11 91234-5678", "trading_name": "Padaria da Maria",
	}
}

// createCustomer registers a customer for client and returns its JSON.
func (e *env) createCustomer(client string) map[string]any {
	e.t.Helper()
	r := e.do("POST", "/customers", client, newCustomer())
	require.Equal(e.t, 201, r.status, "%s", r.body)
	return r.json(e.t)
}

// uv builds a query string.
func uv(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// signalBlobs closes started when a Put has read its first bytes.
type signalBlobs struct {
	*sandbox.MemoryBlobStore
	started chan struct{}
	once    sync.Once
}

func (s *signalBlobs) Put(ctx context.Context, key string, r io.Reader, f onboarding.Format) error {
	return s.MemoryBlobStore.Put(ctx, key, &signalReader{r: r, s: s}, f)
}

type signalReader struct {
	r io.Reader
	s *signalBlobs
}

func (r *signalReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.s.once.Do(func() { close(r.s.started) })
	}
	return n, err
}
