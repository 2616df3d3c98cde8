package memstore

import (
	"context"
	"time"

	"github.com/onboardkit/onboarding"
)

// CountJobs implements onboarding.JobStatsQueries.
func (t *txn) CountJobs(_ context.Context, now time.Time) ([]onboarding.JobCount, error) {
	type group struct {
		kind  onboarding.JobKind
		state onboarding.JobState
	}
	counts := map[group]*onboarding.JobCount{}
	for _, j := range t.st.jobs {
		if j.State == onboarding.JobCompleted {
			continue
		}
		g := group{j.Kind, j.State}
		c := counts[g]
		if c == nil {
			c = &onboarding.JobCount{Kind: j.Kind, State: j.State}
			counts[g] = c
		}
		c.Count++
		if j.State == onboarding.JobAvailable && !j.RunAt.After(now) && (c.OldestDue.IsZero() || j.RunAt.Before(c.OldestDue)) {
			c.OldestDue = j.RunAt
		}
	}
	list := make([]onboarding.JobCount, 0, len(counts))
	for _, c := range counts {
		list = append(list, *c)
	}
	return list, nil
}
