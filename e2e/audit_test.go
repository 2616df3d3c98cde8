package e2e

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/bunstore"
)

// pausingStore pauses the first LockCustomer after arm, once it has the row, until
// release: an erasure stopped right after its first statement.
type pausingStore struct {
	onboarding.Store
	armed   atomic.Bool
	paused  chan struct{}
	release func()
	resume  chan struct{}
}

func newPausingStore(t *testing.T, s onboarding.Store) *pausingStore {
	p := &pausingStore{Store: s, paused: make(chan struct{}), resume: make(chan struct{})}
	p.release = sync.OnceFunc(func() { close(p.resume) })
	t.Cleanup(p.release) // a failed test must not leave the erasure hanging
	return p
}

func (p *pausingStore) InTx(ctx context.Context, fn func(context.Context, onboarding.Queries) error) error {
	return p.Store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		return fn(ctx, pausingQueries{Queries: q, p: p})
	})
}

type pausingQueries struct {
	onboarding.Queries
	p *pausingStore
}

func (q pausingQueries) LockCustomer(ctx context.Context, partnerID, customerID string) error {
	err := q.Queries.LockCustomer(ctx, partnerID, customerID)
	if q.p.armed.CompareAndSwap(true, false) {
		close(q.p.paused)
		<-q.p.resume
	}
	return err
}

// TestAuditWaitsForTheErasure: an audit entry that may quote its customer
// (RecordCustomerAudit) is written only after a unit of work holding the customer's row
// has ended (on PostgreSQL a row lock, on SQLite the single writer). Held by an erasure,
// the entry then finds the customer gone and gets its redacted detail; held by anything
// else, it keeps its detail, which the erasure later empties.
func TestAuditWaitsForTheErasure(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		ctx := context.Background()
		store := newPausingStore(t, bunstore.New(db.open(t), nil))
		svc := onboardingtest.NewService(t, store, &onboarding.Options{Logger: discard})
		c := register(t, svc, newPeople(t).next("mei"))
		reason := "denied: " + c.Name
		entry := onboarding.AuditEntry{Actor: "operator:ana", Action: onboarding.AuditDeny, PartnerID: partner,
			CustomerID: c.ID, Detail: reason}
		record := func() <-chan *onboarding.AuditEntry {
			written := make(chan *onboarding.AuditEntry, 1)
			go func() {
				e, err := svc.RecordCustomerAudit(ctx, entry, "")
				assert.NoError(t, err)
				written <- e
			}()
			return written
		}
		waits := func(written <-chan *onboarding.AuditEntry) {
			t.Helper()
			select {
			case <-written:
				t.Fatal("the entry was written while another unit of work held the customer")
			case <-time.After(300 * time.Millisecond):
			}
		}

		// Another unit of work holds the customer, and lets it go.
		locked, release := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			held <- store.Store.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				if err := q.LockCustomer(ctx, partner, c.ID); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		select {
		case <-locked:
		case err := <-held:
			t.Fatalf("lock: %v", err)
		}
		written := record()
		waits(written)
		close(release)
		require.NoError(t, <-held)
		first := <-written
		require.NotNil(t, first)
		assert.Equal(t, reason, first.Detail, "the customer is still there")

		// An erasure holds it, and erases it.
		store.armed.Store(true)
		erased := make(chan error, 1)
		go func() {
			_, err := svc.EraseCustomer(ctx, partner, c.ID, onboarding.EraseParams{Reason: "request"})
			erased <- err
		}()
		select {
		case <-store.paused:
		case err := <-erased:
			t.Fatalf("the erasure did not stop at its lock: %v", err)
		}
		written = record()
		waits(written)
		store.release()
		require.NoError(t, <-erased)
		second := <-written
		require.NotNil(t, second)
		assert.Empty(t, second.Detail, "the customer is gone: the redacted detail")

		page, err := svc.ListAudit(ctx, onboarding.ListAuditParams{CustomerID: c.ID})
		require.NoError(t, err)
		require.Len(t, page.Data, 2)
		for _, e := range page.Data {
			assert.Empty(t, e.Detail, "%s", e.ID)
		}
	})
}
