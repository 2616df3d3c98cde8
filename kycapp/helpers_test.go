package kycapp_test

import (
	"bytes"
	"context"
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
	// The server's address is known before it starts, so the Service can put the wizard's
	// URL in the session links it makes.
	mux := http.NewServeMux()
	if cfg.tls {
		e.srv = httptest.NewUnstartedServer(mux)
		e.srv.EnableHTTP2 = false
	} else {
		e.srv = httptest.NewUnstartedServer(mux)
	}
	scheme := "http"
	if cfg.tls {
		scheme = "https"
	}
	so.KYCPageURL = scheme + "://" + e.srv.Listener.Addr().String() + "/kyc/"
	if so.Biometrics == nil {
		so.Biometrics = sandbox.Biometrics{NowFunc: now}
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

	ko := kycapp.Options{}
	if cfg.kyc != nil {
		ko = *cfg.kyc
	}
	ko.NowFunc = now
	if ko.Logger == nil {
		ko.Logger = slog.New(slog.NewTextHandler(syncWriter{w: e.logs}, nil))
	}
	kyc, err := kycapp.New(e.svc, kycapp.ServiceSessions(e.svc), &ko)
	require.NoError(t, err)
	e.kyc = kyc
	api := httpapi.New(e.svc, &httpapi.Options{
		Clients:  map[string]httpapi.Client{clientID: {PartnerID: partner, SecretHash: httpapi.HashSecret(clientSecret)}},
		TokenKey: []byte("0123456789abcdef0123456789abcdef-kyc-test"), NowFunc: now,
		Logger: slog.New(slog.DiscardHandler), RateLimit: 1e6, RateBurst: 1e6,
	})
	mux.Handle("/", api)
	mux.Handle("/kyc/", kyc)
	if cfg.tls {
		e.srv.StartTLS()
	} else {
		e.srv.Start()
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
// nature through sandbox.Registry (99.345.679/0001-18 is an EI: company document,
// identity and selfie).
func (e *env) customer(cnpj string) *onboarding.Customer {
	e.t.Helper()
	c, _, err := e.svc.CreateCustomer(context.Background(), partner, onboarding.CreateCustomerParams{
		ExternalID: "seller-" + cnpj, CPF: "123.456.789-09", CNPJ: cnpj, Name: "Maria da Silva",
		Email: "maria@padaria.example", Phone: "+5511912345678", TradingName: "Padaria da Maria"})
	require.NoError(e.t, err)
	return c
}

// link opens a biometrics session for a customer, as a partner does, and returns its
// session URL: the wizard's page with a one-time code.
func (e *env) link(c *onboarding.Customer) string {
	e.t.Helper()
	sess, err := e.svc.StartBiometricsSession(context.Background(), c.PartnerID, c.ID)
	require.NoError(e.t, err)
	require.True(e.t, strings.HasPrefix(sess.URL, e.srv.URL+"/kyc/?code=bsc_"), sess.URL)
	return sess.URL
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
