package memstore

import (
	"context"
	"slices"

	"github.com/onboardkit/onboarding"
)

var _ onboarding.WebhookQueries = (*txn)(nil)

func (t *txn) InsertEndpoint(_ context.Context, e *onboarding.WebhookEndpoint) error {
	st := t.st
	if _, ok := st.endpoints[e.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	c := e.Clone()
	c.Version, e.Version = 1, 1
	st.endpoints[e.ID] = c
	t.onUndo(func() { delete(st.endpoints, e.ID) })
	return nil
}

func (t *txn) GetEndpoint(_ context.Context, partnerID, id string) (*onboarding.WebhookEndpoint, error) {
	e, ok := t.st.endpoints[id]
	if !ok || e.PartnerID != partnerID {
		return nil, notFound("webhook endpoint", id)
	}
	return e.Clone(), nil
}

func (t *txn) ListEndpoints(_ context.Context, partnerID string, f onboarding.ListEndpointsParams) ([]*onboarding.WebhookEndpoint, error) {
	var list []*onboarding.WebhookEndpoint
	for _, e := range t.st.endpoints {
		if e.PartnerID == partnerID && (f.Status == "" || e.Status == f.Status) && e.ID > f.StartingAfter {
			list = append(list, e.Clone())
		}
	}
	slices.SortFunc(list, byID(func(e *onboarding.WebhookEndpoint) string { return e.ID }))
	return limit(list, f.Limit), nil
}

func (t *txn) UpdateEndpoint(_ context.Context, e *onboarding.WebhookEndpoint) error {
	st := t.st
	old, ok := st.endpoints[e.ID]
	if !ok || old.PartnerID != e.PartnerID {
		return notFound("webhook endpoint", e.ID)
	}
	if old.Version != e.Version {
		return onboarding.ErrConcurrentUpdate
	}
	c := e.Clone()
	c.Version, c.CreatedAt = old.Version+1, old.CreatedAt
	st.endpoints[e.ID] = c
	e.Version = c.Version
	t.onUndo(func() { st.endpoints[e.ID] = old })
	return nil
}

func (t *txn) DeleteEndpoint(_ context.Context, partnerID, id string) error {
	st := t.st
	old, ok := st.endpoints[id]
	if !ok || old.PartnerID != partnerID {
		return notFound("webhook endpoint", id)
	}
	delete(st.endpoints, id)
	t.onUndo(func() { st.endpoints[id] = old })
	return nil
}

func (t *txn) InsertDelivery(_ context.Context, d *onboarding.Delivery) error {
	st := t.st
	if _, ok := st.deliveries[d.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	if _, ok := st.eventByID[d.EventID]; !ok {
		return notFound("event", d.EventID)
	}
	c := *d
	st.deliveries[d.ID] = &c
	t.onUndo(func() { delete(st.deliveries, d.ID) })
	return nil
}

func (t *txn) GetDelivery(_ context.Context, partnerID, id string) (*onboarding.Delivery, error) {
	d, ok := t.st.deliveries[id]
	if !ok || d.PartnerID != partnerID {
		return nil, notFound("delivery", id)
	}
	c := *d
	return &c, nil
}

func (t *txn) UpdateDelivery(_ context.Context, d *onboarding.Delivery) error {
	st := t.st
	old, ok := st.deliveries[d.ID]
	if !ok || old.PartnerID != d.PartnerID {
		return notFound("delivery", d.ID)
	}
	c := *d
	c.EndpointID, c.EventID, c.EventType, c.CreatedAt = old.EndpointID, old.EventID, old.EventType, old.CreatedAt
	st.deliveries[d.ID] = &c
	t.onUndo(func() { st.deliveries[d.ID] = old })
	return nil
}

func (t *txn) ListDeliveries(_ context.Context, partnerID string, f onboarding.ListDeliveriesParams) ([]*onboarding.Delivery, error) {
	var list []*onboarding.Delivery
	for _, d := range t.st.deliveries {
		if d.PartnerID == partnerID && (f.EndpointID == "" || d.EndpointID == f.EndpointID) &&
			(f.EventID == "" || d.EventID == f.EventID) && (f.Status == "" || d.Status == f.Status) &&
			(f.StartingAfter == "" || d.ID < f.StartingAfter) {
			c := *d
			list = append(list, &c)
		}
	}
	slices.SortFunc(list, byID(func(d *onboarding.Delivery) string { return d.ID }))
	slices.Reverse(list)
	return limit(list, f.Limit), nil
}

func (t *txn) InsertDeliveryAttempt(_ context.Context, a *onboarding.DeliveryAttempt) error {
	st := t.st
	d, ok := st.deliveries[a.DeliveryID]
	if !ok || d.PartnerID != a.PartnerID {
		return notFound("delivery", a.DeliveryID)
	}
	c := *a
	st.attempts = append(st.attempts, &c)
	n := len(st.attempts) - 1
	t.onUndo(func() { st.attempts = st.attempts[:n] })
	return nil
}

func (t *txn) ListDeliveryAttempts(_ context.Context, partnerID, deliveryID string) ([]*onboarding.DeliveryAttempt, error) {
	var out []*onboarding.DeliveryAttempt
	for _, a := range t.st.attempts {
		if a.PartnerID == partnerID && a.DeliveryID == deliveryID {
			c := *a
			out = append(out, &c)
		}
	}
	return out, nil
}
