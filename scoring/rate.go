package scoring

import (
	"fmt"
	"strconv"
	"strings"
)

// Rate is a monthly interest rate in units of 0.0001 percentage points, the unit of the
// root package's onboarding.Rate: 3.5 % a month is Rate(35000), or 350 * BasisPoint. It is
// exact; convert with onboarding.Rate(d.MonthlyRate).
//
// In JSON it is a number written from its exact decimal form (3.5); decoding accepts a
// number or a string ("3.5", "3.5%"). It also implements [encoding.TextMarshaler] and
// [encoding.TextUnmarshaler], so YAML and other text formats read "monthly_rate: 3.5".
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
	whole, frac, hasDot := strings.Cut(t, ".")
	bad := whole == "" || len(whole) > 6 || (hasDot && (frac == "" || len(frac) > 4))
	for _, part := range [...]string{whole, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				bad = true
			}
		}
	}
	if bad {
		return 0, fmt.Errorf("scoring: invalid rate %q: want a percentage with at most four decimal places", s)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", 4-len(frac)), 10, 64)
	}
	return Rate(w*int64(Percent) + f), nil
}

// String formats the rate as a percentage without trailing zeros and without the sign:
// Rate(35000) is "3.5".
func (r Rate) String() string {
	v := int64(r)
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	s := fmt.Sprintf("%s%d.%04d", sign, v/int64(Percent), v%int64(Percent))
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
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
