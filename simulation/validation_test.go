package simulation_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/simulation"
)

func TestValidation(t *testing.T) {
	t.Parallel()

	offer := simulation.Offer{
		MonthlyInterestRate: 299 * money.BasisPoint,
		MinAmount:           money.Reais(1_000),
		MaxAmount:           money.Reais(50_000),
		MinInstallments:     6,
		MaxInstallments:     24,
	}
	fixed := offer
	fixed.MinInstallments, fixed.MaxInstallments = 12, 12
	req := simulation.Request{RequestedAmount: money.Reais(10_000), InstallmentCount: 12, Date: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)}
	with := func(f func(*simulation.Offer, *simulation.Request, *simulation.Config)) (simulation.Offer, simulation.Request, simulation.Config) {
		o, r, c := offer, req, simulation.DefaultConfig()
		f(&o, &r, &c)
		return o, r, c
	}

	for _, tc := range []struct {
		name   string
		change func(*simulation.Offer, *simulation.Request, *simulation.Config)
		field  string
		err    error
		reason string
	}{
		{"below min_amount", func(_ *simulation.Offer, r *simulation.Request, _ *simulation.Config) {
			r.RequestedAmount = money.Reais(1_000) - 1
		},
			"requested_amount", simulation.ErrOutOfRange, "must be between 1000.00 and 50000.00"},
		{"above approved_amount", func(_ *simulation.Offer, r *simulation.Request, _ *simulation.Config) {
			r.RequestedAmount = money.Reais(50_000) + 1
		},
			"requested_amount", simulation.ErrOutOfRange, "must be between 1000.00 and 50000.00"},
		{"zero amount, no min", func(o *simulation.Offer, r *simulation.Request, _ *simulation.Config) {
			o.MinAmount, r.RequestedAmount = 0, 0
		},
			"requested_amount", simulation.ErrOutOfRange, "must be between 0.01 and 50000.00"},
		{"negative amount", func(_ *simulation.Offer, r *simulation.Request, _ *simulation.Config) { r.RequestedAmount = -1 },
			"requested_amount", simulation.ErrOutOfRange, "must be between"},
		{"too few installments", func(_ *simulation.Offer, r *simulation.Request, _ *simulation.Config) { r.InstallmentCount = 5 },
			"installment_count", simulation.ErrOutOfRange, "must be between 6 and 24"},
		{"too many installments", func(_ *simulation.Offer, r *simulation.Request, _ *simulation.Config) { r.InstallmentCount = 25 },
			"installment_count", simulation.ErrOutOfRange, "must be between 6 and 24"},
		{"fixed count", func(o *simulation.Offer, r *simulation.Request, _ *simulation.Config) {
			*o = fixed
			r.InstallmentCount = 11
		},
			"installment_count", simulation.ErrOutOfRange, "must be 12"},
		{"fee above amount", func(_ *simulation.Offer, r *simulation.Request, c *simulation.Config) {
			c.Fee.Flat = money.Reais(10_000) + 1
		}, "requested_amount", simulation.ErrOutOfRange, "less than the fee of 10000.01"},
		{"too small to split", func(o *simulation.Offer, r *simulation.Request, c *simulation.Config) {
			*c = simulation.Config{}
			o.MonthlyInterestRate, o.MinAmount, o.MaxInstallments, r.RequestedAmount, r.InstallmentCount = 0, 0, 600, 100, 600
		}, "requested_amount", simulation.ErrOutOfRange, "too small to split into 600 installments"},
		{"negative rate", func(o *simulation.Offer, _ *simulation.Request, _ *simulation.Config) { o.MonthlyInterestRate = -1 },
			"monthly_interest_rate", simulation.ErrInvalidOffer, "between 0 and 100 %"},
		{"rate above 100 %", func(o *simulation.Offer, _ *simulation.Request, _ *simulation.Config) {
			o.MonthlyInterestRate = simulation.MaxMonthlyRate + 1
		},
			"monthly_interest_rate", simulation.ErrInvalidOffer, "between 0 and 100 %"},
		{"no approved amount", func(o *simulation.Offer, _ *simulation.Request, _ *simulation.Config) { o.MaxAmount = 0 },
			"approved_amount", simulation.ErrInvalidOffer, "must be positive"},
		{"min above max amount", func(o *simulation.Offer, _ *simulation.Request, _ *simulation.Config) { o.MinAmount = o.MaxAmount + 1 },
			"min_amount", simulation.ErrInvalidOffer, "between 0 and approved_amount"},
		{"installments above the bound", func(o *simulation.Offer, _ *simulation.Request, _ *simulation.Config) { o.MaxInstallments = 601 },
			"max_installments", simulation.ErrInvalidOffer, "between 1 and 600"},
		{"min above max installments", func(o *simulation.Offer, _ *simulation.Request, _ *simulation.Config) { o.MinInstallments = 25 },
			"min_installments", simulation.ErrInvalidOffer, "between 1 and max_installments"},
		{"negative daily IOF", func(_ *simulation.Offer, _ *simulation.Request, c *simulation.Config) { c.IOFDailyRate = -1 },
			"iof_daily_rate", simulation.ErrInvalidConfig, "between 0 and 0.1 % a day"},
		{"IOF coefficient above 50 %", func(_ *simulation.Offer, _ *simulation.Request, c *simulation.Config) {
			c.IOFDailyRate, c.IOFDaysCap = 100_000, 1000
		}, "iof_daily_rate", simulation.ErrInvalidConfig, "at most 50 %"},
		{"additional IOF above 10 %", func(_ *simulation.Offer, _ *simulation.Request, c *simulation.Config) {
			c.IOFAdditionalRate = 10*money.Percent + 1
		},
			"iof_additional_rate", simulation.ErrInvalidConfig, "between 0 and 10 %"},
		{"negative days cap", func(_ *simulation.Offer, _ *simulation.Request, c *simulation.Config) { c.IOFDaysCap = -1 },
			"iof_days_cap", simulation.ErrInvalidConfig, "between 0"},
		{"negative flat fee", func(_ *simulation.Offer, _ *simulation.Request, c *simulation.Config) { c.Fee.Flat = -1 },
			"fee_flat", simulation.ErrInvalidConfig, "between 0"},
		{"fee percent above 50 %", func(_ *simulation.Offer, _ *simulation.Request, c *simulation.Config) {
			c.Fee.Percent = 50*money.Percent + 1
		},
			"fee_percent", simulation.ErrInvalidConfig, "between 0 and 50 %"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := simulation.Simulate(with(tc.change))
			require.ErrorIs(t, err, tc.err)
			var verr *simulation.ValidationError
			require.ErrorAs(t, err, &verr)
			require.Equal(t, tc.field, verr.Field)
			require.Contains(t, verr.Reason, tc.reason)
			require.Contains(t, err.Error(), tc.field)
			for _, other := range []error{simulation.ErrOutOfRange, simulation.ErrInvalidOffer, simulation.ErrInvalidConfig} {
				if other != tc.err {
					require.False(t, errors.Is(err, other))
				}
			}
		})
	}

	t.Run("bounds are inclusive", func(t *testing.T) {
		t.Parallel()
		for _, r := range []simulation.Request{
			{RequestedAmount: money.Reais(1_000), InstallmentCount: 6},
			{RequestedAmount: money.Reais(50_000), InstallmentCount: 24},
		} {
			_, err := simulation.Simulate(offer, r, simulation.DefaultConfig())
			require.NoError(t, err)
		}
		_, err := simulation.Simulate(fixed, req, simulation.DefaultConfig())
		require.NoError(t, err)
	})

	t.Run("unknown rule", func(t *testing.T) {
		t.Parallel()
		o := offer
		o.DueDateRule = simulation.DueDateRule(9)
		_, err := simulation.Simulate(o, req, simulation.DefaultConfig())
		require.ErrorIs(t, err, simulation.ErrUnknownDueDateRule)
	})
}

func TestFeeAmount(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		fee  simulation.Fee
		req  money.Money
		want money.Money
	}{
		{simulation.Fee{}, money.Reais(10_000), 0},
		{simulation.Fee{Flat: money.Reais(200)}, money.Reais(10_000), money.Reais(200)},
		{simulation.Fee{Percent: 2 * money.Percent}, money.Reais(10_000), money.Reais(200)},
		{simulation.Fee{Flat: 5000, Percent: 150 * money.BasisPoint}, 123_457, 5000 + 1852}, // 1,234.57 × 1.5 % = 18.51855
		{simulation.Fee{Percent: 5000}, 1, 0},                                               // 0.01 × 0.5 % rounds to 0
		{simulation.Fee{Percent: 50 * money.Percent}, 1, 1},                                 // 0.005 rounds half up
	} {
		require.Equal(t, tc.want, tc.fee.Amount(tc.req), "%+v", tc)
	}
}
