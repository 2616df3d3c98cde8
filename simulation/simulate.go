package simulation

import (
	"fmt"
	"math"
	"time"

	"github.com/onboardkit/onboarding/money"
)

// Bounds on what [Simulate] accepts; they keep every amount far from int64 overflow.
const (
	// MaxInstallmentCount is the largest installment count of an offer (50 years).
	MaxInstallmentCount = 600
	// MaxMonthlyRate is the largest monthly interest rate of an offer: 100 %.
	MaxMonthlyRate money.Rate = 100 * money.Percent
)

// maxAmount is the largest amount of an offer: R$ 10 billion.
const maxAmount money.Money = 10_000_000_000 * 100

// DateLayout is the layout of [Simulation.FirstDueDate] (an ISO 8601 date).
const DateLayout = "2006-01-02"

// Offer is the part of a credit offer a simulation needs.
type Offer struct {
	// ID is the credit offer's id ("co_…"), copied to [Simulation.CreditOfferID].
	ID string
	// MonthlyInterestRate is the offer's monthly rate (monthly_interest_rate).
	MonthlyInterestRate money.Rate
	// MinAmount is the smallest amount that may be requested (min_amount).
	MinAmount money.Money
	// MaxAmount is the largest amount that may be requested (approved_amount).
	MaxAmount money.Money
	// MinInstallments and MaxInstallments bound the installment count
	// (min_installments, max_installments); an offer with a fixed count (installments)
	// sets both to it.
	MinInstallments, MaxInstallments int
	// DueDateRule places the installments; the zero value is [Monthly].
	DueDateRule DueDateRule
}

// Request is what the partner asks to simulate (the SDK's CreateSimulationRequest) and
// when.
type Request struct {
	// RequestedAmount is the amount the borrower receives (requested_amount).
	RequestedAmount money.Money
	// InstallmentCount is the number of monthly installments (installment_count).
	InstallmentCount int
	// Date is the simulation date; only its calendar day (in its location) counts.
	Date time.Time
}

// Installment is one row of the Price schedule.
type Installment struct {
	// Number counts from 1.
	Number int
	// DueDate is the installment's due date, at midnight UTC.
	DueDate time.Time
	// Days is the number of days from the simulation date to DueDate.
	Days int
	// Amount is what the borrower pays: Interest + Amortization.
	Amount money.Money
	// Interest is round(balance before the payment × monthly rate).
	Interest money.Money
	// Amortization is the principal this installment repays.
	Amortization money.Money
	// Balance is the principal still owed after the payment (0 after the last one).
	Balance money.Money
}

// Simulation is the result of [Simulate]. Its JSON names are those of the SDK's
// SimulationWire; see the package documentation for the encoding of amounts. Fields
// tagged json:"-" are not on the wire.
type Simulation struct {
	// ID is the simulation's id ("sim_…"); Simulate leaves it empty for the caller
	// that stores the simulation.
	ID string `json:"id"`
	// CreditOfferID is [Offer.ID].
	CreditOfferID string `json:"credit_offer_id"`
	// RequestedAmount is the amount the borrower receives.
	RequestedAmount money.Money `json:"requested_amount"`
	// PrincipalAmount is RequestedAmount + IOFAmount + FeeAmount, all financed.
	PrincipalAmount money.Money `json:"principal_amount"`
	// InterestAmount is TotalAmount − PrincipalAmount.
	InterestAmount money.Money `json:"interest_amount"`
	// IOFAmount is the IOF on the principal.
	IOFAmount money.Money `json:"iof_amount"`
	// FeeAmount is the origination fee.
	FeeAmount money.Money `json:"fee_amount"`
	// TotalAmount is the exact sum of the installments.
	TotalAmount money.Money `json:"total_amount"`
	// MonthlyInterestRate is the offer's monthly rate.
	MonthlyInterestRate money.Rate `json:"monthly_interest_rate"`
	// AnnualInterestRate is (1 + monthly)^12 − 1, rounded to a money.Rate.
	AnnualInterestRate money.Rate `json:"annual_interest_rate"`
	// MonthlyCETRate is MonthlyCET rounded to a money.Rate.
	MonthlyCETRate money.Rate `json:"monthly_cet_rate"`
	// AnnualCETRate is (1 + MonthlyCET)^12 − 1, rounded to a money.Rate.
	AnnualCETRate money.Rate `json:"annual_cet_rate"`
	// InstallmentCount is the number of installments.
	InstallmentCount int `json:"installment_count"`
	// InstallmentAmount is the regular installment, round(PMT(principal, rate, n));
	// the last installment may differ by the accumulated rounding (see Installments).
	InstallmentAmount money.Money `json:"installment_amount"`
	// FirstDueDate is the first installment's due date, formatted with DateLayout.
	FirstDueDate string `json:"first_due_date"`
	// CreatedAt is the creation instant in Unix seconds; Simulate leaves it zero for
	// the caller that stores the simulation.
	CreatedAt int64 `json:"created_at"`

	// MonthlyCET is the monthly CET as a fraction (0.0345 is 3.45 %), unrounded: the
	// internal rate of return of +RequestedAmount on the simulation date and
	// −Installments[k−1].Amount k months later.
	MonthlyCET float64 `json:"-"`
	// Installments is the schedule.
	Installments []Installment `json:"-"`
}

// Simulate prices req against offer with the taxes and fee of cfg. It returns a
// [*ValidationError] (matching [ErrOutOfRange], [ErrInvalidOffer] or [ErrInvalidConfig])
// when an input is out of bounds, and an error matching [ErrUnknownDueDateRule] for a
// rule it does not know.
func Simulate(offer Offer, req Request, cfg Config) (Simulation, error) {
	if err := offer.validate(); err != nil {
		return Simulation{}, err
	}
	if err := cfg.validate(); err != nil {
		return Simulation{}, err
	}
	if err := offer.check(req); err != nil {
		return Simulation{}, err
	}
	n, rate := req.InstallmentCount, int64(offer.MonthlyInterestRate)

	start := civil(req.Date)
	dates, err := offer.DueDateRule.DueDates(start, n)
	if err != nil {
		return Simulation{}, err
	}
	days := make([]int, n)
	for j, d := range dates {
		days[j] = daysBetween(start, d)
	}

	requested := int64(req.RequestedAmount)
	fee := int64(cfg.Fee.Amount(req.RequestedAmount))
	if fee > requested {
		return Simulation{}, &ValidationError{
			Field:  "requested_amount",
			Reason: fmt.Sprintf("%s is less than the fee of %s", req.RequestedAmount, money.Money(fee)),
			Err:    ErrOutOfRange,
		}
	}
	principal := financedPrincipal(requested+fee, iofCoefficient(rate, days, cfg))
	iof := principal - requested - fee

	regular := pmt(principal, rate, n)
	schedule, ok := amortize(principal, rate, regular, dates, days)
	if !ok {
		return Simulation{}, &ValidationError{
			Field:  "requested_amount",
			Reason: fmt.Sprintf("%s is too small to split into %d installments", req.RequestedAmount, n),
			Err:    ErrOutOfRange,
		}
	}
	amounts := make([]int64, n)
	total := int64(0)
	for j, in := range schedule {
		amounts[j] = int64(in.Amount)
		total += amounts[j]
	}

	cet := irr(requested, amounts, float64(rate)/1e6)
	return Simulation{
		CreditOfferID:       offer.ID,
		RequestedAmount:     req.RequestedAmount,
		PrincipalAmount:     money.Money(principal),
		InterestAmount:      money.Money(total - principal),
		IOFAmount:           money.Money(iof),
		FeeAmount:           money.Money(fee),
		TotalAmount:         money.Money(total),
		MonthlyInterestRate: offer.MonthlyInterestRate,
		AnnualInterestRate:  money.Rate(compoundAnnual(rate)),
		MonthlyCETRate:      money.Rate(fracToRate(cet)),
		AnnualCETRate:       money.Rate(fracToRate(math.Pow(1+cet, 12) - 1)),
		InstallmentCount:    n,
		InstallmentAmount:   money.Money(regular),
		FirstDueDate:        dates[0].Format(DateLayout),
		MonthlyCET:          cet,
		Installments:        schedule,
	}, nil
}

// amortize builds the Price schedule: each installment pays round(balance × rate) of
// interest and regular − interest of principal; the last one repays the remaining
// balance. ok is false when the amounts are too small for n installments (an installment
// would repay more than is owed, or nothing would be left for the last one).
func amortize(principal, rate, regular int64, dates []time.Time, days []int) ([]Installment, bool) {
	n := len(dates)
	out := make([]Installment, n)
	balance := principal
	for j := range out {
		interest := mulRateRound(balance, rate)
		amort := regular - interest
		if j == n-1 {
			amort = balance
		}
		if amort < 0 || amort > balance || (j < n-1 && amort == balance) || interest+amort <= 0 {
			return nil, false
		}
		balance -= amort
		out[j] = Installment{
			Number:       j + 1,
			DueDate:      dates[j],
			Days:         days[j],
			Amount:       money.Money(interest + amort),
			Interest:     money.Money(interest),
			Amortization: money.Money(amort),
			Balance:      money.Money(balance),
		}
	}
	return out, true
}

func (o Offer) validate() error {
	invalid := func(field, reason string) error {
		return &ValidationError{Field: field, Reason: reason, Err: ErrInvalidOffer}
	}
	switch {
	case o.MonthlyInterestRate < 0 || o.MonthlyInterestRate > MaxMonthlyRate:
		return invalid("monthly_interest_rate", "must be between 0 and "+MaxMonthlyRate.String()+" %")
	case o.MaxAmount <= 0 || o.MaxAmount > maxAmount:
		return invalid("approved_amount", "must be positive and at most "+maxAmount.String())
	case o.MinAmount < 0 || o.MinAmount > o.MaxAmount:
		return invalid("min_amount", "must be between 0 and approved_amount")
	case o.MaxInstallments < 1 || o.MaxInstallments > MaxInstallmentCount:
		return invalid("max_installments", fmt.Sprintf("must be between 1 and %d", MaxInstallmentCount))
	case o.MinInstallments < 1 || o.MinInstallments > o.MaxInstallments:
		return invalid("min_installments", "must be between 1 and max_installments")
	}
	return nil
}

// check validates the request against the offer's ranges.
func (o Offer) check(req Request) error {
	lo := max(o.MinAmount, 1)
	if req.RequestedAmount < lo || req.RequestedAmount > o.MaxAmount {
		return &ValidationError{
			Field:  "requested_amount",
			Reason: fmt.Sprintf("must be between %s and %s", lo, o.MaxAmount),
			Err:    ErrOutOfRange,
		}
	}
	if req.InstallmentCount < o.MinInstallments || req.InstallmentCount > o.MaxInstallments {
		reason := fmt.Sprintf("must be between %d and %d", o.MinInstallments, o.MaxInstallments)
		if o.MinInstallments == o.MaxInstallments {
			reason = fmt.Sprintf("must be %d", o.MinInstallments)
		}
		return &ValidationError{Field: "installment_count", Reason: reason, Err: ErrOutOfRange}
	}
	return nil
}
