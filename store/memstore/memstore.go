// Package memstore is an in-memory onboarding.Store for tests and examples.
//
// It has real transactions: a unit of work runs under one lock (so units of work are
// serializable), every write records how to undo itself, and a unit of work that fails or
// panics is rolled back completely. Values are copied in and out, so callers never share
// memory with the stored state. Data lives only as long as the process.
package memstore

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/onboardkit/onboarding"
)

// Store is an in-memory onboarding.Store. The zero value is not usable; call New.
type Store struct {
	mu    sync.RWMutex
	state state
}

type partnerKey struct{ partner, key string }

type state struct {
	customers    map[string]*onboarding.Customer
	byExternalID map[partnerKey]string
	byTaxKey     map[partnerKey]string
	transitions  []*onboarding.Transition
	documents    map[string]*onboarding.Document
	offers       map[string]*onboarding.CreditOffer
	events       []*onboarding.Event
	eventByID    map[string]*onboarding.Event
	jobs         map[string]*onboarding.Job
	idempotency  map[partnerKey]*onboarding.IdempotencyKey
	endpoints    map[string]*onboarding.WebhookEndpoint
	deliveries   map[string]*onboarding.Delivery
	attempts     []*onboarding.DeliveryAttempt
}

var (
	_ onboarding.Store          = (*Store)(nil)
	_ onboarding.WebhookQueries = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{state: state{
		customers:    map[string]*onboarding.Customer{},
		byExternalID: map[partnerKey]string{},
		byTaxKey:     map[partnerKey]string{},
		documents:    map[string]*onboarding.Document{},
		offers:       map[string]*onboarding.CreditOffer{},
		eventByID:    map[string]*onboarding.Event{},
		jobs:         map[string]*onboarding.Job{},
		idempotency:  map[partnerKey]*onboarding.IdempotencyKey{},
		endpoints:    map[string]*onboarding.WebhookEndpoint{},
		deliveries:   map[string]*onboarding.Delivery{},
	}}
}

// SingleWriter implements onboarding.SingleWriter: units of work run one at a time.
func (s *Store) SingleWriter() bool { return true }

// InTx implements onboarding.Store.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, q onboarding.Queries) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &txn{st: &s.state}
	defer func() {
		if p := recover(); p != nil {
			tx.rollback()
			panic(p)
		}
		if err != nil {
			tx.rollback()
		}
	}()
	if err = fn(ctx, tx); err != nil {
		return err
	}
	// A unit of work whose context ended did not finish: like a database, do not commit.
	return ctx.Err()
}

// txn is a unit of work holding the store's lock. A nil undo list means autocommit.
type txn struct {
	st   *state
	undo []func()
}

func (t *txn) onUndo(f func()) { t.undo = append(t.undo, f) }

func (t *txn) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
}

// read runs f under the read lock; write runs f as a one-statement unit of work.
func (s *Store) read(f func(t *txn) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return f(&txn{st: &s.state})
}

func (s *Store) write(ctx context.Context, f func(t *txn) error) error {
	return s.InTx(ctx, func(_ context.Context, q onboarding.Queries) error { return f(q.(*txn)) })
}

func notFound(what, id string) error {
	return fmt.Errorf("%w: %s %s", onboarding.ErrNotFound, what, id)
}

func conflictField(taxKey string) string {
	if len(taxKey) > 5 && taxKey[:5] == "cnpj:" {
		return "cnpj"
	}
	return "cpf"
}

// ---- Store methods outside a transaction delegate to txn under the right lock. ----

// InsertCustomer implements onboarding.Queries.
func (s *Store) InsertCustomer(ctx context.Context, c *onboarding.Customer) error {
	return s.write(ctx, func(t *txn) error { return t.InsertCustomer(ctx, c) })
}

// GetCustomer implements onboarding.Queries.
func (s *Store) GetCustomer(ctx context.Context, partnerID, id string) (c *onboarding.Customer, err error) {
	err = s.read(func(t *txn) error { c, err = t.GetCustomer(ctx, partnerID, id); return err })
	return c, err
}

// FindCustomer implements onboarding.Queries.
func (s *Store) FindCustomer(ctx context.Context, partnerID, externalID, taxKey string) (c *onboarding.Customer, err error) {
	err = s.read(func(t *txn) error { c, err = t.FindCustomer(ctx, partnerID, externalID, taxKey); return err })
	return c, err
}

// ListCustomers implements onboarding.Queries.
func (s *Store) ListCustomers(ctx context.Context, partnerID string, f onboarding.ListCustomersParams) (l []*onboarding.Customer, err error) {
	err = s.read(func(t *txn) error { l, err = t.ListCustomers(ctx, partnerID, f); return err })
	return l, err
}

// UpdateCustomer implements onboarding.Queries.
func (s *Store) UpdateCustomer(ctx context.Context, c *onboarding.Customer) error {
	return s.write(ctx, func(t *txn) error { return t.UpdateCustomer(ctx, c) })
}

// InsertTransition implements onboarding.Queries.
func (s *Store) InsertTransition(ctx context.Context, tr *onboarding.Transition) error {
	return s.write(ctx, func(t *txn) error { return t.InsertTransition(ctx, tr) })
}

// ListTransitions implements onboarding.Queries.
func (s *Store) ListTransitions(ctx context.Context, partnerID, customerID string) (l []*onboarding.Transition, err error) {
	err = s.read(func(t *txn) error { l, err = t.ListTransitions(ctx, partnerID, customerID); return err })
	return l, err
}

// InsertDocument implements onboarding.Queries.
func (s *Store) InsertDocument(ctx context.Context, d *onboarding.Document) error {
	return s.write(ctx, func(t *txn) error { return t.InsertDocument(ctx, d) })
}

// GetDocument implements onboarding.Queries.
func (s *Store) GetDocument(ctx context.Context, partnerID, id string) (d *onboarding.Document, err error) {
	err = s.read(func(t *txn) error { d, err = t.GetDocument(ctx, partnerID, id); return err })
	return d, err
}

// ListDocuments implements onboarding.Queries.
func (s *Store) ListDocuments(ctx context.Context, partnerID, customerID string) (l []*onboarding.Document, err error) {
	err = s.read(func(t *txn) error { l, err = t.ListDocuments(ctx, partnerID, customerID); return err })
	return l, err
}

// UpdateDocument implements onboarding.Queries.
func (s *Store) UpdateDocument(ctx context.Context, d *onboarding.Document) error {
	return s.write(ctx, func(t *txn) error { return t.UpdateDocument(ctx, d) })
}

// DocumentKeyExists implements onboarding.Queries.
func (s *Store) DocumentKeyExists(ctx context.Context, key string) (ok bool, err error) {
	err = s.read(func(t *txn) error { ok, err = t.DocumentKeyExists(ctx, key); return err })
	return ok, err
}

// InsertOffer implements onboarding.Queries.
func (s *Store) InsertOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	return s.write(ctx, func(t *txn) error { return t.InsertOffer(ctx, o) })
}

// GetOffer implements onboarding.Queries.
func (s *Store) GetOffer(ctx context.Context, partnerID, id string) (o *onboarding.CreditOffer, err error) {
	err = s.read(func(t *txn) error { o, err = t.GetOffer(ctx, partnerID, id); return err })
	return o, err
}

// ListOffers implements onboarding.Queries.
func (s *Store) ListOffers(ctx context.Context, partnerID string, f onboarding.ListOffersParams) (l []*onboarding.CreditOffer, err error) {
	err = s.read(func(t *txn) error { l, err = t.ListOffers(ctx, partnerID, f); return err })
	return l, err
}

// UpdateOffer implements onboarding.Queries.
func (s *Store) UpdateOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	return s.write(ctx, func(t *txn) error { return t.UpdateOffer(ctx, o) })
}

// InsertEvent implements onboarding.Queries.
func (s *Store) InsertEvent(ctx context.Context, e *onboarding.Event) error {
	return s.write(ctx, func(t *txn) error { return t.InsertEvent(ctx, e) })
}

// GetEvent implements onboarding.Queries.
func (s *Store) GetEvent(ctx context.Context, id string) (e *onboarding.Event, err error) {
	err = s.read(func(t *txn) error { e, err = t.GetEvent(ctx, id); return err })
	return e, err
}

// ListEvents implements onboarding.Queries.
func (s *Store) ListEvents(ctx context.Context, partnerID string, f onboarding.ListEventsParams) (l []*onboarding.Event, err error) {
	err = s.read(func(t *txn) error { l, err = t.ListEvents(ctx, partnerID, f); return err })
	return l, err
}

// InsertJob implements onboarding.Queries.
func (s *Store) InsertJob(ctx context.Context, j *onboarding.Job) error {
	return s.write(ctx, func(t *txn) error { return t.InsertJob(ctx, j) })
}

// GetJob implements onboarding.Queries.
func (s *Store) GetJob(ctx context.Context, id string) (j *onboarding.Job, err error) {
	err = s.read(func(t *txn) error { j, err = t.GetJob(ctx, id); return err })
	return j, err
}

// ListJobs implements onboarding.Queries.
func (s *Store) ListJobs(ctx context.Context, f onboarding.ListJobsParams) (l []*onboarding.Job, err error) {
	err = s.read(func(t *txn) error { l, err = t.ListJobs(ctx, f); return err })
	return l, err
}

// ClaimJobs implements onboarding.Queries.
func (s *Store) ClaimJobs(ctx context.Context, p onboarding.ClaimParams) (l []*onboarding.Job, err error) {
	err = s.write(ctx, func(t *txn) error { l, err = t.ClaimJobs(ctx, p); return err })
	return l, err
}

// CompleteJob implements onboarding.Queries.
func (s *Store) CompleteJob(ctx context.Context, id, worker string, now time.Time) error {
	return s.write(ctx, func(t *txn) error { return t.CompleteJob(ctx, id, worker, now) })
}

// FailJob implements onboarding.Queries.
func (s *Store) FailJob(ctx context.Context, id, worker string, now time.Time, f onboarding.JobFailure) error {
	return s.write(ctx, func(t *txn) error { return t.FailJob(ctx, id, worker, now, f) })
}

// ReplayJob implements onboarding.Queries.
func (s *Store) ReplayJob(ctx context.Context, id string, now time.Time) error {
	return s.write(ctx, func(t *txn) error { return t.ReplayJob(ctx, id, now) })
}

// InsertIdempotencyKey implements onboarding.Queries.
func (s *Store) InsertIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	return s.write(ctx, func(t *txn) error { return t.InsertIdempotencyKey(ctx, k) })
}

// GetIdempotencyKey implements onboarding.Queries.
func (s *Store) GetIdempotencyKey(ctx context.Context, partnerID, key string) (k *onboarding.IdempotencyKey, err error) {
	err = s.read(func(t *txn) error { k, err = t.GetIdempotencyKey(ctx, partnerID, key); return err })
	return k, err
}

// CompleteIdempotencyKey implements onboarding.Queries.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	return s.write(ctx, func(t *txn) error { return t.CompleteIdempotencyKey(ctx, k) })
}

// DeleteIdempotencyKey implements onboarding.Queries.
func (s *Store) DeleteIdempotencyKey(ctx context.Context, partnerID, key string, createdAt time.Time) error {
	return s.write(ctx, func(t *txn) error { return t.DeleteIdempotencyKey(ctx, partnerID, key, createdAt) })
}

// limit cuts a list to n items (n <= 0: no limit).
func limit[T any](list []T, n int) []T {
	if n > 0 && len(list) > n {
		return list[:n]
	}
	return list
}

func byID[T any](id func(T) string) func(a, b T) int {
	return func(a, b T) int { return cmp.Compare(id(a), id(b)) }
}

// PruneJobs implements onboarding.Queries.
func (s *Store) PruneJobs(ctx context.Context, before time.Time, limit int) (n int, err error) {
	err = s.write(ctx, func(t *txn) error { n, err = t.PruneJobs(ctx, before, limit); return err })
	return n, err
}

// PruneIdempotencyKeys implements onboarding.Queries.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (n int, err error) {
	err = s.write(ctx, func(t *txn) error { n, err = t.PruneIdempotencyKeys(ctx, before, limit); return err })
	return n, err
}
