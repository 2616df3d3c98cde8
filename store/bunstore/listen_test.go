package bunstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/taxid"
)

// Waits of the listener tests: a signal comes well within signalWithin (on a loaded CI
// machine too); quietFor is how long a test watches for a signal that must not come.
const (
	signalWithin = 10 * time.Second
	quietFor     = 500 * time.Millisecond
)

// openPostgresPair returns two pools on one new, migrated schema: two replicas of an
// application.
func openPostgresPair(t *testing.T) (a, b *bun.DB) {
	t.Helper()
	return openPostgresPairDSN(t, postgresSchemaDSN(t))
}

func openPostgresPairDSN(t *testing.T, dsn string) (a, b *bun.DB) {
	t.Helper()
	open := func() *bun.DB {
		db, err := OpenPostgres(dsn)
		require.NoError(t, err)
		db.SetMaxOpenConns(8)
		t.Cleanup(func() { _ = db.Close() }) // runs before the schema is dropped
		return db
	}
	a, b = open(), open()
	require.NoError(t, Migrate(context.Background(), a))
	return a, b
}

// requireSignal waits for a value on ch.
func requireSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "%s: the listener's channel closed", what)
	case <-time.After(signalWithin):
		t.Fatalf("%s: no signal within %s", what, signalWithin)
	}
}

// requireNoSignal checks that ch stays silent for quietFor.
func requireNoSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "%s: the listener's channel closed", what)
		t.Fatalf("%s: unexpected signal", what)
	case <-time.After(quietFor):
	}
}

func newTestJob(id string) *onboarding.Job {
	now := time.Now().UTC()
	return &onboarding.Job{ID: id, Kind: onboarding.JobPublishEvent, Args: []byte(`{}`), State: onboarding.JobAvailable,
		MaxAttempts: 3, RunAt: now, CreatedAt: now, UpdatedAt: now}
}

var errRollback = errors.New("roll back")

// TestListenJobs: a listener on one pool hears the jobs another pool (another replica)
// commits to the schema, through every path, and nothing that rolls back.
func TestListenJobs(t *testing.T) {
	t.Parallel()
	dbA, dbB := openPostgresPair(t)
	ctx := t.Context()
	listener := New(dbA, nil)
	ch, err := listener.ListenJobs(ctx)
	require.NoError(t, err)
	require.NotNil(t, ch)
	s := New(dbB, nil) // the other replica
	require.Equal(t, notifyAfter, s.auto.notify)

	// The Store's own statement, then a unit of work.
	require.NoError(t, s.InsertJob(ctx, newTestJob("job_auto")))
	requireSignal(t, ch, "InsertJob")
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		for _, id := range []string{"job_tx1", "job_tx2"} {
			if err := q.InsertJob(ctx, newTestJob(id)); err != nil {
				return err
			}
		}
		return nil
	}))
	requireSignal(t, ch, "InTx")

	// Rolled back: no signal.
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := q.InsertJob(ctx, newTestJob("job_rollback")); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	requireNoSignal(t, ch, "rolled-back InTx")
	var conflict *onboarding.ConflictError
	require.ErrorAs(t, s.InsertJob(ctx, newTestJob("job_auto")), &conflict)
	requireNoSignal(t, ch, "failed InsertJob")

	// Inside the caller's transaction the notification goes with its commit.
	tx, err := dbB.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, New(tx, nil).InsertJob(ctx, newTestJob("job_caller")))
	requireNoSignal(t, ch, "caller's transaction not committed yet")
	require.NoError(t, tx.Commit())
	requireSignal(t, ch, "caller's commit")

	tx, err = dbB.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, s.WithTx(tx).InsertJob(ctx, newTestJob("job_caller_rollback")))
	require.NoError(t, tx.Rollback())
	requireNoSignal(t, ch, "caller's rollback")

	// A unit of work rolled back to its savepoint takes its notification along; the rest
	// of the caller's transaction commits.
	tx, err = dbB.BeginTx(ctx, nil)
	require.NoError(t, err)
	err = s.WithTx(tx).InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := q.InsertJob(ctx, newTestJob("job_savepoint")); err != nil {
			return err
		}
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	_, err = tx.ExecContext(ctx, "SELECT 1")
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	requireNoSignal(t, ch, "savepoint rolled back")
	_, err = s.GetJob(ctx, "job_savepoint")
	require.ErrorIs(t, err, onboarding.ErrNotFound)
	requireNoSignal(t, ch, "reads")
}

// TestListenJobsRetriesAndReplays: FailJob signals a retry due at once, not a later one
// nor a dead job; ReplayJob signals. Both through the Store and inside a caller's
// transaction.
func TestListenJobsRetriesAndReplays(t *testing.T) {
	t.Parallel()
	dbA, dbB := openPostgresPair(t)
	ctx := t.Context()
	ch, err := New(dbA, nil).ListenJobs(ctx)
	require.NoError(t, err)
	s := New(dbB, nil)
	for _, inTx := range []bool{false, true} {
		run := func(f func(s *Store) error) error {
			if !inTx {
				return f(s)
			}
			return dbB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error { return f(New(tx, nil)) })
		}
		// One job at a time: claim it, fail it as the case says.
		id := "job_intx_" + map[bool]string{false: "no", true: "yes"}[inTx]
		require.NoError(t, s.InsertJob(ctx, newTestJob(id)))
		requireSignal(t, ch, "InsertJob")
		claim := func() time.Time {
			now := time.Now().UTC()
			jobs, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w", Limit: 1, Now: now.Add(time.Hour), Lease: time.Minute})
			require.NoError(t, err)
			require.Len(t, jobs, 1)
			require.Equal(t, id, jobs[0].ID)
			return now
		}
		now := claim()
		require.NoError(t, run(func(s *Store) error {
			return s.FailJob(ctx, id, "w", now, onboarding.JobFailure{Error: "later", RetryAt: now.Add(time.Minute)})
		}))
		requireNoSignal(t, ch, "FailJob retrying later")
		now = claim()
		require.NoError(t, run(func(s *Store) error {
			return s.FailJob(ctx, id, "w", now, onboarding.JobFailure{Error: "now", RetryAt: now})
		}))
		requireSignal(t, ch, "FailJob retrying now")
		j, err := s.GetJob(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, onboarding.JobAvailable, j.State)
		assert.Equal(t, "now", j.LastError)
		now = claim()
		require.NoError(t, run(func(s *Store) error {
			return s.FailJob(ctx, id, "w", now, onboarding.JobFailure{Error: "dead", Dead: true})
		}))
		requireNoSignal(t, ch, "FailJob dead")
		require.NoError(t, run(func(s *Store) error { return s.ReplayJob(ctx, id, now) }))
		requireSignal(t, ch, "ReplayJob")
		j, err = s.GetJob(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, onboarding.JobAvailable, j.State)
		assert.Zero(t, j.Attempt)
		// A lost lease and a job that is not dead fail as before.
		require.ErrorIs(t, run(func(s *Store) error {
			return s.FailJob(ctx, id, "w", now, onboarding.JobFailure{Error: "x", RetryAt: now})
		}), onboarding.ErrConcurrentUpdate)
		require.ErrorIs(t, run(func(s *Store) error { return s.ReplayJob(ctx, id, now) }), onboarding.ErrNotFound)
		requireNoSignal(t, ch, "failed updates")
		// A job given back by a stopping runner is due at once.
		now = claim()
		require.NoError(t, run(func(s *Store) error {
			released, err := s.ReleaseJobs(ctx, []string{id}, "w", now)
			if err == nil && len(released) != 1 {
				err = fmt.Errorf("released %v", released)
			}
			return err
		}))
		requireSignal(t, ch, "ReleaseJobs")
		require.NoError(t, s.CompleteJob(ctx, id, "w", claim()))
	}
}

// TestListenJobsSchemas: each schema has its own channel, a plain one named after it
// and a hashed one for a name that is not a plain identifier; schemas do not hear each
// other.
func TestListenJobsSchemas(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	plainA, plainB := openPostgresPair(t)

	// A schema whose name needs quoting.
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "Test Odd_" + hex.EncodeToString(b[:])
	adm := admin(t)
	_, err := adm.ExecContext(ctx, `CREATE SCHEMA `+quoteChannel(schema))
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := adm.ExecContext(context.Background(), `DROP SCHEMA `+quoteChannel(schema)+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	dsn := postgresDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// pgdriver sends SET search_path TO $1: the value is one schema name, unquoted.
	oddA, oddB := openPostgresPairDSN(t, dsn+sep+"search_path="+url.QueryEscape(schema))

	channel := func(db *bun.DB) string {
		var c string
		require.NoError(t, db.QueryRowContext(ctx, `SELECT `+jobChannelSQL).Scan(&c))
		return c
	}
	var plainSchema string
	require.NoError(t, plainA.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&plainSchema))
	assert.Equal(t, "onboarding_jobs."+plainSchema, channel(plainA))
	odd := channel(oddA)
	assert.Regexp(t, `^onboarding_jobs#[0-9a-f]{32}$`, odd)
	assert.NotEqual(t, odd, channel(plainA))

	chPlain, err := New(plainA, nil).ListenJobs(ctx)
	require.NoError(t, err)
	chOdd, err := New(oddA, nil).ListenJobs(ctx)
	require.NoError(t, err)

	require.NoError(t, New(oddB, nil).InsertJob(ctx, newTestJob("job_odd")))
	requireSignal(t, chOdd, "odd schema")
	requireNoSignal(t, chPlain, "plain schema, job in the odd one")
	tx, err := oddB.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, New(tx, nil).InsertJob(ctx, newTestJob("job_odd_tx"))) // inline pg_notify
	require.NoError(t, tx.Commit())
	requireSignal(t, chOdd, "odd schema, caller's transaction")

	require.NoError(t, New(plainB, nil).InsertJob(ctx, newTestJob("job_plain")))
	requireSignal(t, chPlain, "plain schema")
	requireNoSignal(t, chOdd, "odd schema, job in the plain one")
}

// listenerBackend returns the server process of l's connection, or 0. Its last command
// is LISTEN on the ping channel, once the LISTENs that pgdriver repeats are all done.
func listenerBackend(t *testing.T, l *jobListener) int {
	t.Helper()
	var pid int
	err := admin(t).QueryRowContext(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE query = ?`, `LISTEN "`+l.ping+`"`).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	require.NoError(t, err)
	return pid
}

// waitListenerBackend waits for listenerBackend.
func waitListenerBackend(t *testing.T, l *jobListener) (pid int) {
	t.Helper()
	require.Eventually(t, func() bool { pid = listenerBackend(t, l); return pid != 0 }, signalWithin, 5*time.Millisecond)
	return pid
}

// TestListenJobsContext: the channel closes, and the connection with it, when ctx ends.
func TestListenJobsContext(t *testing.T) {
	t.Parallel()
	db, _ := openPostgresPair(t)
	ctx, cancel := context.WithCancel(t.Context())
	l, err := New(db, nil).listen(ctx)
	require.NoError(t, err)
	waitListenerBackend(t, l)
	cancel()
	select {
	case _, ok := <-l.out:
		require.False(t, ok, "a value instead of the close")
	case <-time.After(signalWithin):
		t.Fatal("the channel did not close")
	}
	require.Eventually(t, func() bool { return listenerBackend(t, l) == 0 }, signalWithin, 20*time.Millisecond)

	// A context that has already ended.
	_, err = New(db, nil).ListenJobs(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// TestListenJobsReconnects: a listener whose connection is killed connects again, signals
// once for what it may have missed, and hears new jobs.
func TestListenJobsReconnects(t *testing.T) {
	t.Parallel()
	dbA, dbB := openPostgresPair(t)
	ctx := t.Context()
	l, err := New(dbA, nil).listen(ctx)
	require.NoError(t, err)
	pid := waitListenerBackend(t, l)
	var killed bool
	require.NoError(t, admin(t).QueryRowContext(ctx, `SELECT pg_terminate_backend(?)`, pid).Scan(&killed))
	require.True(t, killed)
	requireSignal(t, l.out, "reconnected")
	assert.NotEqual(t, pid, waitListenerBackend(t, l))
	assert.Equal(t, int32(2), l.connects.Load())
	require.NoError(t, New(dbB, nil).InsertJob(ctx, newTestJob("job_after")))
	requireSignal(t, l.out, "job after the reconnection")
}

// TestListenJobsPings: an idle connection is pinged and kept while it answers.
func TestListenJobsPings(t *testing.T) {
	t.Parallel()
	dbA, dbB := openPostgresPair(t)
	ctx := t.Context()
	l, err := New(dbA, nil).newListener(ctx)
	require.NoError(t, err)
	l.idle = 300 * time.Millisecond
	require.NoError(t, l.start(ctx))
	pid := waitListenerBackend(t, l)
	select { // five idle periods, each with its ping
	case <-l.out:
		t.Fatal("unexpected signal")
	case <-time.After(5 * l.idle):
	}
	assert.Equal(t, int32(1), l.connects.Load(), "the connection was replaced")
	assert.Equal(t, pid, listenerBackend(t, l), "the connection was replaced")
	require.NoError(t, New(dbB, nil).InsertJob(ctx, newTestJob("job_idle")))
	requireSignal(t, l.out, "job after idling")
}

// TestListenJobsUnsupported: SQLite has nothing to listen to (a nil channel, no error); a
// Store inside a transaction or on a single connection cannot listen.
func TestListenJobsUnsupported(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ch, err := New(openSQLiteTest(t), nil).ListenJobs(ctx)
	require.NoError(t, err)
	require.Nil(t, ch)

	db := openPostgresTest(t)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = New(tx, nil).ListenJobs(ctx)
	require.ErrorIs(t, err, errListenInTx)
	_, err = New(db, nil).WithTx(tx).ListenJobs(ctx)
	require.ErrorIs(t, err, errListenInTx)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	s := New(conn, nil)
	_, err = s.ListenJobs(ctx)
	require.ErrorIs(t, err, errListenNoDB)
	// A Store on a single connection notifies inline.
	require.Equal(t, notifyInline, s.auto.notify)
	require.NoError(t, s.InsertJob(ctx, newTestJob("job_conn")))
}

// claimCounter is a Store counting its claims.
type claimCounter struct {
	*Store
	claims atomic.Int32
}

func (c *claimCounter) ClaimJobBatch(ctx context.Context, p onboarding.ClaimParams) ([]*onboarding.ClaimedJob, error) {
	c.claims.Add(1)
	return c.Store.ClaimJobBatch(ctx, p)
}

// TestListenJobsEndToEnd: a worker polling once an hour analyses, within seconds, the
// customer another replica registers.
func TestListenJobsEndToEnd(t *testing.T) {
	t.Parallel()
	dbA, dbB := openPostgresPair(t)
	options := func() *onboarding.Options {
		return &onboarding.Options{Scorer: scoring.Sandbox{}, PollInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)}
	}
	worker := &claimCounter{Store: New(dbA, nil)}
	svcA := onboardingtest.NewService(t, worker, options())
	svcB := onboardingtest.NewService(t, New(dbB, nil), options())
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svcA.Run(ctx) }()
	// Run claims once after it starts listening, then sleeps: register after that.
	require.Eventually(t, func() bool { return worker.claims.Load() > 0 }, signalWithin, 5*time.Millisecond)

	for i := range 2 {
		c, created, err := svcB.CreateCustomer(ctx, "p1", onboarding.CreateCustomerParams{
			ExternalID: "ext-" + string(rune('a'+i)), CPF: taxid.GenerateCPF(nil).String(),
			CNPJ: taxid.GenerateCNPJ(nil, false).String(), Name: "Maria da Silva", Email: "maria@example.com",
			Phone: "+5511987654321", TradingName: "Padaria da Maria"})
		require.NoError(t, err)
		require.True(t, created)
		require.Eventually(t, func() bool {
			page, err := svcB.ListCreditOffers(ctx, "p1", onboarding.ListOffersParams{CustomerID: c.ID})
			return err == nil && len(page.Data) == 1
		}, signalWithin, 10*time.Millisecond, "no offer for customer %d", i)
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(signalWithin):
		t.Fatal("Run did not return")
	}
}
