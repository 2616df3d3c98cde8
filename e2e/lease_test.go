package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/webhook"
)

// countingScorer is scoring.Sandbox that counts its calls per customer.
type countingScorer struct {
	mu    sync.Mutex
	calls map[string]int
}

func newCountingScorer() *countingScorer { return &countingScorer{calls: map[string]int{}} }

func (s *countingScorer) Score(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
	s.mu.Lock()
	s.calls[req.CustomerID]++
	s.mu.Unlock()
	return scoring.Sandbox{}.Score(ctx, req)
}

func (s *countingScorer) Calls(custID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[custID]
}

func analysisJob(t testing.TB, svc *onboarding.Service, custID string) *onboarding.Job {
	t.Helper()
	jobs, err := svc.Store().ListJobs(context.Background(), onboarding.ListJobsParams{CustomerID: custID, Kind: onboarding.JobCreditAnalysis})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	return jobs[0]
}

// TestLeaseExpiry: a worker that claimed the credit analysis and died (its claim is made
// with Store.ClaimJobs under a worker ID nobody completes) holds it only for its lease;
// then another Service does the job, once, and the dead worker's late completion is
// refused.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		ctx := context.Background()
		clk := &clock{}
		rcv := newReceiver(t, clk.Now)
		scorer := newCountingScorer()
		const lease = time.Minute
		b := newService(t, db.open(t), onboarding.Options{NowFunc: clk.Now, Scorer: scorer, WorkerID: "worker-b", JobLease: lease})
		endpoint(t, b, rcv, "credit_offer.*")
		c := register(t, b, newPeople(t).next(""))

		// Worker A claims the analysis, then crashes.
		claimed, err := b.Store().ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobCreditAnalysis},
			Worker: "worker-a", Limit: 1, Now: clk.Now(), Lease: lease})
		require.NoError(t, err)
		require.Len(t, claimed, 1)
		require.Equal(t, c.ID, claimed[0].CustomerID)

		work(t, b)
		assert.Zero(t, scorer.Calls(c.ID), "the lease holds")
		clk.Advance(lease - time.Second)
		work(t, b)
		assert.Zero(t, scorer.Calls(c.ID), "the lease still holds a second before it ends")
		j := analysisJob(t, b, c.ID)
		assert.Equal(t, onboarding.JobRunning, j.State)
		assert.Equal(t, "worker-a", j.LockedBy)

		clk.Advance(2 * time.Second)
		work(t, b)
		assert.Equal(t, 1, scorer.Calls(c.ID), "B did the job once the lease expired")
		j = analysisJob(t, b, c.ID)
		assert.Equal(t, onboarding.JobCompleted, j.State)
		assert.Equal(t, 2, j.Attempt, "A's claim and B's")
		require.Len(t, offersByCustomer(t, b)[c.ID], 1)
		require.Len(t, rcv.OfType(webhook.EventCreditOfferAvailable), 1)

		// A comes back from the dead and tries to complete: refused, nothing changes.
		err = b.Store().CompleteJob(ctx, claimed[0].ID, "worker-a", clk.Now())
		assert.ErrorIs(t, err, onboarding.ErrConcurrentUpdate)
		work(t, b)
		assert.Len(t, offersByCustomer(t, b)[c.ID], 1)
		assert.Len(t, eventsOfType(t, b, onboarding.EventCreditOfferAvailable), 1)
	})
}

// TestLeaseExpiryZombieWorker: Service A's scorer hangs in the middle of the analysis; its
// lease expires and Service B (another pool, another worker ID) does the job and creates
// the offer. When A's scorer finally returns, A's transaction (offer, event, completion)
// is refused as a whole: the offer exists once, its webhook is sent once.
func TestLeaseExpiryZombieWorker(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		clk := &clock{}
		rcv := newReceiver(t, clk.Now)
		const lease = time.Minute
		entered := make(chan string, 1)
		release := make(chan struct{})
		var once sync.Once
		releaseA := func() { once.Do(func() { close(release) }) }
		hanging := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
			select {
			case entered <- req.CustomerID:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
				return scoring.Decision{}, ctx.Err()
			}
			return scoring.Sandbox{}.Score(ctx, req)
		})
		// One worker: while its scorer hangs, A claims nothing else (not even the expired
		// job back).
		a := newService(t, db.open(t), onboarding.Options{NowFunc: clk.Now, Scorer: hanging, WorkerID: "worker-a",
			JobLease: lease, Workers: 1})
		scorer := newCountingScorer()
		b := newService(t, db.open(t), onboarding.Options{NowFunc: clk.Now, Scorer: scorer, WorkerID: "worker-b", JobLease: lease})
		endpoint(t, a, rcv, "credit_offer.*")
		stopA := run(t, a)
		t.Cleanup(releaseA)

		c := register(t, a, newPeople(t).next(""))
		select {
		case id := <-entered:
			require.Equal(t, c.ID, id)
		case <-time.After(waitLong):
			t.Fatal("A never started the analysis")
		}
		work(t, b)
		assert.Zero(t, scorer.Calls(c.ID), "A's lease holds")
		assert.Equal(t, "worker-a", analysisJob(t, b, c.ID).LockedBy)

		clk.Advance(lease + time.Second)
		work(t, b)
		assert.Equal(t, 1, scorer.Calls(c.ID), "B took the job over")
		require.Len(t, offersByCustomer(t, b)[c.ID], 1)

		releaseA() // A's scorer returns; its commit must fail
		stopA()    // Run returns after its job in flight has finished
		offers := offersByCustomer(t, b)[c.ID]
		require.Len(t, offers, 1, "the zombie's offer was rolled back")
		evs := eventsOfType(t, b, onboarding.EventCreditOfferAvailable)
		require.Len(t, evs, 1)
		j := analysisJob(t, b, c.ID)
		assert.Equal(t, onboarding.JobCompleted, j.State)

		work(t, b) // deliver whatever A left
		rcv.WaitFor(waitLong, "credit_offer.available", func(evs []webhook.Event) bool { return len(evs) == 1 })
		got := rcv.OfType(webhook.EventCreditOfferAvailable)
		require.Len(t, got, 1)
		assert.Equal(t, evs[0].ID, got[0].ID)
		var data offerData
		require.NoError(t, got[0].Decode(&data))
		assert.Equal(t, offers[0].ID, data.ID)
	})
}
