package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func testPartnerIsolation(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	c := newCustomer(r, "p1")
	insertCustomer(t, s, c)
	d := newDocument(c)
	require.NoError(t, s.InsertDocument(ctx, d))
	o := newOffer(c)
	require.NoError(t, s.InsertOffer(ctx, o))
	e := newEvent(c, onboarding.EventCustomerCreated)
	require.NoError(t, s.InsertEvent(ctx, e))
	require.NoError(t, s.InsertTransition(ctx, newTransition(c)))

	_, err := s.GetCustomer(ctx, "p2", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.FindCustomer(ctx, "p2", c.ExternalID, c.TaxKey())
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	list, err := s.ListCustomers(ctx, "p2", onboarding.ListCustomersParams{Limit: 10, Sort: "created_at", Order: "desc"})
	require.NoError(t, err)
	assert.Empty(t, list)
	list, err = s.ListCustomers(ctx, "p2", onboarding.ListCustomersParams{Limit: 10, Sort: "created_at", Order: "desc", StartingAfter: c.ID})
	require.NoError(t, err)
	assert.Empty(t, list)
	stolen := c.Clone()
	stolen.PartnerID, stolen.Name = "p2", "hijacked"
	assert.ErrorIs(t, s.UpdateCustomer(ctx, stolen), onboarding.ErrNotFound)

	_, err = s.GetDocument(ctx, "p2", d.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	docs, err := s.ListDocuments(ctx, "p2", c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs)
	dd := *d
	dd.PartnerID, dd.Status = "p2", onboarding.DocumentApproved
	assert.ErrorIs(t, s.UpdateDocument(ctx, &dd), onboarding.ErrNotFound)

	_, err = s.GetOffer(ctx, "p2", o.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	offers, err := s.ListOffers(ctx, "p2", onboarding.ListOffersParams{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, offers)
	oo := o.Clone()
	oo.PartnerID = "p2"
	assert.ErrorIs(t, s.UpdateOffer(ctx, oo), onboarding.ErrNotFound)

	events, err := s.ListEvents(ctx, "p2", onboarding.ListEventsParams{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, events)
	hist, err := s.ListTransitions(ctx, "p2", c.ID)
	require.NoError(t, err)
	assert.Empty(t, hist)

	// A document or offer cannot be attached to another partner's customer.
	foreign := newDocument(c)
	foreign.PartnerID = "p2"
	assert.Error(t, s.InsertDocument(ctx, foreign))
	foreignOffer := newOffer(c)
	foreignOffer.PartnerID = "p2"
	assert.Error(t, s.InsertOffer(ctx, foreignOffer))

	k := &onboarding.IdempotencyKey{PartnerID: "p1", Key: "k1", RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	require.NoError(t, s.InsertIdempotencyKey(ctx, k))
	_, err = s.GetIdempotencyKey(ctx, "p2", "k1")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	k2 := *k
	k2.PartnerID = "p2"
	require.NoError(t, s.InsertIdempotencyKey(ctx, &k2), "keys are scoped by partner")
}
