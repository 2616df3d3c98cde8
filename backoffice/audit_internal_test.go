package backoffice

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/onboardkit/onboarding"
)

// TestOutcomeKeepsTheRefusal: however long the operator's reason, the audit detail keeps
// how the action ended within the audit text's bound, on a rune boundary.
func TestOutcomeKeepsTheRefusal(t *testing.T) {
	refused := errors.New("onboarding: the customer is denied")
	assert.Equal(t, "Sanctions list", outcome("Sanctions list", nil))
	assert.Equal(t, "refused: the customer is denied", outcome("", refused))
	assert.Equal(t, "Sanctions list (refused: the customer is denied)", outcome("Sanctions list", refused))
	for _, reason := range []string{strings.Repeat("x", 1000), strings.Repeat("ã", 500), strings.Repeat("x", 999) + "ã"} {
		got := outcome(reason, refused)
		assert.LessOrEqual(t, len(got), onboarding.MaxAuditText)
		assert.True(t, strings.HasSuffix(got, "… (refused: the customer is denied)"), got[len(got)-50:])
		assert.True(t, utf8.ValidString(got))
		short := withNote(reason, "retention hold until 2031-01-02 set aside")
		assert.LessOrEqual(t, len(short), onboarding.MaxAuditText)
		assert.True(t, strings.HasSuffix(short, "(retention hold until 2031-01-02 set aside)"))
	}
}

// TestDecisionOnAGoneCustomerKeepsNoReason: a decision refused because its customer is
// gone (an erasure won the race, and has emptied the customer's audit details) records
// the refusal without the operator's reason, which may quote personal data.
func TestDecisionOnAGoneCustomerKeepsNoReason(t *testing.T) {
	gone := fmt.Errorf("%w: customer cust_1", onboarding.ErrNotFound)
	got := reasonOutcome("Selfie is not Maria da Silva", gone)
	assert.NotContains(t, got, "Maria")
	assert.True(t, strings.HasPrefix(got, "refused: "), got)
	assert.Equal(t, "Blurry (refused: the customer is denied)",
		reasonOutcome("Blurry", errors.New("onboarding: the customer is denied")))
}
