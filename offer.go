package onboarding

import (
	"encoding/json"
	"time"

	"github.com/onboardkit/onboarding/money"
)

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
	ApprovedAmount money.Money
	MinAmount      money.Money
	// MonthlyInterestRate is the monthly rate (3.5 = 3.5 % a month).
	MonthlyInterestRate money.Rate
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
	ApprovedAmount      money.Money `json:"approved_amount"`
	MinAmount           money.Money `json:"min_amount"`
	InterestRate        money.Rate  `json:"interest_rate"`
	MonthlyInterestRate money.Rate  `json:"monthly_interest_rate"`
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
type OfferPage = Page[*CreditOffer]
