package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

var _ onboarding.PrivacyQueries = (*txn)(nil)

// ---- erasure ----

func (t *txn) DeleteCustomer(_ context.Context, partnerID, id string, version int64) error {
	st := t.st
	c, err := t.customer(partnerID, id)
	if err != nil {
		return err
	}
	if c.Version != version {
		return fmt.Errorf("%w: customer %s is at version %d, not %d", onboarding.ErrConcurrentUpdate, id, c.Version, version)
	}
	for _, d := range st.documents {
		if d.CustomerID == id && d.PartnerID == partnerID {
			return fmt.Errorf("%w: customer %s still has documents", onboarding.ErrConcurrentUpdate, id)
		}
	}
	for _, o := range st.offers {
		if o.CustomerID == id && o.PartnerID == partnerID {
			return fmt.Errorf("%w: customer %s still has offers", onboarding.ErrConcurrentUpdate, id)
		}
	}
	ek, tk := partnerKey{partnerID, c.ExternalID}, partnerKey{partnerID, c.TaxKey()}
	delete(st.customers, id)
	delete(st.byExternalID, ek)
	delete(st.byTaxKey, tk)
	t.onUndo(func() {
		st.customers[id] = c
		st.byExternalID[ek] = id
		st.byTaxKey[tk] = id
	})
	return nil
}

// deleteFrom deletes the values of m that match, with undo, and says how many.
func deleteFrom[K comparable, V any](t *txn, m map[K]V, match func(V) bool) int {
	n := 0
	for k, v := range m {
		if match(v) {
			delete(m, k)
			t.onUndo(func() { m[k] = v })
			n++
		}
	}
	return n
}

func (t *txn) DeleteCustomerDocuments(_ context.Context, partnerID, customerID string) (int, error) {
	return deleteFrom(t, t.st.documents, func(d *onboarding.Document) bool {
		return d.PartnerID == partnerID && d.CustomerID == customerID
	}), nil
}

func (t *txn) DeleteCustomerOffers(_ context.Context, partnerID, customerID string) (int, error) {
	return deleteFrom(t, t.st.offers, func(o *onboarding.CreditOffer) bool {
		return o.PartnerID == partnerID && o.CustomerID == customerID
	}), nil
}

func (t *txn) DeleteCustomerJobs(_ context.Context, partnerID, customerID string) (int, error) {
	return deleteFrom(t, t.st.jobs, func(j *onboarding.Job) bool {
		return j.PartnerID == partnerID && j.CustomerID == customerID
	}), nil
}

// customerEvents returns the IDs of the customer's events.
func (t *txn) customerEvents(partnerID, customerID string) map[string]bool {
	ids := map[string]bool{}
	for _, e := range t.st.events {
		if e.PartnerID == partnerID && e.CustomerID == customerID {
			ids[e.ID] = true
		}
	}
	return ids
}

// customerDeliveries returns the IDs of the deliveries of the customer's events.
func (t *txn) customerDeliveries(partnerID, customerID string) map[string]bool {
	events := t.customerEvents(partnerID, customerID)
	ids := map[string]bool{}
	for _, d := range t.st.deliveries {
		if d.PartnerID == partnerID && events[d.EventID] {
			ids[d.ID] = true
		}
	}
	return ids
}

func (t *txn) ScrubCustomerEvents(_ context.Context, partnerID, customerID string, data json.RawMessage) (int, error) {
	st := t.st
	n := 0
	for i, e := range st.events {
		if e.PartnerID != partnerID || e.CustomerID != customerID {
			continue
		}
		c := e.Clone()
		c.Data = append(json.RawMessage(nil), data...)
		st.events[i], st.eventByID[e.ID] = c, c
		t.onUndo(func() { st.events[i], st.eventByID[e.ID] = e, e })
		n++
	}
	return n, nil
}

func (t *txn) ScrubCustomerDeliveries(_ context.Context, partnerID, customerID string, now time.Time) (int, error) {
	st := t.st
	n := 0
	for id := range t.customerDeliveries(partnerID, customerID) {
		old := st.deliveries[id]
		c := *old
		c.LastError = ""
		if c.Status == onboarding.DeliveryPending {
			c.Status, c.NextAttemptAt, c.UpdatedAt = onboarding.DeliveryCancelled, time.Time{}, now
		}
		st.deliveries[id] = &c
		t.onUndo(func() { st.deliveries[id] = old })
		n++
	}
	return n, nil
}

func (t *txn) ScrubCustomerDeliveryAttempts(_ context.Context, partnerID, customerID string) (int, error) {
	deliveries := t.customerDeliveries(partnerID, customerID)
	return scrubRows(t, &t.st.attempts, func(a *onboarding.DeliveryAttempt) bool {
		return a.PartnerID == partnerID && deliveries[a.DeliveryID]
	}, func(a *onboarding.DeliveryAttempt) { a.Response, a.Error = "", "" }), nil
}

func (t *txn) ScrubCustomerHistory(_ context.Context, partnerID, customerID string) (int, error) {
	return scrubRows(t, &t.st.transitions, func(tr *onboarding.Transition) bool {
		return tr.PartnerID == partnerID && tr.CustomerID == customerID
	}, func(tr *onboarding.Transition) { tr.Reason = "" }), nil
}

func (t *txn) ScrubCustomerAudit(_ context.Context, partnerID, customerID string) (int, error) {
	return scrubRows(t, &t.st.audit, func(a *onboarding.AuditEntry) bool {
		return a.PartnerID == partnerID && a.CustomerID == customerID && a.Detail != ""
	}, func(a *onboarding.AuditEntry) { a.Detail = "" }), nil
}

// scrubRows replaces each row of *rows that match accepts with a copy that change edits
// (rows are never changed in place: readers hold them), undoably, and counts them.
func scrubRows[T any](t *txn, rows *[]*T, match func(*T) bool, change func(*T)) int {
	n := 0
	for i, r := range *rows {
		if !match(r) {
			continue
		}
		c := *r
		change(&c)
		(*rows)[i] = &c
		t.onUndo(func() { (*rows)[i] = r })
		n++
	}
	return n
}

func (t *txn) DeleteIdempotencyKeysMentioning(_ context.Context, partnerID, needle string) (int, error) {
	return deleteFrom(t, t.st.idempotency, func(k *onboarding.IdempotencyKey) bool {
		return k.PartnerID == partnerID && (strings.Contains(k.Key, needle) || strings.Contains(string(k.ResponseBody), needle))
	}), nil
}

// ---- retention ----

// keepSlice replaces *s with the elements keep accepts, at most limit of the others
// dropped (oldest first: the slices are in insertion order), with undo.
func keepSlice[T any](t *txn, s *[]T, limit int, drop func(T) bool) int {
	old := *s
	kept := make([]T, 0, len(old))
	n := 0
	for _, v := range old {
		if n < limit && drop(v) {
			n++
			continue
		}
		kept = append(kept, v)
	}
	if n > 0 {
		*s = kept
		t.onUndo(func() { *s = old })
	}
	return n
}

func (t *txn) PruneDeliveryAttempts(_ context.Context, before time.Time, limit int) (int, error) {
	return keepSlice(t, &t.st.attempts, limit, func(a *onboarding.DeliveryAttempt) bool {
		return a.CreatedAt.Before(before)
	}), nil
}

// deleteDeliveries deletes the deliveries in ids and their attempts.
func (t *txn) deleteDeliveries(ids map[string]bool) {
	keepSlice(t, &t.st.attempts, len(t.st.attempts), func(a *onboarding.DeliveryAttempt) bool { return ids[a.DeliveryID] })
	deleteFrom(t, t.st.deliveries, func(d *onboarding.Delivery) bool { return ids[d.ID] })
}

func (t *txn) PruneDeliveries(_ context.Context, before time.Time, limit int) (int, error) {
	var victims []*onboarding.Delivery
	for _, d := range t.st.deliveries {
		if d.Status == onboarding.DeliveryDelivered && d.DeliveredAt.Before(before) {
			victims = append(victims, d)
		}
	}
	slices.SortFunc(victims, func(a, b *onboarding.Delivery) int { return a.DeliveredAt.Compare(b.DeliveredAt) })
	ids := map[string]bool{}
	for _, d := range victims[:min(limit, len(victims))] {
		ids[d.ID] = true
	}
	t.deleteDeliveries(ids)
	return len(ids), nil
}

func (t *txn) PruneEvents(_ context.Context, before time.Time, limit int) (int, error) {
	st := t.st
	pending := map[string]bool{}
	for _, d := range st.deliveries {
		if d.Status == onboarding.DeliveryPending {
			pending[d.EventID] = true
		}
	}
	events := map[string]bool{}
	for _, e := range st.events {
		if len(events) < limit && e.CreatedAt.Before(before) && !pending[e.ID] {
			events[e.ID] = true
		}
	}
	if len(events) == 0 {
		return 0, nil
	}
	deliveries := map[string]bool{}
	for _, d := range st.deliveries {
		if events[d.EventID] {
			deliveries[d.ID] = true
		}
	}
	t.deleteDeliveries(deliveries)
	keepSlice(t, &st.events, len(st.events), func(e *onboarding.Event) bool { return events[e.ID] })
	deleteFrom(t, st.eventByID, func(e *onboarding.Event) bool { return events[e.ID] })
	return len(events), nil
}

func (t *txn) ListRetiredDocuments(_ context.Context, decidedBefore time.Time, n int) ([]*onboarding.Document, error) {
	type item struct{ partner, customer, requirement string }
	approvedAt := map[item]time.Time{}
	for _, d := range t.st.documents {
		if d.Status != onboarding.DocumentApproved {
			continue
		}
		k := item{d.PartnerID, d.CustomerID, d.RequirementID}
		if d.UpdatedAt.After(approvedAt[k]) {
			approvedAt[k] = d.UpdatedAt
		}
	}
	var out []*onboarding.Document
	for _, d := range t.st.documents {
		if d.Status != onboarding.DocumentSuperseded && d.Status != onboarding.DocumentRejected {
			continue
		}
		at, ok := approvedAt[item{d.PartnerID, d.CustomerID, d.RequirementID}]
		if ok && at.Before(decidedBefore) {
			c := *d
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, byID(func(d *onboarding.Document) string { return d.ID }))
	return limit(out, n), nil
}

func (t *txn) DeleteDocument(_ context.Context, partnerID, id string) error {
	st := t.st
	d, ok := st.documents[id]
	if !ok || d.PartnerID != partnerID {
		return notFound("document", id)
	}
	delete(st.documents, id)
	t.onUndo(func() { st.documents[id] = d })
	return nil
}

func (t *txn) ListStaleCustomers(_ context.Context, status onboarding.Status, updatedBefore time.Time, n int) ([]*onboarding.Customer, error) {
	var list []*onboarding.Customer
	for _, c := range t.st.customers {
		if c.Status == status && c.UpdatedAt.Before(updatedBefore) {
			list = append(list, c)
		}
	}
	slices.SortFunc(list, func(a, b *onboarding.Customer) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	list = limit(list, n)
	out := make([]*onboarding.Customer, len(list))
	for i, c := range list {
		out[i] = c.Clone()
	}
	return out, nil
}

// ---- secrets ----

// LockCustomer implements onboarding.PrivacyQueries: memstore's transactions already run
// one at a time.
func (t *txn) LockCustomer(_ context.Context, partnerID, customerID string) error {
	_, err := t.customer(partnerID, customerID)
	return err
}
