package e2e

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/webhook"
)

// waitLong bounds every wait for background work in real time: generous, so a loaded CI
// machine under -race never flakes, and only reached when something is broken.
const waitLong = 60 * time.Second

func upload(t testing.TB, svc *onboarding.Service, custID string, typ onboarding.DocumentType, name string, body []byte) *onboarding.Document {
	t.Helper()
	d, err := svc.UploadDocument(context.Background(), partner, custID,
		onboarding.UploadParams{Type: typ, Filename: name, Body: bytes.NewReader(body)})
	require.NoError(t, err)
	return d
}

func approve(t testing.TB, svc *onboarding.Service, docs ...*onboarding.Document) {
	t.Helper()
	for _, d := range docs {
		_, err := svc.ReviewDocument(context.Background(), partner, d.ID,
			onboarding.ReviewParams{Decision: onboarding.ReviewApprove, Reviewer: "ana.backoffice"})
		require.NoError(t, err)
	}
}

// offerData is the data of a credit_offer.* event (docs/http-api.md), as a partner decodes it.
// (onboarding.CreditOffer marshals to this shape but does not unmarshal from it.)
type offerData struct {
	ID                  string                 `json:"id"`
	CustomerID          string                 `json:"customer_id"`
	ExternalID          string                 `json:"external_id"`
	Status              onboarding.OfferStatus `json:"status"`
	ApprovedAmount      money.Money            `json:"approved_amount"`
	MinAmount           money.Money            `json:"min_amount"`
	MonthlyInterestRate money.Rate             `json:"monthly_interest_rate"`
	ValidUntil          time.Time              `json:"valid_until"`
}

func customer(t testing.TB, svc *onboarding.Service, id string) *onboarding.Customer {
	t.Helper()
	c, err := svc.GetCustomer(context.Background(), partner, id)
	require.NoError(t, err)
	return c
}

func offerOf(t testing.TB, svc *onboarding.Service, custID string) *onboarding.CreditOffer {
	t.Helper()
	page, err := svc.ListCreditOffers(context.Background(), partner, onboarding.ListOffersParams{CustomerID: custID})
	require.NoError(t, err)
	require.Len(t, page.Data, 1, "offers of %s", custID)
	return page.Data[0]
}

// TestGuide is the partner's guide, in process, with the back office reviewing: register →
// the credit analysis runs in parallel with KYC → credit_offer.available reaches a real
// HTTP receiver, signed and verifiable with webhook.Unwrap → uploads and reviews (one
// rejection and a re-upload) drive the customer to active, with the customer.under_review
// and customer.active webhooks → the offer expires at its valid_until under a fake clock,
// and credit_offer.expired is delivered.
func TestGuide(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testGuide)
}

func testGuide(t *testing.T, db *database) {
	ctx := context.Background()
	clk := &clock{}
	rcv := newReceiver(t, clk.Now)
	ppl := newPeople(t)
	pA, pB := ppl.next(""), ppl.next("ltda")

	// B's analysis waits until the test lets it go, to show that KYC does not wait for it.
	held := make(chan struct{})
	var release sync.Once
	releaseB := func() { release.Do(func() { close(held) }) }
	scorer := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		if req.ExternalID == pB.ExternalID {
			select {
			case <-held:
			case <-ctx.Done():
				return scoring.Decision{}, ctx.Err()
			}
		}
		return scoring.Sandbox{}.Score(ctx, req)
	})
	svc := newService(t, db.open(t), onboarding.Options{NowFunc: clk.Now, Scorer: scorer})
	ep, secret := endpoint(t, svc, rcv)
	stop := run(t, svc)
	t.Cleanup(releaseB) // before Run stops (cleanups run last-in first-out)

	// 1. Registration; the analysis runs at once, without any KYC.
	a := register(t, svc, pA)
	assert.Equal(t, onboarding.StatusPendingKYC, a.Status)
	require.Len(t, a.KYC, 2, "a MEI owes its CCMEI and a selfie")
	rcv.WaitFor(waitLong, "credit_offer.available for A", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCreditOfferAvailable, a.ID)
	})
	assert.Equal(t, onboarding.StatusPendingKYC, customer(t, svc, a.ID).Status, "the offer came before any KYC")

	// The webhook is signed: a receiver that knows the secret verifies it with Unwrap.
	offerA := offerOf(t, svc, a.ID)
	var got *received
	for _, e := range rcv.OfType(webhook.EventCreditOfferAvailable) {
		got, _ = rcv.Got(e.ID)
	}
	require.NotNil(t, got)
	ev, err := webhook.Unwrap(got.Body, got.Header, secret)
	require.NoError(t, err)
	assert.Equal(t, got.Header.Get(webhook.HeaderID), ev.ID)
	assert.True(t, strings.HasPrefix(ev.ID, "evt_"), ev.ID)
	assert.True(t, strings.HasPrefix(ev.DeliveryID, "dlv_"), ev.DeliveryID)
	assert.Equal(t, onboarding.APIVersion, ev.APIVersion)
	assert.True(t, strings.HasPrefix(got.Header.Get(webhook.HeaderSignature), "v1,"))
	var data offerData
	require.NoError(t, ev.Decode(&data))
	assert.Equal(t, offerA.ID, data.ID)
	assert.Equal(t, a.ID, data.CustomerID)
	assert.Equal(t, a.ExternalID, data.ExternalID)
	assert.Equal(t, onboarding.OfferAvailable, data.Status)
	assert.Equal(t, offerA.ApprovedAmount, data.ApprovedAmount)
	assert.Equal(t, offerA.MinAmount, data.MinAmount)
	assert.Equal(t, offerA.MonthlyInterestRate, data.MonthlyInterestRate)
	assert.True(t, offerA.ValidUntil.Equal(data.ValidUntil))
	want, err := scoring.Sandbox{}.Score(ctx, scoring.Request{CNPJ: string(a.CNPJ)})
	require.NoError(t, err)
	assert.Equal(t, want.ApprovedAmountCents, int64(data.ApprovedAmount), "exact money, as the scorer decided")
	assert.Equal(t, want.MinAmountCents, int64(data.MinAmount))
	other, err := webhook.NewSecret()
	require.NoError(t, err)
	_, err = webhook.Unwrap(got.Body, got.Header, other)
	assert.ErrorIs(t, err, webhook.ErrNoMatchingSignature, "another endpoint's secret does not verify it")
	_, err = webhook.Unwrap(bytes.Replace(got.Body, []byte(`"available"`), []byte(`"accepted"`), 1), got.Header, secret)
	assert.ErrorIs(t, err, webhook.ErrNoMatchingSignature, "a tampered body does not verify")

	// 2. A's KYC: uploads (PDF, JPEG) → under_review; the back office approves → active.
	ccmei := upload(t, svc, a.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("ccmei A"))
	assert.Equal(t, onboarding.StatusPendingKYC, customer(t, svc, a.ID).Status)
	selfie := upload(t, svc, a.ID, onboarding.DocSelfie, "selfie.jpg", testfiles.JPEG("selfie A"))
	assert.Equal(t, onboarding.StatusUnderReview, customer(t, svc, a.ID).Status)
	rcv.WaitFor(waitLong, "customer.under_review for A", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCustomerUnderReview, a.ID)
	})
	approve(t, svc, ccmei, selfie)
	assert.Equal(t, onboarding.StatusActive, customer(t, svc, a.ID).Status)
	rcv.WaitFor(waitLong, "customer.active for A", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCustomerActive, a.ID)
	})

	// 3. B, an LTDA whose analysis is held: KYC goes all the way to active without it,
	// through a rejection and a re-upload.
	b := register(t, svc, pB)
	require.Len(t, b.KYC, 3, "an LTDA owes its articles of association, an identity and a selfie")
	articles := upload(t, svc, b.ID, onboarding.DocArticlesOfAssociation, "contrato-social.pdf", testfiles.PDF("articles B"))
	cnh := upload(t, svc, b.ID, onboarding.DocCNH, "cnh.jpg", testfiles.JPEG("cnh B blurry"))
	selfieB := upload(t, svc, b.ID, onboarding.DocSelfie, "selfie.png", testfiles.PNG("selfie B"))
	assert.Equal(t, onboarding.StatusUnderReview, customer(t, svc, b.ID).Status)
	_, err = svc.ReviewDocument(ctx, partner, cnh.ID, onboarding.ReviewParams{Decision: onboarding.ReviewReject,
		Reason: "the photo is blurry", Reviewer: "ana.backoffice"})
	require.NoError(t, err)
	cb := customer(t, svc, b.ID)
	assert.Equal(t, onboarding.StatusPendingKYC, cb.Status, "a rejected item goes back to the customer")
	for _, r := range cb.KYC {
		if r.Accepts(onboarding.DocCNH) {
			assert.Equal(t, onboarding.RequirementRejected, r.Status)
			require.NotNil(t, r.Message)
			assert.Equal(t, "the photo is blurry", *r.Message)
		}
	}
	cnh2 := upload(t, svc, b.ID, onboarding.DocCNH, "cnh-2.jpg", testfiles.JPEG("cnh B sharp"))
	assert.Equal(t, onboarding.StatusUnderReview, customer(t, svc, b.ID).Status)
	approve(t, svc, articles, cnh2, selfieB)
	assert.Equal(t, onboarding.StatusActive, customer(t, svc, b.ID).Status)
	rcv.WaitFor(waitLong, "customer.active for B", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCustomerActive, b.ID)
	})
	assert.Empty(t, offersByCustomer(t, svc)[b.ID], "B's analysis is still held")
	assert.False(t, hasEvent(t, rcv.Events(), webhook.EventCreditOfferAvailable, b.ID))
	releaseB()
	rcv.WaitFor(waitLong, "credit_offer.available for B", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCreditOfferAvailable, b.ID)
	})

	// Every outbox event reached the receiver once, on the first attempt, and the
	// delivery log says so.
	var outbox []*onboarding.Event
	for _, typ := range onboarding.EventTypes {
		outbox = append(outbox, eventsOfType(t, svc, typ)...)
	}
	rcv.WaitFor(waitLong, "every outbox event", func(evs []webhook.Event) bool { return len(evs) == len(outbox) })
	for _, e := range outbox {
		_, ok := rcv.Got(e.ID)
		assert.True(t, ok, "event %s (%s) not received", e.ID, e.Type)
	}
	for _, c := range []*onboarding.Customer{a, b} {
		for _, typ := range []string{webhook.EventCustomerCreated, webhook.EventCustomerKYCUpdated,
			webhook.EventCustomerUnderReview, webhook.EventCustomerActive, webhook.EventCreditOfferAvailable} {
			assert.True(t, hasEvent(t, rcv.Events(), typ, c.ID), "%s for %s", typ, c.ID)
		}
	}
	stop() // the rest runs on the fake clock, one Work at a time
	dls, err := svc.ListDeliveries(ctx, partner, onboarding.ListDeliveriesParams{EndpointID: ep.ID, Limit: onboarding.MaxPageLimit})
	require.NoError(t, err)
	require.Len(t, dls, len(outbox))
	for _, d := range dls {
		assert.Equal(t, onboarding.DeliveryDelivered, d.Status, d.ID)
		assert.Equal(t, 1, d.Attempts, d.ID)
		log, err := svc.ListDeliveryAttempts(ctx, partner, d.ID)
		require.NoError(t, err)
		require.Len(t, log, 1)
		assert.Equal(t, 204, log[0].StatusCode)
		assert.Positive(t, log[0].Latency)
	}
	_, dups, bad := rcv.Stats()
	assert.Zero(t, dups)
	assert.Empty(t, bad)

	// 4. The offers expire at their valid_until, not before.
	offerA, offerB := offerOf(t, svc, a.ID), offerOf(t, svc, b.ID)
	require.True(t, offerB.ValidUntil.After(offerA.ValidUntil))
	clk.SetAt(offerA.ValidUntil.Add(-time.Second))
	work(t, svc)
	assert.Equal(t, onboarding.OfferAvailable, offerOf(t, svc, a.ID).Status, "one second early")
	assert.Empty(t, rcv.OfType(webhook.EventCreditOfferExpired))
	clk.SetAt(offerA.ValidUntil)
	assert.GreaterOrEqual(t, work(t, svc), 2, "the expiry and its delivery")
	assert.Equal(t, onboarding.OfferExpired, offerOf(t, svc, a.ID).Status)
	assert.Equal(t, onboarding.OfferAvailable, offerOf(t, svc, b.ID).Status, "B's offer is younger")
	expired := rcv.OfType(webhook.EventCreditOfferExpired)
	require.Len(t, expired, 1)
	require.NoError(t, expired[0].Decode(&data))
	assert.Equal(t, offerA.ID, data.ID)
	assert.Equal(t, onboarding.OfferExpired, data.Status)
	clk.SetAt(offerB.ValidUntil)
	work(t, svc)
	assert.Equal(t, onboarding.OfferExpired, offerOf(t, svc, b.ID).Status)
	assert.True(t, hasEvent(t, rcv.Events(), webhook.EventCreditOfferExpired, b.ID))
	_, dups, bad = rcv.Stats()
	assert.Zero(t, dups)
	assert.Empty(t, bad)
}

// TestGuideSandboxReviewer is the guide with the automated plugins doing the reviews in
// the background (SandboxReviewer for documents, SandboxBiometrics for selfies): uploads
// alone drive the customer to active; the sandbox's file-name magic rejects an item
// (re-upload, then active) and denies another customer (customer.denied).
func TestGuideSandboxReviewer(t *testing.T) {
	t.Parallel()
	forEachBackend(t, testGuideSandbox)
}

func testGuideSandbox(t *testing.T, db *database) {
	clk := &clock{}
	rcv := newReceiver(t, clk.Now)
	ppl := newPeople(t)
	svc := newService(t, db.open(t), onboarding.Options{NowFunc: clk.Now, Scorer: scoring.Sandbox{},
		Reviewer: sandbox.Reviewer{}, Biometrics: sandbox.Biometrics{NowFunc: clk.Now}})
	endpoint(t, svc, rcv)
	run(t, svc)

	// A MEI: two uploads, and the sandbox approves both in the background.
	a := register(t, svc, ppl.next(""))
	upload(t, svc, a.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("ccmei A"))
	upload(t, svc, a.ID, onboarding.DocSelfie, "selfie.png", testfiles.PNG("selfie A"))
	// Deliveries run in parallel: wait for each event, in whatever order it arrives.
	rcv.WaitFor(waitLong, "customer.under_review, customer.active and credit_offer.available for A", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCustomerUnderReview, a.ID) && hasEvent(t, evs, webhook.EventCustomerActive, a.ID) &&
			hasEvent(t, evs, webhook.EventCreditOfferAvailable, a.ID)
	})
	assert.Equal(t, onboarding.StatusActive, customer(t, svc, a.ID).Status)
	hist, err := svc.History(context.Background(), partner, a.ID)
	require.NoError(t, err)
	require.NotEmpty(t, hist)
	var approvedBy string
	for _, h := range hist {
		if h.Event == onboarding.EventApprove {
			approvedBy = h.Actor
		}
	}
	assert.Equal(t, "reviewer:sandbox", approvedBy, "the automated reviewer activated A")

	// An LTDA whose CNH the sandbox rejects by its file name: back to the customer, then
	// a good re-upload → active.
	b := register(t, svc, ppl.next("ltda"))
	upload(t, svc, b.ID, onboarding.DocArticlesOfAssociation, "contrato-social.pdf", testfiles.PDF("articles B"))
	upload(t, svc, b.ID, onboarding.DocCNH, "cnh-sandbox-reject.jpg", testfiles.JPEG("cnh B"))
	upload(t, svc, b.ID, onboarding.DocSelfie, "selfie.jpg", testfiles.JPEG("selfie B"))
	require.Eventually(t, func() bool {
		c := customer(t, svc, b.ID)
		if c.Status != onboarding.StatusPendingKYC {
			return false
		}
		for _, r := range c.KYC {
			want := onboarding.RequirementApproved
			if r.Accepts(onboarding.DocCNH) {
				want = onboarding.RequirementRejected
			}
			if r.Status != want {
				return false
			}
		}
		return true
	}, waitLong, 20*time.Millisecond, "B's CNH rejected, the rest approved")
	upload(t, svc, b.ID, onboarding.DocCNH, "cnh.jpg", testfiles.JPEG("cnh B again"))
	rcv.WaitFor(waitLong, "customer.active and credit_offer.available for B", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCustomerActive, b.ID) && hasEvent(t, evs, webhook.EventCreditOfferAvailable, b.ID)
	})

	// A MEI whose CCMEI the sandbox flags as fraud: denied.
	c := register(t, svc, ppl.next(""))
	upload(t, svc, c.ID, onboarding.DocCCMEI, "ccmei-sandbox-deny.pdf", testfiles.PDF("ccmei C"))
	rcv.WaitFor(waitLong, "customer.denied for C", func(evs []webhook.Event) bool {
		return hasEvent(t, evs, webhook.EventCustomerDenied, c.ID)
	})
	assert.Equal(t, onboarding.StatusDenied, customer(t, svc, c.ID).Status)
	_, dups, bad := rcv.Stats()
	assert.Zero(t, dups)
	assert.Empty(t, bad)
}
