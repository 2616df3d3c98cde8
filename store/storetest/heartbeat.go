package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// testHeartbeat: a worker's heartbeats (ExtendJobLeases) keep its job past the original
// lease; only the holder extends it, a job no longer running is not extended, and when the
// heartbeats stop the job is claimable one lease later.
func testHeartbeat(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	j := newJob(c, base)
	require.NoError(t, s.InsertJob(ctx, j))
	lease := 15 * time.Second
	got, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 1, Now: base, Lease: lease})
	require.NoError(t, err)
	require.Len(t, got, 1)

	// Heartbeats every 5 s carry the lease far past its first end.
	for beat := 1; beat <= 6; beat++ {
		now := base.Add(time.Duration(beat) * 5 * time.Second)
		require.Equal(t, []string{j.ID}, beat1(t, s, j.ID, "w1", now.Add(lease)))
		stolen, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: now.Add(lease - time.Second), Lease: lease})
		require.NoError(t, err)
		require.Empty(t, stolen, "beat %d: a renewed lease is not claimable", beat)
	}
	stored, err := s.GetJob(ctx, j.ID)
	require.NoError(t, err)
	assert.Equal(t, base.Add(30*time.Second+lease), stored.LockedUntil)
	assert.Equal(t, 1, stored.Attempt, "a heartbeat is not an attempt")

	assert.Empty(t, beat1(t, s, j.ID, "w2", base.Add(time.Hour)), "only the holder extends")
	assert.Empty(t, beat1(t, s, "job_missing", "w1", base.Add(time.Hour)))

	// When the heartbeats stop (the worker died), the job is claimable one lease later.
	last := base.Add(30 * time.Second)
	taken, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: last.Add(lease + time.Second), Lease: lease})
	require.NoError(t, err)
	require.Len(t, taken, 1)
	assert.Empty(t, beat1(t, s, j.ID, "w1", last.Add(time.Hour)), "the dead worker's lease is gone")
	require.NoError(t, s.CompleteJob(ctx, j.ID, "w2", last.Add(lease+time.Second)))
	assert.Empty(t, beat1(t, s, j.ID, "w2", last.Add(time.Hour)), "a completed job has no lease")

	// Inside a unit of work it is part of the transaction: a rollback undoes it.
	j2 := newJob(c, base)
	require.NoError(t, s.InsertJob(ctx, j2))
	_, err = s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w3", Limit: 1, Now: base, Lease: lease})
	require.NoError(t, err)
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		renewed, err := q.ExtendJobLeases(ctx, []string{j2.ID}, "w3", base.Add(time.Hour))
		require.NoError(t, err)
		require.Len(t, renewed, 1)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	stored, err = s.GetJob(ctx, j2.ID)
	require.NoError(t, err)
	assert.Equal(t, base.Add(lease), stored.LockedUntil)
}

// beat1 renews one job's lease and returns what was renewed.
func beat1(t *testing.T, s onboarding.Queries, id, worker string, until time.Time) []string {
	t.Helper()
	renewed, err := s.ExtendJobLeases(context.Background(), []string{id}, worker, until)
	require.NoError(t, err)
	return renewed
}
