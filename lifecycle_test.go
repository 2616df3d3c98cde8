package onboarding_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
)

func TestGuideFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := params(t)
	c, created, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	require.True(t, created)
	assert.Equal(t, onboarding.StatusPendingKYC, c.Status)
	assert.True(t, strings.HasPrefix(c.ID, "cust_") && len(c.ID) == 37, c.ID)
	require.Len(t, c.KYC, 2)
	assert.Equal(t, onboarding.RequirementCompanyDocument, c.KYC[0].Type)
	assert.Equal(t, onboarding.DocCCMEI, c.KYC[0].DocumentType)
	assert.Equal(t, onboarding.RequirementSelfie, c.KYC[1].Type)
	assert.Equal(t, onboarding.SubjectApplicant, c.KYC[1].Subject.SubjectType)
	for _, r := range c.KYC {
		assert.True(t, r.Mandatory)
		assert.Equal(t, onboarding.RequirementPending, r.Status)
	}

	again, created, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, c.ID, again.ID)

	other := p
	other.ExternalID = "somebody-else"
	_, _, err = b.svc.CreateCustomer(ctx, "p1", other)
	var ce *onboarding.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "cnpj", ce.Field)

	b.clock.Add(time.Minute)
	ccmei := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("ccmei"))
	assert.Equal(t, onboarding.DocumentSubmitted, ccmei.Status)
	assert.Equal(t, onboarding.FormatPDF, ccmei.ContentType)
	assert.Equal(t, onboarding.StatusPendingKYC, status(t, b, c.ID))
	selfie := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG("selfie"))
	assert.Equal(t, onboarding.StatusUnderReview, status(t, b, c.ID))

	review(t, b, ccmei, onboarding.ReviewApprove, "")
	assert.Equal(t, onboarding.StatusUnderReview, status(t, b, c.ID))
	review(t, b, selfie, onboarding.ReviewApprove, "")
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusActive, got.Status)
	for _, r := range got.KYC {
		assert.Equal(t, onboarding.RequirementApproved, r.Status)
		assert.Equal(t, onboarding.ReviewAccepted, r.Submitted.ReviewStatus)
	}

	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	require.Len(t, hist, 5)
	assert.Equal(t, onboarding.EventRegister, hist[0].Event)
	assert.Equal(t, onboarding.EventSubmit, hist[1].Event)
	assert.Equal(t, onboarding.StatusPendingKYC, hist[1].From)
	assert.Equal(t, "partner", hist[1].Actor)
	assert.Equal(t, onboarding.EventItemDecision, hist[2].Event, "each item decision is recorded")
	assert.Equal(t, onboarding.EventItemDecision, hist[3].Event)
	assert.Equal(t, onboarding.EventApprove, hist[4].Event)
	assert.Equal(t, "reviewer:ana", hist[4].Actor)

	assert.Equal(t, []onboarding.EventType{
		onboarding.EventCustomerCreated,
		onboarding.EventCustomerKYCUpdated, // ccmei uploaded
		onboarding.EventCustomerKYCUpdated, // selfie uploaded
		onboarding.EventCustomerUnderReview,
		onboarding.EventCustomerKYCUpdated, // ccmei approved
		onboarding.EventCustomerKYCUpdated, // selfie approved
		onboarding.EventCustomerActive,
	}, eventTypes(t, b, c.ID))

	// Registration enqueued the analysis; with no endpoint and no broker there is nothing
	// to deliver.
	jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID})
	require.NoError(t, err)
	kinds := map[onboarding.JobKind]int{}
	for _, j := range jobs {
		kinds[j.Kind]++
	}
	assert.Equal(t, map[onboarding.JobKind]int{onboarding.JobCreditAnalysis: 1}, kinds)
}

func TestRejectionAndReupload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	ccmei := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("a"))
	selfie := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.JPEG("a"))
	review(t, b, ccmei, onboarding.ReviewApprove, "")
	_, err = b.svc.ReviewDocument(ctx, "p1", selfie.ID, onboarding.ReviewParams{Decision: onboarding.ReviewReject})
	require.ErrorIs(t, err, onboarding.ErrInvalidInput, "a rejection needs a reason")
	review(t, b, selfie, onboarding.ReviewReject, "face not visible")

	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusPendingKYC, got.Status)
	r := got.Requirement("req_selfie_applicant")
	assert.Equal(t, onboarding.RequirementRejected, r.Status)
	require.NotNil(t, r.Message)
	assert.Equal(t, "face not visible", *r.Message)
	assert.Equal(t, onboarding.ReviewRejected, r.Submitted.ReviewStatus)
	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	last := hist[len(hist)-1]
	assert.Equal(t, onboarding.EventRequestChanges, last.Event)
	assert.Contains(t, last.Reason, "face not visible")

	// The rejected document cannot be reviewed again; the approved item cannot be re-sent.
	_, err = b.svc.ReviewDocument(ctx, "p1", selfie.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI, Body: bytes.NewReader(testfiles.PDF("b"))})
	assert.ErrorIs(t, err, onboarding.ErrDocumentNotRequired)

	selfie2 := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.JPEG("b"))
	assert.Equal(t, onboarding.StatusUnderReview, status(t, b, c.ID))
	got, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Requirement("req_selfie_applicant").Message, "a new upload clears the message")
	review(t, b, selfie2, onboarding.ReviewApprove, "")
	assert.Equal(t, onboarding.StatusActive, status(t, b, c.ID))
}

func TestDeny(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.DenyCustomer(ctx, "p1", c.ID, " ", "")
	require.ErrorIs(t, err, onboarding.ErrInvalidInput)
	denied, err := b.svc.DenyCustomer(ctx, "p1", c.ID, "fraud", "analyst:bob")
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusDenied, denied.Status)
	again, err := b.svc.DenyCustomer(ctx, "p1", c.ID, "fraud", "")
	require.NoError(t, err, "denying twice is a no-op")
	assert.Equal(t, denied.Version, again.Version)

	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI, Body: bytes.NewReader(testfiles.PDF("x"))})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	name := "New"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Name: &name})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	assert.Empty(t, b.blobs.Keys())

	// An active customer cannot be denied through the KYC lifecycle.
	c2, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	review(t, b, upload(t, b, "p1", c2.ID, onboarding.DocCCMEI, testfiles.PDF("c2")), onboarding.ReviewApprove, "")
	review(t, b, upload(t, b, "p1", c2.ID, onboarding.DocSelfie, testfiles.PNG("c2")), onboarding.ReviewApprove, "")
	_, err = b.svc.DenyCustomer(ctx, "p1", c2.ID, "late fraud", "")
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
}

func TestLifecycleTransitions(t *testing.T) {
	t.Parallel()
	all := []onboarding.Status{onboarding.StatusPendingKYC, onboarding.StatusUnderReview, onboarding.StatusActive, onboarding.StatusDenied}
	events := []onboarding.LifecycleEvent{onboarding.EventSubmit, onboarding.EventApprove, onboarding.EventRequestChanges, onboarding.EventDeny}
	allowed := map[[2]string]onboarding.Status{
		{"pending_kyc", "submit"}:           onboarding.StatusUnderReview,
		{"under_review", "approve"}:         onboarding.StatusActive,
		{"under_review", "request_changes"}: onboarding.StatusPendingKYC,
		{"pending_kyc", "deny"}:             onboarding.StatusDenied,
		{"under_review", "deny"}:            onboarding.StatusDenied,
	}
	for _, from := range all {
		for _, ev := range events {
			to, err := onboarding.NextStatus(context.Background(), from, ev)
			if want, ok := allowed[[2]string{string(from), string(ev)}]; ok {
				require.NoError(t, err, "%s --%s-->", from, ev)
				assert.Equal(t, want, to)
			} else {
				assert.ErrorIs(t, err, onboarding.ErrInvalidTransition, "%s --%s-->", from, ev)
			}
		}
	}
}

func TestActiveCustomerKeepsItsIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("a")), onboarding.ReviewApprove, "")
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG("a")), onboarding.ReviewApprove, "")
	name := "Someone Else"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Name: &name})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	phone := "+5521912345678"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Phone: &phone})
	require.NoError(t, err, "contact data may change")
}
