package onboarding

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/trace"

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
// completion or rescheduling in the same transaction.
func (s *Service) deliver(ctx context.Context, j *Job, args deliverWebhookArgs) error {
	d, err := s.store.GetDelivery(ctx, j.PartnerID, args.DeliveryID)
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err != nil {
		return err
	}
	if d.Status != DeliveryPending {
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	}
	ep, err := s.getEndpoint(ctx, s.store, d.PartnerID, d.EndpointID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if ep == nil || ep.Status != webhook.EndpointActive {
		return s.finishDelivery(ctx, j, d, DeliveryCancelled, nil, time.Time{})
	}
	e, err := s.store.GetEvent(ctx, d.EventID)
	if err != nil {
		return err
	}
	payload, err := envelope(ep.Format, e, d)
	if err != nil {
		return permanent(err)
	}
	now := s.clock()
	sctx, span := s.startDelivery(ctx, d, e)
	res := s.sender.Send(sctx, webhook.Delivery{URL: ep.URL, Secrets: ep.ActiveSecrets(now), MsgID: e.ID,
		Timestamp: now, Payload: payload, EventType: string(e.Type)})
	s.endDelivery(sctx, span, res)
	attempt := &DeliveryAttempt{ID: NewID("dla"), PartnerID: d.PartnerID, DeliveryID: d.ID, Attempt: d.Attempts + 1,
		StatusCode: res.StatusCode, Latency: res.Latency, Response: res.Response, CreatedAt: s.clock()}
	if res.Err != nil {
		attempt.Error = res.Err.Error()
	}
	switch {
	case res.Delivered:
		return s.finishDelivery(ctx, j, d, DeliveryDelivered, attempt, time.Time{})
	case res.Disable:
		// 410 Gone: the receiver asks us to stop. Disable the endpoint (with the attempt).
		if _, err := s.mutateEndpoint(ctx, ep.PartnerID, ep.ID, func(e *WebhookEndpoint) error {
			e.Status = webhook.EndpointDisabled
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return s.finishDelivery(ctx, j, d, DeliveryCancelled, attempt, time.Time{})
	case res.Permanent:
		return s.finishDelivery(ctx, j, d, DeliveryDead, attempt, time.Time{})
	}
	delay, ok := webhook.DefaultSchedule.Next(attempt.Attempt, res.RetryAfter, nil)
	if !ok {
		return s.finishDelivery(ctx, j, d, DeliveryDead, attempt, time.Time{})
	}
	return s.finishDelivery(ctx, j, d, DeliveryPending, attempt, s.clock().Add(delay))
}

// finishDelivery records an attempt (if any) and the delivery's new state, and completes
// or reschedules the job, in one transaction — shared with other deliveries finishing at
// the same moment when Run's batcher is there (group commit).
func (s *Service) finishDelivery(ctx context.Context, j *Job, d *Delivery, st DeliveryStatus, a *DeliveryAttempt, retryAt time.Time) error {
	switch st {
	case DeliveryPending:
		setJobOutcome(ctx, jobOutcomeRetried)
	case DeliveryDead:
		setJobOutcome(ctx, jobOutcomeDead)
	}
	o := &outcome{j: j, d: d, st: st, a: a, retryAt: retryAt, span: trace.SpanContextFromContext(ctx)}
	if b, ok := ctx.Value(batcherKey{}).(*outcomeBatcher); ok {
		return b.submit(o)
	}
	return s.store.InTx(ctx, func(ctx context.Context, q Queries) error { return s.applyOutcome(ctx, q, o) })
}

// outcome is the result of one delivery attempt, to be written.
type outcome struct {
	j       *Job
	d       *Delivery
	st      DeliveryStatus
	a       *DeliveryAttempt
	retryAt time.Time
	done    chan error
	span    trace.SpanContext // of the job that made the attempt: the batch's span links to it
}

// applyOutcome writes one outcome in q.
func (s *Service) applyOutcome(ctx context.Context, q Queries, o *outcome) error {
	now := s.clock()
	j, d, st, a, retryAt := o.j, o.d, o.st, o.a, o.retryAt
	{
		d.Status, d.UpdatedAt, d.NextAttemptAt = st, now, retryAt
		if a != nil {
			d.Attempts = a.Attempt
			d.LastStatusCode, d.LastError = a.StatusCode, a.Error
			if err := q.InsertDeliveryAttempt(ctx, a); err != nil {
				return err
			}
		}
		if st == DeliveryDelivered {
			d.DeliveredAt = now
		}
		if err := q.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		switch st {
		case DeliveryPending:
			return q.FailJob(ctx, j.ID, s.workerID, now, JobFailure{Error: d.LastError, RetryAt: retryAt})
		case DeliveryDead:
			return q.FailJob(ctx, j.ID, s.workerID, now, JobFailure{Error: d.LastError, Dead: true})
		}
		return s.completeIn(ctx, q, j, now)
	}
}

// batcherKey carries Run's outcome batcher to the jobs it works.
type batcherKey struct{}

// maxOutcomeBatch bounds how many delivery outcomes share a transaction.
const maxOutcomeBatch = 128

// outcomeBatcher writes delivery outcomes from many workers in shared transactions (group
// commit): a single writer takes whatever has queued while the previous transaction ran,
// so batches grow with the load and an idle system pays no wait. A batch that fails (one
// lost lease, say) is written again outcome by outcome, so one bad outcome fails alone.
type outcomeBatcher struct {
	s    *Service
	in   chan *outcome
	done chan struct{}
}

func newOutcomeBatcher(s *Service) *outcomeBatcher {
	b := &outcomeBatcher{s: s, in: make(chan *outcome, maxOutcomeBatch), done: make(chan struct{})}
	go b.loop()
	return b
}

// submit queues o and waits until it is written.
func (b *outcomeBatcher) submit(o *outcome) error {
	o.done = make(chan error, 1)
	b.in <- o
	return <-o.done
}

// close stops the batcher once every submitted outcome is written.
func (b *outcomeBatcher) close() {
	close(b.in)
	<-b.done
}

func (b *outcomeBatcher) loop() {
	defer close(b.done)
	for first := range b.in {
		batch := []*outcome{first}
	fill:
		for len(batch) < maxOutcomeBatch {
			select {
			case o, ok := <-b.in:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		b.write(batch)
	}
}

func (b *outcomeBatcher) write(batch []*outcome) {
	s := b.s
	ctx, cancel := context.WithTimeout(context.Background(), s.lease)
	defer cancel()
	ctx, span := s.startOutcomeBatch(ctx, batch)
	defer span.End()
	if len(batch) > 1 {
		saved := make([]Delivery, len(batch))
		for i, o := range batch {
			saved[i] = *o.d
		}
		err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
			for _, o := range batch {
				if err := s.applyOutcome(ctx, q, o); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			for _, o := range batch {
				o.done <- nil
			}
			return
		}
		for i, o := range batch { // rolled back: undo the in-memory changes too
			*o.d = saved[i]
		}
	}
	for _, o := range batch {
		o.done <- s.store.InTx(ctx, func(ctx context.Context, q Queries) error { return s.applyOutcome(ctx, q, o) })
	}
}
