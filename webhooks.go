package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// JobDeliverWebhook delivers one event to one endpoint; enqueued by the publish job.
const JobDeliverWebhook JobKind = "deliver_webhook"

// WebhookEndpoint is a partner's webhook destination as stored: the webhook package's
// Endpoint (URL, filter, status, secrets) plus a version for compare-and-set writes. Its
// JSON form is the API's endpoint object, without secrets.
type WebhookEndpoint struct {
	webhook.Endpoint
	Version int64 `json:"-"`
}

// Clone returns a deep copy of e.
func (e *WebhookEndpoint) Clone() *WebhookEndpoint {
	if e == nil {
		return nil
	}
	c := *e
	c.Events = slices.Clone(e.Events)
	c.Secrets = slices.Clone(e.Secrets)
	return &c
}

// ListEndpointsParams filters and pages endpoint listings (oldest first).
type ListEndpointsParams struct {
	Status        webhook.EndpointStatus
	Limit         int
	StartingAfter string
}

// EndpointPage is one page of endpoints.
type EndpointPage struct {
	Data    []*WebhookEndpoint `json:"data"`
	HasMore bool               `json:"has_more"`
}

// DeliveryStatus is the state of one event's delivery to one endpoint.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // not yet delivered; an attempt is scheduled
	DeliveryDelivered DeliveryStatus = "delivered" // the receiver answered 2xx
	DeliveryDead      DeliveryStatus = "dead"      // given up; ReplayDelivery sends it again
	DeliveryCancelled DeliveryStatus = "cancelled" // the endpoint was disabled or deleted
)

// Delivery is one event's delivery to one endpoint: the row the delivery log hangs off.
type Delivery struct {
	ID             string
	PartnerID      string
	EndpointID     string
	EventID        string
	EventType      EventType
	Status         DeliveryStatus
	Attempts       int
	LastStatusCode int
	LastError      string
	NextAttemptAt  time.Time
	DeliveredAt    time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// DeliveryAttempt is one entry of the delivery log.
type DeliveryAttempt struct {
	ID         string
	PartnerID  string
	DeliveryID string
	Attempt    int
	StatusCode int
	Latency    time.Duration
	Error      string
	// Response is the start of the receiver's answer.
	Response  string
	CreatedAt time.Time
}

// ListDeliveriesParams filters and pages delivery listings (newest first).
type ListDeliveriesParams struct {
	EndpointID    string
	EventID       string
	Status        DeliveryStatus
	Limit         int
	StartingAfter string
}

// CreateEndpointParams registers a webhook endpoint.
type CreateEndpointParams struct {
	URL         string
	Events      []string
	Description string
}

// UpdateEndpointParams changes an endpoint; nil fields are unchanged.
type UpdateEndpointParams struct {
	URL         *string
	Events      *[]string
	Description *string
	Status      *webhook.EndpointStatus
}

const maxDescriptionLen = 500

// MaxEndpointsPerPartner bounds a partner's webhook endpoints.
const MaxEndpointsPerPartner = 20

// MaxRecoveryWindow bounds how far back RecoverWebhookEndpoint reaches.
const MaxRecoveryWindow = 30 * 24 * time.Hour

func (s *Service) urlOptions() *webhook.URLOptions {
	return &webhook.URLOptions{AllowInsecure: s.allowPrivateWebhooks, AllowPrivate: s.allowPrivateWebhooks}
}

func eventTypeNames() []string {
	out := make([]string, len(EventTypes))
	for i, t := range EventTypes {
		out[i] = string(t)
	}
	return out
}

// checkEndpoint validates what a partner may set on an endpoint.
func (s *Service) checkEndpoint(e *webhook.Endpoint) error {
	ve := &ValidationError{}
	if err := webhook.ValidateURL(e.URL, s.urlOptions()); err != nil {
		ve.add("url", CodeInvalidValue, strings.TrimPrefix(err.Error(), "webhook: "))
	}
	if err := webhook.ValidateFilter(e.Events, eventTypeNames()...); err != nil {
		ve.add("events", CodeInvalidValue, strings.TrimPrefix(err.Error(), "webhook: "))
	}
	if e.Status != webhook.EndpointActive && e.Status != webhook.EndpointDisabled {
		ve.add("status", CodeInvalidValue, "must be active or disabled")
	}
	checkText(ve, "description", e.Description, false, maxDescriptionLen)
	return ve.orNil()
}

// CreateWebhookEndpoint registers an endpoint and returns it with its signing secret, which
// is shown only here and on rotation.
func (s *Service) CreateWebhookEndpoint(ctx context.Context, partnerID string, p CreateEndpointParams) (*WebhookEndpoint, string, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, "", err
	}
	now := s.clock()
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, "", err
	}
	e := &WebhookEndpoint{Endpoint: webhook.Endpoint{ID: NewID("we"), PartnerID: partnerID, URL: strings.TrimSpace(p.URL),
		Events: p.Events, Description: strings.TrimSpace(p.Description), Status: webhook.EndpointActive,
		Secrets: []webhook.Secret{{Value: secret, CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}, Version: 1}
	if e.Events == nil {
		e.Events = []string{}
	}
	if err := s.checkEndpoint(&e.Endpoint); err != nil {
		return nil, "", err
	}
	// Every event is fanned out to every endpoint in the emitting transaction: the number
	// of endpoints bounds that work (and what a partner can aim at someone else's server).
	existing, err := s.store.ListEndpoints(ctx, partnerID, ListEndpointsParams{Limit: MaxEndpointsPerPartner})
	if err != nil {
		return nil, "", err
	}
	if len(existing) >= MaxEndpointsPerPartner {
		return nil, "", invalid("url", CodeInvalidValue, "a partner may register at most "+strconv.Itoa(MaxEndpointsPerPartner)+" endpoints")
	}
	if err := s.store.InsertEndpoint(ctx, e); err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// GetWebhookEndpoint returns one of the partner's endpoints.
func (s *Service) GetWebhookEndpoint(ctx context.Context, partnerID, id string) (*WebhookEndpoint, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.store.GetEndpoint(ctx, partnerID, id)
}

// ListWebhookEndpoints pages through the partner's endpoints, oldest first.
func (s *Service) ListWebhookEndpoints(ctx context.Context, partnerID string, p ListEndpointsParams) (*EndpointPage, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	ve := &ValidationError{}
	limit := checkLimit(ve, p.Limit)
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	p.Limit = limit + 1
	list, err := s.store.ListEndpoints(ctx, partnerID, p)
	if err != nil {
		return nil, err
	}
	page := &EndpointPage{}
	page.Data, page.HasMore = trimPage(list, limit)
	return page, nil
}

// mutateEndpoint applies fn to a fresh read of an endpoint and saves it (compare-and-set,
// retried on a lost race).
func (s *Service) mutateEndpoint(ctx context.Context, partnerID, id string, fn func(e *WebhookEndpoint) error) (*WebhookEndpoint, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		e, err := s.store.GetEndpoint(ctx, partnerID, id)
		if err != nil {
			return nil, err
		}
		if err := fn(e); err != nil {
			return nil, err
		}
		e.UpdatedAt = s.clock()
		err = s.store.UpdateEndpoint(ctx, e)
		if errors.Is(err, ErrConcurrentUpdate) && attempt < maxCASRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

// UpdateWebhookEndpoint changes an endpoint's URL, filter, description or status.
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, partnerID, id string, p UpdateEndpointParams) (*WebhookEndpoint, error) {
	return s.mutateEndpoint(ctx, partnerID, id, func(e *WebhookEndpoint) error {
		if p.URL != nil {
			e.URL = strings.TrimSpace(*p.URL)
		}
		if p.Events != nil {
			e.Events = slices.Clone(*p.Events)
			if e.Events == nil {
				e.Events = []string{}
			}
		}
		if p.Description != nil {
			e.Description = strings.TrimSpace(*p.Description)
		}
		if p.Status != nil {
			e.Status = *p.Status
		}
		return s.checkEndpoint(&e.Endpoint)
	})
}

// DeleteWebhookEndpoint removes an endpoint. Its pending deliveries are cancelled when
// their turn comes; the delivery log stays.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, partnerID, id string) error {
	if err := checkPartner(partnerID); err != nil {
		return err
	}
	return s.store.DeleteEndpoint(ctx, partnerID, id)
}

// RotateWebhookSecret gives an endpoint a new secret. The previous one keeps signing
// (deliveries carry both signatures) until previousExpiresAt; expireCurrentIn is 0..24h,
// and API callers default it to an hour.
func (s *Service) RotateWebhookSecret(ctx context.Context, partnerID, id string, expireCurrentIn time.Duration) (secret string, previousExpiresAt time.Time, err error) {
	if expireCurrentIn < 0 || expireCurrentIn > webhook.MaxRotationGrace {
		return "", time.Time{}, invalid("expire_current_in", CodeInvalidValue, "must be between 0 and 86400 seconds")
	}
	_, err = s.mutateEndpoint(ctx, partnerID, id, func(e *WebhookEndpoint) error {
		now := s.clock()
		secret, err = e.Rotate(now, expireCurrentIn)
		previousExpiresAt = now.Add(expireCurrentIn)
		return err
	})
	return secret, previousExpiresAt, err
}

// ListDeliveries pages through the partner's deliveries, newest first.
func (s *Service) ListDeliveries(ctx context.Context, partnerID string, p ListDeliveriesParams) ([]*Delivery, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	ve := &ValidationError{}
	p.Limit = checkLimit(ve, p.Limit)
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, partnerID, p)
}

// ListDeliveryAttempts returns the log of one delivery, oldest first.
func (s *Service) ListDeliveryAttempts(ctx context.Context, partnerID, deliveryID string) ([]*DeliveryAttempt, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetDelivery(ctx, partnerID, deliveryID); err != nil {
		return nil, err
	}
	return s.store.ListDeliveryAttempts(ctx, partnerID, deliveryID)
}

// ReplayDelivery sends a dead or cancelled delivery again, with a fresh retry schedule.
func (s *Service) ReplayDelivery(ctx context.Context, partnerID, deliveryID string) error {
	if err := checkPartner(partnerID); err != nil {
		return err
	}
	now := s.clock()
	err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		d, err := q.GetDelivery(ctx, partnerID, deliveryID)
		if err != nil {
			return err
		}
		if d.Status != DeliveryDead && d.Status != DeliveryCancelled {
			return fmt.Errorf("%w: the delivery is %s", ErrInvalidTransition, d.Status)
		}
		d.Status, d.NextAttemptAt, d.UpdatedAt = DeliveryPending, now, now
		if err := q.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		return q.InsertJob(ctx, s.deliveryJob(d, now))
	})
	if err == nil {
		s.notify()
	}
	return err
}

// RecoverWebhookEndpoint brings an endpoint back after an outage: it enables the endpoint
// and schedules, once more, every event of the partner since `since` that matches its filter
// and was not delivered to it — events whose deliveries were cancelled (a 410 disabled the
// endpoint) or died, and events published while it was disabled, which got no delivery at
// all. Deliveries pending already are left alone. since is at most 30 days back, and never
// before the endpoint was created. It returns how many it scheduled.
func (s *Service) RecoverWebhookEndpoint(ctx context.Context, partnerID, endpointID string, since time.Time) (int, error) {
	if earliest := s.clock().Add(-MaxRecoveryWindow); since.Before(earliest) {
		return 0, invalid("since", CodeInvalidValue, "must be within the last 30 days")
	}
	active := webhook.EndpointActive
	ep, err := s.UpdateWebhookEndpoint(ctx, partnerID, endpointID, UpdateEndpointParams{Status: &active})
	if err != nil {
		return 0, err
	}
	if since.Before(ep.CreatedAt) {
		since = ep.CreatedAt // nothing older was ever meant for this endpoint
	}
	scheduled := 0
	after := ""
	for {
		events, err := s.store.ListEvents(ctx, partnerID, ListEventsParams{CreatedFrom: since.UTC(), Limit: MaxPageLimit, StartingAfter: after})
		if err != nil {
			return scheduled, err
		}
		for _, e := range events {
			if !ep.Matches(string(e.Type)) {
				continue
			}
			n, err := s.recoverEvent(ctx, ep, e)
			if err != nil {
				return scheduled, err
			}
			scheduled += n
		}
		if len(events) < MaxPageLimit {
			break
		}
		after = events[len(events)-1].ID
	}
	if scheduled > 0 {
		s.notify()
	}
	return scheduled, nil
}

// recoverEvent schedules e for ep unless a delivery of it is delivered or pending.
func (s *Service) recoverEvent(ctx context.Context, ep *WebhookEndpoint, e *Event) (int, error) {
	now := s.clock()
	scheduled := 0
	err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		scheduled = 0
		ds, err := q.ListDeliveries(ctx, ep.PartnerID, ListDeliveriesParams{EventID: e.ID, EndpointID: ep.ID})
		if err != nil {
			return err
		}
		var retry *Delivery
		for _, d := range ds {
			switch d.Status {
			case DeliveryDelivered, DeliveryPending:
				return nil
			default:
				retry = d
			}
		}
		if retry == nil {
			retry = &Delivery{ID: NewID("dlv"), PartnerID: ep.PartnerID, EndpointID: ep.ID, EventID: e.ID,
				EventType: e.Type, Status: DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
			if err := q.InsertDelivery(ctx, retry); err != nil {
				return err
			}
		} else {
			retry.Status, retry.NextAttemptAt, retry.UpdatedAt = DeliveryPending, now, now
			if err := q.UpdateDelivery(ctx, retry); err != nil {
				return err
			}
		}
		scheduled = 1
		return q.InsertJob(ctx, s.deliveryJob(retry, now))
	})
	return scheduled, err
}

func (s *Service) deliveryJob(d *Delivery, now time.Time) *Job {
	args, _ := json.Marshal(map[string]string{"delivery_id": d.ID})
	return &Job{ID: NewID(prefixJob), Kind: JobDeliverWebhook, PartnerID: d.PartnerID, Args: args,
		State: JobAvailable, MaxAttempts: len(webhook.DefaultSchedule.Delays) + 1, RunAt: now, CreatedAt: now, UpdatedAt: now}
}

// fanOut writes, in the caller's transaction, a delivery and its job for every active
// endpoint of e's partner whose filter matches e.
func (s *Service) fanOut(ctx context.Context, q Queries, e *Event, now time.Time) error {
	after := ""
	for {
		eps, err := q.ListEndpoints(ctx, e.PartnerID, ListEndpointsParams{Status: webhook.EndpointActive, Limit: MaxPageLimit, StartingAfter: after})
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if !ep.Matches(string(e.Type)) {
				continue
			}
			d := &Delivery{ID: NewID("dlv"), PartnerID: e.PartnerID, EndpointID: ep.ID, EventID: e.ID, EventType: e.Type,
				Status: DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
			if err := q.InsertDelivery(ctx, d); err != nil {
				return err
			}
			dj := s.deliveryJob(d, now)
			dj.RunAt = followUpRunAt(ctx, now)
			if err := q.InsertJob(ctx, dj); err != nil {
				return err
			}
		}
		if len(eps) < MaxPageLimit {
			return nil
		}
		after = eps[len(eps)-1].ID
	}
}

// publish hands one outbox event to the broker Publisher (at least once: a failure retries
// the job, and the broker's consumers deduplicate on the event ID).
func (s *Service) publish(ctx context.Context, j *Job) error {
	var args struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return permanent(err)
	}
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
func (s *Service) deliver(ctx context.Context, j *Job) error {
	var args struct {
		DeliveryID string `json:"delivery_id"`
	}
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return permanent(err)
	}
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
	ep, err := s.store.GetEndpoint(ctx, d.PartnerID, d.EndpointID)
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
	payload, err := json.Marshal(webhook.Event{ID: e.ID, Type: string(e.Type), APIVersion: APIVersion, CreatedAt: e.CreatedAt,
		DeliveryID: d.ID, Timestamp: e.CreatedAt, Data: e.Data})
	if err != nil {
		return permanent(err)
	}
	now := s.clock()
	res := s.sender.Send(ctx, webhook.Delivery{URL: ep.URL, Secrets: ep.ActiveSecrets(now), MsgID: e.ID,
		Timestamp: now, Payload: payload, EventType: string(e.Type)})
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
	o := &outcome{j: j, d: d, st: st, a: a, retryAt: retryAt}
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
