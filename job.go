package onboarding

import (
	"encoding/json"
	"time"
)

// JobKind names a kind of background work.
type JobKind string

// The job kinds the Service enqueues.
const (
	// JobCreditAnalysis runs the scorer for a customer; enqueued at registration.
	JobCreditAnalysis JobKind = "credit_analysis"
	// JobPublishEvent relays one outbox event to the broker Publisher (webhook deliveries
	// are written with the event itself).
	JobPublishEvent JobKind = "publish_event"
)

// JobState is the state of a job row.
type JobState string

// The job states.
const (
	// JobAvailable: waiting for RunAt, then for a worker.
	JobAvailable JobState = "available"
	// JobRunning: claimed by a worker until LockedUntil; an expired lease makes it
	// claimable again.
	JobRunning JobState = "running"
	// JobCompleted: done.
	JobCompleted JobState = "completed"
	// JobDead: failed MaxAttempts times or permanently; kept for inspection and replay.
	JobDead JobState = "dead"
)

// DefaultJobMaxAttempts is the number of attempts before a job is dead.
const DefaultJobMaxAttempts = 10

// Job is one row of durable background work, written in the same transaction as the change
// that caused it.
type Job struct {
	ID        string
	Kind      JobKind
	PartnerID string
	// CustomerID is the customer the job is about, if any.
	CustomerID string
	Args       json.RawMessage
	State      JobState
	// Attempt counts claims so far.
	Attempt     int
	MaxAttempts int
	// RunAt is when the job may next run.
	RunAt       time.Time
	LockedBy    string
	LockedUntil time.Time
	LastError   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	FinishedAt  time.Time
}

// Clone returns a deep copy of j.
func (j *Job) Clone() *Job {
	if j == nil {
		return nil
	}
	c := *j
	c.Args = append(json.RawMessage(nil), j.Args...)
	return &c
}

// ClaimParams asks a Store for work.
type ClaimParams struct {
	// Kinds restricts the claim to these kinds; empty means any.
	Kinds []JobKind
	// Worker identifies the claimer; only it may complete or fail the jobs it got.
	Worker string
	// Limit is the most jobs to claim.
	Limit int
	// Now is the current time (from the Service's clock).
	Now time.Time
	// Lease is how long the claim holds; past Now+Lease another worker may claim the job.
	Lease time.Duration
}

// JobFailure tells a Store how a failed attempt ends.
type JobFailure struct {
	// Error is the attempt's error message.
	Error string
	// RetryAt is when to try again; ignored when Dead.
	RetryAt time.Time
	// Dead ends the job for good (attempts exhausted or a permanent error).
	Dead bool
}

// ListJobsParams filters job listings.
type ListJobsParams struct {
	Kind       JobKind
	State      JobState
	CustomerID string
	Limit      int
}
