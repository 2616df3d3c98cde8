package bunstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/onboardkit/onboarding"
)

var _ onboarding.JobListener = (*Store)(nil)

// jobChannelSQL is the PostgreSQL expression naming the LISTEN/NOTIFY channel of the jobs
// table in the current schema: "onboarding_jobs." followed by current_schema() when that
// is a plain lower-case identifier of up to 47 characters (a channel name has at most 63
// bytes), else "onboarding_jobs#" and 32 hex digits of its SHA-256. Each statement
// evaluates it on its own connection, so the channel follows the search_path: a schema
// per test, or several deployments in one database, do not hear each other's jobs.
const jobChannelSQL = `(CASE WHEN current_schema() ~ '^[a-z_][a-z0-9_]{0,46}$' THEN 'onboarding_jobs.' || current_schema()
ELSE 'onboarding_jobs#' || left(encode(sha256(convert_to(coalesce(current_schema(), ''), 'UTF8')), 'hex'), 32) END)`

// notifyCTE starts a statement that notifies the jobs channel once, with an empty
// payload. It is a CTE (materialized, as pg_notify is volatile) that the statement reads
// as its row source, because pgdriver's Exec rejects statements returning rows. The
// notification is transactional: sent on commit, dropped on rollback (of a savepoint too),
// and PostgreSQL delivers identical notifications of one transaction once, so a
// transaction enqueuing several jobs wakes each listener once.
const notifyCTE = `WITH notify AS (SELECT pg_notify(` + jobChannelSQL + `, '')) `

// notifyUpdate turns "UPDATE jobs SET … WHERE …" into the same update notifying the jobs
// channel. The one-row notify source is joined to the matched rows; when none matches, the
// planner's nested loop usually never reads it, and at worst a listener wakes for nothing.
func notifyUpdate(query string) string {
	const where = "\nWHERE "
	if !strings.HasPrefix(query, "UPDATE jobs SET ") || strings.Count(query, where) != 1 {
		panic("bunstore: notifyUpdate: unexpected statement " + query)
	}
	return notifyCTE + strings.Replace(query, where, "\nFROM notify WHERE ", 1)
}

// notifyMode is how the queries announce a job change that workers may act on at once (a
// new job, a replayed one, a retry due now) to the listeners of the jobs channel.
type notifyMode uint8

const (
	// notifyNone: SQLite, nothing to notify.
	notifyNone notifyMode = iota
	// notifyInline: pg_notify in the statement itself, delivered when the transaction
	// commits. For Stores inside the caller's transaction (whose commit the Store never
	// sees) and over a bun.Conn. It costs no round trip, but PostgreSQL serializes the
	// commits of all notifying transactions of the cluster on a global lock held through
	// their WAL flush, which defeats group commit under concurrent writers.
	notifyInline
	// notifyAfter: the queries set ready, and once the transaction (or the Store's own
	// statement) has committed, the Store's announcer sends a NOTIFY of its own. For
	// Stores over a *bun.DB: the application's transactions never take the lock.
	notifyAfter
)

// jobsReady records that the queries made a change to announce.
func (q *queries) jobsReady() {
	if q.notify == notifyAfter {
		q.ready = true
	}
}

// announcer sends NOTIFYs on the jobs channel after commits, from at most one goroutine
// at a time, which exits when it has nothing left to send: the requests made while a
// NOTIFY is on its way are coalesced into the next one. Each NOTIFY is a transaction of
// its own, committed without waiting for the WAL flush (losing one in a server crash
// only delays a job until a worker polls). Notifying is best effort: on an error the
// workers' polling finds the jobs.
type announcer struct {
	db *bun.DB

	mu          sync.Mutex
	busy, again bool

	notifySQL string // resolved on first use; read and written by the running goroutine only
}

// request asks for a NOTIFY after the current moment, without waiting for it.
func (a *announcer) request() {
	a.mu.Lock()
	if a.busy {
		a.again = true
		a.mu.Unlock()
		return
	}
	a.busy = true
	a.mu.Unlock()
	go a.loop()
}

func (a *announcer) loop() {
	for {
		a.send()
		a.mu.Lock()
		if !a.again {
			a.busy = false
			a.mu.Unlock()
			return
		}
		a.again = false
		a.mu.Unlock()
	}
}

// announceTimeout bounds one NOTIFY, the wait for a pooled connection included.
const announceTimeout = 10 * time.Second

func (a *announcer) send() {
	ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
	defer cancel()
	if a.notifySQL == "" {
		// NOTIFY takes a channel name, not an expression: resolve it once. The pool's
		// connections share the search_path of the DSN.
		var channel string
		if err := a.db.QueryRowContext(ctx, `SELECT `+jobChannelSQL).Scan(&channel); err != nil {
			return
		}
		a.notifySQL = asyncCommitPrefix + `NOTIFY ` + quoteChannel(channel)
	}
	_, _ = a.db.ExecContext(ctx, a.notifySQL)
}

// quoteChannel quotes a channel name as an SQL identifier.
func quoteChannel(channel string) string {
	return `"` + strings.ReplaceAll(channel, `"`, `""`) + `"`
}

// Listener timing. A connection that received nothing for listenIdle is pinged (through
// the pool, on a channel of its own); one that does not hear its ping within another
// listenIdle, or fails, is replaced, waiting between attempts from listenBackoffMin,
// doubling up to listenBackoffMax. listenHandshake bounds the wait for the first ping of
// a new connection.
const (
	listenIdle       = 30 * time.Second
	listenHandshake  = 10 * time.Second
	listenBackoffMin = 250 * time.Millisecond
	listenBackoffMax = 30 * time.Second
)

var (
	errListenInTx   = errors.New("bunstore: ListenJobs on a Store inside a transaction: nothing to listen for (run workers on a Store over the *bun.DB)")
	errListenNoDB   = errors.New("bunstore: ListenJobs needs a Store over a *bun.DB (it opens a connection of its own)")
	errListenDriver = errors.New("bunstore: ListenJobs needs the driver/pgdriver PostgreSQL driver")
	errPingLost     = errors.New("bunstore: the job listener's connection did not answer its ping")
)

// ListenJobs implements onboarding.JobListener, so that Service.Run wakes as soon as any
// process commits a job to the same schema instead of at its next poll.
//
// On PostgreSQL it opens a connection of its own (pgdriver.Listener) and LISTENs on the
// jobs channel of the Store's schema (InsertJob, ReplayJob and a FailJob retrying at
// once notify it on commit). Notifications are coalesced into a channel buffered for one
// value: a value means "there may be jobs to claim". ListenJobs returns once LISTEN is in
// effect, or the error that prevented it (Run then polls only). Afterwards the connection
// is pinged (a NOTIFY through the pool on a channel of its own) after 30 s of silence; one
// that fails, or does not hear its ping within another 30 s, is replaced, with backoff
// from 250 ms to 30 s between attempts, for as long as ctx lasts: meanwhile Run polls,
// and a new connection sends one value, for the notifications it may have missed. The
// channel is never closed on a failure, only when ctx ends, and the connection with it.
//
// On SQLite (one host, and usually one process, writes) it returns a nil channel and no
// error: a nil channel never delivers, so Run wakes on the work of its own process and
// polls for the rest. On a Store inside a caller's transaction (New(tx) or WithTx), over
// a bun.Conn, or over another PostgreSQL driver than pgdriver, it returns an error.
func (s *Store) ListenJobs(ctx context.Context) (<-chan struct{}, error) {
	l, err := s.listen(ctx)
	if l == nil {
		return nil, err
	}
	return l.out, nil
}

// listen starts the listener: nil, nil on SQLite.
func (s *Store) listen(ctx context.Context) (*jobListener, error) {
	l, err := s.newListener(ctx)
	if l == nil || err != nil {
		return nil, err
	}
	if err := l.start(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// newListener returns a listener on the jobs channel of the Store's schema, not started.
func (s *Store) newListener(ctx context.Context) (*jobListener, error) {
	if !s.pg {
		return nil, nil
	}
	if s.inTx {
		return nil, errListenInTx
	}
	db, ok := s.db.(*bun.DB)
	if !ok {
		return nil, errListenNoDB
	}
	if _, ok := db.Driver().(pgdriver.Driver); !ok {
		return nil, errListenDriver // pgdriver.NewListener would panic
	}
	var channel string
	if err := db.QueryRowContext(ctx, `SELECT `+jobChannelSQL).Scan(&channel); err != nil {
		return nil, fmt.Errorf("bunstore: listen for jobs: %w", translate(err))
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &jobListener{db: db, channel: channel, ping: "onboarding_ping." + hex.EncodeToString(b[:]),
		out: make(chan struct{}, 1), idle: listenIdle, handshake: listenHandshake,
		backoffMin: listenBackoffMin, backoffMax: listenBackoffMax}, nil
}

// jobListener forwards the notifications of one jobs channel to out.
type jobListener struct {
	db      *bun.DB
	channel string // the jobs channel of the Store's schema
	ping    string // this listener's own channel, for liveness pings
	out     chan struct{}

	idle, handshake, backoffMin, backoffMax time.Duration

	connects atomic.Int32 // connections established, for tests
}

// start connects and then runs the listener in a goroutine until ctx ends.
func (l *jobListener) start(ctx context.Context) error {
	c, err := l.connect(ctx)
	if err != nil {
		return fmt.Errorf("bunstore: listen for jobs: %w", err)
	}
	go l.run(ctx, c)
	return nil
}

// signal tells the reader of out that there may be jobs, unless it was already told.
func (l *jobListener) signal() {
	select {
	case l.out <- struct{}{}:
	default:
	}
}

// listenConn is one pgdriver.Listener and its connection, closed when ctx ends: reads
// wait on the socket, not on ctx.
type listenConn struct {
	ln   *pgdriver.Listener
	stop func() bool
}

func (c *listenConn) close() {
	c.stop()
	_ = c.ln.Close()
}

// connect opens a connection listening on the jobs channel and on the ping channel, and
// pings until a ping comes back: the server runs a connection's commands in order, so
// then both LISTENs are in effect, and the connection works. (Listen only sends the
// LISTEN commands: a ping sent before the server ran them is lost, hence the retries.)
func (l *jobListener) connect(ctx context.Context) (*listenConn, error) {
	ln := pgdriver.NewListener(l.db)
	c := &listenConn{ln: ln, stop: context.AfterFunc(ctx, func() { _ = ln.Close() })}
	err := ln.Listen(ctx, l.channel, l.ping)
	deadline := time.Now().Add(l.handshake)
	for wait := 20 * time.Millisecond; err == nil; wait = min(2*wait, time.Second) {
		if time.Until(deadline) <= 0 {
			err = errPingLost
			break
		}
		if err = l.sendPing(ctx); err != nil {
			break
		}
		var heard bool
		if heard, err = l.await(ctx, ln, min(wait, time.Until(deadline))); heard {
			l.connects.Add(1)
			return c, nil
		}
	}
	c.close()
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	return nil, err
}

// await waits up to d for a ping on ln, forwarding the job notifications it receives
// meanwhile. It reports a timeout as nothing heard, no error.
func (l *jobListener) await(ctx context.Context, ln *pgdriver.Listener, d time.Duration) (heard bool, err error) {
	deadline := time.Now().Add(d)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return false, nil
		}
		channel, _, err := ln.ReceiveTimeout(ctx, wait)
		if isTimeout(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch channel {
		case l.ping:
			return true, nil
		case l.channel:
			l.signal()
		}
	}
}

// isTimeout tells whether err is a read timing out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sendPing notifies the ping channel through the pool.
func (l *jobListener) sendPing(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.handshake)
	defer cancel()
	// Not pgdriver.Notify: bun.Ident would split the name at its dot.
	_, err := l.db.ExecContext(ctx, `NOTIFY `+quoteChannel(l.ping))
	return err
}

// run forwards notifications until ctx ends, replacing the connection when it fails.
func (l *jobListener) run(ctx context.Context, c *listenConn) {
	defer close(l.out)
	pinged := false // a ping is on its way: the connection must hear it within idle
	for {
		channel, _, err := c.ln.ReceiveTimeout(ctx, l.idle)
		if err == nil {
			pinged = false // any message shows the connection is alive
			if channel == l.channel {
				l.signal()
			}
			continue
		}
		if ctx.Err() != nil {
			c.close()
			return
		}
		if isTimeout(err) && !pinged {
			if l.sendPing(ctx) == nil {
				pinged = true
				continue
			}
		}
		// The connection failed, or did not hear its ping: replace it.
		c.close()
		if c = l.reconnect(ctx); c == nil {
			return
		}
		pinged = false
		l.signal() // notifications sent while disconnected are lost
	}
}

// reconnect connects again, with backoff, until it succeeds (or returns nil when ctx ends).
func (l *jobListener) reconnect(ctx context.Context) *listenConn {
	delay := l.backoffMin
	for {
		t := time.NewTimer(delay + mrand.N(delay/2+1)) // jitter: replicas do not reconnect in step
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if c, err := l.connect(ctx); err == nil {
			return c
		}
		delay = min(2*delay, l.backoffMax)
	}
}
