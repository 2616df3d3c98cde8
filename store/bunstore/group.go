package bunstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/onboardkit/onboarding"
)

// Group commit on SQLite.
//
// SQLite has one writer, so a Store over a SQLite *bun.DB runs one writing unit of work at
// a time (the write slot). When writers queue for the slot, the unit of work that holds it
// does not commit: it leaves its transaction open for the next in line, which runs in the
// same transaction, and so on, until no writer is waiting, the group holds
// maxGroupMembers units of work or has been open maxGroupAge. The last one commits for
// all; each InTx returns only once its group has ended, with the commit's error. Units of
// work that share a transaction share its pages in the write-ahead log, its commit and
// the checkpoints (BenchmarkGroupCommit).
//
// What a caller sees is what it would see had the units of work committed one by one in
// the order they ran. A unit of work reads what the earlier ones of its group wrote: they
// commit with it, and it returns only after that commit, even when it failed (a row its
// insert conflicted with is then committed). The differences are in time: a unit of work
// returns after the units of work that joined its group after it, so fn must not wait
// for another unit of work, and a slow fn delays the others' return.
//
// A unit of work that fails, panics or whose context ends must leave nothing behind,
// without costing the others their work and without a savepoint per unit of work (SQLite
// copies every page a savepoint touches to a journal of its own, which costs more than
// the commits saved). So each group records the write statements of its units of work,
// values and all, and when one that wrote fails, the group is rewound: the transaction is
// rolled back and the statements of the earlier units of work run again, in order, in a
// new one on the same connection. They give the same results: the database is the one
// they first ran on (PRAGMA data_version shows that no other connection committed
// meanwhile, else the group fails), statements carry their values (times and IDs come
// from Go, and the schema has no AUTOINCREMENT, trigger or SQL clock), and each replayed
// Exec must affect as many rows as the first time. A plain INSERT, UPDATE or DELETE run by
// Exec that changed no row is not recorded; writes through Query and QueryRow always are.
//
// SQLite rolls the whole transaction back on some errors (I/O, a full disk, no memory).
// After a statement fails other than on a constraint, and after every unit of work, the
// Store checks that the transaction is still open (BEGIN fails inside one); if it is not,
// the unit of work's later statements are refused, it fails, and the group is rewound. An
// error that only reading a result's later rows reveals is seen at the end of the unit of
// work: statements the unit of work ran in between ran outside the transaction, as they
// would have without group commit.
// Statements run without the unit of work's cancellation (SQLite answers an interrupted
// write by rolling back the whole transaction); a unit of work whose context ended stops
// at its next statement.
//
// When a rewind cannot restore the group, or the commit fails, every unit of work of the
// group gets the error and none of it is committed.

const (
	// maxGroupMembers bounds the units of work in one transaction.
	maxGroupMembers = 32
	// maxGroupAge bounds how long a group takes in units of work that queue (a unit of
	// work that began before the bound still joins and runs to its end).
	maxGroupAge = 20 * time.Millisecond
)

// errGroupBroken wraps the error that ended a shared transaction without its commit.
var errGroupBroken = errors.New("bunstore: the transaction shared with other units of work failed")

// groups is the group commit state of a SQLite Store. cur is guarded by the write slot.
type groups struct {
	waiting atomic.Int32 // writers queued for the write slot
	cur     *group
	maxAge  time.Duration // maxGroupAge (tests change it)
	commits atomic.Int64  // transactions committed (tests)
	rewinds atomic.Int64  // rewinds (tests)
	// flushing is set while a flushGroup is pending (one is enough).
	flushing atomic.Bool
	// size records each commit's units of work (Options.MeterProvider); nil when the
	// provider refused it.
	size     metric.Int64Histogram
	sizeAttr metric.RecordOption
}

// groupCommitSizeMetric is the name of the histogram of the units of work per commit.
const groupCommitSizeMetric = "onboarding.store.group_commit.size"

// groupSizeBuckets are the boundaries of onboarding.store.group_commit.size, up to
// maxGroupMembers.
var groupSizeBuckets = []float64{1, 2, 4, 8, 16, 32}

// instrument makes the group_commit.size histogram of mp. The metric is optional: a
// provider refusing the instrument leaves it unrecorded.
func (gs *groups) instrument(mp metric.MeterProvider) {
	h, err := mp.Meter(instrumentationName).Int64Histogram(groupCommitSizeMetric,
		metric.WithUnit("{unit_of_work}"),
		metric.WithDescription("Units of work committed together in one SQLite transaction (group commit)."),
		metric.WithExplicitBucketBoundaries(groupSizeBuckets...))
	if err != nil {
		return
	}
	gs.size, gs.sizeAttr = h, metric.WithAttributeSet(attribute.NewSet(attrDBSystem.String("sqlite")))
}

// record records a commit of n units of work; gs may be nil (no group commit).
func (gs *groups) record(n int) {
	if gs != nil && gs.size != nil {
		gs.size.Record(context.Background(), int64(n), gs.sizeAttr)
	}
}

// group is one shared transaction.
type group struct {
	conn    bun.Conn // the connection of tx, and of the rewinds
	tx      bun.Tx
	version int64 // PRAGMA data_version when the group began
	started time.Time
	members int           // units of work in tx
	log     []recorded    // their writes, in order
	done    chan struct{} // closed when tx has committed or rolled back
	err     error         // why tx did not commit, once done is closed
}

// recorded is a recorded write of a unit of work.
type recorded struct {
	query string
	args  []any
	exec  bool  // run by ExecContext (else QueryContext or QueryRowContext)
	rows  int64 // rows affected (exec)
}

// recorder is the connection of a unit of work in a group: it runs statements on the
// group's transaction, without the unit of work's cancellation, and records the writes.
type recorder struct {
	g   *group
	log []recorded
	// ended is set when the group's transaction was found ended under the unit of work
	// (SQLite rolls a transaction back on some errors: I/O, a full disk, no memory): later
	// statements are refused, as they would run outside any transaction.
	ended error
}

var _ bun.IConn = (*recorder)(nil)

// errTxEnded is what a unit of work gets when the transaction ended under it.
var errTxEnded = errors.New("bunstore: the transaction ended under the unit of work")

// plainWrite reports whether query is one INSERT, UPDATE or DELETE without RETURNING,
// whose rows affected (0: it changed nothing) the driver reports exactly.
func plainWrite(query string) bool {
	q := strings.ToUpper(strings.TrimLeft(query, " \t\r\n"))
	for _, verb := range []string{"INSERT", "UPDATE", "DELETE"} {
		if strings.HasPrefix(q, verb) {
			return !strings.Contains(q, "RETURNING") && !strings.Contains(strings.TrimRight(q, "; \t\r\n"), ";")
		}
	}
	return false
}

// isRead reports whether query only reads.
func isRead(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// check sets ended if the group's transaction has ended: inside one, BEGIN fails with
// "cannot start a transaction within a transaction". It goes to database/sql directly,
// not through bun's query hooks: it is bookkeeping, not a statement of the unit of work.
func (r *recorder) check() bool {
	if r.ended != nil {
		return false
	}
	_, err := r.g.tx.Tx.ExecContext(context.Background(), "BEGIN")
	switch {
	case err == nil:
		_, _ = r.g.tx.Tx.ExecContext(context.Background(), "ROLLBACK")
		r.ended = errTxEnded
		return false
	case !strings.Contains(err.Error(), "within a transaction"):
		r.ended = fmt.Errorf("%w: %w", errTxEnded, err)
		return false
	}
	return true
}

// failed notes a failed statement: a constraint leaves the transaction as it was; after
// any other failure, check whether the transaction survived.
func (r *recorder) failed(err error) {
	if !strings.Contains(err.Error(), "constraint failed") {
		r.check()
	}
}

// refuse returns why a statement may not run: the context ended, or the transaction.
func (r *recorder) refuse(ctx context.Context) error {
	if r.ended != nil {
		return r.ended
	}
	return ctx.Err()
}

func (r *recorder) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := r.refuse(ctx); err != nil {
		return nil, err
	}
	res, err := r.g.tx.ExecContext(context.WithoutCancel(ctx), query, args...)
	if err != nil {
		r.failed(err)
		return res, err
	}
	if !isRead(query) {
		n, err := res.RowsAffected()
		if err != nil {
			r.failed(err)
			return res, err
		}
		if n > 0 || !plainWrite(query) { // a plain write that changed nothing changes nothing again
			r.log = append(r.log, recorded{query: query, args: keep(args), exec: true, rows: n})
		}
	}
	return res, nil
}

func (r *recorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := r.refuse(ctx); err != nil {
		return nil, err
	}
	rows, err := r.g.tx.QueryContext(context.WithoutCancel(ctx), query, args...)
	if err != nil {
		r.failed(err)
		return rows, err
	}
	if !isRead(query) {
		r.log = append(r.log, recorded{query: query, args: keep(args)})
	}
	return rows, nil
}

func (r *recorder) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := r.refuse(ctx); err != nil {
		// Refused before it runs: database/sql answers a done context at once.
		done, cancel := context.WithCancelCause(ctx)
		cancel(err)
		return r.g.tx.QueryRowContext(done, query, args...)
	}
	row := r.g.tx.QueryRowContext(context.WithoutCancel(ctx), query, args...)
	if err := row.Err(); err != nil { // the driver ran the statement's first step already
		r.failed(err)
		return row
	}
	if !isRead(query) {
		r.log = append(r.log, recorded{query: query, args: keep(args)})
	}
	return row
}

// keep copies the byte slices of args, which their owner may reuse before a rewind.
func keep(args []any) []any {
	copied := false
	for i, a := range args {
		b, ok := a.([]byte)
		if !ok {
			continue
		}
		if !copied {
			args, copied = slices.Clone(args), true
		}
		args[i] = bytes.Clone(b)
	}
	return args
}

// inGroup runs fn as a member of the open group, or of a new one, holding the write slot.
func (s *Store) inGroup(ctx context.Context, fn func(ctx context.Context, q onboarding.Queries) error) error {
	release, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	return s.member(ctx, release, fn)
}

// member runs fn in the open group, or begins one, and returns once the group has ended:
// committed with fn's work, or without it when fn failed. The caller holds the write slot,
// which member releases.
//
// A unit of work runs after the earlier ones of its group, and they wait for it: fn must
// not wait for another unit of work (which may be queued behind it), and a slow fn delays
// the commit of the others.
func (s *Store) member(ctx context.Context, release func(), fn func(ctx context.Context, q onboarding.Queries) error) (err error) {
	g, err := s.joinGroup(ctx)
	if err != nil {
		release()
		return err
	}
	rec := &recorder{g: g}
	joined := false
	defer func() {
		if !joined && s.groups.cur == g && (len(rec.log) > 0 || !rec.check()) {
			s.rewind(g) // what fn wrote must go; a panic goes on after
		}
		s.endTurn(g)
		release()
		// Even a unit of work that failed returns only when its group ends: what it saw
		// (such as the row its insert conflicted with) is then committed, as it would be
		// had the others committed on their own first; or the group failed, which is
		// then the error.
		<-g.done
		switch {
		case joined:
			err = g.err
		case g.err != nil && err != nil:
			err = fmt.Errorf("%w (the unit of work had failed: %v)", g.err, err)
		}
	}()
	if err := fn(ctx, &queries{db: rec, notify: s.auto.notify}); err != nil {
		if rec.ended != nil && !errors.Is(err, errTxEnded) {
			return fmt.Errorf("%w (the unit of work failed with: %v)", rec.ended, err)
		}
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Whatever fn made of the errors it met, the transaction must still be the group's:
	// else the next unit of work would run outside any.
	if !rec.check() {
		return rec.ended
	}
	g.log = append(g.log, rec.log...)
	g.members++
	joined = true
	return nil
}

// joinGroup returns the open group, or begins one. The caller holds the write slot.
func (s *Store) joinGroup(ctx context.Context) (*group, error) {
	if g := s.groups.cur; g != nil {
		return g, nil
	}
	// The group outlives the unit of work that begins it: database/sql would roll the
	// transaction back when that context ends.
	conn, err := s.db.(*bun.DB).Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("bunstore: begin: %w", err)
	}
	g := &group{conn: conn, started: time.Now(), done: make(chan struct{})}
	if err := s.begin(context.WithoutCancel(ctx), g); err != nil {
		g.close()
		return nil, err
	}
	s.groups.cur = g
	return g, nil
}

// begin starts g's transaction and reads the connection's data_version.
func (s *Store) begin(ctx context.Context, g *group) error {
	tx, err := g.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("bunstore: begin: %w", err)
	}
	g.tx = tx
	if err := tx.Tx.QueryRowContext(ctx, "PRAGMA data_version").Scan(&g.version); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("bunstore: begin: %w", err)
	}
	return nil
}

// close gives back g's connection.
func (g *group) close() { _ = g.conn.Close() }

// rewind rolls g's transaction back and runs the writes of its members again in a new
// one; if it cannot, the group is broken. The caller holds the write slot.
func (s *Store) rewind(g *group) {
	s.groups.rewinds.Add(1)
	ctx := context.Background()
	was := g.version
	_ = g.tx.Rollback()
	if err := s.begin(ctx, g); err != nil {
		s.finish(g, fmt.Errorf("%w: %w", errGroupBroken, err))
		return
	}
	if g.version != was {
		s.breakGroup(g, errors.New("another connection wrote to the database meanwhile"))
		return
	}
	for _, st := range g.log {
		if err := s.replay(ctx, g.tx, st); err != nil {
			s.breakGroup(g, err)
			return
		}
	}
}

// replay runs st again and checks it affects what it did.
func (s *Store) replay(ctx context.Context, tx bun.Tx, st recorded) error {
	if !st.exec {
		rows, err := tx.QueryContext(ctx, st.query, st.args...)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		_ = rows.Close()
		return rows.Err()
	}
	res, err := tx.ExecContext(ctx, st.query, st.args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != st.rows {
		return fmt.Errorf("a write replayed affected %d rows, not %d", n, st.rows)
	}
	return nil
}

// breakGroup rolls g back and fails its members. The caller holds the write slot.
func (s *Store) breakGroup(g *group, cause error) {
	if s.groups.cur != g {
		return
	}
	_ = g.tx.Rollback()
	s.finish(g, fmt.Errorf("%w: %w", errGroupBroken, cause))
}

// endTurn commits g unless another writer is waiting to join it and it has room. The
// caller holds the write slot.
func (s *Store) endTurn(g *group) {
	if s.groups.cur != g {
		return // already committed or broken
	}
	if s.groups.waiting.Load() > 0 && g.members < maxGroupMembers && time.Since(g.started) < s.groups.maxAge {
		return // the next writer joins it
	}
	s.commitGroup(g)
}

// commitGroup commits g (or rolls it back when it holds nothing). The caller holds the
// write slot.
func (s *Store) commitGroup(g *group) {
	if g.members == 0 {
		_ = g.tx.Rollback()
		s.finish(g, nil)
		return
	}
	var err error
	if cerr := g.tx.Commit(); cerr != nil {
		err = fmt.Errorf("bunstore: commit: %w", cerr)
	} else {
		s.groups.commits.Add(1)
		s.groups.record(g.members)
	}
	s.finish(g, err)
}

// finish ends g with err (nil: committed). The caller holds the write slot.
func (s *Store) finish(g *group, err error) {
	g.err = err
	g.log = nil
	g.close()
	s.groups.cur = nil
	close(g.done)
}

// closeGroup commits the open group, if any, so that the caller, who holds the write
// slot, can write outside it.
func (s *Store) closeGroup() {
	if s.groups != nil && s.groups.cur != nil {
		s.commitGroup(s.groups.cur)
	}
}

// flushGroup commits the open group once the write slot is free. A writer that stopped
// waiting for the slot runs it: the holder may have left the group open for it.
func (s *Store) flushGroup() {
	for {
		if release, err := s.wait(context.Background()); err == nil {
			// Cleared once the slot is held, before the commit: a writer that gives up
			// later, for a group opened after this commit, starts a flush of its own.
			s.groups.flushing.Store(false)
			s.closeGroup()
			release()
			return
		}
	}
}
