package onboarding

import (
	"context"
	"time"
)

// BatchQueries are the statements of the job runner that work on many jobs at once, so
// that Run pays one round trip per batch instead of several per job: the claim that also
// reads what each webhook delivery needs, the outcomes of many deliveries, the heartbeat
// of every job in flight, and the time of the next due job.
type BatchQueries interface {
	// ClaimJobBatch claims jobs exactly as ClaimJobs does, and reads in the same query,
	// for each deliver_webhook job, its delivery (by the job's delivery_id argument and
	// partner), the delivery's endpoint and its event. Those are nil when the row is
	// missing (an endpoint deleted, say); for other kinds they are always nil. Jobs come
	// in claim order (oldest RunAt first).
	ClaimJobBatch(ctx context.Context, p ClaimParams) ([]*ClaimedJob, error)
	// FinishDeliveries writes the outcomes of delivery attempts made by worker. For each
	// outcome whose job worker still holds (running and locked by worker: a worker that
	// lost its lease writes nothing), it appends the attempt (when there is one) to the
	// delivery's log, writes the delivery's new state, and ends the job by that state:
	// completed when delivered or cancelled, available again at the delivery's
	// NextAttemptAt (with its LastError) when pending, dead when dead. The outcomes are
	// atomic each; the returned slice says, in order, which were written. An error means
	// none was.
	FinishDeliveries(ctx context.Context, worker string, now time.Time, outcomes []*DeliveryOutcome) ([]bool, error)
	// ExtendJobLeases moves to until the leases of the jobs among ids that worker holds
	// (the heartbeat of every job in flight, in one statement), and returns the IDs it
	// extended; a missing one was lost to another worker or has finished.
	ExtendJobLeases(ctx context.Context, ids []string, worker string, until time.Time) ([]string, error)
	// ReleaseJobs gives back the jobs among ids that worker holds and has not started
	// (claimed ahead, when Run stops): each becomes available again at its RunAt, its
	// lease cleared and the attempt its claim counted taken back, so that another worker
	// may claim it at once instead of after the lease (a Store that announces jobs, see
	// JobListener, announces them). It returns the IDs it released; a missing one was
	// lost to another worker or has finished.
	ReleaseJobs(ctx context.Context, ids []string, worker string, now time.Time) ([]string, error)
	// NextJobAt returns the earliest RunAt of the available jobs of one of kinds (any
	// kind when empty): when the next job, or retry, becomes due. The zero time when there
	// is none. (A running job whose lease ends becomes claimable too; Run finds those by
	// polling.)
	NextJobAt(ctx context.Context, kinds []JobKind) (time.Time, error)
}

// ClaimedJob is a job claimed by ClaimJobBatch with, for a webhook delivery, the rows its
// attempt reads.
type ClaimedJob struct {
	Job      *Job
	Delivery *Delivery
	Endpoint *WebhookEndpoint
	Event    *Event
}

// DeliveryOutcome is the result of one delivery attempt, for FinishDeliveries.
type DeliveryOutcome struct {
	// JobID is the deliver_webhook job that made the attempt.
	JobID string
	// Delivery is the delivery's new state (status, attempts, last result, next attempt,
	// delivered and updated times).
	Delivery *Delivery
	// Attempt is the attempt to log; nil when none was made (a delivery cancelled
	// because its endpoint is gone).
	Attempt *DeliveryAttempt
}
