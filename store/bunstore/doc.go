// Package bunstore is the onboarding.Store on github.com/uptrace/bun, for SQLite (the
// embedded default: pure Go, no cgo) and PostgreSQL (production, any number of replicas).
//
// # Opening and migrating
//
// SQLite, in a file next to the application:
//
//	db, err := bunstore.OpenSQLite("/var/lib/lender/onboarding.db")
//	if err != nil { ... }
//	defer db.Close()
//	if err := bunstore.Migrate(ctx, db); err != nil { ... }
//	svc := onboarding.New(bunstore.New(db, nil), nil)
//
// PostgreSQL:
//
//	db, err := bunstore.OpenPostgres("postgres://user:pass@host:5432/lender?sslmode=verify-full")
//	...
//	if err := bunstore.Migrate(ctx, db); err != nil { ... }
//	svc := onboarding.New(bunstore.New(db, nil), nil)
//
// A *bun.DB opened some other way works too, as long as its dialect is sqlitedialect or
// pgdialect (New panics otherwise). For SQLite, open it with the pragmas OpenSQLite sets
// (WAL, busy_timeout, foreign_keys, synchronous NORMAL, immediate transactions): foreign
// keys in particular are off by default in SQLite.
//
// The schema lives in embedded, versioned SQL migrations (migrations/sqlite and
// migrations/postgres) run by bun/migrate, recorded in the table onboarding_migrations so
// they never mix with the application's own bun migrations. Migrate applies the missing
// ones and is forward-only; New never migrates, so deploying a schema change is an explicit
// step. On PostgreSQL concurrent Migrate calls (replicas starting together) are serialized
// by an advisory lock; on SQLite run Migrate from one process.
//
// # Inside the application's transaction
//
// New accepts any bun.IDB. Given a *bun.DB (or a bun.Conn), each InTx is a database
// transaction of its own. Given the application's bun.Tx, the Store works inside it:
//
//	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
//		// ... the lender's own writes through tx ...
//		svc := onboarding.New(bunstore.New(tx, nil), opts)
//		_, _, err := svc.CreateCustomer(ctx, partnerID, params)
//		return err // the customer, its history, event and jobs commit or roll back with tx
//	})
//
// In that mode InTx runs its unit of work under a SAVEPOINT of the caller's transaction:
// when the unit of work fails, only its own writes are rolled back (ROLLBACK TO SAVEPOINT)
// and the caller's transaction stays usable, on PostgreSQL too, where an error otherwise
// aborts the whole transaction; when it succeeds the savepoint is released and its writes
// become durable only when the caller commits. Nothing is visible to other connections
// before that. A bun.Tx is one connection: a Store bound to it must not be used from
// several goroutines at once, and background workers (Service.Run) belong on a Store over
// the *bun.DB.
//
// # Semantics
//
// Every rule of onboarding.Queries is enforced by the database where it can be: unique
// (partner_id, external_id) and (partner_id, tax_key) on customers, foreign keys from
// documents and offers to their customer (and its partner), CHECK constraints on every
// status. Database errors are translated once, here: a unique violation is a
// *onboarding.ConflictError naming the field, a missing row is onboarding.ErrNotFound, a
// lost compare-and-set (the version column of customers and offers, a job lease) is
// onboarding.ErrConcurrentUpdate.
//
// The Store also implements onboarding.WebhookQueries: endpoints (their signing secrets are
// stored as they are, so protect the database and its backups like the secrets
// themselves), deliveries and the delivery log, which outlive a deleted endpoint.
//
// Jobs are claimed in one statement: on PostgreSQL WITH picked AS MATERIALIZED (SELECT id …
// ORDER BY run_at, id LIMIT n FOR UPDATE SKIP LOCKED) UPDATE jobs … FROM picked RETURNING
// …, so any number of workers share the queue without blocking each other or taking the
// same job; on SQLite, which has a single writer, UPDATE … WHERE id IN (SELECT …) RETURNING
// … is already exclusive. A partial index holds only the live (available and running)
// jobs. On PostgreSQL the Store's own ClaimJobs, CompleteJob and FailJob commit without
// waiting for the disk flush (see Options.SynchronousJobCommits): losing one in a server
// crash only makes a job run again, which at-least-once delivery allows anyway.
//
// # Waking workers across replicas
//
// On PostgreSQL the Store implements onboarding.JobListener, so Service.Run wakes as soon
// as any replica commits work instead of at its next poll. Committing a new job
// (InsertJob), a replayed one (ReplayJob) or a retry due at once (FailJob) notifies the
// LISTEN/NOTIFY channel of the jobs table's schema: "onboarding_jobs." and the current_schema() (a
// hash of it when it is not a short lower-case identifier), so that schemas, such as
// several deployments in one database, do not wake each other. A Store over a *bun.DB
// sends the NOTIFY after the commit, as a transaction of its own, coalescing the commits
// made while one is on its way: a NOTIFY inside the application's transaction would take
// PostgreSQL's global notification lock until that transaction's commit is flushed,
// serializing all notifying writers. A Store inside the caller's transaction (or over a
// bun.Conn), whose commit it does not see, calls pg_notify in the same statement as the
// job: the notification goes out when the caller commits (which then takes that lock),
// and never if it rolls back.
//
// ListenJobs opens a connection of its own (pgdriver.Listener; other drivers cannot
// listen) and returns once LISTEN is in effect. It pings the connection through the
// pool after 30 s of silence and replaces it, with backoff, when it fails or does not
// answer; meanwhile Run polls, and after reconnecting the listener wakes Run once for
// what it may have missed. The channel closes when the context ends. Notification is
// best effort: polling (onboarding.Options.PollInterval) remains the safety net for lost
// notifications, retries coming due and leases expiring. All replicas should use the
// same search_path. On SQLite ListenJobs returns a nil channel: Run wakes on its own
// process's work and polls for the rest.
//
// SQLite allows one writer at a time. Rather than let concurrent writers spin in SQLite's
// busy handler (which collapses throughput under contention), a Store over a SQLite *bun.DB
// admits one writing unit of work at a time in the process (Options.MaxConcurrentWrites),
// while reads run in parallel on the other connections of the pool (WAL mode). Writers
// that queue meanwhile do not each commit: the unit of work that holds the writer leaves
// its transaction open for the next in line, and the last of the queue commits for all
// (group commit, up to 32 units of work or 20 ms). Each InTx still returns only once its
// group has ended, and a unit of work that fails leaves nothing behind without costing
// the others theirs: the group records its write statements and, after such a failure,
// rolls back and runs the others' statements again (group.go tells how, and what makes
// that exact). Under 16 concurrent registrations this commits about two and a half times
// as many a second as a commit per unit of work (BenchmarkGroupCommit). A unit of work returns after
// those that joined its group after it, so it must not wait for another;
// Options.SeparateCommits turns it off. The histogram onboarding.store.group_commit.size
// (Options.MeterProvider) records the units of work of each commit.
//
// Times are stored in UTC with microsecond precision: TIMESTAMPTZ on PostgreSQL, INTEGER
// unix microseconds on SQLite (exact, and sorted correctly).
package bunstore
