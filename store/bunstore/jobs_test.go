package bunstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// TestAsyncJobCommitsStayLocal: the asynchronous commit of job-state changes on
// PostgreSQL applies to that statement only, never to the pooled session.
func TestAsyncJobCommitsStayLocal(t *testing.T) {
	t.Parallel()
	db := openPostgresTest(t)
	db.SetMaxOpenConns(1) // every statement on the same session
	s := New(db, nil)
	require.True(t, s.auto.asyncJobCommits)
	assert.False(t, New(db, &Options{SynchronousJobCommits: true}).auto.asyncJobCommits)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	require.NoError(t, s.InsertJob(ctx, &onboarding.Job{ID: "job_1", Kind: onboarding.JobPublishEvent,
		State: onboarding.JobAvailable, RunAt: now, CreatedAt: now, UpdatedAt: now}))
	jobs, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w", Limit: 5, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.NoError(t, s.CompleteJob(ctx, "job_1", "w", now))
	var setting string
	require.NoError(t, db.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&setting))
	assert.Equal(t, "on", setting)
	// Inside a unit of work the prefix is never used: it would change the whole
	// transaction's durability.
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		assert.False(t, q.(*queries).asyncJobCommits)
		return nil
	}))
	db.SetMaxOpenConns(2)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	assert.False(t, s.WithTx(tx).auto.asyncJobCommits)
	assert.False(t, New(tx, nil).auto.asyncJobCommits)
}
