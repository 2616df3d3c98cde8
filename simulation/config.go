package simulation

import (
	"fmt"
	"strings"

	"github.com/onboardkit/onboarding/money"
)

// DailyRate is a daily tax rate in millionths of a percentage point: 0.0082 % a day is
// DailyRate(8200). It is finer than [money.Rate] so that every daily IOF rate of the
// decree is exact, including the 0.00274 % a day (DailyRate(2740)) of small Simples
// Nacional borrowers.
type DailyRate int64

// String formats the rate as a percentage without trailing zeros: DailyRate(8200) is
// "0.0082".
func (r DailyRate) String() string {
	sign, v := "", int64(r)
	if v < 0 {
		sign, v = "-", -v
	}
	s := fmt.Sprintf("%s%d.%06d", sign, v/1_000_000, v%1_000_000)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// IOF on credit operations with a company borrower (pessoa jurídica), as set by the
// Regulamento do IOF, Decreto nº 6.306, de 14 de dezembro de 2007, art. 7º, in the wording
// of Decreto nº 12.499, de 11 de junho de 2025 (DOU extra of the same day).
//
// Sources disagree because the rates changed three times in 2025: Decreto nº 12.466, de 22
// de maio de 2025 (effective 1 June 2025 for credit), doubled the company daily rate from
// 0.0041 % to 0.0082 % and raised the company additional rate from 0.38 % to 0.95 %;
// Decreto nº 12.499/2025 revoked it, keeping 0.0082 % a day but bringing the additional
// rate back to 0.38 %; Congress suspended the decrees (Decreto Legislativo nº 176/2025) and
// the Supreme Court suspended everything on 4 July 2025; on 16 July 2025 (ADC 96, ADI
// 7827 and ADI 7839, interim decision) it reinstated Decreto nº 12.499/2025 from its
// publication, except for the "risco sacado" supplier-financing provisions (art. 7º §§ 15,
// 23 and 24 in their 2025 wording). The defaults follow Decreto nº 12.499/2025 as
// reinstated: 0.0082 % a day and 0.38 % additional. Pages written between 22 May and 11
// June 2025 that quote 0.95 % describe the revoked Decreto nº 12.466/2025. The suspension
// of the 2025 wording of § 15 does not change the additional rate for a plain loan: the
// earlier wording of § 15 also sets 0.38 %, for any borrower.
const (
	// DefaultIOFDailyRate is 0.0082 % a day, art. 7º, I, "b", item 1 (company
	// borrower, principal defined, charged on each installment's principal) of Decreto
	// nº 6.306/2007, as amended by Decreto nº 12.499 of 11 June 2025. It does not apply
	// to Simples Nacional companies (and MEI) borrowing at most R$ 30,000.00, whose rate is
	// 0.00274 % a day under the same decree: configure [Config.IOFDailyRate] for them.
	DefaultIOFDailyRate DailyRate = 8200
	// DefaultIOFAdditionalRate is 0.38 %, charged once on the whole principal
	// regardless of the term, art. 7º, § 15 of Decreto nº 6.306/2007 (Decreto nº
	// 12.499 of 11 June 2025 kept it at 0.38 % for companies, undoing the 0.95 % of
	// Decreto nº 12.466 of 22 May 2025).
	DefaultIOFAdditionalRate money.Rate = 38 * money.BasisPoint
	// DefaultIOFDaysCap is the 365 days beyond which the daily rate no longer
	// accrues on an installment's principal (art. 7º, § 1º of Decreto nº 6.306/2007:
	// the tax is at most the daily rate times 365 days, plus the additional rate).
	DefaultIOFDaysCap = 365
)

// Fee is the origination fee (TC, taxa de cadastro): a flat amount plus a percentage of
// the requested amount, either of which may be zero. It is charged on the requested
// amount, not on the principal, so it does not depend on the IOF; like the IOF, it is
// financed (added to the principal).
type Fee struct {
	// Flat is a fixed amount.
	Flat money.Money
	// Percent is a percentage of the requested amount, rounded half up to centavos.
	Percent money.Rate
}

// Amount returns the fee on a requested amount: Flat + round(requested × Percent).
func (f Fee) Amount(requested money.Money) money.Money {
	return f.Flat + money.Money(mulRateRound(int64(requested), int64(f.Percent)))
}

// Config holds the taxes and fees of a simulation. The zero Config charges no IOF and no
// fee, and caps IOF days at [DefaultIOFDaysCap]; [DefaultConfig] charges the decree's IOF.
type Config struct {
	// IOFDailyRate accrues on each installment's amortized principal for every day
	// from the simulation date to its due date, at most IOFDaysCap days.
	IOFDailyRate DailyRate
	// IOFAdditionalRate is charged once on the whole principal.
	IOFAdditionalRate money.Rate
	// IOFDaysCap caps the days of each installment; zero means DefaultIOFDaysCap.
	IOFDaysCap int
	// Fee is the origination fee.
	Fee Fee
}

// DefaultConfig returns the decree's IOF for companies and no fee.
func DefaultConfig() Config {
	return Config{
		IOFDailyRate:      DefaultIOFDailyRate,
		IOFAdditionalRate: DefaultIOFAdditionalRate,
		IOFDaysCap:        DefaultIOFDaysCap,
	}
}

func (c Config) daysCap() int {
	if c.IOFDaysCap == 0 {
		return DefaultIOFDaysCap
	}
	return c.IOFDaysCap
}

// Config bounds. The IOF coefficient k (at most daily × cap + additional) stays at most
// 50 %, so the financed principal (requested + fee) / (1 − k) is at most twice its base.
const (
	maxDailyRate  DailyRate  = 100_000 // 0.1 % a day
	maxAddlRate   money.Rate = 10 * money.Percent
	maxDaysCap               = 3660 // ten years
	maxFeePercent money.Rate = 50 * money.Percent
	maxIOF        money.Rate = 50 * money.Percent
)

func (c Config) validate() error {
	switch {
	case c.IOFDailyRate < 0 || c.IOFDailyRate > maxDailyRate:
		return &ValidationError{Field: "iof_daily_rate", Reason: "must be between 0 and 0.1 % a day", Err: ErrInvalidConfig}
	case c.IOFAdditionalRate < 0 || c.IOFAdditionalRate > maxAddlRate:
		return &ValidationError{Field: "iof_additional_rate", Reason: "must be between 0 and 10 %", Err: ErrInvalidConfig}
	case c.IOFDaysCap < 0 || c.IOFDaysCap > maxDaysCap:
		return &ValidationError{Field: "iof_days_cap", Reason: "must be between 0 (default 365) and 3660", Err: ErrInvalidConfig}
	case int64(c.IOFDailyRate)*int64(c.daysCap())/100+int64(c.IOFAdditionalRate) > int64(maxIOF):
		return &ValidationError{Field: "iof_daily_rate", Reason: "the daily rate times the days cap plus the additional rate must be at most 50 %", Err: ErrInvalidConfig}
	case c.Fee.Flat < 0 || c.Fee.Flat > maxAmount:
		return &ValidationError{Field: "fee_flat", Reason: "must be between 0 and " + maxAmount.String(), Err: ErrInvalidConfig}
	case c.Fee.Percent < 0 || c.Fee.Percent > maxFeePercent:
		return &ValidationError{Field: "fee_percent", Reason: "must be between 0 and 50 %", Err: ErrInvalidConfig}
	}
	return nil
}
