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

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/store/storeutil"
)

// Store is an in-memory onboarding.Store. The zero value is not usable; call New.
//
// Its query methods outside InTx come from storeutil.AutoCommit: a read runs under the
// read lock, a write is a unit of work of its own.
type Store struct {
	autoCommit
	mu    sync.RWMutex
	state state
	// reader serves the reads outside a unit of work (reads never touch its undo list);
	// runlock is mu.RUnlock, bound once so that a read allocates nothing.
	reader  *txn
	runlock func()
}

// autoCommit names the embedded storeutil.AutoCommit so that the field is unexported.
type autoCommit = storeutil.AutoCommit

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
	partnerAPI   partnerAPIState
	audit        []*onboarding.AuditEntry
}

var (
	_ onboarding.Store          = (*Store)(nil)
	_ onboarding.WebhookQueries = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	s := &Store{state: state{
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
		partnerAPI:   newPartnerAPIState(),
	}}
	s.reader = &txn{st: &s.state}
	s.runlock = s.mu.RUnlock
	s.autoCommit = autoCommit{Read: s.read, Write: storeutil.WriteInTx(s.InTx)}
	return s
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

// read serves one read outside any unit of work, under the read lock.
func (s *Store) read(context.Context) (onboarding.Queries, func()) {
	s.mu.RLock()
	return s.reader, s.runlock
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
