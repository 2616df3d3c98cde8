package scoring_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/scoring"
)

// reais formats centavos for the examples.
func reais(cents int64) string { return fmt.Sprintf("R$ %d.%02d", cents/100, cents%100) }

// A custom scorer: a function wrapped in Func. It approves MEIs with a small fixed offer,
// declines people without a company, and treats a missing legal nature as a permanent
// failure, which ends the analysis instead of retrying it.
func ExampleFunc() {
	scorer := scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		switch {
		case req.CNPJ == "":
			return scoring.Decision{Outcome: scoring.Decline, Reason: "companies only", Model: "acme-v1"}, nil
		case req.LegalNature == "":
			return scoring.Decision{}, scoring.Permanent(errors.New("acme: legal nature unknown"))
		}
		return scoring.Decision{
			Outcome:             scoring.Approve,
			ApprovedAmountCents: 20_000_00, // R$ 20,000.00
			MinAmountCents:      2_000_00,
			MonthlyRate:         349 * money.BasisPoint, // 3.49 % a month
			Installments:        12,
			DueDateRule:         scoring.DueMonthly,
			ValidFor:            7 * 24 * time.Hour,
			Reason:              "mei policy",
			Model:               "acme-v1",
		}, nil
	})

	ctx := context.Background()
	for _, req := range []scoring.Request{
		{CNPJ: "11222333000181", LegalNature: "mei"},
		{CPF: "12345678909"},
		{CNPJ: "11222333000181"},
	} {
		d, err := scorer.Score(ctx, req)
		switch {
		case scoring.IsPermanent(err):
			fmt.Println("failed for good:", err)
		case err != nil:
			fmt.Println("retry later:", err)
		case d.Validate() != nil:
			fmt.Println("invalid:", d.Validate())
		case d.Approved():
			fmt.Printf("approved %s (min %s) at %s %% a month, %d installments, valid %s\n",
				reais(d.ApprovedAmountCents), reais(d.MinAmountCents), d.MonthlyRate, d.Installments, d.ValidFor)
		default:
			fmt.Println("declined:", d.Reason)
		}
	}
	// Output:
	// approved R$ 20000.00 (min R$ 2000.00) at 3.49 % a month, 12 installments, valid 168h0m0s
	// declined: companies only
	// failed for good: acme: legal nature unknown
}

// The sandbox approves on terms derived from the CNPJ and follows a script for the magic
// CNPJ roots.
func ExampleSandbox() {
	ctx := context.Background()
	var sandbox scoring.Sandbox

	d, _ := sandbox.Score(ctx, scoring.Request{CNPJ: "11222333000181"})
	fmt.Printf("%s: %s, min %s, %s %% a month, %d..%d installments, %s, valid %s, by %s\n",
		d.Outcome, reais(d.ApprovedAmountCents), reais(d.MinAmountCents), d.MonthlyRate,
		d.MinInstallments, d.MaxInstallments, d.DueDateRule, d.ValidFor, d.Model)

	d, _ = sandbox.Score(ctx, scoring.Request{CNPJ: "11.111.111/0001-91"})
	fmt.Println(d.Outcome, "-", d.Reason)

	for attempt := 1; attempt <= 3; attempt++ {
		d, err := sandbox.Score(ctx, scoring.Request{CNPJ: "22.222.222/0001-91", Attempt: attempt})
		fmt.Printf("attempt %d: err=%v permanent=%t outcome=%q\n", attempt, err != nil, scoring.IsPermanent(err), d.Outcome)
	}

	_, err := sandbox.Score(ctx, scoring.Request{CNPJ: "33.333.333/0001-91"})
	fmt.Println("permanent:", scoring.IsPermanent(err))

	// Output:
	// approve: R$ 119000.00, min R$ 11900.00, 3.3 % a month, 3..24 installments, monthly, valid 720h0m0s, by sandbox-v1
	// decline - sandbox: declined (magic CNPJ raiz 11111111)
	// attempt 1: err=true permanent=false outcome=""
	// attempt 2: err=true permanent=false outcome=""
	// attempt 3: err=false permanent=false outcome="approve"
	// permanent: true
}

// Rules loaded from JSON (YAML works the same way, with the same keys).
func ExampleRules() {
	const config = `{
	  "model": "rules-v3",
	  "rules": [
	    {"name": "young", "when": {"company_age_under_months": 6},
	     "decision": {"outcome": "decline", "reason": "company younger than 6 months"}},
	    {"name": "established", "when": {"legal_nature_in": ["ltda", "sa"], "company_age_at_least_months": 24},
	     "decision": {"outcome": "approve", "approved_amount_cents": 10000000, "min_amount_cents": 1000000,
	       "monthly_rate": 2.49, "min_installments": 6, "max_installments": 24, "due_date_rule": "monthly", "valid_for": "720h"}}
	  ],
	  "default": {"outcome": "approve", "approved_amount_cents": 1500000, "min_amount_cents": 150000,
	    "monthly_rate": 3.99, "installments": 12, "due_date_rule": "monthly", "valid_for": "168h"}
	}`
	var rules scoring.Rules
	if err := json.Unmarshal([]byte(config), &rules); err != nil {
		fmt.Println(err)
		return
	}
	if err := rules.Validate(); err != nil {
		fmt.Println(err)
		return
	}

	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, req := range []scoring.Request{
		{CNPJ: "11222333000181", LegalNature: "ltda", CompanyOpenedAt: now.AddDate(-5, 0, 0), Now: now},
		{CNPJ: "11222333000181", LegalNature: "ltda", CompanyOpenedAt: now.AddDate(0, -2, 0), Now: now},
		{CNPJ: "11222333000181", LegalNature: "mei", Now: now},
	} {
		d, err := rules.Score(context.Background(), req)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s %s at %s %% (%s, %s)\n", d.Outcome, reais(d.ApprovedAmountCents), d.MonthlyRate, d.Reason, d.Model)
	}
	// Output:
	// approve R$ 100000.00 at 2.49 % (rule "established", rules-v3)
	// decline R$ 0.00 at 0 % (company younger than 6 months, rules-v3)
	// approve R$ 15000.00 at 3.99 % (default, rules-v3)
}

// A chain falls back to the next scorer when one fails.
func ExampleChain() {
	bureau := scoring.Func(func(context.Context, scoring.Request) (scoring.Decision, error) {
		return scoring.Decision{}, errors.New("bureau: timeout")
	})
	scorer := scoring.Chain(bureau, scoring.Sandbox{})

	d, err := scorer.Score(context.Background(), scoring.Request{CNPJ: "11222333000181"})
	fmt.Println(d.Outcome, d.Model, err)

	_, err = scoring.Chain(bureau, scoring.Sandbox{}).Score(context.Background(), scoring.Request{CNPJ: "33333333000191"})
	fmt.Println(err)
	fmt.Println("permanent:", scoring.IsPermanent(err))
	// Output:
	// approve sandbox-v1 <nil>
	// scoring: chain failed: scorer 0: bureau: timeout; scorer 1: scoring: sandbox: simulated permanent failure (magic CNPJ raiz 33333333)
	// permanent: false
}
