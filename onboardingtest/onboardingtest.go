// Package onboardingtest helps the tests of code that embeds onboarding: a Service built
// for a test in one line, with documents in memory unless the test says otherwise.
package onboardingtest

import (
	"testing"

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
