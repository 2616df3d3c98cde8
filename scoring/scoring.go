package scoring

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/money"
)

// Scorer decides a credit analysis. Implementations must be safe for concurrent use: the
// caller scores many customers at once.
//
// A Decline is a decision, not an error. An error means "could not decide now": the caller
// retries it with backoff, unless it is [Permanent], which ends the analysis as failed.
type Scorer interface {
	Score(ctx context.Context, req Request) (Decision, error)
}

// Func adapts an ordinary function to the [Scorer] interface.
type Func func(ctx context.Context, req Request) (Decision, error)

// Score calls f(ctx, req).
func (f Func) Score(ctx context.Context, req Request) (Decision, error) { return f(ctx, req) }

// Request is what a scorer knows about the customer under analysis. Tax IDs are bare
// strings: the CPF as 11 digits, the CNPJ as 14 upper-case characters (numeric or
// alphanumeric). Registry fields are zero when no company registry is configured or the
// registry did not know the company.
type Request struct {
	// CustomerID is the library's ID of the customer (cust_…).
	CustomerID string `json:"customer_id"`
	// PartnerID is the partner (tenant) that registered the customer.
	PartnerID string `json:"partner_id"`
	// ExternalID is the partner's own ID of the customer.
	ExternalID string `json:"external_id"`
	// CPF is the responsible person's CPF, 11 digits. It is personal data: do not log it.
	CPF string `json:"cpf"`
	// CNPJ is the company's CNPJ, 14 characters; empty for a person without a company.
	CNPJ        string `json:"cnpj,omitempty"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"` // E.164
	TradingName string `json:"trading_name,omitempty"`
	// LegalNature is the company's legal nature in lower case (mei, ei, ltda, slu, sa,
	// eireli); empty when unknown.
	LegalNature string `json:"legal_nature,omitempty"`

	// CompanyStatus is the registry's status of the company (e.g. "active"); empty when
	// unknown.
	CompanyStatus string `json:"company_status,omitempty"`
	// CompanyOpenedAt is the company's opening date; zero when unknown.
	CompanyOpenedAt time.Time `json:"company_opened_at,omitzero"`
	// CompanyPartners is the number of people in the company's ownership; 0 when unknown.
	CompanyPartners int `json:"company_partners,omitempty"`

	// Attempt is 1 on the first call for an analysis, 2 on the first retry, and so on.
	// Zero is read as 1.
	Attempt int `json:"attempt"`
	// Now is the time of the analysis, from the caller's clock, so that decisions that
	// depend on time (company age) are reproducible. Zero means time.Now().
	Now time.Time `json:"now,omitzero"`
}

// CompanyAgeMonths returns the number of whole calendar months between CompanyOpenedAt and
// Now (a company opened on 15 March is 1 month old on 15 April, still 0 on 14 April). ok is
// false when the opening date is unknown. A date in the future gives 0.
func (r Request) CompanyAgeMonths() (months int, ok bool) {
	if r.CompanyOpenedAt.IsZero() {
		return 0, false
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	from, to := r.CompanyOpenedAt.UTC(), now.UTC()
	if !to.After(from) {
		return 0, true
	}
	months = (to.Year()-from.Year())*12 + int(to.Month()-from.Month())
	// The last month is incomplete when the day (and time) of month has not come round.
	if from.AddDate(0, months, 0).After(to) {
		months--
	}
	return max(months, 0), true
}

// HasAlphanumericCNPJ reports whether the CNPJ holds a letter (the alphanumeric CNPJ issued
// since July 2026).
func (r Request) HasAlphanumericCNPJ() bool {
	for i := 0; i < len(r.CNPJ); i++ {
		if c := r.CNPJ[i]; ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') {
			return true
		}
	}
	return false
}

// attempt returns Attempt, reading 0 (or less) as the first attempt.
func (r Request) attempt() int { return max(r.Attempt, 1) }

// LogValue implements [slog.LogValuer]. It leaves out the personal data (CPF, name, email,
// phone) so that a request can be logged as is.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("customer_id", r.CustomerID),
		slog.String("partner_id", r.PartnerID),
		slog.String("external_id", r.ExternalID),
		slog.String("cnpj", r.CNPJ),
		slog.String("legal_nature", r.LegalNature),
		slog.Int("attempt", r.attempt()),
	)
}

// Outcome is a scorer's verdict.
type Outcome string

const (
	// Approve grants credit on the terms of the decision; the caller creates an offer.
	Approve Outcome = "approve"
	// Decline refuses credit. It is a final answer, not an error: it is not retried.
	Decline Outcome = "decline"
)

// DueMonthly is the usual DueDateRule: one installment a month.
const DueMonthly = "monthly"

// Limits that Decision.Validate enforces.
const (
	// InstallmentLimit is the largest number of installments an offer may have.
	InstallmentLimit = 120
	// MonthlyRateLimit is the largest monthly rate a decision may carry (100 % a month).
	// It exists to catch unit mistakes, not to set policy.
	MonthlyRateLimit = 100 * money.Percent
)

// Decision is a scorer's answer. Money is exact: amounts are int64 centavos (R$ 50,000.00
// is 5_000_000) and the rate is a [money.Rate] (3.5 % a month is 350 * money.BasisPoint).
//
// An approval carries the offer's terms: approved and minimum amounts, the monthly rate,
// either a fixed number of installments or a range, the due date rule and how long the offer
// is valid. A decline carries none of them, only an optional Reason.
//
// Decision encodes to JSON and YAML with snake_case keys; ValidFor is a Go duration string
// ("720h").
type Decision struct {
	Outcome Outcome `json:"outcome" yaml:"outcome"`
	// ApprovedAmountCents is the largest amount the customer may borrow, in centavos.
	ApprovedAmountCents int64 `json:"approved_amount_cents,omitempty" yaml:"approved_amount_cents,omitempty"`
	// MinAmountCents is the smallest amount the customer may borrow, in centavos.
	MinAmountCents int64 `json:"min_amount_cents,omitempty" yaml:"min_amount_cents,omitempty"`
	// MonthlyRate is the monthly interest rate.
	MonthlyRate money.Rate `json:"monthly_rate,omitempty" yaml:"monthly_rate,omitempty"`
	// Installments is a fixed number of installments. Zero when a range applies.
	Installments int `json:"installments,omitempty" yaml:"installments,omitempty"`
	// MinInstallments and MaxInstallments are the range the customer chooses from when
	// Installments is zero.
	MinInstallments int `json:"min_installments,omitempty" yaml:"min_installments,omitempty"`
	MaxInstallments int `json:"max_installments,omitempty" yaml:"max_installments,omitempty"`
	// DueDateRule says how installment due dates are set, e.g. [DueMonthly].
	DueDateRule string `json:"due_date_rule,omitempty" yaml:"due_date_rule,omitempty"`
	// ValidFor is how long the offer stays available from the time of the decision.
	ValidFor time.Duration `json:"valid_for,omitempty" yaml:"valid_for,omitempty"`
	// Reason explains the decision, for the operator and the audit trail.
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Model names the scorer and its version, e.g. "sandbox-v1".
	Model string `json:"model,omitempty" yaml:"model,omitempty"`
}

// Approved reports whether the outcome is Approve.
func (d Decision) Approved() bool { return d.Outcome == Approve }

// Validate checks that the decision is coherent: a known outcome; for an approval, positive
// amounts with the minimum not above the approved amount, a rate in [0, MonthlyRateLimit],
// either a fixed number of installments or a range, all within 1..InstallmentLimit, a due
// date rule and a positive validity; for a decline, no offer terms. The error wraps
// [ErrInvalidDecision] and lists every problem found.
func (d Decision) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	switch d.Outcome {
	case Approve:
		if d.ApprovedAmountCents <= 0 {
			add("approved amount must be positive, got %d cents", d.ApprovedAmountCents)
		}
		if d.MinAmountCents <= 0 {
			add("min amount must be positive, got %d cents", d.MinAmountCents)
		}
		if d.MinAmountCents > d.ApprovedAmountCents && d.ApprovedAmountCents > 0 {
			add("min amount (%d cents) exceeds approved amount (%d cents)", d.MinAmountCents, d.ApprovedAmountCents)
		}
		if d.MonthlyRate < 0 || d.MonthlyRate > MonthlyRateLimit {
			add("monthly rate must be between 0 and %s %%, got %s %%", MonthlyRateLimit, d.MonthlyRate)
		}
		switch {
		case d.Installments != 0:
			if d.MinInstallments != 0 || d.MaxInstallments != 0 {
				add("set either installments or min/max installments, not both")
			}
			if d.Installments < 1 || d.Installments > InstallmentLimit {
				add("installments must be between 1 and %d, got %d", InstallmentLimit, d.Installments)
			}
		case d.MinInstallments == 0 && d.MaxInstallments == 0:
			add("installments or min/max installments are required")
		default:
			if d.MinInstallments < 1 || d.MaxInstallments > InstallmentLimit || d.MinInstallments > d.MaxInstallments {
				add("installment range must satisfy 1 <= min <= max <= %d, got %d..%d",
					InstallmentLimit, d.MinInstallments, d.MaxInstallments)
			}
		}
		if strings.TrimSpace(d.DueDateRule) == "" {
			add("due date rule is required")
		}
		if d.ValidFor <= 0 {
			add("validity must be positive, got %s", d.ValidFor)
		}
	case Decline:
		if d.ApprovedAmountCents != 0 || d.MinAmountCents != 0 || d.MonthlyRate != 0 ||
			d.Installments != 0 || d.MinInstallments != 0 || d.MaxInstallments != 0 ||
			d.DueDateRule != "" || d.ValidFor != 0 {
			add("a decline must not carry offer terms")
		}
	default:
		add("outcome must be %q or %q, got %q", Approve, Decline, d.Outcome)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidDecision, strings.Join(problems, "; "))
}

// decisionJSON is the wire form of a Decision: ValidFor as a duration string.
type decisionJSON struct {
	Outcome             Outcome    `json:"outcome"`
	ApprovedAmountCents int64      `json:"approved_amount_cents,omitempty"`
	MinAmountCents      int64      `json:"min_amount_cents,omitempty"`
	MonthlyRate         money.Rate `json:"monthly_rate,omitempty"`
	Installments        int        `json:"installments,omitempty"`
	MinInstallments     int        `json:"min_installments,omitempty"`
	MaxInstallments     int        `json:"max_installments,omitempty"`
	DueDateRule         string     `json:"due_date_rule,omitempty"`
	ValidFor            string     `json:"valid_for,omitempty"`
	Reason              string     `json:"reason,omitempty"`
	Model               string     `json:"model,omitempty"`
}

// MarshalJSON encodes d with ValidFor as a duration string ("720h0m0s").
func (d Decision) MarshalJSON() ([]byte, error) {
	w := decisionJSON{
		Outcome: d.Outcome, ApprovedAmountCents: d.ApprovedAmountCents, MinAmountCents: d.MinAmountCents,
		MonthlyRate: d.MonthlyRate, Installments: d.Installments, MinInstallments: d.MinInstallments,
		MaxInstallments: d.MaxInstallments, DueDateRule: d.DueDateRule, Reason: d.Reason, Model: d.Model,
	}
	if d.ValidFor != 0 {
		w.ValidFor = d.ValidFor.String()
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes a decision; valid_for is a duration string such as "720h".
func (d *Decision) UnmarshalJSON(b []byte) error {
	var w decisionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("scoring: decision: %w", err)
	}
	var validFor time.Duration
	if w.ValidFor != "" {
		v, err := time.ParseDuration(w.ValidFor)
		if err != nil {
			return fmt.Errorf("scoring: decision: valid_for must be a duration such as \"720h\": %w", err)
		}
		validFor = v
	}
	*d = Decision{
		Outcome: w.Outcome, ApprovedAmountCents: w.ApprovedAmountCents, MinAmountCents: w.MinAmountCents,
		MonthlyRate: w.MonthlyRate, Installments: w.Installments, MinInstallments: w.MinInstallments,
		MaxInstallments: w.MaxInstallments, DueDateRule: w.DueDateRule, ValidFor: validFor,
		Reason: w.Reason, Model: w.Model,
	}
	return nil
}
