package simulation_test

import (
	"fmt"
	"time"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/simulation"
)

// ExampleSimulate prices R$ 10,000.00 in 12 monthly installments at 2.99 % a month, with
// the decree's IOF for companies and a R$ 200.00 fee (the worked example of the tests).
func ExampleSimulate() {
	rule, err := simulation.ParseDueDateRule("monthly") // the offer's due_date_rule
	if err != nil {
		panic(err)
	}
	offer := simulation.Offer{
		ID:                  "co_123",
		MonthlyInterestRate: 299 * money.BasisPoint,
		MinAmount:           money.Reais(1_000),
		MaxAmount:           money.Reais(50_000),
		MinInstallments:     6,
		MaxInstallments:     24,
		DueDateRule:         rule,
	}
	cfg := simulation.DefaultConfig()
	cfg.Fee = simulation.Fee{Flat: money.Reais(200)}

	sim, err := simulation.Simulate(offer, simulation.Request{
		RequestedAmount:  money.Reais(10_000),
		InstallmentCount: 12,
		Date:             time.Date(2026, time.January, 15, 0, 0, 0, 0, time.UTC),
	}, cfg)
	if err != nil {
		panic(err)
	}
	fmt.Println("principal:", sim.PrincipalAmount, "= requested", sim.RequestedAmount, "+ IOF", sim.IOFAmount, "+ fee", sim.FeeAmount)
	fmt.Println("installments:", sim.InstallmentCount, "×", sim.InstallmentAmount, "from", sim.FirstDueDate)
	fmt.Println("total:", sim.TotalAmount, "interest:", sim.InterestAmount)
	fmt.Printf("rate: %s %% a month, %s %% a year\n", sim.MonthlyInterestRate, sim.AnnualInterestRate)
	fmt.Printf("CET: %s %% a month, %s %% a year\n", sim.MonthlyCETRate, sim.AnnualCETRate)

	_, err = simulation.Simulate(offer, simulation.Request{RequestedAmount: money.Reais(60_000), InstallmentCount: 12}, cfg)
	fmt.Println(err)
	// Output:
	// principal: 10416.91 = requested 10000.00 + IOF 216.91 + fee 200.00
	// installments: 12 × 1045.88 from 2026-02-15
	// total: 12550.57 interest: 2133.66
	// rate: 2.99 % a month, 42.4101 % a year
	// CET: 3.6808 % a month, 54.3049 % a year
	// simulation: outside the offer's range: requested_amount: must be between 1000.00 and 50000.00
}
