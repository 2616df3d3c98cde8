package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func newEvent(c *onboarding.Customer, typ onboarding.EventType) *onboarding.Event {
	data, _ := json.Marshal(map[string]any{"id": c.ID, "status": c.Status})
	return &onboarding.Event{ID: onboarding.NewID("evt"), PartnerID: c.PartnerID, Type: typ,
		CustomerID: c.ID, Data: data, CreatedAt: base}
}

func testEvents(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	var evs []*onboarding.Event
	for _, typ := range []onboarding.EventType{onboarding.EventCustomerCreated, onboarding.EventCustomerKYCUpdated, onboarding.EventCustomerUnderReview} {
		e := newEvent(c, typ)
		require.NoError(t, s.InsertEvent(ctx, e))
		evs = append(evs, e)
	}
	got, err := s.GetEvent(ctx, evs[1].ID)
	require.NoError(t, err)
	assert.Equal(t, evs[1].Type, got.Type)
	assert.JSONEq(t, string(evs[1].Data), string(got.Data))

	list, err := s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i := range list {
		assert.Equal(t, evs[i].ID, list[i].ID, "oldest first")
	}
	list, err = s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 10, Type: onboarding.EventCustomerKYCUpdated})
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 1, StartingAfter: evs[0].ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, evs[1].ID, list[0].ID)
	_, err = s.GetEvent(ctx, "evt_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	late := newEvent(c, onboarding.EventCustomerActive)
	late.CreatedAt = base.Add(time.Hour)
	require.NoError(t, s.InsertEvent(ctx, late))
	list, err = s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 10, CreatedFrom: base.Add(time.Hour)})
	require.NoError(t, err)
	require.Len(t, list, 1, "created_from is inclusive")
	assert.Equal(t, late.ID, list[0].ID)
}
