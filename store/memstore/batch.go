package memstore

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/onboardkit/onboarding"
)

var _ onboarding.BatchQueries = (*txn)(nil)

// ClaimJobBatch implements onboarding.BatchQueries.
func (t *txn) ClaimJobBatch(ctx context.Context, p onboarding.ClaimParams) ([]*onboarding.ClaimedJob, error) {
	jobs, err := t.ClaimJobs(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]*onboarding.ClaimedJob, len(jobs))
	for i, j := range jobs {
		c := &onboarding.ClaimedJob{Job: j}
		out[i] = c
		if j.Kind != onboarding.JobDeliverWebhook {
			continue
		}
		var args struct {
			DeliveryID string `json:"delivery_id"`
		}
		if json.Unmarshal(j.Args, &args) != nil {
			continue
		}
		if d, err := t.GetDelivery(ctx, j.PartnerID, args.DeliveryID); err == nil {
			c.Delivery = d
			c.Endpoint, _ = t.GetEndpoint(ctx, d.PartnerID, d.EndpointID)
			c.Event, _ = t.GetEvent(ctx, d.EventID)
		}
	}
	return out, nil
}

// FinishDeliveries implements onboarding.BatchQueries. The Store runs it in a unit of
// work of its own (storeutil.WriteInTx), so an error rolls every outcome back.
func (t *txn) FinishDeliveries(ctx context.Context, worker string, now time.Time, outcomes []*onboarding.DeliveryOutcome) ([]bool, error) {
	written := make([]bool, len(outcomes))
	for i, o := range outcomes {
		if _, err := t.held(o.JobID, worker); err != nil {
			continue // the lease was lost: nothing of this outcome is written
		}
		if o.Attempt != nil {
			if err := t.InsertDeliveryAttempt(ctx, o.Attempt); err != nil {
				return nil, err
			}
		}
		if err := t.UpdateDelivery(ctx, o.Delivery); err != nil {
			return nil, err
		}
		var err error
		d := o.Delivery
		switch d.Status {
		case onboarding.DeliveryPending:
			err = t.FailJob(ctx, o.JobID, worker, now, onboarding.JobFailure{Error: d.LastError, RetryAt: d.NextAttemptAt})
		case onboarding.DeliveryDead:
			err = t.FailJob(ctx, o.JobID, worker, now, onboarding.JobFailure{Error: d.LastError, Dead: true})
		default:
			err = t.CompleteJob(ctx, o.JobID, worker, now)
		}
		if err != nil {
			return nil, err
		}
		written[i] = true
	}
	return written, nil
}

// ExtendJobLeases implements onboarding.BatchQueries.
func (t *txn) ExtendJobLeases(_ context.Context, ids []string, worker string, until time.Time) ([]string, error) {
	return t.changeHeldJobs(ids, worker, func(j *onboarding.Job) { j.LockedUntil = until }), nil
}

// ReleaseJobs implements onboarding.BatchQueries.
func (t *txn) ReleaseJobs(_ context.Context, ids []string, worker string, now time.Time) ([]string, error) {
	return t.changeHeldJobs(ids, worker, func(j *onboarding.Job) {
		j.State, j.LockedBy, j.LockedUntil = onboarding.JobAvailable, "", time.Time{}
		j.Attempt = max(j.Attempt-1, 0)
		j.UpdatedAt = now
	}), nil
}

// changeHeldJobs applies change to the jobs among ids that worker holds, and returns their
// IDs.
func (t *txn) changeHeldJobs(ids []string, worker string, change func(j *onboarding.Job)) []string {
	var out []string
	for _, id := range ids {
		j, err := t.held(id, worker)
		if err != nil {
			continue
		}
		t.replaceJob(j, change)
		out = append(out, id)
	}
	return out
}

// NextJobAt implements onboarding.BatchQueries.
func (t *txn) NextJobAt(_ context.Context, kinds []onboarding.JobKind) (time.Time, error) {
	var next time.Time
	for _, j := range t.st.jobs {
		if j.State != onboarding.JobAvailable || len(kinds) > 0 && !slices.Contains(kinds, j.Kind) {
			continue
		}
		if next.IsZero() || j.RunAt.Before(next) {
			next = j.RunAt
		}
	}
	return next, nil
}
