package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sender delivers one signed message. The HTTP sender POSTs it to the endpoint's URL;
// other implementations publish it to a broker. Implementations must be safe for
// concurrent use and report every outcome in the Result, never by panicking.
type Sender interface {
	Send(ctx context.Context, d Delivery) Result
}

// Delivery is one attempt at delivering a message.
type Delivery struct {
	// URL is the endpoint's URL.
	URL string
	// Secrets sign the message, the current secret first (Endpoint.ActiveSecrets).
	Secrets []string
	// MsgID is the webhook-id header: the receivers' deduplication key, the same on
	// every attempt of the message.
	MsgID string
	// Timestamp is the webhook-timestamp header: the time of this attempt (receivers
	// refuse messages more than a few minutes off). Zero means now.
	Timestamp time.Time
	// Payload is the JSON body, sent and signed byte for byte.
	Payload []byte
	// EventType is informational: a broker sender can route or tag on it.
	EventType string
}

// Result is the outcome of one attempt, ready for the delivery log.
type Result struct {
	// Delivered is true when the receiver answered 2xx.
	Delivered bool
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Latency is the time from sending the request to reading the (capped) response.
	Latency time.Duration
	// RetryAfter is the receiver's Retry-After (seconds or HTTP date), capped at
	// MaxRetryAfter; zero when absent. Pass it to Schedule.Next.
	RetryAfter time.Duration
	// Disable is true when the receiver answered 410 Gone: disable the endpoint and
	// stop delivering to it.
	Disable bool
	// Permanent is true when retrying the same delivery cannot succeed: a bad secret,
	// message id or URL. Fix the endpoint, then replay.
	Permanent bool
	// Err says why the attempt failed; nil when Delivered.
	Err error
	// Response is the start of the response body (at most SnippetBytes, valid UTF-8
	// without NUL bytes, so any database stores it).
	Response string
}

// Retryable reports whether the attempt failed in a way a later attempt may fix:
// anything but delivered, gone or permanent.
func (r Result) Retryable() bool { return !r.Delivered && !r.Disable && !r.Permanent }

// HTTP sender defaults.
const (
	DefaultTimeout             = 15 * time.Second
	DefaultMaxResponseBytes    = 64 << 10
	DefaultMaxIdleConnsPerHost = 64
	DefaultUserAgent           = "onboarding-webhooks/1"
	// SnippetBytes is the most of a response body kept in Result.Response.
	SnippetBytes = 1 << 10
)

// HTTPOptions configures NewHTTPSender. A nil *HTTPOptions, like the zero value of each
// field, means the production defaults.
type HTTPOptions struct {
	// Timeout bounds a whole attempt, from dialling to reading the response; zero means
	// DefaultTimeout (15 s, the Standard Webhooks recommendation).
	Timeout time.Duration
	// UserAgent is the User-Agent header; empty means DefaultUserAgent.
	UserAgent string
	// MaxResponseBytes is how much of a response body is read before the connection
	// is dropped instead of drained; zero means DefaultMaxResponseBytes (64 KiB).
	MaxResponseBytes int64
	// MaxIdleConnsPerHost is the keep-alive pool per receiver; zero means
	// DefaultMaxIdleConnsPerHost. Keep it at least the number of concurrent senders:
	// net/http's default of 2 costs about 20 % of throughput.
	MaxIdleConnsPerHost int
	// AllowInsecure permits http:// URLs (sandbox and tests).
	AllowInsecure bool
	// AllowPrivate permits loopback, private and other internal destinations (sandbox
	// and tests); otherwise they are refused at dial time with ErrForbiddenAddress.
	AllowPrivate bool
	// TLSConfig is the client TLS configuration (custom roots); nil means the system
	// roots and at least TLS 1.2.
	TLSConfig *tls.Config
	// Resolver resolves receiver host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// Transport replaces the guarded transport altogether (to route through an egress
	// proxy such as smokescreen). The SSRF guard is then the transport's business; use
	// NewDialer to build one. Redirects are still not followed.
	Transport http.RoundTripper
	// NowFunc is the clock for Delivery.Timestamp and Retry-After dates; nil means
	// time.Now.
	NowFunc func() time.Time
	// WrapTransport, when set, wraps the transport (the guarded one, or Transport) before
	// use: to instrument it (otelhttp.NewTransport, for a client span and metrics per
	// POST) without giving up the SSRF guard. The result must be safe for concurrent use.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// HTTPSender delivers messages by HTTP POST, per Standard Webhooks. It is safe for
// concurrent use; share one per process so connections are reused.
type HTTPSender struct {
	client    *http.Client
	transport *http.Transport // nil when the caller supplied the transport
	opts      HTTPOptions
}

// errRedirect marks a 3xx answer, which is not followed.
var errRedirect = errors.New("webhook: redirect not followed")

// NewHTTPSender returns an HTTP sender. Its transport dials through the SSRF guard
// (unless AllowPrivate), ignores proxy environment variables (a proxy would be dialled
// instead of the receiver and defeat the guard), and keeps MaxIdleConnsPerHost idle
// connections per receiver.
func NewHTTPSender(opts *HTTPOptions) *HTTPSender {
	var o HTTPOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if o.NowFunc == nil {
		o.NowFunc = time.Now
	}
	s := &HTTPSender{opts: o}
	rt := o.Transport
	if rt == nil {
		tlsConf := o.TLSConfig
		if tlsConf == nil {
			tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		dialer := NewDialer(&DialerOptions{AllowPrivate: o.AllowPrivate, Resolver: o.Resolver, Timeout: min(o.Timeout, 10*time.Second)})
		s.transport = &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        tlsConf,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           max(100, o.MaxIdleConnsPerHost*4),
			MaxIdleConnsPerHost:    o.MaxIdleConnsPerHost,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    10 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		}
		rt = s.transport
	}
	if o.WrapTransport != nil {
		rt = o.WrapTransport(rt)
	}
	// Timeout is applied per Send as a context deadline rather than as Client.Timeout,
	// which costs every request a goroutine and a timer of its own.
	s.client = &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return s
}

// CloseIdleConnections closes the sender's idle keep-alive connections.
func (s *HTTPSender) CloseIdleConnections() {
	s.client.CloseIdleConnections()
	if s.transport != nil { // behind a WrapTransport that may not pass the call on
		s.transport.CloseIdleConnections()
	}
}

// Send POSTs the delivery's payload to its URL with the Content-Type, User-Agent,
// webhook-id, webhook-timestamp and webhook-signature headers (one v1 signature per
// secret) and classifies the answer:
//
//   - 2xx: delivered.
//   - 410 Gone: not delivered, Disable set: the receiver wants no more messages.
//   - 3xx: a failure, never followed (Standard Webhooks: update the URL instead).
//   - any other status, a timeout, a refused or reset connection, a forbidden address:
//     a retryable failure. Other 4xx are retried too, as Standard Webhooks treats
//     every non-2xx as a failure: a receiver's 400 or 404 is often a deploy in
//     progress, and giving up would lose the message.
//   - a bad secret or message id, or a URL that ValidateURL refuses under the sender's
//     options (https, no literal internal address unless allowed): Permanent, and no
//     request is made. A host name that resolves to an internal address is refused at
//     dial time with ErrForbiddenAddress and stays retryable: DNS may change back.
//
// The response body is read up to MaxResponseBytes (to reuse the connection) and its
// first SnippetBytes kept.
func (s *HTTPSender) Send(ctx context.Context, d Delivery) Result {
	ts := d.Timestamp
	if ts.IsZero() {
		ts = s.opts.NowFunc()
	}
	sig, err := SignAll(d.Secrets, d.MsgID, ts, d.Payload)
	if err != nil {
		return Result{Permanent: true, Err: err}
	}
	// Checked here as well as at registration: the policy may have changed since.
	if err := ValidateURL(d.URL, &URLOptions{AllowInsecure: s.opts.AllowInsecure, AllowPrivate: s.opts.AllowPrivate}); err != nil {
		return Result{Permanent: true, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout) // covers reading the response too
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return Result{Permanent: true, Err: fmt.Errorf("%w: %v", ErrInvalidURL, err)}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.opts.UserAgent)
	h.Set(HeaderID, d.MsgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timeout after %s: %w", s.opts.Timeout, err)
		}
		return Result{Latency: time.Since(start), Err: fmt.Errorf("webhook: post: %w", err)}
	}
	snippet := readCapped(resp.Body, s.opts.MaxResponseBytes)
	_ = resp.Body.Close()
	r := Result{
		StatusCode: resp.StatusCode,
		Latency:    time.Since(start),
		Response:   snippet,
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		r.Delivered = true
		return r
	case code == http.StatusGone:
		r.Disable = true
		r.Err = fmt.Errorf("webhook: endpoint answered %d %s: disable it", code, http.StatusText(code))
	case code >= 300 && code <= 399:
		r.Err = fmt.Errorf("%w: %d %s to %q; update the endpoint URL", errRedirect, code, http.StatusText(code), resp.Header.Get("Location"))
	default:
		r.Err = fmt.Errorf("webhook: endpoint answered %d %s", code, http.StatusText(code))
	}
	r.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.opts.NowFunc())
	return r
}

// readCapped reads at most limit bytes of body, keeping the first SnippetBytes. A body
// within the limit is read to its end so the connection can be reused; a longer one is
// abandoned and its connection closed.
func readCapped(body io.Reader, limit int64) string {
	var buf [SnippetBytes]byte
	n, err := io.ReadFull(body, buf[:min(int64(len(buf)), limit)])
	if err == nil && int64(n) < limit {
		_, _ = io.CopyN(io.Discard, body, limit-int64(n))
	}
	return sanitize(buf[:n])
}

// sanitize makes a response snippet storable: valid UTF-8 without NUL bytes (which
// PostgreSQL text refuses), and no split rune at the cut.
func sanitize(b []byte) string {
	if len(b) == SnippetBytes {
		// Drop a rune the cap may have split; ToValidUTF8 would turn it into U+FFFD.
		for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
			if r, size := utf8.DecodeLastRune(b); r != utf8.RuneError || size != 1 {
				break
			}
			b = b[:len(b)-1]
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date. It returns
// zero for an absent, malformed or past value, and caps it at MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}
