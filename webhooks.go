package onboarding

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// The webhooks capability: partners' endpoints, and the fan-out of every outbox event to
// the endpoints that want it, written in the emitting transaction. The attempts
// themselves, and the broker Publisher, are in delivery.go.

// registerWebhooks registers the fan-out of events, the delivery job and, with a
// Publisher, the broker relay.
func (s *Service) registerWebhooks() {
	s.onEvent(s.fanOut)
	s.handle(JobDeliverWebhook, handle(s.deliver))
	if s.publisher != nil {
		s.onEvent(func(ctx context.Context, q Queries, e *Event, now time.Time) error {
			return enqueue(ctx, q, publishEventArgs{EventID: e.ID},
				jobFor{PartnerID: e.PartnerID, CustomerID: e.CustomerID, RunAt: followUpRunAt(ctx, now)}, now)
		})
		s.handle(JobPublishEvent, handle(s.publish))
	}
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
func (s *Service) CreateWebhookEndpoint(ctx context.Context, partnerID string, p CreateEndpointParams) (_ *WebhookEndpoint, _ string, err error) {
	ctx, span := s.start(ctx, "CreateWebhookEndpoint", partnerID)
	defer span.end(&err)
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
		Secrets: []webhook.Secret{{Value: secret, CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}, Format: p.Format, Version: 1}
	if e.Format == "" {
		e.Format = WireFormatGuide
	}
	if !e.Format.Valid() {
		return nil, "", invalid("format", CodeInvalidValue, "must be guide or sdk")
	}
	if e.Events == nil {
		e.Events = []string{}
	}
	if err := s.checkEndpoint(&e.Endpoint); err != nil {
		return nil, "", err
	}
	// Every event is fanned out to every endpoint in the emitting transaction: the number
	// of endpoints bounds that work (and what a partner can aim at someone else's server).
	// The count and the insert share a partner lock, so concurrent creations cannot all
	// see room for one more. The stored copy's secrets are sealed when a keeper is set.
	stored, err := s.sealer.seal(ctx, e)
	if err != nil {
		return nil, "", err
	}
	err = s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		if err := q.LockPartner(ctx, partnerID, "webhook_endpoints"); err != nil {
			return err
		}
		existing, err := q.ListEndpoints(ctx, partnerID, ListEndpointsParams{Limit: MaxEndpointsPerPartner})
		if err != nil {
			return err
		}
		if len(existing) >= MaxEndpointsPerPartner {
			return invalid("url", CodeInvalidValue, "a partner may register at most "+strconv.Itoa(MaxEndpointsPerPartner)+" endpoints")
		}
		return q.InsertEndpoint(ctx, stored)
	})
	if err != nil {
		return nil, "", err
	}
	e.Version = stored.Version
	return e, secret, nil
}

// GetWebhookEndpoint returns one of the partner's endpoints.
func (s *Service) GetWebhookEndpoint(ctx context.Context, partnerID, id string) (_ *WebhookEndpoint, err error) {
	ctx, span := s.start(ctx, "GetWebhookEndpoint", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.getEndpoint(ctx, s.store, partnerID, id)
}

// ListWebhookEndpoints pages through the partner's endpoints, oldest first.
func (s *Service) ListWebhookEndpoints(ctx context.Context, partnerID string, p ListEndpointsParams) (_ *EndpointPage, err error) {
	ctx, span := s.start(ctx, "ListWebhookEndpoints", partnerID)
	defer span.end(&err)
	return listPage(partnerID, p.Limit, nil, func(limit int) ([]*WebhookEndpoint, error) {
		p.Limit = limit
		eps, err := s.store.ListEndpoints(ctx, partnerID, p)
		if err != nil {
			return nil, err
		}
		return eps, s.openEndpoints(ctx, eps)
	})
}

// mutateEndpoint applies fn to a fresh read of an endpoint and saves it (compare-and-set,
// retried on a lost race).
func (s *Service) mutateEndpoint(ctx context.Context, partnerID, id string, fn func(e *WebhookEndpoint) error) (*WebhookEndpoint, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		e, err := s.getEndpoint(ctx, s.store, partnerID, id)
		if err != nil {
			return nil, err
		}
		if err := fn(e); err != nil {
			return nil, err
		}
		e.UpdatedAt = s.clock()
		stored, err := s.sealer.seal(ctx, e)
		if err != nil {
			return nil, err
		}
		err = s.store.UpdateEndpoint(ctx, stored)
		e.Version = stored.Version
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
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, partnerID, id string, p UpdateEndpointParams) (_ *WebhookEndpoint, err error) {
	ctx, span := s.start(ctx, "UpdateWebhookEndpoint", partnerID)
	defer span.end(&err)
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
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, partnerID, id string) (err error) {
	ctx, span := s.start(ctx, "DeleteWebhookEndpoint", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return err
	}
	return s.store.DeleteEndpoint(ctx, partnerID, id)
}

// RotateWebhookSecret gives an endpoint a new secret. The previous one keeps signing
// (deliveries carry both signatures) until previousExpiresAt; expireCurrentIn is 0..24h,
// and API callers default it to an hour.
func (s *Service) RotateWebhookSecret(ctx context.Context, partnerID, id string, expireCurrentIn time.Duration) (secret string, previousExpiresAt time.Time, err error) {
	ctx, span := s.start(ctx, "RotateWebhookSecret", partnerID)
	defer span.end(&err)
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
func (s *Service) ListDeliveries(ctx context.Context, partnerID string, p ListDeliveriesParams) (_ []*Delivery, err error) {
	ctx, span := s.start(ctx, "ListDeliveries", partnerID)
	defer span.end(&err)
	if p.Limit, err = checkList(partnerID, p.Limit, nil); err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, partnerID, p)
}

// ListDeliveryAttempts returns the log of one delivery, oldest first.
func (s *Service) ListDeliveryAttempts(ctx context.Context, partnerID, deliveryID string) (_ []*DeliveryAttempt, err error) {
	ctx, span := s.start(ctx, "ListDeliveryAttempts", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	if _, err := s.store.GetDelivery(ctx, partnerID, deliveryID); err != nil {
		return nil, err
	}
	return s.store.ListDeliveryAttempts(ctx, partnerID, deliveryID)
}

// ReplayDelivery sends a dead or cancelled delivery again, with a fresh retry schedule.
func (s *Service) ReplayDelivery(ctx context.Context, partnerID, deliveryID string) (err error) {
	ctx, span := s.start(ctx, "ReplayDelivery", partnerID)
	defer span.end(&err)
	if err := checkPartner(partnerID); err != nil {
		return err
	}
	now := s.clock()
	err = s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
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
		return enqueueDelivery(ctx, q, d, now, now)
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
func (s *Service) RecoverWebhookEndpoint(ctx context.Context, partnerID, endpointID string, since time.Time) (_ int, err error) {
	ctx, span := s.start(ctx, "RecoverWebhookEndpoint", partnerID)
	defer span.end(&err)
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
		return enqueueDelivery(ctx, q, retry, now, now)
	})
	return scheduled, err
}

// enqueueDelivery schedules an attempt at a delivery at runAt.
func enqueueDelivery(ctx context.Context, q Queries, d *Delivery, runAt, now time.Time) error {
	return enqueue(ctx, q, deliverWebhookArgs{DeliveryID: d.ID}, jobFor{PartnerID: d.PartnerID, RunAt: runAt}, now)
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
			if err := enqueueDelivery(ctx, q, d, followUpRunAt(ctx, now), now); err != nil {
				return err
			}
		}
		if len(eps) < MaxPageLimit {
			return nil
		}
		after = eps[len(eps)-1].ID
	}
}
