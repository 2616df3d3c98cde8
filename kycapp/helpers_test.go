package kycapp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/kycapp"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/store/memstore"
)

// codeStore is a test fixture standing in for the Service's exchange of session codes:
// one-time codes, each exchanged at most once, refused after its expiry by the clock,
// safe for concurrent use. Production passes the Service's own exchange.
type codeStore struct {
	now        func() time.Time
	codeTTL    time.Duration // how long a code may be exchanged
	sessionTTL time.Duration // how long the session it opens lasts

	mu    sync.Mutex
	codes map[string]*codeEntry
}

type codeEntry struct {
	partner, customer string
	expires           time.Time
	used              bool
}

func newCodeStore(now func() time.Time) *codeStore {
	return &codeStore{now: now, codeTTL: 15 * time.Minute, sessionTTL: time.Hour, codes: map[string]*codeEntry{}}
}

// issue makes a code for a customer.
func (s *codeStore) issue(partner, customer string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	code := "bsc_" + hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &codeEntry{partner: partner, customer: customer, expires: s.now().Add(s.codeTTL)}
	return code
}

// Exchange implements kycapp.Sessions.
func (s *codeStore) Exchange(_ context.Context, code string) (kycapp.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.codes[code]
	switch {
	case !ok:
		return kycapp.Session{}, kycapp.ErrCodeUnknown
	case e.used:
		return kycapp.Session{}, kycapp.ErrCodeUsed
	case !s.now().Before(e.expires):
		return kycapp.Session{}, kycapp.ErrCodeExpired
	}
	e.used = true
	return kycapp.Session{PartnerID: e.partner, CustomerID: e.customer, ExpiresAt: s.now().Add(s.sessionTTL)}, nil
}

// Test clients of the partner API.
const (
	partner      = "acme"
	clientID     = "acme-client-1"
	clientSecret = "cs_acme-secret-0123456789abcdefghijklmnopqrstu"
)

// env is the partner API and the wizard on one server, as examples/server mounts them.
type env struct {
	t     testing.TB
	svc   *onboarding.Service
	clock *onboardingtest.Clock // nil: real time
	codes *codeStore
	kyc   *kycapp.Handler
	srv   *httptest.Server
	logs  *bytes.Buffer
}

// envConfig adjusts an env before it starts.
type envConfig struct {
	svc   *onboarding.Options
	kyc   *kycapp.Options
	clock bool // a manual clock instead of real time
	tls   bool
	// sqlite runs the Service on SQLite (a file in the test's directory) instead of the
	// in-memory store.
	sqlite bool
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	e := &env{t: t, logs: &bytes.Buffer{}}
	now := time.Now
	if cfg.clock {
		e.clock = onboardingtest.NewClock(time.Now().UTC().Truncate(time.Second))
		now = e.clock.Now
	}
	so := onboarding.Options{}
	if cfg.svc != nil {
		so = *cfg.svc
	}
	so.NowFunc = now
	so.AllowPrivateWebhooks = true
	if so.Registry == nil {
		so.Registry = sandbox.Registry{}
	}
	if so.Logger == nil {
		so.Logger = slog.New(slog.DiscardHandler)
	}
	var store onboarding.Store
	if cfg.sqlite {
		db, err := bunstore.OpenSQLite(filepath.Join(t.TempDir(), "onboarding.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		require.NoError(t, bunstore.Migrate(context.Background(), db))
		store = bunstore.New(db, nil)
	} else {
		store = memstore.New()
	}
	e.svc = onboardingtest.NewService(t, store, &so)
	e.codes = newCodeStore(now)

	ko := kycapp.Options{}
	if cfg.kyc != nil {
		ko = *cfg.kyc
	}
	ko.NowFunc = now
	if ko.Logger == nil {
		ko.Logger = slog.New(slog.NewTextHandler(syncWriter{w: e.logs}, nil))
	}
	kyc, err := kycapp.New(e.svc, e.codes, &ko)
	require.NoError(t, err)
	e.kyc = kyc
	api := httpapi.New(e.svc, &httpapi.Options{
		Clients:  map[string]httpapi.Client{clientID: {PartnerID: partner, SecretHash: httpapi.HashSecret(clientSecret)}},
		TokenKey: []byte("0123456789abcdef0123456789abcdef-kyc-test"), NowFunc: now,
		Logger: slog.New(slog.DiscardHandler), RateLimit: 1e6, RateBurst: 1e6,
	})
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("/kyc/", kyc)
	if cfg.tls {
		e.srv = httptest.NewTLSServer(mux)
	} else {
		e.srv = httptest.NewServer(mux)
	}
	t.Cleanup(e.srv.Close)
	return e
}

var logMu sync.Mutex

// syncWriter serialises writes to a buffer shared by handlers.
type syncWriter struct{ w io.Writer }

func (s syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return s.w.Write(p)
}

// customer registers a customer straight through the Service; cnpj picks its legal
// nature through sandbox.Registry (12.345.679/0001-30 is an EI: company document,
// identity and selfie).
func (e *env) customer(cnpj string) *onboarding.Customer {
	e.t.Helper()
	c, _, err := e.svc.CreateCustomer(context.Background(), partner, onboarding.CreateCustomerParams{
		ExternalID: "seller-" + cnpj, CPF: "123.456.789-09", CNPJ: cnpj, Name: "Maria da Silva",
		Email: "maria@padaria.example", Phone: "+5511912345678", TradingName: "Padaria da Maria"})
	require.NoError(e.t, err)
	return c
}

// link issues a session link for a customer.
func (e *env) link(c *onboarding.Customer) string {
	return e.srv.URL + "/kyc/?code=" + e.codes.issue(c.PartnerID, c.ID)
}

// browser is an HTTP client with its own cookie jar that does not follow redirects.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client() // a copy: the server's client is shared
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// page is a response read whole.
type page struct {
	status int
	header http.Header
	body   string
}

func (e *env) get(c *http.Client, url string, header ...string) *page {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(e.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(c, req)
}

func (e *env) do(c *http.Client, req *http.Request) *page {
	e.t.Helper()
	res, err := c.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return &page{status: res.StatusCode, header: res.Header, body: string(b)}
}

// open opens a link in c and follows the redirect to the page.
func (e *env) open(c *http.Client, link string) *page {
	e.t.Helper()
	p := e.get(c, link)
	require.Equal(e.t, http.StatusSeeOther, p.status, p.body)
	require.Equal(e.t, "/kyc/", p.header.Get("Location"))
	return e.get(c, e.srv.URL+"/kyc/")
}

// upload posts one file for one item as the page's form does (same-origin headers).
func (e *env) upload(c *http.Client, reqID, filename string, data []byte, header ...string) *page {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if reqID != "" {
		require.NoError(e.t, mw.WriteField("requirement_id", reqID))
	}
	if data != nil {
		fw, err := mw.CreateFormFile("file", filename)
		require.NoError(e.t, err)
		_, _ = fw.Write(data)
	}
	require.NoError(e.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/kyc/", &buf)
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", e.srv.URL)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(c, req)
}

// documents lists the customer's stored documents.
func (e *env) documents(c *onboarding.Customer) []*onboarding.Document {
	e.t.Helper()
	docs, err := e.svc.ListDocuments(context.Background(), c.PartnerID, c.ID)
	require.NoError(e.t, err)
	return docs
}

// status reads the customer's status.
func (e *env) status(c *onboarding.Customer) onboarding.Status {
	e.t.Helper()
	got, err := e.svc.GetCustomer(context.Background(), c.PartnerID, c.ID)
	require.NoError(e.t, err)
	return got.Status
}

// alertText returns the text of the role="alert" elements of a page that are not empty.
func alertText(body string) string {
	var out []string
	rest := body
	for {
		i := strings.Index(rest, `role="alert"`)
		if i < 0 {
			break
		}
		rest = rest[i:]
		j := strings.Index(rest, ">")
		k := strings.Index(rest, "</p>")
		if j < 0 || k < j {
			break
		}
		if s := strings.TrimSpace(rest[j+1 : k]); s != "" {
			out = append(out, s)
		}
		rest = rest[k:]
	}
	return strings.Join(out, " | ")
}

// newRecorder serves one GET straight to h.
func newRecorder(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}
