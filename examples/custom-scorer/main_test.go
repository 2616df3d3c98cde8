package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/scoring"
)

func TestScorer(t *testing.T) {
	t.Parallel()
	s := NewScorer("11222333")
	ctx := context.Background()
	for _, tc := range []struct {
		req     scoring.Request
		outcome scoring.Outcome
		amount  int64
	}{
		{scoring.Request{CNPJ: "12345678000195", LegalNature: "mei"}, scoring.Approve, 20_000_00},
		{scoring.Request{CNPJ: "12345678000195"}, scoring.Approve, 20_000_00},
		{scoring.Request{CNPJ: "12ABC34501DE35", LegalNature: "ltda"}, scoring.Approve, 100_000_00},
		{scoring.Request{CNPJ: "12345678000195", LegalNature: "ei"}, scoring.Approve, 50_000_00},
		{scoring.Request{CNPJ: "11222333000181", LegalNature: "ltda"}, scoring.Decline, 0},
		{scoring.Request{CPF: "12345678909"}, scoring.Decline, 0},
	} {
		d, err := s.Score(ctx, tc.req)
		require.NoError(t, err)
		require.Equal(t, tc.outcome, d.Outcome, "%+v", tc.req)
		require.Equal(t, tc.amount, d.ApprovedAmountCents)
		require.NoError(t, d.Validate(), "every decision is valid")
		require.Equal(t, Model, d.Model)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.Score(cancelled, scoring.Request{CNPJ: "12345678000195"})
	require.Error(t, err)
	require.False(t, scoring.IsPermanent(err), "a cancelled analysis is retried")
}

// TestRun wires the scorer into a Service and checks the offers it made.
func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	require.Contains(t, out.String(), "mei-1      offer R$ 20000.00 (min R$ 2000.00) at 3.99% a month, 12 installments")
	require.Contains(t, out.String(), "ltda-1     offer R$ 100000.00 (min R$ 10000.00) at 2.49% a month, 6-24 installments")
	require.Contains(t, out.String(), "blocked-1  no offer")
}
