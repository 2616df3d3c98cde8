package backoffice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/backoffice"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/bunstore"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
)

// Test operators; passwords are long enough for LocalAccounts.Add.
const (
	viewerName, viewerPass     = "vera", "vera-password-123"
	reviewerName, reviewerPass = "rita", "rita-password-123"
	adminName, adminPass       = "ana", "ana-password-1234"
)

// env is a Service with the back office served over a real socket.
type env struct {
	svc   *onboarding.Service
	store onboarding.Store
	clock *onboardingtest.Clock
	local *backoffice.LocalAccounts
	bo    *backoffice.Handler
	srv   *httptest.Server
	// mux serves the back office; tests may add routes (the partner API) before use.
	mux *http.ServeMux
}

type envOptions struct {
	sqlite bool
	svc    *onboarding.Options
	bo     *backoffice.Options // Authenticator nil: the local accounts
	// wrap, when set, wraps the store the Service runs on.
	wrap func(onboarding.Store) onboarding.Store
}

// hashCache holds the hashes of the test passwords: hashing is slow on purpose.
var hashCache atomic.Pointer[map[string]string]

func accountHashes(t *testing.T) map[string]string {
	t.Helper()
	if m := hashCache.Load(); m != nil {
		return *m
	}
	m := map[string]string{}
	for _, p := range []string{viewerPass, reviewerPass, adminPass} {
		h, err := backoffice.HashPassword(p)
		require.NoError(t, err)
		m[p] = h
	}
	hashCache.Store(&m)
	return m
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{clock: onboardingtest.NewClock(time.Now().UTC().Truncate(time.Second))}
	if o.sqlite {
		db, err := bunstore.OpenSQLite(filepath.Join(t.TempDir(), "onboarding.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		require.NoError(t, bunstore.Migrate(context.Background(), db))
		e.store = bunstore.New(db, nil)
	} else {
		e.store = memstore.New()
	}
	so := &onboarding.Options{}
	if o.svc != nil {
		so = o.svc
	}
	if so.NowFunc == nil {
		so.NowFunc = e.clock.Now
	}
	if so.Logger == nil {
		so.Logger = slog.New(slog.DiscardHandler)
	}
	svcStore := e.store
	if o.wrap != nil {
		svcStore = o.wrap(e.store)
	}
	e.svc = onboardingtest.NewService(t, svcStore, so)

	hashes := accountHashes(t)
	e.local = backoffice.NewLocalAccounts(&backoffice.LocalOptions{NowFunc: e.clock.Now})
	require.NoError(t, e.local.AddHash(viewerName, hashes[viewerPass], backoffice.RoleViewer))
	require.NoError(t, e.local.AddHash(reviewerName, hashes[reviewerPass], backoffice.RoleReviewer))
	require.NoError(t, e.local.AddHash(adminName, hashes[adminPass], backoffice.RoleAdmin))
	bo := &backoffice.Options{}
	if o.bo != nil {
		bo = o.bo
	}
	if bo.Authenticator == nil {
		bo.Authenticator = e.local
	}
	bo.InsecureCookies = true // httptest serves plain HTTP
	if bo.NowFunc == nil {
		bo.NowFunc = e.clock.Now
	}
	if bo.Logger == nil {
		bo.Logger = slog.New(slog.DiscardHandler)
	}
	var err error
	e.bo, err = backoffice.New(e.svc, bo)
	require.NoError(t, err)
	e.mux = http.NewServeMux()
	e.mux.Handle("/backoffice/", e.bo)
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	return e
}

// client returns an HTTP client with its own cookies that does not follow redirects.
func (e *env) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login logs c in and fails the test unless it worked.
func (e *env) login(t *testing.T, c *http.Client, name, password string) {
	t.Helper()
	res := e.postForm(t, c, "/backoffice/login", url.Values{"username": {name}, "password": {password}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "login of %s: %s", name, res.body)
}

// loggedIn returns a new client logged in as name.
func (e *env) loggedIn(t *testing.T, name, password string) *http.Client {
	c := e.client(t)
	e.login(t, c, name, password)
	return c
}

type response struct {
	*http.Response
	body string
}

func (e *env) do(t *testing.T, c *http.Client, req *http.Request) response {
	t.Helper()
	res, err := c.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return response{res, string(b)}
}

func (e *env) get(t *testing.T, c *http.Client, path string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	require.NoError(t, err)
	return e.do(t, c, req)
}

// postForm posts a form the way a page of the back office does (same origin).
func (e *env) postForm(t *testing.T, c *http.Client, path string, form url.Values) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return e.do(t, c, req)
}

func (e *env) postJSON(t *testing.T, c *http.Client, path string, body any) response {
	t.Helper()
	var r io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	return e.do(t, c, req)
}

var seed atomic.Uint64

func registration(partner string) onboarding.CreateCustomerParams {
	r := rand.New(rand.NewPCG(seed.Add(1), uint64(time.Now().UnixNano())))
	return onboarding.CreateCustomerParams{
		ExternalID: onboarding.NewID("ext"), CPF: taxid.GenerateCPF(r).String(), CNPJ: taxid.GenerateCNPJ(r, false).String(),
		Name: "Maria " + partner + " da Silva", Email: "maria@example.com", Phone: "+5511987654321", TradingName: "Padaria da Maria",
	}
}

// submitted registers a customer for partner and uploads every mandatory item: the
// customer is under_review, its documents are returned by requirement ID.
func (e *env) submitted(t *testing.T, partner string) (*onboarding.Customer, map[string]*onboarding.Document) {
	t.Helper()
	ctx := context.Background()
	c, _, err := e.svc.CreateCustomer(ctx, partner, registration(partner))
	require.NoError(t, err)
	docs := map[string]*onboarding.Document{}
	for _, up := range []struct {
		typ  onboarding.DocumentType
		body []byte
	}{{onboarding.DocCCMEI, testfiles.PDF(c.ID)}, {onboarding.DocSelfie, testfiles.JPEG(c.ID)}} {
		d, err := e.svc.UploadDocument(ctx, partner, c.ID, onboarding.UploadParams{Type: up.typ, Filename: "maria-" + string(up.typ),
			Body: bytes.NewReader(up.body)})
		require.NoError(t, err)
		docs[d.RequirementID] = d
	}
	c, err = e.svc.GetCustomer(ctx, partner, c.ID)
	require.NoError(t, err)
	require.Equal(t, onboarding.StatusUnderReview, c.Status)
	return c, docs
}

func (e *env) customer(t *testing.T, c *onboarding.Customer) *onboarding.Customer {
	t.Helper()
	got, err := e.svc.GetCustomer(context.Background(), c.PartnerID, c.ID)
	require.NoError(t, err)
	return got
}

// audit returns the audit log, newest first.
func (e *env) audit(t *testing.T) []*onboarding.AuditEntry {
	t.Helper()
	page, err := e.svc.ListAudit(context.Background(), onboarding.ListAuditParams{Limit: 100})
	require.NoError(t, err)
	return page.Data
}

func (e *env) hasAudit(t *testing.T, actor, action string) bool {
	for _, a := range e.audit(t) {
		if a.Actor == actor && a.Action == action {
			return true
		}
	}
	return false
}
