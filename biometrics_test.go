package onboarding_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
)

func TestBiometricsSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	b.svc = onboardingtest.NewService(t, b.store, &onboarding.Options{NowFunc: b.clock.Now,
		Biometrics: sandbox.Biometrics{NowFunc: b.clock.Now}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	sess, err := b.svc.StartBiometricsSession(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Contains(t, sess.URL, "https://")
	_, err = b.svc.StartBiometricsSession(ctx, "p1", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrSessionActive)
	_, err = b.svc.StartBiometricsSession(ctx, "p2", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	b.clock.Add(16 * time.Minute)
	_, err = b.svc.StartBiometricsSession(ctx, "p1", c.ID)
	require.NoError(t, err, "a new session once the last one expired")

	_, err = setup(t, nil).svc.StartBiometricsSession(ctx, "p1", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotConfigured)
}
