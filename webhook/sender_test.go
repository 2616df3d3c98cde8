package webhook_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/webhook"
)

const testPayload = `{"id":"evt_0193a0b1c2d37e4f8a9b0c1d2e3f4a5b","type":"credit_offer.available","api_version":"2026-11-01",` +
	`"created_at":"2027-01-15T08:00:00Z","delivery_id":"dlv_0193a0b1c2d37e4f8a9b0c1d2e3f4a5c","timestamp":"2027-01-15T08:00:00Z",` +
	`"data":{"id":"co_0193a0b1c2d37e4f8a9b0c1d2e3f4a5d","customer_id":"cust_0193a0b1c2d37e4f8a9b0c1d2e3f4a5e",` +
	`"external_id":"ext-42","status":"available","approved_amount":"50000.00","min_amount":"5000.00",` +
	`"interest_rate":3.5,"monthly_interest_rate":3.5,"installments":12,"valid_until":"2027-02-14T08:00:00Z"}}`

var testSecret = func() string {
	s, err := webhook.NewSecret()
	if err != nil {
		panic(err)
	}
	return s
}()

func testDelivery(_ testing.TB, url string) webhook.Delivery {
	return webhook.Delivery{
		URL:       url,
		Secrets:   []string{testSecret},
		MsgID:     "dlv_0193a0b1c2d37e4f8a9b0c1d2e3f4a5c",
		Timestamp: time.Now(),
		Payload:   []byte(testPayload),
		EventType: webhook.EventCreditOfferAvailable,
	}
}

// devSender is a sender for loopback test receivers.
func devSender(opts *webhook.HTTPOptions) *webhook.HTTPSender {
	var o webhook.HTTPOptions
	if opts != nil {
		o = *opts
	}
	o.AllowInsecure, o.AllowPrivate = true, true
	return webhook.NewHTTPSender(&o)
}

func server(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestSendDelivered(t *testing.T) {
	t.Parallel()
	type got struct {
		header http.Header
		body   []byte
		method string
	}
	reqs := make(chan got, 1)
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		reqs <- got{r.Header.Clone(), b, r.Method}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	now := time.Unix(1_800_000_000, 0)
	s := devSender(&webhook.HTTPOptions{NowFunc: func() time.Time { return now }, UserAgent: "lender/1"})
	d := testDelivery(t, srv.URL+"/hooks?x=1")
	d.Timestamp = time.Time{} // now, from NowFunc
	res := s.Send(context.Background(), d)

	require.NoError(t, res.Err)
	assert.True(t, res.Delivered)
	assert.False(t, res.Retryable())
	assert.Equal(t, http.StatusAccepted, res.StatusCode)
	assert.Positive(t, res.Latency)
	assert.Equal(t, `{"ok":true}`, res.Response)

	r := <-reqs
	assert.Equal(t, http.MethodPost, r.method)
	assert.Equal(t, testPayload, string(r.body))
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, "lender/1", r.header.Get("User-Agent"))
	assert.Equal(t, d.MsgID, r.header.Get("webhook-id"))
	assert.Equal(t, "1800000000", r.header.Get("webhook-timestamp"))

	// What the receiver got verifies, and unwraps into the envelope.
	v := webhook.Verifier{Secrets: []string{testSecret}, NowFunc: func() time.Time { return now }}
	ev, err := v.Unwrap(r.body, r.header)
	require.NoError(t, err)
	assert.Equal(t, webhook.EventCreditOfferAvailable, ev.Type)
}

func TestSendSignsWithEverySecret(t *testing.T) {
	t.Parallel()
	sigs := make(chan string, 1)
	srv := server(t, func(_ http.ResponseWriter, r *http.Request) { sigs <- r.Header.Get("webhook-signature") })
	other := newSecret(t)
	d := testDelivery(t, srv.URL)
	d.Secrets = []string{other, testSecret}
	res := devSender(nil).Send(context.Background(), d)
	require.NoError(t, res.Err)
	sig := <-sigs
	assert.Len(t, strings.Fields(sig), 2)
	want, err := webhook.SignAll(d.Secrets, d.MsgID, d.Timestamp, d.Payload)
	require.NoError(t, err)
	assert.Equal(t, want, sig)
}

func TestSendClassifiesStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code                  int
		delivered, disable    bool
		retryable             bool
		wantErrContains       string
		wantResponseSubstring string
	}{
		{code: 200, delivered: true},
		{code: 204, delivered: true},
		{code: 299, delivered: true},
		{code: 500, retryable: true, wantErrContains: "500"},
		{code: 502, retryable: true},
		{code: 503, retryable: true},
		{code: 429, retryable: true},
		{code: 400, retryable: true},
		{code: 401, retryable: true},
		{code: 404, retryable: true},
		{code: 410, disable: true, wantErrContains: "410"},
		{code: 418, retryable: true},
		{code: 304, retryable: true},
		{code: 100 + 99, retryable: true}, // 199: an informational code as a final status is a failure
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			srv := server(t, func(w http.ResponseWriter, _ *http.Request) {
				if tc.code < 200 {
					// net/http will not write an 1xx final status; hijack and lie.
					c, buf, _ := w.(http.Hijacker).Hijack()
					_, _ = buf.WriteString("HTTP/1.1 199 Odd\r\nContent-Length: 4\r\n\r\nodd!")
					_ = buf.Flush()
					_ = c.Close()
					return
				}
				w.WriteHeader(tc.code)
				_, _ = io.WriteString(w, "answer "+strconv.Itoa(tc.code))
			})
			res := devSender(nil).Send(context.Background(), testDelivery(t, srv.URL))
			assert.Equal(t, tc.delivered, res.Delivered)
			assert.Equal(t, tc.disable, res.Disable)
			assert.Equal(t, tc.retryable, res.Retryable())
			assert.False(t, res.Permanent)
			if tc.delivered {
				require.NoError(t, res.Err)
			} else {
				require.Error(t, res.Err)
				assert.Contains(t, res.Err.Error(), tc.wantErrContains)
			}
			if tc.code >= 200 && tc.code != 304 && tc.code != 204 {
				assert.Equal(t, tc.code, res.StatusCode)
				assert.Equal(t, "answer "+strconv.Itoa(tc.code), res.Response)
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var followed atomic.Int64
	target := server(t, func(http.ResponseWriter, *http.Request) { followed.Add(1) })
	for _, code := range []int{301, 302, 303, 307, 308} {
		srv := server(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/moved", code)
		})
		res := devSender(nil).Send(context.Background(), testDelivery(t, srv.URL))
		assert.False(t, res.Delivered, code)
		assert.True(t, res.Retryable(), code)
		assert.Equal(t, code, res.StatusCode)
		require.Error(t, res.Err)
		assert.Contains(t, res.Err.Error(), "/moved", "the log says where it pointed")
	}
	assert.Zero(t, followed.Load())
}

func TestSendRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		value string
		want  time.Duration
	}{
		"seconds":       {"120", 2 * time.Minute},
		"zero":          {"0", 0},
		"spaces":        {" 30 ", 30 * time.Second},
		"http date":     {now.Add(time.Hour).Format(http.TimeFormat), time.Hour},
		"rfc850 date":   {now.Add(90 * time.Second).Format("Monday, 02-Jan-06 15:04:05 GMT"), 90 * time.Second},
		"past date":     {now.Add(-time.Hour).Format(http.TimeFormat), 0},
		"garbage":       {"soon", 0},
		"negative":      {"-5", 0},
		"fraction":      {"1.5", 0},
		"capped":        {"31536000", webhook.MaxRetryAfter},
		"overflow":      {"99999999999999999999999", 0},
		"capped date":   {now.Add(30 * 24 * time.Hour).Format(http.TimeFormat), webhook.MaxRetryAfter},
		"absent header": {"", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := server(t, func(w http.ResponseWriter, _ *http.Request) {
				if tc.value != "" {
					w.Header().Set("Retry-After", tc.value)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			})
			s := devSender(&webhook.HTTPOptions{NowFunc: func() time.Time { return now }})
			res := s.Send(context.Background(), testDelivery(t, srv.URL))
			assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
			assert.Equal(t, tc.want, res.RetryAfter)
			assert.True(t, res.Retryable())
		})
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := server(t, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close (LIFO)
	s := devSender(&webhook.HTTPOptions{Timeout: 50 * time.Millisecond})
	res := s.Send(context.Background(), testDelivery(t, srv.URL))
	require.Error(t, res.Err)
	var ne net.Error
	require.ErrorAs(t, res.Err, &ne)
	assert.True(t, ne.Timeout())
	assert.Contains(t, res.Err.Error(), "timeout after 50ms", "the log says what happened")
	assert.Zero(t, res.StatusCode)
	assert.True(t, res.Retryable())
	assert.GreaterOrEqual(t, res.Latency, 50*time.Millisecond)

	// The caller's context bounds it too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res = devSender(nil).Send(ctx, testDelivery(t, srv.URL))
	require.ErrorIs(t, res.Err, context.Canceled)
	assert.True(t, res.Retryable())
}

func TestSendConnectionErrors(t *testing.T) {
	t.Parallel()
	// A loopback port nobody listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	res := devSender(nil).Send(context.Background(), testDelivery(t, "http://"+addr+"/hook"))
	require.Error(t, res.Err)
	assert.True(t, res.Retryable())
	assert.Zero(t, res.StatusCode)

	// A receiver that hangs up without answering.
	srv := server(t, func(w http.ResponseWriter, _ *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		_ = c.Close()
	})
	res = devSender(nil).Send(context.Background(), testDelivery(t, srv.URL))
	require.Error(t, res.Err)
	assert.True(t, res.Retryable())
}

func TestSendPermanentFailuresMakeNoRequest(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	srv := server(t, func(http.ResponseWriter, *http.Request) { hits.Add(1) })
	tests := map[string]func(*webhook.Delivery){
		"no secret":     func(d *webhook.Delivery) { d.Secrets = nil },
		"bad secret":    func(d *webhook.Delivery) { d.Secrets = []string{"whsec_nope"} },
		"bad msg id":    func(d *webhook.Delivery) { d.MsgID = "a.b" },
		"empty msg id":  func(d *webhook.Delivery) { d.MsgID = "" },
		"bad url":       func(d *webhook.Delivery) { d.URL = "::not a url" },
		"user info":     func(d *webhook.Delivery) { d.URL = strings.Replace(d.URL, "http://", "http://u:p@", 1) },
		"other scheme":  func(d *webhook.Delivery) { d.URL = strings.Replace(d.URL, "http://", "ftp://", 1) },
		"empty url":     func(d *webhook.Delivery) { d.URL = "" },
		"fragment only": func(d *webhook.Delivery) { d.URL += "#x" },
	}
	for name, mutate := range tests {
		d := testDelivery(t, srv.URL)
		mutate(&d)
		res := devSender(nil).Send(context.Background(), d)
		require.Error(t, res.Err, name)
		assert.True(t, res.Permanent, name)
		assert.False(t, res.Retryable(), name)
	}
	// Production policy: http is refused.
	res := webhook.NewHTTPSender(nil).Send(context.Background(), testDelivery(t, srv.URL))
	require.ErrorIs(t, res.Err, webhook.ErrInvalidURL)
	assert.True(t, res.Permanent)
	assert.Zero(t, hits.Load())
}

func TestSendHTTPS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, webhook.Verify(mustRead(r), r.Header, testSecret))
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	s := webhook.NewHTTPSender(&webhook.HTTPOptions{AllowPrivate: true, TLSConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}})
	res := s.Send(context.Background(), testDelivery(t, srv.URL))
	require.NoError(t, res.Err)
	assert.True(t, res.Delivered)

	// Without the test CA the certificate is refused, and that is retryable.
	res = webhook.NewHTTPSender(&webhook.HTTPOptions{AllowPrivate: true}).Send(context.Background(), testDelivery(t, srv.URL))
	require.Error(t, res.Err)
	assert.True(t, res.Retryable())
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}

// connCounter counts the TCP connections a test server accepts.
func connCounter(srv *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

func TestSendCapsResponseBody(t *testing.T) {
	t.Parallel()
	// An endless response: the sender must stop reading, not wait for the timeout.
	endless := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(strings.Repeat("x", 32<<10))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	conns := connCounter(endless)
	endless.Start()
	t.Cleanup(endless.Close)

	s := devSender(&webhook.HTTPOptions{Timeout: time.Minute})
	res := s.Send(context.Background(), testDelivery(t, endless.URL))
	require.NoError(t, res.Err)
	assert.True(t, res.Delivered)
	assert.Less(t, res.Latency, 30*time.Second, "stopped reading long before the timeout")
	assert.Len(t, res.Response, webhook.SnippetBytes)

	// An over-long body costs its connection; a short one is drained and reused.
	res = s.Send(context.Background(), testDelivery(t, endless.URL))
	require.NoError(t, res.Err)
	assert.EqualValues(t, 2, conns.Load(), "an oversized answer's connection is dropped")

	small := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("y", 20<<10))) // more than the snippet, less than the cap
	}))
	smallConns := connCounter(small)
	small.Start()
	t.Cleanup(small.Close)
	for range 5 {
		res := s.Send(context.Background(), testDelivery(t, small.URL))
		require.NoError(t, res.Err)
		assert.Equal(t, strings.Repeat("y", webhook.SnippetBytes), res.Response)
	}
	assert.EqualValues(t, 1, smallConns.Load(), "drained connections are reused")

	// MaxResponseBytes is configurable.
	capped := devSender(&webhook.HTTPOptions{MaxResponseBytes: 100})
	res = capped.Send(context.Background(), testDelivery(t, small.URL))
	require.NoError(t, res.Err)
	assert.Len(t, res.Response, 100)
}

func TestSendSanitisesResponse(t *testing.T) {
	t.Parallel()
	srv := server(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("bad\x00 \xff\xfe bytes"))
	})
	res := devSender(nil).Send(context.Background(), testDelivery(t, srv.URL))
	assert.True(t, utf8.ValidString(res.Response))
	assert.NotContains(t, res.Response, "\x00")
	assert.Contains(t, res.Response, "bytes")

	// A multi-byte rune cut by the snippet cap is dropped, not mangled.
	srv = server(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("a", webhook.SnippetBytes-1) + "é and more"))
	})
	res = devSender(nil).Send(context.Background(), testDelivery(t, srv.URL))
	assert.Equal(t, strings.Repeat("a", webhook.SnippetBytes-1), res.Response)
}

func TestSendConcurrent(t *testing.T) {
	t.Parallel()
	var received atomic.Int64
	srv := server(t, func(w http.ResponseWriter, r *http.Request) {
		if webhook.Verify(mustRead(r), r.Header, testSecret) == nil {
			received.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s := devSender(nil)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				res := s.Send(context.Background(), testDelivery(t, srv.URL))
				assert.True(t, res.Delivered)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 320, received.Load())
	s.CloseIdleConnections()
}

// The HTTP sender is one Sender.
var _ webhook.Sender = (*webhook.HTTPSender)(nil)
