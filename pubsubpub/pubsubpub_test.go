package pubsubpub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"
	_ "gocloud.dev/pubsub/mempubsub"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/pubsubpub"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
	"github.com/onboardkit/onboarding/webhook"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// pair opens a Publisher on a fresh mem:// topic (mem topics are process-wide by name)
// and a subscription to it, both shut down when the test ends.
func pair(t *testing.T, opts *pubsubpub.Options) (*pubsubpub.Publisher, *pubsub.Subscription) {
	t.Helper()
	ctx := context.Background()
	url := "mem://" + onboarding.NewID("topic")
	pub, err := pubsubpub.Open(ctx, url, opts)
	require.NoError(t, err)
	sub, err := pubsub.OpenSubscription(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = sub.Shutdown(ctx)
		_ = pub.Shutdown(ctx)
	})
	return pub, sub
}

func receive(t *testing.T, sub *pubsub.Subscription) *pubsub.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := sub.Receive(ctx)
	require.NoError(t, err)
	m.Ack()
	return m
}

// noMore asserts that nothing else arrives for a short while.
func noMore(t *testing.T, sub *pubsub.Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	m, err := sub.Receive(ctx)
	if err == nil {
		m.Ack()
		t.Fatalf("unexpected message %s: %s", m.Metadata[pubsubpub.MetadataEventType], m.Body)
	}
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func event(typ onboarding.EventType) *onboarding.Event {
	return &onboarding.Event{ID: onboarding.NewID("evt"), PartnerID: "p1", Type: typ, CustomerID: "cus_1",
		Data: json.RawMessage(`{"id":"off_1","customer_id":"cus_1"}`), CreatedAt: t0}
}

func TestPublishBodyAndMetadata(t *testing.T) {
	t.Parallel()
	pub, sub := pair(t, nil)
	e := event(onboarding.EventCreditOfferAvailable)
	require.NoError(t, pub.Publish(context.Background(), e))

	m := receive(t, sub)
	// The body is the webhook envelope, with an empty delivery_id.
	want, err := json.Marshal(webhook.Event{ID: e.ID, Type: string(e.Type), APIVersion: onboarding.APIVersion,
		CreatedAt: t0, Timestamp: t0, Data: e.Data})
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(m.Body))
	assert.Contains(t, string(m.Body), `"delivery_id":""`)
	var got webhook.Event
	require.NoError(t, json.Unmarshal(m.Body, &got))
	assert.Equal(t, e.ID, got.ID)
	assert.Equal(t, "credit_offer.available", got.Type)
	assert.Equal(t, onboarding.APIVersion, got.APIVersion)
	assert.True(t, got.CreatedAt.Equal(t0))
	assert.True(t, got.Timestamp.Equal(t0))
	assert.Empty(t, got.DeliveryID)
	var data struct{ ID, CustomerID string }
	require.NoError(t, got.Decode(&data))
	assert.Equal(t, "off_1", data.ID)

	// Unsigned: exactly the routing metadata.
	assert.Equal(t, map[string]string{
		"event-id": e.ID, "event-type": "credit_offer.available", "partner-id": "p1",
		"customer-id": "cus_1", "api-version": onboarding.APIVersion,
	}, m.Metadata)
	noMore(t, sub)
}

func TestCustomerIDOmittedWhenEmpty(t *testing.T) {
	t.Parallel()
	pub, sub := pair(t, nil)
	e := event(onboarding.EventCustomerActive)
	e.CustomerID = ""
	require.NoError(t, pub.Publish(context.Background(), e))
	m := receive(t, sub)
	assert.NotContains(t, m.Metadata, pubsubpub.MetadataCustomerID)
	assert.Equal(t, e.ID, m.Metadata[pubsubpub.MetadataEventID])
}

func TestSignatureVerifies(t *testing.T) {
	t.Parallel()
	current, err := webhook.NewSecret()
	require.NoError(t, err)
	previous, err := webhook.NewSecret()
	require.NoError(t, err)
	sent := t0.Add(time.Hour)
	pub, sub := pair(t, &pubsubpub.Options{Secret: current, PreviousSecrets: []string{previous},
		NowFunc: func() time.Time { return sent }})
	e := event(onboarding.EventCustomerCreated)
	require.NoError(t, pub.Publish(context.Background(), e))
	m := receive(t, sub)

	assert.Equal(t, e.ID, m.Metadata[webhook.HeaderID])
	assert.Equal(t, fmt.Sprint(sent.Unix()), m.Metadata[webhook.HeaderTimestamp])
	sigs := strings.Fields(m.Metadata[webhook.HeaderSignature])
	require.Len(t, sigs, 2, "signed with the current and the previous secret")
	want, err := webhook.Sign(current, e.ID, sent, m.Body)
	require.NoError(t, err)
	assert.Equal(t, want, sigs[0])

	at := func(d time.Duration) func() time.Time { return func() time.Time { return sent.Add(d) } }
	for _, secret := range []string{current, previous} {
		v := &webhook.Verifier{Secrets: []string{secret}, NowFunc: at(time.Minute)}
		ev, err := v.Unwrap(m.Body, pubsubpub.Header(m.Metadata))
		require.NoError(t, err)
		assert.Equal(t, e.ID, ev.ID)
		assert.Equal(t, string(e.Type), ev.Type)
	}

	// The metadata map as is, lower-case keys and all, also works as a header.
	raw := http.Header{}
	for k, v := range m.Metadata {
		raw[k] = []string{v}
	}
	require.NoError(t, (&webhook.Verifier{Secrets: []string{current}, NowFunc: at(0)}).Verify(m.Body, raw))

	other, err := webhook.NewSecret()
	require.NoError(t, err)
	v := &webhook.Verifier{Secrets: []string{other}, NowFunc: at(0)}
	assert.ErrorIs(t, v.Verify(m.Body, pubsubpub.Header(m.Metadata)), webhook.ErrNoMatchingSignature)
	tampered := []byte(strings.Replace(string(m.Body), "customer.created", "customer.active", 1))
	v = &webhook.Verifier{Secrets: []string{current}, NowFunc: at(0)}
	assert.ErrorIs(t, v.Verify(tampered, pubsubpub.Header(m.Metadata)), webhook.ErrNoMatchingSignature)

	// A message read from a backlog is older than the default tolerance: broker consumers
	// widen it (see the package documentation).
	v = &webhook.Verifier{Secrets: []string{current}, NowFunc: at(time.Hour)}
	assert.ErrorIs(t, v.Verify(m.Body, pubsubpub.Header(m.Metadata)), webhook.ErrMessageTooOld)
	v.Tolerance = 7 * 24 * time.Hour
	assert.NoError(t, v.Verify(m.Body, pubsubpub.Header(m.Metadata)))
}

func TestFilter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := "mem://" + onboarding.NewID("topic")
	pub, err := pubsubpub.Open(ctx, url, &pubsubpub.Options{Filter: []string{"credit_offer.*", "customer.denied"}})
	require.NoError(t, err)
	sub, err := pubsub.OpenSubscription(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Shutdown(ctx); _ = pub.Shutdown(ctx) })

	published := map[string]bool{}
	for _, typ := range onboarding.EventTypes {
		e := event(typ)
		require.NoError(t, pub.Publish(ctx, e), "a filtered-out event is not an error")
		published[string(typ)] = true
	}
	got := map[string]int{}
	for range 3 {
		m := receive(t, sub)
		got[m.Metadata[pubsubpub.MetadataEventType]]++
	}
	assert.Equal(t, map[string]int{"credit_offer.available": 1, "credit_offer.expired": 1, "customer.denied": 1}, got)
	noMore(t, sub)
	assert.Len(t, published, len(onboarding.EventTypes))
}

func TestMetadataHook(t *testing.T) {
	t.Parallel()
	pub, sub := pair(t, &pubsubpub.Options{Metadata: func(e *onboarding.Event) map[string]string {
		return map[string]string{"MessageGroupId": e.CustomerID, "DeduplicationId": e.ID, "event-id": "forged"}
	}})
	e := event(onboarding.EventCustomerActive)
	require.NoError(t, pub.Publish(context.Background(), e))
	m := receive(t, sub)
	assert.Equal(t, "cus_1", m.Metadata["MessageGroupId"])
	assert.Equal(t, e.ID, m.Metadata["DeduplicationId"])
	assert.Equal(t, e.ID, m.Metadata[pubsubpub.MetadataEventID], "the hook cannot replace the publisher's keys")
}

func TestSendErrorsAreReturned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pub, _ := pair(t, nil)
	require.NoError(t, pub.Shutdown(ctx))
	err := pub.Publish(ctx, event(onboarding.EventCustomerCreated))
	require.Error(t, err)
	assert.Equal(t, gcerrors.FailedPrecondition, gcerrors.Code(err))
	assert.Contains(t, err.Error(), "pubsubpub: send customer.created")

	pub2, _ := pair(t, nil)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, pub2.Publish(cctx, event(onboarding.EventCustomerCreated)), context.Canceled)

	assert.Error(t, pub2.Publish(ctx, nil))
}

func TestPublishErrorRetriesTheJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pub, _ := pair(t, nil)
	require.NoError(t, pub.Shutdown(ctx))
	svc := onboardingtest.NewService(t, memstore.New(), &onboarding.Options{Publisher: pub, Logger: slog.New(slog.DiscardHandler)})
	_, _, err := svc.CreateCustomer(ctx, "p1", customerParams())
	require.NoError(t, err)
	_, err = svc.Work(ctx)
	require.NoError(t, err)
	jobs, err := svc.Store().ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobPublishEvent})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, onboarding.JobAvailable, jobs[0].State, "scheduled for a retry")
	assert.Equal(t, 1, jobs[0].Attempt)
	assert.Contains(t, jobs[0].LastError, "pubsubpub: send")
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, opts := range map[string]*pubsubpub.Options{
		"short secret":       {Secret: "whsec_c2hvcnQ="},
		"not base64":         {Secret: "whsec_???"},
		"bad previous":       {Secret: mustSecret(t), PreviousSecrets: []string{"nope"}},
		"previous no secret": {PreviousSecrets: []string{mustSecret(t)}},
		"filter typo":        {Filter: []string{"customer.actve"}},
		"filter syntax":      {Filter: []string{"customer.*.x*"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.Error(t, opts.Validate())
			_, err := pubsubpub.Open(ctx, "mem://"+onboarding.NewID("topic"), opts)
			require.Error(t, err)
			assert.Panics(t, func() { pubsubpub.New(pubsub.NewTopic(nil, nil), opts) })
		})
	}
	assert.NoError(t, (*pubsubpub.Options)(nil).Validate())
	assert.NoError(t, (&pubsubpub.Options{Secret: mustSecret(t), Filter: []string{"*", "customer.*"}}).Validate())
	assert.Panics(t, func() { pubsubpub.New(nil, nil) })
	_, err := pubsubpub.Open(ctx, "nosuchdriver://topic", nil)
	assert.ErrorContains(t, err, "pubsubpub: open topic")
}

func TestConcurrentPublish(t *testing.T) {
	t.Parallel()
	pub, sub := pair(t, &pubsubpub.Options{Secret: mustSecret(t)})
	const n = 32
	ids := make(map[string]bool, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			e := event(onboarding.EventCustomerKYCUpdated)
			mu.Lock()
			ids[e.ID] = true
			mu.Unlock()
			assert.NoError(t, pub.Publish(context.Background(), e))
		})
	}
	wg.Wait()
	for range n {
		m := receive(t, sub)
		id := m.Metadata[pubsubpub.MetadataEventID]
		assert.True(t, ids[id], id)
		delete(ids, id)
	}
	assert.Empty(t, ids)
	noMore(t, sub)
}

// The real Service, end to end: registration and the sandbox's credit analysis each
// publish their event once.
func TestServiceEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	secret := mustSecret(t)
	pub, sub := pair(t, &pubsubpub.Options{Secret: secret})
	svc := onboardingtest.NewService(t, memstore.New(), &onboarding.Options{Scorer: scoring.Sandbox{}, Publisher: pub,
		Logger: slog.New(slog.DiscardHandler)})

	c, created, err := svc.CreateCustomer(ctx, "p1", customerParams())
	require.NoError(t, err)
	require.True(t, created)
	n, err := svc.Work(ctx)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 3, "publish customer.created, analysis, publish credit_offer.available")

	got := map[string]webhook.Event{}
	for range 2 {
		m := receive(t, sub)
		ev, err := webhook.Unwrap(m.Body, pubsubpub.Header(m.Metadata), secret)
		require.NoError(t, err)
		_, dup := got[ev.Type]
		require.False(t, dup, "%s received twice", ev.Type)
		got[ev.Type] = ev
		assert.Equal(t, "p1", m.Metadata[pubsubpub.MetadataPartnerID])
		assert.Equal(t, c.ID, m.Metadata[pubsubpub.MetadataCustomerID])
		assert.Equal(t, ev.ID, m.Metadata[pubsubpub.MetadataEventID])
	}
	require.Contains(t, got, webhook.EventCustomerCreated)
	require.Contains(t, got, webhook.EventCreditOfferAvailable)

	var customer struct {
		ID, Status string
		CPF        string `json:"cpf"`
	}
	require.NoError(t, got[webhook.EventCustomerCreated].Decode(&customer))
	assert.Equal(t, c.ID, customer.ID)
	assert.Equal(t, c.CPF.String(), customer.CPF)
	var offer struct {
		ID         string `json:"id"`
		CustomerID string `json:"customer_id"`
	}
	require.NoError(t, got[webhook.EventCreditOfferAvailable].Decode(&offer))
	assert.Equal(t, c.ID, offer.CustomerID)
	o, err := svc.GetCreditOffer(ctx, "p1", offer.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.OfferAvailable, o.Status)

	// The events are the outbox's, and nothing is left to publish.
	events, err := svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, events, 2)
	for _, e := range events {
		assert.Equal(t, e.ID, got[string(e.Type)].ID)
	}
	n, err = svc.Work(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	noMore(t, sub)
}

func customerParams() onboarding.CreateCustomerParams {
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	cnpj := taxid.GenerateCNPJ(r, false)
	for strings.Count(cnpj.Bare()[:8], cnpj.Bare()[:1]) == 8 { // avoid the sandbox's magic roots
		cnpj = taxid.GenerateCNPJ(r, false)
	}
	return onboarding.CreateCustomerParams{
		ExternalID: onboarding.NewID("ext"), CPF: taxid.GenerateCPF(r).String(), CNPJ: cnpj.String(),
		Name: "João da Silva", Email: "joao@example.com", Phone: "+5511987654321", TradingName: "Oficina do João",
	}
}

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := webhook.NewSecret()
	require.NoError(t, err)
	return s
}
