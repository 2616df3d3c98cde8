package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/webhook"
)

// tracker is the scorer of several replicas: it counts the analyses per customer and
// per replica, and records any analysis of a customer that starts while another is in
// flight (a job done twice at once).
type tracker struct {
	mu       sync.Mutex
	inflight map[string]string // customer → replica
	calls    map[string]int
	byWorker map[string]int
	overlaps []string
}

func newTracker() *tracker {
	return &tracker{inflight: map[string]string{}, calls: map[string]int{}, byWorker: map[string]int{}}
}

func (tr *tracker) scorer(worker string) scoring.Scorer {
	return scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		tr.mu.Lock()
		if other, ok := tr.inflight[req.CustomerID]; ok {
			tr.overlaps = append(tr.overlaps, fmt.Sprintf("%s scored by %s while %s was", req.CustomerID, worker, other))
		}
		tr.inflight[req.CustomerID] = worker
		tr.calls[req.CustomerID]++
		tr.byWorker[worker]++
		tr.mu.Unlock()
		time.Sleep(time.Millisecond) // widen the window in which a double claim would show
		d, err := scoring.Sandbox{}.Score(ctx, req)
		tr.mu.Lock()
		delete(tr.inflight, req.CustomerID)
		tr.mu.Unlock()
		return d, err
	})
}

// TestReplicasShareJobs: two Services on one database (two pools, two worker IDs) run
// while a burst of registrations arrives through both. Every customer is scored exactly
// once and never by both at once, gets exactly one offer, and its credit_offer.available
// reaches the receiver; both replicas took part. PostgreSQL with 200 registrations (SKIP
// LOCKED), and SQLite with 100 (two pools on one file, the database's write lock).
func TestReplicasShareJobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind string
		n    int
	}{{"postgres", 200}, {"sqlite", 100}} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			testReplicas(t, newDatabase(t, tc.kind), tc.n)
		})
	}
}

func testReplicas(t *testing.T, db *database, n int) {
	rcv := newReceiver(t, time.Now)
	tr := newTracker()
	replicas := make([]*onboarding.Service, 2)
	for i, name := range []string{"replica-a", "replica-b"} {
		replicas[i] = newService(t, db.open(t), onboarding.Options{Scorer: tr.scorer(name), WorkerID: name, Workers: 4})
	}
	endpoint(t, replicas[0], rcv, "credit_offer.*")
	for _, r := range replicas {
		run(t, r)
	}

	ppl := newPeople(t)
	ids := make(chan string, n)
	var wg sync.WaitGroup
	const clients = 8
	for g := range clients {
		wg.Go(func() {
			svc := replicas[g%2]
			for i := g; i < n; i += clients {
				c, _, err := svc.CreateCustomer(context.Background(), partner, ppl.next(""))
				if !assert.NoError(t, err) {
					return
				}
				ids <- c.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	var customers []string
	for id := range ids {
		customers = append(customers, id)
	}
	require.Len(t, customers, n)

	rcv.WaitFor(2*waitLong, fmt.Sprintf("%d credit_offer.available", n), func(evs []webhook.Event) bool { return len(evs) >= n })
	svc := replicas[0]
	offers := offersByCustomer(t, svc)
	evs := eventsOfType(t, svc, onboarding.EventCreditOfferAvailable)
	assert.Len(t, evs, n)
	for _, e := range evs {
		_, ok := rcv.Got(e.ID)
		assert.True(t, ok, "event %s not received", e.ID)
	}
	byCustomer := map[string]int{}
	for _, e := range rcv.Events() {
		assert.Equal(t, webhook.EventCreditOfferAvailable, e.Type, "the filter lets only credit_offer.* through")
		byCustomer[customerOf(t, e)]++
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	assert.Empty(t, tr.overlaps, "no analysis ran twice at once")
	for _, id := range customers {
		j := analysisJob(t, svc, id)
		assert.Equal(t, onboarding.JobCompleted, j.State, id)
		if j.Attempt == 1 { // no lease expired: exactly one analysis
			assert.Equal(t, 1, tr.calls[id], "analyses of %s", id)
		}
		assert.Len(t, offers[id], 1, "offers of %s", id)
		assert.Equal(t, 1, byCustomer[id], "credit_offer.available webhooks of %s", id)
	}
	assert.Len(t, offers, n)
	distinct, dups, bad := rcv.Stats()
	assert.Equal(t, n, distinct)
	assert.Zero(t, dups, "no delivery was made twice")
	assert.Empty(t, bad)
	t.Logf("analyses per replica: %v", tr.byWorker)
	assert.Positive(t, tr.byWorker["replica-a"], "replica A took part")
	assert.Positive(t, tr.byWorker["replica-b"], "replica B took part")
}

// TestReplicaWakesOnCommit (PostgreSQL): a replica whose poll is an hour away still
// starts at once the work another process committed (LISTEN/NOTIFY).
func TestReplicaWakesOnCommit(t *testing.T) {
	t.Parallel()
	db := newDatabase(t, "postgres")
	rcv := newReceiver(t, time.Now)
	front := newService(t, db.open(t), onboarding.Options{}) // registers only; runs no workers
	worker := newService(t, db.open(t), onboarding.Options{Scorer: scoring.Sandbox{}, PollInterval: time.Hour})
	endpoint(t, front, rcv, "credit_offer.available")
	run(t, worker)
	time.Sleep(100 * time.Millisecond) // let the first (empty) claim pass: from here only a wake-up helps
	c := register(t, front, newPeople(t).next(""))
	rcv.WaitFor(20*time.Second, "credit_offer.available, long before the next poll", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCreditOfferAvailable, c.ID)
	})
}

// TestReviewJobsWaitForReplicaWithReviewer: during a rolling deploy that adds an
// automated Reviewer, a replica without one must not swallow the review jobs that a
// replica with one enqueued (as analysis jobs wait for a replica with a Scorer).
func TestReviewJobsWaitForReplicaWithReviewer(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		old := newService(t, db.open(t), onboarding.Options{})
		upgraded := newService(t, db.open(t), onboarding.Options{Reviewer: sandbox.Reviewer{},
			Biometrics: sandbox.Biometrics{}})
		c := register(t, upgraded, newPeople(t).next(""))
		upload(t, upgraded, c.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("ccmei"))
		upload(t, upgraded, c.ID, onboarding.DocSelfie, "selfie.png", testfiles.PNG("selfie"))
		work(t, old) // the old replica happens to poll first
		work(t, upgraded)
		assert.Equal(t, onboarding.StatusActive, customer(t, upgraded, c.ID).Status,
			"the automated reviews ran (on the replica that has the plugins)")
	})
}
