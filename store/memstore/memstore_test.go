package memstore_test

import (
	"testing"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(*testing.T) onboarding.Store { return memstore.New() })
}
