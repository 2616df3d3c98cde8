package taxid

import (
	"database/sql/driver"
	"math/rand/v2"
)

const cnpjLen = 14

// CNPJ is a Brazilian legal entity taxpayer number (Cadastro Nacional da
// Pessoa Jurídica), numeric or alphanumeric. A CNPJ returned by [ParseCNPJ]
// or [GenerateCNPJ] holds the 14 bare upper-case characters of a valid
// number, for example "12ABC34501DE35" or "11222333000181". The zero value
// ("") means no CNPJ.
type CNPJ string

// ParseCNPJ parses and validates a numeric or alphanumeric CNPJ given in
// formatted ("12.ABC.345/01DE-35"), bare ("12ABC34501DE35") or partially
// formatted form, in upper or lower case. See the package documentation for
// exactly what is accepted. On failure the error is an [*Error] wrapping
// [ErrInvalidCNPJ].
func ParseCNPJ(s string) (CNPJ, error) {
	var b [cnpjLen]byte
	if err := normalize(ErrInvalidCNPJ, s, b[:], true, "characters"); err != nil {
		return "", err
	}
	if !isDigit(b[12]) || !isDigit(b[13]) {
		return "", newError(ErrInvalidCNPJ, "check digits must be numeric")
	}
	if allSame(b[:]) {
		return "", newError(ErrInvalidCNPJ, reasonSame)
	}
	if d1, d2 := cnpjCheckDigits(b[:12]); b[12] != d1 || b[13] != d2 {
		return "", newError(ErrInvalidCNPJ, reasonMismatch)
	}
	if string(b[:]) == s { // already bare and upper case: avoid an allocation
		return CNPJ(s), nil
	}
	return CNPJ(b[:]), nil
}

// cnpjCheckDigits returns the two check digits of the 12 base characters,
// each in [0-9A-Z].
func cnpjCheckDigits(base []byte) (d1, d2 byte) {
	sum1, sum2 := 0, 0
	// Weights cycle through 2..9 from the right; base[11] has weight 2 for
	// the first digit and 3 for the second (the first digit takes 2).
	for i, c := range base[:12] {
		v := int(c - '0')
		sum1 += v * cnpjWeights[i+1]
		sum2 += v * cnpjWeights[i]
	}
	d1 = mod11(sum1)
	d2 = mod11(sum2 + int(d1-'0')*2)
	return d1, d2
}

// cnpjWeights are the weights of the 13 characters weighed for the second
// check digit; the 12 weighed for the first use cnpjWeights[1:].
var cnpjWeights = [13]int{6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2}

const cnpjAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// GenerateCNPJ returns a random valid CNPJ, drawing from r, or from the
// global generator of math/rand/v2 if r is nil. If alphanumeric is true, the
// 12 base characters are drawn from [0-9A-Z] and at least one is a letter,
// so the result's IsAlphanumeric is true; otherwise the result is numeric.
// Numbers with all digits the same are never generated.
func GenerateCNPJ(r *rand.Rand, alphanumeric bool) CNPJ {
	alphabet := cnpjAlphabet[:10]
	if alphanumeric {
		alphabet = cnpjAlphabet
	}
	var b [cnpjLen]byte
	for {
		for i := range 12 {
			b[i] = alphabet[intN(r, len(alphabet))]
		}
		b[12], b[13] = cnpjCheckDigits(b[:12])
		if !allSame(b[:]) && CNPJ(b[:12]).IsAlphanumeric() == alphanumeric {
			return CNPJ(b[:])
		}
	}
}

// String returns the formatted form, for example "12.ABC.345/01DE-35". It
// returns c unchanged if c does not have 14 characters (as the zero value).
func (c CNPJ) String() string {
	if len(c) != cnpjLen {
		return string(c)
	}
	s := string(c)
	return s[0:2] + "." + s[2:5] + "." + s[5:8] + "/" + s[8:12] + "-" + s[12:14]
}

// Bare returns the 14 bare characters, for example "12ABC34501DE35".
func (c CNPJ) Bare() string { return string(c) }

// IsAlphanumeric reports whether c contains a letter, that is, whether it
// uses the alphanumeric format of IN RFB 2.229/2024 rather than the numeric
// one.
func (c CNPJ) IsAlphanumeric() bool {
	for i := range len(c) {
		if !isDigit(c[i]) {
			return true
		}
	}
	return false
}

// MarshalText implements [encoding.TextMarshaler]. It returns the formatted
// form, or an empty text for the zero value. It fails if c is not a valid
// CNPJ.
func (c CNPJ) MarshalText() ([]byte, error) {
	return marshalText(c, ParseCNPJ)
}

// UnmarshalText implements [encoding.TextUnmarshaler]. It accepts what
// [ParseCNPJ] accepts; an empty text yields the zero value. On error c is
// left unchanged.
func (c *CNPJ) UnmarshalText(text []byte) error {
	return unmarshalText(c, text, ParseCNPJ)
}

// Value implements [driver.Valuer]. It returns the bare form as a string, or
// nil (SQL NULL) for the zero value. It fails if c is not a valid CNPJ.
func (c CNPJ) Value() (driver.Value, error) {
	return value(c, ParseCNPJ)
}

// Scan implements [database/sql.Scanner]. It accepts a string or []byte in
// any form [ParseCNPJ] accepts; NULL and the empty string yield the zero
// value. Other types, including integers, are rejected. On error c is left
// unchanged.
func (c *CNPJ) Scan(src any) error {
	return scan(c, src, ParseCNPJ, ErrInvalidCNPJ)
}
