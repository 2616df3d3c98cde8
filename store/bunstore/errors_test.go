package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

func TestTranslate(t *testing.T) {
	assert.NoError(t, translate(nil))
	assert.ErrorIs(t, translate(fmt.Errorf("scan: %w", sql.ErrNoRows)), onboarding.ErrNotFound)
	for msg, field := range map[string]string{
		"constraint failed: UNIQUE constraint failed: customers.partner_id, customers.external_id (2067)": "external_id",
		"constraint failed: UNIQUE constraint failed: customers.partner_id, customers.tax_key (2067)":     "tax_key",
		"constraint failed: UNIQUE constraint failed: jobs.id (1555)":                                     "id",
		"constraint failed: PRIMARY KEY constraint failed: idempotency_keys.partner_id (1555)":            "idempotency_key",
	} {
		var ce *onboarding.ConflictError
		require.ErrorAs(t, translate(errors.New(msg)), &ce, msg)
		assert.Equal(t, field, ce.Field, msg)
	}
	assert.ErrorIs(t, translate(errors.New("constraint failed: FOREIGN KEY constraint failed (787)")), onboarding.ErrNotFound)
	other := errors.New("disk I/O error")
	err := translate(other)
	assert.ErrorIs(t, err, other)
	assert.NotErrorIs(t, err, onboarding.ErrNotFound)
	assert.Equal(t, "cnpj", taxKeyField("cnpj:11222333000181"))
	assert.Equal(t, "cpf", taxKeyField("cpf:52998224725"))
}

// TestConstraintNames keeps constraintField in step with the PostgreSQL schema.
func TestConstraintNames(t *testing.T) {
	t.Parallel()
	db := openPostgresTest(t)
	rows, err := db.QueryContext(context.Background(), `SELECT conname FROM pg_constraint
WHERE connamespace = current_schema()::regnamespace AND contype IN ('u', 'p')`)
	require.NoError(t, err)
	defer rows.Close()
	fields := map[string]string{}
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		fields[name] = constraintField(name)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, "external_id", fields["customers_external_id_key"])
	assert.Equal(t, fieldTaxKey, fields["customers_tax_key_key"])
	assert.Equal(t, "id", fields["customers_pkey"])
	assert.Equal(t, "idempotency_key", fields["idempotency_keys_pkey"])
}

// waitBlocked waits until a session running a query that contains marker waits on a lock.
func waitBlocked(t *testing.T, marker string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		require.NoError(t, admin(t).QueryRowContext(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position(? in query) > 0`, marker).Scan(&n))
		if n > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the concurrent write never blocked")
}

// TestUniqueRacesPostgres settles, on PostgreSQL, writes that collide with a concurrent
// transaction not yet committed: they wait for it, then fail with the ConflictError of the
// field, not with a raw database error (and an insert does not abort its transaction).
func TestUniqueRacesPostgres(t *testing.T) {
	t.Parallel()
	db := openPostgresTest(t)
	s := New(db, nil)
	ctx := context.Background()

	t.Run("insert", func(t *testing.T) {
		held := testCustomer("p1", "race-insert-1")
		held.CNPJ = "11444777000161"
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, New(tx, nil).auto.InsertCustomer(ctx, held))
		done := make(chan error, 1)
		go func() {
			late := testCustomer("p1", "race-insert-1")
			late.ID, late.CNPJ = "cust_late", "45723174000110"
			done <- s.InsertCustomer(ctx, late)
		}()
		waitBlocked(t, "cust_late")
		require.NoError(t, tx.Commit())
		err = <-done
		var ce *onboarding.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "external_id", ce.Field)
		assert.Equal(t, held.ID, ce.ExistingID)
	})

	t.Run("update_tax_key", func(t *testing.T) {
		other := testCustomer("p1", "race-update-1")
		other.CNPJ = "34028316000103"
		require.NoError(t, s.InsertCustomer(ctx, other))
		held := testCustomer("p1", "race-update-2")
		held.CNPJ = "06990590000123"
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		require.NoError(t, New(tx, nil).auto.InsertCustomer(ctx, held))
		done := make(chan error, 1)
		go func() {
			other.CNPJ = held.CNPJ
			done <- s.UpdateCustomer(ctx, other)
		}()
		waitBlocked(t, "cnpj:06990590000123")
		require.NoError(t, tx.Commit())
		err = <-done
		var ce *onboarding.ConflictError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "cnpj", ce.Field)
		got, err := s.GetCustomer(ctx, "p1", other.ID)
		require.NoError(t, err)
		assert.EqualValues(t, 1, got.Version)
		assert.Equal(t, "34028316000103", string(got.CNPJ))
	})
}

// TestFreeTextNUL: a NUL byte in an unvalidated text (a scorer's error message, a
// reviewer's reason) cannot be stored as is in PostgreSQL; the write must still succeed,
// or a job whose error holds one could never fail.
func TestFreeTextNUL(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := New(b.open(t), nil)
			ctx := context.Background()
			c := testCustomer("p1", "nul")
			require.NoError(t, s.InsertCustomer(ctx, c))
			require.NoError(t, s.InsertTransition(ctx, &onboarding.Transition{ID: "tr_nul", PartnerID: "p1", CustomerID: c.ID,
				Event: onboarding.EventDeny, From: onboarding.StatusPendingKYC, To: onboarding.StatusDenied,
				Reason: "bad\x00reason", CreatedAt: c.CreatedAt}))
			hist, err := s.ListTransitions(ctx, "p1", c.ID)
			require.NoError(t, err)
			require.Len(t, hist, 1)
			assert.Equal(t, "bad\uFFFDreason", hist[0].Reason)

			now := c.CreatedAt
			require.NoError(t, s.InsertJob(ctx, &onboarding.Job{ID: "job_nul", Kind: onboarding.JobCreditAnalysis,
				State: onboarding.JobAvailable, RunAt: now, CreatedAt: now, UpdatedAt: now}))
			_, err = s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w", Limit: 1, Now: now, Lease: time.Minute})
			require.NoError(t, err)
			require.NoError(t, s.FailJob(ctx, "job_nul", "w", now, onboarding.JobFailure{Error: "bureau said \x00", Dead: true}))
			j, err := s.GetJob(ctx, "job_nul")
			require.NoError(t, err)
			assert.Equal(t, onboarding.JobDead, j.State)
			assert.Equal(t, "bureau said \uFFFD", j.LastError)
		})
	}
}
