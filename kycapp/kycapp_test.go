package kycapp_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/kycapp"
)

// EI: company document (Requerimento de Empresário), identity and selfie.
const eiCNPJ = "99.345.679/0001-18"

// gif is a complete GIF: a format no item takes.
var gif = []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")

func TestOpenLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{clock: true})
	c := e.customer(eiCNPJ)
	link := e.link(c)

	b := e.browser()
	p := e.get(b, link)
	require.Equal(t, http.StatusSeeOther, p.status)
	require.Equal(t, "/kyc/", p.header.Get("Location"), "the code leaves the URL")
	require.Equal(t, "no-referrer", p.header.Get("Referrer-Policy"))
	cookies := (&http.Response{Header: p.header}).Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	require.Equal(t, kycapp.CookieName, ck.Name)
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	require.False(t, ck.Secure, "plain HTTP without a trusted proxy")
	require.Equal(t, "/kyc/", ck.Path)
	require.NotContains(t, ck.Value, c.ID, "the cookie is signed, its IDs are encoded")
	require.InDelta(t, (15 * time.Minute).Seconds(), float64(ck.MaxAge), 2, "the cookie lasts as long as the biometrics session")

	p = e.get(b, e.srv.URL+"/kyc/")
	require.Equal(t, http.StatusOK, p.status)
	require.Contains(t, p.body, "Requerimento de Empresário (EI)")
	require.Contains(t, p.body, "Documento de identidade (CNH ou RG) de Maria da Silva")
	require.Contains(t, p.body, "Selfie de Maria da Silva")
	require.Contains(t, p.body, `lang="pt-BR"`)
	require.Equal(t, 3, strings.Count(p.body, `<form method="post" enctype="multipart/form-data"`))
	require.Contains(t, p.body, `accept="application/pdf,.pdf,image/jpeg,.jpg,.jpeg,image/png,.png"`)
	require.Contains(t, p.body, `accept="image/jpeg,.jpg,.jpeg,image/png,.png"`, "a selfie takes images only")
	require.Contains(t, p.body, `capture="user"`)

	// The same link again: in a new browser, 410 with nothing of the customer; in the
	// browser that opened it, back to the page.
	other := e.browser()
	p = e.get(other, link)
	require.Equal(t, http.StatusGone, p.status)
	for _, leak := range []string{c.ID, "Maria", "Padaria", "req_", "Selfie", "<form"} {
		require.NotContains(t, p.body, leak)
	}
	require.Contains(t, p.body, "Link expirado ou já usado")
	require.Empty(t, p.header.Values("Set-Cookie"))
	p = e.get(b, link)
	require.Equal(t, http.StatusSeeOther, p.status)

	// Unknown, empty and overlong codes, and no code at all.
	for _, u := range []string{"/kyc/?code=bsc_nope", "/kyc/?code=", "/kyc/?code=" + strings.Repeat("x", 600)} {
		require.Equal(t, http.StatusGone, e.get(other, e.srv.URL+u).status, u)
	}
	p = e.get(other, e.srv.URL+"/kyc/")
	require.Equal(t, http.StatusForbidden, p.status)
	require.NotContains(t, p.body, "Maria")

	// The session ends with the biometrics session it came from.
	e.clock.Add(15 * time.Minute)
	require.Equal(t, http.StatusForbidden, e.get(b, e.srv.URL+"/kyc/").status)

	// An expired code (the customer may have a new session once the last one ended).
	late := e.link(c)
	e.clock.Add(15 * time.Minute)
	require.Equal(t, http.StatusGone, e.get(e.browser(), late).status)

	// A tampered cookie is no session.
	fresh := e.browser()
	p = e.get(fresh, e.link(c))
	require.Equal(t, http.StatusSeeOther, p.status)
	val := (&http.Response{Header: p.header}).Cookies()[0].Value
	for _, bad := range []string{val[:len(val)-2] + "AA", "v1." + strings.Split(val, ".")[1] + ".", "v2" + val[2:], "garbage"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/kyc/", nil)
		req.AddCookie(&http.Cookie{Name: kycapp.CookieName, Value: bad})
		require.Equal(t, http.StatusForbidden, e.do(e.browser(), req).status, bad)
	}
}

// TestLinkPreview: a messenger's preview fetcher, or a HEAD, does not use up the code.
func TestLinkPreview(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.customer(eiCNPJ)
	link := e.link(c)
	for _, ua := range []string{"WhatsApp/2.23.20.0", "facebookexternalhit/1.1", "Slackbot-LinkExpanding 1.0", "TelegramBot (like TwitterBot)"} {
		p := e.get(e.browser(), link, "User-Agent", ua)
		require.Equal(t, http.StatusOK, p.status, ua)
		require.Empty(t, p.header.Values("Set-Cookie"), ua)
		require.NotContains(t, p.body, "Maria", ua)
		require.Contains(t, p.body, "Abra este link no seu celular", ua)
	}
	req, _ := http.NewRequest(http.MethodHead, link, nil)
	require.Equal(t, http.StatusOK, e.do(e.browser(), req).status)
	require.Equal(t, http.StatusOK, e.open(e.browser(), link).status, "the code still opens the page")
}

func TestSecureCookie(t *testing.T) {
	t.Parallel()
	secure := func(t *testing.T, e *env, header ...string) bool {
		p := e.get(e.browser(), e.link(e.customer(eiCNPJ)), header...)
		require.Equal(t, http.StatusSeeOther, p.status)
		return (&http.Response{Header: p.header}).Cookies()[0].Secure
	}
	t.Run("tls", func(t *testing.T) {
		t.Parallel()
		require.True(t, secure(t, newEnv(t, envConfig{tls: true})))
	})
	t.Run("forwarded", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envConfig{kyc: &kycapp.Options{TrustForwardedProto: true}})
		require.True(t, secure(t, e, "X-Forwarded-Proto", "https"))
	})
	t.Run("forwarded-untrusted", func(t *testing.T) {
		t.Parallel()
		require.False(t, secure(t, newEnv(t, envConfig{}), "X-Forwarded-Proto", "https"))
	})
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	b := e.browser()
	pages := map[string]*page{
		"wizard": e.open(b, e.link(e.customer(eiCNPJ))),
		"gone":   e.get(e.browser(), e.srv.URL+"/kyc/?code=bsc_used"),
		"none":   e.get(e.browser(), e.srv.URL+"/kyc/"),
		"404":    e.get(b, e.srv.URL+"/kyc/nope"),
	}
	csp := regexp.MustCompile(`^default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; .*frame-ancestors 'none'$`)
	for name, p := range pages {
		require.Regexp(t, csp, p.header.Get("Content-Security-Policy"), name)
		require.Equal(t, "no-referrer", p.header.Get("Referrer-Policy"), name)
		require.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"), name)
		require.Equal(t, "DENY", p.header.Get("X-Frame-Options"), name)
		require.Equal(t, "no-store", p.header.Get("Cache-Control"), name)
		require.Equal(t, "text/html; charset=utf-8", p.header.Get("Content-Type"), name)
		// No inline script or style: every script has a src, no style element or attribute.
		require.NotRegexp(t, `<script(?:\s[^>]*)?>[^<]`, p.body, name)
		require.NotContains(t, p.body, "<style", name)
		require.NotContains(t, p.body, " style=", name)
		require.NotContains(t, p.body, "http://", name, "no third-party asset")
		require.NotContains(t, p.body, "https://", name, "no third-party asset")
	}
	require.Equal(t, http.StatusNotFound, pages["404"].status)
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(pages["wizard"].body, -1) {
		require.Contains(t, m, ` src="/kyc/assets/app.js?v=`)
	}

	for _, a := range []struct{ path, ctype string }{{"app.css", "text/css; charset=utf-8"}, {"app.js", "text/javascript; charset=utf-8"}} {
		p := e.get(b, e.srv.URL+"/kyc/assets/"+a.path)
		require.Equal(t, http.StatusOK, p.status)
		require.Equal(t, a.ctype, p.header.Get("Content-Type"))
		require.Equal(t, "nosniff", p.header.Get("X-Content-Type-Options"))
		require.NotEmpty(t, p.body)
	}
	v := regexp.MustCompile(`/kyc/assets/app\.css\?v=[0-9a-f]+`).FindString(pages["wizard"].body)
	require.NotEmpty(t, v)
	require.Contains(t, e.get(b, e.srv.URL+v).header.Get("Cache-Control"), "immutable")
	require.Equal(t, http.StatusNotFound, e.get(b, e.srv.URL+"/kyc/assets/logo").status, "no logo configured")
}

func TestUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{svc: &onboarding.Options{Uploads: onboarding.UploadRules{
		MaxSizeByType:  map[onboarding.DocumentType]int64{onboarding.DocCNH: 2048},
		MaxImagePixels: 1000 * 1000,
	}}})
	c := e.customer(eiCNPJ)
	b := e.browser()
	p := e.open(b, e.link(c))
	require.Contains(t, p.body, "PDF, JPEG ou PNG, até 10 MB.")
	require.Contains(t, p.body, "PDF, JPEG ou PNG, até 2 KB.", "the lender's limit for the identity item")
	require.Contains(t, p.body, "JPEG ou PNG, até 10 MB.")

	const company, identity, selfie = "req_ei_registration_requirement", "req_identity_applicant", "req_selfie_applicant"
	refusals := []struct {
		name   string
		reqID  string
		data   []byte
		status int
		alert  string
	}{
		{"gif", identity, gif, http.StatusUnsupportedMediaType, "Formato não aceito. Envie um arquivo PDF, JPEG ou PNG."},
		{"pdf as selfie", selfie, testfiles.PDF("not a face"), http.StatusUnsupportedMediaType, "Formato não aceito. Envie um arquivo JPEG ou PNG."},
		{"truncated", company, testfiles.PDF("x")[:20], http.StatusUnsupportedMediaType, "incompleto"},
		{"too large", identity, testfiles.PDF(strings.Repeat("x", 4096)), http.StatusRequestEntityTooLarge, "O arquivo é grande demais. O limite é 2 KB."},
		{"image too large", selfie, testfiles.JPEGSized("huge", 4000, 4000), http.StatusUnsupportedMediaType, "resolução grande demais"},
		{"empty", company, []byte{}, http.StatusBadRequest, "Escolha um arquivo"},
		{"not required", "req_bylaws", testfiles.PDF("x"), http.StatusUnprocessableEntity, "Este item não precisa de envio agora."},
		{"no item", "", testfiles.PDF("x"), http.StatusUnprocessableEntity, "Escolha o item e o arquivo"},
		{"no file", company, nil, http.StatusBadRequest, "Escolha um arquivo"},
	}
	for _, r := range refusals {
		p := e.upload(b, r.reqID, "f", r.data)
		require.Equal(t, r.status, p.status, "%s: %s", r.name, alertText(p.body))
		require.Contains(t, alertText(p.body), r.alert, r.name)
		require.Contains(t, p.body, "<h1>Verificação cadastral</h1>", "%s: the page again", r.name)
		require.Empty(t, e.documents(c), "%s: nothing stored", r.name)
	}
	// The alert sits in the item's own element.
	p = e.upload(b, identity, "x.gif", gif)
	require.Regexp(t, `id="alert-req_identity_applicant" data-alert>Formato não aceito`, p.body)

	p = e.upload(b, company, "requerimento.pdf", testfiles.PDF("requerimento"))
	require.Equal(t, http.StatusSeeOther, p.status, alertText(p.body))
	require.Equal(t, "/kyc/?sent=req_ei_registration_requirement#item-req_ei_registration_requirement", p.header.Get("Location"))
	p = e.get(b, e.srv.URL+"/kyc/?sent="+company)
	require.Contains(t, p.body, `role="status">Recebemos: Requerimento de Empresário (EI).`)
	require.Contains(t, p.body, `data-item="req_ei_registration_requirement" data-status="submitted"`)
	require.Equal(t, 2, strings.Count(p.body, "<form "), "the submitted item takes no more files")
	require.Len(t, e.documents(c), 1)

	require.Equal(t, http.StatusSeeOther, e.upload(b, identity, "cnh.pdf", testfiles.PDF("cnh")).status)
	require.Equal(t, onboarding.StatusPendingKYC, e.status(c))
	require.Equal(t, http.StatusSeeOther, e.upload(b, selfie, "selfie.jpg", testfiles.JPEG("maria")).status)
	require.Equal(t, onboarding.StatusUnderReview, e.status(c))
	p = e.get(b, e.srv.URL+"/kyc/")
	require.Contains(t, p.body, `data-final="done"`)
	require.Contains(t, p.body, "Tudo enviado.")
	require.NotContains(t, p.body, "<form ")

	// The same events as an upload over the API.
	evs, err := e.svc.ListEvents(context.Background(), partner, onboarding.ListEventsParams{})
	require.NoError(t, err)
	var types []string
	for _, ev := range evs {
		types = append(types, string(ev.Type))
	}
	require.Contains(t, types, "customer.under_review")
	require.Equal(t, 3, strings.Count(strings.Join(types, ","), "customer.kyc_updated"))

	// An approved item is no longer required.
	doc := e.documents(c)[0]
	_, err = e.svc.ReviewDocument(context.Background(), partner, doc.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove, Reviewer: "t"})
	require.NoError(t, err)
	p = e.upload(b, doc.RequirementID, "again.pdf", testfiles.PDF("again"))
	require.Equal(t, http.StatusUnprocessableEntity, p.status)

	// A denied customer sees no form and cannot send.
	_, err = e.svc.DenyCustomer(context.Background(), partner, c.ID, "fraud", "test")
	require.NoError(t, err)
	p = e.get(b, e.srv.URL+"/kyc/")
	require.Contains(t, p.body, `data-final="denied"`)
	require.NotContains(t, p.body, "<form ")
}

func TestCrossOriginPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{kyc: &kycapp.Options{TrustedOrigins: []string{"https://lender.example"}}})
	c := e.customer(eiCNPJ)
	b := e.browser()
	e.open(b, e.link(c))
	p := e.upload(b, "req_ei_registration_requirement", "a.pdf", testfiles.PDF("a"), "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, p.status)
	require.Empty(t, e.documents(c))
	p = e.upload(b, "req_ei_registration_requirement", "a.pdf", testfiles.PDF("a"), "Sec-Fetch-Site", "", "Origin", "https://evil.example")
	require.Equal(t, http.StatusForbidden, p.status)
	require.Empty(t, e.documents(c))
	p = e.upload(b, "req_ei_registration_requirement", "a.pdf", testfiles.PDF("a"), "Sec-Fetch-Site", "cross-site", "Origin", "https://lender.example")
	require.Equal(t, http.StatusSeeOther, p.status, "a trusted origin")

	// Without a session, a post is refused before its body is read.
	p = e.upload(e.browser(), "req_identity_applicant", "a.pdf", testfiles.PDF("a"))
	require.Equal(t, http.StatusForbidden, p.status)
	require.Len(t, e.documents(c), 1)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{clock: true, kyc: &kycapp.Options{RateLimit: 1, RateBurst: 3}})
	c := e.customer(eiCNPJ)
	b := e.browser()
	e.open(b, e.link(c)) // 1 link opening, 1 page
	require.Equal(t, http.StatusOK, e.get(b, e.srv.URL+"/kyc/").status)
	require.Equal(t, http.StatusOK, e.get(b, e.srv.URL+"/kyc/").status)
	p := e.get(b, e.srv.URL+"/kyc/")
	require.Equal(t, http.StatusTooManyRequests, p.status)
	require.Equal(t, "1", p.header.Get("Retry-After"))
	require.Contains(t, p.body, "Muitas tentativas")
	// Another session (another customer's: one session per customer at a time) has its
	// own bucket; assets are not limited.
	require.Equal(t, http.StatusOK, e.open(e.browser(), e.link(e.customer("99.345.678/0001-73"))).status)
	require.Equal(t, http.StatusOK, e.get(b, e.srv.URL+"/kyc/assets/app.css").status)
	e.clock.Add(time.Second)
	require.Equal(t, http.StatusOK, e.get(b, e.srv.URL+"/kyc/").status)

	// Link openings per client address.
	for range 2 { // 3 at once, 2 spent, 1 back in a second
		require.Equal(t, http.StatusGone, e.get(e.browser(), e.srv.URL+"/kyc/?code=bsc_guess").status)
	}
	require.Equal(t, http.StatusTooManyRequests, e.get(e.browser(), e.srv.URL+"/kyc/?code=bsc_guess").status)
}

func TestEnglish(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	c := e.customer(eiCNPJ)
	b := e.browser()
	e.open(b, e.link(c))
	p := e.get(b, e.srv.URL+"/kyc/", "Accept-Language", "en-US,en;q=0.9,pt;q=0.5")
	require.Contains(t, p.body, `<html lang="en">`)
	require.Contains(t, p.body, "<h1>Identity verification</h1>")
	require.Contains(t, p.body, "Selfie of Maria da Silva")
	require.Contains(t, p.body, "PDF, JPEG or PNG, up to 10 MB.")
	p = e.upload(b, "req_identity_applicant", "x.gif", gif, "Accept-Language", "en")
	require.Equal(t, "Format not accepted. Send a PDF, JPEG or PNG file.", alertText(p.body))
	// Anything else is pt-BR.
	for _, al := range []string{"", "fr-FR", "pt", "pt-PT,en;q=0.1", "*"} {
		require.Contains(t, e.get(b, e.srv.URL+"/kyc/", "Accept-Language", al).body, `lang="pt-BR"`, al)
	}
	require.Contains(t, e.get(e.browser(), e.srv.URL+"/kyc/?code=x", "Accept-Language", "en").body, "Link expired or already used")
}

func TestBrandingAndTemplates(t *testing.T) {
	t.Parallel()
	logo := testfiles.PNG("logo")
	e := newEnv(t, envConfig{kyc: &kycapp.Options{
		Brand: kycapp.Brand{Name: "Crédito Acme", Logo: logo, Color: "#ffd700"},
		Templates: fstest.MapFS{"footer.html": {Data: []byte(
			`{{define "foot"}}<footer class="lender">Crédito Acme · {{.Tr "title"}}</footer></body></html>{{end}}`)}},
	}})
	b := e.browser()
	p := e.open(b, e.link(e.customer(eiCNPJ)))
	require.Contains(t, p.body, "<title>Verificação cadastral · Crédito Acme</title>")
	require.Contains(t, p.body, `<span class="name">Crédito Acme</span>`)
	require.Regexp(t, `<img class="logo" src="/kyc/assets/logo\?v=[0-9a-f]+" alt="Crédito Acme">`, p.body)
	require.Contains(t, p.body, `<footer class="lender">Crédito Acme · Verificação cadastral</footer>`)
	css := e.get(b, e.srv.URL+"/kyc/assets/app.css")
	require.True(t, strings.HasPrefix(css.body, ":root{--brand:#ffd700;--brand-ink:#000000}"), "dark text on gold")
	l := e.get(b, e.srv.URL+"/kyc/assets/logo")
	require.Equal(t, "image/png", l.header.Get("Content-Type"))
	require.Equal(t, string(logo), l.body)

	// The message pages take the same templates.
	require.Contains(t, e.get(e.browser(), e.srv.URL+"/kyc/?code=x").body, `<footer class="lender">`)
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]kycapp.Options{
		"colour name":    {Brand: kycapp.Brand{Color: "red"}},
		"colour inject":  {Brand: kycapp.Brand{Color: "#fff;}body{display:none"}},
		"colour short":   {Brand: kycapp.Brand{Color: "#ff"}},
		"svg logo":       {Brand: kycapp.Brand{Logo: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)}},
		"short key":      {CookieKey: []byte("short")},
		"path":           {Path: "/kyc"},
		"path query":     {Path: "/kyc/?x=1/"},
		"negative ttl":   {SessionTTL: -time.Second},
		"negative rate":  {RateLimit: -1},
		"bad origin":     {TrustedOrigins: []string{"not a url"}},
		"bad template":   {Templates: fstest.MapFS{"x.html": {Data: []byte(`{{define "page"}}{{.Nope`)}}},
		"missing fields": {Templates: fstest.MapFS{"x.html": {Data: []byte(`{{define "page"}}{{.Nope}}{{end}}`)}}},
	} {
		err := o.Validate()
		if name == "bad template" || name == "missing fields" {
			require.NoError(t, err, name) // found by New
			svc := newEnv(t, envConfig{}).svc
			_, err = kycapp.New(svc, kycapp.SessionsFunc(nil), &o)
			if name == "missing fields" {
				// Parsed fine; executing it fails at render time with a clean 500.
				require.NoError(t, err, name)
				continue
			}
		}
		require.ErrorIs(t, err, onboarding.ErrInvalidOptions, name)
	}
	for _, c := range []string{"#abc", "#A0B1C2", ""} {
		o := kycapp.Options{Brand: kycapp.Brand{Color: c}, CookieKey: make([]byte, 32)}
		require.NoError(t, o.Validate(), c)
	}
	_, err := kycapp.New(nil, nil, nil)
	require.ErrorIs(t, err, onboarding.ErrInvalidOptions)
}

func TestTemplateErrorIs500(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{kyc: &kycapp.Options{Templates: fstest.MapFS{"x.html": {Data: []byte(`{{define "page"}}{{.Nope}}{{end}}`)}}}})
	b := e.browser()
	require.Equal(t, http.StatusSeeOther, e.get(b, e.link(e.customer(eiCNPJ))).status)
	p := e.get(b, e.srv.URL+"/kyc/")
	require.Equal(t, http.StatusInternalServerError, p.status)
	require.NotContains(t, p.body, "Maria")
	logMu.Lock()
	defer logMu.Unlock()
	require.Contains(t, e.logs.String(), "kycapp: template")
}

func TestExchangeFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	h, err := kycapp.New(e.svc, kycapp.SessionsFunc(func(context.Context, string) (kycapp.Session, error) {
		return kycapp.Session{}, errors.New("database down")
	}), &kycapp.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	rec := newRecorder(h, "/kyc/?code=bsc_x")
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotContains(t, rec.Body.String(), "database down")

	h, err = kycapp.New(e.svc, kycapp.SessionsFunc(func(context.Context, string) (kycapp.Session, error) {
		return kycapp.Session{}, onboarding.ErrNotFound
	}), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, newRecorder(h, "/kyc/?code=bsc_x").Code)
}

// TestCodeOnce opens one link from many browsers at once: exactly one gets the session.
func TestCodeOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{kyc: &kycapp.Options{RateLimit: rate.Inf}})
	for _, cnpj := range []string{"99.345.680/0001-42", "99.345.681/0001-97", "99.345.682/0001-31", "99.345.683/0001-86", "99.345.684/0001-20"} {
		link := e.link(e.customer(cnpj)) // a customer has one open session at a time
		var ok, gone atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				res, err := e.browser().Get(link)
				if err != nil {
					t.Error(err)
					return
				}
				_ = res.Body.Close()
				switch res.StatusCode {
				case http.StatusSeeOther:
					ok.Add(1)
				case http.StatusGone:
					gone.Add(1)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(1), ok.Load())
		require.Equal(t, int32(31), gone.Load())
	}
}

// TestServiceSessions: the Service's codes, exchanged through ServiceSessions, work once
// under concurrency, not after their session expires, and not for a denied customer.
func TestServiceSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{clock: true})
	sessions := kycapp.ServiceSessions(e.svc)
	c := e.customer("12.345.678/0001-95")
	code := strings.TrimPrefix(e.link(c), e.srv.URL+"/kyc/?code=")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			sess, err := sessions.Exchange(context.Background(), code)
			if err == nil {
				wins.Add(1)
				if sess.CustomerID != c.ID || sess.PartnerID != partner || !sess.ExpiresAt.After(e.clock.Now()) {
					t.Errorf("session %+v", sess)
				}
			} else if !errors.Is(err, kycapp.ErrCodeUnknown) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load())

	other := e.customer("12.345.679/0001-30")
	late := strings.TrimPrefix(e.link(other), e.srv.URL+"/kyc/?code=")
	e.clock.Add(16 * time.Minute) // past the sandbox session's 15 minutes
	_, err := sessions.Exchange(context.Background(), late)
	require.ErrorIs(t, err, kycapp.ErrCodeUnknown)
	_, err = sessions.Exchange(context.Background(), "bsc_unknown")
	require.ErrorIs(t, err, kycapp.ErrCodeUnknown)

	denied := e.customer("12.345.680/0001-64")
	code = strings.TrimPrefix(e.link(denied), e.srv.URL+"/kyc/?code=")
	_, err = e.svc.DenyCustomer(context.Background(), partner, denied.ID, "fraude", "")
	require.NoError(t, err)
	_, err = sessions.Exchange(context.Background(), code)
	require.ErrorIs(t, err, kycapp.ErrCodeUnknown, "a denied customer's link shows nothing")
}

// TestConcurrentUploads sends many files for the same customer at once, from one session
// and from several: every answer is a redirect or a 503 to retry, never a 500, and the
// customer reaches under_review once.
func TestConcurrentUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{sqlite: true, kyc: &kycapp.Options{RateLimit: rate.Inf}})
	c := e.customer(eiCNPJ)
	// One session (a customer has one at a time) in three clients uploading at once.
	first := e.browser()
	e.open(first, e.link(c))
	sessions := []*http.Client{first, e.browser(), e.browser()}
	for _, b := range sessions[1:] {
		b.Jar = first.Jar
	}
	items := []struct{ id, name string }{
		{"req_ei_registration_requirement", "req.pdf"}, {"req_identity_applicant", "cnh.pdf"}, {"req_selfie_applicant", "selfie.jpg"}}
	var wg sync.WaitGroup
	var statuses sync.Map
	for i := range 24 {
		wg.Go(func() {
			it := items[i%3]
			data := testfiles.PDF(fmt.Sprint("doc ", i))
			if strings.HasSuffix(it.name, ".jpg") {
				data = testfiles.JPEG(fmt.Sprint("face ", i))
			}
			p := e.upload(sessions[i%len(sessions)], it.id, it.name, data)
			n, _ := statuses.LoadOrStore(p.status, new(atomic.Int32))
			n.(*atomic.Int32).Add(1)
		})
	}
	wg.Wait()
	statuses.Range(func(k, v any) bool {
		require.Contains(t, []int{http.StatusSeeOther, http.StatusServiceUnavailable}, k, "status %v ×%d", k, v.(*atomic.Int32).Load())
		return true
	})
	// Whatever lost a race is sent again, as the customer would.
	for _, it := range items {
		got, err := e.svc.GetCustomer(context.Background(), partner, c.ID)
		require.NoError(t, err)
		if got.Requirement(it.id).Status == onboarding.RequirementPending {
			data := testfiles.PDF("again")
			if it.id == "req_selfie_applicant" {
				data = testfiles.JPEG("again")
			}
			require.Equal(t, http.StatusSeeOther, e.upload(sessions[0], it.id, it.name, data).status)
		}
	}
	require.Equal(t, onboarding.StatusUnderReview, e.status(c))
	evs, err := e.svc.ListEvents(context.Background(), partner, onboarding.ListEventsParams{})
	require.NoError(t, err)
	n := 0
	for _, ev := range evs {
		if ev.Type == "customer.under_review" {
			n++
		}
	}
	require.Equal(t, 1, n)
}
