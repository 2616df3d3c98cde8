package simulation_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/simulation"
)

// TestWorkedExample checks one simulation against figures worked out by hand (and
// re-checked with 50-digit decimal arithmetic).
//
// Inputs: R$ 10,000.00 requested in 12 monthly installments at 2.99 % a month, simulated
// on 15 January 2026; IOF at the defaults (0.0082 % a day, 0.38 % additional, 365-day
// cap); a flat fee of R$ 200.00.
//
// 1. Due dates (rule "monthly"): 15 Feb 2026, 15 Mar, … 15 Jan 2027. Days from 15 Jan
// 2026: 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365 (none above the cap).
//
// 2. Fee = R$ 200.00 + 0 % = R$ 200.00, so the base to finance is R$ 10,200.00.
//
// 3. IOF coefficient. With i = 0.0299, q = 1.0299 and q^12 = 1.424100692899…, the share
// of the principal amortized by installment j is a_j = i·q^(j−1)/(q^12 − 1) =
// 0.0299·q^(j−1)/0.424100692899…:
//
//	a_1  = 0.07050212   a_2  = 0.07261014   a_3  = 0.07478118   a_4  = 0.07701714
//	a_5  = 0.07931995   a_6  = 0.08169162   a_7  = 0.08413420   a_8  = 0.08664981
//	a_9  = 0.08924064   a_10 = 0.09190893   a_11 = 0.09465701   a_12 = 0.09748726
//
// (they sum to 1). Weighted days Σ a_j·days_j = 207.599076675583…; times the daily rate
// 0.000082 that is 0.017023124287398; plus the additional 0.0038:
// k = 0.020823124287398 (about 2.08 % of the principal).
//
// 4. Principal P = 10,200.00 / (1 − k) = 10,200.00 / 0.979176875712602 =
// 10,416.912667159… → R$ 10,416.91. IOF = 10,416.91 − 10,000.00 − 200.00 = R$ 216.91
// (and P·k = 216.9126…, which rounds to the same).
//
// 5. Installment PMT = P·i·q^12/(q^12 − 1) = 10,416.91 × 0.0299 × 1.424100692899… /
// 0.424100692899… = 1,045.879898377… → R$ 1,045.88.
//
// 6. Schedule (interest = round(balance × 0.0299), amortization = 1,045.88 − interest):
//
//	 #  interest  amortization   balance after
//	 1    311.47        734.41        9,682.50   (10,416.91 × 0.0299 = 311.465609)
//	 2    289.51        756.37        8,926.13
//	 3    266.89        778.99        8,147.14
//	 4    243.60        802.28        7,344.86
//	 5    219.61        826.27        6,518.59
//	 6    194.91        850.97        5,667.62
//	 7    169.46        876.42        4,791.20
//	 8    143.26        902.62        3,888.58
//	 9    116.27        929.61        2,958.97
//	10     88.47        957.41        2,001.56
//	11     59.85        986.03        1,015.53
//	12     30.36      1,015.53            0.00   (last: 1,015.53 + 30.36 = 1,045.89)
//
// The amortizations sum to 10,416.91; the last installment is one centavo more.
//
// 7. Total = 11 × 1,045.88 + 1,045.89 = R$ 12,550.57; interest = 12,550.57 −
// 10,416.91 = R$ 2,133.66.
//
// 8. Rates: annual interest (1.0299)^12 − 1 = 0.424100692899 → 42.4101 %. The CET is
// the m with Σ_k installment_k/(1+m)^k = 10,000.00: m = 0.036807952019911 (bisection
// to 50 steps agrees) → 3.6808 % a month; (1+m)^12 − 1 = 0.543049412163 → 54.3049 % a
// year.
func TestWorkedExample(t *testing.T) {
	t.Parallel()

	cfg := simulation.DefaultConfig()
	cfg.Fee = simulation.Fee{Flat: money.Reais(200)}
	offer := simulation.Offer{
		ID:                  "co_example",
		MonthlyInterestRate: 299 * money.BasisPoint,
		MinAmount:           money.Reais(1_000),
		MaxAmount:           money.Reais(50_000),
		MinInstallments:     6,
		MaxInstallments:     24,
	}
	sim, err := simulation.Simulate(offer, simulation.Request{
		RequestedAmount:  money.Reais(10_000),
		InstallmentCount: 12,
		Date:             time.Date(2026, time.January, 15, 14, 30, 0, 0, time.UTC),
	}, cfg)
	require.NoError(t, err)

	wantDays := []int{31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365}
	wantInterest := []money.Money{31147, 28951, 26689, 24360, 21961, 19491, 16946, 14326, 11627, 8847, 5985, 3036}
	wantBalance := []money.Money{968250, 892613, 814714, 734486, 651859, 566762, 479120, 388858, 295897, 200156, 101553, 0}
	require.Len(t, sim.Installments, 12)
	for j, in := range sim.Installments {
		assert.Equal(t, time.Date(2026, time.Month(2+j), 15, 0, 0, 0, 0, time.UTC), in.DueDate, j)
		assert.Equal(t, wantDays[j], in.Days, j)
		assert.Equal(t, wantInterest[j], in.Interest, j)
		assert.Equal(t, wantBalance[j], in.Balance, j)
		want := money.Money(104588)
		if j == 11 {
			want = 104589
		}
		assert.Equal(t, want, in.Amount, j)
	}

	assert.Equal(t, "co_example", sim.CreditOfferID)
	assert.Equal(t, money.Money(1_000_000), sim.RequestedAmount)
	assert.Equal(t, money.Money(20_000), sim.FeeAmount)
	assert.Equal(t, money.Money(21_691), sim.IOFAmount)
	assert.Equal(t, money.Money(1_041_691), sim.PrincipalAmount)
	assert.Equal(t, money.Money(104_588), sim.InstallmentAmount)
	assert.Equal(t, money.Money(1_255_057), sim.TotalAmount)
	assert.Equal(t, money.Money(213_366), sim.InterestAmount)
	assert.Equal(t, money.Rate(29_900), sim.MonthlyInterestRate)
	assert.Equal(t, money.Rate(424_101), sim.AnnualInterestRate)
	assert.Equal(t, money.Rate(36_808), sim.MonthlyCETRate)
	assert.Equal(t, money.Rate(543_049), sim.AnnualCETRate)
	assert.InDelta(t, 0.036807952019911, sim.MonthlyCET, 1e-13)
	assert.Equal(t, "2026-02-15", sim.FirstDueDate)
	assert.Empty(t, sim.ID)
	assert.Zero(t, sim.CreatedAt)
}
