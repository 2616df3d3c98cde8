package onboarding

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// Publisher relays outbox events to a broker (gocloud.dev/pubsub: Kafka, NATS, SQS, Pub/Sub),
// besides the webhook endpoints. It is called at least once per event; consumers
// deduplicate on Event.ID.
type Publisher interface {
	Publish(ctx context.Context, e *Event) error
}

// publish hands one outbox event to the broker Publisher (at least once: a failure retries
// the job, and the broker's consumers deduplicate on the event ID).
func (s *Service) publish(ctx context.Context, j *Job, args publishEventArgs) error {
	e, err := s.store.GetEvent(ctx, args.EventID)
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err != nil {
		return err
	}
	if err := s.publisher.Publish(ctx, e); err != nil {
		return err
	}
	return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
}

// deliver makes one attempt at a delivery and records it in the log, with the job's
// completion or rescheduling in the same transaction. Run takes a faster path for the
// deliveries it claims in batches (dispatch.go); this one reads the rows itself.
func (s *Service) deliver(ctx context.Context, j *Job, args deliverWebhookArgs) error {
	d, err := s.store.GetDelivery(ctx, j.PartnerID, args.DeliveryID)
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err != nil {
		return err
	}
	var ep *WebhookEndpoint
	var e *Event
	if d.Status == DeliveryPending {
		if ep, err = s.getEndpoint(ctx, s.store, d.PartnerID, d.EndpointID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if ep != nil && ep.Status == webhook.EndpointActive {
			if e, err = s.store.GetEvent(ctx, d.EventID); err != nil {
				return err
			}
		}
	}
	o, err := s.attempt(ctx, j, d, ep, e)
	if err != nil {
		return err
	}
	markDeliveryJob(ctx, o)
	if o == nil {
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	}
	return s.finishDelivery(ctx, o)
}

// attempt makes one attempt at delivery d of job j, to endpoint ep (nil when it is gone)
// with event e, and returns the outcome to write. It returns nil when the delivery is no
// longer pending (replayed, cancelled, delivered by a previous run): the job only
// completes.
func (s *Service) attempt(ctx context.Context, j *Job, d *Delivery, ep *WebhookEndpoint, e *Event) (*DeliveryOutcome, error) {
	if d.Status != DeliveryPending {
		return nil, nil
	}
	if ep == nil || ep.Status != webhook.EndpointActive {
		return s.outcome(j, d, DeliveryCancelled, nil, time.Time{}), nil
	}
	if e == nil {
		return nil, fmt.Errorf("onboarding: event %s of delivery %s: %w", d.EventID, d.ID, ErrNotFound)
	}
	// The endpoint's rows may come from a batch claim, secrets still sealed.
	if err := s.sealer.open(ctx, ep); err != nil {
		return nil, err
	}
	payload, err := envelope(ep.Format, e, d)
	if err != nil {
		return nil, permanent(err)
	}
	now := s.clock()
	sctx, span := s.startDelivery(ctx, d, e)
	res := s.sender.Send(sctx, webhook.Delivery{URL: ep.URL, Secrets: ep.ActiveSecrets(now), MsgID: e.ID,
		Timestamp: now, Payload: payload, EventType: string(e.Type)})
	s.endDelivery(sctx, span, res)
	a := &DeliveryAttempt{ID: NewID("dla"), PartnerID: d.PartnerID, DeliveryID: d.ID, Attempt: d.Attempts + 1,
		StatusCode: res.StatusCode, Latency: res.Latency, Response: res.Response, CreatedAt: s.clock()}
	if res.Err != nil {
		a.Error = res.Err.Error()
	}
	switch {
	case res.Delivered:
		return s.outcome(j, d, DeliveryDelivered, a, time.Time{}), nil
	case res.Disable:
		// 410 Gone: the receiver asks us to stop. Disable the endpoint (with the attempt).
		if _, err := s.mutateEndpoint(ctx, ep.PartnerID, ep.ID, func(e *WebhookEndpoint) error {
			e.Status = webhook.EndpointDisabled
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return s.outcome(j, d, DeliveryCancelled, a, time.Time{}), nil
	case res.Permanent:
		return s.outcome(j, d, DeliveryDead, a, time.Time{}), nil
	}
	delay, ok := webhook.DefaultSchedule.Next(a.Attempt, res.RetryAfter, nil)
	if !ok {
		return s.outcome(j, d, DeliveryDead, a, time.Time{}), nil
	}
	return s.outcome(j, d, DeliveryPending, a, s.clock().Add(delay)), nil
}

// outcome is delivery d's new state after attempt a (nil when none was made): status st,
// next attempt at retryAt when pending.
func (s *Service) outcome(j *Job, d *Delivery, st DeliveryStatus, a *DeliveryAttempt, retryAt time.Time) *DeliveryOutcome {
	now := s.clock()
	n := *d
	n.Status, n.UpdatedAt, n.NextAttemptAt = st, now, retryAt
	if a != nil {
		n.Attempts = a.Attempt
		n.LastStatusCode, n.LastError = a.StatusCode, a.Error
	}
	if st == DeliveryDelivered {
		n.DeliveredAt = now
	}
	return &DeliveryOutcome{JobID: j.ID, Delivery: &n, Attempt: a}
}

// markDeliveryJob tells the job's run (telemetry) that its delivery was rescheduled or
// given up: the job ends without an error either way.
func markDeliveryJob(ctx context.Context, o *DeliveryOutcome) {
	if o == nil {
		return
	}
	switch o.Delivery.Status {
	case DeliveryPending:
		setJobOutcome(ctx, jobOutcomeRetried)
	case DeliveryDead:
		setJobOutcome(ctx, jobOutcomeDead)
	}
}

// finishDelivery writes one outcome: the attempt, the delivery's new state and the job's
// end, refused (ErrConcurrentUpdate) when the worker lost the job's lease.
func (s *Service) finishDelivery(ctx context.Context, o *DeliveryOutcome) error {
	written, err := s.store.FinishDeliveries(ctx, s.workerID, s.clock(), []*DeliveryOutcome{o})
	if err != nil {
		return err
	}
	if !written[0] {
		return fmt.Errorf("%w: job %s is no longer held by %s", ErrConcurrentUpdate, o.JobID, s.workerID)
	}
	return nil
}
