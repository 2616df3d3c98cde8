package onboarding_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/webhook"
)

// acceptAll is a webhook.Sender whose receiver answers 200, echoing the payload the way
// some receivers do (so the delivery log holds personal data).
type acceptAll struct{}

func (acceptAll) Send(_ context.Context, d webhook.Delivery) webhook.Result {
	return webhook.Result{Delivered: true, StatusCode: 200, Response: string(d.Payload)}
}

// removed returns the receipt as a map what → count.
func removed(er *onboarding.Erasure) map[string]int {
	out := map[string]int{}
	for _, r := range er.Removed {
		out[r.What] = r.Count
	}
	return out
}

func TestEraseCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}, WebhookSender: acceptAll{}, AllowPrivateWebhooks: true})
	_, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://partner.example/hooks"})
	require.NoError(t, err)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	control, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	first := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("v1"))
	second := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("v2")) // supersedes the first
	review(t, b, second, onboarding.ReviewReject, "the name João da Silva does not match")
	upload(t, b, "p1", control.ID, onboarding.DocCCMEI, testfiles.PDF("control"))
	_, err = b.svc.Work(ctx) // analyses, offers, deliveries
	require.NoError(t, err)
	require.Len(t, offers(t, b, c.ID), 1)
	blobsBefore := len(b.blobs.Keys())
	require.Equal(t, 3, blobsBefore)

	er, err := b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Actor: "dpo:ana", Reason: "data subject request #42"})
	require.NoError(t, err)
	assert.Equal(t, c.ID, er.CustomerID)
	assert.False(t, er.Override)
	assert.True(t, er.BlobsDeleted)
	assert.ElementsMatch(t, []string{first.ID, second.ID}, er.Documents)
	got := removed(er)
	assert.Equal(t, 1, got["customer"])
	assert.Equal(t, 2, got["documents"])
	assert.Equal(t, 2, got["document_blobs"])
	assert.Equal(t, 1, got["credit_offers"])
	assert.Positive(t, got["events"])
	assert.Equal(t, got["events"], got["webhook_deliveries"], "one endpoint, one delivery per event")
	assert.Positive(t, got["webhook_delivery_attempts"])
	assert.Positive(t, got["history_reasons"])

	_, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = b.svc.ListDocuments(ctx, "p1", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = b.svc.GetDocument(ctx, "p1", first.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = b.svc.ExportCustomer(ctx, "p1", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	for _, d := range []*onboarding.Document{first, second} {
		_, err := b.blobs.Open(ctx, d.Key)
		assert.ErrorIs(t, err, onboarding.ErrNotFound, "the bytes are gone, superseded ones too")
	}
	assert.Len(t, b.blobs.Keys(), 1, "the control's document stays")

	// The audit skeleton: every row kept, no free text but the erasure's own.
	h, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(h), 3)
	for _, tr := range h[:len(h)-1] {
		assert.Empty(t, tr.Reason, "%s", tr.Event)
		assert.NotEmpty(t, tr.Actor)
	}
	last := h[len(h)-1]
	assert.Equal(t, onboarding.EventErase, last.Event)
	assert.Equal(t, "dpo:ana", last.Actor)
	assert.Equal(t, "data subject request #42", last.Reason)
	assert.Equal(t, onboarding.StatusPendingKYC, last.To)

	evs, err := b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: c.ID, Limit: 100})
	require.NoError(t, err)
	require.NotEmpty(t, evs)
	for _, e := range evs {
		assert.JSONEq(t, `{"erased":true}`, string(e.Data))
	}
	for _, e := range evs {
		ds, err := b.svc.ListDeliveries(ctx, "p1", onboarding.ListDeliveriesParams{EventID: e.ID})
		require.NoError(t, err)
		for _, d := range ds {
			as, err := b.svc.ListDeliveryAttempts(ctx, "p1", d.ID)
			require.NoError(t, err)
			for _, a := range as {
				assert.Empty(t, a.Response)
			}
		}
	}
	jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, jobs, 1, "the customer's jobs are gone, but for the blobs' job")
	assert.Equal(t, onboarding.JobEraseDocuments, jobs[0].Kind)
	assert.Equal(t, er.BlobJobID, jobs[0].ID)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	j, err := b.store.GetJob(ctx, er.BlobJobID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobCompleted, j.State)

	// The control customer is untouched.
	cc, err := b.svc.GetCustomer(ctx, "p1", control.ID)
	require.NoError(t, err)
	assert.Equal(t, control.Name, cc.Name)
	cevs, err := b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: control.ID, Limit: 100})
	require.NoError(t, err)
	assert.Contains(t, string(cevs[0].Data), control.Email)

	// Erased once: a second call finds nothing, History still answers, and the same
	// person may register again.
	_, err = b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "again"})
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = b.svc.History(ctx, "p1", "cust_unknown")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = b.svc.History(ctx, "p2", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound, "another partner's erased customer")
}

func TestEraseCustomerInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "  "})
	var ve *onboarding.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "reason", ve.Fields[0].Param)
	_, err = b.svc.EraseCustomer(ctx, "p2", c.ID, onboarding.EraseParams{Reason: "request"})
	assert.ErrorIs(t, err, onboarding.ErrNotFound, "another partner's customer")
	_, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	assert.NoError(t, err, "nothing erased")
	er, err := b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "request"})
	require.NoError(t, err)
	assert.Equal(t, "back_office", er.Actor)
}

// activate registers a customer and approves its KYC.
func activate(t *testing.T, b *bundle) *onboarding.Customer {
	t.Helper()
	ctx := context.Background()
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF(c.ID)), onboarding.ReviewApprove, "")
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG(c.ID)), onboarding.ReviewApprove, "")
	require.Equal(t, onboarding.StatusActive, status(t, b, c.ID))
	c, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	return c
}

func TestEraseRetentionHold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c := activate(t, b)
	lastActivity := b.clock.Now()
	b.clock.Add(365 * 24 * time.Hour)

	_, err := b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "data subject request"})
	require.ErrorIs(t, err, onboarding.ErrRetentionHold)
	var hold *onboarding.RetentionHoldError
	require.ErrorAs(t, err, &hold)
	assert.True(t, hold.Until.Equal(lastActivity.AddDate(5, 0, 0)), "five years after the last activity: %s", hold.Until)
	assert.Contains(t, err.Error(), lastActivity.AddDate(5, 0, 0).Format(time.DateOnly))
	_, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err, "nothing erased")

	er, err := b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Actor: "dpo:ana",
		Reason: "court order 123", Override: true})
	require.NoError(t, err)
	assert.True(t, er.Override)
	assert.True(t, er.HeldUntil.Equal(hold.Until))
	h, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	last := h[len(h)-1]
	assert.Equal(t, onboarding.EventErase, last.Event)
	assert.Equal(t, onboarding.StatusActive, last.From)
	assert.Equal(t, "dpo:ana", last.Actor)
	assert.Contains(t, last.Reason, "override of the retention hold until "+hold.Until.Format(time.DateOnly))
	assert.Contains(t, last.Reason, "court order 123")

	// Once the hold has run out, no override is needed.
	c2 := activate(t, b)
	b.clock.Add(5*366*24*time.Hour + time.Hour)
	er, err = b.svc.EraseCustomer(ctx, "p1", c2.ID, onboarding.EraseParams{Reason: "end of retention"})
	require.NoError(t, err)
	assert.False(t, er.Override)
}

func TestEraseCustomHold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b := setup(t, &onboarding.Options{Retention: onboarding.RetentionPolicy{
		Hold: func(_ context.Context, c *onboarding.Customer, a onboarding.CustomerActivity) time.Time {
			assert.False(t, a.EverActive)
			return until
		}}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "request"})
	var hold *onboarding.RetentionHoldError
	require.ErrorAs(t, err, &hold)
	assert.True(t, hold.Until.Equal(until))
}

// failingDeletes is a BlobStore whose Delete fails, as a bucket that is down would.
type failingDeletes struct {
	*sandbox.MemoryBlobStore
}

func (failingDeletes) Delete(context.Context, string) error { return errors.New("bucket unavailable") }

// TestEraseFinishesAfterACrash: the rows are erased, the blobs cannot be deleted (the
// bucket is down, or the process dies right after the commit); a Service started later
// deletes them from the job the erasure committed.
func TestEraseFinishesAfterACrash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	d := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("x"))

	down := onboardingtest.NewService(t, b.store, &onboarding.Options{Blobs: failingDeletes{b.blobs}, NowFunc: b.clock.Now,
		Logger: slog.New(slog.DiscardHandler)})
	er, err := down.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "request"})
	require.NoError(t, err, "the rows are erased all the same")
	assert.False(t, er.BlobsDeleted)
	_, err = b.blobs.Open(ctx, d.Key)
	require.NoError(t, err, "the bytes are still there")
	_, err = down.Work(ctx)
	require.NoError(t, err)
	j, err := b.store.GetJob(ctx, er.BlobJobID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobAvailable, j.State, "retried later")
	assert.NotEmpty(t, j.LastError)

	b.clock.Add(time.Hour) // past the retry
	n, err := b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Positive(t, n)
	_, err = b.blobs.Open(ctx, d.Key)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	j, err = b.store.GetJob(ctx, er.BlobJobID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobCompleted, j.State)
}

// TestEraseRacesTheCustomer: uploads, updates and erasures of the same customer at once.
// Exactly one erasure wins; nothing of the customer is left behind, whatever the order.
func TestEraseRacesTheCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for round := range 5 {
		b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}})
		c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
		require.NoError(t, err)
		var wg sync.WaitGroup
		var mu sync.Mutex
		erased := 0
		for i := range 24 {
			wg.Go(func() {
				switch i % 4 {
				case 0:
					_, err := b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "request"})
					if err == nil {
						mu.Lock()
						erased++
						mu.Unlock()
					} else {
						assert.ErrorIs(t, err, onboarding.ErrNotFound)
					}
				case 1:
					_, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI,
						Filename: "f.pdf", Body: bytes.NewReader(testfiles.PDF(strings.Repeat("x", i)))})
					if err != nil && !errors.Is(err, onboarding.ErrNotFound) && !errors.Is(err, onboarding.ErrInvalidInput) {
						t.Errorf("upload: %v", err)
					}
				case 2:
					name := "Maria " + strings.Repeat("a", i)
					_, err := b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Name: &name})
					if err != nil && !errors.Is(err, onboarding.ErrNotFound) {
						t.Errorf("update: %v", err)
					}
				default:
					_, _ = b.svc.Work(ctx)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, erased, "round %d", round)
		_, err = b.svc.Work(ctx)
		require.NoError(t, err)
		docs, err := b.store.ListDocuments(ctx, "p1", c.ID)
		require.NoError(t, err)
		assert.Empty(t, docs)
		assert.Empty(t, b.blobs.Keys(), "no blob of the customer left")
		left, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID})
		require.NoError(t, err)
		for _, j := range left {
			assert.Equal(t, onboarding.JobEraseDocuments, j.Kind)
		}
	}
}
