package banks_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/banks"
)

var (
	normalBranch = regexp.MustCompile(`^[0-9]{4}$`)
	normalNumber = regexp.MustCompile(`^[0-9]{1,20}$`)
	normalDigit  = regexp.MustCompile(`^[0-9X]$`)
)

// FuzzAccount: the field validators never panic, fail only with a *FieldError naming
// the field, return the stored form on success, and are idempotent on it. Seeds are in
// testdata/fuzz/FuzzAccount.
func FuzzAccount(f *testing.F) {
	f.Fuzz(func(t *testing.T, bankID, branch, number, digit, kind string) {
		in := banks.Account{BankID: bankID, Branch: branch, Number: number, Digit: digit, Kind: banks.AccountKind(kind)}
		out, err := in.Normalize()

		fields := []struct {
			name string
			ok   bool
		}{
			{"bank_id", checkField(t, "bank_id", bankID, banks.NormalizeBankID)},
			{"branch", checkField(t, "branch", branch, banks.NormalizeBranch)},
			{"number", checkField(t, "number", number, banks.NormalizeNumber)},
			{"digit", checkField(t, "digit", digit, banks.NormalizeDigit)},
			{"kind", checkField(t, "kind", kind, func(s string) (string, error) {
				k, err := banks.ParseAccountKind(s)
				return string(k), err
			})},
		}
		firstBad := ""
		for _, f := range fields {
			if !f.ok {
				firstBad = f.name
				break
			}
		}
		if firstBad != "" {
			var ferr *banks.FieldError
			require.ErrorAs(t, err, &ferr)
			require.Equal(t, firstBad, ferr.Field)
			require.Zero(t, out)
			return
		}
		require.NoError(t, err)
		b, ok := banks.Lookup(out.BankID)
		require.True(t, ok)
		require.Equal(t, out.BankID, b.ID)
		require.Regexp(t, normalBranch, out.Branch)
		require.Regexp(t, normalNumber, out.Number)
		require.Equal(t, number, out.Number)
		require.Regexp(t, normalDigit, out.Digit)
		again, err := out.Normalize()
		require.NoError(t, err)
		require.Equal(t, out, again)
	})
}

// checkField runs one validator and checks its error's shape; it reports success.
func checkField(t *testing.T, field, in string, normalize func(string) (string, error)) bool {
	t.Helper()
	out, err := normalize(in)
	if err != nil {
		var ferr *banks.FieldError
		require.ErrorAs(t, err, &ferr)
		require.Equal(t, field, ferr.Field)
		require.ErrorIs(t, err, banks.ErrInvalidAccount)
		if errors.Is(err, banks.ErrUnknownBank) {
			require.Equal(t, "bank_id", field)
		}
		require.Empty(t, out)
		return false
	}
	again, err := normalize(out)
	require.NoError(t, err)
	require.Equal(t, out, again)
	return true
}
