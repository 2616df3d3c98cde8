package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The unit of work. Every change to a customer goes through mutate: a fresh read, the
// capability's change, the lifecycle transitions it leads to (fire, settle), and one
// commit that saves the customer with compare-and-set and writes its history, its events
// and their follow-up work in the same transaction.
//
// This file knows no capability. What else must happen when a customer reaches a state
// (offers released or withdrawn) or when an event is written (webhook deliveries, a broker
// job) is registered by the capability that owns it, in New, as a reaction or an event
// hook; the unit of work runs them.

// trigger names a moment of a customer's life other capabilities may react to.
type trigger string

// The triggers.
const (
	// triggerActive: the customer became active (run at commit).
	triggerActive trigger = "active"
	// triggerDenied: the customer was denied (run at commit).
	triggerDenied trigger = "denied"
	// triggerCompanyChanged: the customer changed CNPJ (run at once, by react).
	triggerCompanyChanged trigger = "company_changed"
)

// reaction is what a capability does, inside the unit of work, at a trigger.
type reaction func(ctx context.Context, t *customerTx) error

// eventHook is what a capability does, inside the emitting transaction, with each event
// written to the outbox.
type eventHook func(ctx context.Context, q Queries, e *Event, now time.Time) error

// on registers a reaction; New only.
func (s *Service) on(tr trigger, r reaction) {
	if s.reactions == nil {
		s.reactions = map[trigger][]reaction{}
	}
	s.reactions[tr] = append(s.reactions[tr], r)
}

// onEvent registers an event hook; New only.
func (s *Service) onEvent(h eventHook) { s.eventHooks = append(s.eventHooks, h) }

// customerTx is one unit of work on a customer: it fires lifecycle events, records history
// and collects the events to write, then saves the customer with compare-and-set.
type customerTx struct {
	s          *Service
	q          Queries
	c          *Customer
	now        time.Time
	actor      string
	dirty      bool
	kycChanged bool
	events     []pendingEvent
	// reached are the triggers whose reactions run at commit, after the events.
	reached []trigger
}

type pendingEvent struct {
	t    EventType
	data any
}

// mutate runs fn on a fresh read of the customer inside a transaction and saves the result.
// A lost compare-and-set race is retried from a fresh read, never overwritten.
func (s *Service) mutate(ctx context.Context, partnerID, customerID, actor string, fn func(ctx context.Context, t *customerTx) error) (*Customer, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		var out *Customer
		err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
			c, err := q.GetCustomer(ctx, partnerID, customerID)
			if err != nil {
				return err
			}
			t := &customerTx{s: s, q: q, c: c, now: s.clock(), actor: actor}
			if err := fn(ctx, t); err != nil {
				return err
			}
			if err := t.commit(ctx); err != nil {
				return err
			}
			out = t.c
			return nil
		})
		if errors.Is(err, ErrConcurrentUpdate) && attempt < maxCASRetries {
			continue
		}
		if err == nil {
			s.notify()
		}
		return out, err
	}
}

// fire applies a lifecycle event: it checks it on the FSM, records the history row, and
// queues the status event. A transition to the current state is a no-op.
func (t *customerTx) fire(ctx context.Context, ev LifecycleEvent, reason string) error {
	from := t.c.Status
	to, ok, err := nextStatus(ctx, from, ev)
	if err != nil || !ok {
		return err
	}
	t.c.Status = to
	t.dirty = true
	if err := t.q.InsertTransition(ctx, &Transition{ID: NewID(prefixTransition), PartnerID: t.c.PartnerID,
		CustomerID: t.c.ID, Event: ev, From: from, To: to, Actor: t.actor, Reason: reason, CreatedAt: t.now}); err != nil {
		return err
	}
	var et EventType
	switch to {
	case StatusUnderReview:
		et = EventCustomerUnderReview
	case StatusActive:
		et = EventCustomerActive
		t.reached = append(t.reached, triggerActive)
	case StatusDenied:
		et = EventCustomerDenied
		t.reached = append(t.reached, triggerDenied)
	default: // back to pending_kyc: the kyc_updated event carries the rejection
		t.kycChanged = true
		return nil
	}
	t.events = append(t.events, pendingEvent{et, customerEventData(et, t.c)})
	return nil
}

// settle applies the automatic transitions until the status is stable: last mandatory
// item submitted → under_review; all approved → active; one rejected or missing while under
// review → pending_kyc.
func (t *customerTx) settle(ctx context.Context) error {
	for range 4 {
		var pending, rejected, unapproved int
		var reasons []string
		for _, r := range t.c.KYC {
			if !r.Mandatory {
				continue
			}
			switch r.Status {
			case RequirementPending:
				pending++
			case RequirementRejected:
				rejected++
				if r.Message != nil {
					reasons = append(reasons, r.Label+": "+*r.Message)
				}
			}
			if r.Status != RequirementApproved {
				unapproved++
			}
		}
		before := t.c.Status
		var err error
		switch {
		case before == StatusPendingKYC && pending == 0 && rejected == 0:
			err = t.fire(ctx, EventSubmit, "every mandatory item submitted")
		case before == StatusUnderReview && (pending > 0 || rejected > 0):
			err = t.fire(ctx, EventRequestChanges, strings.Join(reasons, "; "))
		case before == StatusUnderReview && unapproved == 0:
			err = t.fire(ctx, EventApprove, "every mandatory item approved")
		}
		if err != nil {
			return err
		}
		if t.c.Status == before {
			return nil
		}
	}
	return nil
}

// commit saves the customer (compare-and-set on its version) and writes the queued events.
func (t *customerTx) commit(ctx context.Context) error {
	if !t.dirty && !t.kycChanged {
		return nil
	}
	t.c.UpdatedAt = t.now
	if err := t.q.UpdateCustomer(ctx, t.c); err != nil {
		return err
	}
	if t.kycChanged {
		if err := t.s.emit(ctx, t.q, t.c, EventCustomerKYCUpdated, customerEventData(EventCustomerKYCUpdated, t.c), t.now); err != nil {
			return err
		}
	}
	for _, e := range t.events {
		if err := t.s.emit(ctx, t.q, t.c, e.t, e.data, t.now); err != nil {
			return err
		}
	}
	for _, tr := range t.reached {
		if err := t.react(ctx, tr); err != nil {
			return err
		}
	}
	return nil
}

// react runs the reactions registered for tr.
func (t *customerTx) react(ctx context.Context, tr trigger) error {
	for _, r := range t.s.reactions[tr] {
		if err := r(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

// maxCASRetries bounds the retries of a unit of work that lost a compare-and-set race.
const maxCASRetries = 16

// emit writes an event about customer c to the outbox in the caller's transaction, and
// runs the event hooks with it (webhook deliveries, the broker job): an event reaches its
// webhooks in one hop, with no job in between.
func (s *Service) emit(ctx context.Context, q Queries, c *Customer, t EventType, data any, now time.Time) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("onboarding: encode %s: %w", t, err)
	}
	e := &Event{ID: NewID(prefixEvent), PartnerID: c.PartnerID, Type: t, CustomerID: c.ID, Data: raw, CreatedAt: now}
	if err := q.InsertEvent(ctx, e); err != nil {
		return err
	}
	for _, h := range s.eventHooks {
		if err := h(ctx, q, e, now); err != nil {
			return err
		}
	}
	return nil
}
