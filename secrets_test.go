package onboarding_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gocloud.dev/secrets/localsecrets"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
)

func TestWebhookSecretsSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	plain := setup(t, nil) // no keeper yet
	legacy, legacySecret, err := plain.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://a.example/h"})
	require.NoError(t, err)
	_, err = plain.svc.SealWebhookSecrets(ctx)
	assert.ErrorIs(t, err, onboarding.ErrNotConfigured)

	key, err := localsecrets.NewRandomKey()
	require.NoError(t, err)
	keeper := localsecrets.NewKeeper(key)
	t.Cleanup(func() { _ = keeper.Close() })
	svc := onboardingtest.NewService(t, plain.store, &onboarding.Options{Blobs: plain.blobs, NowFunc: plain.clock.Now, SecretsKeeper: keeper})
	ep, secret, err := svc.CreateWebhookEndpoint(ctx, "p2", onboarding.CreateEndpointParams{URL: "https://b.example/h"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(secret, "whsec_"))
	assert.Equal(t, secret, ep.Secrets[0].Value, "the caller sees the plaintext")

	stored, err := plain.store.GetEndpoint(ctx, "p2", ep.ID)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(stored.Secrets[0].Value, "sealed:v1:"), "the Store sees ciphertext")
	assert.NotContains(t, stored.Secrets[0].Value, strings.TrimPrefix(secret, "whsec_"))
	got, err := svc.GetWebhookEndpoint(ctx, "p2", ep.ID)
	require.NoError(t, err)
	assert.Equal(t, secret, got.Secrets[0].Value)
	_, err = plain.svc.GetWebhookEndpoint(ctx, "p2", ep.ID)
	assert.Error(t, err, "a Service without the keeper cannot read it")

	// Rotation keeps both sealed.
	next, _, err := svc.RotateWebhookSecret(ctx, "p2", ep.ID, time.Hour)
	require.NoError(t, err)
	stored, err = plain.store.GetEndpoint(ctx, "p2", ep.ID)
	require.NoError(t, err)
	require.Len(t, stored.Secrets, 2)
	got, err = svc.GetWebhookEndpoint(ctx, "p2", ep.ID)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{secret, next}, []string{got.Secrets[0].Value, got.Secrets[1].Value})

	// The legacy endpoint is still read in plaintext, until SealWebhookSecrets.
	got, err = svc.GetWebhookEndpoint(ctx, "p1", legacy.ID)
	require.NoError(t, err)
	assert.Equal(t, legacySecret, got.Secrets[0].Value)
	n, err := svc.SealWebhookSecrets(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the plaintext one")
	stored, err = plain.store.GetEndpoint(ctx, "p1", legacy.ID)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(stored.Secrets[0].Value, "sealed:v1:"))
	n, err = svc.SealWebhookSecrets(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "idempotent")
	got, err = svc.GetWebhookEndpoint(ctx, "p1", legacy.ID)
	require.NoError(t, err)
	assert.Equal(t, legacySecret, got.Secrets[0].Value)
}
