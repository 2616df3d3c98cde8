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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/onboardkit/onboarding"
)

// queueOps starts ops one after the other while the test holds the write slot, each
// queuing for it in turn, then releases the slot so that they share transactions in that
// order, and returns their errors (a panic as an error).
func queueOps(t *testing.T, s *Store, ops ...func() error) []error {
	t.Helper()
	s.groups.maxAge = time.Minute // however slow the machine
	s.writers <- struct{}{}       // hold the slot until all queue
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[i] = op()
		}()
		require.Eventually(t, func() bool { return s.groups.waiting.Load() == int32(i+1) }, 10*time.Second, time.Millisecond)
	}
	<-s.writers
	wg.Wait()
	return errs
}

// queueWriters runs n units of work through queueOps.
func queueWriters(t *testing.T, s *Store, n int, fn func(i int, ctx context.Context, q onboarding.Queries) error) []error {
	t.Helper()
	ops := make([]func() error, n)
	for i := range ops {
		ops[i] = func() error {
			return s.InTx(context.Background(), func(ctx context.Context, q onboarding.Queries) error { return fn(i, ctx, q) })
		}
	}
	return queueOps(t, s, ops...)
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

// TestGroupCommitSizeMetric: with Options.MeterProvider, each write transaction records
// how many units of work it committed: a group's that succeeded, one for a write alone,
// none for a unit of work that failed alone; a Store without group commit records
// nothing.
func TestGroupCommitSizeMetric(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	s := New(openSQLiteTest(t), &Options{MeterProvider: mp})
	const n = 5
	errs := queueWriters(t, s, n, func(i int, ctx context.Context, q onboarding.Queries) error {
		if i == 2 {
			return errors.New("refused")
		}
		return q.InsertCustomer(ctx, groupCustomer(i))
	})
	for i, err := range errs {
		if i == 2 {
			require.Error(t, err)
		} else {
			require.NoError(t, err)
		}
	}
	require.Error(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		return errors.New("refused") // alone: its group commits nothing
	}))
	require.NoError(t, s.InsertCustomer(ctx, groupCustomer(n))) // a write alone, outside any group

	sep := New(openSQLiteTest(t), &Options{MeterProvider: mp, SeparateCommits: true})
	require.NoError(t, sep.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		return q.InsertCustomer(ctx, groupCustomer(0))
	}))
	require.NoError(t, sep.InsertCustomer(ctx, groupCustomer(1)))

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	var points []metricdata.HistogramDataPoint[int64]
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == groupCommitSizeMetric {
				assert.Equal(t, "{unit_of_work}", m.Unit)
				points = append(points, m.Data.(metricdata.Histogram[int64]).DataPoints...)
			}
		}
	}
	require.Len(t, points, 1)
	p := points[0]
	assert.Equal(t, uint64(2), p.Count, "the group of the queued units of work that succeeded, the write alone")
	assert.Equal(t, int64(n), p.Sum)
	assert.Equal(t, metricdata.NewExtrema[int64](n-1), p.Max)
	assert.Equal(t, metricdata.NewExtrema[int64](1), p.Min)
	assert.Equal(t, []float64{1, 2, 4, 8, 16, 32}, p.Bounds)
	assert.Equal(t, attribute.NewSet(attribute.String("db.system", "sqlite")), p.Attributes)
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
			// A statement under a context that ended is refused.
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

// TestGroupTransactionEndedUnderAMember: when the shared transaction ends under a unit of
// work (as SQLite ends it on an I/O error), the unit of work fails, whatever it made of
// the errors, its later statements are refused rather than run outside any transaction,
// and the others of its group keep their work.
func TestGroupTransactionEndedUnderAMember(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"returns the error", "goes on", "ignores it", "silently", "a row fails"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			s := New(openSQLiteTest(t), nil)
			const n = 6
			errs := queueWriters(t, s, n, func(i int, ctx context.Context, q onboarding.Queries) error {
				if i != 3 {
					return q.InsertCustomer(ctx, groupCustomer(i))
				}
				db := q.(*queries).db
				_, err := db.ExecContext(ctx, "ROLLBACK") // the transaction ends
				require.NoError(t, err)
				if how == "silently" {
					return nil
				}
				if how == "a row fails" {
					var n int
					require.Error(t, db.QueryRowContext(ctx, "SELECT count(*) FROM no_such_table").Scan(&n))
					err := q.InsertCustomer(ctx, groupCustomer(i))
					assert.ErrorIs(t, err, errTxEnded, "refused")
					return nil // as if it went on regardless
				}
				_, err = db.ExecContext(ctx, "SELECT * FROM no_such_table")
				require.Error(t, err)
				switch how {
				case "returns the error":
					return err
				case "goes on":
					err := q.InsertCustomer(ctx, groupCustomer(i))
					assert.ErrorIs(t, err, errTxEnded, "refused")
					return err
				}
				_ = q.InsertCustomer(ctx, groupCustomer(i))
				return nil
			})
			for i, err := range errs {
				c := groupCustomer(i)
				_, gerr := s.GetCustomer(context.Background(), c.PartnerID, c.ID)
				if i == 3 {
					require.Error(t, err)
					if how != "returns the error" {
						assert.ErrorIs(t, err, errTxEnded)
					}
					assert.ErrorIs(t, gerr, onboarding.ErrNotFound, "nothing ran outside the transaction")
					continue
				}
				require.NoError(t, err, i)
				require.NoError(t, gerr, i)
			}
		})
	}
}

// TestGroupRewindReplaysEveryKindOfWrite: a rewind replays writes made through Exec (a
// customer), through Query (a claim, UPDATE … RETURNING) and through the Store's own
// methods (a single-statement write that joined the group); a write that changed nothing
// is not recorded, and a failure without writes does not rewind.
func TestGroupRewindReplaysEveryKindOfWrite(t *testing.T) {
	t.Parallel()
	s := New(openSQLiteTest(t), nil)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	require.NoError(t, s.InsertJob(ctx, &onboarding.Job{ID: "job_1", Kind: onboarding.JobCreditAnalysis, PartnerID: "p0",
		Args: []byte(`{}`), State: onboarding.JobAvailable, MaxAttempts: 3, RunAt: now, CreatedAt: now, UpdatedAt: now}))
	// In this order: a claim, a write of the Store's own, a failure without writes, a
	// failure after a write.
	errs := queueOps(t, s,
		func() error {
			return s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				jobs, err := q.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 1, Now: now, Lease: time.Minute})
				if err == nil && len(jobs) != 1 {
					err = fmt.Errorf("claimed %d jobs", len(jobs))
				}
				return err
			})
		},
		func() error { return s.InsertCustomer(ctx, groupCustomer(1)) },
		func() error {
			return s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				// changes nothing: not recorded, and its failure needs no rewind
				err := q.UpdateCustomer(ctx, groupCustomer(2))
				assert.ErrorIs(t, err, onboarding.ErrNotFound)
				return err
			})
		},
		func() error {
			return s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				if err := q.InsertCustomer(ctx, groupCustomer(3)); err != nil {
					return err
				}
				assert.Zero(t, s.groups.rewinds.Load(), "the failure without writes did not rewind")
				return errors.New("boom")
			})
		})
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Error(t, errs[2])
	require.Error(t, errs[3])
	assert.Equal(t, int64(1), s.groups.rewinds.Load())
	assert.Equal(t, int64(1), s.groups.commits.Load(), "one group")
	j, err := s.GetJob(ctx, "job_1")
	require.NoError(t, err)
	assert.Equal(t, "w1", j.LockedBy, "the claim was replayed")
	assert.Equal(t, 1, countRows(t, s.db, "customers"), "the Store's own write was replayed, the failed one's is gone")
}

// TestGroupRewindRefusesAnotherDatabase: a rewind that would replay the writes on a
// database that changed meanwhile, or whose replay does not give what the writes first
// did, fails the whole group instead.
func TestGroupRewindRefusesAnotherDatabase(t *testing.T) {
	t.Parallel()
	for _, tamper := range []string{"data_version", "rows affected"} {
		t.Run(tamper, func(t *testing.T) {
			t.Parallel()
			s := New(openSQLiteTest(t), nil)
			errs := queueWriters(t, s, 3, func(i int, ctx context.Context, q onboarding.Queries) error {
				if err := q.InsertCustomer(ctx, groupCustomer(i)); err != nil {
					return err
				}
				g := s.groups.cur // the unit of work holds the write slot
				if g.members < 2 {
					return nil
				}
				if tamper == "data_version" {
					g.version-- // as if another connection had committed
				} else {
					g.log[0].rows = 2
				}
				return errors.New("boom")
			})
			for _, err := range errs {
				require.ErrorIs(t, err, errGroupBroken)
			}
			assert.Zero(t, countRows(t, s.db, "customers"))
		})
	}
}

// TestGroupMemberContextEnds: a unit of work whose context ends once it has written, before
// it returns, is rolled back; the others of its group commit.
func TestGroupMemberContextEnds(t *testing.T) {
	t.Parallel()
	s := New(openSQLiteTest(t), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	write := func(ctx context.Context, i int, end func()) func() error {
		return func() error {
			return s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				if err := q.InsertCustomer(ctx, groupCustomer(i)); err != nil {
					return err
				}
				end()
				return nil
			})
		}
	}
	errs := queueOps(t, s, write(context.Background(), 0, func() {}), write(ctx, 1, cancel))
	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], context.Canceled)
	assert.Equal(t, 1, countRows(t, s.db, "customers"))
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

// TestGroupStress: many goroutines run units of work on one customer (read it, update it
// with its version, add a history row), a third of which fail after writing (an error or
// a panic), through group commit; at the end the customer holds exactly the updates of
// the units of work that returned nil, in order, and the history one row for each.
func TestGroupStress(t *testing.T) {
	t.Parallel()
	s := New(openSQLiteTest(t), nil)
	ctx := context.Background()
	c := groupCustomer(0)
	require.NoError(t, s.InsertCustomer(ctx, c))
	const workers, each = 16, 25
	var mu sync.Mutex
	committed := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				fail := (w+i)%3 == 0
				err := func() (err error) {
					defer func() {
						if p := recover(); p != nil {
							err = fmt.Errorf("panic: %v", p)
						}
					}()
					return s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
						cur, err := q.GetCustomer(ctx, c.PartnerID, c.ID)
						if err != nil {
							return err
						}
						cur.Name = fmt.Sprintf("update %d", cur.Version)
						if err := q.UpdateCustomer(ctx, cur); err != nil {
							return err
						}
						if err := q.InsertTransition(ctx, &onboarding.Transition{ID: fmt.Sprintf("tr_%d_%d", w, i),
							PartnerID: c.PartnerID, CustomerID: c.ID, Event: onboarding.EventRegister,
							To: onboarding.StatusPendingKYC, Actor: "stress", CreatedAt: c.CreatedAt}); err != nil {
							return err
						}
						switch {
						case fail && i%2 == 0:
							return errors.New("boom")
						case fail:
							panic("boom")
						}
						return nil
					})
				}()
				if fail {
					assert.Error(t, err)
					continue
				}
				if assert.NoError(t, err) {
					mu.Lock()
					committed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.GetCustomer(ctx, c.PartnerID, c.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(1+committed), got.Version, "one version per committed update")
	assert.Equal(t, fmt.Sprintf("update %d", committed), got.Name, "the last committed update")
	assert.Equal(t, committed, countRows(t, s.db, "transitions"))
	assert.Positive(t, s.groups.rewinds.Load())
	assert.Less(t, s.groups.commits.Load(), int64(committed), "units of work shared commits")
	t.Logf("%d committed in %d commits, %d rewinds", committed, s.groups.commits.Load(), s.groups.rewinds.Load())
}

// TestGroupBookkeepingIsNotTraced: the Store's own statements around a group (the
// transaction's check, the data_version read) do not show up as spans: with telemetry on,
// every span of a unit of work is its caller's, and none failed.
func TestGroupBookkeepingIsNotTraced(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	db := openSQLiteTest(t)
	Instrument(db, &TelemetryOptions{TracerProvider: tp, MeterProvider: sdkmetric.NewMeterProvider()})
	s := New(db, nil)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "caller")
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		return q.InsertCustomer(ctx, groupCustomer(0))
	}))
	parent.End()
	names := map[string]int{}
	for _, sp := range spans.Ended() {
		if sp.Name() == "caller" {
			continue
		}
		names[sp.Name()]++
		assert.True(t, sp.Parent().IsValid(), "%s has a parent", sp.Name())
		assert.NotEqual(t, codes.Error, sp.Status().Code, "%s", sp.Name())
	}
	assert.Equal(t, map[string]int{"BEGIN": 1, "INSERT": 1, "COMMIT": 1}, names)
}
