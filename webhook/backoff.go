package webhook

import (
	"math/rand/v2"
	"time"
)

// MaxRetryAfter caps a receiver's Retry-After, so a hostile or broken receiver cannot
// park a delivery for months.
const MaxRetryAfter = 24 * time.Hour

// Schedule is a retry schedule: Delays[i] is the wait after the (i+1)-th failed attempt,
// each varied by ±Jitter (a fraction: 0.2 is ±20 %) so that retries of a burst of
// failures spread out instead of hitting a recovering receiver at once.
type Schedule struct {
	// Delays are the waits between attempts; len(Delays)+1 attempts in all.
	Delays []time.Duration
	// Jitter is the relative spread of each delay, 0 for none.
	Jitter float64
}

// DefaultSchedule is the delivery retry schedule (after the Standard Webhooks
// example): a first attempt then seven retries spanning about 28 hours, ±20 %.
var DefaultSchedule = Schedule{
	Delays: []time.Duration{
		5 * time.Second,
		5 * time.Minute,
		30 * time.Minute,
		2 * time.Hour,
		5 * time.Hour,
		10 * time.Hour,
		10 * time.Hour,
	},
	Jitter: 0.2,
}

// Next returns how long to wait before the next attempt after `attempts` attempts
// have failed (1 after the first), and false when the schedule is exhausted and the
// delivery is dead (replayable by hand). A retryAfter from the receiver (Result.RetryAfter)
// wins when it is longer than the jittered delay; it never revives a dead delivery.
// rnd supplies the jitter; nil means the global math/rand/v2 source.
func (s Schedule) Next(attempts int, retryAfter time.Duration, rnd *rand.Rand) (time.Duration, bool) {
	if attempts < 1 {
		attempts = 1
	}
	if attempts > len(s.Delays) {
		return 0, false
	}
	d := s.Delays[attempts-1]
	if s.Jitter > 0 {
		f := rand.Float64
		if rnd != nil {
			f = rnd.Float64
		}
		d = time.Duration(float64(d) * (1 + s.Jitter*(2*f()-1)))
	}
	if retryAfter > MaxRetryAfter {
		retryAfter = MaxRetryAfter
	}
	return max(d, retryAfter), true
}

// Backoff is DefaultSchedule.Next.
func Backoff(attempts int, retryAfter time.Duration, rnd *rand.Rand) (time.Duration, bool) {
	return DefaultSchedule.Next(attempts, retryAfter, rnd)
}
