package onboarding_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func TestEventPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	evs, err := b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	var data map[string]any
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	for _, k := range []string{"id", "external_id", "name", "email", "phone", "cpf", "cnpj", "trading_name", "status", "kyc"} {
		assert.Contains(t, data, k)
	}
	assert.Equal(t, c.CPF.String(), data["cpf"])
	assert.Equal(t, "pending_kyc", data["status"])

	_, err = b.svc.DenyCustomer(ctx, "p1", c.ID, "sanctions list match", "")
	require.NoError(t, err)
	evs, err = b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: c.ID, Type: onboarding.EventCustomerDenied})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	data = nil
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	assert.Equal(t, "denied", data["status"])
	assert.NotContains(t, data, "kyc")
}
