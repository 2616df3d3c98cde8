package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func testRetention(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	var old, recent, dead *onboarding.Job
	for i, at := range []time.Time{base, base.Add(time.Hour), base} {
		j := newJob(c, base)
		require.NoError(t, s.InsertJob(ctx, j))
		got, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w", Limit: 1, Now: base, Lease: time.Hour})
		require.NoError(t, err)
		require.Len(t, got, 1)
		if i == 2 {
			require.NoError(t, s.FailJob(ctx, got[0].ID, "w", at, onboarding.JobFailure{Error: "x", Dead: true}))
			dead = got[0]
			continue
		}
		require.NoError(t, s.CompleteJob(ctx, got[0].ID, "w", at))
		if i == 0 {
			old = got[0]
		} else {
			recent = got[0]
		}
	}
	n, err := s.PruneJobs(ctx, base.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetJob(ctx, old.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.GetJob(ctx, recent.ID)
	assert.NoError(t, err, "finished after the cutoff")
	_, err = s.GetJob(ctx, dead.ID)
	assert.NoError(t, err, "dead jobs are kept")

	for i := range 3 {
		require.NoError(t, s.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: "p1", Key: fmt.Sprint("k", i),
			RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(time.Duration(i) * time.Hour)}))
	}
	n, err = s.PruneIdempotencyKeys(ctx, base.Add(90*time.Minute), 1)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "limited")
	n, err = s.PruneIdempotencyKeys(ctx, base.Add(90*time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetIdempotencyKey(ctx, "p1", "k2")
	assert.NoError(t, err, "not yet expired")
}
