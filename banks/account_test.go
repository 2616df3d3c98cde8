package banks_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/banks"
)

func TestAccountNormalize(t *testing.T) {
	t.Parallel()

	valid := banks.Account{BankID: "341", Branch: "0001", Number: "123456", Digit: "7", Kind: banks.Checking}
	with := func(f func(*banks.Account)) banks.Account {
		a := valid
		f(&a)
		return a
	}
	for _, tc := range []struct {
		name  string
		in    banks.Account
		want  banks.Account
		field string // empty: valid
		known bool   // the error is ErrUnknownBank
	}{
		{name: "valid", in: valid, want: valid},
		{name: "short codes are padded", in: with(func(a *banks.Account) { a.BankID, a.Branch = "1", "12" }),
			want: with(func(a *banks.Account) { a.BankID, a.Branch = "001", "0012" })},
		{name: "two-digit code", in: with(func(a *banks.Account) { a.BankID = "77" }), want: with(func(a *banks.Account) { a.BankID = "077" })},
		{name: "lower-case x", in: with(func(a *banks.Account) { a.Digit = "x" }), want: with(func(a *banks.Account) { a.Digit = "X" })},
		{name: "X", in: with(func(a *banks.Account) { a.Digit = "X" }), want: with(func(a *banks.Account) { a.Digit = "X" })},
		{name: "saving", in: with(func(a *banks.Account) { a.Kind = banks.Saving }), want: with(func(a *banks.Account) { a.Kind = banks.Saving })},
		{name: "payment", in: with(func(a *banks.Account) { a.Kind = banks.Payment }), want: with(func(a *banks.Account) { a.Kind = banks.Payment })},
		{name: "leading zeros kept in number", in: with(func(a *banks.Account) { a.Number = "000123" }), want: with(func(a *banks.Account) { a.Number = "000123" })},
		{name: "20-digit number", in: with(func(a *banks.Account) { a.Number = "12345678901234567890" }), want: with(func(a *banks.Account) { a.Number = "12345678901234567890" })},

		{name: "empty bank", in: with(func(a *banks.Account) { a.BankID = "" }), field: "bank_id"},
		{name: "4-digit bank", in: with(func(a *banks.Account) { a.BankID = "0341" }), field: "bank_id"},
		{name: "ISPB as bank", in: with(func(a *banks.Account) { a.BankID = "60701190" }), field: "bank_id"},
		{name: "unknown bank", in: with(func(a *banks.Account) { a.BankID = "999" }), field: "bank_id", known: true},
		{name: "letters in bank", in: with(func(a *banks.Account) { a.BankID = "34a" }), field: "bank_id"},
		{name: "empty branch", in: with(func(a *banks.Account) { a.Branch = "" }), field: "branch"},
		{name: "branch with digit", in: with(func(a *banks.Account) { a.Branch = "1234-5" }), field: "branch"},
		{name: "5-digit branch", in: with(func(a *banks.Account) { a.Branch = "12345" }), field: "branch"},
		{name: "branch with space", in: with(func(a *banks.Account) { a.Branch = " 123" }), field: "branch"},
		{name: "empty number", in: with(func(a *banks.Account) { a.Number = "" }), field: "number"},
		{name: "number with digit", in: with(func(a *banks.Account) { a.Number = "123456-7" }), field: "number"},
		{name: "21-digit number", in: with(func(a *banks.Account) { a.Number = "123456789012345678901" }), field: "number"},
		{name: "zero number", in: with(func(a *banks.Account) { a.Number = "0000" }), field: "number"},
		{name: "full-width digits", in: with(func(a *banks.Account) { a.Number = "１２３" }), field: "number"},
		{name: "empty digit", in: with(func(a *banks.Account) { a.Digit = "" }), field: "digit"},
		{name: "two digits", in: with(func(a *banks.Account) { a.Digit = "12" }), field: "digit"},
		{name: "letter digit", in: with(func(a *banks.Account) { a.Digit = "P" }), field: "digit"},
		{name: "empty kind", in: with(func(a *banks.Account) { a.Kind = "" }), field: "kind"},
		{name: "Portuguese kind", in: with(func(a *banks.Account) { a.Kind = "corrente" }), field: "kind"},
		{name: "plural kind", in: with(func(a *banks.Account) { a.Kind = "savings" }), field: "kind"},
		{name: "capitalized kind", in: with(func(a *banks.Account) { a.Kind = "Checking" }), field: "kind"},
		{name: "first bad field wins", in: banks.Account{}, field: "bank_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.in.Normalize()
			if tc.field == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				require.NoError(t, tc.in.Validate())
				return
			}
			require.ErrorIs(t, err, banks.ErrInvalidAccount)
			require.Equal(t, tc.known, errors.Is(err, banks.ErrUnknownBank))
			var ferr *banks.FieldError
			require.ErrorAs(t, err, &ferr)
			require.Equal(t, tc.field, ferr.Field)
			require.Contains(t, err.Error(), tc.field+": ")
			require.Zero(t, got)
			require.Equal(t, err, tc.in.Validate())
			if tc.field != "bank_id" && tc.field != "kind" {
				require.NotContains(t, err.Error(), `"`, "the reason must not repeat the account's data")
			}
		})
	}
}

func TestFieldReasons(t *testing.T) {
	t.Parallel()

	_, err := banks.NormalizeBranch("1234-5")
	require.EqualError(t, err, "banks: invalid bank account: branch: must be 1 to 4 digits (send the branch without its check digit)")
	_, err = banks.NormalizeNumber("12-3")
	require.EqualError(t, err, "banks: invalid bank account: number: must be 1 to 20 digits (send the check digit in digit)")
	_, err = banks.NormalizeBankID("999")
	require.EqualError(t, err, `banks: invalid bank account: bank_id: no bank has COMPE code 999`)
	_, err = banks.ParseAccountKind("savings")
	require.EqualError(t, err, `banks: invalid bank account: kind: "savings" is not checking, saving or payment`)
	_, err = banks.NormalizeDigit("")
	require.EqualError(t, err, "banks: invalid bank account: digit: must be one digit or X")
}
