package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/taxid"
)

// The Service-level tests run the guide's flow and its races on the store under test, so
// that every backend settles concurrency the same way.

func registration(t *testing.T) onboarding.CreateCustomerParams {
	r := rng(t)
	return onboarding.CreateCustomerParams{
		ExternalID: "partner-customer-" + onboarding.NewID("x")[2:], CPF: taxid.GenerateCPF(r).String(),
		CNPJ: taxid.GenerateCNPJ(r, false).String(), Name: "Maria da Silva", Email: "maria@example.com",
		Phone: "+55 11 98765-4321", TradingName: "Padaria da Maria",
	}
}

func testServiceFlow(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	svc := onboardingtest.NewService(t, s, nil)
	p := registration(t)
	c, created, err := svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	require.True(t, created)
	assert.Equal(t, onboarding.StatusPendingKYC, c.Status)
	require.Len(t, c.KYC, 2)
	assert.Equal(t, onboarding.DocCCMEI, c.KYC[0].DocumentType)
	assert.Equal(t, onboarding.DocSelfie, c.KYC[1].DocumentType)

	again, created, err := svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, c.ID, again.ID)

	conflicting := p
	conflicting.ExternalID = "another-id"
	_, _, err = svc.CreateCustomer(ctx, "p1", conflicting)
	require.ErrorIs(t, err, onboarding.ErrConflict)

	ccmei, err := svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI,
		Filename: "ccmei.pdf", Body: bytes.NewReader(testfiles.PDF("ccmei"))})
	require.NoError(t, err)
	selfie, err := svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie,
		Filename: "selfie.jpg", Body: bytes.NewReader(testfiles.JPEG("selfie"))})
	require.NoError(t, err)
	c, err = svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusUnderReview, c.Status)

	_, err = svc.ReviewDocument(ctx, "p1", ccmei.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
	require.NoError(t, err)
	_, err = svc.ReviewDocument(ctx, "p1", selfie.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
	require.NoError(t, err)
	c, err = svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusActive, c.Status)

	hist, err := svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	var path []string
	decisions := 0
	for _, h := range hist {
		if h.Event == onboarding.EventItemDecision {
			decisions++ // recorded, status unchanged
			continue
		}
		path = append(path, string(h.To))
	}
	assert.Equal(t, []string{"pending_kyc", "under_review", "active"}, path)
	assert.Equal(t, 2, decisions, "one history row per item decision")

	events, err := svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: c.ID, Limit: 100})
	require.NoError(t, err)
	types := map[onboarding.EventType]int{}
	for _, e := range events {
		types[e.Type]++
	}
	assert.Equal(t, 1, types[onboarding.EventCustomerCreated])
	assert.Equal(t, 1, types[onboarding.EventCustomerUnderReview])
	assert.Equal(t, 1, types[onboarding.EventCustomerActive])
	assert.Equal(t, 4, types[onboarding.EventCustomerKYCUpdated], "two uploads and two reviews")

	_, err = svc.GetCustomer(ctx, "p2", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func testServiceRegistrationRace(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	svc := onboardingtest.NewService(t, s, nil)
	p := registration(t)
	const n = 100
	ids := make([]string, n)
	createdCount := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, created, err := svc.CreateCustomer(ctx, "p1", p)
			if !assert.NoError(t, err) {
				return
			}
			ids[i] = c.ID
			if created {
				mu.Lock()
				createdCount++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, createdCount)
	for _, id := range ids {
		assert.Equal(t, ids[0], id)
	}
	list, err := s.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{Limit: 10, Sort: "created_at", Order: "asc"})
	require.NoError(t, err)
	assert.Len(t, list, 1)
	events, err := s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Type: onboarding.EventCustomerCreated, Limit: 10})
	require.NoError(t, err)
	assert.Len(t, events, 1)
	jobs, err := s.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobCreditAnalysis, Limit: 10})
	require.NoError(t, err)
	assert.Len(t, jobs, 1)
}

func testServiceConflictRace(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	svc := onboardingtest.NewService(t, s, nil)
	p := registration(t)
	const n = 100
	var mu sync.Mutex
	var ok, conflicts int
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p
			q.ExternalID = fmt.Sprintf("ext-%03d", i)
			_, _, err := svc.CreateCustomer(ctx, "p1", q)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case assert.ErrorIs(t, err, onboarding.ErrConflict):
				conflicts++
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, ok)
	assert.Equal(t, n-1, conflicts)
	jobs, err := s.ListJobs(ctx, onboarding.ListJobsParams{Kind: onboarding.JobCreditAnalysis, Limit: 10})
	require.NoError(t, err)
	assert.Len(t, jobs, 1)
}

// testServiceConcurrentReviews fires uploads and reviews of both items at once, many
// times over: whatever the interleaving, the customer ends active with one history row per
// transition.
func testServiceConcurrentReviews(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	svc := onboardingtest.NewService(t, s, nil)
	c, _, err := svc.CreateCustomer(ctx, "p1", registration(t))
	require.NoError(t, err)
	var wg sync.WaitGroup
	docs := make([]*onboarding.Document, 2)
	for i, typ := range []onboarding.DocumentType{onboarding.DocCCMEI, onboarding.DocSelfie} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := testfiles.JPEG(string(typ))
			d, err := svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: typ, Body: bytes.NewReader(body)})
			if assert.NoError(t, err) {
				docs[i] = d
			}
		}()
	}
	wg.Wait()
	require.NotNil(t, docs[0])
	require.NotNil(t, docs[1])
	for _, d := range docs {
		for range 5 { // the same approval sent several times at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := svc.ReviewDocument(ctx, "p1", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
				if err != nil {
					assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
				}
			}()
		}
	}
	wg.Wait()
	got, err := svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusActive, got.Status)
	hist, err := svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Len(t, hist, 5, "register, submit, one decision per item, approve")
}
