package onboarding

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Money is an amount of Brazilian reais in centavos. It is exact: no float64 anywhere.
// On the wire it is a decimal string with two places ("50000.00").
type Money int64

// maxMoneyDigits bounds the integer part of a parsed amount (below int64 overflow).
const maxMoneyDigits = 15

// ParseMoney parses "50000", "50000.5" or "50000.00" (at most two decimal places, no sign,
// no thousands separators).
func ParseMoney(s string) (Money, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || len(whole) > maxMoneyDigits || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, fmt.Errorf("onboarding: invalid amount %q: want digits with at most two decimal places", s)
	}
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, fmt.Errorf("onboarding: invalid amount %q: want digits with at most two decimal places", s)
			}
		}
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	var c int64
	if frac != "" {
		c, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			c *= 10
		}
	}
	return Money(w*100 + c), nil
}

// Reais returns m for a whole number of reais.
func Reais(n int64) Money { return Money(n * 100) }

// String formats m with two decimal places.
func (m Money) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// MarshalJSON encodes m as a decimal string.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON decodes a decimal string.
func (m *Money) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("onboarding: amount must be a decimal string: %w", err)
	}
	v, err := ParseMoney(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Rate is a monthly interest rate in units of 0.0001 percentage points: 3.5 % a month is
// Rate(35000). It is exact; on the wire it is a JSON number (3.5).
type Rate int64

// rateScale is the number of Rate units in one percentage point.
const rateScale = 10000

// RateFromBasisPoints returns the rate of bp basis points: RateFromBasisPoints(350) is
// 3.5 % a month.
func RateFromBasisPoints(bp int64) Rate { return Rate(bp * 100) }

// ParseRate parses a decimal percentage such as "3.5" (at most four decimal places).
func ParseRate(s string) (Rate, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	bad := whole == "" || len(whole) > 6 || (hasDot && (frac == "" || len(frac) > 4))
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				bad = true
			}
		}
	}
	if bad {
		return 0, fmt.Errorf("onboarding: invalid rate %q: want a percentage with at most four decimal places", s)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 4-len(frac)), 10, 64)
	}
	return Rate(w*rateScale + f), nil
}

// String formats the rate as a percentage without trailing zeros ("3.5").
func (r Rate) String() string {
	v := int64(r)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	s := fmt.Sprintf("%s%d.%04d", sign, v/rateScale, v%rateScale)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// MarshalJSON encodes the rate as a JSON number written from its exact decimal form.
func (r Rate) MarshalJSON() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalJSON decodes a JSON number (or a string holding one).
func (r *Rate) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseRate(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// OfferStatus is the state of a credit offer.
type OfferStatus string

// The offer statuses.
const (
	OfferAvailable OfferStatus = "available"
	OfferAccepted  OfferStatus = "accepted"
	OfferExpired   OfferStatus = "expired"
)

// CreditOffer is the result of an approved credit analysis.
type CreditOffer struct {
	ID             string
	PartnerID      string
	CustomerID     string
	ExternalID     string
	Status         OfferStatus
	ApprovedAmount Money
	MinAmount      Money
	// MonthlyInterestRate is the monthly rate (3.5 = 3.5 % a month).
	MonthlyInterestRate Rate
	// Installments is the fixed number of installments, or 0 when a range applies.
	Installments    int
	MinInstallments int
	MaxInstallments int
	// DueDateRule says how installment due dates are set, e.g. "monthly".
	DueDateRule string
	ValidUntil  time.Time
	// Model names the scorer that decided.
	Model string
	// ReleasedAt is when the offer was announced (credit_offer.available). It is zero
	// while the offer is held until the customer is active (Options.HoldOffersUntilActive);
	// held offers are invisible to partners.
	ReleasedAt time.Time
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Clone returns a copy of o.
func (o *CreditOffer) Clone() *CreditOffer {
	if o == nil {
		return nil
	}
	c := *o
	return &c
}

type offerJSON struct {
	ID                  string      `json:"id"`
	CustomerID          string      `json:"customer_id"`
	ExternalID          string      `json:"external_id"`
	Status              OfferStatus `json:"status"`
	ApprovedAmount      Money       `json:"approved_amount"`
	MinAmount           Money       `json:"min_amount"`
	InterestRate        Rate        `json:"interest_rate"`
	MonthlyInterestRate Rate        `json:"monthly_interest_rate"`
	Installments        *int        `json:"installments,omitempty"`
	MinInstallments     *int        `json:"min_installments,omitempty"`
	MaxInstallments     *int        `json:"max_installments,omitempty"`
	DueDateRule         string      `json:"due_date_rule"`
	ValidUntil          time.Time   `json:"valid_until"`
	CreatedAt           time.Time   `json:"created_at"`
	UpdatedAt           time.Time   `json:"updated_at"`
}

// MarshalJSON encodes the offer as the API object.
func (o *CreditOffer) MarshalJSON() ([]byte, error) {
	w := offerJSON{
		ID: o.ID, CustomerID: o.CustomerID, ExternalID: o.ExternalID, Status: o.Status,
		ApprovedAmount: o.ApprovedAmount, MinAmount: o.MinAmount,
		InterestRate: o.MonthlyInterestRate, MonthlyInterestRate: o.MonthlyInterestRate,
		DueDateRule: o.DueDateRule, ValidUntil: o.ValidUntil, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
	if o.Installments > 0 {
		w.Installments = &o.Installments
	} else {
		w.MinInstallments, w.MaxInstallments = &o.MinInstallments, &o.MaxInstallments
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the API object (a credit_offer.* webhook's data, say). Partner,
// model and release time are not part of it and stay zero.
func (o *CreditOffer) UnmarshalJSON(b []byte) error {
	var w offerJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*o = CreditOffer{ID: w.ID, CustomerID: w.CustomerID, ExternalID: w.ExternalID, Status: w.Status,
		ApprovedAmount: w.ApprovedAmount, MinAmount: w.MinAmount, MonthlyInterestRate: w.MonthlyInterestRate,
		DueDateRule: w.DueDateRule, ValidUntil: w.ValidUntil, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if o.MonthlyInterestRate == 0 {
		o.MonthlyInterestRate = w.InterestRate
	}
	if w.Installments != nil {
		o.Installments = *w.Installments
	}
	if w.MinInstallments != nil {
		o.MinInstallments = *w.MinInstallments
	}
	if w.MaxInstallments != nil {
		o.MaxInstallments = *w.MaxInstallments
	}
	return nil
}

// ListOffersParams filters and pages offer listings.
type ListOffersParams struct {
	CustomerID    string
	Status        OfferStatus
	Limit         int
	StartingAfter string
	// IncludeHeld lists offers not yet released too (for the Service; partners never see
	// them).
	IncludeHeld bool
}

// OfferPage is one page of offers.
type OfferPage struct {
	Data    []*CreditOffer `json:"data"`
	HasMore bool           `json:"has_more"`
}
