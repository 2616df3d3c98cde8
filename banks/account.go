package banks

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors matched (errors.Is) by a [*FieldError].
var (
	// ErrInvalidAccount is matched by every bank-account field error.
	ErrInvalidAccount = errors.New("banks: invalid bank account")
	// ErrUnknownBank is also matched when bank_id is well formed but names no bank of
	// the directory.
	ErrUnknownBank = errors.New("banks: unknown bank")
)

// FieldError reports a bank-account field that is not valid. Field is the SDK's wire
// name: "bank_id", "branch", "number", "digit" or "kind". It matches [ErrInvalidAccount],
// and also [ErrUnknownBank] for a well-formed code of no bank. Like taxid.Error, its
// Reason never repeats the branch, number or digit it was given: they identify a
// customer's account and errors end up in logs.
type FieldError struct {
	// Field is the wire name of the field.
	Field string
	// Reason says what is allowed, in words.
	Reason string
	// unknownBank marks a well-formed bank_id of no bank.
	unknownBank bool
}

// Error formats the error with its field and reason.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrInvalidAccount, e.Field, e.Reason)
}

// Unwrap returns [ErrInvalidAccount], and [ErrUnknownBank] for an unknown bank.
func (e *FieldError) Unwrap() []error {
	if e.unknownBank {
		return []error{ErrInvalidAccount, ErrUnknownBank}
	}
	return []error{ErrInvalidAccount}
}

// AccountKind is a bank account's kind: the SDK's CustomerBankAccountKind.
type AccountKind string

// The account kinds of the SDK's enum.
const (
	// Checking is a checking account (conta corrente).
	Checking AccountKind = "checking"
	// Saving is a savings account (conta poupança).
	Saving AccountKind = "saving"
	// Payment is a payment account (conta de pagamento) at a payment institution.
	Payment AccountKind = "payment"
)

// Field bounds.
const (
	// MaxBranchDigits is the length of a branch (agência) without its check digit.
	MaxBranchDigits = 4
	// MaxNumberDigits bounds an account number without its check digit: 20 digits, the
	// account-number field of the Central Bank's Pix directory (DICT), which covers the
	// longest numbers in use (Caixa's operation code plus account, for instance).
	MaxNumberDigits = 20
)

// Account is a bank account as the SDK sends it (CustomerBankAccountRequestWire).
type Account struct {
	// BankID is the bank's COMPE code, 1 to 3 digits, zero-padded to 3 by Normalize.
	BankID string `json:"bank_id"`
	// Branch is the branch (agência) without its check digit, 1 to 4 digits,
	// zero-padded to 4 by Normalize.
	Branch string `json:"branch"`
	// Number is the account number without its check digit.
	Number string `json:"number"`
	// Digit is the account's check digit: one digit or "X".
	Digit string `json:"digit"`
	// Kind is checking, saving or payment.
	Kind AccountKind `json:"kind"`
}

// Normalize validates every field, in the order bank_id, branch, number, digit, kind,
// and returns the account as it is stored: bank_id padded to 3 digits, branch to 4, the
// digit "x" upper-cased. The error is the first field's [*FieldError].
func (a Account) Normalize() (Account, error) {
	var err error
	if a.BankID, err = NormalizeBankID(a.BankID); err != nil {
		return Account{}, err
	}
	if a.Branch, err = NormalizeBranch(a.Branch); err != nil {
		return Account{}, err
	}
	if a.Number, err = NormalizeNumber(a.Number); err != nil {
		return Account{}, err
	}
	if a.Digit, err = NormalizeDigit(a.Digit); err != nil {
		return Account{}, err
	}
	if a.Kind, err = ParseAccountKind(string(a.Kind)); err != nil {
		return Account{}, err
	}
	return a, nil
}

// Validate reports the first invalid field, as [Account.Normalize] does.
func (a Account) Validate() error {
	_, err := a.Normalize()
	return err
}

// NormalizeBankID checks that s is 1 to 3 digits naming a bank of the directory and
// returns the 3-digit code ("1" gives "001").
func NormalizeBankID(s string) (string, error) {
	if !isDigits(s, 1, 3) {
		return "", &FieldError{Field: "bank_id", Reason: fmt.Sprintf("%q is not a COMPE code (1 to 3 digits)", s)}
	}
	id := pad(s, 3)
	if _, ok := Lookup(id); !ok {
		return "", &FieldError{Field: "bank_id", Reason: fmt.Sprintf("no bank has COMPE code %s", id), unknownBank: true}
	}
	return id, nil
}

// NormalizeBranch checks that s is a branch number without its check digit, 1 to 4
// digits, and returns it zero-padded to 4 ("1" gives "0001").
func NormalizeBranch(s string) (string, error) {
	if !isDigits(s, 1, MaxBranchDigits) {
		reason := "must be 1 to 4 digits"
		if strings.ContainsAny(s, "-xX") {
			reason += " (send the branch without its check digit)"
		}
		return "", &FieldError{Field: "branch", Reason: reason}
	}
	return pad(s, MaxBranchDigits), nil
}

// NormalizeNumber checks that s is an account number without its check digit: 1 to 20
// digits, not all zeros. It returns s unchanged: leading zeros are part of some numbers.
func NormalizeNumber(s string) (string, error) {
	if !isDigits(s, 1, MaxNumberDigits) {
		reason := fmt.Sprintf("must be 1 to %d digits", MaxNumberDigits)
		if strings.ContainsAny(s, "-xX") {
			reason += " (send the check digit in digit)"
		}
		return "", &FieldError{Field: "number", Reason: reason}
	}
	if strings.Trim(s, "0") == "" {
		return "", &FieldError{Field: "number", Reason: "must not be all zeros"}
	}
	return s, nil
}

// NormalizeDigit checks that s is an account check digit, one digit or "X" (some banks,
// Banco do Brasil among them, use X for 10), and returns it with "x" upper-cased.
func NormalizeDigit(s string) (string, error) {
	switch {
	case len(s) == 1 && s[0] >= '0' && s[0] <= '9':
		return s, nil
	case s == "X" || s == "x":
		return "X", nil
	}
	return "", &FieldError{Field: "digit", Reason: "must be one digit or X"}
}

// ParseAccountKind checks that s is "checking", "saving" or "payment".
func ParseAccountKind(s string) (AccountKind, error) {
	switch k := AccountKind(s); k {
	case Checking, Saving, Payment:
		return k, nil
	}
	return "", &FieldError{Field: "kind", Reason: fmt.Sprintf("%q is not checking, saving or payment", s)}
}

// pad left-pads the digits s with zeros to n characters.
func pad(s string, n int) string {
	return strings.Repeat("0", n-len(s)) + s
}
