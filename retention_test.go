package onboarding_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
)

const day = 24 * time.Hour

// pruneNow runs one prune job now, as the hourly schedule would.
func pruneNow(t *testing.T, b *bundle) {
	t.Helper()
	ctx := context.Background()
	now := b.clock.Now()
	require.NoError(t, b.store.InsertJob(ctx, &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobPrune,
		Args: json.RawMessage(`{}`), State: onboarding.JobAvailable, MaxAttempts: 3, RunAt: now, CreatedAt: now, UpdatedAt: now}))
	_, err := b.svc.Work(ctx)
	require.NoError(t, err)
	failed, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobPrune, State: onboarding.JobAvailable})
	require.NoError(t, err)
	require.Empty(t, failed, "the prune failed: %v", failed)
}

// deliveryLog returns how many deliveries and attempts the events of a customer have.
func deliveryLog(t *testing.T, b *bundle, custID string) (events, deliveries, attempts int) {
	t.Helper()
	ctx := context.Background()
	evs, err := b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: custID, Limit: 100})
	require.NoError(t, err)
	for _, e := range evs {
		ds, err := b.svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{EventID: e.ID})
		require.NoError(t, err)
		deliveries += len(ds)
		for _, d := range ds {
			as, err := b.svc.ListDeliveryAttempts(ctx, "p1", d.ID)
			require.NoError(t, err)
			attempts += len(as)
		}
	}
	return len(evs), deliveries, attempts
}

// TestRetentionPeriods: with a fake clock, each period of the default policy deletes what
// it should, at its end and not a second before.
func TestRetentionPeriods(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{WebhookSender: acceptAll{}})
	_, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://partner.example/hooks"})
	require.NoError(t, err)
	start := b.clock.Now()

	// An active customer whose company document was sent twice: the first upload is
	// superseded, the item approved on the second.
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	old := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("v1"))
	b.clock.Add(time.Minute)
	current := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("v2"))
	review(t, b, current, onboarding.ReviewApprove, "")
	approvedAt := b.clock.Now()
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG("me")), onboarding.ReviewApprove, "")
	// An abandoned registration, and one touched later.
	abandoned, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	touched, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx) // every delivery delivered
	require.NoError(t, err)
	events, deliveries, attempts := deliveryLog(t, b, c.ID)
	require.Positive(t, events)
	require.Equal(t, events, deliveries)
	require.Equal(t, deliveries, attempts)
	historyLen := func(id string) int {
		h, err := b.svc.History(ctx, "p1", id)
		require.NoError(t, err)
		return len(h)
	}
	history := historyLen(c.ID)

	at := func(d time.Duration) { b.clock.Set(start.Add(d)) }
	// Deliveries: 30 days.
	at(30*day - time.Second)
	pruneNow(t, b)
	e, d, a := deliveryLog(t, b, c.ID)
	assert.Equal(t, []int{events, deliveries, attempts}, []int{e, d, a}, "nothing is 30 days old yet")
	at(30*day + time.Hour)
	pruneNow(t, b)
	e, d, a = deliveryLog(t, b, c.ID)
	assert.Equal(t, []int{events, 0, 0}, []int{e, d, a}, "delivered deliveries and their attempts are gone")

	// Touch one registration at day 100: it is 180 days untouched only at day 280.
	at(100 * day)
	name := "Maria Touched"
	_, err = b.svc.UpdateCustomer(ctx, "p1", touched.ID, onboarding.UpdateCustomerParams{Name: &name})
	require.NoError(t, err)

	// Events: 90 days; the history stays.
	at(90*day - time.Second)
	pruneNow(t, b)
	e, _, _ = deliveryLog(t, b, c.ID)
	assert.Equal(t, events, e)
	at(90*day + time.Hour)
	pruneNow(t, b)
	e, _, _ = deliveryLog(t, b, c.ID)
	assert.Zero(t, e)
	assert.Equal(t, history, historyLen(c.ID))

	// Abandoned registrations: pending_kyc untouched for 180 days.
	at(180*day - time.Second)
	pruneNow(t, b)
	_, err = b.svc.GetCustomer(ctx, "p1", abandoned.ID)
	require.NoError(t, err)
	at(180*day + time.Hour)
	pruneNow(t, b)
	_, err = b.svc.GetCustomer(ctx, "p1", abandoned.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound, "abandoned: erased")
	h, err := b.svc.History(ctx, "p1", abandoned.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.ActorRetention, h[len(h)-1].Actor)
	assert.Contains(t, h[len(h)-1].Reason, "abandoned registration")
	_, err = b.svc.GetCustomer(ctx, "p1", touched.ID)
	assert.NoError(t, err, "touched at day 100")
	_, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	assert.NoError(t, err, "active customers are never abandoned")
	at(280*day + time.Hour)
	pruneNow(t, b)
	_, err = b.svc.GetCustomer(ctx, "p1", touched.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobEraseDocuments, CustomerID: touched.ID})
	require.NoError(t, err)
	require.Len(t, jobs, 1, "the erasure enqueued its blobs' job")
	assert.Equal(t, onboarding.JobCompleted, jobs[0].State)

	// Superseded uploads: five years after the item's approval.
	hold := approvedAt.AddDate(5, 0, 0)
	b.clock.Set(hold.Add(-time.Second))
	pruneNow(t, b)
	_, err = b.svc.GetDocument(ctx, "p1", old.ID)
	require.NoError(t, err)
	_, err = b.blobs.Open(ctx, old.Key)
	require.NoError(t, err)
	b.clock.Set(hold.Add(time.Second))
	pruneNow(t, b)
	_, err = b.svc.GetDocument(ctx, "p1", old.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = b.blobs.Open(ctx, old.Key)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = b.svc.GetDocument(ctx, "p1", current.ID)
	assert.NoError(t, err, "the evidence standing for the item stays")
	_, err = b.blobs.Open(ctx, current.Key)
	assert.NoError(t, err)
}

// TestRetentionBoundedRuns: a run deletes at most MaxPerRun rows of a kind; the next goes on.
func TestRetentionBoundedRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Retention: onboarding.RetentionPolicy{MaxPerRun: 3, Abandoned: -1, Deliveries: -1}})
	for range 7 {
		_, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
		require.NoError(t, err)
	}
	count := func() int {
		evs, err := b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 100})
		require.NoError(t, err)
		return len(evs)
	}
	require.Equal(t, 7, count())
	b.clock.Add(91 * day)
	pruneNow(t, b)
	assert.Equal(t, 4, count())
	pruneNow(t, b)
	assert.Equal(t, 1, count())
	pruneNow(t, b)
	assert.Zero(t, count())
	page, err := b.svc.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{})
	require.NoError(t, err)
	assert.Len(t, page.Data, 7, "Abandoned < 0 turns the erasure of abandoned registrations off")
}

func TestRetentionOptionsValidate(t *testing.T) {
	t.Parallel()
	for _, p := range []onboarding.RetentionPolicy{{KYCHold: -1}, {MaxPerRun: -1}} {
		o := &onboarding.Options{Blobs: setup(t, nil).blobs, Retention: p}
		assert.ErrorIs(t, o.Validate(), onboarding.ErrInvalidOptions)
	}
}
