package scoring_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/scoring"
)

// validApproval returns a coherent approval to mutate in tests.
func validApproval() scoring.Decision {
	return scoring.Decision{
		Outcome:             scoring.Approve,
		ApprovedAmountCents: 5_000_000,
		MinAmountCents:      500_000,
		MonthlyRate:         350 * money.BasisPoint,
		MinInstallments:     3,
		MaxInstallments:     24,
		DueDateRule:         scoring.DueMonthly,
		ValidFor:            30 * 24 * time.Hour,
		Reason:              "test",
		Model:               "test-v1",
	}
}

func TestDecisionValidate(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		mutate func(d *scoring.Decision)
		errs   []string // substrings of the error; nil means valid
	}{
		{name: "valid range", mutate: func(*scoring.Decision) {}},
		{name: "valid fixed installments", mutate: func(d *scoring.Decision) {
			d.Installments, d.MinInstallments, d.MaxInstallments = 12, 0, 0
		}},
		{name: "min equals approved", mutate: func(d *scoring.Decision) { d.MinAmountCents = d.ApprovedAmountCents }},
		{name: "zero rate", mutate: func(d *scoring.Decision) { d.MonthlyRate = 0 }},
		{name: "rate at limit", mutate: func(d *scoring.Decision) { d.MonthlyRate = scoring.MonthlyRateLimit }},
		{name: "one installment", mutate: func(d *scoring.Decision) { d.MinInstallments, d.MaxInstallments = 1, 1 }},
		{name: "120 installments", mutate: func(d *scoring.Decision) {
			d.Installments, d.MinInstallments, d.MaxInstallments = 120, 0, 0
		}},
		{name: "plain decline", mutate: func(d *scoring.Decision) {
			*d = scoring.Decision{Outcome: scoring.Decline, Reason: "no", Model: "m"}
		}},

		{name: "empty outcome", mutate: func(d *scoring.Decision) { d.Outcome = "" },
			errs: []string{`outcome must be "approve" or "decline", got ""`}},
		{name: "unknown outcome", mutate: func(d *scoring.Decision) { d.Outcome = "approved" },
			errs: []string{`got "approved"`}},
		{name: "zero approved", mutate: func(d *scoring.Decision) { d.ApprovedAmountCents = 0 },
			errs: []string{"approved amount must be positive, got 0 cents"}},
		{name: "negative min", mutate: func(d *scoring.Decision) { d.MinAmountCents = -1 },
			errs: []string{"min amount must be positive, got -1 cents"}},
		{name: "min above approved", mutate: func(d *scoring.Decision) { d.MinAmountCents = d.ApprovedAmountCents + 1 },
			errs: []string{"min amount (5000001 cents) exceeds approved amount (5000000 cents)"}},
		{name: "negative rate", mutate: func(d *scoring.Decision) { d.MonthlyRate = -1 },
			errs: []string{"monthly rate must be between 0 and 100 %, got -0.0001 %"}},
		{name: "rate above limit", mutate: func(d *scoring.Decision) { d.MonthlyRate = scoring.MonthlyRateLimit + 1 },
			errs: []string{"monthly rate must be between 0 and 100 %, got 100.0001 %"}},
		{name: "no installments", mutate: func(d *scoring.Decision) { d.MinInstallments, d.MaxInstallments = 0, 0 },
			errs: []string{"installments or min/max installments are required"}},
		{name: "both installment forms", mutate: func(d *scoring.Decision) { d.Installments = 12 },
			errs: []string{"set either installments or min/max installments, not both"}},
		{name: "fixed installments too many", mutate: func(d *scoring.Decision) {
			d.Installments, d.MinInstallments, d.MaxInstallments = 121, 0, 0
		}, errs: []string{"installments must be between 1 and 120, got 121"}},
		{name: "negative fixed installments", mutate: func(d *scoring.Decision) {
			d.Installments, d.MinInstallments, d.MaxInstallments = -3, 0, 0
		}, errs: []string{"installments must be between 1 and 120, got -3"}},
		{name: "range inverted", mutate: func(d *scoring.Decision) { d.MinInstallments, d.MaxInstallments = 12, 6 },
			errs: []string{"installment range must satisfy 1 <= min <= max <= 120, got 12..6"}},
		{name: "range above limit", mutate: func(d *scoring.Decision) { d.MaxInstallments = 121 },
			errs: []string{"got 3..121"}},
		{name: "range only max", mutate: func(d *scoring.Decision) { d.MinInstallments = 0 },
			errs: []string{"got 0..24"}},
		{name: "no due date rule", mutate: func(d *scoring.Decision) { d.DueDateRule = "  " },
			errs: []string{"due date rule is required"}},
		{name: "zero validity", mutate: func(d *scoring.Decision) { d.ValidFor = 0 },
			errs: []string{"validity must be positive, got 0s"}},
		{name: "negative validity", mutate: func(d *scoring.Decision) { d.ValidFor = -time.Hour },
			errs: []string{"validity must be positive, got -1h0m0s"}},
		{name: "decline with terms", mutate: func(d *scoring.Decision) { d.Outcome = scoring.Decline },
			errs: []string{"a decline must not carry offer terms"}},
		{name: "every problem is listed", mutate: func(d *scoring.Decision) {
			*d = scoring.Decision{Outcome: scoring.Approve}
		}, errs: []string{
			"approved amount must be positive", "min amount must be positive",
			"installments or min/max installments are required", "due date rule is required",
			"validity must be positive",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := validApproval()
			tt.mutate(&d)
			err := d.Validate()
			if tt.errs == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, scoring.ErrInvalidDecision)
			assert.False(t, scoring.IsPermanent(err), "Validate reports; the caller decides what is permanent")
			for _, want := range tt.errs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestDecisionApproved(t *testing.T) {
	t.Parallel()
	assert.True(t, validApproval().Approved())
	assert.False(t, scoring.Decision{Outcome: scoring.Decline}.Approved())
	assert.False(t, scoring.Decision{}.Approved())
}

func TestDecisionJSON(t *testing.T) {
	t.Parallel()

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		d := validApproval()
		d.MonthlyRate = 199 * money.BasisPoint
		b, err := json.Marshal(d)
		require.NoError(t, err)
		assert.JSONEq(t, `{"outcome":"approve","approved_amount_cents":5000000,"min_amount_cents":500000,
			"monthly_rate":1.99,"min_installments":3,"max_installments":24,"due_date_rule":"monthly",
			"valid_for":"720h0m0s","reason":"test","model":"test-v1"}`, string(b))
		var got scoring.Decision
		require.NoError(t, json.Unmarshal(b, &got))
		assert.Equal(t, d, got)
	})

	t.Run("decline omits terms", func(t *testing.T) {
		t.Parallel()
		b, err := json.Marshal(scoring.Decision{Outcome: scoring.Decline, Reason: "r"})
		require.NoError(t, err)
		assert.JSONEq(t, `{"outcome":"decline","reason":"r"}`, string(b))
	})

	t.Run("friendly input", func(t *testing.T) {
		t.Parallel()
		var d scoring.Decision
		require.NoError(t, json.Unmarshal([]byte(`{"outcome":"approve","approved_amount_cents":100,
			"min_amount_cents":10,"monthly_rate":"2.5%","installments":6,"due_date_rule":"monthly","valid_for":"168h"}`), &d))
		assert.Equal(t, 250*money.BasisPoint, d.MonthlyRate)
		assert.Equal(t, 7*24*time.Hour, d.ValidFor)
		require.NoError(t, d.Validate())
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		for _, in := range []string{
			`{"valid_for":720}`,
			`{"valid_for":"30 days"}`,
			`{"monthly_rate":"-1"}`,
			`{"monthly_rate":1.23456}`,
			`{"approved_amount_cents":"100"}`,
		} {
			var d scoring.Decision
			assert.Error(t, json.Unmarshal([]byte(in), &d), in)
		}
	})
}

func TestFunc(t *testing.T) {
	t.Parallel()

	type ctxKey struct{}
	var got scoring.Request
	var scorer scoring.Scorer = scoring.Func(func(ctx context.Context, req scoring.Request) (scoring.Decision, error) {
		got = req
		if ctx.Value(ctxKey{}) != "v" {
			return scoring.Decision{}, errors.New("context not passed")
		}
		return validApproval(), nil
	})
	req := scoring.Request{CustomerID: "cust_1", CNPJ: "11222333000181", Attempt: 2}
	d, err := scorer.Score(context.WithValue(t.Context(), ctxKey{}, "v"), req)
	require.NoError(t, err)
	assert.Equal(t, validApproval(), d)
	assert.Equal(t, req, got)

	boom := errors.New("boom")
	_, err = scoring.Func(func(context.Context, scoring.Request) (scoring.Decision, error) {
		return scoring.Decision{}, boom
	}).Score(t.Context(), req)
	assert.ErrorIs(t, err, boom)
}

func TestPermanent(t *testing.T) {
	t.Parallel()

	base := errors.New("bureau: unknown company")
	p := scoring.Permanent(base)
	assert.True(t, scoring.IsPermanent(p))
	assert.ErrorIs(t, p, scoring.ErrPermanent)
	assert.ErrorIs(t, p, base, "the cause stays visible")
	assert.Equal(t, base.Error(), p.Error(), "the message is the cause's")

	wrapped := fmt.Errorf("acme scorer: %w", p)
	assert.True(t, scoring.IsPermanent(wrapped), "wrapping keeps it permanent")

	assert.NoError(t, scoring.Permanent(nil))
	assert.False(t, scoring.IsPermanent(nil))
	assert.False(t, scoring.IsPermanent(base))
	assert.False(t, scoring.IsPermanent(context.DeadlineExceeded))

	var target *net
	assert.False(t, errors.As(p, &target))
	typed := &net{}
	assert.True(t, errors.As(scoring.Permanent(typed), &target))
	assert.Same(t, typed, target)
}

// net is a typed error for errors.As tests.
type net struct{}

func (*net) Error() string { return "net down" }

func TestRequestCompanyAgeMonths(t *testing.T) {
	t.Parallel()

	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 12, 0, 0, 0, time.UTC) }
	tests := []struct {
		opened, now time.Time
		want        int
	}{
		{at(2026, 3, 15), at(2026, 4, 14), 0},
		{at(2026, 3, 15), at(2026, 4, 15), 1},
		{at(2024, 3, 15), at(2026, 3, 15), 24},
		{at(2024, 3, 15), at(2026, 3, 14), 23},
		{at(2026, 1, 31), at(2026, 2, 28), 0},
		{at(2025, 12, 31), at(2026, 1, 31), 1},
		{at(2026, 5, 1), at(2026, 4, 1), 0}, // opened in the future
		{at(2026, 4, 1), at(2026, 4, 1), 0},
	}
	for _, tt := range tests {
		months, ok := scoring.Request{CompanyOpenedAt: tt.opened, Now: tt.now}.CompanyAgeMonths()
		assert.True(t, ok)
		assert.Equal(t, tt.want, months, "opened %s, now %s", tt.opened.Format(time.DateOnly), tt.now.Format(time.DateOnly))
	}

	_, ok := scoring.Request{Now: at(2026, 1, 1)}.CompanyAgeMonths()
	assert.False(t, ok, "unknown opening date")

	months, ok := scoring.Request{CompanyOpenedAt: time.Now().AddDate(-2, 0, -1)}.CompanyAgeMonths()
	assert.True(t, ok)
	assert.Equal(t, 24, months, "zero Now means the current time")
}

func TestRequestHasAlphanumericCNPJ(t *testing.T) {
	t.Parallel()
	assert.False(t, scoring.Request{}.HasAlphanumericCNPJ())
	assert.False(t, scoring.Request{CNPJ: "11222333000181"}.HasAlphanumericCNPJ())
	assert.True(t, scoring.Request{CNPJ: "12ABC34501DE35"}.HasAlphanumericCNPJ())
	assert.True(t, scoring.Request{CNPJ: "12abc34501de35"}.HasAlphanumericCNPJ())
}

func TestRequestLogValueHidesPersonalData(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("scoring", "req", scoring.Request{
		CustomerID: "cust_1", PartnerID: "p", ExternalID: "ext-9", CPF: "12345678909",
		CNPJ: "11222333000181", Name: "Maria Silva", Email: "maria@example.com", Phone: "+5511999998888",
		LegalNature: "mei",
	})
	out := buf.String()
	for _, hidden := range []string{"12345678909", "Maria", "maria@example.com", "+5511999998888"} {
		assert.NotContains(t, out, hidden)
	}
	for _, shown := range []string{"cust_1", "ext-9", "11222333000181", `"attempt":1`} {
		assert.Contains(t, out, shown)
	}
}

func TestRequestJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(scoring.Request{CustomerID: "cust_1", CPF: "12345678909", Attempt: 1})
	require.NoError(t, err)
	assert.NotContains(t, string(b), "company_opened_at", "unknown registry data is omitted")
	assert.NotContains(t, string(b), `"now"`)
}
