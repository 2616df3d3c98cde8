package bunstore

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/taxid"
)

func registration(external string) onboarding.CreateCustomerParams {
	return onboarding.CreateCustomerParams{ExternalID: external, CPF: taxid.GenerateCPF(nil).String(),
		CNPJ: taxid.GenerateCNPJ(nil, false).String(), Name: "Maria da Silva", Email: "maria@example.com",
		Phone: "+5511987654321", TradingName: "Padaria da Maria"}
}

// assertNoTrace checks that nothing of customer id (partner p1) was committed.
func assertNoTrace(t *testing.T, s *Store, partner, id string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.GetCustomer(ctx, partner, id)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	hist, err := s.ListTransitions(ctx, partner, id)
	require.NoError(t, err)
	assert.Empty(t, hist)
	events, err := s.ListEvents(ctx, partner, onboarding.ListEventsParams{CustomerID: id})
	require.NoError(t, err)
	assert.Empty(t, events)
	jobs, err := s.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: id})
	require.NoError(t, err)
	assert.Empty(t, jobs)
}

// countRows counts the rows of a table.
func countRows(t *testing.T, db bun.IConn, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// TestCallerTransaction registers customers inside the application's own transaction.
func TestCallerTransaction(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			db := b.open(t)
			ctx := context.Background()
			_, err := db.ExecContext(ctx, "CREATE TABLE lender_notes (note TEXT NOT NULL)")
			require.NoError(t, err)
			base := New(db, nil)
			note := func(tx bun.Tx, s string) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO lender_notes (note) VALUES (?)", s)
				return err
			}

			t.Run("commit", func(t *testing.T) {
				var id string
				err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					if err := note(tx, "before"); err != nil {
						return err
					}
					c, created, err := onboardingtest.NewService(t, base.WithTx(tx), nil).CreateCustomer(ctx, "p1", registration("commit"))
					if err != nil {
						return err
					}
					assert.True(t, created)
					id = c.ID
					// Not visible outside the caller's transaction yet.
					_, err = base.GetCustomer(ctx, "p1", id)
					assert.ErrorIs(t, err, onboarding.ErrNotFound)
					return note(tx, "after")
				})
				require.NoError(t, err)
				c, err := base.GetCustomer(ctx, "p1", id)
				require.NoError(t, err)
				assert.Equal(t, "commit", c.ExternalID)
				jobs, err := base.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: id})
				require.NoError(t, err)
				assert.Len(t, jobs, 1, "the credit analysis (no endpoint, no broker)")
				assert.Equal(t, 2, countRows(t, db, "lender_notes"))
			})

			t.Run("caller_rolls_back", func(t *testing.T) {
				var id string
				boom := errors.New("the lender's own write failed")
				err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					c, _, err := onboardingtest.NewService(t, New(tx, nil), nil).CreateCustomer(ctx, "p1", registration("rollback"))
					if err != nil {
						return err
					}
					id = c.ID
					return boom
				})
				require.ErrorIs(t, err, boom)
				assertNoTrace(t, base, "p1", id)
			})

			t.Run("unit_of_work_fails", func(t *testing.T) {
				// A failing unit of work rolls back to its savepoint only: the caller's
				// earlier and later writes commit, even after a database error that on
				// PostgreSQL would otherwise abort the whole transaction.
				c := testCustomer("p1", "uow")
				err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					if err := note(tx, "kept-1"); err != nil {
						return err
					}
					s := New(tx, nil)
					job := &onboarding.Job{ID: "job_dup", Kind: onboarding.JobPublishEvent, State: onboarding.JobAvailable,
						RunAt: c.CreatedAt, CreatedAt: c.CreatedAt, UpdatedAt: c.CreatedAt}
					err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
						if err := q.InsertCustomer(ctx, c); err != nil {
							return err
						}
						if err := q.InsertJob(ctx, job); err != nil {
							return err
						}
						return q.InsertJob(ctx, job) // unique violation
					})
					var ce *onboarding.ConflictError
					require.ErrorAs(t, err, &ce)
					assert.Equal(t, "id", ce.Field)
					_, err = s.GetCustomer(ctx, "p1", c.ID)
					assert.ErrorIs(t, err, onboarding.ErrNotFound, "the unit of work is rolled back")
					return note(tx, "kept-2")
				})
				require.NoError(t, err)
				assertNoTrace(t, base, "p1", c.ID)
				var notes []string
				rows, err := db.QueryContext(ctx, "SELECT note FROM lender_notes WHERE note LIKE 'kept-%' ORDER BY note")
				require.NoError(t, err)
				for rows.Next() {
					var n string
					require.NoError(t, rows.Scan(&n))
					notes = append(notes, n)
				}
				require.NoError(t, rows.Close())
				assert.Equal(t, []string{"kept-1", "kept-2"}, notes)
			})

			t.Run("conflict_keeps_caller_tx", func(t *testing.T) {
				p := registration("first")
				first, _, err := onboardingtest.NewService(t, base, nil).CreateCustomer(ctx, "p1", p)
				require.NoError(t, err)
				err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					s := New(tx, nil)
					dup := testCustomer("p1", "second")
					dup.CNPJ = first.CNPJ
					err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error { return q.InsertCustomer(ctx, dup) })
					var ce *onboarding.ConflictError
					require.ErrorAs(t, err, &ce)
					assert.Equal(t, "cnpj", ce.Field)
					assert.Equal(t, first.ID, ce.ExistingID)
					// The same registration again is idempotent inside the caller's tx too.
					again, created, err := onboardingtest.NewService(t, s, nil).CreateCustomer(ctx, "p1", p)
					require.NoError(t, err)
					assert.False(t, created)
					assert.Equal(t, first.ID, again.ID)
					return note(tx, "after-conflict")
				})
				require.NoError(t, err)
			})
		})
	}
}

// cancelHook cancels a context after the n-th INSERT it sees, simulating a caller that
// gives up (or a request that times out) in the middle of a unit of work.
type cancelHook struct {
	armed   atomic.Bool
	after   int32
	inserts atomic.Int32
	cancel  context.CancelFunc
}

func (h *cancelHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *cancelHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	if h.armed.Load() && strings.HasPrefix(e.Query, "INSERT") && h.inserts.Add(1) == h.after {
		h.cancel()
	}
}

// TestCrashMidTransaction checks that a unit of work interrupted halfway leaves no partial
// customer: its context cancelled after two of its five inserts, its connection killed
// (PostgreSQL), its process killed (both).
func TestCrashMidTransaction(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("context_cancelled", func(t *testing.T) {
				db := b.open(t)
				hook := &cancelHook{after: 2}
				db.AddQueryHook(hook)
				s := New(db, nil)
				svc := onboardingtest.NewService(t, s, nil)
				ctx, cancel := context.WithCancel(context.Background())
				hook.cancel = cancel
				hook.armed.Store(true)
				p := registration("cancelled")
				_, _, err := svc.CreateCustomer(ctx, "p1", p)
				require.ErrorIs(t, err, context.Canceled)
				hook.armed.Store(false)
				assert.Equal(t, 0, countRows(t, db, "customers"))
				assert.Equal(t, 0, countRows(t, db, "transitions"))
				assert.Equal(t, 0, countRows(t, db, "events"))
				assert.Equal(t, 0, countRows(t, db, "jobs"))
				// The store is fine afterwards, and the same registration goes through.
				c, created, err := svc.CreateCustomer(context.Background(), "p1", p)
				require.NoError(t, err)
				assert.True(t, created)
				assert.Equal(t, "cancelled", c.ExternalID)
			})

			t.Run("connection_killed", func(t *testing.T) {
				if b.name != "postgres" {
					t.Skip("SQLite has no server connection to kill; see process_killed")
				}
				db := b.open(t)
				s := New(db, nil)
				ctx := context.Background()
				c := testCustomer("p1", "killed")
				err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
					if err := q.InsertCustomer(ctx, c); err != nil {
						return err
					}
					var pid int
					if err := q.(*queries).db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
						return err
					}
					if _, err := admin(t).ExecContext(ctx, "SELECT pg_terminate_backend(?)", pid); err != nil {
						return err
					}
					return q.InsertTransition(ctx, &onboarding.Transition{ID: "tr_killed", PartnerID: "p1",
						CustomerID: c.ID, Event: onboarding.EventRegister, To: onboarding.StatusPendingKYC, CreatedAt: c.CreatedAt})
				})
				require.Error(t, err)
				assertNoTrace(t, s, "p1", c.ID)
				require.NoError(t, s.InsertCustomer(ctx, c), "the pool replaces the dead connection")
			})

			t.Run("process_killed", func(t *testing.T) {
				var target string
				if b.name == "postgres" {
					target = postgresSchemaDSN(t)
					db, err := OpenPostgres(target)
					require.NoError(t, err)
					require.NoError(t, Migrate(context.Background(), db))
					require.NoError(t, db.Close())
				} else {
					target = filepath.Join(t.TempDir(), "crash.db")
					db, err := OpenSQLite(target)
					require.NoError(t, err)
					require.NoError(t, Migrate(context.Background(), db))
					require.NoError(t, db.Close())
				}
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), crashEnv+"="+b.name+" "+target)
				out, err := cmd.StdoutPipe()
				require.NoError(t, err)
				cmd.Stderr = os.Stderr
				require.NoError(t, cmd.Start())
				sc := bufio.NewScanner(out)
				sawWrites := false
				for sc.Scan() {
					if sc.Text() == "wrote" {
						sawWrites = true
					}
				}
				err = cmd.Wait()
				require.True(t, sawWrites, "the child wrote before dying")
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee)
				ws, ok := ee.Sys().(syscall.WaitStatus)
				require.True(t, ok)
				require.True(t, ws.Signaled(), "the child was killed: %v", err)

				var db *bun.DB
				if b.name == "postgres" {
					db, err = OpenPostgres(target)
				} else {
					db, err = OpenSQLite(target)
				}
				require.NoError(t, err)
				defer db.Close()
				if b.name == "sqlite" {
					var ok string
					require.NoError(t, db.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&ok))
					assert.Equal(t, "ok", ok)
				}
				assertNoTrace(t, New(db, nil), "p1", "cust_crash")
				assert.Equal(t, 0, countRows(t, db, "customers"))
			})
		})
	}
}

// crashEnv tells TestCrashChild which database to crash on: "<backend> <path or DSN>".
const crashEnv = "BUNSTORE_CRASH_CHILD"

// TestCrashChild is the child process of process_killed: it writes half a unit of work
// and kills itself with SIGKILL, leaving the transaction open.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("only runs as the child of TestCrashMidTransaction/process_killed")
	}
	backendName, target, _ := strings.Cut(spec, " ")
	var db *bun.DB
	var err error
	if backendName == "postgres" {
		db, err = OpenPostgres(target)
	} else {
		db, err = OpenSQLite(target)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, nil)
	c := testCustomer("p1", "crash")
	var once sync.Once
	_ = s.InTx(context.Background(), func(ctx context.Context, q onboarding.Queries) error {
		if err := q.InsertCustomer(ctx, c); err != nil {
			return err
		}
		if err := q.InsertTransition(ctx, &onboarding.Transition{ID: "tr_crash", PartnerID: "p1", CustomerID: c.ID,
			Event: onboarding.EventRegister, To: onboarding.StatusPendingKYC, CreatedAt: c.CreatedAt}); err != nil {
			return err
		}
		once.Do(func() {
			os.Stdout.WriteString("wrote\n")
			_ = os.Stdout.Sync()
			time.Sleep(10 * time.Millisecond)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		})
		time.Sleep(time.Minute)
		return errors.New("not killed")
	})
	t.Fatal("still alive")
}
