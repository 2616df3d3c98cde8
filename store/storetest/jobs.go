package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func newJob(c *onboarding.Customer, runAt time.Time) *onboarding.Job {
	return &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobCreditAnalysis, PartnerID: c.PartnerID,
		CustomerID: c.ID, Args: json.RawMessage(`{"k":"v"}`), State: onboarding.JobAvailable,
		MaxAttempts: 3, RunAt: runAt, CreatedAt: base, UpdatedAt: base}
}

func testJobs(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	now := base.Add(time.Hour)
	early, late, future := newJob(c, base), newJob(c, base.Add(time.Minute)), newJob(c, now.Add(time.Hour))
	other := newJob(c, base)
	other.Kind = onboarding.JobPublishEvent
	for _, j := range []*onboarding.Job{late, future, early, other} {
		require.NoError(t, s.InsertJob(ctx, j))
	}
	got, err := s.GetJob(ctx, early.ID)
	require.NoError(t, err)
	assert.Equal(t, early, got)

	claimed, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobCreditAnalysis},
		Worker: "w1", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 2, "the future job and the other kind are not claimed")
	assert.Equal(t, early.ID, claimed[0].ID, "oldest run_at first")
	assert.Equal(t, late.ID, claimed[1].ID)
	for _, j := range claimed {
		assert.Equal(t, onboarding.JobRunning, j.State)
		assert.Equal(t, "w1", j.LockedBy)
		assert.Equal(t, now.Add(time.Minute), j.LockedUntil)
		assert.Equal(t, 1, j.Attempt)
	}
	// Nothing left to claim for that kind; a claim of any kind takes the other job.
	again, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobCreditAnalysis},
		Worker: "w2", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, again)
	anyKind, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, anyKind, 1)
	assert.Equal(t, other.ID, anyKind[0].ID)

	// Only the lease holder may finish a job.
	assert.ErrorIs(t, s.CompleteJob(ctx, early.ID, "w2", now), onboarding.ErrConcurrentUpdate)
	require.NoError(t, s.CompleteJob(ctx, early.ID, "w1", now))
	done, err := s.GetJob(ctx, early.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobCompleted, done.State)
	assert.Equal(t, now, done.FinishedAt)
	assert.ErrorIs(t, s.CompleteJob(ctx, early.ID, "w1", now), onboarding.ErrConcurrentUpdate, "completing twice")

	// A failure with a retry time makes it available again then, not before.
	retryAt := now.Add(5 * time.Second)
	require.NoError(t, s.FailJob(ctx, late.ID, "w1", now, onboarding.JobFailure{Error: "scorer timeout", RetryAt: retryAt}))
	failed, err := s.GetJob(ctx, late.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobAvailable, failed.State)
	assert.Equal(t, "scorer timeout", failed.LastError)
	assert.Equal(t, retryAt, failed.RunAt)
	none, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 10, Now: now.Add(time.Second), Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none)
	retried, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 10, Now: retryAt, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, retried, 1)
	assert.Equal(t, 2, retried[0].Attempt)

	// Dead, then replayed.
	require.NoError(t, s.FailJob(ctx, late.ID, "w1", retryAt, onboarding.JobFailure{Error: "permanent", Dead: true}))
	dead, err := s.ListJobs(ctx, onboarding.ListJobsParams{State: onboarding.JobDead, Limit: 10})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, late.ID, dead[0].ID)
	assert.ErrorIs(t, s.ReplayJob(ctx, early.ID, retryAt), onboarding.ErrNotFound, "only dead jobs replay")
	require.NoError(t, s.ReplayJob(ctx, late.ID, retryAt))
	replayed, err := s.GetJob(ctx, late.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobAvailable, replayed.State)
	assert.Equal(t, 0, replayed.Attempt)
	_, err = s.GetJob(ctx, "job_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func testJobLeaseExpiry(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	j := newJob(c, base)
	require.NoError(t, s.InsertJob(ctx, j))
	first, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "crashed", Limit: 1, Now: base, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, first, 1)
	// Within the lease nobody else gets it.
	none, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: base.Add(59 * time.Second), Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none)
	// After it, another worker does, and the crashed one can no longer finish it.
	second, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: base.Add(2 * time.Minute), Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, second, 1)
	assert.Equal(t, 2, second[0].Attempt)
	assert.ErrorIs(t, s.CompleteJob(ctx, j.ID, "crashed", base.Add(2*time.Minute)), onboarding.ErrConcurrentUpdate)
	assert.ErrorIs(t, s.FailJob(ctx, j.ID, "crashed", base.Add(2*time.Minute), onboarding.JobFailure{Error: "x", Dead: true}), onboarding.ErrConcurrentUpdate)
	require.NoError(t, s.CompleteJob(ctx, j.ID, "w2", base.Add(2*time.Minute)))
}

func testConcurrentClaims(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	const jobs, workers = 120, 6
	for range jobs {
		require.NoError(t, s.InsertJob(ctx, newJob(c, base)))
	}
	var mu sync.Mutex
	claimedBy := map[string]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("w%d", w)
			for {
				got, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: worker, Limit: 5, Now: base, Lease: time.Hour})
				if !assert.NoError(t, err) || len(got) == 0 {
					return
				}
				for _, j := range got {
					mu.Lock()
					prev, dup := claimedBy[j.ID]
					claimedBy[j.ID] = worker
					mu.Unlock()
					assert.False(t, dup, "job %s claimed by %s and %s", j.ID, prev, worker)
					assert.NoError(t, s.CompleteJob(ctx, j.ID, worker, base))
				}
			}
		}()
	}
	wg.Wait()
	assert.Len(t, claimedBy, jobs)
}
