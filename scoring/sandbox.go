package scoring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding/money"
)

// The CNPJ roots (raiz: the first 8 characters) that make [Sandbox] take a scripted path.
// See "Sandbox magic inputs" in the package documentation.
const (
	// SandboxDeclineRaiz declines (e.g. CNPJ 11.111.111/0001-91).
	SandboxDeclineRaiz = "11111111"
	// SandboxRetryRaiz fails with a retryable error on the first SandboxRetryFailures
	// attempts, then approves (e.g. CNPJ 22.222.222/0001-91).
	SandboxRetryRaiz = "22222222"
	// SandboxPermanentRaiz fails with a permanent error (e.g. CNPJ 33.333.333/0001-91).
	SandboxPermanentRaiz = "33333333"
	// SandboxSlowRaiz waits Sandbox.SlowDelay (honoring the context), then approves
	// (e.g. CNPJ 44.444.444/0001-91).
	SandboxSlowRaiz = "44444444"
	// SandboxFixedInstallmentsRaiz approves with a fixed number of installments
	// (SandboxFixedInstallments) instead of a range (e.g. CNPJ 55.555.555/0001-91).
	SandboxFixedInstallmentsRaiz = "55555555"
)

// Sandbox behaviour.
const (
	// SandboxModel is the Model of every sandbox decision.
	SandboxModel = "sandbox-v1"
	// SandboxRetryFailures is how many attempts fail for SandboxRetryRaiz.
	SandboxRetryFailures = 2
	// SandboxFixedInstallments is the installment count for SandboxFixedInstallmentsRaiz.
	SandboxFixedInstallments = 12
	// DefaultSandboxSlowDelay is the delay of SandboxSlowRaiz when Sandbox.SlowDelay is zero.
	DefaultSandboxSlowDelay = 5 * time.Second
)

// The ranges of sandbox approvals.
const (
	sandboxMinApprovedCents  = 5_000_00   // R$ 5,000.00
	sandboxMaxApprovedCents  = 150_000_00 // R$ 150,000.00
	sandboxApprovedStepCents = 500_00     // R$ 500.00
	sandboxMinRate           = 199 * money.BasisPoint
	sandboxMaxRate           = 499 * money.BasisPoint
	sandboxRateStep          = money.BasisPoint
	sandboxMinInstallments   = 3
	sandboxMaxInstallments   = 24
	sandboxValidFor          = 30 * 24 * time.Hour

	sandboxAmountSteps = (sandboxMaxApprovedCents-sandboxMinApprovedCents)/sandboxApprovedStepCents + 1 // 291
	sandboxRateSteps   = int64((sandboxMaxRate-sandboxMinRate)/sandboxRateStep) + 1                     // 301
)

// Sandbox is a deterministic scorer for sandbox environments and tests. It approves every
// request on terms derived from a hash of its CNPJ (of its CPF when it has no CNPJ), so
// the same customer always gets the same offer, and follows a scripted path for the
// documented magic CNPJ roots (see the package documentation). Its zero value is ready to
// use and safe for concurrent use.
type Sandbox struct {
	// SlowDelay is how long SandboxSlowRaiz waits before approving; zero means
	// DefaultSandboxSlowDelay.
	SlowDelay time.Duration
}

// Score decides req as the package documentation's sandbox table says.
func (s Sandbox) Score(ctx context.Context, req Request) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{}, err
	}
	key := req.CNPJ
	raiz, n := sandboxRaiz(key)
	if n == 0 {
		key = req.CPF
	}
	switch raiz {
	case SandboxDeclineRaiz:
		return Decision{
			Outcome: Decline,
			Reason:  "sandbox: declined (magic CNPJ raiz " + SandboxDeclineRaiz + ")",
			Model:   SandboxModel,
		}, nil
	case SandboxRetryRaiz:
		if a := req.attempt(); a <= SandboxRetryFailures {
			return Decision{}, fmt.Errorf("scoring: sandbox: simulated temporary failure on attempt %d of %d (magic CNPJ raiz %s)",
				a, SandboxRetryFailures, SandboxRetryRaiz)
		}
	case SandboxPermanentRaiz:
		return Decision{}, errSandboxPermanent
	case SandboxSlowRaiz:
		delay := s.SlowDelay
		if delay <= 0 {
			delay = DefaultSandboxSlowDelay
		}
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return Decision{}, fmt.Errorf("scoring: sandbox: slow scorer interrupted: %w", ctx.Err())
		case <-t.C:
		}
	}
	d := sandboxApproval(key)
	if raiz == SandboxFixedInstallmentsRaiz {
		d.Installments, d.MinInstallments, d.MaxInstallments = SandboxFixedInstallments, 0, 0
	}
	return d, nil
}

var errSandboxPermanent = Permanent(errors.New("scoring: sandbox: simulated permanent failure (magic CNPJ raiz " + SandboxPermanentRaiz + ")"))

// sandboxApproval derives the default approval from a tax ID.
func sandboxApproval(taxID string) Decision {
	h := sandboxHash(taxID)
	h1, h2 := mix64(h), mix64(h^0x9e3779b97f4a7c15)
	approved := sandboxMinApprovedCents + int64(h1%sandboxAmountSteps)*sandboxApprovedStepCents
	return Decision{
		Outcome:             Approve,
		ApprovedAmountCents: approved,
		MinAmountCents:      approved / 10, // exact: approved is a multiple of R$ 500.00
		MonthlyRate:         sandboxMinRate + money.Rate(h2%uint64(sandboxRateSteps))*sandboxRateStep,
		MinInstallments:     sandboxMinInstallments,
		MaxInstallments:     sandboxMaxInstallments,
		DueDateRule:         DueMonthly,
		ValidFor:            sandboxValidFor,
		Reason:              "sandbox: approved",
		Model:               SandboxModel,
	}
}

// sandboxRaiz returns the first 8 significant characters of a tax ID (punctuation and
// white space skipped, letters upper-cased) and the number of significant characters.
func sandboxRaiz(s string) (raiz string, n int) {
	var b [8]byte
	for i := 0; i < len(s); i++ {
		c, ok := sandboxChar(s[i])
		if !ok {
			continue
		}
		if n < len(b) {
			b[n] = c
		}
		n++
	}
	if n < len(b) {
		return "", n
	}
	switch string(b[:]) { // the conversion in a switch does not allocate
	case SandboxDeclineRaiz:
		return SandboxDeclineRaiz, n
	case SandboxRetryRaiz:
		return SandboxRetryRaiz, n
	case SandboxPermanentRaiz:
		return SandboxPermanentRaiz, n
	case SandboxSlowRaiz:
		return SandboxSlowRaiz, n
	case SandboxFixedInstallmentsRaiz:
		return SandboxFixedInstallmentsRaiz, n
	}
	return "", n
}

// sandboxChar returns c upper-cased, and false for punctuation and white space, so that
// "11.111.111/0001-91" and "11111111000191" are the same key.
func sandboxChar(c byte) (byte, bool) {
	switch {
	case c == '.' || c == '-' || c == '/' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
		return 0, false
	case 'a' <= c && c <= 'z':
		return c - ('a' - 'A'), true
	}
	return c, true
}

// sandboxHash is FNV-1a (64 bits) over the significant characters of a tax ID.
func sandboxHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		if c, ok := sandboxChar(s[i]); ok {
			h ^= uint64(c)
			h *= 1099511628211
		}
	}
	return h
}

// mix64 is the SplitMix64 finalizer: it spreads FNV's weak low bits over the whole word.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
