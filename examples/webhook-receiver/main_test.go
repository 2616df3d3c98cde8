package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/webhook"
)

// recorder is a Handle that records events and can be told to fail.
type recorder struct {
	mu     sync.Mutex
	events []webhook.Event
	fail   bool
}

func (r *recorder) handle(_ context.Context, ev webhook.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("database down")
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Type)
	}
	return out
}

func post(t *testing.T, h http.Handler, secret, id string, ts time.Time, body []byte) int {
	t.Helper()
	req := httptest.NewRequest("POST", "/webhooks", bytes.NewReader(body))
	if secret != "" {
		sig, err := webhook.Sign(secret, id, ts, body)
		require.NoError(t, err)
		req.Header.Set(webhook.HeaderSignature, sig)
	}
	req.Header.Set(webhook.HeaderID, id)
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func TestReceiver(t *testing.T) {
	t.Parallel()
	secret, err := webhook.NewSecret()
	require.NoError(t, err)
	rec := &recorder{}
	rv := &Receiver{Verifier: &webhook.Verifier{Secrets: []string{secret}}, Handle: rec.handle}
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"customer.created","api_version":"v3","created_at":"2026-11-26T12:00:00Z","data":{"id":"cust_1"}}`)

	require.Equal(t, 204, post(t, rv, secret, "msg_1", now, body))
	require.Equal(t, 204, post(t, rv, secret, "msg_1", now, body), "a retry is acknowledged")
	require.Equal(t, []string{"customer.created"}, rec.types(), "and processed once")

	other, _ := webhook.NewSecret()
	require.Equal(t, 400, post(t, rv, other, "msg_2", now, body), "wrong secret")
	require.Equal(t, 400, post(t, rv, "", "msg_2", now, body), "no signature")
	require.Equal(t, 400, post(t, rv, secret, "msg_2", now.Add(-10*time.Minute), body), "too old: a replay")
	require.Equal(t, 400, post(t, rv, secret, "msg_2", now, []byte(`not json`)), "authentic but not an envelope")
	big := append([]byte(`{"id":"evt_2","type":"x","data":"`), bytes.Repeat([]byte("a"), MaxBody)...)
	require.Equal(t, 413, post(t, rv, secret, "msg_3", now, append(big, `"}`...)))

	// A failure answers 500 and leaves the id unprocessed: the retry is handled.
	rec.mu.Lock()
	rec.fail = true
	rec.mu.Unlock()
	require.Equal(t, 500, post(t, rv, secret, "msg_4", now, body))
	rec.mu.Lock()
	rec.fail = false
	rec.mu.Unlock()
	require.Equal(t, 204, post(t, rv, secret, "msg_4", now, body))
	require.Len(t, rec.types(), 2)

	req := httptest.NewRequest("GET", "/webhooks", nil)
	w := httptest.NewRecorder()
	rv.ServeHTTP(w, req)
	require.Equal(t, 405, w.Code)
}

func TestDedupBounds(t *testing.T) {
	t.Parallel()
	d := NewDedup(3, time.Hour)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	for _, id := range []string{"a", "b", "c", "d"} {
		require.Equal(t, New, d.Begin(id))
		d.Finish(id)
	}
	require.Equal(t, 3, d.Len())
	require.Equal(t, New, d.Begin("a"), "the oldest was evicted at the bound")
	require.Equal(t, Busy, d.Begin("a"))
	d.Abort("a")
	now = now.Add(2 * time.Hour)
	require.Equal(t, New, d.Begin("d"), "expired")
	require.Equal(t, 1, d.Len())
}

// TestReceiverWithService: the Service delivers its real webhooks to the receiver over
// HTTP; the receiver verifies and decodes them, credit_offer.available included.
func TestReceiverWithService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rec := &recorder{}
	rv := &Receiver{Verifier: &webhook.Verifier{}, Handle: rec.handle}
	srv := httptest.NewServer(rv)
	defer srv.Close()

	svc := onboardingtest.NewService(t, memstore.New(), &onboarding.Options{Scorer: scoring.Sandbox{}, AllowPrivateWebhooks: true,
		Logger: slog.New(slog.DiscardHandler)})
	_, secret, err := svc.CreateWebhookEndpoint(ctx, "acme", onboarding.CreateEndpointParams{URL: srv.URL + "/webhooks"})
	require.NoError(t, err)
	rv.Verifier.Secrets = []string{secret}

	_, _, err = svc.CreateCustomer(ctx, "acme", onboarding.CreateCustomerParams{ExternalID: "s1", CPF: "123.456.789-09",
		CNPJ: "12.345.678/0001-95", Name: "Maria", Email: "m@padaria.example", Phone: "+5511912345678"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := svc.Work(ctx)
		require.NoError(t, err)
		types := rec.types()
		for _, typ := range types {
			if typ == webhook.EventCreditOfferAvailable {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	require.Contains(t, rec.types(), webhook.EventCustomerCreated)
	var offer struct {
		ID             string `json:"id"`
		ApprovedAmount string `json:"approved_amount"`
	}
	rec.mu.Lock()
	events := append([]webhook.Event(nil), rec.events...)
	rec.mu.Unlock()
	for _, ev := range events {
		if ev.Type == webhook.EventCreditOfferAvailable {
			require.NoError(t, ev.Decode(&offer))
		}
	}
	require.True(t, strings.HasPrefix(offer.ID, "co_"))
	require.NotEmpty(t, offer.ApprovedAmount)
}
