package onboarding

import (
	"context"
	"time"
)

// NextStatus exposes the lifecycle for tests.
func NextStatus(ctx context.Context, from Status, ev LifecycleEvent) (Status, error) {
	to, _, err := nextStatus(ctx, from, ev)
	return to, err
}

// ProbeImage feeds b to an image probe in chunks of size chunk and returns what it read.
func ProbeImage(f Format, b []byte, chunk int) (width, height int, done bool, err error) {
	p := newImageProbe(f)
	for len(b) > 0 {
		n := min(chunk, len(b))
		p.write(b[:n])
		b = b[n:]
	}
	if err = p.check(DefaultMaxImagePixels, DefaultMaxImageSide); err == nil {
		err = p.finish()
	}
	return p.width, p.height, p.done, err
}

// SetRetryDelay replaces the backoff of failed jobs (1 s, doubling) for a test.
func SetRetryDelay(s *Service, f func(attempt int) time.Duration) { s.retryDelay = f }

// ClaimAhead replays finished-job counts, one per aheadWindow, through the meter of Run
// with the given workers and returns the jobs it claims ahead after each.
func ClaimAhead(workers int, finishedPerWindow []int64) []int {
	m := (&Service{workers: workers}).newAheadMeter()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var total int64
	out := []int{m.update(now, 0)}
	for _, n := range finishedPerWindow {
		now, total = now.Add(aheadWindow), total+n
		out = append(out, m.update(now, total))
	}
	return out
}
