package scoring_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/scoring"
)

// cnpjCheckDigits completes 12 base characters ([0-9A-Z]) with the two check digits of
// IN RFB 2.229/2024 (each character worth its ASCII code minus 48). The scoring package may
// not import taxid, so the tests carry their own copy to build valid CNPJs.
func withCheckDigits(base string) string {
	digit := func(s string) byte {
		sum, w := 0, 2
		for i := len(s) - 1; i >= 0; i-- {
			sum += int(s[i]-'0') * w
			if w++; w > 9 {
				w = 2
			}
		}
		if r := sum % 11; r >= 2 {
			return byte('0' + 11 - r)
		}
		return '0'
	}
	d1 := digit(base)
	return base + string(d1) + string(digit(base+string(d1)))
}

func TestWithCheckDigits(t *testing.T) {
	t.Parallel()
	// Known valid numbers: a classic numeric one and the alphanumeric example of the RFB.
	assert.Equal(t, "11222333000181", withCheckDigits("112223330001"))
	assert.Equal(t, "12ABC34501DE35", withCheckDigits("12ABC34501DE"))
}

// formatCNPJ writes a bare CNPJ as 12.345.678/0001-90.
func formatCNPJ(s string) string {
	return s[0:2] + "." + s[2:5] + "." + s[5:8] + "/" + s[8:12] + "-" + s[12:14]
}

var magicRaizes = []string{
	scoring.SandboxDeclineRaiz, scoring.SandboxRetryRaiz, scoring.SandboxPermanentRaiz,
	scoring.SandboxSlowRaiz, scoring.SandboxFixedInstallmentsRaiz,
}

// randomCNPJ returns a valid CNPJ with a non-magic root.
func randomCNPJ(r *rand.Rand, alphanumeric bool) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	n := 10
	if alphanumeric {
		n = len(alphabet)
	}
	for {
		var b [12]byte
		for i := range b {
			b[i] = alphabet[r.IntN(n)]
		}
		if s := withCheckDigits(string(b[:])); !isMagic(s) {
			return s
		}
	}
}

func isMagic(cnpj string) bool {
	for _, m := range magicRaizes {
		if strings.HasPrefix(cnpj, m) {
			return true
		}
	}
	return false
}

// assertSandboxApproval checks a decision against the documented default approval.
func assertSandboxApproval(t *testing.T, d scoring.Decision) {
	t.Helper()
	require.NoError(t, d.Validate())
	assert.Equal(t, scoring.Approve, d.Outcome)
	assert.GreaterOrEqual(t, d.ApprovedAmountCents, int64(5_000_00))
	assert.LessOrEqual(t, d.ApprovedAmountCents, int64(150_000_00))
	assert.Zero(t, d.ApprovedAmountCents%500_00, "R$ 500.00 steps")
	assert.Equal(t, d.ApprovedAmountCents/10, d.MinAmountCents)
	assert.Zero(t, d.MinAmountCents%50_00, "the minimum is a multiple of R$ 50.00")
	assert.GreaterOrEqual(t, d.MonthlyRate, 199*money.BasisPoint)
	assert.LessOrEqual(t, d.MonthlyRate, 499*money.BasisPoint)
	assert.Zero(t, d.MonthlyRate%money.BasisPoint, "0.01 % steps")
	if d.Installments == 0 {
		assert.Equal(t, 3, d.MinInstallments)
		assert.Equal(t, 24, d.MaxInstallments)
	}
	assert.Equal(t, "monthly", d.DueDateRule)
	assert.Equal(t, 30*24*time.Hour, d.ValidFor)
	assert.Equal(t, "sandbox-v1", d.Model)
}

func TestSandboxIsDeterministic(t *testing.T) {
	t.Parallel()
	var s scoring.Sandbox
	cnpj := "11222333000181"
	first, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj})
	require.NoError(t, err)
	assertSandboxApproval(t, first)

	for _, req := range []scoring.Request{
		{CNPJ: cnpj},
		{CNPJ: formatCNPJ(cnpj)},
		{CNPJ: " " + cnpj + "\n"},
		{CNPJ: cnpj, CPF: "12345678909", ExternalID: "other", TradingName: "Other", CustomerID: "cust_2", Attempt: 7},
		{CNPJ: cnpj, LegalNature: "sa", CompanyOpenedAt: time.Now()},
	} {
		d, err := s.Score(t.Context(), req)
		require.NoError(t, err)
		assert.Equal(t, first, d, "%+v", req)
	}

	alnum := "12ABC34501DE35"
	a1, err := s.Score(t.Context(), scoring.Request{CNPJ: alnum})
	require.NoError(t, err)
	a2, err := s.Score(t.Context(), scoring.Request{CNPJ: strings.ToLower(formatCNPJ(alnum))})
	require.NoError(t, err)
	assert.Equal(t, a1, a2, "letter case does not matter")
	assertSandboxApproval(t, a1)

	// Without a CNPJ, the CPF decides.
	p1, err := s.Score(t.Context(), scoring.Request{CPF: "12345678909"})
	require.NoError(t, err)
	p2, err := s.Score(t.Context(), scoring.Request{CPF: "123.456.789-09"})
	require.NoError(t, err)
	assert.Equal(t, p1, p2)
	assertSandboxApproval(t, p1)
}

func TestSandboxRandomCNPJsStayInRange(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var s scoring.Sandbox
	amounts, rates := map[int64]bool{}, map[money.Rate]bool{}
	const n = 5000
	for i := range n {
		cnpj := randomCNPJ(r, i%2 == 1)
		d, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj})
		require.NoError(t, err, cnpj)
		assertSandboxApproval(t, d)
		require.Zero(t, d.Installments, "only the magic root gets fixed installments")
		again, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj})
		require.NoError(t, err)
		require.Equal(t, d, again)
		amounts[d.ApprovedAmountCents], rates[d.MonthlyRate] = true, true
	}
	// 291 possible amounts and 301 rates: 5,000 draws should hit nearly all of them,
	// and the two ends.
	assert.Greater(t, len(amounts), 280)
	assert.Greater(t, len(rates), 290)
	assert.True(t, amounts[5_000_00] && amounts[150_000_00], "both ends of the amount range occur")
	assert.True(t, rates[199*money.BasisPoint] && rates[499*money.BasisPoint], "both ends of the rate range occur")
}

func TestSandboxMagicInputs(t *testing.T) {
	t.Parallel()
	var s scoring.Sandbox

	t.Run("documented example CNPJs are valid", func(t *testing.T) {
		t.Parallel()
		for _, raiz := range magicRaizes {
			assert.Equal(t, raiz+"000191", withCheckDigits(raiz+"0001"))
			assert.Equal(t, raiz+"000272", withCheckDigits(raiz+"0002"))
		}
	})

	t.Run("decline", func(t *testing.T) {
		t.Parallel()
		for _, cnpj := range []string{"11111111000191", "11.111.111/0001-91", "11111111000272"} {
			d, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj, Attempt: 1})
			require.NoError(t, err, "a decline is not an error")
			require.NoError(t, d.Validate())
			assert.Equal(t, scoring.Decision{
				Outcome: scoring.Decline,
				Reason:  "sandbox: declined (magic CNPJ raiz 11111111)",
				Model:   "sandbox-v1",
			}, d)
		}
	})

	t.Run("retryable then approve", func(t *testing.T) {
		t.Parallel()
		cnpj := "22.222.222/0001-91"
		for attempt := 0; attempt <= scoring.SandboxRetryFailures; attempt++ { // 0 reads as 1
			_, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj, Attempt: attempt})
			require.Error(t, err, "attempt %d", attempt)
			assert.False(t, scoring.IsPermanent(err))
			assert.Contains(t, err.Error(), "simulated temporary failure")
		}
		first, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj, Attempt: scoring.SandboxRetryFailures + 1})
		require.NoError(t, err)
		assertSandboxApproval(t, first)
		later, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj, Attempt: 10})
		require.NoError(t, err)
		assert.Equal(t, first, later)

		// Driven like the caller drives it: retry until it stops failing.
		attempts := 0
		for a := 1; ; a++ {
			attempts = a
			if _, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj, Attempt: a}); err == nil {
				break
			}
		}
		assert.Equal(t, 3, attempts)
	})

	t.Run("permanent", func(t *testing.T) {
		t.Parallel()
		for attempt := 1; attempt <= 5; attempt++ {
			_, err := s.Score(t.Context(), scoring.Request{CNPJ: "33333333000191", Attempt: attempt})
			require.Error(t, err)
			assert.True(t, scoring.IsPermanent(err))
			assert.Contains(t, err.Error(), "simulated permanent failure")
		}
	})

	t.Run("slow then approve", func(t *testing.T) {
		t.Parallel()
		const delay = 50 * time.Millisecond
		start := time.Now()
		d, err := scoring.Sandbox{SlowDelay: delay}.Score(t.Context(), scoring.Request{CNPJ: "44444444000191"})
		require.NoError(t, err)
		assert.GreaterOrEqual(t, time.Since(start), delay)
		assertSandboxApproval(t, d)
	})

	t.Run("fixed installments", func(t *testing.T) {
		t.Parallel()
		d, err := s.Score(t.Context(), scoring.Request{CNPJ: "55555555000191"})
		require.NoError(t, err)
		assertSandboxApproval(t, d)
		assert.Equal(t, scoring.SandboxFixedInstallments, d.Installments)
		assert.Zero(t, d.MinInstallments)
		assert.Zero(t, d.MaxInstallments)
	})

	t.Run("magic only in the root", func(t *testing.T) {
		t.Parallel()
		// 11111111 elsewhere in the number, or a root that merely starts alike.
		for _, cnpj := range []string{
			withCheckDigits("011111111000"), withCheckDigits("111111120001"), withCheckDigits("000111111111"),
		} {
			d, err := s.Score(t.Context(), scoring.Request{CNPJ: cnpj})
			require.NoError(t, err, cnpj)
			assertSandboxApproval(t, d)
		}
		// A CPF is never magic, even one starting with a magic root.
		d, err := s.Score(t.Context(), scoring.Request{CPF: "11111111111"})
		require.NoError(t, err)
		assertSandboxApproval(t, d)
	})
}

func TestSandboxSlowHonorsContext(t *testing.T) {
	t.Parallel()
	req := scoring.Request{CNPJ: "44444444000191"}

	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := scoring.Sandbox{}.Score(ctx, req) // default delay: 5 s
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, scoring.IsPermanent(err))
		assert.Less(t, time.Since(start), 2*time.Second, "returns when the context ends, not after the delay")
	})

	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, err := scoring.Sandbox{SlowDelay: time.Hour}.Score(ctx, req)
			errc <- err
		}()
		time.Sleep(10 * time.Millisecond)
		cancel()
		select {
		case err := <-errc:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(5 * time.Second):
			t.Fatal("Score did not return after cancel")
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, cnpj := range []string{"11222333000181", "44444444000191", "11111111000191"} {
			_, err := scoring.Sandbox{}.Score(ctx, scoring.Request{CNPJ: cnpj})
			assert.True(t, errors.Is(err, context.Canceled), cnpj)
		}
	})
}

func TestSandboxConcurrent(t *testing.T) {
	t.Parallel()
	var s scoring.Sandbox
	want, err := s.Score(t.Context(), scoring.Request{CNPJ: "11222333000181"})
	require.NoError(t, err)
	done := make(chan scoring.Decision)
	for range 8 {
		go func() {
			var d scoring.Decision
			for range 100 {
				d, _ = s.Score(context.Background(), scoring.Request{CNPJ: "11222333000181"})
			}
			done <- d
		}()
	}
	for range 8 {
		assert.Equal(t, want, <-done)
	}
}

func BenchmarkSandboxScore(b *testing.B) {
	var s scoring.Sandbox
	ctx := context.Background()
	reqs := []scoring.Request{
		{CNPJ: "11222333000181"},
		{CNPJ: "12.ABC.345/01DE-35"},
		{CNPJ: "55555555000191"},
		{CNPJ: "11111111000191"},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Score(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
