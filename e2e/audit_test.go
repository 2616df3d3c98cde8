package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// TestAuditWaitsForTheErasure: an audit entry that quotes a customer (Redacted set) is
// written only once a unit of work holding the customer's row, as an erasure does from its
// first statement, has ended; on PostgreSQL a row lock, on SQLite the single writer. An
// entry written before the erasure is then emptied by it, one written after it finds the
// customer gone and gets its Redacted detail.
func TestAuditWaitsForTheErasure(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, db *database) {
		ctx := context.Background()
		svc := newService(t, db.open(t), onboarding.Options{})
		c := register(t, svc, newPeople(t).next("mei"))
		entry := func() onboarding.AuditEntry {
			redacted := ""
			return onboarding.AuditEntry{Actor: "operator:ana", Action: onboarding.AuditDeny, PartnerID: partner,
				CustomerID: c.ID, Detail: "denied: " + c.Name, Redacted: &redacted}
		}

		locked, release, held := make(chan struct{}), make(chan struct{}), make(chan error, 1)
		go func() {
			held <- svc.Store().InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				if err := q.LockCustomer(ctx, partner, c.ID); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		<-locked
		written := make(chan *onboarding.AuditEntry, 1)
		go func() {
			e, err := svc.RecordAudit(ctx, entry())
			assert.NoError(t, err)
			written <- e
		}()
		select {
		case <-written:
			t.Fatal("the entry was written while another unit of work held the customer")
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		require.NoError(t, <-held)
		first := <-written
		require.NotNil(t, first)
		assert.Equal(t, "denied: "+c.Name, first.Detail, "the customer is still there")

		_, err := svc.EraseCustomer(ctx, partner, c.ID, onboarding.EraseParams{Reason: "request"})
		require.NoError(t, err)
		second, err := svc.RecordAudit(ctx, entry())
		require.NoError(t, err)
		assert.Empty(t, second.Detail)
		page, err := svc.ListAudit(ctx, onboarding.ListAuditParams{CustomerID: c.ID})
		require.NoError(t, err)
		require.Len(t, page.Data, 2)
		for _, e := range page.Data {
			assert.Empty(t, e.Detail, "%s", e.ID)
		}
	})
}
