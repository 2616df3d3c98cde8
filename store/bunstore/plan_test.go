package bunstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

// TestFinishDeliveriesPlan: on PostgreSQL, a batch of delivery outcomes reaches its jobs by
// primary key, however the statistics stand. Right after a queue is filled the planner
// believes the table nearly empty, and a lease check in the update's own WHERE clause
// ("state = 'running'") matches jobs_claim_idx's predicate: it then scanned the whole
// claim index for every batch, a cost that grows with the queue.
func TestFinishDeliveriesPlan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openPostgresTest(t)
	s := New(db, nil)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var outcomes []*onboarding.DeliveryOutcome
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		for i := range 3000 {
			j := &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobDeliverWebhook, PartnerID: "p1",
				Args: []byte(`{"delivery_id":"dlv_x"}`), State: onboarding.JobAvailable, MaxAttempts: 5, RunAt: now,
				CreatedAt: now, UpdatedAt: now}
			if err := q.InsertJob(ctx, j); err != nil {
				return err
			}
			if i < 40 {
				d := &onboarding.Delivery{ID: onboarding.NewID("dlv"), PartnerID: "p1", EndpointID: "we_x", EventID: "evt_x",
					Status: onboarding.DeliveryDelivered, Attempts: 1, LastStatusCode: 204, DeliveredAt: now, CreatedAt: now, UpdatedAt: now}
				outcomes = append(outcomes, &onboarding.DeliveryOutcome{JobID: j.ID, Delivery: d,
					Attempt: &onboarding.DeliveryAttempt{ID: onboarding.NewID("dla"), PartnerID: "p1", DeliveryID: d.ID,
						Attempt: 1, StatusCode: 204, CreatedAt: now}})
			}
		}
		return nil
	}))
	q := &queries{db: db, pg: true}
	values, args := q.outcomeValues(outcomes)
	ids := make([]any, len(outcomes))
	for i, o := range outcomes {
		ids[i] = o.JobID
	}
	query, args := finishPG(values, args, ids, q.ts(now), "w1")
	rows, err := db.QueryContext(ctx, "EXPLAIN "+query, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan.WriteString(line + "\n")
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, plan.String(), "jobs_pkey")
	assert.NotContains(t, plan.String(), "jobs_claim_idx", "%s", plan.String())
}

// TestCustomerJobsPlan: the jobs of a customer (an erasure, a listing) are found through
// jobs_customer_idx, which leaves out the jobs of no customer (webhook deliveries), on
// both databases. SQLite uses a partial index only when the WHERE clause repeats its
// predicate, so the statements of DeleteCustomerJobs and ListJobs do.
func TestCustomerJobsPlan(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := b.open(t)
			s := New(db, nil)
			now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
			require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				for i := range 2000 {
					j := &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobDeliverWebhook, PartnerID: "p1",
						Args: []byte(`{}`), State: onboarding.JobAvailable, MaxAttempts: 5, RunAt: now, CreatedAt: now, UpdatedAt: now}
					if i%100 == 0 {
						j.Kind, j.CustomerID = onboarding.JobCreditAnalysis, onboarding.NewID("cust")
					}
					if err := q.InsertJob(ctx, j); err != nil {
						return err
					}
				}
				return nil
			}))
			_, err := db.ExecContext(ctx, "ANALYZE")
			require.NoError(t, err)
			def := "SELECT indexdef FROM pg_indexes WHERE indexname = 'jobs_customer_idx' AND schemaname = current_schema()"
			if b.name == "sqlite" {
				def = "SELECT sql FROM sqlite_master WHERE name = 'jobs_customer_idx'"
			}
			var sql string
			require.NoError(t, db.QueryRowContext(ctx, def).Scan(&sql))
			assert.Contains(t, sql, "WHERE", "the index leaves out the jobs of no customer")
			explain := "EXPLAIN "
			if b.name == "sqlite" {
				explain = "EXPLAIN QUERY PLAN "
			}
			// The statements the Store sends, as sent (values in place).
			hook := &templates{}
			db.AddQueryHook(hook)
			_, err = s.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: "cust_x", Limit: 10})
			require.NoError(t, err)
			_, err = s.DeleteCustomerJobs(ctx, "p1", "cust_x")
			require.NoError(t, err)
			sent := hook.matching("FROM jobs")
			require.Len(t, sent, 2, "%v", hook.sent)
			for _, query := range sent {
				rows, err := db.QueryContext(ctx, explain+query)
				require.NoError(t, err)
				var plan strings.Builder
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					for i := range vals {
						vals[i] = new(any)
					}
					require.NoError(t, rows.Scan(vals...))
					for _, v := range vals {
						fmt.Fprintf(&plan, "%v ", *(v.(*any)))
					}
					plan.WriteString("\n")
				}
				require.NoError(t, rows.Err())
				rows.Close()
				assert.Contains(t, plan.String(), "jobs_customer_idx", "%s\n%s", query, plan.String())
			}
		})
	}
}
