package onboarding_test

import (
	"context"
	"encoding/json"
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
	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/taxid"
)

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
	for string(cnpj[:2]) != sandbox.RegistryLTDAPrefix { // an LTDA with a co-owner in the sandbox
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

func TestDenialWithdrawsOffers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}})

	// Denied before the analysis ran: no offer.
	early, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.DenyCustomer(ctx, "p1", early.ID, "fraud", "")
	require.NoError(t, err)

	// Denied after: the offer expires and the partner hears of it.
	late, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Empty(t, offers(t, b, early.ID))
	require.Len(t, offers(t, b, late.ID), 1)
	_, err = b.svc.DenyCustomer(ctx, "p1", late.ID, "sanctions", "")
	require.NoError(t, err)
	o := offers(t, b, late.ID)[0]
	assert.Equal(t, onboarding.OfferExpired, o.Status)
	assert.Contains(t, eventTypes(t, b, late.ID), onboarding.EventCreditOfferExpired)
}

func TestNewCompanyGetsANewAnalysis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	first := offers(t, b, c.ID)
	require.Len(t, first, 1)

	other := params(t).CNPJ
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{CNPJ: &other})
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	list := offers(t, b, c.ID)
	require.Len(t, list, 2)
	assert.Equal(t, onboarding.OfferAvailable, list[0].Status, "the new company's offer")
	assert.Equal(t, onboarding.OfferExpired, list[1].Status, "the old company's offer is withdrawn")
}

func TestOfferJSON(t *testing.T) {
	t.Parallel()
	r := 350 * money.BasisPoint
	o := &onboarding.CreditOffer{ID: "co_1", ApprovedAmount: money.Reais(50000), MinAmount: 500000, MonthlyInterestRate: r, MinInstallments: 3, MaxInstallments: 24}
	raw, err := json.Marshal(o)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, "50000.00", m["approved_amount"])
	assert.Equal(t, "5000.00", m["min_amount"])
	assert.Equal(t, 3.5, m["interest_rate"])
	assert.Equal(t, 3.5, m["monthly_interest_rate"])
	assert.NotContains(t, m, "installments")
}
