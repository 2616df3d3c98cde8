package onboarding_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/memstore"
)

// recorder is a Publisher that remembers what it got.
type recorder struct {
	mu     sync.Mutex
	events []*onboarding.Event
}

func (r *recorder) Publish(_ context.Context, e *onboarding.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) has(t onboarding.EventType) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Type == t {
			return true
		}
	}
	return false
}

func TestRunWakesAndShutsDown(t *testing.T) {
	t.Parallel()
	pub := &recorder{}
	svc := onboardingtest.NewService(t, setup(t, nil).store, &onboarding.Options{Scorer: scoring.Sandbox{}, Publisher: pub,
		PollInterval: time.Hour}) // only the wake-up can make this test pass in time
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- svc.Run(ctx) }()
	_, _, err := svc.CreateCustomer(context.Background(), "p1", params(t))
	require.NoError(t, err)
	// Both events are published in parallel, in either order.
	require.Eventually(t, func() bool {
		return pub.has(onboarding.EventCreditOfferAvailable) && pub.has(onboarding.EventCustomerCreated)
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// A job whose stored arguments do not decode into its kind's arguments fails for good at
// once (retrying cannot fix it), and says why.
func TestJobArgumentsThatDoNotDecodeAreDead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	now := b.clock.Now()
	for _, args := range []string{`{"offer_id": 42}`, `[`, `"co_1"`} {
		j := &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobExpireOffer, PartnerID: "p1",
			Args: json.RawMessage(args), State: onboarding.JobAvailable, MaxAttempts: 10, RunAt: now, CreatedAt: now, UpdatedAt: now}
		require.NoError(t, b.store.InsertJob(ctx, j))
		n, err := b.svc.Work(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		got, err := b.store.GetJob(ctx, j.ID)
		require.NoError(t, err)
		assert.Equal(t, onboarding.JobDead, got.State, args)
		assert.Equal(t, 1, got.Attempt, "%s: not retried", args)
		assert.Contains(t, got.LastError, "arguments", args)
	}
}

// A job that runs longer than its lease keeps it by heartbeats: a second replica polling
// all along never takes it over, and the analysis runs once.
func TestHeartbeatKeepsALongJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New()
	var calls atomic.Int32
	scorer := scoring.Func(func(ctx context.Context, r scoring.Request) (scoring.Decision, error) {
		calls.Add(1)
		select {
		case <-time.After(3500 * time.Millisecond): // three and a half leases
		case <-ctx.Done():
			return scoring.Decision{}, ctx.Err()
		}
		return scoring.Sandbox{}.Score(ctx, r)
	})
	replica := func(id string) *onboarding.Service {
		return onboardingtest.NewService(t, store, &onboarding.Options{Scorer: scorer, JobLease: time.Second,
			PollInterval: 20 * time.Millisecond, WorkerID: id, Logger: slog.New(slog.DiscardHandler)})
	}
	a, b := replica("a"), replica("b")
	c, _, err := a.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		stop()
		wg.Wait()
	}()
	wg.Add(1)
	go func() { defer wg.Done(); _ = a.Run(runCtx) }()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	wg.Add(1)
	go func() { defer wg.Done(); _ = b.Run(runCtx) }()

	require.Eventually(t, func() bool {
		page, err := a.ListCreditOffers(ctx, "p1", onboarding.ListOffersParams{CustomerID: c.ID})
		return err == nil && len(page.Data) == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, int32(1), calls.Load(), "the job was never taken over")
	jobs, err := store.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobCreditAnalysis, CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, onboarding.JobCompleted, jobs[0].State)
	assert.Equal(t, 1, jobs[0].Attempt)
}

// TestClaimAhead: Run claims beyond its workers as many jobs as they finish in 50 ms,
// within [max(Workers, 64), 256]: short jobs (deliveries at thousands a second) raise it,
// slow ones (credit analyses) leave it at the floor, and one worker claims nothing ahead.
func TestClaimAhead(t *testing.T) {
	// 100 ms windows: 10 jobs (100/s), 400 (4,000/s), 1,000 (10,000/s), then 30 (300/s).
	assert.Equal(t, []int{64, 64, 200, 256, 64}, onboarding.ClaimAhead(16, []int64{10, 400, 1000, 30}))
	assert.Equal(t, []int{100, 100, 200}, onboarding.ClaimAhead(100, []int64{0, 400}))
	assert.Equal(t, []int{0, 0}, onboarding.ClaimAhead(1, []int64{400}))
}

// TestShutdownReleasesUnstartedJobs: when Run stops, the jobs it claimed ahead and no
// worker started go back to the queue at once (available, unleased, their claim's
// attempt taken back); only the running ones are finished. Before, a shutdown worked
// every claimed job first.
func TestShutdownReleasesUnstartedJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := memstore.New()
	var calls atomic.Int32
	release := make(chan struct{})
	scorer := scoring.Func(func(ctx context.Context, r scoring.Request) (scoring.Decision, error) {
		calls.Add(1)
		<-release
		return scoring.Sandbox{}.Score(ctx, r)
	})
	svc := onboardingtest.NewService(t, store, &onboarding.Options{Scorer: scorer, Workers: 2,
		PollInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	const customers = 10
	for range customers {
		_, _, err := svc.CreateCustomer(ctx, "p1", params(t))
		require.NoError(t, err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- svc.Run(runCtx) }()
	require.Eventually(t, func() bool { return calls.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	stop()
	// Run releases the rest while the two are still running.
	require.Eventually(t, func() bool {
		jobs, err := store.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobCreditAnalysis, State: onboarding.JobAvailable})
		return err == nil && len(jobs) == customers-2
	}, 5*time.Second, 5*time.Millisecond)
	close(release)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	assert.Equal(t, int32(2), calls.Load(), "only the jobs already running were worked")
	jobs, err := store.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobCreditAnalysis})
	require.NoError(t, err)
	require.Len(t, jobs, customers)
	states := map[onboarding.JobState]int{}
	for _, j := range jobs {
		states[j.State]++
		if j.State == onboarding.JobAvailable {
			assert.Zero(t, j.Attempt, "the claim's attempt is taken back")
			assert.Empty(t, j.LockedBy)
			assert.True(t, j.LockedUntil.IsZero())
		}
	}
	assert.Equal(t, map[onboarding.JobState]int{onboarding.JobCompleted: 2, onboarding.JobAvailable: customers - 2}, states)
}
