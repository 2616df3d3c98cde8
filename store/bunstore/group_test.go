package bunstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// queueWriters runs n units of work that queue for the write slot while the test holds it,
// then releases the slot so that they share transactions, and returns their errors.
func queueWriters(t *testing.T, s *Store, n int, fn func(i int, ctx context.Context, q onboarding.Queries) error) []error {
	t.Helper()
	s.groups.maxAge = time.Minute // however slow the machine
	s.writers <- struct{}{}       // hold the slot until all queue
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[i] = s.InTx(context.Background(), func(ctx context.Context, q onboarding.Queries) error { return fn(i, ctx, q) })
		}()
	}
	require.Eventually(t, func() bool { return s.groups.waiting.Load() == int32(n) }, 10*time.Second, time.Millisecond)
	<-s.writers
	wg.Wait()
	return errs
}

// groupCustomer is unit of work i's customer: one partner each, so that tax keys do not
// collide.
func groupCustomer(i int) *onboarding.Customer {
	return testCustomer(fmt.Sprintf("p%d", i), fmt.Sprintf("group-%d", i))
}

// TestGroupCommit: units of work that queue for the write slot commit together, each
// reading what the earlier ones wrote.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	s := New(openSQLiteTest(t), nil)
	const n = 8
	seen := make([]int, n)
	errs := queueWriters(t, s, n, func(i int, ctx context.Context, q onboarding.Queries) error {
		for j := range n { // the customers of the units of work before this one, in its group
			if _, err := q.GetCustomer(ctx, fmt.Sprintf("p%d", j), "cust_group-"+fmt.Sprint(j)); err == nil {
				seen[i]++
			}
		}
		return q.InsertCustomer(ctx, groupCustomer(i))
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, n, countRows(t, s.db, "customers"))
	assert.Less(t, s.groups.commits.Load(), int64(n), "units of work shared commits")
	assert.Zero(t, s.groups.rewinds.Load())
	total := 0
	for _, k := range seen {
		total += k
	}
	assert.Positive(t, total, "a unit of work read the customers of the earlier ones in its group")

	sep := New(openSQLiteTest(t), &Options{SeparateCommits: true})
	assert.Nil(t, sep.groups, "SeparateCommits turns group commit off")
}

// TestGroupMemberFailure: a unit of work that wrote and then failed, panicked or saw its
// context end leaves nothing, and the others of its group commit all they wrote.
func TestGroupMemberFailure(t *testing.T) {
	t.Parallel()
	s := New(openSQLiteTest(t), nil)
	const n = 12
	errBoom := errors.New("boom")
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = context.Background()
	}
	errs := queueWriters(t, s, n, func(i int, ctx context.Context, q onboarding.Queries) error {
		c := groupCustomer(i)
		if err := q.InsertCustomer(ctx, c); err != nil {
			return err
		}
		if err := q.InsertTransition(ctx, &onboarding.Transition{ID: fmt.Sprintf("tr_%d", i), PartnerID: c.PartnerID,
			CustomerID: c.ID, Event: onboarding.EventRegister, To: onboarding.StatusPendingKYC, Actor: "partner",
			CreatedAt: c.CreatedAt}); err != nil {
			return err
		}
		switch i % 4 {
		case 1:
			return errBoom
		case 2:
			panic("boom")
		case 3:
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			// A statement after the end of the context is refused; a unit of work that
			// ignored it still fails at its end.
			_, err := q.GetCustomer(cctx, c.PartnerID, c.ID)
			assert.ErrorIs(t, err, context.Canceled)
			return err
		}
		return nil
	})
	for i, err := range errs {
		c := groupCustomer(i)
		_, gerr := s.GetCustomer(context.Background(), c.PartnerID, c.ID)
		if i%4 == 0 {
			require.NoError(t, err, i)
			require.NoError(t, gerr, "unit of work %d committed", i)
			continue
		}
		require.Error(t, err, i)
		assert.ErrorIs(t, gerr, onboarding.ErrNotFound, "unit of work %d left nothing", i)
	}
	assert.Equal(t, n/4, countRows(t, s.db, "transitions"))
	assert.Positive(t, s.groups.rewinds.Load(), "a failure after earlier units of work rewound the group")
}

// TestGroupTransactionEndedUnderAMember: when a statement that failed other than on a
// constraint may have ended the shared transaction, a unit of work that failed is
// rewound, and one that went on regardless breaks the group: nobody is told their work
// committed when part of it ran outside the transaction.
func TestGroupTransactionEndedUnderAMember(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"fails", "goes on"} {
		t.Run(give, func(t *testing.T) {
			t.Parallel()
			s := New(openSQLiteTest(t), nil)
			const n = 6
			errs := queueWriters(t, s, n, func(i int, ctx context.Context, q onboarding.Queries) error {
				if i == 3 { // a transaction SQLite rolled back (as on an I/O error), then a failed statement
					db := q.(*queries).db
					_, err := db.ExecContext(ctx, "ROLLBACK")
					require.NoError(t, err)
					_, err = db.ExecContext(ctx, "SELECT * FROM no_such_table")
					require.Error(t, err)
					if give == "fails" {
						return err
					}
				}
				return q.InsertCustomer(ctx, groupCustomer(i))
			})
			if give == "fails" {
				require.Error(t, errs[3])
				for i, err := range errs {
					if i != 3 {
						require.NoError(t, err, i)
					}
				}
				assert.Equal(t, n-1, countRows(t, s.db, "customers"))
				return
			}
			broken := 0
			for _, err := range errs {
				if errors.Is(err, errGroupBroken) {
					broken++
				}
			}
			assert.Positive(t, broken)
			// Units of work that returned nil committed; the others left nothing but what
			// ran outside the transaction (the unit of work 3's insert, in autocommit).
			for i, err := range errs {
				c := groupCustomer(i)
				_, gerr := s.GetCustomer(context.Background(), c.PartnerID, c.ID)
				if err == nil {
					assert.NoError(t, gerr, i)
				} else if i != 3 {
					assert.ErrorIs(t, gerr, onboarding.ErrNotFound, i)
				}
			}
		})
	}
}

// leaveGroupOpen runs a unit of work that ends its turn while a writer seems to queue, so
// that it leaves its group open; it returns once the writer "stopped waiting", holding
// the write slot (release with <-s.writers), and the channel of the unit of work's
// result.
func leaveGroupOpen(t *testing.T, s *Store) <-chan error {
	t.Helper()
	s.groups.waiting.Add(1) // a writer queues
	done, running := make(chan error, 1), make(chan struct{})
	go func() {
		done <- s.InTx(context.Background(), func(ctx context.Context, q onboarding.Queries) error {
			close(running)
			return q.InsertCustomer(ctx, groupCustomer(0))
		})
	}()
	<-running
	s.writers <- struct{}{} // once the unit of work gave the slot back
	require.NotNil(t, s.groups.cur, "the group is left open for the queued writer")
	s.groups.waiting.Add(-1) // which stops waiting
	return done
}

// assertCommitted waits for the unit of work of leaveGroupOpen and checks its customer
// was committed.
func assertCommitted(t *testing.T, s *Store, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the group was never committed")
	}
	assert.Equal(t, 1, countRows(t, s.db, "customers"))
}

// TestGroupLeftOpenForAWriterThatLeft: a unit of work that ends its turn while a writer
// queues leaves the group open for it; if that writer stops waiting, the group is
// committed anyway.
func TestGroupLeftOpenForAWriterThatLeft(t *testing.T) {
	t.Parallel()
	s := New(openSQLiteTest(t), nil)
	done := leaveGroupOpen(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.acquire(ctx) // a writer that gives up
	require.ErrorIs(t, err, context.Canceled)
	<-s.writers
	assertCommitted(t, s, done)
}

// TestGroupClosedForWorkAlone: PurgeDeleted, which runs outside any transaction, commits
// the open group first.
func TestGroupClosedForWorkAlone(t *testing.T) {
	t.Parallel()
	s := New(openSQLiteTest(t), nil)
	done := leaveGroupOpen(t, s)
	<-s.writers
	require.NoError(t, s.PurgeDeleted(context.Background()))
	assertCommitted(t, s, done)
}
