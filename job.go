package onboarding

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// JobKind names a kind of background work.
type JobKind string

// The job kinds. Each has its typed arguments below (a struct with a kind method) and its
// handler in the file of the capability that owns it. A kind whose plugin a Service lacks
// (no Scorer, no Reviewer, ...) stays queued for a Service that has it, so a replica
// without one, say during a rolling deploy, never swallows the work.
const (
	// JobCreditAnalysis runs the Scorer for a customer; enqueued at registration and when
	// the customer changes company (credit.go).
	JobCreditAnalysis JobKind = "credit_analysis"
	// JobExpireOffer expires a credit offer at its valid_until; enqueued when the offer is
	// announced (credit.go).
	JobExpireOffer JobKind = "expire_offer"
	// JobReviewDocument has the Reviewer judge a submitted document; enqueued with the
	// upload (review.go).
	JobReviewDocument JobKind = "review_document"
	// JobCheckSelfie has the Biometrics provider judge a submitted selfie (review.go).
	JobCheckSelfie JobKind = "check_selfie"
	// JobDeliverWebhook delivers one event to one endpoint; enqueued with the event
	// (delivery.go).
	JobDeliverWebhook JobKind = "deliver_webhook"
	// JobPublishEvent relays one outbox event to the broker Publisher (delivery.go).
	JobPublishEvent JobKind = "publish_event"
	// JobPrune deletes completed jobs past Options.JobRetention and expired idempotency
	// keys; Run enqueues one per hour and replicas share it by its ID (maintenance.go).
	JobPrune JobKind = "prune"
	// JobSweepBlobs removes document blobs no row references (left by a crash between the
	// blob and the row); hourly like JobPrune (maintenance.go).
	JobSweepBlobs JobKind = "sweep_blobs"
	// JobEraseDocuments deletes the document blobs of an erased customer; enqueued by the
	// erasure's unit of work, so a crash after it still deletes them (erasure.go).
	JobEraseDocuments JobKind = "erase_documents"
)

// jobArgs are the typed arguments of one job kind, stored as the job's JSON Args.
type jobArgs interface {
	kind() JobKind
}

type (
	creditAnalysisArgs struct{}
	expireOfferArgs    struct {
		OfferID string `json:"offer_id"`
	}
	reviewDocumentArgs struct {
		DocumentID string `json:"document_id"`
	}
	checkSelfieArgs struct {
		DocumentID string `json:"document_id"`
	}
	deliverWebhookArgs struct {
		DeliveryID string `json:"delivery_id"`
	}
	publishEventArgs struct {
		EventID string `json:"event_id"`
	}
	pruneArgs          struct{}
	sweepBlobsArgs     struct{}
	eraseDocumentsArgs struct {
		Keys []string `json:"keys"`
	}
)

func (creditAnalysisArgs) kind() JobKind { return JobCreditAnalysis }
func (expireOfferArgs) kind() JobKind    { return JobExpireOffer }
func (reviewDocumentArgs) kind() JobKind { return JobReviewDocument }
func (checkSelfieArgs) kind() JobKind    { return JobCheckSelfie }
func (deliverWebhookArgs) kind() JobKind { return JobDeliverWebhook }
func (publishEventArgs) kind() JobKind   { return JobPublishEvent }
func (pruneArgs) kind() JobKind          { return JobPrune }
func (sweepBlobsArgs) kind() JobKind     { return JobSweepBlobs }
func (eraseDocumentsArgs) kind() JobKind { return JobEraseDocuments }

// deliverWebhookArgs run once per step of the retry schedule: each failed attempt is
// rescheduled by the delivery itself.
func (deliverWebhookArgs) maxAttempts() int { return len(webhook.DefaultSchedule.Delays) + 1 }

// Periodic jobs are shared by the replicas that race to enqueue them: few attempts.
func (pruneArgs) maxAttempts() int      { return 3 }
func (sweepBlobsArgs) maxAttempts() int { return 3 }

// An erasure's blobs must go: retried for about a day (the backoff caps at an hour) before
// the job is dead and waits for its operator.
func (eraseDocumentsArgs) maxAttempts() int { return 30 }

// jobFor says whom a job is about and when it runs.
type jobFor struct {
	PartnerID  string
	CustomerID string
	// RunAt is when it may run first; the zero time means now.
	RunAt time.Time
	// ID replaces the generated ID: the replicas that enqueue the same periodic job derive
	// the same one, so the store keeps one row.
	ID string
}

// newJob builds the row of a job with typed arguments, at now.
func newJob(args jobArgs, f jobFor, now time.Time) *Job {
	raw, err := json.Marshal(args)
	if err != nil {
		panic("onboarding: job arguments do not encode: " + err.Error()) // plain structs always do
	}
	j := &Job{ID: f.ID, Kind: args.kind(), PartnerID: f.PartnerID, CustomerID: f.CustomerID, Args: raw,
		State: JobAvailable, MaxAttempts: DefaultJobMaxAttempts, RunAt: f.RunAt, CreatedAt: now, UpdatedAt: now}
	if m, ok := args.(interface{ maxAttempts() int }); ok {
		j.MaxAttempts = m.maxAttempts()
	}
	if j.ID == "" {
		j.ID = NewID(prefixJob)
	}
	if j.RunAt.IsZero() {
		j.RunAt = now
	}
	return j
}

// enqueue writes a job in q: inside a unit of work, it commits or rolls back with it.
// The job carries the trace context of ctx, so that its run continues the trace of the
// request that caused it (telemetry.go).
func enqueue(ctx context.Context, q Queries, args jobArgs, f jobFor, now time.Time) error {
	j := newJob(args, f, now)
	j.TraceParent = traceParent(ctx)
	return q.InsertJob(ctx, j)
}

// decodeArgs reads a job's typed arguments.
func decodeArgs[A jobArgs](j *Job) (A, error) {
	var a A
	if j.Kind != a.kind() {
		return a, fmt.Errorf("job %s is a %s, not a %s", j.ID, j.Kind, a.kind())
	}
	if err := json.Unmarshal(j.Args, &a); err != nil {
		return a, fmt.Errorf("job %s: arguments: %w", j.ID, err)
	}
	return a, nil
}

// handler works one job. On success it must have completed the job, in the same
// transaction as its writes when it writes (see completeIn), so that a lost lease rolls
// them back.
type handler func(ctx context.Context, j *Job) error

// handle adapts a handler of typed arguments; arguments that do not decode are a
// permanent failure.
func handle[A jobArgs](fn func(ctx context.Context, j *Job, args A) error) handler {
	return func(ctx context.Context, j *Job) error {
		a, err := decodeArgs[A](j)
		if err != nil {
			return permanent(err)
		}
		return fn(ctx, j, a)
	}
}

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
	// TraceParent is the W3C traceparent of the span that enqueued the job, empty when
	// there was none: the job's run continues that trace.
	TraceParent string
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

// parentRunAtKey carries the RunAt of the job being worked.
type parentRunAtKey struct{}

// followUpRunAt is when a job enqueued now should run: at once, but ordered with the job
// that caused it (its RunAt) rather than behind everything enqueued since. Under a burst,
// a registration's offer webhook then goes out before later registrations are analysed,
// instead of after all of them.
func followUpRunAt(ctx context.Context, now time.Time) time.Time {
	if t, ok := ctx.Value(parentRunAtKey{}).(time.Time); ok && t.Before(now) {
		return t
	}
	return now
}
