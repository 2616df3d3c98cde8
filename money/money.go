// Package money holds the exact amounts and rates every other package of the module speaks:
// [Money] in centavos and [Rate] in ten-thousandths of a percentage point. Neither ever
// passes through float64. It imports nothing from the module, so a scoring plugin or a
// receiver of webhooks depends on little.
package money

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax is matched by every parse error of this package.
var ErrSyntax = errors.New("money: invalid syntax")

// Money is an amount of Brazilian reais in centavos. It is exact: no float64 anywhere.
// In JSON it is a decimal string with two places ("50000.00").
type Money int64

// maxMoneyDigits bounds the integer part of a parsed amount (below int64 overflow).
const maxMoneyDigits = 15

// Parse parses "50000", "50000.5" or "50000.00": digits with at most two decimal places,
// no sign, no thousands separators.
func Parse(s string) (Money, error) {
	w, f, ok := parseDecimal(s, maxMoneyDigits, 2)
	if !ok {
		return 0, fmt.Errorf("%w: amount %q: want digits with at most two decimal places", ErrSyntax, s)
	}
	return Money(w*100 + f), nil
}

// Reais returns n whole reais.
func Reais(n int64) Money { return Money(n * 100) }

// Cents returns m in centavos.
func (m Money) Cents() int64 { return int64(m) }

// String formats m with two decimal places ("50000.00").
func (m Money) String() string {
	sign, v := "", int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// MarshalJSON encodes m as a decimal string.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON decodes a decimal string.
func (m *Money) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: an amount must be a decimal string", ErrSyntax)
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Rate is an interest rate in units of 0.0001 percentage points: 3.5 % a month is
// Rate(35000), or 350 * BasisPoint. It is exact. In JSON it is a number written from its
// exact decimal form (3.5); decoding accepts a number or a string ("3.5", "3.5%"). It also
// implements encoding.TextMarshaler and TextUnmarshaler, so YAML and other text formats
// read "monthly_rate: 3.5".
type Rate int64

// Rate units.
const (
	// BasisPoint is 0.01 percentage points.
	BasisPoint Rate = 100
	// Percent is one percentage point.
	Percent Rate = 10000
)

// ParseRate parses a non-negative percentage with at most four decimal places, such as
// "3.5" or "1.99", optionally followed by "%".
func ParseRate(s string) (Rate, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	w, f, ok := parseDecimal(t, 6, 4)
	if !ok {
		return 0, fmt.Errorf("%w: rate %q: want a percentage with at most four decimal places", ErrSyntax, s)
	}
	return Rate(w*int64(Percent) + f), nil
}

// String formats the rate as a percentage without trailing zeros: Rate(35000) is "3.5".
func (r Rate) String() string {
	sign, v := "", int64(r)
	if v < 0 {
		sign, v = "-", -v
	}
	s := fmt.Sprintf("%s%d.%04d", sign, v/int64(Percent), v%int64(Percent))
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// MarshalJSON encodes the rate as a JSON number (3.5).
func (r Rate) MarshalJSON() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalJSON decodes a JSON number or a string holding one.
func (r *Rate) UnmarshalJSON(b []byte) error {
	return r.UnmarshalText([]byte(strings.Trim(string(b), `"`)))
}

// MarshalText encodes the rate as its decimal form ("3.5").
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes a decimal percentage, as [ParseRate] does.
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// parseDecimal splits an unsigned decimal into its whole part and its fraction scaled to
// places digits. ok is false for anything but digits, an optional dot and 1..places
// decimals, or more than maxWhole whole digits.
func parseDecimal(s string, maxWhole, places int) (whole, frac int64, ok bool) {
	w, f, hasDot := strings.Cut(s, ".")
	if w == "" || len(w) > maxWhole || (hasDot && (f == "" || len(f) > places)) {
		return 0, 0, false
	}
	for _, part := range [...]string{w, f} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, 0, false
			}
		}
	}
	whole, _ = strconv.ParseInt(w, 10, 64)
	if f != "" {
		frac, _ = strconv.ParseInt(f+strings.Repeat("0", places-len(f)), 10, 64)
	}
	return whole, frac, true
}
