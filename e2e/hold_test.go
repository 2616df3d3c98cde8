package e2e

import (
	"context"
	"math/rand/v2"
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

// TestHoldOffersUntilActive: with Options.HoldOffersUntilActive, an approved offer stays
// unannounced while the customer is not active, and is announced (credit_offer.available,
// valid for its full term from then) by the activation. The activations are done by the
// sandbox plugins in the background, racing the analyses: every customer still ends with
// exactly one offer and one credit_offer.available, never before its customer.active.
//
// Fails in most runs while Service.recordDecision reads its clock before its transaction:
// when the activation commits between that read and the transaction's read of the
// customer, the offer is released with a time (credit_offer.available created_at,
// valid_until's start) earlier than the customer.active it depends on. Reading the clock
// inside the transaction, after GetCustomer, fixes it.
func TestHoldOffersUntilActive(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		ctx := context.Background()
		rcv := newReceiver(t, time.Now)
		jittery := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
			time.Sleep(time.Duration(rand.IntN(5000)) * time.Microsecond) // vary who wins the race
			return scoring.Sandbox{}.Score(ctx, req)
		})
		svc := newService(t, db.open(t), onboarding.Options{Scorer: jittery, HoldOffersUntilActive: true,
			Reviewer: sandbox.Reviewer{}, Biometrics: sandbox.Biometrics{}})
		endpoint(t, svc, rcv, "credit_offer.*", "customer.active")
		ppl := newPeople(t)

		// One customer without KYC: analysed, but nothing announced.
		waiting := register(t, svc, ppl.next(""))
		stop := run(t, svc)
		require.Eventually(t, func() bool {
			return analysisJob(t, svc, waiting.ID).State == onboarding.JobCompleted
		}, waitLong, 20*time.Millisecond)
		assert.Empty(t, offersByCustomer(t, svc)[waiting.ID], "a held offer is invisible")
		assert.Empty(t, eventsOfType(t, svc, onboarding.EventCreditOfferAvailable))

		// A burst whose KYC completes as the analyses run.
		const n = 20
		ids := []string{waiting.ID}
		for i := range n {
			c := register(t, svc, ppl.next(""))
			ids = append(ids, c.ID)
			if i%2 == 0 {
				time.Sleep(time.Millisecond)
			}
			upload(t, svc, c.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("ccmei "+c.ID))
			upload(t, svc, c.ID, onboarding.DocSelfie, "selfie.jpg", testfiles.JPEG("selfie "+c.ID))
		}
		upload(t, svc, waiting.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("ccmei waiting"))
		upload(t, svc, waiting.ID, onboarding.DocSelfie, "selfie.jpg", testfiles.JPEG("selfie waiting"))
		rcv.WaitFor(waitLong, "customer.active and credit_offer.available for everyone", func(evs []webhook.Event) bool {
			for _, id := range ids {
				if !hasEvent(t, evs, webhook.EventCustomerActive, id) || !hasEvent(t, evs, webhook.EventCreditOfferAvailable, id) {
					return false
				}
			}
			return true
		})
		stop()

		offers := offersByCustomer(t, svc)
		activeAt := map[string]time.Time{}
		for _, e := range eventsOfType(t, svc, onboarding.EventCustomerActive) {
			activeAt[e.CustomerID] = e.CreatedAt
		}
		announced := map[string]int{}
		for _, e := range eventsOfType(t, svc, onboarding.EventCreditOfferAvailable) {
			announced[e.CustomerID]++
			assert.False(t, e.CreatedAt.Before(activeAt[e.CustomerID]), "%s announced before its customer was active (by %s)", e.CustomerID, activeAt[e.CustomerID].Sub(e.CreatedAt))
		}
		for _, id := range ids {
			require.Len(t, offers[id], 1, "offers of %s", id)
			o := offers[id][0]
			assert.Equal(t, 1, announced[id], "credit_offer.available events of %s", id)
			assert.False(t, o.ValidUntil.Before(activeAt[id].Add(30*24*time.Hour)), "%s: validity counts from the release", id)
			_, err := svc.GetCreditOffer(ctx, partner, o.ID)
			assert.NoError(t, err)
		}
		_, dups, bad := rcv.Stats()
		assert.Zero(t, dups)
		assert.Empty(t, bad)
	})
}
