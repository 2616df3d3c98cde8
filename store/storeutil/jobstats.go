package storeutil

import (
	"context"
	"time"

	"github.com/onboardkit/onboarding"
)

// CountJobs implements onboarding.JobStatsQueries: a read, on the Queries of Read.
func (ac *AutoCommit) CountJobs(ctx context.Context, now time.Time) ([]onboarding.JobCount, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.CountJobs(ctx, now)
}
