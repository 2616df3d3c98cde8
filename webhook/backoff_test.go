package webhook_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/webhook"
)

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	nominal := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	rnd := rand.New(rand.NewPCG(1, 2))
	for attempt, want := range nominal {
		lo, hi := want, want
		for range 1000 {
			d, ok := webhook.Backoff(attempt+1, 0, rnd)
			require.True(t, ok)
			require.GreaterOrEqual(t, d, time.Duration(float64(want)*0.8), "attempt %d", attempt+1)
			require.LessOrEqual(t, d, time.Duration(float64(want)*1.2), "attempt %d", attempt+1)
			lo, hi = min(lo, d), max(hi, d)
		}
		// The jitter really spreads the retries.
		assert.Less(t, lo, time.Duration(float64(want)*0.85))
		assert.Greater(t, hi, time.Duration(float64(want)*1.15))
	}
	_, ok := webhook.Backoff(len(nominal)+1, 0, rnd)
	assert.False(t, ok, "dead after the last retry")
	_, ok = webhook.Backoff(100, time.Hour, rnd)
	assert.False(t, ok, "Retry-After never revives a dead delivery")

	d, ok := webhook.Backoff(0, 0, rnd)
	assert.True(t, ok)
	assert.InDelta(t, float64(5*time.Second), float64(d), float64(time.Second), "attempt < 1 counts as the first")

	// The global source works too (nil).
	d, ok = webhook.Backoff(2, 0, nil)
	assert.True(t, ok)
	assert.InDelta(t, float64(5*time.Minute), float64(d), float64(time.Minute))
}

func TestBackoffHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	rnd := rand.New(rand.NewPCG(3, 4))
	d, _ := webhook.Backoff(1, 2*time.Minute, rnd)
	assert.Equal(t, 2*time.Minute, d, "a longer Retry-After wins")
	d, _ = webhook.Backoff(3, time.Second, rnd)
	assert.Greater(t, d, 20*time.Minute, "a shorter one does not hurry the schedule")
	d, _ = webhook.Backoff(1, 30*24*time.Hour, rnd)
	assert.Equal(t, webhook.MaxRetryAfter, d)
}

func TestScheduleCustom(t *testing.T) {
	t.Parallel()
	s := webhook.Schedule{Delays: []time.Duration{time.Second, time.Minute}}
	d, ok := s.Next(1, 0, nil)
	assert.True(t, ok)
	assert.Equal(t, time.Second, d, "no jitter")
	d, ok = s.Next(2, 0, nil)
	assert.True(t, ok)
	assert.Equal(t, time.Minute, d)
	_, ok = s.Next(3, 0, nil)
	assert.False(t, ok)
	_, ok = webhook.Schedule{}.Next(1, 0, nil)
	assert.False(t, ok, "an empty schedule never retries")

	var total time.Duration
	for _, d := range webhook.DefaultSchedule.Delays {
		total += d
	}
	assert.Equal(t, 27*time.Hour+35*time.Minute+5*time.Second, total, "about 28 hours of retries")
}
