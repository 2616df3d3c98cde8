package onboarding_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
)

// sweepingBlobs is a BlobStore that counts sweeps.
type sweepingBlobs struct {
	*sandbox.MemoryBlobStore
	sweeps atomic.Int32
}

func (s *sweepingBlobs) Sweep(context.Context, onboarding.Queries, time.Time) (int, error) {
	s.sweeps.Add(1)
	return 0, nil
}

func TestOrphanSweepIsScheduledOncePerInterval(t *testing.T) {
	t.Parallel()
	store := setup(t, nil).store
	blobs := &sweepingBlobs{MemoryBlobStore: sandbox.NewMemoryBlobStore()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 { // two replicas
		svc := onboardingtest.NewService(t, store, &onboarding.Options{Blobs: blobs, PollInterval: 5 * time.Millisecond})
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, svc.Run(ctx))
		}()
	}
	require.Eventually(t, func() bool {
		jobs, err := store.ListJobs(context.Background(), onboarding.ListJobsParams{Kind: onboarding.JobSweepBlobs, State: onboarding.JobCompleted})
		return err == nil && len(jobs) == 1
	}, 10*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	cancel()
	wg.Wait()
	jobs, err := store.ListJobs(context.Background(), onboarding.ListJobsParams{Kind: onboarding.JobSweepBlobs})
	require.NoError(t, err)
	assert.Len(t, jobs, 1)
	assert.EqualValues(t, 1, blobs.sweeps.Load())
}

func TestPruneJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}, JobRetention: time.Hour, PollInterval: 5 * time.Millisecond})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx) // the analysis completes now
	require.NoError(t, err)
	now := b.clock.Now()
	for i, expires := range []time.Duration{time.Hour, 3 * time.Hour} {
		require.NoError(t, b.store.InsertBiometricsCode(ctx, &onboarding.BiometricsCode{Hash: fmt.Sprint("h", i),
			PartnerID: "p1", CustomerID: c.ID, CreatedAt: now, ExpiresAt: now.Add(expires)}))
	}
	b.clock.Add(2 * time.Hour)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- b.svc.Run(runCtx) }()
	require.Eventually(t, func() bool {
		jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobPrune, State: onboarding.JobCompleted})
		return err == nil && len(jobs) == 1
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	left, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID, Kind: onboarding.JobCreditAnalysis})
	require.NoError(t, err)
	assert.Empty(t, left, "the analysis job finished more than JobRetention ago")
	pending, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID, Kind: onboarding.JobExpireOffer})
	require.NoError(t, err)
	assert.Len(t, pending, 1, "the offer's expiry, still to come, is kept")
	n, err := b.store.DeleteCustomerBiometricsCodes(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the expired session code was pruned, the live one kept")
}
