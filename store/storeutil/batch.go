package storeutil

import (
	"context"
	"time"

	"github.com/onboardkit/onboarding"
)

// ---- onboarding.BatchQueries ----

// ClaimJobBatch implements onboarding.BatchQueries: a write, through Write.
func (ac *AutoCommit) ClaimJobBatch(ctx context.Context, p onboarding.ClaimParams) (jobs []*onboarding.ClaimedJob, err error) {
	err = ac.Write(ctx, func(q onboarding.Queries) error { jobs, err = q.ClaimJobBatch(ctx, p); return err })
	return jobs, err
}

// FinishDeliveries implements onboarding.BatchQueries: a write, through Write. A Store
// whose Write does not run in a unit of work must make the statements of one outcome
// atomic itself (or override this method).
func (ac *AutoCommit) FinishDeliveries(ctx context.Context, worker string, now time.Time, outcomes []*onboarding.DeliveryOutcome) (written []bool, err error) {
	err = ac.Write(ctx, func(q onboarding.Queries) error {
		written, err = q.FinishDeliveries(ctx, worker, now, outcomes)
		return err
	})
	return written, err
}

// ExtendJobLeases implements onboarding.BatchQueries: a write, through Write.
func (ac *AutoCommit) ExtendJobLeases(ctx context.Context, ids []string, worker string, until time.Time) (extended []string, err error) {
	err = ac.Write(ctx, func(q onboarding.Queries) error {
		extended, err = q.ExtendJobLeases(ctx, ids, worker, until)
		return err
	})
	return extended, err
}

// ReleaseJobs implements onboarding.BatchQueries: a write, through Write.
func (ac *AutoCommit) ReleaseJobs(ctx context.Context, ids []string, worker string, now time.Time) (released []string, err error) {
	err = ac.Write(ctx, func(q onboarding.Queries) error {
		released, err = q.ReleaseJobs(ctx, ids, worker, now)
		return err
	})
	return released, err
}

// NextJobAt implements onboarding.BatchQueries: a read, on the Queries of Read.
func (ac *AutoCommit) NextJobAt(ctx context.Context, kinds []onboarding.JobKind) (time.Time, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.NextJobAt(ctx, kinds)
}
