package onboarding_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/taxid"
)

func offers(t *testing.T, b *bundle, custID string) []*onboarding.CreditOffer {
	t.Helper()
	page, err := b.svc.ListCreditOffers(context.Background(), "p1", onboarding.ListOffersParams{CustomerID: custID})
	require.NoError(t, err)
	return page.Data
}

func TestCreditAnalysisAndExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	n, err := b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the analysis (no endpoint, no broker: nothing to deliver)")

	list := offers(t, b, c.ID)
	require.Len(t, list, 1)
	o := list[0]
	assert.Equal(t, onboarding.OfferAvailable, o.Status)
	assert.Equal(t, c.ExternalID, o.ExternalID)
	assert.Positive(t, int64(o.ApprovedAmount))
	assert.True(t, o.ValidUntil.After(b.clock.Now()))
	got, err := b.svc.GetCreditOffer(ctx, "p1", o.ID)
	require.NoError(t, err)
	assert.Equal(t, o, got)
	_, err = b.svc.GetCreditOffer(ctx, "p2", o.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	assert.Contains(t, eventTypes(t, b, c.ID), onboarding.EventCreditOfferAvailable)

	// Nothing is due until valid_until.
	n, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	b.clock.Set(o.ValidUntil)
	n, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the expiry")
	assert.Equal(t, onboarding.OfferExpired, offers(t, b, c.ID)[0].Status)
	assert.Contains(t, eventTypes(t, b, c.ID), onboarding.EventCreditOfferExpired)
}

func TestCreditAnalysisRetriesAndDead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int32
	flaky := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		calls.Add(1)
		switch {
		case req.ExternalID == "permanent":
			return scoring.Decision{}, scoring.Permanent(errors.New("bureau says no such company"))
		case req.Attempt < 3:
			return scoring.Decision{}, errors.New("bureau timeout")
		}
		return scoring.Sandbox{}.Score(ctx, req)
	})
	b := setup(t, &onboarding.Options{Scorer: flaky})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	for range 3 {
		_, err := b.svc.Work(ctx)
		require.NoError(t, err)
		b.clock.Add(2 * time.Hour) // past any backoff
	}
	assert.EqualValues(t, 3, calls.Load())
	require.Len(t, offers(t, b, c.ID), 1)

	p := params(t)
	p.ExternalID = "permanent"
	c2, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	dead, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c2.ID, Kind: onboarding.JobCreditAnalysis})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, onboarding.JobDead, dead[0].State)
	assert.Contains(t, dead[0].LastError, "no such company")
	assert.Empty(t, offers(t, b, c2.ID))
	require.NoError(t, b.svc.ReplayJob(ctx, dead[0].ID))
	again, err := b.store.GetJob(ctx, dead[0].ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobAvailable, again.State)
}

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

func TestHoldOffersUntilActive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}, HoldOffersUntilActive: true})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Empty(t, offers(t, b, c.ID), "held offers are invisible")
	assert.NotContains(t, eventTypes(t, b, c.ID), onboarding.EventCreditOfferAvailable)
	held, err := b.store.ListOffers(ctx, "p1", onboarding.ListOffersParams{CustomerID: c.ID, IncludeHeld: true})
	require.NoError(t, err)
	require.Len(t, held, 1)
	_, err = b.svc.GetCreditOffer(ctx, "p1", held[0].ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	validity := held[0].ValidUntil.Sub(held[0].CreatedAt)

	b.clock.Add(48 * time.Hour)
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("h")), onboarding.ReviewApprove, "")
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG("h")), onboarding.ReviewApprove, "")
	list := offers(t, b, c.ID)
	require.Len(t, list, 1)
	assert.Equal(t, b.clock.Now(), list[0].ReleasedAt)
	assert.Equal(t, b.clock.Now().Add(validity), list[0].ValidUntil, "validity counts from the release")
	types := eventTypes(t, b, c.ID)
	assert.Equal(t, onboarding.EventCreditOfferAvailable, types[len(types)-1], "announced with the activation")

	// A customer already active when the analysis finishes gets the offer at once.
	c2, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c2.ID, Kind: onboarding.JobCreditAnalysis})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	review(t, b, upload(t, b, "p1", c2.ID, onboarding.DocCCMEI, testfiles.PDF("h2")), onboarding.ReviewApprove, "")
	review(t, b, upload(t, b, "p1", c2.ID, onboarding.DocSelfie, testfiles.PNG("h2")), onboarding.ReviewApprove, "")
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Len(t, offers(t, b, c2.ID), 1)
}

func TestAnalysisSeesRegistryData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var got scoring.Request
	var mu sync.Mutex
	scorer := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		mu.Lock()
		got = req
		mu.Unlock()
		return scoring.Decision{Outcome: scoring.Decline, Reason: "test"}, nil
	})
	b := setup(t, &onboarding.Options{Scorer: scorer, Registry: sandbox.Registry{}})
	p := params(t)
	r := rand.New(rand.NewPCG(6, 6))
	cnpj := taxid.GenerateCNPJ(r, false)
	for cnpj[7] != '6' { // a raiz ending in 6: an LTDA with a co-owner in the sandbox
		cnpj = taxid.GenerateCNPJ(r, false)
	}
	p.CNPJ = cnpj.String()
	_, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "ltda", got.LegalNature)
	assert.Equal(t, "active", got.CompanyStatus)
	assert.False(t, got.CompanyOpenedAt.IsZero())
	assert.Equal(t, 1, got.CompanyPartners)
	assert.Equal(t, 1, got.Attempt)
}

func TestPruneJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}, JobRetention: time.Hour, PollInterval: 5 * time.Millisecond})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx) // the analysis completes now
	require.NoError(t, err)
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
}

func TestCreditDecisionsAreAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	decline := scoring.Func(func(context.Context, scoring.Request) (scoring.Decision, error) {
		return scoring.Decision{Outcome: scoring.Decline, Reason: "revenue too low", Model: "house-v2"}, nil
	})
	b := setup(t, &onboarding.Options{Scorer: decline})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	last := hist[len(hist)-1]
	assert.Equal(t, onboarding.EventCreditDecision, last.Event)
	assert.Equal(t, "scorer:house-v2", last.Actor)
	assert.Equal(t, "decline: revenue too low", last.Reason)
	assert.Equal(t, onboarding.StatusPendingKYC, last.To)
	assert.Empty(t, offers(t, b, c.ID))
}
