package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

// testWebhookQueries covers endpoints, deliveries and the delivery log.
func testWebhookQueries(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	w := s
	now := time.Date(2026, 11, 26, 12, 0, 0, 123456000, time.UTC)

	newEndpoint := func(id string, status webhook.EndpointStatus) *onboarding.WebhookEndpoint {
		return &onboarding.WebhookEndpoint{Endpoint: webhook.Endpoint{ID: id, PartnerID: "p1", URL: "https://example.com/" + id,
			Events: []string{"customer.*", "credit_offer.available"}, Description: "main", Status: status,
			Secrets: []webhook.Secret{
				{Value: "whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)},
				{Value: "whsec_bmV3bmV3bmV3bmV3bmV3bmV3bmV3bmV3", CreatedAt: now},
			}, CreatedAt: now, UpdatedAt: now}}
	}
	e1, e2, e3 := newEndpoint("we_1", webhook.EndpointActive), newEndpoint("we_2", webhook.EndpointDisabled), newEndpoint("we_3", webhook.EndpointActive)
	e3.Events = nil
	for _, e := range []*onboarding.WebhookEndpoint{e1, e2, e3} {
		require.NoError(t, w.InsertEndpoint(ctx, e))
		assert.EqualValues(t, 1, e.Version)
	}
	var ce *onboarding.ConflictError
	require.ErrorAs(t, w.InsertEndpoint(ctx, newEndpoint("we_1", webhook.EndpointActive)), &ce)
	assert.Equal(t, "id", ce.Field)

	got, err := w.GetEndpoint(ctx, "p1", "we_1")
	require.NoError(t, err)
	assert.Equal(t, e1, got)
	got3, err := w.GetEndpoint(ctx, "p1", "we_3")
	require.NoError(t, err)
	assert.Nil(t, got3.Events)
	_, err = w.GetEndpoint(ctx, "p2", "we_1")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	ids := func(l []*onboarding.WebhookEndpoint, err error) []string {
		require.NoError(t, err)
		var out []string
		for _, e := range l {
			out = append(out, e.ID)
		}
		return out
	}
	assert.Equal(t, []string{"we_1", "we_2", "we_3"}, ids(w.ListEndpoints(ctx, "p1", onboarding.ListEndpointsParams{Limit: 10})))
	assert.Equal(t, []string{"we_1", "we_3"}, ids(w.ListEndpoints(ctx, "p1", onboarding.ListEndpointsParams{Limit: 10, Status: webhook.EndpointActive})))
	assert.Equal(t, []string{"we_2"}, ids(w.ListEndpoints(ctx, "p1", onboarding.ListEndpointsParams{Limit: 1, StartingAfter: "we_1"})))
	assert.Empty(t, ids(w.ListEndpoints(ctx, "p2", onboarding.ListEndpointsParams{Limit: 10})))

	stale := got.Clone()
	got.URL, got.Status, got.UpdatedAt = "https://example.com/moved", webhook.EndpointDisabled, now.Add(time.Minute)
	got.Secrets = got.Secrets[1:]
	require.NoError(t, w.UpdateEndpoint(ctx, got))
	assert.EqualValues(t, 2, got.Version)
	again, err := w.GetEndpoint(ctx, "p1", "we_1")
	require.NoError(t, err)
	assert.Equal(t, got, again)
	assert.ErrorIs(t, w.UpdateEndpoint(ctx, stale), onboarding.ErrConcurrentUpdate)
	foreign := again.Clone()
	foreign.PartnerID = "p2"
	assert.ErrorIs(t, w.UpdateEndpoint(ctx, foreign), onboarding.ErrNotFound)

	assert.ErrorIs(t, w.DeleteEndpoint(ctx, "p2", "we_2"), onboarding.ErrNotFound)
	require.NoError(t, w.DeleteEndpoint(ctx, "p1", "we_2"))
	_, err = w.GetEndpoint(ctx, "p1", "we_2")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	assert.ErrorIs(t, w.DeleteEndpoint(ctx, "p1", "we_2"), onboarding.ErrNotFound)

	// Deliveries hang off an existing event; they outlive their endpoint.
	c := newCustomer(rng(t), "p1")
	require.NoError(t, s.InsertCustomer(ctx, c))
	ev := &onboarding.Event{ID: "evt_1", PartnerID: "p1", Type: onboarding.EventCustomerCreated, CustomerID: c.ID,
		Data: []byte(`{"id":"x"}`), CreatedAt: now}
	require.NoError(t, s.InsertEvent(ctx, ev))
	newDelivery := func(id, endpoint string) *onboarding.Delivery {
		return &onboarding.Delivery{ID: id, PartnerID: "p1", EndpointID: endpoint, EventID: "evt_1",
			EventType: onboarding.EventCustomerCreated, Status: onboarding.DeliveryPending, NextAttemptAt: now,
			CreatedAt: now, UpdatedAt: now}
	}
	orphan := newDelivery("dlv_0", "we_1")
	orphan.EventID = "evt_missing"
	assert.ErrorIs(t, w.InsertDelivery(ctx, orphan), onboarding.ErrNotFound)
	d1, d2, d3 := newDelivery("dlv_1", "we_1"), newDelivery("dlv_2", "we_2"), newDelivery("dlv_3", "we_1")
	for _, d := range []*onboarding.Delivery{d1, d2, d3} {
		require.NoError(t, w.InsertDelivery(ctx, d))
	}
	gotD, err := w.GetDelivery(ctx, "p1", "dlv_1")
	require.NoError(t, err)
	assert.Equal(t, d1, gotD)
	_, err = w.GetDelivery(ctx, "p2", "dlv_1")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	gotD.Status, gotD.Attempts, gotD.LastStatusCode, gotD.LastError = onboarding.DeliveryDelivered, 2, 204, ""
	gotD.NextAttemptAt, gotD.DeliveredAt, gotD.UpdatedAt = time.Time{}, now.Add(time.Second), now.Add(time.Second)
	gotD.EndpointID = "we_ignored" // never changes
	require.NoError(t, w.UpdateDelivery(ctx, gotD))
	after, err := w.GetDelivery(ctx, "p1", "dlv_1")
	require.NoError(t, err)
	gotD.EndpointID = "we_1"
	assert.Equal(t, gotD, after)
	foreignD := *after
	foreignD.PartnerID = "p2"
	assert.ErrorIs(t, w.UpdateDelivery(ctx, &foreignD), onboarding.ErrNotFound)

	dids := func(l []*onboarding.Delivery, err error) []string {
		require.NoError(t, err)
		var out []string
		for _, d := range l {
			out = append(out, d.ID)
		}
		return out
	}
	assert.Equal(t, []string{"dlv_3", "dlv_2", "dlv_1"}, dids(w.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{Limit: 10})))
	assert.Equal(t, []string{"dlv_3", "dlv_1"}, dids(w.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{Limit: 10, EndpointID: "we_1"})))
	assert.Equal(t, []string{"dlv_1"}, dids(w.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{Limit: 10, Status: onboarding.DeliveryDelivered})))
	assert.Equal(t, []string{"dlv_2"}, dids(w.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{Limit: 1, StartingAfter: "dlv_3", EventID: "evt_1"})))
	assert.Empty(t, dids(w.ListDeliveries(ctx, "p2", onboarding.ListDeliveriesParams{Limit: 10})))

	// The delivery log, oldest first.
	a1 := &onboarding.DeliveryAttempt{ID: "att_2", PartnerID: "p1", DeliveryID: "dlv_1", Attempt: 1, StatusCode: 500,
		Latency: 1234567891 * time.Nanosecond, Error: "server error", Response: `{"error":"boom"}`, CreatedAt: now}
	a2 := &onboarding.DeliveryAttempt{ID: "att_1", PartnerID: "p1", DeliveryID: "dlv_1", Attempt: 2, StatusCode: 204,
		Latency: 15 * time.Millisecond, CreatedAt: now.Add(time.Second)}
	require.NoError(t, w.InsertDeliveryAttempt(ctx, a1))
	require.NoError(t, w.InsertDeliveryAttempt(ctx, a2))
	wrong := *a1
	wrong.ID, wrong.PartnerID = "att_3", "p2"
	assert.ErrorIs(t, w.InsertDeliveryAttempt(ctx, &wrong), onboarding.ErrNotFound)
	wrong.PartnerID, wrong.DeliveryID = "p1", "dlv_missing"
	assert.ErrorIs(t, w.InsertDeliveryAttempt(ctx, &wrong), onboarding.ErrNotFound)
	log, err := w.ListDeliveryAttempts(ctx, "p1", "dlv_1")
	require.NoError(t, err)
	assert.Equal(t, []*onboarding.DeliveryAttempt{a1, a2}, log)
	log, err = w.ListDeliveryAttempts(ctx, "p2", "dlv_1")
	require.NoError(t, err)
	assert.Empty(t, log)

	// Webhook writes join units of work like every other write.
	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := q.(onboarding.WebhookQueries).InsertEndpoint(ctx, newEndpoint("we_9", webhook.EndpointActive)); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = w.GetEndpoint(ctx, "p1", "we_9")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}
