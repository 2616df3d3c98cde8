package kycapp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/browsertest"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/kycapp"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/webhook"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the wizard's screenshots to docs/images/kyc-*.png")

// browser is one fresh headless chromium (its own profile) with a fake camera, one tab,
// its console watched and its screenshots kept.
type browser struct {
	t      *testing.T
	ctx    context.Context
	shots  string // this run's screenshots
	step   int
	prefix string

	mu      sync.Mutex
	console []string // errors and uncaught exceptions
}

func newBrowser(t *testing.T, prefix string, js bool) *browser {
	t.Helper()
	opts := browsertest.Options(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("lang", "pt-BR"),
		chromedp.Flag("accept-lang", "pt-BR,pt"),
		chromedp.WindowSize(390, 844),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx, shots: t.TempDir(), prefix: prefix}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			dir := browsertest.ArtifactsDir(t)
			if err := os.CopyFS(dir, os.DirFS(b.shots)); err != nil {
				t.Logf("keeping screenshots: %v", err)
			}
			t.Logf("screenshots of the failed run: %s", dir)
		}
	})
	start := time.Now()
	require.NoError(t, chromedp.Do(ctx), "start chromium") // starts the browser without a deadline
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Network errors are the expected 4xx answers (a refused upload, a used link);
			// anything else at error level, a CSP violation included, fails the test.
			if (m.Type == chromedp.ConsoleError && m.Source != "network") || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.console = append(b.console, fmt.Sprintf("%s (%s:%d) %s", m.Type, m.URL, m.Line+1, m.Text))
				b.mu.Unlock()
			}
		}
	}()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	if !js {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		require.NoError(t, err)
	}
	return b
}

// do runs actions with a deadline.
func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

// navigate runs actions that load a page and returns its HTTP status.
func (b *browser) navigate(actions ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, actions...)
	require.NoError(b.t, err)
	return res.Status
}

func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err)
	return v
}

// shot saves a screenshot of the whole page as <prefix>-<n>-<name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	shot := run(b, chromedp.FullScreenshot(100))
	b.step++
	file := fmt.Sprintf("%s-%d-%s.png", b.prefix, b.step, name)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shots, file), shot, 0o644))
	if *updateScreenshots && b.prefix == "kyc" {
		// The committed copies are small: 216 web-safe colours, the best compression.
		src, err := png.Decode(bytes.NewReader(shot))
		require.NoError(b.t, err)
		img := image.NewPaletted(src.Bounds(), palette.WebSafe)
		draw.Draw(img, img.Bounds(), src, src.Bounds().Min, draw.Src)
		var buf bytes.Buffer
		require.NoError(b.t, (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img))
		require.NoError(b.t, os.WriteFile(filepath.Join("..", "docs", "images", file), buf.Bytes(), 0o644))
	}
}

// consoleErrors returns what the console reported at error level.
func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// partnerAPI is a partner's client of the REST API over real HTTP.
type partnerAPI struct {
	t     *testing.T
	base  string
	token string
}

func newPartnerAPI(t *testing.T, e *env) *partnerAPI {
	res, err := http.PostForm(e.srv.URL+"/v3/auth/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {clientID}, "client_secret": {clientSecret}})
	require.NoError(t, err)
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	require.NotEmpty(t, tok.AccessToken)
	return &partnerAPI{t: t, base: e.srv.URL + "/v3", token: tok.AccessToken}
}

func (a *partnerAPI) call(method, path string, body any, want int) map[string]any {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Equal(a.t, want, res.StatusCode, "%s %s: %s", method, path, raw)
	var out map[string]any
	require.NoError(a.t, json.Unmarshal(raw, &out))
	return out
}

// receiver is the partner's webhook endpoint: it verifies each signature and records the
// event types.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	events []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		ev, err := webhook.Unwrap(body, req.Header, r.secret)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		r.events = append(r.events, string(ev.Type))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// browserEnv is the server of a browser test: SQLite, the sandbox plugins (the reviewer and
// biometrics approve), the partner API and the wizard; a partner with a webhook endpoint
// and an EI customer.
func browserEnv(t *testing.T) (*env, *partnerAPI, *receiver, string) {
	e := newEnv(t, envConfig{sqlite: true, svc: &onboarding.Options{
		Reviewer: sandbox.Reviewer{}, Biometrics: sandbox.Biometrics{}, Registry: sandbox.Registry{}},
		kyc: &kycapp.Options{Brand: kycapp.Brand{Name: "Crédito Exemplo", Color: "#0a6b3d"}}})
	api := newPartnerAPI(t, e)
	rcv := newReceiver(t)
	ep := api.call("POST", "/webhooks/endpoints", map[string]any{"url": rcv.srv.URL, "events": []string{"customer.*"}}, 201)
	rcv.mu.Lock()
	rcv.secret = ep["secret"].(string)
	rcv.mu.Unlock()
	c := api.call("POST", "/customers", map[string]any{"external_id": "seller-" + t.Name(), "cpf": "123.456.789-09",
		"cnpj": eiCNPJ, "name": "Maria da Silva", "email": "maria@padaria.example", "phone": "+5511912345678",
		"trading_name": "Padaria da Maria"}, 201)
	return e, api, rcv, c["id"].(string)
}

// files writes the test's files: a PDF, a GIF and a JPEG.
func files(t *testing.T) (pdf, gifFile, jpeg string) {
	dir := t.TempDir()
	pdf, gifFile, jpeg = filepath.Join(dir, "requerimento.pdf"), filepath.Join(dir, "foto.gif"), filepath.Join(dir, "selfie.jpg")
	require.NoError(t, os.WriteFile(pdf, testfiles.PDF("documento"), 0o644))
	require.NoError(t, os.WriteFile(gifFile, gif, 0o644))
	require.NoError(t, os.WriteFile(jpeg, testfiles.JPEGSized("selfie", 640, 480), 0o644))
	return pdf, gifFile, jpeg
}

const (
	companyItem  = "req_ei_registration_requirement"
	identityItem = "req_identity_applicant"
	selfieItem   = "req_selfie_applicant"
)

func item(id string) string { return `[data-item="` + id + `"]` }

// uploadFile sends a file through an item's form, as a person does: choose, then press
// the button. It returns the status of the page that comes back.
func uploadFile(b *browser, id, path string) int64 {
	b.t.Helper()
	b.do(chromedp.SetUploadFiles(chromedp.CSS(item(id)+` input[type=file][name=file]`), []string{path}))
	return b.navigate(chromedp.Click(chromedp.CSS(item(id) + ` button[type=submit]`)))
}

// pageMetrics is what the browser measured of the page's first load.
type pageMetrics struct {
	HTML      int64   `json:"html"`
	CSS       int64   `json:"css"`
	JS        int64   `json:"js"`
	Other     int64   `json:"other"`
	TTFB      float64 `json:"ttfb"`
	FCP       float64 `json:"fcp"`
	DOMLoaded float64 `json:"dcl"`
}

const metricsJS = `(() => {
	const nav = performance.getEntriesByType("navigation")[0];
	const out = {html: nav.decodedBodySize, css: 0, js: 0, other: 0, dcl: nav.domContentLoadedEventEnd, ttfb: nav.responseStart, fcp: -1};
	for (const r of performance.getEntriesByType("resource")) {
		if (r.name.includes(".css")) out.css += r.decodedBodySize;
		else if (r.name.includes(".js")) out.js += r.decodedBodySize;
		else out.other += r.decodedBodySize;
	}
	const fcp = performance.getEntriesByName("first-contentful-paint")[0];
	if (fcp) out.fcp = fcp.startTime;
	return out;
})()`

// measure reads the page's weight and timing from the Performance API.
func measure(b *browser) pageMetrics {
	b.t.Helper()
	var m pageMetrics
	require.NoError(b.t, json.Unmarshal(run(b, chromedp.Evaluate[[]byte](metricsJS)), &m))
	return m
}

// TestBrowserWizard is the customer's whole visit in chromium with a fake camera: open the
// link, send the company document, try a GIF (refused, nothing stored), send the identity
// document, take and send the selfie; the partner sees under_review over the API and its
// webhook endpoint gets customer.under_review. A second browser with the same link gets 410.
func TestBrowserWizard(t *testing.T) {
	e, api, rcv, id := browserEnv(t)
	pdf, gifFile, _ := files(t)
	link := e.link(&onboarding.Customer{PartnerID: partner, ID: id})

	b := newBrowser(t, "kyc", true)
	require.Equal(t, int64(http.StatusOK), b.navigate(chromedp.Navigate(link)))
	require.Equal(t, e.srv.URL+"/kyc/", run(b, chromedp.Location()), "the code is gone from the address")
	b.do(chromedp.WaitVisible(chromedp.CSS(item(companyItem) + " form")))
	require.Equal(t, "Verificação cadastral", run(b, chromedp.Text(chromedp.CSS("h1"))))
	// The camera starts on its own; the button is enabled once the video plays.
	b.do(chromedp.WaitEnabled(chromedp.CSS(`[data-action="take-photo"]`)))
	m := measure(b)
	t.Logf("first load (the link, its redirect, the page): HTML %d + CSS %d + JS %d = %d bytes (other %d); first byte %.0f ms, first contentful paint %.0f ms, DOMContentLoaded %.0f ms",
		m.HTML, m.CSS, m.JS, m.HTML+m.CSS+m.JS, m.Other, m.TTFB, m.FCP, m.DOMLoaded)
	require.Positive(t, m.CSS)
	require.Positive(t, m.JS)
	require.Zero(t, m.Other, "no other request: no font, no image, no third party")
	require.Equal(t, int64(http.StatusOK), b.navigate(chromedp.Reload()))
	b.do(chromedp.WaitEnabled(chromedp.CSS(`[data-action="take-photo"]`)))
	m = measure(b)
	t.Logf("reload (assets cached): first byte %.0f ms, first contentful paint %.0f ms, DOMContentLoaded %.0f ms", m.TTFB, m.FCP, m.DOMLoaded)
	b.shot("open")

	require.Equal(t, int64(http.StatusOK), uploadFile(b, companyItem, pdf))
	b.do(chromedp.WaitVisible(chromedp.CSS(item(companyItem) + `[data-status="submitted"]`)))
	require.Contains(t, run(b, chromedp.Text(chromedp.CSS(`[role=status]`))), "Recebemos: Requerimento de Empresário (EI).")
	b.shot("document-sent")

	require.Equal(t, int64(http.StatusUnsupportedMediaType), uploadFile(b, identityItem, gifFile))
	require.Equal(t, "Formato não aceito. Envie um arquivo PDF, JPEG ou PNG.",
		strings.TrimSpace(run(b, chromedp.Text(chromedp.CSS(item(identityItem)+` [role=alert]`)))))
	docs := api.call("GET", "/customers/"+id+"/documents", nil, 200)["data"].([]any)
	require.Len(t, docs, 1, "the GIF was not stored")
	b.shot("gif-refused")

	require.Equal(t, int64(http.StatusOK), uploadFile(b, identityItem, pdf))
	b.do(chromedp.WaitVisible(chromedp.CSS(item(identityItem) + `[data-status="submitted"]`)))

	// The selfie with the fake camera.
	b.do(chromedp.WaitEnabled(chromedp.CSS(`[data-action="take-photo"]`)),
		chromedp.Click(chromedp.CSS(`[data-action="take-photo"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-preview]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-action="send-photo"]`)))
	b.shot("selfie-preview")
	require.Equal(t, int64(http.StatusOK), b.navigate(chromedp.Click(chromedp.CSS(`[data-action="send-photo"]`))))
	b.do(chromedp.WaitVisible(chromedp.CSS(`[data-final="done"]`)))
	require.Contains(t, run(b, chromedp.Text(chromedp.CSS(`[data-final="done"]`))), "Tudo enviado.")
	b.shot("done")

	// The partner's view, over the API.
	c := api.call("GET", "/customers/"+id, nil, 200)
	require.Equal(t, "under_review", c["status"])
	docs = api.call("GET", "/customers/"+id+"/documents", nil, 200)["data"].([]any)
	require.Len(t, docs, 3)
	selfie := docs[2].(map[string]any)
	require.Equal(t, "selfie", selfie["type"])
	require.Equal(t, "image/jpeg", selfie["content_type"], "the captured JPEG")

	// The workers deliver the webhooks; the sandbox reviewer and biometrics approve.
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for !contains(rcv.got(), "customer.active") && time.Now().Before(deadline) {
		n, err := e.svc.Work(ctx)
		require.NoError(t, err)
		if n == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	require.Contains(t, rcv.got(), "customer.under_review")
	require.Contains(t, rcv.got(), "customer.active", "the sandbox approves the documents and the selfie")
	require.Equal(t, "active", api.call("GET", "/customers/"+id, nil, 200)["status"])
	require.Empty(t, b.consoleErrors(), "no JavaScript errors")

	// The same link in another browser.
	other := newBrowser(t, "kyc", true)
	require.Equal(t, int64(http.StatusGone), other.navigate(chromedp.Navigate(link)))
	require.Equal(t, "Link expirado ou já usado", run(other, chromedp.Text(chromedp.CSS("h1"))))
	body := run(other, chromedp.OuterHTML(chromedp.CSS("html")))
	for _, leak := range []string{id, "Maria", "Padaria", "req_"} {
		require.NotContains(t, body, leak)
	}
	other.step = b.step
	other.shot("link-used")
	require.Empty(t, other.consoleErrors())
}

// TestBrowserWithoutJavaScript sends every item with scripts off: plain forms, the GIF
// refused in the item's alert, the selfie through the file input.
func TestBrowserWithoutJavaScript(t *testing.T) {
	e, api, _, id := browserEnv(t)
	pdf, gifFile, jpeg := files(t)
	b := newBrowser(t, "nojs", false)
	require.Equal(t, int64(http.StatusOK), b.navigate(chromedp.Navigate(e.link(&onboarding.Customer{PartnerID: partner, ID: id}))))
	b.shot("open")
	// No script ran: the camera stays hidden and the selfie's file input is there.
	b.do(chromedp.WaitNotVisible(chromedp.CSS(`[data-camera]`)), chromedp.WaitVisible(chromedp.CSS(item(selfieItem)+` input[type=file]`)))

	require.Equal(t, int64(http.StatusOK), uploadFile(b, companyItem, pdf))
	b.do(chromedp.WaitVisible(chromedp.CSS(item(companyItem) + `[data-status="submitted"]`)))
	require.Equal(t, int64(http.StatusUnsupportedMediaType), uploadFile(b, identityItem, gifFile))
	require.Contains(t, run(b, chromedp.Text(chromedp.CSS(item(identityItem)+` [role=alert]`))), "Formato não aceito")
	b.shot("gif-refused")
	require.Len(t, api.call("GET", "/customers/"+id+"/documents", nil, 200)["data"].([]any), 1)
	require.Equal(t, int64(http.StatusOK), uploadFile(b, identityItem, pdf))
	require.Equal(t, int64(http.StatusOK), uploadFile(b, selfieItem, jpeg))
	b.do(chromedp.WaitVisible(chromedp.CSS(`[data-final="done"]`)))
	b.shot("done")
	require.Equal(t, "under_review", api.call("GET", "/customers/"+id, nil, 200)["status"])
	require.Empty(t, b.consoleErrors())
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
