package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/onboardkit/onboarding"
)

var _ onboarding.Queries = (*txn)(nil)

// ---- customers ----

func (t *txn) InsertCustomer(_ context.Context, c *onboarding.Customer) error {
	st := t.st
	if _, ok := st.customers[c.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	ek, tk := partnerKey{c.PartnerID, c.ExternalID}, partnerKey{c.PartnerID, c.TaxKey()}
	if id, ok := st.byExternalID[ek]; ok && c.ExternalID != "" {
		return &onboarding.ConflictError{Field: "external_id", ExistingID: id}
	}
	if id, ok := st.byTaxKey[tk]; ok {
		return &onboarding.ConflictError{Field: conflictField(tk.key), ExistingID: id}
	}
	stored := c.Clone()
	stored.Version = 1
	c.Version = 1
	st.customers[c.ID] = stored
	if c.ExternalID != "" { // a customer without one is found by its tax key alone
		st.byExternalID[ek] = c.ID
	}
	st.byTaxKey[tk] = c.ID
	t.onUndo(func() {
		delete(st.customers, c.ID)
		if c.ExternalID != "" {
			delete(st.byExternalID, ek)
		}
		delete(st.byTaxKey, tk)
	})
	return nil
}

func (t *txn) customer(partnerID, id string) (*onboarding.Customer, error) {
	c, ok := t.st.customers[id]
	if !ok || c.PartnerID != partnerID {
		return nil, notFound("customer", id)
	}
	return c, nil
}

func (t *txn) GetCustomer(_ context.Context, partnerID, id string) (*onboarding.Customer, error) {
	c, err := t.customer(partnerID, id)
	if err != nil {
		return nil, err
	}
	return c.Clone(), nil
}

func (t *txn) FindCustomer(_ context.Context, partnerID, externalID, taxKey string) (*onboarding.Customer, error) {
	if externalID != "" {
		if id, ok := t.st.byExternalID[partnerKey{partnerID, externalID}]; ok {
			return t.st.customers[id].Clone(), nil
		}
	}
	if taxKey != "" {
		if id, ok := t.st.byTaxKey[partnerKey{partnerID, taxKey}]; ok {
			return t.st.customers[id].Clone(), nil
		}
	}
	return nil, fmt.Errorf("%w: customer", onboarding.ErrNotFound)
}

func (t *txn) ListCustomers(_ context.Context, partnerID string, f onboarding.ListCustomersParams) ([]*onboarding.Customer, error) {
	var list []*onboarding.Customer
	for _, c := range t.st.customers {
		if c.PartnerID != partnerID ||
			(f.ExternalID != "" && c.ExternalID != f.ExternalID) ||
			(f.CPF != "" && string(c.CPF) != f.CPF) ||
			(f.Status != "" && c.Status != f.Status) {
			continue
		}
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *onboarding.Customer) int {
		if f.Sort == "updated_at" {
			if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
				return c
			}
		}
		return byID(func(c *onboarding.Customer) string { return c.ID })(a, b)
	})
	if f.Order != "asc" {
		slices.Reverse(list)
	}
	if f.StartingAfter != "" {
		cur, ok := t.st.customers[f.StartingAfter]
		if !ok || cur.PartnerID != partnerID {
			return nil, nil
		}
		// Keyset: everything strictly after the cursor in this order, even if the cursor
		// itself no longer matches the filter.
		after := func(c *onboarding.Customer) bool {
			k := 0
			if f.Sort == "updated_at" {
				k = c.UpdatedAt.Compare(cur.UpdatedAt)
			}
			if k == 0 {
				k = cmpString(c.ID, cur.ID)
			}
			if f.Order == "asc" {
				return k > 0
			}
			return k < 0
		}
		list = slices.DeleteFunc(list, func(c *onboarding.Customer) bool { return !after(c) })
	}
	list = limit(list, f.Limit)
	out := make([]*onboarding.Customer, len(list))
	for i, c := range list {
		out[i] = c.Clone()
	}
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (t *txn) UpdateCustomer(_ context.Context, c *onboarding.Customer) error {
	st := t.st
	old, err := t.customer(c.PartnerID, c.ID)
	if err != nil {
		return err
	}
	if old.Version != c.Version {
		return fmt.Errorf("%w: customer %s is at version %d, not %d", onboarding.ErrConcurrentUpdate, c.ID, old.Version, c.Version)
	}
	oldTK, newTK := partnerKey{c.PartnerID, old.TaxKey()}, partnerKey{c.PartnerID, c.TaxKey()}
	if oldTK != newTK {
		if id, ok := st.byTaxKey[newTK]; ok {
			return &onboarding.ConflictError{Field: conflictField(newTK.key), ExistingID: id}
		}
		delete(st.byTaxKey, oldTK)
		st.byTaxKey[newTK] = c.ID
	}
	stored := c.Clone()
	// The identity of a customer never changes through an update.
	stored.ExternalID, stored.CreatedAt = old.ExternalID, old.CreatedAt
	stored.Version = old.Version + 1
	st.customers[c.ID] = stored
	c.Version = stored.Version
	t.onUndo(func() {
		st.customers[c.ID] = old
		if oldTK != newTK {
			delete(st.byTaxKey, newTK)
			st.byTaxKey[oldTK] = c.ID
		}
	})
	return nil
}

// ---- history ----

func (t *txn) InsertTransition(_ context.Context, tr *onboarding.Transition) error {
	st := t.st
	c := *tr
	st.transitions = append(st.transitions, &c)
	n := len(st.transitions) - 1
	t.onUndo(func() { st.transitions = st.transitions[:n] })
	return nil
}

func (t *txn) ListTransitions(_ context.Context, partnerID, customerID string) ([]*onboarding.Transition, error) {
	var out []*onboarding.Transition
	for _, tr := range t.st.transitions {
		if tr.PartnerID == partnerID && tr.CustomerID == customerID {
			c := *tr
			out = append(out, &c)
		}
	}
	return out, nil
}

// ---- documents ----

func (t *txn) InsertDocument(_ context.Context, d *onboarding.Document) error {
	st := t.st
	if _, ok := st.documents[d.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	if _, err := t.customer(d.PartnerID, d.CustomerID); err != nil {
		return err
	}
	c := *d
	st.documents[d.ID] = &c
	t.onUndo(func() { delete(st.documents, d.ID) })
	return nil
}

func (t *txn) GetDocument(_ context.Context, partnerID, id string) (*onboarding.Document, error) {
	d, ok := t.st.documents[id]
	if !ok || d.PartnerID != partnerID {
		return nil, notFound("document", id)
	}
	c := *d
	return &c, nil
}

func (t *txn) ListDocuments(_ context.Context, partnerID, customerID string) ([]*onboarding.Document, error) {
	var out []*onboarding.Document
	for _, d := range t.st.documents {
		if d.PartnerID == partnerID && d.CustomerID == customerID {
			c := *d
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, byID(func(d *onboarding.Document) string { return d.ID }))
	return out, nil
}

func (t *txn) UpdateDocument(_ context.Context, d *onboarding.Document) error {
	st := t.st
	old, ok := st.documents[d.ID]
	if !ok || old.PartnerID != d.PartnerID {
		return notFound("document", d.ID)
	}
	c := *old
	c.Status, c.RejectionReason, c.UpdatedAt = d.Status, d.RejectionReason, d.UpdatedAt
	st.documents[d.ID] = &c
	t.onUndo(func() { st.documents[d.ID] = old })
	return nil
}

func (t *txn) DocumentKeyExists(_ context.Context, key string) (bool, error) {
	for _, d := range t.st.documents {
		if d.Key == key {
			return true, nil
		}
	}
	return false, nil
}

// ---- offers ----

func (t *txn) InsertOffer(_ context.Context, o *onboarding.CreditOffer) error {
	st := t.st
	if _, ok := st.offers[o.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	if _, err := t.customer(o.PartnerID, o.CustomerID); err != nil {
		return err
	}
	c := o.Clone()
	c.Version, o.Version = 1, 1
	st.offers[o.ID] = c
	t.onUndo(func() { delete(st.offers, o.ID) })
	return nil
}

func (t *txn) GetOffer(_ context.Context, partnerID, id string) (*onboarding.CreditOffer, error) {
	o, ok := t.st.offers[id]
	if !ok || o.PartnerID != partnerID {
		return nil, notFound("credit offer", id)
	}
	return o.Clone(), nil
}

func (t *txn) ListOffers(_ context.Context, partnerID string, f onboarding.ListOffersParams) ([]*onboarding.CreditOffer, error) {
	var list []*onboarding.CreditOffer
	for _, o := range t.st.offers {
		if o.PartnerID == partnerID && (f.CustomerID == "" || o.CustomerID == f.CustomerID) &&
			(f.Status == "" || o.Status == f.Status) && (f.IncludeHeld || !o.ReleasedAt.IsZero()) {
			list = append(list, o)
		}
	}
	slices.SortFunc(list, byID(func(o *onboarding.CreditOffer) string { return o.ID }))
	slices.Reverse(list)
	if f.StartingAfter != "" {
		list = slices.DeleteFunc(list, func(o *onboarding.CreditOffer) bool { return o.ID >= f.StartingAfter })
	}
	list = limit(list, f.Limit)
	out := make([]*onboarding.CreditOffer, len(list))
	for i, o := range list {
		out[i] = o.Clone()
	}
	return out, nil
}

func (t *txn) UpdateOffer(_ context.Context, o *onboarding.CreditOffer) error {
	st := t.st
	old, ok := st.offers[o.ID]
	if !ok || old.PartnerID != o.PartnerID {
		return notFound("credit offer", o.ID)
	}
	if old.Version != o.Version {
		return fmt.Errorf("%w: credit offer %s is at version %d, not %d", onboarding.ErrConcurrentUpdate, o.ID, old.Version, o.Version)
	}
	c := o.Clone()
	c.Version = old.Version + 1
	c.CustomerID, c.CreatedAt = old.CustomerID, old.CreatedAt
	st.offers[o.ID] = c
	o.Version = c.Version
	t.onUndo(func() { st.offers[o.ID] = old })
	return nil
}

// ---- outbox ----

func (t *txn) InsertEvent(_ context.Context, e *onboarding.Event) error {
	st := t.st
	if _, ok := st.eventByID[e.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	c := e.Clone()
	st.events = append(st.events, c)
	st.eventByID[e.ID] = c
	n := len(st.events) - 1
	t.onUndo(func() {
		st.events = st.events[:n]
		delete(st.eventByID, e.ID)
	})
	return nil
}

func (t *txn) GetEvent(_ context.Context, id string) (*onboarding.Event, error) {
	e, ok := t.st.eventByID[id]
	if !ok {
		return nil, notFound("event", id)
	}
	return e.Clone(), nil
}

func (t *txn) ListEvents(_ context.Context, partnerID string, f onboarding.ListEventsParams) ([]*onboarding.Event, error) {
	var list []*onboarding.Event
	for _, e := range t.st.events {
		if e.PartnerID == partnerID && (f.CustomerID == "" || e.CustomerID == f.CustomerID) &&
			(f.Type == "" || e.Type == f.Type) && (f.StartingAfter == "" || e.ID > f.StartingAfter) &&
			!e.CreatedAt.Before(f.CreatedFrom) {
			list = append(list, e.Clone())
		}
	}
	slices.SortFunc(list, byID(func(e *onboarding.Event) string { return e.ID }))
	return limit(list, f.Limit), nil
}

// ---- jobs ----

func (t *txn) InsertJob(_ context.Context, j *onboarding.Job) error {
	st := t.st
	if _, ok := st.jobs[j.ID]; ok {
		return &onboarding.ConflictError{Field: "id"}
	}
	st.jobs[j.ID] = j.Clone()
	t.onUndo(func() { delete(st.jobs, j.ID) })
	return nil
}

func (t *txn) GetJob(_ context.Context, id string) (*onboarding.Job, error) {
	j, ok := t.st.jobs[id]
	if !ok {
		return nil, notFound("job", id)
	}
	return j.Clone(), nil
}

func (t *txn) ListJobs(_ context.Context, f onboarding.ListJobsParams) ([]*onboarding.Job, error) {
	var list []*onboarding.Job
	for _, j := range t.st.jobs {
		if (f.Kind == "" || j.Kind == f.Kind) && (f.State == "" || j.State == f.State) &&
			(f.CustomerID == "" || j.CustomerID == f.CustomerID) {
			list = append(list, j.Clone())
		}
	}
	slices.SortFunc(list, byID(func(j *onboarding.Job) string { return j.ID }))
	return limit(list, f.Limit), nil
}

func (t *txn) ClaimJobs(_ context.Context, p onboarding.ClaimParams) ([]*onboarding.Job, error) {
	st := t.st
	var ready []*onboarding.Job
	for _, j := range st.jobs {
		if len(p.Kinds) > 0 && !slices.Contains(p.Kinds, j.Kind) {
			continue
		}
		if (j.State == onboarding.JobAvailable && !j.RunAt.After(p.Now)) ||
			(j.State == onboarding.JobRunning && j.LockedUntil.Before(p.Now)) {
			ready = append(ready, j)
		}
	}
	slices.SortFunc(ready, func(a, b *onboarding.Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	if p.Limit > 0 && len(ready) > p.Limit {
		ready = ready[:p.Limit]
	}
	out := make([]*onboarding.Job, len(ready))
	for i, j := range ready {
		old := j.Clone()
		j.State, j.LockedBy, j.LockedUntil = onboarding.JobRunning, p.Worker, p.Now.Add(p.Lease)
		j.Attempt++
		j.UpdatedAt = p.Now
		id := j.ID
		t.onUndo(func() { st.jobs[id] = old })
		out[i] = j.Clone()
	}
	return out, nil
}

// held returns the job if worker holds its lease.
func (t *txn) held(id, worker string) (*onboarding.Job, error) {
	j, ok := t.st.jobs[id]
	if !ok {
		return nil, notFound("job", id)
	}
	if j.State != onboarding.JobRunning || j.LockedBy != worker {
		return nil, fmt.Errorf("%w: job %s is not held by %s", onboarding.ErrConcurrentUpdate, id, worker)
	}
	return j, nil
}

func (t *txn) replaceJob(j *onboarding.Job, change func(j *onboarding.Job)) {
	old := j.Clone()
	change(j)
	id := j.ID
	t.onUndo(func() { t.st.jobs[id] = old })
}

func (t *txn) CompleteJob(_ context.Context, id, worker string, now time.Time) error {
	j, err := t.held(id, worker)
	if err != nil {
		return err
	}
	t.replaceJob(j, func(j *onboarding.Job) {
		j.State, j.LockedBy, j.LockedUntil = onboarding.JobCompleted, "", time.Time{}
		j.UpdatedAt, j.FinishedAt = now, now
	})
	return nil
}

func (t *txn) FailJob(_ context.Context, id, worker string, now time.Time, f onboarding.JobFailure) error {
	j, err := t.held(id, worker)
	if err != nil {
		return err
	}
	t.replaceJob(j, func(j *onboarding.Job) {
		j.LockedBy, j.LockedUntil, j.LastError, j.UpdatedAt = "", time.Time{}, f.Error, now
		if f.Dead {
			j.State, j.FinishedAt = onboarding.JobDead, now
		} else {
			j.State, j.RunAt = onboarding.JobAvailable, f.RetryAt
		}
	})
	return nil
}

func (t *txn) ReplayJob(_ context.Context, id string, now time.Time) error {
	j, ok := t.st.jobs[id]
	if !ok || j.State != onboarding.JobDead {
		return notFound("dead job", id)
	}
	t.replaceJob(j, func(j *onboarding.Job) {
		j.State, j.Attempt, j.RunAt, j.UpdatedAt, j.FinishedAt = onboarding.JobAvailable, 0, now, now, time.Time{}
	})
	return nil
}

// ---- idempotency keys ----

func (t *txn) InsertIdempotencyKey(_ context.Context, k *onboarding.IdempotencyKey) error {
	st := t.st
	pk := partnerKey{k.PartnerID, k.Key}
	old, ok := st.idempotency[pk]
	if ok && old.ExpiresAt.After(k.CreatedAt) {
		return &onboarding.ConflictError{Field: "idempotency_key"}
	}
	st.idempotency[pk] = k.Clone()
	t.onUndo(func() {
		if ok {
			st.idempotency[pk] = old
		} else {
			delete(st.idempotency, pk)
		}
	})
	return nil
}

func (t *txn) GetIdempotencyKey(_ context.Context, partnerID, key string) (*onboarding.IdempotencyKey, error) {
	k, ok := t.st.idempotency[partnerKey{partnerID, key}]
	if !ok {
		return nil, notFound("idempotency key", key)
	}
	return k.Clone(), nil
}

func (t *txn) CompleteIdempotencyKey(_ context.Context, k *onboarding.IdempotencyKey) error {
	st := t.st
	pk := partnerKey{k.PartnerID, k.Key}
	old, ok := st.idempotency[pk]
	if !ok || (!k.CreatedAt.IsZero() && !old.CreatedAt.Equal(k.CreatedAt)) {
		return notFound("idempotency key", k.Key)
	}
	c := old.Clone()
	c.Completed, c.ResponseStatus, c.ResponseBody = true, k.ResponseStatus, append([]byte(nil), k.ResponseBody...)
	st.idempotency[pk] = c
	t.onUndo(func() { st.idempotency[pk] = old })
	return nil
}

func (t *txn) DeleteIdempotencyKey(_ context.Context, partnerID, key string, createdAt time.Time) error {
	st := t.st
	pk := partnerKey{partnerID, key}
	old, ok := st.idempotency[pk]
	if !ok || (!createdAt.IsZero() && !old.CreatedAt.Equal(createdAt)) {
		return nil
	}
	delete(st.idempotency, pk)
	t.onUndo(func() { st.idempotency[pk] = old })
	return nil
}

// ---- retention ----

func (t *txn) PruneJobs(_ context.Context, before time.Time, n int) (int, error) {
	return prune(t, t.st.jobs, before, n, func(j *onboarding.Job) (time.Time, bool) {
		return j.FinishedAt, j.State == onboarding.JobCompleted
	}), nil
}

func (t *txn) PruneIdempotencyKeys(_ context.Context, before time.Time, n int) (int, error) {
	return prune(t, t.st.idempotency, before, n, func(k *onboarding.IdempotencyKey) (time.Time, bool) {
		return k.ExpiresAt, true
	}), nil
}

// prune deletes from m up to n of the entries that may go (ok) and whose time is before
// before, oldest first, and returns how many it deleted.
func prune[K comparable, V any](t *txn, m map[K]V, before time.Time, n int, at func(V) (time.Time, bool)) int {
	type victim struct {
		k  K
		at time.Time
	}
	var victims []victim
	for k, v := range m {
		if when, ok := at(v); ok && when.Before(before) {
			victims = append(victims, victim{k, when})
		}
	}
	slices.SortFunc(victims, func(a, b victim) int { return a.at.Compare(b.at) })
	victims = limit(victims, n)
	for _, v := range victims {
		old := m[v.k]
		delete(m, v.k)
		t.onUndo(func() { m[v.k] = old })
	}
	return len(victims)
}

// LockPartner implements onboarding.Queries: memstore's transactions already run one at a
// time, so there is nothing more to lock.
func (t *txn) LockPartner(context.Context, string, string) error { return nil }
