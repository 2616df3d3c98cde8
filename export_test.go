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
