package onboarding

import (
	"context"
	"time"
)

// JobStatsQueries report the size and age of the job queue. The Service observes them for
// its onboarding.jobs and onboarding.jobs.oldest_due_age metrics (telemetry.go), at each
// collection of its MeterProvider.
type JobStatsQueries interface {
	// CountJobs returns, for every kind and state holding at least one job, how many jobs
	// are in it. Completed jobs are left out: their number only reflects JobRetention, and
	// counting them would read most of the table. For available jobs, OldestDue is the
	// earliest RunAt not after now. The order of the result is unspecified.
	CountJobs(ctx context.Context, now time.Time) ([]JobCount, error)
}

// JobCount is the number of jobs of one kind in one state.
type JobCount struct {
	Kind  JobKind  `json:"kind"`
	State JobState `json:"state"`
	Count int      `json:"count"`
	// OldestDue is, for available jobs, the earliest RunAt not after now: the oldest due
	// job has waited since then for a worker. Zero when no job of the group is due, and
	// for the other states.
	OldestDue time.Time `json:"oldest_due,omitzero"`
}
