package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/webhook"
)

// faultCustomers is how many customers each fault scenario registers (two events each:
// customer.created and credit_offer.available).
const faultCustomers = 5

// faultRig is a Service on the fake clock whose HTTP sender gives up after 200 ms, and a
// receiver subscribed to every event.
type faultRig struct {
	svc *onboarding.Service
	clk *clock
	rcv *receiver
	ep  *onboarding.WebhookEndpoint
	// secret is the endpoint's signing secret.
	secret string
	ppl    *people
}

func newFaultRig(t *testing.T, db *database) *faultRig {
	r := &faultRig{clk: &clock{}, ppl: newPeople(t)}
	r.rcv = newReceiver(t, r.clk.Now)
	sender := webhook.NewHTTPSender(&webhook.HTTPOptions{Timeout: 200 * time.Millisecond, AllowPrivate: true,
		AllowInsecure: true, NowFunc: r.clk.Now})
	r.svc = newService(t, db.open(t), onboarding.Options{NowFunc: r.clk.Now, Scorer: scoring.Sandbox{}, WebhookSender: sender})
	r.ep, r.secret = endpoint(t, r.svc, r.rcv)
	return r
}

func (r *faultRig) register(t *testing.T, n int) {
	for range n {
		register(t, r.svc, r.ppl.next(""))
	}
}

// nextRetry is the earliest run_at of the pending jobs, leaving out offer expiries (a
// month away) and blob sweeps.
func nextRetry(t testing.TB, svc *onboarding.Service) (time.Time, bool) {
	t.Helper()
	jobs, err := svc.Store().ListJobs(context.Background(), onboarding.ListJobsParams{State: onboarding.JobAvailable})
	require.NoError(t, err)
	var next time.Time
	for _, j := range jobs {
		if j.Kind == onboarding.JobExpireOffer || j.Kind == onboarding.JobSweepBlobs {
			continue
		}
		if next.IsZero() || j.RunAt.Before(next) {
			next = j.RunAt
		}
	}
	return next, !next.IsZero()
}

// settle works every due job and, whenever nothing is due, jumps the fake clock to the
// next retry, until no retry is pending. It returns the number of jumps.
func settle(t testing.TB, svc *onboarding.Service, clk *clock, maxJumps int) int {
	t.Helper()
	for jumps := 0; ; jumps++ {
		work(t, svc)
		next, ok := nextRetry(t, svc)
		if !ok {
			return jumps
		}
		require.Less(t, jumps, maxJumps, "still retrying after %d clock jumps", maxJumps)
		if next.After(clk.Now()) {
			clk.SetAt(next)
		}
	}
}

// deliveries lists the endpoint's deliveries.
func deliveries(t testing.TB, svc *onboarding.Service, epID string) []*onboarding.Delivery {
	t.Helper()
	d, err := svc.ListDeliveries(context.Background(), partner, onboarding.ListDeliveriesParams{EndpointID: epID, Limit: onboarding.MaxPageLimit})
	require.NoError(t, err)
	return d
}

// attemptLog returns the status codes of a delivery's log, oldest first.
func attemptLog(t testing.TB, svc *onboarding.Service, deliveryID string) (codes []int, errs []string) {
	t.Helper()
	log, err := svc.ListDeliveryAttempts(context.Background(), partner, deliveryID)
	require.NoError(t, err)
	for _, a := range log {
		codes = append(codes, a.StatusCode)
		errs = append(errs, a.Error)
	}
	return codes, errs
}

// outbox lists every event of the partner.
func outbox(t testing.TB, svc *onboarding.Service) []*onboarding.Event {
	t.Helper()
	var out []*onboarding.Event
	for _, typ := range onboarding.EventTypes {
		out = append(out, eventsOfType(t, svc, typ)...)
	}
	return out
}

// checkNoneLost checks that every outbox event reached the receiver (dedup by webhook-id)
// and that every delivery ended delivered.
func checkNoneLost(t testing.TB, svc *onboarding.Service, rcv *receiver, epID string) {
	t.Helper()
	evs := outbox(t, svc)
	require.Len(t, evs, 2*faultCustomers)
	for _, e := range evs {
		_, ok := rcv.Got(e.ID)
		assert.True(t, ok, "event %s (%s) never arrived", e.ID, e.Type)
	}
	distinct, _, bad := rcv.Stats()
	assert.Equal(t, len(evs), distinct)
	assert.Empty(t, bad, "every request verified")
	for _, d := range deliveries(t, svc, epID) {
		assert.Equal(t, onboarding.DeliveryDelivered, d.Status, "delivery %s", d.ID)
	}
}

// TestWebhookFaults shows at-least-once delivery through receivers that fail: every
// event arrives once the receiver recovers, and the delivery log tells what happened.
func TestWebhookFaults(t *testing.T) {
	t.Parallel()
	t.Run("500s", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, db *database) {
			r := newFaultRig(t, db)
			// Each message fails twice with a 500, then goes through.
			r.rcv.SetFault(func(_ string, attempt int) *fault {
				if attempt <= 2 {
					return &fault{status: 500}
				}
				return nil
			})
			r.register(t, faultCustomers)
			work(t, r.svc)
			dls := deliveries(t, r.svc, r.ep.ID)
			require.Len(t, dls, 2*faultCustomers)
			var first time.Time
			for _, d := range dls {
				assert.Equal(t, onboarding.DeliveryPending, d.Status)
				assert.Equal(t, 1, d.Attempts)
				assert.Equal(t, 500, d.LastStatusCode)
				log, err := r.svc.ListDeliveryAttempts(context.Background(), partner, d.ID)
				require.NoError(t, err)
				require.Len(t, log, 1)
				// The first retry of webhook.DefaultSchedule: 5 s ±20 % after the attempt.
				assert.WithinRange(t, d.NextAttemptAt, log[0].CreatedAt.Add(4*time.Second), log[0].CreatedAt.Add(6*time.Second))
				if first.IsZero() || d.NextAttemptAt.Before(first) {
					first = d.NextAttemptAt
				}
			}
			r.clk.SetAt(first.Add(-time.Second))
			work(t, r.svc)
			for _, d := range deliveries(t, r.svc, r.ep.ID) {
				assert.Equal(t, 1, d.Attempts, "not retried before its time")
			}
			jumps := settle(t, r.svc, r.clk, 50)
			assert.GreaterOrEqual(t, jumps, 2)
			checkNoneLost(t, r.svc, r.rcv, r.ep.ID)
			for _, d := range deliveries(t, r.svc, r.ep.ID) {
				codes, _ := attemptLog(t, r.svc, d.ID)
				assert.Equal(t, []int{500, 500, 204}, codes, "delivery %s", d.ID)
				assert.Equal(t, 3, r.rcv.Attempts(d.EventID), "the same webhook-id on every attempt")
			}
		})
	})

	t.Run("retry-after", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, db *database) {
			r := newFaultRig(t, db)
			// A 503 asking for ten minutes: longer than the first scheduled retry.
			r.rcv.SetFault(func(_ string, attempt int) *fault {
				if attempt == 1 {
					return &fault{status: 503, retryAfter: "600"}
				}
				return nil
			})
			r.register(t, faultCustomers)
			start := r.clk.Now()
			work(t, r.svc)
			for _, d := range deliveries(t, r.svc, r.ep.ID) {
				assert.Equal(t, 503, d.LastStatusCode)
				assert.False(t, d.NextAttemptAt.Before(start.Add(600*time.Second)), "Retry-After is honoured")
			}
			r.clk.Advance(9 * time.Minute)
			work(t, r.svc)
			distinct, _, _ := r.rcv.Stats()
			assert.Zero(t, distinct, "nothing before the receiver's Retry-After")
			settle(t, r.svc, r.clk, 10)
			checkNoneLost(t, r.svc, r.rcv, r.ep.ID)
		})
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, db *database) {
			r := newFaultRig(t, db)
			// The first attempt of each message hangs past the sender's 200 ms timeout.
			r.rcv.SetFault(func(_ string, attempt int) *fault {
				if attempt == 1 {
					return &fault{hang: true}
				}
				return nil
			})
			r.register(t, faultCustomers)
			settle(t, r.svc, r.clk, 10)
			checkNoneLost(t, r.svc, r.rcv, r.ep.ID)
			for _, d := range deliveries(t, r.svc, r.ep.ID) {
				codes, errs := attemptLog(t, r.svc, d.ID)
				assert.Equal(t, []int{0, 204}, codes, "delivery %s", d.ID)
				assert.Contains(t, strings.ToLower(errs[0]), "timeout", "delivery %s", d.ID)
			}
		})
	})

	t.Run("410", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, db *database) {
			r := newFaultRig(t, db)
			// The receiver answers 410 Gone once, then is fine again.
			var gone atomic.Bool
			gone.Store(true)
			r.rcv.SetFault(func(string, int) *fault {
				if gone.CompareAndSwap(true, false) {
					return &fault{status: 410}
				}
				return nil
			})
			// Every delivery exists before the 410: the receiver is down for the first
			// round (see TestEventsPublishedWhileEndpointDisabledAreRecoverable for events
			// published after it).
			r.rcv.Down()
			r.register(t, faultCustomers)
			work(t, r.svc)
			require.Len(t, deliveries(t, r.svc, r.ep.ID), 2*faultCustomers)
			r.rcv.Up()
			r.clk.Advance(10 * time.Second)
			work(t, r.svc)
			ep, err := r.svc.GetWebhookEndpoint(context.Background(), partner, r.ep.ID)
			require.NoError(t, err)
			assert.Equal(t, webhook.EndpointDisabled, ep.Status, "410 disables the endpoint")
			var gone410 int
			for _, d := range deliveries(t, r.svc, r.ep.ID) {
				assert.Equal(t, onboarding.DeliveryCancelled, d.Status)
				if codes, _ := attemptLog(t, r.svc, d.ID); len(codes) == 2 && codes[1] == 410 {
					gone410++
				}
			}
			assert.Equal(t, 1, gone410, "one attempt got the 410; the rest were cancelled unsent")
			distinct, _, _ := r.rcv.Stats()
			assert.Zero(t, distinct)

			// The partner fixes its receiver, enables the endpoint and replays.
			active := webhook.EndpointActive
			_, err = r.svc.UpdateWebhookEndpoint(context.Background(), partner, r.ep.ID, onboarding.UpdateEndpointParams{Status: &active})
			require.NoError(t, err)
			for _, d := range deliveries(t, r.svc, r.ep.ID) {
				require.NoError(t, r.svc.ReplayDelivery(context.Background(), partner, d.ID))
			}
			settle(t, r.svc, r.clk, 10)
			checkNoneLost(t, r.svc, r.rcv, r.ep.ID)
		})
	})

	t.Run("down-dead-replay", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, db *database) {
			r := newFaultRig(t, db)
			// Down for longer than the whole schedule (about 28 hours): every delivery
			// dies after 8 attempts; once the receiver is back, a replay delivers.
			r.rcv.Down()
			r.register(t, faultCustomers)
			settle(t, r.svc, r.clk, 100)
			dls := deliveries(t, r.svc, r.ep.ID)
			require.Len(t, dls, 2*faultCustomers)
			for _, d := range dls {
				assert.Equal(t, onboarding.DeliveryDead, d.Status)
				assert.Equal(t, len(webhook.DefaultSchedule.Delays)+1, d.Attempts)
				codes, errs := attemptLog(t, r.svc, d.ID)
				assert.Len(t, codes, len(webhook.DefaultSchedule.Delays)+1)
				assert.Contains(t, errs[0], "refused")
			}
			r.rcv.Up()
			for _, d := range dls {
				require.NoError(t, r.svc.ReplayDelivery(context.Background(), partner, d.ID))
			}
			settle(t, r.svc, r.clk, 10)
			checkNoneLost(t, r.svc, r.rcv, r.ep.ID)
		})
	})

	t.Run("down-while-running", func(t *testing.T) {
		t.Parallel()
		forEachBackend(t, func(t *testing.T, db *database) {
			// Run works in real time; the receiver's listener is closed, every event
			// fails its first attempt, the listener reopens on the same port, and the
			// clock jumps past the first backoff: Run delivers everything.
			r := newFaultRig(t, db)
			r.rcv.Down()
			run(t, r.svc)
			r.register(t, faultCustomers)
			require.Eventually(t, func() bool {
				dls := deliveries(t, r.svc, r.ep.ID)
				if len(dls) < 2*faultCustomers {
					return false
				}
				for _, d := range dls {
					if d.Attempts < 1 {
						return false
					}
				}
				return true
			}, waitLong, 20*time.Millisecond, "every event tried once against the closed port")
			r.rcv.Up()
			// Jump past the pending backoffs a little at a time, while Run polls.
			r.rcv.WaitFor(waitLong, "every event", func(evs []webhook.Event) bool {
				r.clk.Advance(10 * time.Second)
				return len(evs) == 2*faultCustomers
			})
			// An attempt whose outcome was not written in time (its lease ran out under the
			// jumping clock) is retried later: keep time moving until every row says so.
			require.Eventually(t, func() bool {
				r.clk.Advance(10 * time.Second)
				for _, d := range deliveries(t, r.svc, r.ep.ID) {
					if d.Status != onboarding.DeliveryDelivered {
						return false
					}
				}
				return true
			}, waitLong, 20*time.Millisecond)
			checkNoneLost(t, r.svc, r.rcv, r.ep.ID)
		})
	})
}

// TestEventsPublishedWhileEndpointDisabledAreRecoverable: after a 410 disables an
// endpoint, the events published while it is disabled get no delivery row at all;
// RecoverWebhookEndpoint enables it again and schedules every event since a time that was
// not delivered to it, so each event arrives at least once when the receiver recovers.
func TestEventsPublishedWhileEndpointDisabledAreRecoverable(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		r := newFaultRig(t, db)
		var gone atomic.Bool
		gone.Store(true)
		r.rcv.SetFault(func(string, int) *fault {
			if gone.CompareAndSwap(true, false) {
				return &fault{status: 410}
			}
			return nil
		})
		since := r.clk.Now()
		r.register(t, 1)
		work(t, r.svc) // the first delivery meets the 410: the endpoint is disabled
		ep, err := r.svc.GetWebhookEndpoint(context.Background(), partner, r.ep.ID)
		require.NoError(t, err)
		require.Equal(t, webhook.EndpointDisabled, ep.Status)
		r.register(t, faultCustomers-1) // published while the endpoint is disabled
		work(t, r.svc)

		// The receiver is fixed: recover the endpoint from before the outage.
		n, err := r.svc.RecoverWebhookEndpoint(context.Background(), partner, r.ep.ID, since)
		require.NoError(t, err)
		assert.Positive(t, n)
		settle(t, r.svc, r.clk, 10)
		var lost []string
		for _, e := range outbox(t, r.svc) {
			if _, ok := r.rcv.Got(e.ID); !ok {
				lost = append(lost, string(e.Type)+" "+e.ID)
			}
		}
		assert.Empty(t, lost, "events published while the endpoint was disabled never arrive")
	})
}

// TestWebhookSecretRotation: during a rotation's grace period every delivery carries a
// signature under each secret, so a receiver verifies with either; after it, only the new
// secret signs.
func TestWebhookSecretRotation(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		r := newFaultRig(t, db)
		newSecret, until, err := r.svc.RotateWebhookSecret(context.Background(), partner, r.ep.ID, time.Hour)
		require.NoError(t, err)
		verifies := func(secret string, g *received) bool {
			v := webhook.Verifier{Secrets: []string{secret}, NowFunc: r.clk.Now}
			return v.Verify(g.Body, g.Header) == nil
		}
		r.rcv.Trust(newSecret) // a receiver already on the new secret
		r.register(t, 1)
		work(t, r.svc)
		evs := r.rcv.Events()
		require.Len(t, evs, 2, "customer.created and credit_offer.available")
		for _, e := range evs {
			g, _ := r.rcv.Got(e.ID)
			assert.Len(t, strings.Fields(g.Header.Get(webhook.HeaderSignature)), 2, "old and new signatures")
			assert.True(t, verifies(r.secret, g), "a receiver still on the old secret verifies too")
		}

		r.clk.SetAt(until.Add(time.Second))
		r.register(t, 1)
		work(t, r.svc)
		evs = r.rcv.Events()
		require.Len(t, evs, 4)
		for _, e := range evs[2:] {
			g, _ := r.rcv.Got(e.ID)
			assert.Len(t, strings.Fields(g.Header.Get(webhook.HeaderSignature)), 1, "only the new secret after the grace period")
			assert.False(t, verifies(r.secret, g))
		}
		_, _, bad := r.rcv.Stats()
		assert.Empty(t, bad)
	})
}
