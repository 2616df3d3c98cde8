package bunstore

import (
	"testing"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/store/storetest"
)

// TestConformance runs the shared Store suite on SQLite (a file per test) and on
// PostgreSQL (a schema per test) when ONBOARDING_TEST_POSTGRES_DSN is set.
func TestConformance(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			if b.name == "postgres" {
				postgresDSN(t) // skip (or fail under CI) before the suite starts
			}
			storetest.Run(t, func(t *testing.T) onboarding.Store { return New(b.open(t), nil) })
		})
	}
}
