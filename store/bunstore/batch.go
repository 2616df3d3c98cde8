package bunstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/onboardkit/onboarding"
)

var (
	_ onboarding.BatchQueries = (*queries)(nil)
	_ onboarding.BatchQueries = (*Store)(nil)
)

// qualify prefixes every column of a column list with alias.
func qualify(alias, cols string) string {
	return alias + "." + strings.ReplaceAll(cols, ", ", ", "+alias+".")
}

// The column counts of the tables a delivery's claim reads, in the order of their column
// lists.
var (
	nJobCols      = strings.Count(jobCols, ",") + 1
	nDeliveryCols = strings.Count(deliveryCols, ",") + 1
	nEndpointCols = strings.Count(endpointCols, ",") + 1
	nEventCols    = strings.Count(eventCols, ",") + 1
)

// deliveryJoinSQL reads, for the claimed jobs c, each delivery job's delivery, endpoint
// and event (NULL columns when missing or for another kind). argSQL is the dialect's
// expression of the job's delivery_id argument.
func deliveryJoinSQL(argSQL string) string {
	return `SELECT ` + qualify("c", jobCols) + `, ` + qualify("d", deliveryCols) + `, ` + qualify("ep", endpointCols) + `, ` +
		qualify("e", eventCols) + `
FROM claimed c
LEFT JOIN webhook_deliveries d ON c.kind = '` + string(onboarding.JobDeliverWebhook) + `' AND d.id = ` + argSQL + ` AND d.partner_id = c.partner_id
LEFT JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.partner_id = d.partner_id
LEFT JOIN events e ON e.id = d.event_id`
}

// ClaimJobBatch implements onboarding.BatchQueries. On PostgreSQL it is one statement: the
// claim of ClaimJobs as a CTE, joined to the deliveries, endpoints and events. SQLite
// cannot read an UPDATE's RETURNING in a query, so there it is the claim and then one
// query for every delivery claimed, both under the write slot.
func (q *queries) ClaimJobBatch(ctx context.Context, p onboarding.ClaimParams) ([]*onboarding.ClaimedJob, error) {
	if q.pg {
		query, args := q.claimSQL(p, deliveryJoinSQL(`(c.args->>'delivery_id')`))
		rows, err := q.db.QueryContext(ctx, q.claimPrefix(query), args...)
		out, err := collect(rows, err, scanClaimed)
		if err != nil {
			return nil, err
		}
		sortClaimed(out, func(c *onboarding.ClaimedJob) *onboarding.Job { return c.Job })
		return out, nil
	}
	jobs, err := q.ClaimJobs(ctx, p)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	out := make([]*onboarding.ClaimedJob, len(jobs))
	var ids []any
	for i, j := range jobs {
		out[i] = &onboarding.ClaimedJob{Job: j}
		if id := deliveryArg(j); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.db.QueryContext(ctx, `SELECT `+qualify("d", deliveryCols)+`, `+qualify("ep", endpointCols)+`, `+qualify("e", eventCols)+`
FROM webhook_deliveries d
LEFT JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.partner_id = d.partner_id
LEFT JOIN events e ON e.id = d.event_id
WHERE d.id IN (`+placeholders(len(ids))+`)`, ids...)
	found, err := collect(rows, err, func(r rowScanner) (*onboarding.ClaimedJob, error) {
		return scanDeliveryRow(r.(*sql.Rows))
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*onboarding.ClaimedJob, len(found))
	for _, f := range found {
		byID[f.Delivery.ID] = f
	}
	for _, c := range out {
		if f := byID[deliveryArg(c.Job)]; f != nil && f.Delivery.PartnerID == c.Job.PartnerID {
			c.Delivery, c.Endpoint, c.Event = f.Delivery, f.Endpoint, f.Event
		}
	}
	return out, nil
}

// deliveryArg is the delivery_id argument of a deliver_webhook job, "" for other kinds.
func deliveryArg(j *onboarding.Job) string {
	if j.Kind != onboarding.JobDeliverWebhook {
		return ""
	}
	var a struct {
		DeliveryID string `json:"delivery_id"`
	}
	_ = json.Unmarshal(j.Args, &a)
	return a.DeliveryID
}

// scanClaimed scans a row of deliveryJoinSQL.
func scanClaimed(r rowScanner) (*onboarding.ClaimedJob, error) {
	rows := r.(*sql.Rows)
	vals, err := scanRaw(rows, nJobCols+nDeliveryCols+nEndpointCols+nEventCols)
	if err != nil {
		return nil, err
	}
	j, err := scanJob(vals[:nJobCols])
	if err != nil {
		return nil, err
	}
	c, err := deliveryParts(vals[nJobCols:])
	if err != nil {
		return nil, err
	}
	c.Job = j
	return c, nil
}

// scanDeliveryRow scans a row of delivery, endpoint and event columns.
func scanDeliveryRow(rows *sql.Rows) (*onboarding.ClaimedJob, error) {
	vals, err := scanRaw(rows, nDeliveryCols+nEndpointCols+nEventCols)
	if err != nil {
		return nil, err
	}
	return deliveryParts(vals)
}

// deliveryParts reads the delivery, endpoint and event parts of a row; a part whose ID is
// NULL is missing.
func deliveryParts(vals rawRow) (*onboarding.ClaimedJob, error) {
	c := &onboarding.ClaimedJob{}
	var err error
	d, ep, e := vals[:nDeliveryCols], vals[nDeliveryCols:nDeliveryCols+nEndpointCols], vals[nDeliveryCols+nEndpointCols:]
	if d[0] != nil {
		if c.Delivery, err = scanDelivery(d); err != nil {
			return nil, err
		}
	}
	if ep[0] != nil {
		if c.Endpoint, err = scanEndpoint(ep); err != nil {
			return nil, err
		}
	}
	if e[0] != nil {
		if c.Event, err = scanEvent(e); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// rawRow is a row's values as the driver gave them; a slice of it is a rowScanner for
// the scan function of the table those columns belong to, so that one query can return
// the columns of several tables (and NULLs for a missing joined row).
type rawRow []any

// scanRaw reads the n values of the current row.
func scanRaw(rows *sql.Rows, n int) (rawRow, error) {
	vals := make(rawRow, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// Scan implements rowScanner, converting each value as database/sql would.
func (r rawRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("bunstore: %d columns scanned into %d values", len(r), len(dest))
	}
	for i, d := range dest {
		if err := assign(d, r[i]); err != nil {
			return fmt.Errorf("bunstore: column %d: %w", i, err)
		}
	}
	return nil
}

// assign stores src in dest like Rows.Scan: sql.Null's Scan applies database/sql's
// conversions.
func assign(dest, src any) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(src)
	case *string:
		return assignNull(d, src)
	case *int:
		return assignNull(d, src)
	case *int64:
		return assignNull(d, src)
	case *bool:
		return assignNull(d, src)
	}
	return fmt.Errorf("cannot scan into %T", dest)
}

func assignNull[T any](d *T, src any) error {
	var n sql.Null[T]
	if err := n.Scan(src); err != nil {
		return err
	}
	if !n.Valid {
		return fmt.Errorf("NULL in a NOT NULL column")
	}
	*d = n.V
	return nil
}

// outcomeCols are the columns of the VALUES list FinishDeliveries writes from, with the
// PostgreSQL type of each (the first row carries the casts: the others follow it).
var outcomeCols = []struct{ name, pgType string }{
	{"job_id", "text"}, {"delivery_id", "text"}, {"partner_id", "text"}, {"status", "text"},
	{"attempts", "int"}, {"last_status_code", "int"}, {"last_error", "text"},
	{"next_attempt_at", "timestamptz"}, {"delivered_at", "timestamptz"}, {"updated_at", "timestamptz"},
	{"job_state", "text"},
	{"a_id", "text"}, {"a_attempt", "int"}, {"a_status_code", "int"}, {"a_latency", "bigint"},
	{"a_error", "text"}, {"a_response", "text"}, {"a_created_at", "timestamptz"},
}

// outcomeValues returns "WITH v (cols) AS (VALUES …)" for the outcomes, and its arguments.
func (q *queries) outcomeValues(outcomes []*onboarding.DeliveryOutcome) (string, []any) {
	var b strings.Builder
	b.WriteString(`WITH v (`)
	for i, c := range outcomeCols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name)
	}
	b.WriteString(`) AS (VALUES `)
	args := make([]any, 0, len(outcomes)*len(outcomeCols))
	for i, o := range outcomes {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for k, c := range outcomeCols {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('?')
			if i == 0 && q.pg {
				b.WriteString("::" + c.pgType)
			}
		}
		b.WriteByte(')')
		d := o.Delivery
		args = append(args, o.JobID, d.ID, d.PartnerID, string(d.Status), d.Attempts, d.LastStatusCode, freeText(d.LastError),
			q.tsNull(d.NextAttemptAt), q.tsNull(d.DeliveredAt), q.ts(d.UpdatedAt), jobEnd(d.Status))
		if a := o.Attempt; a != nil {
			args = append(args, a.ID, a.Attempt, a.StatusCode, int64(a.Latency), freeText(a.Error), freeText(a.Response), q.ts(a.CreatedAt))
		} else {
			args = append(args, nil, nil, nil, nil, nil, nil, nil)
		}
	}
	b.WriteString(`)
`)
	return b.String(), args
}

// jobEnd is the state a delivery job ends in, by its delivery's new status.
func jobEnd(st onboarding.DeliveryStatus) string {
	switch st {
	case onboarding.DeliveryPending:
		return string(onboarding.JobAvailable)
	case onboarding.DeliveryDead:
		return string(onboarding.JobDead)
	}
	return string(onboarding.JobCompleted)
}

// The three writes of FinishDeliveries, each reading the VALUES list v. The job's end
// follows FailJob and CompleteJob: a retry keeps finished_at, a completion keeps
// last_error.
//
// On PostgreSQL the jobs are first read and locked by primary key (held) and only then
// checked for the lease, so that the planner never scans the claim index instead: its
// predicate matches "state = 'running'", and right after a bulk insert the statistics
// may say the table is empty, which makes a scan of that index look cheap. SQLite does
// not match partial indexes that way.
const (
	finishJobsSet = `UPDATE jobs SET state = v.job_state, locked_by = '', locked_until = NULL, updated_at = ?,
last_error = CASE WHEN v.job_state = 'completed' THEN jobs.last_error ELSE v.last_error END,
run_at = CASE WHEN v.job_state = 'available' THEN v.next_attempt_at ELSE jobs.run_at END,
finished_at = CASE WHEN v.job_state = 'available' THEN jobs.finished_at ELSE ? END
`
	finishJobsPG = `held AS MATERIALIZED (SELECT id, state, locked_by FROM jobs WHERE id IN (%s) FOR UPDATE),
j AS (` + finishJobsSet + `FROM v, held WHERE held.id = v.job_id AND held.state = 'running' AND held.locked_by = ? AND jobs.id = held.id
RETURNING jobs.id)`
	finishJobsSQLite = finishJobsSet + `FROM v WHERE jobs.id IN (%s) AND jobs.id = v.job_id AND jobs.state = 'running' AND jobs.locked_by = ?
RETURNING jobs.id`
	finishDeliveriesSQL = `UPDATE webhook_deliveries SET status = v.status, attempts = v.attempts,
last_status_code = v.last_status_code, last_error = v.last_error, next_attempt_at = v.next_attempt_at,
delivered_at = v.delivered_at, updated_at = v.updated_at
FROM v %s WHERE webhook_deliveries.id = v.delivery_id AND webhook_deliveries.partner_id = v.partner_id`
	finishAttemptsSQL = `INSERT INTO webhook_delivery_attempts (id, partner_id, delivery_id, attempt, status_code, latency_ns, error, response, created_at)
SELECT v.a_id, v.partner_id, v.delivery_id, v.a_attempt, v.a_status_code, v.a_latency, v.a_error, v.a_response, v.a_created_at
FROM v %s WHERE v.a_id IS NOT NULL`
)

// FinishDeliveries implements onboarding.BatchQueries. On PostgreSQL it is one statement
// (committed like CompleteJob, see Options.SynchronousJobCommits): the jobs' update with
// compare-and-set on the lease, then, for the jobs it matched, the deliveries' update and
// the attempts' insert, as data-modifying CTEs. On SQLite it is three statements, which
// the Store runs in a transaction.
func (q *queries) FinishDeliveries(ctx context.Context, worker string, now time.Time, outcomes []*onboarding.DeliveryOutcome) ([]bool, error) {
	if len(outcomes) == 0 {
		return nil, nil
	}
	values, args := q.outcomeValues(outcomes)
	ids := make([]any, len(outcomes))
	for i, o := range outcomes {
		ids[i] = o.JobID
	}
	var accepted []string
	if q.pg {
		query, args := finishPG(values, args, ids, q.ts(now), worker)
		rows, err := q.db.QueryContext(ctx, q.jobSQL(query), args...)
		list, err := collect(rows, err, scanString)
		if err != nil {
			return nil, err
		}
		accepted = derefAll(list)
	} else {
		query := values + fmt.Sprintf(finishJobsSQLite, placeholders(len(ids)))
		jobArgs := append(append(args, q.ts(now), q.ts(now)), ids...)
		rows, err := q.db.QueryContext(ctx, query, append(jobArgs, worker)...)
		list, err := collect(rows, err, scanString)
		if err != nil {
			return nil, err
		}
		accepted = derefAll(list)
		if len(accepted) > 0 {
			var kept []*onboarding.DeliveryOutcome
			set := make(map[string]bool, len(accepted))
			for _, id := range accepted {
				set[id] = true
			}
			for _, o := range outcomes {
				if set[o.JobID] {
					kept = append(kept, o)
				}
			}
			values, args := q.outcomeValues(kept)
			if _, err := q.db.ExecContext(ctx, values+fmt.Sprintf(finishDeliveriesSQL, ""), args...); err != nil {
				return nil, translate(err)
			}
			if _, err := q.db.ExecContext(ctx, values+fmt.Sprintf(finishAttemptsSQL, ""), args...); err != nil {
				return nil, translate(err)
			}
		}
	}
	set := make(map[string]bool, len(accepted))
	for _, id := range accepted {
		set[id] = true
	}
	written := make([]bool, len(outcomes))
	for i, o := range outcomes {
		written[i] = set[o.JobID]
		if written[i] && o.Delivery.Status == onboarding.DeliveryPending && !o.Delivery.NextAttemptAt.After(now) {
			q.jobsReady() // a retry due at once, as FailJob announces it
		}
	}
	return written, nil
}

// finishPG is FinishDeliveries in one PostgreSQL statement: held's IN list binds first,
// then the SET values and the worker.
func finishPG(values string, args, ids []any, now any, worker string) (string, []any) {
	query := values + `, ` + fmt.Sprintf(finishJobsPG, placeholders(len(ids))) + `,
d AS (` + fmt.Sprintf(finishDeliveriesSQL, `JOIN j ON j.id = v.job_id`) + ` RETURNING 1),
a AS (` + fmt.Sprintf(finishAttemptsSQL, `JOIN j ON j.id = v.job_id`) + ` RETURNING 1)
SELECT id FROM j`
	return query, append(append(args, ids...), now, now, worker)
}

func scanString(r rowScanner) (*string, error) {
	var s string
	return &s, r.Scan(&s)
}

func derefAll(list []*string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = *s
	}
	return out
}

// FinishDeliveries implements onboarding.BatchQueries: on SQLite its three statements run
// in a transaction of their own (on PostgreSQL it is one statement).
func (s *Store) FinishDeliveries(ctx context.Context, worker string, now time.Time, outcomes []*onboarding.DeliveryOutcome) (written []bool, err error) {
	if s.pg {
		return s.autoCommit.FinishDeliveries(ctx, worker, now, outcomes)
	}
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		written, err = q.FinishDeliveries(ctx, worker, now, outcomes)
		return err
	})
	return written, err
}

// ExtendJobLeases implements onboarding.BatchQueries in one statement.
func (q *queries) ExtendJobLeases(ctx context.Context, ids []string, worker string, until time.Time) ([]string, error) {
	return q.updateHeldJobs(ctx, `locked_until = ?`, q.ts(until), ids, worker, false)
}

// ReleaseJobs implements onboarding.BatchQueries in one statement, which announces the
// jobs (they are due at once) to the other replicas.
func (q *queries) ReleaseJobs(ctx context.Context, ids []string, worker string, now time.Time) ([]string, error) {
	return q.updateHeldJobs(ctx, `state = 'available', locked_by = '', locked_until = NULL,
attempt = CASE WHEN attempt > 0 THEN attempt - 1 ELSE 0 END, updated_at = ?`, q.ts(now), ids, worker, true)
}

// updateHeldJobs sets set (with its one argument) on the jobs among ids that worker
// holds, and returns their IDs; with announce, it announces them on the jobs channel.
func (q *queries) updateHeldJobs(ctx context.Context, set string, arg any, ids []string, worker string, announce bool) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(ids)+2)
	args = append(args, arg)
	for _, id := range ids {
		args = append(args, id)
	}
	args = append(args, worker)
	query := `UPDATE jobs SET ` + set + `
WHERE id IN (` + placeholders(len(ids)) + `) AND state = 'running' AND locked_by = ? RETURNING id`
	if announce && q.notify == notifyInline {
		query = notifyUpdate(query)
	}
	rows, err := q.db.QueryContext(ctx, query, args...)
	out, err := collect(rows, err, scanString)
	if err != nil {
		return nil, err
	}
	if announce && len(out) > 0 {
		q.jobsReady()
	}
	return derefAll(out), nil
}

// NextJobAt implements onboarding.BatchQueries: the first available job in the order of
// jobs_claim_idx (its predicate repeated word for word, as in claimableSQL).
func (q *queries) NextJobAt(ctx context.Context, kinds []onboarding.JobKind) (time.Time, error) {
	query := `SELECT min(run_at) FROM jobs WHERE state IN ('available', 'running') AND state = 'available'`
	args := make([]any, 0, len(kinds))
	if len(kinds) > 0 {
		query += ` AND kind IN (` + placeholders(len(kinds)) + `)`
		for _, k := range kinds {
			args = append(args, string(k))
		}
	}
	var at time.Time
	if err := q.db.QueryRowContext(ctx, query, args...).Scan(timeCol{&at}); err != nil {
		return time.Time{}, translate(err)
	}
	return at, nil
}
