package storetest

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/webhook"
)

// batchRig is a partner with an endpoint and n events, each with a pending delivery to the
// endpoint and its deliver_webhook job, as the fan-out leaves them.
type batchRig struct {
	ep         *onboarding.WebhookEndpoint
	events     []*onboarding.Event
	deliveries []*onboarding.Delivery
	jobs       []*onboarding.Job
}

func newBatchRig(t *testing.T, s onboarding.Store, partner string, n int) *batchRig {
	ctx := context.Background()
	r := &batchRig{ep: &onboarding.WebhookEndpoint{Endpoint: webhook.Endpoint{ID: onboarding.NewID("we"), PartnerID: partner,
		URL: "https://example.com/hooks", Events: []string{"*"}, Status: webhook.EndpointActive,
		Secrets:   []webhook.Secret{{Value: "whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xkb2xk", CreatedAt: base}},
		CreatedAt: base, UpdatedAt: base}}}
	require.NoError(t, s.InsertEndpoint(ctx, r.ep))
	for i := range n {
		at := base.Add(time.Duration(i) * time.Second)
		e := &onboarding.Event{ID: onboarding.NewID("evt"), PartnerID: partner, Type: onboarding.EventCustomerCreated,
			CustomerID: "cust_1", Data: json.RawMessage(`{"id":"cust_1"}`), CreatedAt: at}
		d := &onboarding.Delivery{ID: onboarding.NewID("dlv"), PartnerID: partner, EndpointID: r.ep.ID, EventID: e.ID,
			EventType: e.Type, Status: onboarding.DeliveryPending, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
		args, _ := json.Marshal(map[string]string{"delivery_id": d.ID})
		j := &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobDeliverWebhook, PartnerID: partner,
			Args: args, State: onboarding.JobAvailable, MaxAttempts: 8, RunAt: at, CreatedAt: at, UpdatedAt: at}
		require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
			if err := q.InsertEvent(ctx, e); err != nil {
				return err
			}
			if err := q.InsertDelivery(ctx, d); err != nil {
				return err
			}
			return q.InsertJob(ctx, j)
		}))
		r.events, r.deliveries, r.jobs = append(r.events, e), append(r.deliveries, d), append(r.jobs, j)
	}
	return r
}

// testClaimJobBatch: a batch claim is a claim (order, kinds, leases, limit) that also reads
// each delivery job's delivery, endpoint and event; missing rows are nil; another
// partner's delivery is never read.
func testClaimJobBatch(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := newBatchRig(t, s, "p1", 3)
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	other := newJob(c, base.Add(1500*time.Millisecond)) // a credit_analysis between the deliveries
	require.NoError(t, s.InsertJob(ctx, other))
	// A delivery job naming a delivery that does not exist, and one naming another
	// partner's delivery.
	ghost := &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobDeliverWebhook, PartnerID: "p1",
		Args: json.RawMessage(`{"delivery_id":"dlv_missing"}`), State: onboarding.JobAvailable, MaxAttempts: 8,
		RunAt: base.Add(5 * time.Second), CreatedAt: base, UpdatedAt: base}
	foreign := &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobDeliverWebhook, PartnerID: "p2",
		Args: json.RawMessage(`{"delivery_id":"` + r.deliveries[0].ID + `"}`), State: onboarding.JobAvailable, MaxAttempts: 8,
		RunAt: base.Add(6 * time.Second), CreatedAt: base, UpdatedAt: base}
	require.NoError(t, s.InsertJob(ctx, ghost))
	require.NoError(t, s.InsertJob(ctx, foreign))
	now := base.Add(time.Hour)
	got, err := s.ClaimJobBatch(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 4, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, got, 4, "the limit holds")
	wantIDs := []string{r.jobs[0].ID, r.jobs[1].ID, other.ID, r.jobs[2].ID}
	for i, cj := range got {
		assert.Equal(t, wantIDs[i], cj.Job.ID, "claim order")
		assert.Equal(t, onboarding.JobRunning, cj.Job.State)
		assert.Equal(t, "w1", cj.Job.LockedBy)
		assert.Equal(t, now.Add(time.Minute), cj.Job.LockedUntil)
		assert.Equal(t, 1, cj.Job.Attempt)
	}
	for i, k := range []int{0, 1, 3} { // the deliveries' jobs
		assert.Equal(t, r.deliveries[i], got[k].Delivery)
		assert.Equal(t, r.ep, got[k].Endpoint)
		assert.Equal(t, r.events[i], got[k].Event)
	}
	assert.Nil(t, got[2].Delivery, "another kind reads no delivery")
	assert.Nil(t, got[2].Endpoint)
	assert.Nil(t, got[2].Event)

	rest, err := s.ClaimJobBatch(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobDeliverWebhook},
		Worker: "w2", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, rest, 2)
	assert.Equal(t, ghost.ID, rest[0].Job.ID)
	assert.Nil(t, rest[0].Delivery, "a missing delivery is nil")
	assert.Equal(t, foreign.ID, rest[1].Job.ID)
	assert.Nil(t, rest[1].Delivery, "another partner's delivery is not read")
	assert.Nil(t, rest[1].Endpoint)
	assert.Nil(t, rest[1].Event)

	none, err := s.ClaimJobBatch(ctx, onboarding.ClaimParams{Worker: "w3", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none)

	// A delivery whose endpoint was deleted reads with a nil endpoint.
	gone := newBatchRig(t, s, "p1", 1)
	require.NoError(t, s.DeleteEndpoint(ctx, "p1", gone.ep.ID))
	got, err = s.ClaimJobBatch(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, gone.deliveries[0], got[0].Delivery)
	assert.Nil(t, got[0].Endpoint)
	assert.Equal(t, gone.events[0], got[0].Event)
}

// testFinishDeliveries: outcomes of a batch are written for the jobs the worker holds and
// refused, without a trace, for a job whose lease it lost; each job ends by its delivery's
// status; inside a unit of work a rollback undoes them all.
func testFinishDeliveries(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := newBatchRig(t, s, "p1", 5)
	now := base.Add(time.Hour)
	claimed, err := s.ClaimJobBatch(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 5, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 5)
	// The fifth job's lease expires and w2 takes it: w1 became a zombie for it.
	later := now.Add(2 * time.Minute)
	renewed, err := s.ExtendJobLeases(ctx, []string{claimed[0].Job.ID}, "w1", later.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, renewed, 1)
	stolen, err := s.ClaimJobBatch(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: later, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, stolen, 1)
	require.Equal(t, claimed[1].Job.ID, stolen[0].Job.ID, "the first job whose lease expired")

	outcome := func(i int, st onboarding.DeliveryStatus, code int, retryAt time.Time, withAttempt bool) *onboarding.DeliveryOutcome {
		d := *claimed[i].Delivery
		d.Status, d.UpdatedAt, d.NextAttemptAt = st, later, retryAt
		o := &onboarding.DeliveryOutcome{JobID: claimed[i].Job.ID, Delivery: &d}
		if withAttempt {
			d.Attempts, d.LastStatusCode = 1, code
			if code >= 300 {
				d.LastError = "status " + strconv.Itoa(code)
			}
			o.Attempt = &onboarding.DeliveryAttempt{ID: onboarding.NewID("dla"), PartnerID: d.PartnerID, DeliveryID: d.ID,
				Attempt: 1, StatusCode: code, Latency: 3 * time.Millisecond, Error: d.LastError, Response: "ok", CreatedAt: later}
		}
		if st == onboarding.DeliveryDelivered {
			d.DeliveredAt = later
		}
		return o
	}
	retryAt := later.Add(5 * time.Second)
	outcomes := []*onboarding.DeliveryOutcome{
		outcome(0, onboarding.DeliveryDelivered, 204, time.Time{}, true),
		outcome(1, onboarding.DeliveryDelivered, 204, time.Time{}, true), // lease lost
		outcome(2, onboarding.DeliveryPending, 503, retryAt, true),
		outcome(3, onboarding.DeliveryDead, 400, time.Time{}, true),
		outcome(4, onboarding.DeliveryCancelled, 0, time.Time{}, false),
	}

	// Inside a unit of work, a rollback undoes the whole batch.
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		written, err := q.FinishDeliveries(ctx, "w1", later, outcomes)
		require.NoError(t, err)
		assert.Equal(t, []bool{true, false, true, true, true}, written)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	for i := range 5 {
		d, err := s.GetDelivery(ctx, "p1", r.deliveries[i].ID)
		require.NoError(t, err)
		assert.Equal(t, onboarding.DeliveryPending, d.Status, "rolled back")
		log, err := s.ListDeliveryAttempts(ctx, "p1", d.ID)
		require.NoError(t, err)
		assert.Empty(t, log)
	}

	written, err := s.FinishDeliveries(ctx, "w1", later, outcomes)
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, true, true, true}, written)

	wantJob := []struct {
		state   onboarding.JobState
		lockBy  string
		lastErr string
	}{
		{onboarding.JobCompleted, "", ""},
		{onboarding.JobRunning, "w2", ""},
		{onboarding.JobAvailable, "", "status 503"},
		{onboarding.JobDead, "", "status 400"},
		{onboarding.JobCompleted, "", ""},
	}
	for i, want := range wantJob {
		j, err := s.GetJob(ctx, claimed[i].Job.ID)
		require.NoError(t, err)
		assert.Equal(t, want.state, j.State, "job %d", i)
		assert.Equal(t, want.lockBy, j.LockedBy, "job %d", i)
		assert.Equal(t, want.lastErr, j.LastError, "job %d", i)
		switch want.state {
		case onboarding.JobCompleted, onboarding.JobDead:
			assert.Equal(t, later, j.FinishedAt, "job %d", i)
			assert.Zero(t, j.LockedUntil, "job %d", i)
		case onboarding.JobAvailable:
			assert.Equal(t, retryAt, j.RunAt, "the retry is due at the delivery's next attempt")
			assert.Zero(t, j.FinishedAt)
		}
	}
	for i, o := range outcomes {
		d, err := s.GetDelivery(ctx, "p1", o.Delivery.ID)
		require.NoError(t, err)
		log, err := s.ListDeliveryAttempts(ctx, "p1", d.ID)
		require.NoError(t, err)
		if i == 1 {
			assert.Equal(t, r.deliveries[1], d, "the zombie's outcome left no trace")
			assert.Empty(t, log)
			continue
		}
		assert.Equal(t, o.Delivery, d, "delivery %d", i)
		if o.Attempt == nil {
			assert.Empty(t, log)
		} else {
			require.Len(t, log, 1)
			assert.Equal(t, o.Attempt, log[0])
		}
	}

	// The same outcomes again: every lease is gone now.
	written, err = s.FinishDeliveries(ctx, "w1", later, outcomes)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false, false, false, false}, written)
	none, err := s.FinishDeliveries(ctx, "w1", later, nil)
	require.NoError(t, err)
	assert.Empty(t, none)
}

// heldLease is the lease of the jobs heldByTwo claims.
const heldLease = 15 * time.Second

// heldByTwo inserts four jobs, due one after the other; at the returned time w1 claims the
// first three and completes the third, and w2 claims the fourth. It returns the four IDs
// in order.
func heldByTwo(t *testing.T, s onboarding.Store) (ids []string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	for i := range 4 {
		j := newJob(c, base.Add(time.Duration(i)*time.Millisecond))
		require.NoError(t, s.InsertJob(ctx, j))
		ids = append(ids, j.ID)
	}
	now = base.Add(10 * time.Millisecond) // every job is due
	got, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 3, Now: now, Lease: heldLease})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, ids[:3], []string{got[0].ID, got[1].ID, got[2].ID}, "claimed in run_at order")
	require.NoError(t, s.CompleteJob(ctx, ids[2], "w1", now))
	w2, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: now, Lease: heldLease})
	require.NoError(t, err)
	require.Len(t, w2, 1)
	return ids, now
}

// testExtendJobLeases: one heartbeat extends every job the worker holds and tells which
// it no longer holds.
func testExtendJobLeases(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	ids, now := heldByTwo(t, s)

	until := base.Add(time.Hour)
	extended, err := s.ExtendJobLeases(ctx, append(ids, "job_missing"), "w1", until)
	require.NoError(t, err)
	assert.ElementsMatch(t, ids[:2], extended)
	for i, id := range ids {
		j, err := s.GetJob(ctx, id)
		require.NoError(t, err)
		if i < 2 {
			assert.Equal(t, until, j.LockedUntil)
		} else if j.State == onboarding.JobRunning {
			assert.Equal(t, now.Add(heldLease), j.LockedUntil, "another worker's lease is untouched")
		}
	}
	empty, err := s.ExtendJobLeases(ctx, nil, "w1", until)
	require.NoError(t, err)
	assert.Empty(t, empty)
}

// testReleaseJobs: a worker gives back the jobs it holds: each is available again at its
// run_at, unleased, with the claim's attempt taken back, and claimable at once; a job it
// no longer holds (finished, or held by another worker) is left alone.
func testReleaseJobs(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	ids, _ := heldByTwo(t, s)

	later := base.Add(time.Second)
	released, err := s.ReleaseJobs(ctx, append(ids, "job_missing"), "w1", later)
	require.NoError(t, err)
	assert.ElementsMatch(t, ids[:2], released)
	for i, id := range ids {
		j, err := s.GetJob(ctx, id)
		require.NoError(t, err)
		switch i {
		case 0, 1:
			assert.Equal(t, onboarding.JobAvailable, j.State)
			assert.Empty(t, j.LockedBy)
			assert.True(t, j.LockedUntil.IsZero())
			assert.Zero(t, j.Attempt, "the claim's attempt is taken back")
			assert.Equal(t, base.Add(time.Duration(i)*time.Millisecond), j.RunAt, "its place in the queue is kept")
		case 2:
			assert.Equal(t, onboarding.JobCompleted, j.State)
		case 3:
			assert.Equal(t, onboarding.JobRunning, j.State)
			assert.Equal(t, "w2", j.LockedBy, "another worker's job is untouched")
		}
	}
	again, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w3", Limit: 5, Now: later, Lease: heldLease})
	require.NoError(t, err)
	require.Len(t, again, 2, "released jobs are claimable at once")
	assert.Equal(t, 1, again[0].Attempt)
	empty, err := s.ReleaseJobs(ctx, nil, "w1", later)
	require.NoError(t, err)
	assert.Empty(t, empty)
}

// testNextJobAt: the earliest run_at of the available jobs of the kinds asked; running,
// dead and completed jobs do not count, a retry counts by its new run_at.
func testNextJobAt(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	next := func(kinds ...onboarding.JobKind) time.Time {
		t.Helper()
		at, err := s.NextJobAt(ctx, kinds)
		require.NoError(t, err)
		return at
	}
	assert.True(t, next().IsZero(), "no job")

	a := newJob(c, base.Add(time.Hour)) // credit_analysis
	require.NoError(t, s.InsertJob(ctx, a))
	b := newJob(c, base.Add(30*time.Minute))
	b.Kind = onboarding.JobPublishEvent
	require.NoError(t, s.InsertJob(ctx, b))
	assert.Equal(t, base.Add(30*time.Minute), next())
	assert.Equal(t, base.Add(time.Hour), next(onboarding.JobCreditAnalysis))
	assert.Equal(t, base.Add(30*time.Minute), next(onboarding.JobPublishEvent, onboarding.JobCreditAnalysis))
	assert.True(t, next(onboarding.JobExpireOffer).IsZero())

	// A running job does not count; a dead one neither.
	_, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobPublishEvent}, Worker: "w",
		Limit: 1, Now: base.Add(40 * time.Minute), Lease: time.Minute})
	require.NoError(t, err)
	assert.Equal(t, base.Add(time.Hour), next())
	require.NoError(t, s.FailJob(ctx, b.ID, "w", base.Add(40*time.Minute), onboarding.JobFailure{Error: "x", Dead: true}))
	assert.Equal(t, base.Add(time.Hour), next())

	// A retry counts by its new run_at.
	_, err = s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w", Limit: 1, Now: base.Add(2 * time.Hour), Lease: time.Minute})
	require.NoError(t, err)
	assert.True(t, next().IsZero(), "every job is running or dead")
	retry := base.Add(2*time.Hour + 50*time.Millisecond)
	require.NoError(t, s.FailJob(ctx, a.ID, "w", base.Add(2*time.Hour), onboarding.JobFailure{Error: "x", RetryAt: retry}))
	assert.Equal(t, retry, next())
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		at, err := q.NextJobAt(ctx, nil)
		assert.Equal(t, retry, at, "inside a unit of work too")
		return err
	}))
}

// testConcurrentBatchClaims: batch claimers racing on the same jobs never get the same one.
func testConcurrentBatchClaims(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	const n, claimers = 60, 6
	r := newBatchRig(t, s, "p1", n)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range claimers {
		wg.Go(func() {
			for {
				got, err := s.ClaimJobBatch(ctx, onboarding.ClaimParams{Worker: "w" + string(rune('a'+w)), Limit: 7,
					Now: base.Add(time.Hour), Lease: time.Hour})
				if !assert.NoError(t, err) || len(got) == 0 {
					return
				}
				mu.Lock()
				for _, cj := range got {
					seen[cj.Job.ID]++
					assert.NotNil(t, cj.Delivery)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, n)
	for _, j := range r.jobs {
		assert.Equal(t, 1, seen[j.ID], "job %s claimed once", j.ID)
	}
}
