package simulation_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/simulation"
)

func TestParseDueDateRule(t *testing.T) {
	t.Parallel()

	for _, s := range []string{"", "monthly"} {
		r, err := simulation.ParseDueDateRule(s)
		require.NoError(t, err, s)
		require.Equal(t, simulation.Monthly, r)
	}
	for _, s := range []string{"Monthly", "MONTHLY", " monthly", "monthly ", "weekly", "biweekly", "monthly\x00", "30d", "null"} {
		r, err := simulation.ParseDueDateRule(s)
		require.ErrorIs(t, err, simulation.ErrUnknownDueDateRule, s)
		require.Zero(t, r)
		require.Contains(t, err.Error(), `known rules: "monthly"`)
	}

	var zero simulation.DueDateRule
	require.Equal(t, "monthly", zero.String())
	require.Equal(t, "monthly", simulation.Monthly.String())
	require.Equal(t, "DueDateRule(7)", simulation.DueDateRule(7).String())
	_, err := simulation.DueDateRule(7).MarshalText()
	require.ErrorIs(t, err, simulation.ErrUnknownDueDateRule)

	var v struct {
		Rule simulation.DueDateRule `json:"due_date_rule"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"due_date_rule":"monthly"}`), &v))
	require.Equal(t, simulation.Monthly, v.Rule)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.JSONEq(t, `{"due_date_rule":"monthly"}`, string(b))
	require.ErrorIs(t, json.Unmarshal([]byte(`{"due_date_rule":"weekly"}`), &v), simulation.ErrUnknownDueDateRule)
}

func TestMonthlyDueDates(t *testing.T) {
	t.Parallel()

	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		start time.Time
		want  []time.Time
	}{
		{day(2026, 1, 15), []time.Time{day(2026, 2, 15), day(2026, 3, 15), day(2026, 4, 15)}},
		{day(2026, 1, 31), []time.Time{day(2026, 2, 28), day(2026, 3, 31), day(2026, 4, 30)}},
		{day(2027, 12, 31), []time.Time{day(2028, 1, 31), day(2028, 2, 29), day(2028, 3, 31)}},
		{day(2026, 11, 30), []time.Time{day(2026, 12, 30), day(2027, 1, 30), day(2027, 2, 28)}},
		// Only the calendar day in the date's own location counts.
		{time.Date(2026, 1, 31, 23, 59, 0, 0, time.FixedZone("BRT", -3*3600)), []time.Time{day(2026, 2, 28), day(2026, 3, 31), day(2026, 4, 30)}},
	} {
		for _, rule := range []simulation.DueDateRule{simulation.Monthly, 0} {
			got, err := rule.DueDates(tc.start, len(tc.want))
			require.NoError(t, err)
			require.Equal(t, tc.want, got, tc.start)
		}
	}
	_, err := simulation.DueDateRule(3).DueDates(day(2026, 1, 1), 1)
	require.ErrorIs(t, err, simulation.ErrUnknownDueDateRule)
}

func TestDailyRateString(t *testing.T) {
	t.Parallel()

	require.Equal(t, "0.0082", simulation.DefaultIOFDailyRate.String())
	require.Equal(t, "0.00274", simulation.DailyRate(2740).String())
	require.Equal(t, "1", simulation.DailyRate(1_000_000).String())
	require.Equal(t, "0", simulation.DailyRate(0).String())
	require.Equal(t, "-0.000001", simulation.DailyRate(-1).String())
	require.Equal(t, "0.38", simulation.DefaultIOFAdditionalRate.String())
}
