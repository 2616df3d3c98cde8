package onboarding_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/scoring"
)

// recorder is a Publisher that remembers what it got.
type recorder struct {
	mu     sync.Mutex
	events []*onboarding.Event
}

func (r *recorder) Publish(_ context.Context, e *onboarding.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) has(t onboarding.EventType) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Type == t {
			return true
		}
	}
	return false
}

func TestRunWakesAndShutsDown(t *testing.T) {
	t.Parallel()
	pub := &recorder{}
	svc := onboardingtest.NewService(t, setup(t, nil).store, &onboarding.Options{Scorer: scoring.Sandbox{}, Publisher: pub,
		PollInterval: time.Hour}) // only the wake-up can make this test pass in time
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- svc.Run(ctx) }()
	_, _, err := svc.CreateCustomer(context.Background(), "p1", params(t))
	require.NoError(t, err)
	// Both events are published in parallel, in either order.
	require.Eventually(t, func() bool {
		return pub.has(onboarding.EventCreditOfferAvailable) && pub.has(onboarding.EventCustomerCreated)
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
