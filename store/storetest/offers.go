package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/money"
)

func newOffer(c *onboarding.Customer) *onboarding.CreditOffer {
	return &onboarding.CreditOffer{ID: onboarding.NewID("co"), PartnerID: c.PartnerID, CustomerID: c.ID,
		ExternalID: c.ExternalID, Status: onboarding.OfferAvailable, ApprovedAmount: 5_000_000,
		MinAmount: 100_000, MonthlyInterestRate: 35_000, MinInstallments: 3, MaxInstallments: 24,
		DueDateRule: "monthly", ValidUntil: base.Add(30 * 24 * time.Hour), Model: "sandbox-v1",
		ReleasedAt: base, Version: 1, CreatedAt: base, UpdatedAt: base}
}

func testOffers(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	c, c2 := newCustomer(r, "p1"), newCustomer(r, "p1")
	insertCustomer(t, s, c)
	insertCustomer(t, s, c2)
	var all []*onboarding.CreditOffer
	for i := range 5 {
		o := newOffer(c)
		if i%2 == 1 {
			o = newOffer(c2)
		}
		o.ApprovedAmount = money.Money(999_999_999_999_99 - i)
		require.NoError(t, s.InsertOffer(ctx, o))
		all = append(all, o)
	}
	got, err := s.GetOffer(ctx, "p1", all[0].ID)
	require.NoError(t, err)
	assert.Equal(t, all[0], got)

	list, err := s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 2})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, all[4].ID, list[0].ID, "newest first")
	assert.Equal(t, all[3].ID, list[1].ID)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, StartingAfter: all[3].ID})
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, all[2].ID, list[0].ID)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID})
	require.NoError(t, err)
	assert.Len(t, list, 2)

	stale := got.Clone()
	got.Status, got.UpdatedAt = onboarding.OfferExpired, base.Add(time.Hour)
	require.NoError(t, s.UpdateOffer(ctx, got))
	assert.EqualValues(t, 2, got.Version)
	stale.Status = onboarding.OfferAccepted
	assert.ErrorIs(t, s.UpdateOffer(ctx, stale), onboarding.ErrConcurrentUpdate)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, Status: onboarding.OfferExpired})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, got, list[0])

	// A held offer (not yet released) is listed only on request, and released by an update.
	held := newOffer(c2)
	held.ReleasedAt = time.Time{}
	require.NoError(t, s.InsertOffer(ctx, held))
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID})
	require.NoError(t, err)
	assert.Len(t, list, 2)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID, IncludeHeld: true})
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, held.ID, list[0].ID)
	assert.True(t, list[0].ReleasedAt.IsZero())
	held.ReleasedAt = base.Add(2 * time.Hour)
	require.NoError(t, s.UpdateOffer(ctx, held))
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID})
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, held.ReleasedAt, list[0].ReleasedAt)
}
