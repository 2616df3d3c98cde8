package simulation_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/simulation"
)

// FuzzParseDueDateRule: the parser accepts exactly "" and "monthly", round-trips what it
// accepts, and reports anything else as ErrUnknownDueDateRule quoting the input. Seeds
// are in testdata/fuzz/FuzzParseDueDateRule.
func FuzzParseDueDateRule(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r, err := simulation.ParseDueDateRule(s)
		if err != nil {
			require.ErrorIs(t, err, simulation.ErrUnknownDueDateRule)
			require.Contains(t, err.Error(), strconv.Quote(s))
			require.Zero(t, r)
			require.NotContains(t, []string{"", "monthly"}, s)
			return
		}
		require.Contains(t, []string{"", "monthly"}, s)
		require.Equal(t, simulation.Monthly, r)
		text, err := r.MarshalText()
		require.NoError(t, err)
		var back simulation.DueDateRule
		require.NoError(t, back.UnmarshalText(text))
		require.Equal(t, r, back)
	})
}
