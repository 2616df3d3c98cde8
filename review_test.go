package onboarding_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
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
)

func TestAutomatedReview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Reviewer: sandbox.Reviewer{}, Biometrics: sandbox.Biometrics{}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("a"))
	uploadNamed(t, b, c.ID, onboarding.DocSelfie, "me.jpg", testfiles.JPEG("a"))
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusActive, status(t, b, c.ID))
	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.EventApprove, hist[len(hist)-1].Event)
	assert.Equal(t, "reviewer:sandbox", hist[len(hist)-1].Actor)
	for _, kind := range []onboarding.JobKind{onboarding.JobReviewDocument, onboarding.JobCheckSelfie} {
		jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{Kind: kind, State: onboarding.JobCompleted})
		require.NoError(t, err)
		assert.Len(t, jobs, 1, "the Reviewer judged the CCMEI, Biometrics the selfie")
	}
}

func TestReviewJobsWaitForAServiceWithThePlugin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Reviewer: sandbox.Reviewer{}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("a"))
	plain := onboardingtest.NewService(t, b.store, &onboarding.Options{NowFunc: b.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	_, err = plain.Work(ctx) // a replica without a Reviewer leaves the review alone
	require.NoError(t, err)
	jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobReviewDocument})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, onboarding.JobAvailable, jobs[0].State)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.RequirementApproved, got.Requirement("req_ccmei").Status)
}

func TestAutomatedReviewRejectsAndDenies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Reviewer: sandbox.Reviewer{}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei-sandbox-reject.pdf", testfiles.PDF("a"))
	uploadNamed(t, b, c.ID, onboarding.DocSelfie, "me.jpg", testfiles.JPEG("a"))
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusPendingKYC, got.Status)
	r := got.Requirement("req_ccmei")
	assert.Equal(t, onboarding.RequirementRejected, r.Status)
	assert.Equal(t, "sandbox: the document is not legible", *r.Message)

	uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei-sandbox-deny.pdf", testfiles.PDF("b"))
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusDenied, status(t, b, c.ID))
}

type flakyReviewer struct{ calls atomic.Int32 }

func (f *flakyReviewer) Review(context.Context, onboarding.ReviewInput) (onboarding.Verdict, error) {
	if f.calls.Add(1) == 1 {
		return onboarding.Verdict{}, errors.New("provider timeout")
	}
	return onboarding.Verdict{Decision: onboarding.VerdictManual}, nil
}

func TestAutomatedReviewManualAndHumanFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rev := &flakyReviewer{}
	b := setup(t, &onboarding.Options{Reviewer: rev})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	d := uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("a"))
	_, err = b.svc.Work(ctx) // the provider times out: retried later
	require.NoError(t, err)
	b.clock.Add(time.Hour)
	_, err = b.svc.Work(ctx) // manual: left to the back office
	require.NoError(t, err)
	assert.EqualValues(t, 2, rev.calls.Load())
	got, err := b.svc.GetDocument(ctx, "p1", d.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.DocumentSubmitted, got.Status)

	// A human reviews before the provider answers: the job finds nothing to do.
	d2 := uploadNamed(t, b, c.ID, onboarding.DocSelfie, "me.png", testfiles.PNG("a"))
	review(t, b, d2, onboarding.ReviewApprove, "")
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.EqualValues(t, 2, rev.calls.Load())
	dead, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{State: onboarding.JobDead})
	require.NoError(t, err)
	assert.Empty(t, dead)
}

// partsReviewer records the parts it was shown and approves.
type partsReviewer struct {
	mu    sync.Mutex
	parts []string
}

func (p *partsReviewer) Review(ctx context.Context, in onboarding.ReviewInput) (onboarding.Verdict, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range in.Parts {
		rc, err := in.OpenPart(ctx, d.ID)
		if err != nil {
			return onboarding.Verdict{}, err
		}
		rc.Close()
		p.parts = append(p.parts, d.Filename)
	}
	return onboarding.Verdict{Decision: onboarding.VerdictApprove, Provider: "parts"}, nil
}

func TestTwoPartIdentityIsReviewedWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rev := &partsReviewer{}
	b := setup(t, &onboarding.Options{Reviewer: rev})
	p := params(t)
	p.LegalNature = "ltda"
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	var ids []string
	for _, part := range []string{"front", "back"} {
		d, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_identity_applicant",
			Type: onboarding.DocCNH, EvidenceType: "cnh", AttachmentType: part, Filename: part + ".jpg",
			Body: bytes.NewReader(testfiles.JPEG(part))})
		require.NoError(t, err)
		ids = append(ids, d.ID)
	}
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	rev.mu.Lock()
	assert.Contains(t, rev.parts, "front.jpg", "the reviewer saw the front too")
	assert.Contains(t, rev.parts, "back.jpg")
	rev.mu.Unlock()
	for _, id := range ids {
		d, err := b.svc.GetDocument(ctx, "p1", id)
		require.NoError(t, err)
		assert.Equal(t, onboarding.DocumentApproved, d.Status, d.Filename)
	}
}
