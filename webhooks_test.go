package onboarding_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/webhook"
)

// receiver is a partner's webhook endpoint: a real HTTP server that verifies what it gets.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	verifier *webhook.Verifier
	mu       sync.Mutex
	fail     int // answer this status to the next requests...
	failN    int // ...this many times
	got      []webhook.Event
	sigs     []string
}

func newReceiver(t *testing.T, clock func() time.Time) *receiver {
	r := &receiver{t: t, verifier: &webhook.Verifier{NowFunc: clock}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		require.NoError(t, err)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.failN > 0 {
			r.failN--
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(r.fail)
			return
		}
		ev, err := r.verifier.Unwrap(body, req.Header)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.got = append(r.got, ev)
		r.sigs = append(r.sigs, req.Header.Get("webhook-signature"))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// failNext makes the next n requests answer status.
func (r *receiver) failNext(status, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail, r.failN = status, n
}

// trust sets the secrets the receiver verifies with.
func (r *receiver) trust(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.verifier.Secrets = secrets
}

func (r *receiver) signatures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sigs...)
}

func (r *receiver) events() []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Event(nil), r.got...)
}

func (r *receiver) types() []string {
	var out []string
	for _, e := range r.events() {
		out = append(out, e.Type)
	}
	return out
}

func webhookSetup(t *testing.T) (*bundle, *receiver) {
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}, AllowPrivateWebhooks: true})
	return b, newReceiver(t, b.clock.Now)
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, rcv := webhookSetup(t)
	ep, secret, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.srv.URL, Description: "erp"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ep.ID, "we_"))
	assert.True(t, strings.HasPrefix(secret, "whsec_"))
	rcv.trust(secret)

	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"customer.created", "credit_offer.available"}, rcv.types())

	var offer map[string]any
	for _, e := range rcv.events() {
		assert.True(t, strings.HasPrefix(e.ID, "evt_"))
		assert.True(t, strings.HasPrefix(e.DeliveryID, "dlv_"))
		assert.Equal(t, onboarding.APIVersion, e.APIVersion)
		if e.Type == "credit_offer.available" {
			require.NoError(t, e.Decode(&offer))
		}
	}
	assert.Equal(t, c.ID, offer["customer_id"])
	assert.Equal(t, c.ExternalID, offer["external_id"])
	assert.Equal(t, "available", offer["status"])
	assert.Regexp(t, `^\d+\.\d\d$`, offer["approved_amount"])

	deliveries, err := b.svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{EndpointID: ep.ID})
	require.NoError(t, err)
	require.Len(t, deliveries, 2)
	for _, d := range deliveries {
		assert.Equal(t, onboarding.DeliveryDelivered, d.Status)
		assert.Equal(t, 1, d.Attempts)
		log, err := b.svc.ListDeliveryAttempts(ctx, "p1", d.ID)
		require.NoError(t, err)
		require.Len(t, log, 1)
		assert.Equal(t, http.StatusNoContent, log[0].StatusCode)
	}
	_, err = b.svc.ListDeliveryAttempts(ctx, "p2", deliveries[0].ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func TestWebhookRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, rcv := webhookSetup(t)
	_, secret, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.srv.URL, Events: []string{"customer.created"}})
	require.NoError(t, err)
	rcv.trust(secret)
	rcv.failNext(http.StatusInternalServerError, 3)

	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	for range 4 {
		_, err := b.svc.Work(ctx)
		require.NoError(t, err)
		b.clock.Add(3 * time.Hour) // past the next backoff
	}
	assert.Equal(t, []string{"customer.created"}, rcv.types(), "delivered once, after the failures; the filter kept the offer out")
	ds, err := b.svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, onboarding.DeliveryDelivered, ds[0].Status)
	log, err := b.svc.ListDeliveryAttempts(ctx, "p1", ds[0].ID)
	require.NoError(t, err)
	var codes []int
	for _, a := range log {
		codes = append(codes, a.StatusCode)
	}
	assert.Equal(t, []int{500, 500, 500, 204}, codes)
}

func TestWebhookGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, rcv := webhookSetup(t)
	ep, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.srv.URL})
	require.NoError(t, err)
	rcv.failNext(http.StatusGone, 100)
	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	got, err := b.svc.GetWebhookEndpoint(ctx, "p1", ep.ID)
	require.NoError(t, err)
	assert.Equal(t, webhook.EndpointDisabled, got.Status)
	ds, err := b.svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{})
	require.NoError(t, err)
	for _, d := range ds {
		assert.Equal(t, onboarding.DeliveryCancelled, d.Status)
	}
	// Re-enabled and replayed, the events arrive.
	active := webhook.EndpointActive
	_, err = b.svc.UpdateWebhookEndpoint(ctx, "p1", ep.ID, onboarding.UpdateEndpointParams{Status: &active})
	require.NoError(t, err)
	rcv.failNext(0, 0)
	rcv.trust(got.ActiveSecrets(b.clock.Now())...)
	for _, d := range ds {
		require.NoError(t, b.svc.ReplayDelivery(ctx, "p1", d.ID))
	}
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Len(t, rcv.events(), len(ds))
}

func TestWebhookDeadAndReplay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, rcv := webhookSetup(t)
	_, secret, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.srv.URL, Events: []string{"customer.*"}})
	require.NoError(t, err)
	rcv.trust(secret)
	rcv.failNext(http.StatusServiceUnavailable, 1000)
	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	for range 12 {
		_, err := b.svc.Work(ctx)
		require.NoError(t, err)
		b.clock.Add(13 * time.Hour)
	}
	ds, err := b.svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, onboarding.DeliveryDead, ds[0].Status)
	assert.Equal(t, len(webhook.DefaultSchedule.Delays)+1, ds[0].Attempts)
	assert.Empty(t, rcv.events())

	rcv.failNext(0, 0)
	require.NoError(t, b.svc.ReplayDelivery(ctx, "p1", ds[0].ID))
	assert.ErrorIs(t, b.svc.ReplayDelivery(ctx, "p1", ds[0].ID), onboarding.ErrInvalidTransition)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"customer.created"}, rcv.types())
}

func TestWebhookRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, rcv := webhookSetup(t)
	ep, oldSecret, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.srv.URL, Events: []string{"customer.created"}})
	require.NoError(t, err)
	newSecret, expires, err := b.svc.RotateWebhookSecret(ctx, "p1", ep.ID, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, b.clock.Now().Add(time.Hour), expires)
	assert.NotEqual(t, oldSecret, newSecret)

	// A receiver that knows only the old secret still verifies during the grace period,
	// and one that knows only the new secret does too: both signatures are sent.
	rcv.trust(oldSecret)
	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	require.Len(t, rcv.events(), 1)
	assert.Len(t, strings.Fields(rcv.signatures()[0]), 2)

	b.clock.Add(2 * time.Hour)
	rcv.trust(newSecret)
	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	require.Len(t, rcv.events(), 2)
	assert.Len(t, strings.Fields(rcv.signatures()[1]), 1, "after the grace period only the new secret signs")

	_, _, err = b.svc.RotateWebhookSecret(ctx, "p1", ep.ID, 25*time.Hour)
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	_, _, err = b.svc.RotateWebhookSecret(ctx, "p2", ep.ID, time.Hour)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func TestWebhookEndpointCRUD(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil) // production defaults: https only, no private addresses
	for _, bad := range []onboarding.CreateEndpointParams{
		{URL: "http://example.com/hook"},
		{URL: "https://127.0.0.1/hook"},
		{URL: "https://user:pw@example.com/hook"},
		{URL: "not a url"},
		{URL: "https://example.com/hook", Events: []string{"customer.actve"}},
		{URL: "https://example.com/hook", Description: strings.Repeat("x", 501)},
	} {
		_, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", bad)
		assert.ErrorIs(t, err, onboarding.ErrInvalidInput, "%+v", bad)
	}
	var ids []string
	for i := range 3 {
		ep, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{
			URL: "https://hooks.example.com/" + string(rune('a'+i)), Events: []string{"credit_offer.*"}})
		require.NoError(t, err)
		ids = append(ids, ep.ID)
	}
	page, err := b.svc.ListWebhookEndpoints(ctx, "p1", onboarding.ListEndpointsParams{Limit: 2})
	require.NoError(t, err)
	assert.True(t, page.HasMore)
	assert.Equal(t, ids[:2], []string{page.Data[0].ID, page.Data[1].ID})
	page, err = b.svc.ListWebhookEndpoints(ctx, "p2", onboarding.ListEndpointsParams{})
	require.NoError(t, err)
	assert.Empty(t, page.Data)

	desc, events := "renamed", []string{"*"}
	ep, err := b.svc.UpdateWebhookEndpoint(ctx, "p1", ids[0], onboarding.UpdateEndpointParams{Description: &desc, Events: &events})
	require.NoError(t, err)
	assert.Equal(t, "renamed", ep.Description)
	assert.Equal(t, []string{"*"}, ep.Events)
	badStatus := webhook.EndpointStatus("paused")
	_, err = b.svc.UpdateWebhookEndpoint(ctx, "p1", ids[0], onboarding.UpdateEndpointParams{Status: &badStatus})
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	_, err = b.svc.UpdateWebhookEndpoint(ctx, "p2", ids[0], onboarding.UpdateEndpointParams{Description: &desc})
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	assert.ErrorIs(t, b.svc.DeleteWebhookEndpoint(ctx, "p2", ids[1]), onboarding.ErrNotFound)
	require.NoError(t, b.svc.DeleteWebhookEndpoint(ctx, "p1", ids[1]))
	_, err = b.svc.GetWebhookEndpoint(ctx, "p1", ids[1])
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func TestWebhookRecoverEndpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, rcv := webhookSetup(t)
	ep, secret, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.srv.URL, Events: []string{"customer.created"}})
	require.NoError(t, err)
	rcv.trust(secret)
	start := b.clock.Now()
	rcv.failNext(http.StatusGone, 1)
	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t)) // meets the 410: the endpoint is disabled
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	for range 3 { // published while disabled: no delivery at all
		_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
		require.NoError(t, err)
	}
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Empty(t, rcv.events())

	n, err := b.svc.RecoverWebhookEndpoint(ctx, "p1", ep.ID, start)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Len(t, rcv.events(), 4, "every customer.created arrives")
	n, err = b.svc.RecoverWebhookEndpoint(ctx, "p1", ep.ID, start)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing delivered is sent again")
	_, err = b.svc.RecoverWebhookEndpoint(ctx, "p2", ep.ID, start)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

// flakyAttempts fails the first write of one delivery's attempt, inside whatever
// transaction carries it.
type flakyAttempts struct {
	*memstore.Store
	mu     sync.Mutex
	target string
	failed bool
}

// FinishDeliveries fails the first batch that holds the target's outcome.
func (f *flakyAttempts) FinishDeliveries(ctx context.Context, worker string, now time.Time, outcomes []*onboarding.DeliveryOutcome) ([]bool, error) {
	f.mu.Lock()
	fail := false
	if !f.failed && f.target != "" {
		for _, o := range outcomes {
			fail = fail || o.Delivery.ID == f.target
		}
		f.failed = fail
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("disk hiccup")
	}
	return f.Store.FinishDeliveries(ctx, worker, now, outcomes)
}

// TestGroupCommitOfDeliveries runs many deliveries through Run, whose outcomes share
// statements, with one write of a shared batch failing: its outcomes are written again
// one by one, and every event arrives once.
func TestGroupCommitOfDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &flakyAttempts{Store: memstore.New()}
	svc := onboardingtest.NewService(t, store, &onboarding.Options{AllowPrivateWebhooks: true, Workers: 16, Logger: slog.New(slog.DiscardHandler)})
	rcv := newReceiver(t, time.Now)
	ep, secret, err := svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: rcv.srv.URL, Events: []string{"customer.created"}})
	require.NoError(t, err)
	rcv.trust(secret)
	const n = 60
	for i := range n {
		_, _, err := svc.CreateCustomer(ctx, "p1", params(t))
		require.NoError(t, err)
		if i == n/2 {
			ds, err := svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{EndpointID: ep.ID, Limit: 1})
			require.NoError(t, err)
			store.mu.Lock()
			store.target = ds[0].ID
			store.mu.Unlock()
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- svc.Run(runCtx) }()
	require.Eventually(t, func() bool {
		ds, err := svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{Status: onboarding.DeliveryDelivered, Limit: 100})
		return err == nil && len(ds) == n
	}, 20*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	seen := map[string]int{}
	for _, e := range rcv.events() {
		seen[e.ID]++
	}
	assert.Len(t, seen, n, "every event arrived")
	store.mu.Lock()
	assert.True(t, store.failed, "the injected failure happened")
	store.mu.Unlock()
	dead, err := store.ListJobs(ctx, onboarding.ListJobsParams{State: onboarding.JobDead})
	require.NoError(t, err)
	assert.Empty(t, dead)
}

func TestEndpointLimitsAndRecoveryWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	var first *onboarding.WebhookEndpoint
	for i := range onboarding.MaxEndpointsPerPartner {
		ep, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://hooks.example.com/" + strconv.Itoa(i)})
		require.NoError(t, err)
		if first == nil {
			first = ep
		}
	}
	_, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://hooks.example.com/one-too-many"})
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	_, _, err = b.svc.CreateWebhookEndpoint(ctx, "p2", onboarding.CreateEndpointParams{URL: "https://hooks.example.com/other-partner"})
	require.NoError(t, err, "the limit is per partner")

	_, err = b.svc.RecoverWebhookEndpoint(ctx, "p1", first.ID, b.clock.Now().Add(-31*24*time.Hour))
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	n, err := b.svc.RecoverWebhookEndpoint(ctx, "p1", first.ID, b.clock.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n)
}
