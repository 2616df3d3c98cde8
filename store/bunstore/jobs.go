package bunstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

const jobCols = `id, kind, partner_id, customer_id, args, state, attempt, max_attempts, run_at, locked_by, locked_until, last_error, created_at, updated_at, finished_at, trace_parent`

// jobColsQualified is jobCols prefixed with the table name (for UPDATE … FROM … RETURNING).
var jobColsQualified = "jobs." + strings.ReplaceAll(jobCols, ", ", ", jobs.")

func scanJob(r rowScanner) (*onboarding.Job, error) {
	j := &onboarding.Job{}
	var kind, state string
	var args []byte
	if err := r.Scan(&j.ID, &kind, &j.PartnerID, &j.CustomerID, bytesCol{&args}, &state, &j.Attempt, &j.MaxAttempts,
		timeCol{&j.RunAt}, &j.LockedBy, timeCol{&j.LockedUntil}, &j.LastError, timeCol{&j.CreatedAt},
		timeCol{&j.UpdatedAt}, timeCol{&j.FinishedAt}, nullText{&j.TraceParent}); err != nil {
		return nil, err
	}
	j.Kind, j.State, j.Args = onboarding.JobKind(kind), onboarding.JobState(state), args
	return j, nil
}

const insertJobSQL = `INSERT INTO jobs (` + jobCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// insertJobNotifySQL is insertJobSQL notifying the jobs channel in the same statement (see
// notifyCTE), at no extra round trip.
const insertJobNotifySQL = notifyCTE + `INSERT INTO jobs (` + jobCols + `) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM notify`

// InsertJob implements onboarding.Queries. On PostgreSQL the job is announced on the
// schema's jobs channel once committed (see notifyMode and Store.ListenJobs).
func (q *queries) InsertJob(ctx context.Context, j *onboarding.Job) error {
	query := insertJobSQL
	if q.notify == notifyInline {
		query = insertJobNotifySQL
	}
	_, err := q.db.ExecContext(ctx, query, j.ID, string(j.Kind), j.PartnerID, j.CustomerID, textArg(j.Args),
		string(j.State), j.Attempt, j.MaxAttempts, q.ts(j.RunAt), j.LockedBy, q.tsNull(j.LockedUntil), freeText(j.LastError),
		q.ts(j.CreatedAt), q.ts(j.UpdatedAt), q.tsNull(j.FinishedAt), nullIfEmpty(j.TraceParent))
	if err != nil {
		return translate(err)
	}
	q.jobsReady()
	return nil
}

// GetJob implements onboarding.Queries.
func (q *queries) GetJob(ctx context.Context, id string) (*onboarding.Job, error) {
	v, err := scanJob(q.db.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	return found(v, err, "job", id)
}

// ListJobs implements onboarding.Queries: oldest (lowest ID) first.
func (q *queries) ListJobs(ctx context.Context, f onboarding.ListJobsParams) ([]*onboarding.Job, error) {
	s := selectFrom(jobCols, `jobs`).
		where(f.CustomerID != "", `customer_id = ? AND customer_id <> ''`, f.CustomerID). // the index's predicate, said for SQLite
		where(f.Kind != "", `kind = ?`, string(f.Kind)).
		where(f.State != "", `state = ?`, string(f.State))
	return all(ctx, q, s, `id`, f.Limit, scanJob)
}

// claimableSQL selects the IDs of claimable jobs. The first conjunct repeats the predicate
// of the partial index jobs_claim_idx word for word, so both planners use it.
const claimableSQL = `SELECT id FROM jobs
WHERE state IN ('available', 'running')
AND ((state = 'available' AND run_at <= ?) OR (state = 'running' AND locked_until < ?))`

// ClaimJobs implements onboarding.Queries in one statement. PostgreSQL: the candidate rows
// are locked FOR UPDATE SKIP LOCKED in a materialized CTE, so concurrent claimers skip
// each other's rows instead of waiting or double-claiming. SQLite: the statement runs under
// the database's single write lock, so it is exclusive as it is.
func (q *queries) ClaimJobs(ctx context.Context, p onboarding.ClaimParams) ([]*onboarding.Job, error) {
	query, args := q.claimSQL(p, "")
	rows, err := q.db.QueryContext(ctx, q.claimPrefix(query), args...)
	jobs, err := collect(rows, err, scanJob)
	if err != nil {
		return nil, err
	}
	sortClaimed(jobs, func(j *onboarding.Job) *onboarding.Job { return j })
	return jobs, nil
}

// claimSQL returns the claim statement of p and its arguments. With a non-empty then
// (PostgreSQL only), the claiming UPDATE is the CTE "claimed" and then is the statement
// that reads it.
func (q *queries) claimSQL(p onboarding.ClaimParams, then string) (string, []any) {
	now := q.ts(p.Now)
	args := make([]any, 0, 8+len(p.Kinds))
	var pick strings.Builder
	pick.WriteString(claimableSQL)
	args = append(args, now, now)
	if len(p.Kinds) > 0 {
		pick.WriteString(` AND kind IN (` + placeholders(len(p.Kinds)) + `)`)
		for _, k := range p.Kinds {
			args = append(args, string(k))
		}
	}
	pick.WriteString(` ORDER BY run_at, id`)
	if p.Limit > 0 {
		pick.WriteString(` LIMIT ?`)
		args = append(args, p.Limit)
	}
	var query string
	if q.pg {
		pick.WriteString(` FOR UPDATE SKIP LOCKED`)
		update := `UPDATE jobs SET state = 'running', locked_by = ?, locked_until = ?, attempt = jobs.attempt + 1, updated_at = ?
FROM picked WHERE jobs.id = picked.id
RETURNING ` + jobColsQualified
		if then == "" {
			query = `WITH picked AS MATERIALIZED (` + pick.String() + `)
` + update
		} else {
			query = `WITH picked AS MATERIALIZED (` + pick.String() + `), claimed AS (` + update + `)
` + then
		}
	} else {
		query = `UPDATE jobs SET state = 'running', locked_by = ?, locked_until = ?, attempt = attempt + 1, updated_at = ?
WHERE id IN (` + pick.String() + `)
RETURNING ` + jobCols
	}
	// Placeholders bind in text order: PostgreSQL's CTE comes before the SET values,
	// SQLite's subquery after them.
	set := []any{p.Worker, q.ts(p.Now.Add(p.Lease)), now}
	if q.pg {
		args = append(args, set...)
	} else {
		args = append(set, args...)
	}
	return query, args
}

// sortClaimed puts claimed jobs back in claim order: RETURNING has none.
func sortClaimed[T any](list []T, job func(T) *onboarding.Job) {
	slices.SortFunc(list, func(x, y T) int {
		a, b := job(x), job(y)
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// asyncCommitPrefix makes the rest of a simple query commit without waiting for the WAL
// flush (see Options.SynchronousJobCommits).
const asyncCommitPrefix = "SET LOCAL synchronous_commit = off; "

// jobSQL returns query, prefixed for an asynchronous commit when the queries allow it.
func (q *queries) jobSQL(query string) string {
	if q.asyncJobCommits {
		return asyncCommitPrefix + query
	}
	return query
}

// claimHintsPrefix makes the planner walk jobs_claim_idx in order and stop after the
// claim's LIMIT. Right after a burst of inserts the table's statistics may still say it
// is nearly empty; the planner then prefers to read every due job through a bitmap and
// sort them all, which costs each claim time in proportion to the backlog.
const claimHintsPrefix = "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off; "

// claimPrefix returns a claim statement with its prefixes: the planner hints and the
// asynchronous commit, when the queries allow them (autocommit statements only: SET
// LOCAL then lasts for the one statement).
func (q *queries) claimPrefix(query string) string {
	if q.claimHints {
		query = claimHintsPrefix + query
	}
	return q.jobSQL(query)
}

// leaseLost explains a job update that matched no row: no such job, or not held by worker.
func (q *queries) leaseLost(ctx context.Context, id, worker string) error {
	var state, lockedBy string
	err := q.db.QueryRowContext(ctx, `SELECT state, locked_by FROM jobs WHERE id = ?`, id).Scan(&state, &lockedBy)
	if errors.Is(err, errNoRows) {
		return notFound("job", id)
	}
	if err != nil {
		return translate(err)
	}
	return fmt.Errorf("%w: job %s is not held by %s (state %s, locked by %q)", onboarding.ErrConcurrentUpdate, id, worker, state, lockedBy)
}

// CompleteJob implements onboarding.Queries.
func (q *queries) CompleteJob(ctx context.Context, id, worker string, now time.Time) error {
	res, err := q.db.ExecContext(ctx, q.jobSQL(`UPDATE jobs SET state = 'completed', locked_by = '', locked_until = NULL, updated_at = ?, finished_at = ?
WHERE id = ? AND state = 'running' AND locked_by = ?`), q.ts(now), q.ts(now), id, worker)
	return affectedOne(res, err, func() error { return q.leaseLost(ctx, id, worker) })
}

const (
	failDeadSQL = `UPDATE jobs SET state = 'dead', locked_by = '', locked_until = NULL, last_error = ?, updated_at = ?, finished_at = ?
WHERE id = ? AND state = 'running' AND locked_by = ?`
	failRetrySQL = `UPDATE jobs SET state = 'available', locked_by = '', locked_until = NULL, last_error = ?, updated_at = ?, run_at = ?
WHERE id = ? AND state = 'running' AND locked_by = ?`
)

// failRetryNotifySQL is failRetrySQL notifying the jobs channel (PostgreSQL).
var failRetryNotifySQL = notifyUpdate(failRetrySQL)

// FailJob implements onboarding.Queries. On PostgreSQL, a retry due at once (RetryAt not
// after now) notifies the jobs channel like InsertJob; a later retry does not (no worker
// could claim it yet; their polling finds it when due), nor does a dead job.
func (q *queries) FailJob(ctx context.Context, id, worker string, now time.Time, f onboarding.JobFailure) error {
	var query string
	var args []any
	due := false // a retry workers may claim at once
	if f.Dead {
		query = failDeadSQL
		args = []any{freeText(f.Error), q.ts(now), q.ts(now), id, worker}
	} else {
		query = failRetrySQL
		if due = !f.RetryAt.After(now); due && q.notify == notifyInline {
			query = failRetryNotifySQL
		}
		args = []any{freeText(f.Error), q.ts(now), q.ts(f.RetryAt), id, worker}
	}
	res, err := q.db.ExecContext(ctx, q.jobSQL(query), args...)
	if err = affectedOne(res, err, func() error { return q.leaseLost(ctx, id, worker) }); err != nil {
		return err
	}
	if due {
		q.jobsReady()
	}
	return nil
}

const replayJobSQL = `UPDATE jobs SET state = 'available', attempt = 0, run_at = ?, updated_at = ?, finished_at = NULL
WHERE id = ? AND state = 'dead'`

// replayJobNotifySQL is replayJobSQL notifying the jobs channel (PostgreSQL).
var replayJobNotifySQL = notifyUpdate(replayJobSQL)

// ReplayJob implements onboarding.Queries. On PostgreSQL it notifies the jobs channel like
// InsertJob.
func (q *queries) ReplayJob(ctx context.Context, id string, now time.Time) error {
	query := replayJobSQL
	if q.notify == notifyInline {
		query = replayJobNotifySQL
	}
	res, err := q.db.ExecContext(ctx, query, q.ts(now), q.ts(now), id)
	if err = affectedOne(res, err, func() error { return notFound("dead job", id) }); err != nil {
		return err
	}
	q.jobsReady()
	return nil
}

// PruneJobs implements onboarding.Queries.
func (q *queries) PruneJobs(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs
WHERE state = 'completed' AND finished_at < ? ORDER BY finished_at LIMIT ?)`, q.ts(before), limit)
	return affected(res, err)
}

// PruneIdempotencyKeys implements onboarding.Queries.
func (q *queries) PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	res, err := q.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (partner_id, idempotency_key) IN
(SELECT partner_id, idempotency_key FROM idempotency_keys WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`, q.ts(before), limit)
	return affected(res, err)
}

// affected returns the rows a statement changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}

// LockPartner implements onboarding.Queries. On PostgreSQL it takes a transaction-scoped
// advisory lock on the partner and scope; SQLite's transactions begin IMMEDIATE and take
// the database's one write lock, which already serializes them.
func (q *queries) LockPartner(ctx context.Context, partnerID, scope string) error {
	if !q.pg {
		return nil
	}
	_, err := q.db.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`, "onboarding:"+scope+":"+partnerID)
	return translate(err)
}
