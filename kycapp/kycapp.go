package kycapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/ratelimit"
)

//go:embed templates/*.html
var defaultTemplates embed.FS

//go:embed assets/app.css assets/app.js
var assetFS embed.FS

// Handler serves the wizard. Build it with New; it is safe for concurrent use.
type Handler struct {
	svc      *onboarding.Service
	sessions Sessions
	path     string
	brand    Brand
	codec    cookieCodec
	tmpl     *template.Template
	limits   *ratelimit.Buckets
	cop      *http.CrossOriginProtection
	log      *slog.Logger
	now      func() time.Time
	ttl      time.Duration
	trustXFP bool
	clientIP func(*http.Request) string
	uploads  onboarding.UploadRules

	css, js, logo          asset
	cssURL, jsURL, logoURL string
}

// asset is one file the handler serves, with its content hash.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

func newAsset(body []byte, ctype string) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, ctype: ctype, etag: hex.EncodeToString(sum[:6])}
}

// contentSecurityPolicy allows nothing but the handler's own files: no inline script or
// style, the selfie preview as a blob: URL, the camera stream, and no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// New returns the wizard over svc, exchanging link codes with sessions. opts may be nil.
func New(svc *onboarding.Service, sessions Sessions, opts *Options) (*Handler, error) {
	if svc == nil || sessions == nil {
		return nil, fmt.Errorf("%w: kycapp: a Service and a Sessions are required", onboarding.ErrInvalidOptions)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{svc: svc, sessions: sessions, path: o.Path, brand: o.Brand, log: o.Logger, now: o.NowFunc,
		ttl: o.SessionTTL, trustXFP: o.TrustForwardedProto, clientIP: o.ClientIPFunc, uploads: svc.UploadRules()}
	if h.path == "" {
		h.path = DefaultPath
	}
	if h.brand.Color == "" {
		h.brand.Color = defaultColor
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ttl == 0 {
		h.ttl = DefaultSessionTTL
	}
	if h.clientIP == nil {
		h.clientIP = remoteHost
	}
	key := o.CookieKey
	if key == nil {
		key = make([]byte, MinCookieKeyLen)
		_, _ = rand.Read(key)
	}
	h.codec = cookieCodec{key: bytes.Clone(key)}
	limit, burst := o.RateLimit, o.RateBurst
	if limit == 0 {
		limit = DefaultRateLimit
	}
	if burst == 0 {
		burst = DefaultRateBurst
	}
	h.limits = ratelimit.New(limit, burst)
	h.cop = http.NewCrossOriginProtection()
	for _, origin := range o.TrustedOrigins {
		_ = h.cop.AddTrustedOrigin(origin) // checked by Validate
	}
	h.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.message(w, r, http.StatusForbidden, "error")
	}))

	tmpl, err := template.New("kycapp").ParseFS(defaultTemplates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("kycapp: default templates: %w", err)
	}
	if o.Templates != nil {
		if tmpl, err = tmpl.ParseFS(o.Templates, "*.html"); err != nil {
			return nil, fmt.Errorf("%w: kycapp: Templates: %w", onboarding.ErrInvalidOptions, err)
		}
	}
	for _, name := range []string{"page", "message"} {
		if tmpl.Lookup(name) == nil {
			return nil, fmt.Errorf("%w: kycapp: Templates: no template %q", onboarding.ErrInvalidOptions, name)
		}
	}
	h.tmpl = tmpl

	css, _ := assetFS.ReadFile("assets/app.css")
	js, _ := assetFS.ReadFile("assets/app.js")
	brandCSS := fmt.Sprintf(":root{--brand:%s;--brand-ink:%s}\n", h.brand.Color, inkFor(h.brand.Color))
	h.css = newAsset(append([]byte(brandCSS), css...), "text/css; charset=utf-8")
	h.js = newAsset(js, "text/javascript; charset=utf-8")
	h.cssURL = h.path + "assets/app.css?v=" + h.css.etag
	h.jsURL = h.path + "assets/app.js?v=" + h.js.etag
	if o.Brand.Logo != nil {
		h.logo = newAsset(bytes.Clone(o.Brand.Logo), http.DetectContentType(o.Brand.Logo))
		h.logoURL = h.path + "assets/logo?v=" + h.logo.etag
	}
	return h, nil
}

// remoteHost is the default ClientIPFunc.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// inkFor picks black or white text, whichever reads better on colour c (#rgb or #rrggbb),
// by the WCAG relative luminance.
func inkFor(c string) string {
	h := c[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		x := float64(v) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(h[0:2]) + 0.7152*lin(h[2:4]) + 0.0722*lin(h[4:6])
	// Contrast with white is 1.05/(l+0.05), with black (l+0.05)/0.05.
	if 1.05/(l+0.05) >= (l+0.05)/0.05 {
		return "#ffffff"
	}
	return "#000000"
}

// ServeHTTP routes the wizard's requests: the page and its uploads at Path, the link's
// exchange at Path?code=…, and the assets under Path/assets/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	rest, ok := strings.CutPrefix(r.URL.Path, h.path)
	if !ok {
		if r.URL.Path+"/" == h.path {
			http.Redirect(w, r, h.path, http.StatusMovedPermanently)
			return
		}
		h.message(w, r, http.StatusNotFound, "notfound")
		return
	}
	switch rest {
	case "":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			if r.URL.Query().Has("code") {
				h.open(w, r)
				return
			}
			h.page(w, r)
		case http.MethodPost:
			h.cop.Handler(http.HandlerFunc(h.post)).ServeHTTP(w, r)
		default:
			hd.Set("Allow", "GET, HEAD, POST")
			h.message(w, r, http.StatusMethodNotAllowed, "notfound")
		}
	case "assets/app.css":
		h.serveAsset(w, r, h.css)
	case "assets/app.js":
		h.serveAsset(w, r, h.js)
	case "assets/logo":
		if h.logo.body == nil {
			h.message(w, r, http.StatusNotFound, "notfound")
			return
		}
		h.serveAsset(w, r, h.logo)
	default:
		h.message(w, r, http.StatusNotFound, "notfound")
	}
}

// serveAsset answers an embedded file; a URL carrying its hash is cached for a year.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, a asset) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("ETag", `"`+a.etag+`"`)
	if r.URL.Query().Get("v") == a.etag {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// pageHeaders are the headers of every HTML answer.
func pageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=()")
}

// https reports whether the browser reached us over HTTPS.
func (h *Handler) https(r *http.Request) bool {
	return r.TLS != nil || (h.trustXFP && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https"))
}

// session returns the claims of the request's valid session cookie.
func (h *Handler) session(r *http.Request) (claims, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return claims{}, false
	}
	return h.codec.decode(c.Value, h.now())
}

// gone reports whether an exchange error means the link opens nothing any more.
func gone(err error) bool {
	return errors.Is(err, ErrCodeUsed) || errors.Is(err, ErrCodeExpired) || errors.Is(err, ErrCodeUnknown) ||
		errors.Is(err, onboarding.ErrNotFound)
}

// previewAgents are the User-Agent marks of the link-preview fetchers of messengers and
// social networks: they fetch a link as soon as it is pasted, and must not use up its
// one-time code before the customer opens it.
var previewAgents = []string{"whatsapp", "facebookexternalhit", "facebot", "slackbot", "telegrambot",
	"twitterbot", "linkedinbot", "discordbot", "skypeuripreview", "googlebot", "bingbot", "applebot",
	"embedly", "pinterest", "redditbot", "vkshare", "viber", "iframely"}

// isPreview reports a request that must not exchange the code: a HEAD, or a preview fetcher.
func isPreview(r *http.Request) bool {
	if r.Method == http.MethodHead {
		return true
	}
	ua := strings.ToLower(r.UserAgent())
	for _, a := range previewAgents {
		if strings.Contains(ua, a) {
			return true
		}
	}
	return false
}

// open exchanges the link's code, sets the session cookie and sends the browser to the
// page's URL, so the code leaves the address bar and the history. A link preview gets a
// neutral page and leaves the code unused.
func (h *Handler) open(w http.ResponseWriter, r *http.Request) {
	if isPreview(r) {
		h.message(w, r, http.StatusOK, "preview")
		return
	}
	if !h.allow(w, r, "ip:"+ratelimit.AddressBlock(h.clientIP(r))) {
		return
	}
	code := r.URL.Query().Get("code")
	var sess Session
	err := ErrCodeUnknown
	if code != "" && len(code) <= maxCodeLen {
		sess, err = h.sessions.Exchange(r.Context(), code)
	}
	now := h.now()
	if err == nil {
		if sess.PartnerID == "" || sess.CustomerID == "" {
			err = errors.New("kycapp: the exchange returned no customer")
		} else if !sess.ExpiresAt.IsZero() && !sess.ExpiresAt.After(now) {
			err = ErrCodeExpired
		}
	}
	if err != nil {
		if !gone(err) {
			h.fail(w, r, "exchange", err)
			return
		}
		// The link was opened before in this browser (a second click on it): the
		// session it set still holds.
		if _, ok := h.session(r); ok {
			http.Redirect(w, r, h.path, http.StatusSeeOther)
			return
		}
		h.message(w, r, http.StatusGone, "gone")
		return
	}
	exp := sess.ExpiresAt
	if exp.IsZero() {
		exp = now.Add(h.ttl)
	}
	cl := claims{PartnerID: sess.PartnerID, CustomerID: sess.CustomerID, Expires: exp.Unix(), ID: randomHex(16)}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: h.codec.encode(cl), Path: h.path,
		Expires: exp, MaxAge: max(1, int(exp.Sub(now)/time.Second)),
		HttpOnly: true, Secure: h.https(r), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.path, http.StatusSeeOther)
}

// allow applies the rate limit of key, answering 429 when it is spent.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request, key string) bool {
	ok, tokens := h.limits.Take(key, h.now())
	if ok {
		return true
	}
	wait := h.limits.Wait(tokens)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second))))
	h.message(w, r, http.StatusTooManyRequests, "limited")
	return false
}

// customer returns the session's customer, or answers 403 (no session) or 429.
func (h *Handler) customer(w http.ResponseWriter, r *http.Request) (claims, *onboarding.Customer, bool) {
	cl, ok := h.session(r)
	if !ok {
		h.message(w, r, http.StatusForbidden, "nosession")
		return cl, nil, false
	}
	if !h.allow(w, r, "s:"+cl.ID) {
		return cl, nil, false
	}
	c, err := h.svc.GetCustomer(r.Context(), cl.PartnerID, cl.CustomerID)
	if errors.Is(err, onboarding.ErrNotFound) {
		h.message(w, r, http.StatusForbidden, "nosession")
		return cl, nil, false
	}
	if err != nil {
		h.fail(w, r, "read customer", err)
		return cl, nil, false
	}
	return cl, c, true
}

// page shows the customer's items.
func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	_, c, ok := h.customer(w, r)
	if !ok {
		return
	}
	p := h.wizard(r, c)
	if id := r.URL.Query().Get("sent"); id != "" {
		if req := c.Requirement(id); req != nil {
			p.Notice = fmt.Sprintf(p.Tr("received"), itemLabel(req, p.Lang))
		}
	}
	h.render(w, r, http.StatusOK, "page", p)
}

// message answers a page with a heading and a sentence, nothing of the customer.
func (h *Handler) message(w http.ResponseWriter, r *http.Request, status int, key string) {
	p := h.newPage(r)
	p.Title = p.Tr(key + "_title")
	p.Heading, p.Body = p.Title, p.Tr(key+"_body")
	h.render(w, r, status, "message", p)
}

// fail logs an unexpected error (IDs and the error only) and answers 500, or 503 when the
// request was cut short.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		w.Header().Set("Retry-After", "1")
		h.message(w, r, http.StatusServiceUnavailable, "error")
		return
	}
	h.log.ErrorContext(r.Context(), "kycapp: "+what, "error", err, "path", r.URL.Path)
	h.message(w, r, http.StatusInternalServerError, "error")
}

// render executes a template into a buffer first, so a template error is a clean 500.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *Page) {
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		h.log.ErrorContext(r.Context(), "kycapp: template", "template", name, "error", err)
		pageHeaders(w)
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, "<!doctype html><title>Erro</title><p>Erro interno.</p>\n")
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
