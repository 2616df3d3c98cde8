package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// writeAll writes one of everything in q.
func writeAll(ctx context.Context, q onboarding.Queries, c *onboarding.Customer) error {
	if err := q.InsertCustomer(ctx, c); err != nil {
		return err
	}
	if err := q.InsertTransition(ctx, newTransition(c)); err != nil {
		return err
	}
	if err := q.InsertDocument(ctx, newDocument(c)); err != nil {
		return err
	}
	if err := q.InsertOffer(ctx, newOffer(c)); err != nil {
		return err
	}
	if err := q.InsertEvent(ctx, newEvent(c, onboarding.EventCustomerCreated)); err != nil {
		return err
	}
	if err := q.InsertJob(ctx, newJob(c, base)); err != nil {
		return err
	}
	return q.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: c.PartnerID, Key: c.ID,
		RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
}

// assertNothing checks that nothing of c was left behind.
func assertNothing(t *testing.T, s onboarding.Store, c *onboarding.Customer) {
	t.Helper()
	ctx := context.Background()
	_, err := s.GetCustomer(ctx, c.PartnerID, c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	hist, err := s.ListTransitions(ctx, c.PartnerID, c.ID)
	require.NoError(t, err)
	assert.Empty(t, hist)
	docs, err := s.ListDocuments(ctx, c.PartnerID, c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs)
	offers, err := s.ListOffers(ctx, c.PartnerID, onboarding.ListOffersParams{CustomerID: c.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, offers)
	events, err := s.ListEvents(ctx, c.PartnerID, onboarding.ListEventsParams{CustomerID: c.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, events)
	jobs, err := s.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, jobs)
	_, err = s.GetIdempotencyKey(ctx, c.PartnerID, c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func testRollback(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	keep := newCustomer(r, "p1")
	insertCustomer(t, s, keep)
	c := newCustomer(r, "p1")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := writeAll(ctx, q, c); err != nil {
			return err
		}
		k, err := q.GetCustomer(ctx, "p1", keep.ID)
		if err != nil {
			return err
		}
		k.Name = "rolled back"
		if err := q.UpdateCustomer(ctx, k); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	assertNothing(t, s, c)
	got, err := s.GetCustomer(ctx, "p1", keep.ID)
	require.NoError(t, err)
	assert.Equal(t, keep.Name, got.Name)
	assert.EqualValues(t, 1, got.Version)

	// The same IDs can be written after the rollback: nothing is left holding them.
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error { return writeAll(ctx, q, c) }))
}

func testRollbackOnPanic(t *testing.T, s onboarding.Store) {
	c := newCustomer(rng(t), "p1")
	assert.PanicsWithValue(t, "boom", func() {
		_ = s.InTx(context.Background(), func(ctx context.Context, q onboarding.Queries) error {
			if err := writeAll(ctx, q, c); err != nil {
				return err
			}
			panic("boom")
		})
	})
	assertNothing(t, s, c)
	// The store is still usable.
	insertCustomer(t, s, newCustomer(rng(t), "p1"))
}

func testRollbackOnCancel(t *testing.T, s onboarding.Store) {
	c := newCustomer(rng(t), "p1")
	ctx, cancel := context.WithCancel(context.Background())
	err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := writeAll(ctx, q, c); err != nil {
			return err
		}
		cancel() // the caller gave up mid-transaction: nothing may commit
		return nil
	})
	require.Error(t, err)
	assertNothing(t, s, c)
}

func testReadYourWrites(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := q.InsertCustomer(ctx, c); err != nil {
			return err
		}
		got, err := q.GetCustomer(ctx, "p1", c.ID)
		if err != nil {
			return err
		}
		got.Status = onboarding.StatusUnderReview
		if err := q.UpdateCustomer(ctx, got); err != nil {
			return err
		}
		again, err := q.FindCustomer(ctx, "p1", c.ExternalID, "")
		if err != nil {
			return err
		}
		assert.Equal(t, onboarding.StatusUnderReview, again.Status)
		assert.EqualValues(t, 2, again.Version)
		return nil
	})
	require.NoError(t, err)
}
