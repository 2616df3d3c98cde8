package taxid

import (
	"database/sql/driver"
	"log/slog"
	"math/rand/v2"
)

const cpfLen = 11

// CPF is a Brazilian individual taxpayer number (Cadastro de Pessoas
// Físicas). A CPF returned by [ParseCPF] or [GenerateCPF] holds the 11 bare
// digits of a valid number, for example "12345678909". The zero value ("")
// means no CPF.
//
// A CPF is personal data: log it with [CPF.Masked] (slog does so
// automatically), not with [CPF.String] or fmt verbs.
type CPF string

// ParseCPF parses and validates a CPF given in formatted ("123.456.789-09"),
// bare ("12345678909") or partially formatted form. See the package
// documentation for exactly what is accepted. On failure the error is an
// [*Error] wrapping [ErrInvalidCPF].
func ParseCPF(s string) (CPF, error) {
	var b [cpfLen]byte
	if err := normalize(ErrInvalidCPF, s, b[:], false, "digits"); err != nil {
		return "", err
	}
	if allSame(b[:]) {
		return "", newError(ErrInvalidCPF, reasonSame)
	}
	if d1, d2 := cpfCheckDigits(b[:9]); b[9] != d1 || b[10] != d2 {
		return "", newError(ErrInvalidCPF, reasonMismatch)
	}
	if string(b[:]) == s { // already bare: avoid an allocation
		return CPF(s), nil
	}
	return CPF(b[:]), nil
}

// cpfCheckDigits returns the two check digits of the 9 base digits.
func cpfCheckDigits(base []byte) (d1, d2 byte) {
	sum1, sum2 := 0, 0
	for i, c := range base[:9] {
		v := int(c - '0')
		sum1 += v * (10 - i)
		sum2 += v * (11 - i)
	}
	d1 = mod11(sum1)
	d2 = mod11(sum2 + int(d1-'0')*2)
	return d1, d2
}

// GenerateCPF returns a random valid CPF, drawing from r, or from the global
// generator of math/rand/v2 if r is nil. Numbers with all digits the same
// are never generated.
func GenerateCPF(r *rand.Rand) CPF {
	var b [cpfLen]byte
	for {
		for i := range 9 {
			b[i] = byte('0' + intN(r, 10))
		}
		if !allSame(b[:9]) {
			break
		}
	}
	b[9], b[10] = cpfCheckDigits(b[:9])
	return CPF(b[:])
}

// String returns the formatted form, for example "123.456.789-09". It
// returns c unchanged if c does not have 11 characters (as the zero value).
// String prints the full number: use [CPF.Masked] in logs.
func (c CPF) String() string {
	if len(c) != cpfLen {
		return string(c)
	}
	s := string(c)
	return s[0:3] + "." + s[3:6] + "." + s[6:9] + "-" + s[9:11]
}

// Bare returns the 11 bare digits, for example "12345678909".
func (c CPF) Bare() string { return string(c) }

// Masked returns a form safe for logs that hides the first three digits and
// the check digits, for example "***.456.789-**". It returns "" for the zero
// value and "***.***.***-**" if c does not have 11 characters.
func (c CPF) Masked() string {
	switch len(c) {
	case 0:
		return ""
	case cpfLen:
		s := string(c)
		return "***." + s[3:6] + "." + s[6:9] + "-**"
	default:
		return "***.***.***-**"
	}
}

// LogValue implements [slog.LogValuer], logging the [CPF.Masked] form.
func (c CPF) LogValue() slog.Value { return slog.StringValue(c.Masked()) }

// MarshalText implements [encoding.TextMarshaler]. It returns the formatted
// form, or an empty text for the zero value. It fails if c is not a valid
// CPF.
func (c CPF) MarshalText() ([]byte, error) {
	return marshalText(c, ParseCPF)
}

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts what
// [ParseCPF] accepts; an empty text yields the zero value. On error c is
// left unchanged.
func (c *CPF) UnmarshalText(text []byte) error {
	return unmarshalText(c, text, ParseCPF)
}

// Value implements [driver.Valuer]. It returns the bare form as a string, or
// nil (SQL NULL) for the zero value. It fails if c is not a valid CPF.
func (c CPF) Value() (driver.Value, error) {
	return value(c, ParseCPF)
}

// Scan implements [database/sql.Scanner]. It accepts a string or []byte in
// any form [ParseCPF] accepts; NULL and the empty string yield the zero
// value. Other types, including integers, are rejected. On error c is left
// unchanged.
func (c *CPF) Scan(src any) error {
	return scan(c, src, ParseCPF, ErrInvalidCPF)
}
