// Package onboardingtest helps the tests of code that embeds onboarding: a Service built
// for a test in one line, with documents in memory unless the test says otherwise.
package onboardingtest

import (
	"sync"
	"testing"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/sandbox"
)

// NewService returns a Service over store for the test tb, which it fails when
// onboarding.New refuses the options. opts may be nil; a nil Blobs becomes a
// sandbox.MemoryBlobStore (opts itself is not modified).
func NewService(tb testing.TB, store onboarding.Store, opts *onboarding.Options) *onboarding.Service {
	tb.Helper()
	var o onboarding.Options
	if opts != nil {
		o = *opts
	}
	if o.Blobs == nil {
		o.Blobs = sandbox.NewMemoryBlobStore()
	}
	svc, err := onboarding.New(store, &o)
	if err != nil {
		tb.Fatalf("onboarding.New: %v", err)
	}
	return svc
}

// Clock is a clock for Options.NowFunc that moves only when the test says: Now returns the
// time last Set, plus what Add added since. It is safe for concurrent use (HTTP handlers
// and workers read it from their own goroutines).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set makes the clock read t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
