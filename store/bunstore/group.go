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

	"github.com/onboardkit/onboarding"
)

// Group commit on SQLite.
//
// SQLite has one writer, so a Store over a SQLite *bun.DB runs one writing unit of work at
// a time (the write slot). When writers queue for the slot, the unit of work that holds it
// does not commit: it leaves its transaction open for the next in line, which runs in the
// same transaction, and so on, until no writer is waiting, the group holds
// maxGroupMembers units of work or it is maxGroupAge old. The last one commits for all;
// each InTx returns only once the commit that holds its work has happened, with that
// commit's error. Units of work that share a transaction share its pages in the
// write-ahead log, its commit and the checkpoints: under concurrent writers a SQLite Store
// commits about twice as many registrations a second.
//
// What a caller sees does not change. A unit of work reads what the earlier ones of its
// group wrote (they ran before it, and commit with it). One that fails, panics or whose
// context ends after it wrote must leave nothing behind, without costing the others
// their work and without a savepoint per unit of work (SQLite copies every page a
// savepoint touches to a journal of its own, which costs more than the commits saved).
// So each group records the write statements of its units of work, values and all, and
// such a failure rewinds the group: the transaction is rolled back and the statements of
// the earlier units of work run again, in order, in a new one on the same connection.
// They give the same results: the database is the one they first ran on (PRAGMA
// data_version shows that no other connection committed meanwhile, else the group
// fails), statements carry their values (times and IDs come from Go), and each replayed
// statement must affect as many rows as the first time. A statement that fails other than
// on a constraint (an I/O error, which may have rolled the transaction back) rewinds the
// group too. Statements of a group run without the unit of work's cancellation (SQLite
// answers an interrupted write by rolling back the whole transaction); a unit of work
// whose context ended stops at its next statement.
//
// When a rewind cannot restore the group, every unit of work of the group gets the error
// and none of it is committed, as when the commit fails.

const (
	// maxGroupMembers bounds the units of work in one transaction.
	maxGroupMembers = 32
	// maxGroupAge bounds how long the first unit of work of a group waits for its commit
	// while others join.
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
}

// group is one shared transaction.
type group struct {
	conn    bun.Conn // the connection of tx, and of the rewinds
	own     bool     // conn is the group's, closed when it ends
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
	// rewind is set when the group's transaction may no longer hold what it should: a
	// statement failed other than on a constraint, or a write's outcome is unknown
	// (QueryRowContext reports errors at Scan).
	rewind bool
}

var _ bun.IConn = (*recorder)(nil)

// isRead reports whether query only reads.
func isRead(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// failed notes a failed statement: a constraint leaves the transaction as it was, any
// other failure may have rolled it back.
func (r *recorder) failed(err error) {
	if !strings.Contains(err.Error(), "constraint failed") {
		r.rewind = true
	}
}

func (r *recorder) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
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
			r.rewind = true
			return res, err
		}
		r.log = append(r.log, recorded{query: query, args: keep(args), exec: true, rows: n})
	}
	return res, nil
}

func (r *recorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := ctx.Err(); err != nil {
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
	if ctx.Err() != nil {
		return r.g.tx.QueryRowContext(ctx, query, args...) // refused before it runs
	}
	if !isRead(query) {
		// Whether it wrote is known only at Scan: rewind in any case.
		r.log = append(r.log, recorded{query: query, args: keep(args)})
		r.rewind = true
	}
	return r.g.tx.QueryRowContext(context.WithoutCancel(ctx), query, args...)
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

// member runs fn in the open group, or begins one, and returns once the group's commit
// holds fn's work (or fn failed). The caller holds the write slot, which member releases.
func (s *Store) member(ctx context.Context, release func(), fn func(ctx context.Context, q onboarding.Queries) error) (err error) {
	g, err := s.joinGroup(ctx)
	if err != nil {
		release()
		return err
	}
	rec := &recorder{g: g}
	joined := false
	defer func() {
		if !joined && s.groups.cur == g && (len(rec.log) > 0 || rec.rewind) {
			s.rewind(g) // what fn wrote must go; a panic goes on after
		}
		s.endTurn(g)
		release()
		// Even a unit of work that failed returns only when its group ends: what it saw
		// (such as the row its insert conflicted with) is then committed, as it would be
		// had the others committed on their own first.
		<-g.done
		if joined {
			err = g.err
		}
	}()
	if err := fn(ctx, &queries{db: rec, notify: s.auto.notify}); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.rewind && !s.alive(g) {
		// fn went on after a failed statement that may have ended the transaction: what
		// it wrote since ran outside it, and no rewind can tell which.
		s.breakGroup(g, errors.New("the transaction ended under the unit of work"))
		return g.err
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
	bg := context.WithoutCancel(ctx)
	g := &group{started: time.Now(), done: make(chan struct{})}
	switch db := s.db.(type) {
	case *bun.DB:
		conn, err := db.Conn(bg)
		if err != nil {
			return nil, fmt.Errorf("bunstore: begin: %w", err)
		}
		g.conn, g.own = conn, true
	case bun.Conn:
		g.conn = db
	}
	if err := s.begin(bg, g); err != nil {
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
	if err := tx.QueryRowContext(ctx, "PRAGMA data_version").Scan(&g.version); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("bunstore: begin: %w", err)
	}
	return nil
}

// close gives back g's connection.
func (g *group) close() {
	if g.own {
		_ = g.conn.Close()
	}
}

// alive reports whether g's transaction is still open: BEGIN fails inside one.
func (s *Store) alive(g *group) bool {
	if _, err := g.tx.ExecContext(context.Background(), "BEGIN"); err == nil {
		_, _ = g.tx.ExecContext(context.Background(), "ROLLBACK")
		return false
	}
	return true
}

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
	release, err := s.wait(context.Background())
	if err != nil {
		return
	}
	s.closeGroup()
	release()
}
