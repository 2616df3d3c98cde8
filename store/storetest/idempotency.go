package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func testIdempotencyKeys(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	k := &onboarding.IdempotencyKey{PartnerID: "p1", Key: "idem-1", RequestHash: "sha256:abc",
		CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	require.NoError(t, s.InsertIdempotencyKey(ctx, k))
	dup := *k
	dup.RequestHash, dup.CreatedAt = "sha256:other", base.Add(time.Hour)
	assert.ErrorIs(t, s.InsertIdempotencyKey(ctx, &dup), onboarding.ErrConflict)
	got, err := s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	assert.Equal(t, "sha256:abc", got.RequestHash)
	assert.False(t, got.Completed)

	k.Completed, k.ResponseStatus, k.ResponseBody = true, 201, []byte(`{"id":"cust_1"}`)
	require.NoError(t, s.CompleteIdempotencyKey(ctx, k))
	got, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	assert.True(t, got.Completed)
	assert.Equal(t, 201, got.ResponseStatus)
	assert.Equal(t, `{"id":"cust_1"}`, string(got.ResponseBody))
	assert.Equal(t, k.ExpiresAt, got.ExpiresAt)

	// Once expired, the key may be used again for another request.
	reuse := &onboarding.IdempotencyKey{PartnerID: "p1", Key: "idem-1", RequestHash: "sha256:new",
		CreatedAt: base.Add(25 * time.Hour), ExpiresAt: base.Add(49 * time.Hour)}
	require.NoError(t, s.InsertIdempotencyKey(ctx, reuse))
	got, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	assert.Equal(t, "sha256:new", got.RequestHash)
	assert.False(t, got.Completed)

	assert.ErrorIs(t, s.CompleteIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: "p1", Key: "idem-1",
		CreatedAt: base, Completed: true, ResponseStatus: 500}), onboarding.ErrNotFound,
		"a request whose key was taken over cannot complete it")
	require.NoError(t, s.DeleteIdempotencyKey(ctx, "p1", "idem-1", base), "nor delete it")
	_, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	require.NoError(t, s.DeleteIdempotencyKey(ctx, "p1", "idem-1", reuse.CreatedAt))
	_, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	require.NoError(t, s.DeleteIdempotencyKey(ctx, "p1", "idem-1", time.Time{}), "deleting a missing key is fine")
	assert.ErrorIs(t, s.CompleteIdempotencyKey(ctx, k), onboarding.ErrNotFound)
}
