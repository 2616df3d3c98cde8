package bunstore

import (
	"context"
	"time"

	"github.com/onboardkit/onboarding"
)

// countJobsSQL counts the live jobs through the partial index jobs_claim_idx (its
// predicate repeated word for word, as in claimableSQL) and the dead ones through
// jobs_dead_idx; completed jobs are not read.
const countJobsSQL = `SELECT kind, state, COUNT(*), MIN(CASE WHEN state = 'available' AND run_at <= ? THEN run_at END) FROM jobs
WHERE state IN ('available', 'running') GROUP BY kind, state
UNION ALL
SELECT kind, state, COUNT(*), NULL FROM jobs WHERE state = 'dead' GROUP BY kind, state`

// CountJobs implements onboarding.JobStatsQueries.
func (q *queries) CountJobs(ctx context.Context, now time.Time) ([]onboarding.JobCount, error) {
	rows, err := q.db.QueryContext(ctx, countJobsSQL, q.ts(now))
	counts, err := collect(rows, err, func(r rowScanner) (*onboarding.JobCount, error) {
		c := &onboarding.JobCount{}
		var kind, state string
		err := r.Scan(&kind, &state, &c.Count, timeCol{&c.OldestDue})
		c.Kind, c.State = onboarding.JobKind(kind), onboarding.JobState(state)
		return c, err
	})
	list := make([]onboarding.JobCount, len(counts))
	for i, c := range counts {
		list[i] = *c
	}
	return list, err
}
