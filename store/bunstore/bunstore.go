package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/store/storeutil"
)

// Options configures a Store. The zero value (or nil) gives the documented defaults.
type Options struct {
	// MaxConcurrentWrites bounds, on SQLite, how many writing units of work (InTx, and the
	// Store's own single-statement writes) run at once in this process. SQLite has a
	// single writer: the default, 1, queues writers in Go instead of in SQLite's busy
	// handler, which is much faster under contention. A negative value removes the bound
	// (writers then wait in busy_timeout). Ignored on PostgreSQL and inside a caller's
	// transaction.
	MaxConcurrentWrites int

	// SeparateCommits makes each unit of work on SQLite commit on its own. By default,
	// with one write slot (MaxConcurrentWrites 1) over a *bun.DB, units of work that queue
	// for the slot share one transaction and one commit (group commit; see the package
	// documentation), which commits two to two and a half times as many registrations a
	// second under concurrent writers. A unit of work then returns after those that
	// joined its group after it: set SeparateCommits if a unit of work may wait for
	// another. Ignored on PostgreSQL.
	SeparateCommits bool

	// SynchronousJobCommits makes the Store's own ClaimJobs, ClaimJobBatch, CompleteJob,
	// FailJob and FinishDeliveries calls wait for their commit to be flushed to disk on
	// PostgreSQL. By default they commit
	// with synchronous_commit = off: a crash of the database server may then forget the
	// last few claims or completions, which only means those jobs run again after their
	// lease expires. Jobs run at least once in any case (a worker can also crash between a
	// job's effect and its completion), so this costs no guarantee and saves a disk flush
	// per job. Everything else (and these calls inside InTx or a caller's transaction)
	// always commits synchronously.
	SynchronousJobCommits bool

	// MeterProvider receives the Store's own metric: on SQLite with group commit, the
	// histogram onboarding.store.group_commit.size, the units of work each write
	// transaction committed (a write alone, outside any group, counts one). Default
	// otel.GetMeterProvider(). The statements' timings and the connection pool's gauges
	// come from Instrument.
	MeterProvider metric.MeterProvider
}

// Store is the onboarding.Store on a bun database. Create it with New; it is safe for
// concurrent use when built on a *bun.DB.
//
// Its own query methods (outside InTx) come from storeutil.AutoCommit: each runs as one
// statement outside any unit of work (autocommit, or directly in the caller's
// transaction). Reads run on the database at once; writes go through Store.write, which
// on SQLite takes the write slot first.
type Store struct {
	autoCommit
	db      bun.IDB
	pg      bool // PostgreSQL; else SQLite
	inTx    bool // db is the caller's transaction: InTx uses savepoints
	writers chan struct{}
	groups  *groups // group commit on SQLite with one write slot; else nil
	auto    *queries
	// announcer notifies the jobs channel after commits (PostgreSQL over a *bun.DB).
	announcer *announcer
}

// autoCommit names the embedded storeutil.AutoCommit so that the field is unexported.
type autoCommit = storeutil.AutoCommit

var _ onboarding.Store = (*Store)(nil)

// New returns a Store over db: a *bun.DB (or bun.Conn) to run its own transactions, or the
// caller's bun.Tx to work inside it (see the package documentation). The dialect, SQLite
// or PostgreSQL, is read from db.Dialect(); New panics on any other. New does not touch
// the database: run Migrate first. opts may be nil.
func New(db bun.IDB, opts *Options) *Store {
	if db == nil {
		panic("bunstore: New needs a database")
	}
	if opts == nil {
		opts = &Options{}
	}
	s := &Store{db: db}
	switch name := db.Dialect().Name(); name {
	case dialect.PG:
		s.pg = true
	case dialect.SQLite:
	default:
		panic(fmt.Sprintf("bunstore: unsupported dialect %s (want sqlite or pg)", name))
	}
	switch db.(type) {
	case bun.Tx, *bun.Tx:
		s.inTx = true
	}
	if !s.pg && !s.inTx && opts.MaxConcurrentWrites >= 0 {
		n := opts.MaxConcurrentWrites
		if n == 0 {
			n = 1
		}
		s.writers = make(chan struct{}, n)
		if _, ok := db.(*bun.DB); ok && n == 1 && !opts.SeparateCommits {
			s.groups = &groups{maxAge: maxGroupAge}
			mp := opts.MeterProvider
			if mp == nil {
				mp = otel.GetMeterProvider()
			}
			s.groups.instrument(mp)
		}
	}
	s.auto = &queries{db: db, pg: s.pg, asyncJobCommits: s.pg && !s.inTx && !opts.SynchronousJobCommits,
		claimHints: s.pg && !s.inTx}
	if s.pg {
		s.auto.notify = notifyInline
		if pool, ok := db.(*bun.DB); ok {
			s.auto.notify = notifyAfter
			s.announcer = &announcer{db: pool}
		}
	}
	return s.initAutoCommit()
}

// WithTx returns a Store working inside the caller's transaction tx, with the options of
// s. It is New(tx, ...) for when the Store is built once at startup.
func (s *Store) WithTx(tx bun.Tx) *Store {
	q := &queries{db: tx, pg: s.pg}
	if s.pg {
		q.notify = notifyInline
	}
	return (&Store{db: tx, pg: s.pg, inTx: true, auto: q}).initAutoCommit()
}

// initAutoCommit sets up the Store's own query methods: reads on s.auto, writes through
// s.write.
func (s *Store) initAutoCommit() *Store {
	s.autoCommit = autoCommit{Read: storeutil.ReadFrom(s.auto), Write: s.write}
	return s
}

// SingleWriter implements onboarding.SingleWriter: true on SQLite, where one write
// transaction runs at a time.
func (s *Store) SingleWriter() bool { return !s.pg }

// DB returns the database the Store was built on.
func (s *Store) DB() bun.IDB { return s.db }

// Dialect returns "sqlite" or "pg".
func (s *Store) Dialect() dialect.Name {
	if s.pg {
		return dialect.PG
	}
	return dialect.SQLite
}

// errWriteLockTimeout is returned when a SQLite writer waited too long for its turn, which
// happens when a unit of work writes through the Store instead of through its q (a
// deadlock on any single-writer database).
var errWriteLockTimeout = errors.New("bunstore: timed out waiting for the SQLite write slot (is a unit of work writing through the Store instead of its Queries?)")

// writeLockTimeout bounds the wait for a write slot, like SQLite's busy_timeout.
const writeLockTimeout = 30 * time.Second

// acquire takes a write slot on SQLite; release gives it back.
func (s *Store) acquire(ctx context.Context) (release func(), err error) {
	release, err = s.wait(ctx)
	if err != nil && s.groups != nil && s.groups.flushing.CompareAndSwap(false, true) {
		// The holder may have left its group open for this writer, which no longer comes.
		go s.flushGroup()
	}
	return release, err
}

// wait takes a write slot, counting the writers that queue for it.
func (s *Store) wait(ctx context.Context) (release func(), err error) {
	if s.writers == nil {
		return func() {}, nil
	}
	select {
	case s.writers <- struct{}{}:
		return s.release, nil
	default:
	}
	if s.groups != nil {
		s.groups.waiting.Add(1)
		defer s.groups.waiting.Add(-1)
	}
	t := time.NewTimer(writeLockTimeout)
	defer t.Stop()
	select {
	case s.writers <- struct{}{}:
		return s.release, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return nil, errWriteLockTimeout
	}
}

// acquireAlone takes a write slot and commits the open group, if any, to write outside it.
func (s *Store) acquireAlone(ctx context.Context) (release func(), err error) {
	release, err = s.acquire(ctx)
	if err == nil {
		s.closeGroup()
	}
	return release, err
}

func (s *Store) release() { <-s.writers }

// write runs a single-statement write outside any unit of work (the storeutil.WriteFunc
// of the Store's own methods). On SQLite it takes the write slot first. Over a *bun.DB on
// PostgreSQL (notifyAfter), a job change the statement made is announced once it has
// committed, which it has when fn returns.
func (s *Store) write(ctx context.Context, fn func(q onboarding.Queries) error) error {
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	if s.groups != nil && (s.groups.cur != nil || s.groups.waiting.Load() > 0) {
		// Others are writing: join their transaction rather than commit on our own.
		return s.member(ctx, release, func(_ context.Context, q onboarding.Queries) error { return fn(q) })
	}
	defer release()
	if s.auto.notify != notifyAfter {
		err := fn(s.auto)
		if err == nil {
			s.groups.record(1) // committed alone
		}
		return err
	}
	q := *s.auto // ready is per statement: s.auto is shared
	if err := fn(&q); err != nil {
		return err
	}
	if q.ready {
		s.announcer.request()
	}
	return nil
}

// InTx implements onboarding.Store. On a *bun.DB it is a database transaction (BEGIN
// IMMEDIATE on SQLite, READ COMMITTED on PostgreSQL; compare-and-set settles races). On
// SQLite, units of work that queue for the single writer share one transaction and its
// commit (group commit, see the package documentation): InTx returns once the commit that
// holds fn's work is done. Inside the caller's bun.Tx it is a savepoint: a failure rolls
// back only the unit of work, success leaves the commit to the caller. A panic in fn rolls
// back and re-panics. A unit of work whose context ended before it finished is rolled
// back, never committed.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, q onboarding.Queries) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.inTx {
		return s.inSavepoint(ctx, fn)
	}
	if s.groups != nil {
		return s.inGroup(ctx, fn)
	}
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bunstore: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback()
		}
	}()
	q := &queries{db: tx, pg: s.pg, notify: s.auto.notify}
	if s.pg {
		q.later = &deferringConn{IConn: tx}
		q.db = q.later
	}
	if err := fn(ctx, q); err != nil {
		if q.later != nil && q.later.err != nil {
			return translate(q.later.err) // what the unit of work failed on, whatever it made of it
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.later != nil {
		if err := q.later.flush(ctx); err != nil {
			return err
		}
	}
	done = true
	if err := tx.Commit(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("bunstore: commit: %w", err)
	}
	if q.ready {
		s.announcer.request()
	}
	return nil
}

// savepointName is the savepoint of a unit of work inside the caller's transaction. Both
// databases allow the same name to nest; the innermost is the one addressed.
const savepointName = "onboarding_unit_of_work"

func (s *Store) inSavepoint(ctx context.Context, fn func(ctx context.Context, q onboarding.Queries) error) error {
	if _, err := s.db.ExecContext(ctx, "SAVEPOINT "+savepointName); err != nil {
		return fmt.Errorf("bunstore: savepoint: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// Use a context that outlives ctx: the caller's transaction must not keep
			// half a unit of work because ours was cancelled.
			rctx := context.WithoutCancel(ctx)
			_, _ = s.db.ExecContext(rctx, "ROLLBACK TO SAVEPOINT "+savepointName)
			_, _ = s.db.ExecContext(rctx, "RELEASE SAVEPOINT "+savepointName)
		}
	}()
	if err := fn(ctx, s.auto); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, "RELEASE SAVEPOINT "+savepointName); err != nil {
		return fmt.Errorf("bunstore: release savepoint: %w", err)
	}
	done = true
	return nil
}

// deferringConn is the connection of a unit of work on PostgreSQL. Statements queued on
// it (InsertIdempotencyKeyDeferred) go with the next Exec or Query, in one simple query of
// several statements and one round trip. PostgreSQL runs them in order and stops at the
// first that fails, whose error the call returns; a call's result (rows affected, rows)
// is its own statement's, the last. A failed statement aborts the transaction, so the
// queued statements are those whose failure ends the unit of work anyway.
//
// A call that carried queued statements and failed leaves its error in err, which InTx
// returns instead of committing, whatever the unit of work made of it; a key the partner
// already has (the queued insert's unique violation) is ErrKeyInUse, for the call too.
// QueryRowContext, whose error only its Scan sees, sends the queued statements on their
// own first.
//
// The carrier's placeholders are bun's positional ? (the queued statement's arguments
// come first): a carrier with numbered or named placeholders (?0, ?name) must not
// follow a queued statement.
type deferringConn struct {
	bun.IConn
	query string
	args  []any
	err   error
}

// queue adds a statement to send with the next one.
func (c *deferringConn) queue(query string, args ...any) {
	if c.query != "" {
		c.query += ";\n"
	}
	c.query += query
	c.args = append(c.args, args...)
}

// pop empties the queue and returns what it held ("" when nothing).
func (c *deferringConn) pop() (string, []any) {
	query, args := c.query, c.args
	c.query, c.args = "", nil
	return query, args
}

// take prefixes query and args with the queued statements, if any, and empties the queue.
func (c *deferringConn) take(query string, args []any) (string, []any, bool) {
	queued, qargs := c.pop()
	if queued == "" {
		return query, args, false
	}
	return queued + ";\n" + query, append(qargs, args...), true
}

// carried records the error of a call that carried queued statements, and returns it:
// ErrKeyInUse for a key the partner already has.
func (c *deferringConn) carried(err error) error {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) && pgErr.Field('C') == pgUniqueViolation && pgErr.Field('n') == "idempotency_keys_pkey" {
		err = onboarding.ErrKeyInUse // not the server's message, which quotes the key
	}
	if c.err == nil {
		c.err = err
	}
	return err
}

// flush sends the queued statements, if any, on their own, and returns the error of the
// first call that carried queued statements and failed, if any.
func (c *deferringConn) flush(ctx context.Context) error {
	if query, args := c.pop(); query != "" {
		if _, err := c.IConn.ExecContext(ctx, query, args...); err != nil {
			c.carried(err)
		}
	}
	return translate(c.err)
}

func (c *deferringConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query, args, carrying := c.take(query, args)
	res, err := c.IConn.ExecContext(ctx, query, args...)
	if err != nil && carrying {
		err = c.carried(err)
	}
	return res, err
}

func (c *deferringConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args, carrying := c.take(query, args)
	rows, err := c.IConn.QueryContext(ctx, query, args...)
	if err != nil && carrying {
		err = c.carried(err)
	}
	return rows, err
}

func (c *deferringConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	_ = c.flush(ctx) // its error is kept for InTx; the row then fails on the aborted transaction
	return c.IConn.QueryRowContext(ctx, query, args...)
}
