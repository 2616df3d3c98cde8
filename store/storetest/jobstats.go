package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// testJobCounts checks CountJobs (onboarding.JobStatsQueries): counts by kind and state,
// completed jobs left out, the oldest due RunAt of available jobs, inside and outside a
// transaction; and that a job's TraceParent round-trips through insert, claim and reads.
func testJobCounts(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	now := base.Add(time.Hour)

	counts, err := s.CountJobs(ctx, now)
	require.NoError(t, err)
	assert.Empty(t, counts, "an empty queue has no groups")

	oldest, due, future := newJob(c, base), newJob(c, base.Add(time.Minute)), newJob(c, now.Add(time.Hour))
	oldest.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	publish := newJob(c, base.Add(2*time.Minute))
	publish.Kind = onboarding.JobPublishEvent
	running, dead, completed := newJob(c, base), newJob(c, base), newJob(c, base)
	for _, j := range []*onboarding.Job{running, dead, completed} {
		j.Kind = onboarding.JobDeliverWebhook
	}
	for _, j := range []*onboarding.Job{oldest, due, future, publish, running, dead, completed} {
		require.NoError(t, s.InsertJob(ctx, j))
	}
	got, err := s.GetJob(ctx, oldest.ID)
	require.NoError(t, err)
	assert.Equal(t, oldest.TraceParent, got.TraceParent)
	got, err = s.GetJob(ctx, due.ID)
	require.NoError(t, err)
	assert.Empty(t, got.TraceParent, "no trace context is the empty string")

	claimed, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobDeliverWebhook},
		Worker: "w", Limit: 3, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 3)
	require.NoError(t, s.CompleteJob(ctx, completed.ID, "w", now))
	require.NoError(t, s.FailJob(ctx, dead.ID, "w", now, onboarding.JobFailure{Error: "boom", Dead: true}))

	want := []onboarding.JobCount{
		{Kind: onboarding.JobCreditAnalysis, State: onboarding.JobAvailable, Count: 3, OldestDue: base},
		{Kind: onboarding.JobDeliverWebhook, State: onboarding.JobDead, Count: 1},
		{Kind: onboarding.JobDeliverWebhook, State: onboarding.JobRunning, Count: 1},
		{Kind: onboarding.JobPublishEvent, State: onboarding.JobAvailable, Count: 1, OldestDue: base.Add(2 * time.Minute)},
	}
	counts, err = s.CountJobs(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, want, sortCounts(counts))
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		counts, err := q.CountJobs(ctx, now)
		assert.Equal(t, want, sortCounts(counts), "the same inside a transaction")
		return err
	}))

	// Before anything is due, the available groups count their jobs with no OldestDue.
	counts, err = s.CountJobs(ctx, base.Add(-time.Second))
	require.NoError(t, err)
	for _, c := range counts {
		assert.True(t, c.OldestDue.IsZero(), "%s %s: nothing is due yet", c.Kind, c.State)
	}
	claimedTrace, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobCreditAnalysis},
		Worker: "w", Limit: 1, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimedTrace, 1)
	assert.Equal(t, oldest.TraceParent, claimedTrace[0].TraceParent, "a claim returns the trace context")
}

func sortCounts(counts []onboarding.JobCount) []onboarding.JobCount {
	slices.SortFunc(counts, func(a, b onboarding.JobCount) int {
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		return strings.Compare(string(a.State), string(b.State))
	})
	return counts
}
