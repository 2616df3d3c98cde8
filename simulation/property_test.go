package simulation_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/simulation"
)

const propertyIterations = 3000

// randomCase draws an offer, a request inside it and a config.
func randomCase(r *rand.Rand) (simulation.Offer, simulation.Request, simulation.Config) {
	var rate money.Rate
	switch r.IntN(5) {
	case 0:
		rate = 0
	case 1:
		rate = money.Rate(r.Int64N(int64(50 * money.Percent))) // up to 50 % a month
	default:
		rate = money.Rate(r.Int64N(int64(8*money.Percent))) + 1
	}
	n := 1 + r.IntN(60)
	if r.IntN(10) == 0 {
		n = 1 + r.IntN(simulation.MaxInstallmentCount)
	}
	requested := money.Money(50_000 + r.Int64N(200_000_000)) // R$ 500.00 to R$ 2,000,500.00
	if r.IntN(20) == 0 {
		requested = money.Money(1 + r.Int64N(50_000)) // small, may not split into n
	}
	offer := simulation.Offer{
		ID:                  "co_x",
		MonthlyInterestRate: rate,
		MinAmount:           requested - money.Money(r.Int64N(int64(requested))),
		MaxAmount:           requested + money.Money(r.Int64N(100_000_000)),
		MinInstallments:     1 + r.IntN(n),
		MaxInstallments:     n + r.IntN(simulation.MaxInstallmentCount-n+1),
	}
	cfg := simulation.Config{}
	switch r.IntN(4) {
	case 0: // no IOF, no fee
	case 1:
		cfg = simulation.DefaultConfig()
	case 2:
		cfg = simulation.DefaultConfig()
		cfg.Fee = simulation.Fee{Flat: money.Money(r.Int64N(100_000)), Percent: money.Rate(r.Int64N(int64(5 * money.Percent)))}
	case 3:
		cfg = simulation.Config{
			IOFDailyRate:      simulation.DailyRate(r.Int64N(20_000)),
			IOFAdditionalRate: money.Rate(r.Int64N(int64(2 * money.Percent))),
			IOFDaysCap:        r.IntN(800),
		}
		if r.IntN(2) == 0 {
			cfg.Fee.Percent = money.Rate(r.Int64N(int64(3 * money.Percent)))
		}
	}
	date := time.Date(2020+r.IntN(10), time.Month(1+r.IntN(12)), 1+r.IntN(31), r.IntN(24), 0, 0, 0, time.UTC)
	return offer, simulation.Request{RequestedAmount: requested, InstallmentCount: n, Date: date}, cfg
}

// npv returns Σ_k amounts[k−1]/(1+r)^k − received, in centavos.
func npv(received money.Money, ins []simulation.Installment, r float64) float64 {
	sum := 0.0
	for k, in := range ins {
		sum += float64(in.Amount) / math.Pow(1+r, float64(k+1))
	}
	return sum - float64(received)
}

// npvSlope returns |d npv / dr| at r.
func npvSlope(ins []simulation.Installment, r float64) float64 {
	sum := 0.0
	for k, in := range ins {
		sum += float64(k+1) * float64(in.Amount) / math.Pow(1+r, float64(k+2))
	}
	return sum
}

// annuity returns Σ_{k=1..n} (1+i)^−k, and s(n, i) = Σ_{k=0..n−1} (1+i)^k.
func annuity(i float64, n int) (presentFactor, futureFactor float64) {
	for k := 1; k <= n; k++ {
		presentFactor += math.Pow(1+i, -float64(k))
		futureFactor += math.Pow(1+i, float64(k-1))
	}
	return presentFactor, futureFactor
}

func TestSimulateProperties(t *testing.T) {
	t.Parallel()

	r := rand.New(rand.NewPCG(7, 11))
	var checked, tooSmall, cetAboveRate int
	for range propertyIterations {
		offer, req, cfg := randomCase(r)
		sim, err := simulation.Simulate(offer, req, cfg)
		if err != nil {
			var verr *simulation.ValidationError
			require.ErrorAs(t, err, &verr)
			require.ErrorIs(t, err, simulation.ErrOutOfRange)
			require.Equal(t, "requested_amount", verr.Field)
			if req.RequestedAmount < cfg.Fee.Amount(req.RequestedAmount) {
				require.Contains(t, verr.Reason, "less than the fee")
				tooSmall++
				continue
			}
			require.Contains(t, verr.Reason, "too small")
			// Only a principal below a centavo per installment and its rounding drift
			// can fail to split.
			_, s := annuity(float64(offer.MonthlyInterestRate)/1e6, req.InstallmentCount)
			require.Less(t, float64(req.RequestedAmount), float64(req.InstallmentCount)*(s+2), "%+v %+v", offer, req)
			tooSmall++
			continue
		}
		checked++
		n, i := req.InstallmentCount, float64(offer.MonthlyInterestRate)/1e6
		p := float64(sim.PrincipalAmount)
		present, future := annuity(i, n)

		// principal = requested + IOF + fee, exactly; the fee is as configured.
		require.Equal(t, sim.RequestedAmount+sim.IOFAmount+sim.FeeAmount, sim.PrincipalAmount)
		require.Equal(t, cfg.Fee.Amount(req.RequestedAmount), sim.FeeAmount)

		// The IOF is the decree's formula on the principal, to the centavo.
		daysCap := cfg.IOFDaysCap
		if daysCap == 0 {
			daysCap = simulation.DefaultIOFDaysCap
		}
		weighted := 0.0
		for k, in := range sim.Installments {
			share := 1 / float64(n)
			if i > 0 {
				share = i * math.Pow(1+i, float64(k)) / (math.Pow(1+i, float64(n)) - 1)
			}
			weighted += share * float64(min(in.Days, daysCap))
		}
		k := float64(cfg.IOFDailyRate)/1e8*weighted + float64(cfg.IOFAdditionalRate)/1e6
		require.InDelta(t, p*k, float64(sim.IOFAmount), 0.5+1e-9*p, "k=%v", k)

		// installment = PMT(principal, rate, n) within a centavo.
		exact := p / float64(n)
		if i > 0 {
			exact = p * i / (1 - math.Pow(1+i, -float64(n)))
		}
		require.InDelta(t, exact, float64(sim.InstallmentAmount), 0.5+1e-9*exact)

		// The schedule: regular installments, amortizations summing to the principal,
		// the last installment absorbing at most the rounding drift.
		var amortized, total money.Money
		for k, in := range sim.Installments {
			require.Equal(t, k+1, in.Number)
			require.Equal(t, in.Interest+in.Amortization, in.Amount)
			require.Positive(t, in.Amount)
			require.GreaterOrEqual(t, in.Amortization, money.Money(0))
			if k < n-1 {
				require.Equal(t, sim.InstallmentAmount, in.Amount)
			}
			amortized += in.Amortization
			total += in.Amount
			require.Equal(t, sim.PrincipalAmount-amortized, in.Balance)
		}
		last := sim.Installments[n-1]
		require.Zero(t, last.Balance)
		require.InDelta(t, exact, float64(last.Amount), future+1)
		require.Equal(t, sim.PrincipalAmount, amortized)
		require.Equal(t, total, sim.TotalAmount)
		require.Equal(t, sim.TotalAmount-sim.PrincipalAmount, sim.InterestAmount)

		// The CET is the IRR: the NPV at it is 0, and it brackets the root to 1e-10.
		cet := sim.MonthlyCET
		received := float64(sim.RequestedAmount)
		require.InDelta(t, 0, npv(sim.RequestedAmount, sim.Installments, cet)/received, 1e-10)
		if cet > 1e-10 {
			require.Positive(t, npv(sim.RequestedAmount, sim.Installments, cet-1e-10))
		}
		require.Negative(t, npv(sim.RequestedAmount, sim.Installments, cet+1e-10))

		// CET versus the nominal rate. At the nominal rate, the NPV of the schedule is
		// (principal − requested) plus the discounted interest roundings (at most half a
		// centavo each).
		if sim.IOFAmount == 0 && sim.FeeAmount == 0 {
			x := math.Abs(npv(sim.RequestedAmount, sim.Installments, i))
			require.LessOrEqual(t, x, 0.5*present+1e-6*p)
			slope := math.Min(npvSlope(sim.Installments, i), npvSlope(sim.Installments, cet))
			require.InDelta(t, i, cet, x/slope+1e-12)
		} else if float64(sim.IOFAmount+sim.FeeAmount) > 0.5*present {
			require.Greater(t, cet, i)
			cetAboveRate++
		}

		// Rates are the rounded fractions; annual ones compound the monthly ones.
		require.InDelta(t, cet*1e6, float64(sim.MonthlyCETRate), 0.5+1e-6)
		require.InDelta(t, (math.Pow(1+cet, 12)-1)*1e6, float64(sim.AnnualCETRate), 0.5+1e-6*cet*1e6)
		require.InDelta(t, (math.Pow(1+i, 12)-1)*1e6, float64(sim.AnnualInterestRate), 0.5+1e-9*i*1e6)
		require.Equal(t, offer.MonthlyInterestRate, sim.MonthlyInterestRate)
		require.Equal(t, n, sim.InstallmentCount)
		require.Equal(t, sim.Installments[0].DueDate.Format(simulation.DateLayout), sim.FirstDueDate)
	}
	t.Logf("checked %d simulations (%d with CET > rate checked); %d amounts too small to split", checked, cetAboveRate, tooSmall)
	require.Greater(t, checked, propertyIterations*9/10)
	require.Greater(t, cetAboveRate, propertyIterations/3)
}

// TestZeroTaxesCETEqualsRate: with no IOF and no fee, the CET is the nominal rate (to
// the precision of a money.Rate for these amounts).
func TestZeroTaxesCETEqualsRate(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		rate money.Rate
		n    int
	}{{0, 1}, {0, 12}, {299 * money.BasisPoint, 12}, {150 * money.BasisPoint, 48}, {500 * money.BasisPoint, 6}} {
		offer := simulation.Offer{MonthlyInterestRate: tc.rate, MaxAmount: money.Reais(1_000_000), MinInstallments: 1, MaxInstallments: 60}
		sim, err := simulation.Simulate(offer, simulation.Request{RequestedAmount: money.Reais(100_000), InstallmentCount: tc.n, Date: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)}, simulation.Config{})
		require.NoError(t, err)
		require.Zero(t, sim.IOFAmount)
		require.Zero(t, sim.FeeAmount)
		require.Equal(t, sim.RequestedAmount, sim.PrincipalAmount)
		require.Equal(t, tc.rate, sim.MonthlyCETRate, "%+v", tc)
		require.Equal(t, sim.AnnualInterestRate, sim.AnnualCETRate, "%+v", tc)
		require.InDelta(t, float64(tc.rate)/1e6, sim.MonthlyCET, 1e-8)
	}
}

// TestDaysCap: beyond the cap, more days add no IOF.
func TestDaysCap(t *testing.T) {
	t.Parallel()

	offer := simulation.Offer{MonthlyInterestRate: 0, MaxAmount: money.Reais(1_000_000), MinInstallments: 1, MaxInstallments: 60}
	req := simulation.Request{RequestedAmount: money.Reais(10_000), InstallmentCount: 1, Date: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}
	cfg := simulation.Config{IOFDailyRate: simulation.DefaultIOFDailyRate, IOFDaysCap: 10}
	sim, err := simulation.Simulate(offer, req, cfg)
	require.NoError(t, err)
	// 31 days capped at 10: P = 10,000.00 / (1 − 0.000082 × 10) = 10,008.21 (10,008.2073…).
	require.Equal(t, money.Money(1_000_821), sim.PrincipalAmount)
	require.Equal(t, money.Money(821), sim.IOFAmount)

	// 48 monthly installments: days beyond 365 count as 365, the zero cap is 365.
	req.InstallmentCount = 48
	long, err := simulation.Simulate(offer, req, simulation.Config{IOFDailyRate: simulation.DefaultIOFDailyRate})
	require.NoError(t, err)
	capped, err := simulation.Simulate(offer, req, simulation.Config{IOFDailyRate: simulation.DefaultIOFDailyRate, IOFDaysCap: 365})
	require.NoError(t, err)
	require.Equal(t, long, capped)
	// Every installment at 365 days at most: k = 0.000082 × (mean of min(days, 365)).
	sum := 0
	for _, in := range long.Installments {
		sum += min(in.Days, 365)
	}
	k := 0.000082 * float64(sum) / 48
	require.InDelta(t, 1_000_000/(1-k), float64(long.PrincipalAmount), 0.5)
}
