package simulation

import (
	"errors"
	"fmt"
	"time"
)

// ErrUnknownDueDateRule is matched (errors.Is) by the error [ParseDueDateRule] returns
// for a rule this package does not know.
var ErrUnknownDueDateRule = errors.New("simulation: unknown due_date_rule")

// DueDateRule places an offer's installments in time. It is the typed form of the credit
// offer's due_date_rule string. The zero value means the offer states no rule; it
// behaves as [Monthly], the only rule there is.
type DueDateRule uint8

// The known due-date rules.
const (
	// Monthly puts installment k exactly k calendar months after the simulation date
	// (the first due date one month after it). When the target month is shorter, the
	// due date is that month's last day: from 31 January the due dates are 28 (or 29)
	// February, 31 March, 30 April and so on, each counted from the simulation date
	// rather than from the previous due date. Its wire name is "monthly".
	Monthly DueDateRule = iota + 1
)

// ruleNames maps each known rule to its wire name.
var ruleNames = map[DueDateRule]string{Monthly: "monthly"}

// ParseDueDateRule parses an offer's due_date_rule. The empty string (the SDK's field is
// optional and nullable) is [Monthly]; "monthly" is [Monthly]; anything else, including
// other spellings such as "Monthly" or " monthly", is an error matching
// [ErrUnknownDueDateRule].
func ParseDueDateRule(s string) (DueDateRule, error) {
	if s == "" {
		return Monthly, nil
	}
	for r, name := range ruleNames {
		if s == name {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (known rules: \"monthly\")", ErrUnknownDueDateRule, s)
}

// String returns the rule's wire name ("monthly"); the zero value is "monthly" too.
func (r DueDateRule) String() string {
	if name, ok := ruleNames[r.orDefault()]; ok {
		return name
	}
	return fmt.Sprintf("DueDateRule(%d)", uint8(r))
}

// MarshalText encodes the rule as its wire name.
func (r DueDateRule) MarshalText() ([]byte, error) {
	if _, ok := ruleNames[r.orDefault()]; !ok {
		return nil, fmt.Errorf("%w: DueDateRule(%d)", ErrUnknownDueDateRule, uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a wire name, as [ParseDueDateRule] does.
func (r *DueDateRule) UnmarshalText(b []byte) error {
	v, err := ParseDueDateRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// DueDates returns the due dates of n installments of a simulation made on date start
// (its calendar day in its own location; the result is at midnight UTC).
func (r DueDateRule) DueDates(start time.Time, n int) ([]time.Time, error) {
	if r.orDefault() != Monthly {
		return nil, fmt.Errorf("%w: DueDateRule(%d)", ErrUnknownDueDateRule, uint8(r))
	}
	d := civil(start)
	out := make([]time.Time, n)
	for k := range out {
		out[k] = addMonthsClamped(d, k+1)
	}
	return out, nil
}

func (r DueDateRule) orDefault() DueDateRule {
	if r == 0 {
		return Monthly
	}
	return r
}

// civil returns t's calendar date at midnight UTC.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// addMonthsClamped adds months to the civil date d, clamping the day to the target
// month's length.
func addMonthsClamped(d time.Time, months int) time.Time {
	y, m, day := d.Date()
	first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(day, last)-1)
}

// daysBetween counts the calendar days from the civil date a to the civil date b.
func daysBetween(a, b time.Time) int {
	return int(b.Sub(a).Hours() / 24)
}
