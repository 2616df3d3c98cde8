package scoring_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/scoring"
)

func ptr[T any](v T) *T { return &v }

var rulesNow = time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)

func decline(reason string) scoring.Decision {
	return scoring.Decision{Outcome: scoring.Decline, Reason: reason}
}

func approval(amountCents int64) scoring.Decision {
	d := validApproval()
	d.ApprovedAmountCents, d.MinAmountCents, d.Reason, d.Model = amountCents, amountCents/10, "", ""
	return d
}

func testRules() scoring.Rules {
	return scoring.Rules{
		Model: "rules-test-v1",
		Rules: []scoring.Rule{
			{Name: "no-company", When: scoring.Condition{HasCNPJ: ptr(false)}, Decision: decline("companies only")},
			{Name: "inactive", When: scoring.Condition{CompanyStatusIn: []string{"suspensa", "baixada"}}, Decision: decline("inactive")},
			{Name: "young", When: scoring.Condition{CompanyAgeUnderMonths: 6}, Decision: decline("")},
			{Name: "alnum", When: scoring.Condition{AlphanumericCNPJ: ptr(true)}, Decision: approval(1_000_000)},
			{Name: "big", When: scoring.Condition{LegalNatureIn: []string{"LTDA", "sa"}, CompanyAgeAtLeastMonths: 24}, Decision: approval(10_000_000)},
			{When: scoring.Condition{MatchFunc: func(r scoring.Request) bool { return r.CompanyPartners >= 3 }}, Decision: approval(7_000_000)},
		},
		Default: approval(2_000_000),
	}
}

func TestRulesFirstMatchWins(t *testing.T) {
	t.Parallel()

	numeric := "11222333000181"
	tests := []struct {
		name       string
		req        scoring.Request
		outcome    scoring.Outcome
		amount     int64
		reason     string
		model      string
		unmodified bool
	}{
		{name: "no CNPJ", req: scoring.Request{CPF: "12345678909"},
			outcome: scoring.Decline, reason: "companies only"},
		{name: "status, case-insensitive", req: scoring.Request{CNPJ: numeric, CompanyStatus: "Baixada"},
			outcome: scoring.Decline, reason: "inactive"},
		{name: "young company; reason defaults to the rule", req: scoring.Request{CNPJ: numeric, CompanyOpenedAt: rulesNow.AddDate(0, -5, 0)},
			outcome: scoring.Decline, reason: `rule "young"`},
		{name: "young beats alphanumeric (order)", req: scoring.Request{CNPJ: "12ABC34501DE35", CompanyOpenedAt: rulesNow.AddDate(0, -1, 0)},
			outcome: scoring.Decline, reason: `rule "young"`},
		{name: "alphanumeric", req: scoring.Request{CNPJ: "12ABC34501DE35"},
			outcome: scoring.Approve, amount: 1_000_000, reason: `rule "alnum"`},
		{name: "established ltda", req: scoring.Request{CNPJ: numeric, LegalNature: "ltda", CompanyOpenedAt: rulesNow.AddDate(-2, 0, 0)},
			outcome: scoring.Approve, amount: 10_000_000, reason: `rule "big"`},
		{name: "ltda one day short of 24 months", req: scoring.Request{CNPJ: numeric, LegalNature: "ltda", CompanyOpenedAt: rulesNow.AddDate(-2, 0, 1)},
			outcome: scoring.Approve, amount: 2_000_000, reason: "default"},
		{name: "age unknown fails age tests", req: scoring.Request{CNPJ: numeric, LegalNature: "sa"},
			outcome: scoring.Approve, amount: 2_000_000, reason: "default"},
		{name: "predicate; unnamed rule", req: scoring.Request{CNPJ: numeric, CompanyPartners: 3},
			outcome: scoring.Approve, amount: 7_000_000, reason: "rule #6"},
		{name: "default", req: scoring.Request{CNPJ: numeric, LegalNature: "mei", CompanyOpenedAt: rulesNow.AddDate(-10, 0, 0)},
			outcome: scoring.Approve, amount: 2_000_000, reason: "default"},
	}
	rules := testRules()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.req.Now = rulesNow
			d, err := rules.Score(t.Context(), tt.req)
			require.NoError(t, err)
			require.NoError(t, d.Validate())
			assert.Equal(t, tt.outcome, d.Outcome)
			assert.Equal(t, tt.amount, d.ApprovedAmountCents)
			assert.Equal(t, tt.reason, d.Reason)
			assert.Equal(t, "rules-test-v1", d.Model)
		})
	}
}

func TestRulesModelFallbacks(t *testing.T) {
	t.Parallel()
	own := approval(100_00)
	own.Model, own.Reason = "own-v2", "own reason"
	d, err := scoring.Rules{Rules: []scoring.Rule{{Decision: own}}}.Score(t.Context(), scoring.Request{})
	require.NoError(t, err)
	assert.Equal(t, "own-v2", d.Model, "a decision's own model is kept")
	assert.Equal(t, "own reason", d.Reason)

	d, err = scoring.Rules{Default: approval(100_00)}.Score(t.Context(), scoring.Request{})
	require.NoError(t, err)
	assert.Equal(t, "rules", d.Model)
}

func TestRulesEmptyConditionIsCatchAll(t *testing.T) {
	t.Parallel()
	r := scoring.Rules{Rules: []scoring.Rule{{Name: "all", Decision: decline("")}}, Default: approval(100_00)}
	for _, req := range []scoring.Request{{}, {CNPJ: "12ABC34501DE35", LegalNature: "mei"}} {
		d, err := r.Score(t.Context(), req)
		require.NoError(t, err)
		assert.Equal(t, scoring.Decline, d.Outcome)
	}
}

func TestRulesNoMatchNoDefaultIsPermanent(t *testing.T) {
	t.Parallel()
	r := scoring.Rules{Rules: []scoring.Rule{{When: scoring.Condition{LegalNatureIn: []string{"mei"}}, Decision: decline("")}}}
	_, err := r.Score(t.Context(), scoring.Request{LegalNature: "ltda"})
	require.Error(t, err)
	assert.True(t, scoring.IsPermanent(err))
	assert.Contains(t, err.Error(), "no rule matched")

	_, err = r.Score(t.Context(), scoring.Request{}) // unknown legal nature matches no set
	assert.True(t, scoring.IsPermanent(err))
}

func TestRulesInvalidDecisionIsPermanent(t *testing.T) {
	t.Parallel()
	bad := approval(100_00)
	bad.MinAmountCents = 200_00
	r := scoring.Rules{Rules: []scoring.Rule{{Name: "broken", Decision: bad}}}
	_, err := r.Score(t.Context(), scoring.Request{})
	require.Error(t, err)
	assert.True(t, scoring.IsPermanent(err))
	assert.ErrorIs(t, err, scoring.ErrInvalidDecision)
	assert.Contains(t, err.Error(), `rule "broken"`)
}

func TestRulesHonorsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := testRules().Score(ctx, scoring.Request{})
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, scoring.IsPermanent(err))
}

func TestRulesValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, testRules().Validate())
	require.NoError(t, scoring.Rules{}.Validate(), "no rules and no default is valid (if useless)")

	bad := approval(100_00)
	bad.ValidFor = 0
	err := scoring.Rules{
		Rules: []scoring.Rule{
			{Name: "ok", Decision: decline("")},
			{Decision: bad},
			{Name: "neg", When: scoring.Condition{CompanyAgeUnderMonths: -1}, Decision: decline("")},
		},
		Default: scoring.Decision{Outcome: "maybe"},
	}.Validate()
	require.Error(t, err)
	assert.ErrorIs(t, err, scoring.ErrInvalidDecision)
	for _, want := range []string{"rule #2: scoring: invalid decision: validity must be positive",
		`rule "neg": company age thresholds must not be negative`, `default: scoring: invalid decision: outcome must be`} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), `"ok"`)
}

func TestRulesJSON(t *testing.T) {
	t.Parallel()
	const config = `{
	  "model": "rules-v3",
	  "rules": [
	    {"name": "no-company", "when": {"has_cnpj": false}, "decision": {"outcome": "decline", "reason": "companies only"}},
	    {"name": "young", "when": {"company_age_under_months": 6}, "decision": {"outcome": "decline"}},
	    {"name": "numeric-ltda", "when": {"legal_nature_in": ["ltda", "slu"], "alphanumeric_cnpj": false, "company_age_at_least_months": 24},
	     "decision": {"outcome": "approve", "approved_amount_cents": 10000000, "min_amount_cents": 1000000,
	       "monthly_rate": 2.49, "min_installments": 6, "max_installments": 24, "due_date_rule": "monthly", "valid_for": "720h"}}
	  ],
	  "default": {"outcome": "approve", "approved_amount_cents": 1500000, "min_amount_cents": 150000,
	    "monthly_rate": 3.99, "installments": 12, "due_date_rule": "monthly", "valid_for": "168h"}
	}`
	var r scoring.Rules
	require.NoError(t, json.Unmarshal([]byte(config), &r))
	require.NoError(t, r.Validate())
	require.Len(t, r.Rules, 3)
	assert.Equal(t, ptr(false), r.Rules[2].When.AlphanumericCNPJ)

	d, err := r.Score(t.Context(), scoring.Request{
		CNPJ: "11222333000181", LegalNature: "LTDA", CompanyOpenedAt: rulesNow.AddDate(-3, 0, 0), Now: rulesNow,
	})
	require.NoError(t, err)
	assert.Equal(t, scoring.Decision{
		Outcome: scoring.Approve, ApprovedAmountCents: 10_000_000, MinAmountCents: 1_000_000,
		MonthlyRate: 249 * money.BasisPoint, MinInstallments: 6, MaxInstallments: 24,
		DueDateRule: "monthly", ValidFor: 30 * 24 * time.Hour, Reason: `rule "numeric-ltda"`, Model: "rules-v3",
	}, d)

	// The same company with an alphanumeric CNPJ falls to the default.
	d, err = r.Score(t.Context(), scoring.Request{
		CNPJ: "12ABC34501DE35", LegalNature: "ltda", CompanyOpenedAt: rulesNow.AddDate(-3, 0, 0), Now: rulesNow,
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1_500_000), d.ApprovedAmountCents)
	assert.Equal(t, 12, d.Installments)

	// It round-trips.
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var again scoring.Rules
	require.NoError(t, json.Unmarshal(b, &again))
	assert.Equal(t, r, again)
}
