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

// testDeferredKeyInsert: a key inserted through DeferredKeyInserter, where the store's
// Queries have it, is written with the unit of work or not at all. A free key is stored
// (and read back within the unit of work, its insert travelling with the read); a key
// alone in its unit of work goes with the commit; a key another request holds fails the
// unit of work (ErrKeyInUse from the statement it travelled with, or ErrConflict from an
// insert made at once), and its change is rolled back; an expired key is replaced or
// refused with ErrKeyInUse (a travelling insert, or a plain insert made at once), never
// half-written.
func testDeferredKeyInsert(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	insert := func(ctx context.Context, q onboarding.Queries, k *onboarding.IdempotencyKey) error {
		if d, ok := q.(onboarding.DeferredKeyInserter); ok {
			return d.InsertIdempotencyKeyDeferred(ctx, k)
		}
		return q.InsertIdempotencyKey(ctx, k)
	}
	key := func(name, hash string, created time.Time) *onboarding.IdempotencyKey {
		return &onboarding.IdempotencyKey{PartnerID: "p1", Key: name, RequestHash: hash, Completed: true,
			ResponseStatus: 201, ResponseBody: []byte(`{"hash":"` + hash + `"}`), CreatedAt: created,
			ExpiresAt: created.Add(24 * time.Hour)}
	}
	// withKey runs a unit of work that inserts k, then registers c.
	withKey := func(k *onboarding.IdempotencyKey, c *onboarding.Customer) error {
		return s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
			if err := insert(ctx, q, k); err != nil {
				return err
			}
			return q.InsertCustomer(ctx, c)
		})
	}
	stored := func(name string) string {
		got, err := s.GetIdempotencyKey(ctx, "p1", name)
		require.NoError(t, err)
		return got.RequestHash
	}
	exists := func(c *onboarding.Customer) bool {
		_, err := s.GetCustomer(ctx, c.PartnerID, c.ID)
		if errors.Is(err, onboarding.ErrNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}

	c1 := newCustomer(r, "p1")
	require.NoError(t, withKey(key("k1", "first", base), c1))
	assert.Equal(t, "first", stored("k1"))
	assert.True(t, exists(c1))

	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := insert(ctx, q, key("k2", "read", base)); err != nil {
			return err
		}
		got, err := q.GetIdempotencyKey(ctx, "p1", "k2")
		if err != nil {
			return err
		}
		assert.Equal(t, "read", got.RequestHash, "read back within its unit of work")
		return nil
	}))
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		return insert(ctx, q, key("k3", "alone", base))
	}))
	assert.Equal(t, "alone", stored("k3"))

	c2 := newCustomer(r, "p1")
	err := withKey(key("k1", "second", base.Add(time.Hour)), c2)
	assert.True(t, errors.Is(err, onboarding.ErrKeyInUse) || errors.Is(err, onboarding.ErrConflict), "held: %v", err)
	assert.False(t, exists(c2), "the change of a refused key is rolled back")
	assert.Equal(t, "first", stored("k1"))

	// The same with a read after the insert.
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := insert(ctx, q, key("k1", "third", base.Add(time.Hour))); err != nil {
			return err
		}
		_, err := q.GetCustomer(ctx, "p1", c1.ID)
		return err
	})
	assert.True(t, errors.Is(err, onboarding.ErrKeyInUse) || errors.Is(err, onboarding.ErrConflict), "held: %v", err)
	assert.Equal(t, "first", stored("k1"))

	c3 := newCustomer(r, "p1")
	err = withKey(key("k1", "later", base.Add(25*time.Hour)), c3)
	if err == nil {
		assert.Equal(t, "later", stored("k1"), "an expired key is replaced")
		assert.True(t, exists(c3))
	} else {
		require.ErrorIs(t, err, onboarding.ErrKeyInUse, "a travelling insert refuses an expired key")
		assert.Equal(t, "first", stored("k1"))
		assert.False(t, exists(c3))
	}
}
