package backoffice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/backoffice"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/browsertest"
	"github.com/onboardkit/onboarding/webhook"
)

// browser is one operator's headless chromium, with a profile of its own.
type browser struct {
	t    *testing.T
	name string
	ctx  context.Context
	// shots are the screenshots of every step, written out when the test fails.
	shots *shots
}

type shots struct {
	mu   sync.Mutex
	list []shot
}

type shot struct {
	name string
	png  []byte
}

func newBrowser(t *testing.T, name string, s *shots) *browser {
	t.Helper()
	opts := browsertest.Options(t, chromedp.Flag("metrics-recording-only", true), chromedp.WindowSize(1100, 760))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &browser{t: t, name: name, ctx: ctx, shots: s}
	// The first action starts the browser, whose life is bound to the context it runs
	// with: b.ctx itself, not a context with a deadline.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium for %s: %v", name, err)
	}
	return b
}

// run runs actions with a deadline, failing the test on error (after a screenshot).
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("error")
		b.t.Fatalf("%s's browser: %v", b.name, err)
	}
}

// value runs an action that returns a value, failing the test on error.
func value[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.shot("error")
		b.t.Fatalf("%s's browser: %v", b.name, err)
	}
	return v
}

// shot keeps a screenshot of what the browser shows now.
func (b *browser) shot(step string) []byte {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", step, err)
		return nil
	}
	b.shots.mu.Lock()
	defer b.shots.mu.Unlock()
	b.shots.list = append(b.shots.list, shot{fmt.Sprintf("%02d-%s-%s.png", len(b.shots.list)+1, b.name, step), png})
	return png
}

// submit clicks a form's button and waits for the page the server answers with.
func (b *browser) submit(sel string) {
	b.t.Helper()
	b.run(
		chromedp.Evaluate[chromedp.Void](`document.body.setAttribute("data-stale", "1")`),
		chromedp.Click(sel, chromedp.NodeVisible),
		chromedp.WaitReady(`body:not([data-stale])`),
	)
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return value(b, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return value(b, chromedp.Text(sel, chromedp.NodeVisible))
}

func (b *browser) login(base, name, password string) {
	b.t.Helper()
	b.run(chromedp.Navigate(base+"/backoffice/"), chromedp.WaitVisible(`#username`))
	b.shot("login-form")
	b.run(chromedp.SendKeys(`#username`, name), chromedp.SendKeys(`#password`, password))
	b.submit(`button[data-action="login"]`)
	b.run(chromedp.WaitVisible(`[data-list="queue"]`))
	require.Equal(b.t, name, b.text(`[data-operator]`))
}

// keepShotsOnFailure writes every screenshot under browsertest.ArtifactsDir when t fails.
func keepShotsOnFailure(t *testing.T, s *shots) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		dir := browsertest.ArtifactsDir(t)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Logf("screenshots: %v", err)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, sh := range s.list {
			if err := os.WriteFile(filepath.Join(dir, sh.name), sh.png, 0o644); err != nil {
				t.Logf("screenshot %s: %v", sh.name, err)
			}
		}
		t.Logf("screenshots of each step: %s", dir)
	})
}

// receiver is a partner's webhook endpoint: it verifies each signature and keeps the
// events.
type receiver struct {
	mu     sync.Mutex
	secret string
	events []webhook.Event
	srv    *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		ev, err := webhook.Unwrap(body, req.Header, r.secret)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.events = append(r.events, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) has(typ, customerID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		var data struct {
			ID string `json:"id"`
		}
		if e.Type == typ && json.Unmarshal(e.Data, &data) == nil && data.ID == customerID {
			return true
		}
	}
	return false
}

// recorder notes what the back office answered to each POST, and whether it carried
// the session cookie.
type recorder struct {
	mu    sync.Mutex
	posts []post
}

type post struct {
	path, fetchSite string
	cookie          bool
	status          int
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	w.status = s
	w.ResponseWriter.WriteHeader(s)
}

func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if r.Method == http.MethodPost {
			_, err := r.Cookie("onboarding_backoffice")
			rec.mu.Lock()
			rec.posts = append(rec.posts, post{r.URL.Path, r.Header.Get("Sec-Fetch-Site"), err == nil, sw.status})
			rec.mu.Unlock()
		}
	})
}

func (rec *recorder) last(path string) (post, bool) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.posts) - 1; i >= 0; i-- {
		if rec.posts[i].path == path {
			return rec.posts[i], true
		}
	}
	return post{}, false
}

// partnerCustomer reads a customer the way the partner does, over the partner API.
func partnerCustomer(t *testing.T, base, secret, id string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("acme-client", secret)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var tok map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	res.Body.Close()
	req, _ = http.NewRequest(http.MethodGet, base+"/v3/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var c map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&c))
	return c
}

// TestBrowser drives the back office in Debian's chromium, as three operators, against
// a Service on SQLite working its jobs, the partner API and a partner's webhook receiver.
func TestBrowser(t *testing.T) {
	browsertest.Chromium(t) // skips (fails under CI) before any set-up
	s := &shots{}
	keepShotsOnFailure(t, s)

	e := newEnv(t, envOptions{sqlite: true, svc: &onboarding.Options{NowFunc: time.Now, AllowPrivateWebhooks: true},
		bo: &backoffice.Options{NowFunc: time.Now}})
	const partnerSecret = "cs_acme-secret-0123456789abcdefghijklmnopqrstu"
	e.mux.Handle("/", httpapi.New(e.svc, &httpapi.Options{Logger: slog.New(slog.DiscardHandler),
		Clients: map[string]httpapi.Client{"acme-client": {PartnerID: "acme", SecretHash: httpapi.HashSecret(partnerSecret)}}}))
	rec := &recorder{}
	e.srv.Config.Handler = rec.wrap(e.mux)
	rcv := newReceiver(t)
	ep, secret, err := e.svc.CreateWebhookEndpoint(context.Background(), "acme", onboarding.CreateEndpointParams{URL: rcv.srv.URL,
		Events: []string{"customer.*"}})
	require.NoError(t, err)
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	_ = ep
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = e.svc.Run(runCtx)
	}()
	t.Cleanup(func() { stop(); wg.Wait() })

	// The customers: one to approve, one to reject, one to deny, one for the forged
	// post; another partner's too, for the queue.
	approveMe, approveDocs := e.submitted(t, "acme")
	rejectMe, rejectDocs := e.submitted(t, "acme")
	denyMe, _ := e.submitted(t, "acme")
	forgeMe, forgeDocs := e.submitted(t, "acme")
	e.submitted(t, "globex")
	_, _, err = e.svc.CreateCustomer(context.Background(), "globex", registration("globex"))
	require.NoError(t, err)
	base := e.srv.URL
	customerPage := func(c *onboarding.Customer) string { return base + "/backoffice/customers/" + c.ID }

	viewer := newBrowser(t, "viewer", s)
	reviewer := newBrowser(t, "reviewer", s)
	admin := newBrowser(t, "admin", s)
	anon := newBrowser(t, "anonymous", s)

	t.Run("log in", func(t *testing.T) {
		viewer.t, reviewer.t, admin.t = t, t, t
		viewer.login(base, viewerName, viewerPass)
		reviewer.login(base, reviewerName, reviewerPass)
		admin.login(base, adminName, adminPass)
		queue := admin.shot("queue")
		assert.Equal(t, 6, admin.count(`[data-list="queue"] tr[data-customer-id]`), "every partner's waiting customers")
		if os.Getenv("ONBOARDING_UPDATE_SCREENSHOTS") != "" {
			require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "images", "backoffice-queue.png"), queue, 0o644))
		}
	})

	t.Run("a viewer sees a customer and no action buttons", func(t *testing.T) {
		viewer.t = t
		viewer.run(chromedp.Navigate(customerPage(approveMe)), chromedp.WaitVisible(`[data-requirement-id="req_ccmei"]`))
		viewer.shot("customer")
		assert.Equal(t, 2, viewer.count(`[data-requirement-id]`))
		assert.Equal(t, 0, viewer.count(`[data-action]`), "no approve, reject or deny for a viewer")
		assert.Contains(t, viewer.text(`h1`), approveMe.Name)
	})

	t.Run("a reviewer approves every item and the customer becomes active", func(t *testing.T) {
		reviewer.t = t
		reviewer.run(chromedp.Navigate(customerPage(approveMe)), chromedp.WaitVisible(`[data-requirement-id]`))
		page := reviewer.shot("customer")
		if os.Getenv("ONBOARDING_UPDATE_SCREENSHOTS") != "" {
			require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "images", "backoffice-customer.png"), page, 0o644))
		}
		assert.Equal(t, 0, reviewer.count(`[data-action="deny"]`), "denial is for admins")
		for _, req := range []string{"req_ccmei", "req_selfie_applicant"} {
			require.NotNil(t, approveDocs[req])
			reviewer.submit(`[data-requirement-id="` + req + `"] button[data-action="approve"]`)
			reviewer.shot("approved-" + req)
			require.Equal(t, "Item approved.", reviewer.text(`.notice`))
		}
		status := value(reviewer, chromedp.AttributeValue(`[data-customer-status]`, "data-customer-status"))
		assert.Equal(t, "active", status.Value)
		assert.Equal(t, 0, reviewer.count(`[data-action="approve"]`))
		require.Eventually(t, func() bool { return rcv.has(webhook.EventCustomerActive, approveMe.ID) }, 30*time.Second,
			50*time.Millisecond, "the partner gets customer.active on its webhook")
	})

	t.Run("the history shows the operator of every decision", func(t *testing.T) {
		reviewer.t = t
		actors := value(reviewer, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tr[data-event="item_decision"] .actor, tr[data-event="approve"] .actor')].map(e => e.textContent)`))
		reviewer.shot("history")
		require.Len(t, actors, 3, "two item decisions (the first changed no status) and the activation")
		for _, a := range actors {
			assert.Equal(t, "operator:"+reviewerName, a)
		}
	})

	t.Run("a reviewer rejects with a reason and the partner sees it", func(t *testing.T) {
		reviewer.t = t
		reviewer.run(chromedp.Navigate(customerPage(rejectMe)), chromedp.WaitVisible(`#reason-req_selfie_applicant`))
		reviewer.run(chromedp.SendKeys(`#reason-req_selfie_applicant`, "The face is not visible"))
		reviewer.submit(`[data-requirement-id="req_selfie_applicant"] button[data-action="reject"]`)
		reviewer.shot("rejected")
		require.NotNil(t, rejectDocs["req_selfie_applicant"])
		c := partnerCustomer(t, base, partnerSecret, rejectMe.ID)
		assert.Equal(t, "pending_kyc", c["status"])
		var found bool
		for _, it := range c["kyc"].([]any) {
			item := it.(map[string]any)
			if item["requirement_id"] == "req_selfie_applicant" {
				found = true
				assert.Equal(t, "rejected", item["status"])
				assert.Equal(t, "The face is not visible", item["message"])
			}
		}
		assert.True(t, found)
	})

	t.Run("an admin denies", func(t *testing.T) {
		admin.t = t
		admin.run(chromedp.Navigate(customerPage(denyMe)), chromedp.WaitVisible(`#deny-reason`))
		admin.run(chromedp.SendKeys(`#deny-reason`, "Listed in the sanctions list"))
		admin.submit(`button[data-action="deny"]`)
		admin.shot("denied")
		assert.Equal(t, "Customer denied.", admin.text(`.notice`))
		assert.Equal(t, onboarding.StatusDenied, e.customer(t, denyMe).Status)
		require.Eventually(t, func() bool { return rcv.has(webhook.EventCustomerDenied, denyMe.ID) }, 30*time.Second, 50*time.Millisecond)
	})

	t.Run("an admin erases the denied customer", func(t *testing.T) {
		admin.t = t
		admin.run(chromedp.Navigate(customerPage(denyMe)), chromedp.WaitVisible(`#erase-reason`))
		assert.Equal(t, 1, admin.count(`button[data-action="export"]`))
		admin.run(chromedp.SendKeys(`#erase-reason`, "DSR-2026-17"), chromedp.Click(`button[data-action="erase"]`, chromedp.NodeVisible))
		assert.True(t, value(admin, chromedp.Evaluate[bool](`document.querySelector("#erase-confirm").validity.valueMissing`)),
			"the browser holds the form until the confirmation is ticked")
		admin.shot("erase-unconfirmed")
		admin.run(chromedp.Click(`#erase-confirm`, chromedp.NodeVisible))
		admin.submit(`button[data-action="erase"]`)
		admin.shot("erased")
		assert.Equal(t, "Customer erased.", admin.text(`.notice`))
		_, err := e.svc.GetCustomer(context.Background(), "acme", denyMe.ID)
		require.ErrorIs(t, err, onboarding.ErrNotFound)
	})

	t.Run("a cross-site post carrying the session cookie is refused", func(t *testing.T) {
		reviewer.t = t
		target := "/backoffice/customers/" + forgeMe.ID + "/documents/" + forgeDocs["req_ccmei"].ID + "/approve"
		// Another origin on the same host: the browser sends the SameSite=Strict cookie
		// (same site), so only the origin check stands in the way.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><title>Win a prize</title><form method="post" action="%s%s"><button id="go">Claim</button></form>`, base, target)
		}))
		defer evil.Close()
		reviewer.run(chromedp.Navigate(evil.URL), chromedp.WaitVisible(`#go`))
		reviewer.submit(`#go`)
		reviewer.shot("forged")
		p, ok := rec.last(target)
		require.True(t, ok, "the forged post reached the back office")
		assert.True(t, p.cookie, "it carried the session cookie")
		assert.Equal(t, "same-site", p.fetchSite)
		assert.Equal(t, http.StatusForbidden, p.status)
		assert.Contains(t, reviewer.text(`main`), "another site")
		assert.Equal(t, onboarding.RequirementSubmitted, e.customer(t, forgeMe).Requirement("req_ccmei").Status, "nothing approved")
	})

	t.Run("a document does not open without a session", func(t *testing.T) {
		anon.t = t
		doc := forgeDocs["req_ccmei"]
		anon.run(chromedp.Navigate(base+"/backoffice/documents/"+doc.ID+"/ccmei.pdf?partner=acme"), chromedp.WaitVisible(`#username`))
		anon.shot("document-without-session")
		loc := value(anon, chromedp.Location())
		assert.True(t, strings.HasPrefix(loc, base+"/backoffice/login"), loc)
		// With a session it opens.
		reviewer.t = t
		reviewer.run(chromedp.Navigate(customerPage(forgeMe)), chromedp.WaitVisible(`[data-document-id]`))
		ctype := value(reviewer, chromedp.Evaluate[string](`fetch(document.querySelector('[data-document-id="`+doc.ID+`"] a').href).then(r => r.headers.get("content-type"))`,
			chromedp.EvalAwaitPromise))
		assert.Equal(t, "application/pdf", ctype)
	})

	t.Run("log out", func(t *testing.T) {
		admin.t = t
		admin.run(chromedp.Navigate(base + "/backoffice/"))
		admin.submit(`button.link`)
		admin.run(chromedp.WaitVisible(`#username`))
		admin.run(chromedp.Navigate(base + "/backoffice/operations"))
		admin.run(chromedp.WaitVisible(`#username`))
		admin.shot("logged-out")
	})
}
