package onboarding_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func TestCustomerJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := params(t)
	p.CNPJ = ""
	c, _, err := b.svc.CreateCustomer(context.Background(), "p1", p)
	require.NoError(t, err)
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Nil(t, m["cnpj"])
	assert.NotContains(t, m, "partner_id")
	assert.NotContains(t, m, "version")
	kyc := m["kyc"].([]any)
	require.Len(t, kyc, 2, "a person owes identity and selfie")
	item := kyc[0].(map[string]any)
	for _, k := range []string{"requirement_id", "requirement_type", "type", "kind", "label", "description", "mandatory", "status", "message", "uploaded_at", "subject"} {
		assert.Contains(t, item, k)
	}
	assert.Equal(t, "identity", item["requirement_type"])
}

func TestJSONRoundTrips(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(context.Background(), "p1", params(t))
	require.NoError(t, err)
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	var back onboarding.Customer
	require.NoError(t, json.Unmarshal(raw, &back))
	want := c.Clone()
	want.PartnerID, want.Version = "", 0
	assert.Equal(t, want, &back)
	assert.Error(t, json.Unmarshal([]byte(`{"cpf":"123.456.789-00"}`), &back), "the CPF is checked")

	o := &onboarding.CreditOffer{ID: "co_1", CustomerID: c.ID, ExternalID: "e", Status: onboarding.OfferAvailable,
		ApprovedAmount: 5_000_000, MinAmount: 500_000, MonthlyInterestRate: 34_900, MinInstallments: 3, MaxInstallments: 24,
		DueDateRule: "monthly", ValidUntil: b.clock.Now(), CreatedAt: b.clock.Now(), UpdatedAt: b.clock.Now()}
	raw, err = json.Marshal(o)
	require.NoError(t, err)
	var ob onboarding.CreditOffer
	require.NoError(t, json.Unmarshal(raw, &ob))
	assert.Equal(t, o, &ob)
}
