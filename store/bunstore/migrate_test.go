package bunstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/onboardkit/onboarding"
)

// seed writes, at schema version k (the state after the k-th migration), rows that later
// migrations must carry forward, and checks them once the schema is current. When a
// migration changes a table, add the rows it must convert at the version before it.
type seed struct {
	write func(ctx context.Context, db *bun.DB) error
	check func(t *testing.T, s *Store)
}

var seeds = map[int]seed{
	1: {
		write: func(ctx context.Context, db *bun.DB) error {
			s := New(db, nil)
			return s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				c := testCustomer("seed", "seed-1")
				if err := q.InsertCustomer(ctx, c); err != nil {
					return err
				}
				if err := q.InsertEvent(ctx, &onboarding.Event{ID: "evt_seed", PartnerID: "seed", Type: onboarding.EventCustomerCreated,
					CustomerID: c.ID, Data: []byte(`{"id":"cust_seed-1"}`), CreatedAt: c.CreatedAt}); err != nil {
					return err
				}
				// The job row as version 1 has it (no trace_parent before version 11).
				ts := s.auto.ts(c.CreatedAt)
				_, err := q.(*queries).db.ExecContext(ctx, `INSERT INTO jobs (id, kind, partner_id, customer_id, state, attempt,
max_attempts, run_at, locked_by, last_error, created_at, updated_at) VALUES ('job_seed', 'credit_analysis', 'seed', ?,
'available', 0, 10, ?, '', '', ?, ?)`, c.ID, ts, ts, ts)
				return err
			})
		},
		check: func(t *testing.T, s *Store) {
			ctx := context.Background()
			c, err := s.GetCustomer(ctx, "seed", "cust_seed-1")
			require.NoError(t, err, "seeded rows survive the upgrade")
			assert.Equal(t, "seed-1", c.ExternalID)
			j, err := s.GetJob(ctx, "job_seed")
			require.NoError(t, err)
			assert.Equal(t, onboarding.JobAvailable, j.State)
		},
	},
	2: {
		write: func(ctx context.Context, db *bun.DB) error {
			s := New(db, nil)
			now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			ts := any(now.UnixMicro())
			if db.Dialect().Name() == dialect.PG {
				ts = now
			}
			// An endpoint as version 2 stored it (no format): version 5 makes it the guide's.
			if _, err := db.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, partner_id, url, events, description, status,
secrets, version, created_at, updated_at) VALUES ('we_seed', 'seed', 'https://example.com/hook', '["customer.*"]', '', 'active',
'[{"value":"whsec_c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVk"}]', 1, ?, ?)`, ts, ts); err != nil {
				return err
			}
			if err := s.InsertDelivery(ctx, &onboarding.Delivery{ID: "dlv_seed", PartnerID: "seed", EndpointID: "we_seed",
				EventID: "evt_seed", EventType: onboarding.EventCustomerCreated, Status: onboarding.DeliveryPending,
				NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			// An offer as version 2 stored it (no released_at): version 3 releases it.
			_, err := db.ExecContext(ctx, `INSERT INTO credit_offers (id, partner_id, customer_id, external_id, status,
approved_amount, min_amount, monthly_interest_rate, due_date_rule, valid_until, model, version, created_at, updated_at)
VALUES ('co_seed', 'seed', 'cust_seed-1', 'seed-1', 'available', 500000, 50000, 35000, 'monthly', ?, 'seed', 1, ?, ?)`, ts, ts, ts)
			return err
		},
		check: func(t *testing.T, s *Store) {
			ctx := context.Background()
			e, err := s.GetEndpoint(ctx, "seed", "we_seed")
			require.NoError(t, err)
			assert.Equal(t, []string{"customer.*"}, e.Events)
			assert.Equal(t, onboarding.WireFormat(""), e.Format, "endpoints from before version 5 deliver in the guide's format")
			_, err = s.GetDelivery(ctx, "seed", "dlv_seed")
			require.NoError(t, err)
			o, err := s.GetOffer(ctx, "seed", "co_seed")
			require.NoError(t, err)
			assert.Equal(t, o.CreatedAt, o.ReleasedAt, "offers from before version 3 count as released")
			list, err := s.ListOffers(ctx, "seed", onboarding.ListOffersParams{Limit: 10})
			require.NoError(t, err)
			assert.Len(t, list, 1)
		},
	},
}

// TestMigrate upgrades from an empty database and from every earlier schema version, and
// checks that each path ends at the same schema, with the seeded rows intact and the store
// working.
func TestMigrate(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			openEmpty := openSQLiteEmpty
			if b.name == "postgres" {
				openEmpty = openPostgresEmpty
			}
			ctx := context.Background()
			probe := openEmpty(t)
			versions, err := SchemaVersions(probe)
			require.NoError(t, err)
			require.NotEmpty(t, versions)
			assert.Equal(t, "000001_initial", versions[0])

			var want string
			// from = 0 is an empty database; from = len(versions) is one already current
			// (Migrate must then change nothing).
			for from := 0; from <= len(versions); from++ {
				t.Run(fmt.Sprintf("from_%d", from), func(t *testing.T) {
					db := openEmpty(t)
					if from > 0 {
						// Walk up to the old version one step at a time, writing each
						// version's rows on the way.
						for k := 1; k <= from; k++ {
							require.NoError(t, migrateTo(ctx, db, k))
							if seed, ok := seeds[k]; ok {
								require.NoError(t, seed.write(ctx, db))
							}
						}
						applied, err := AppliedSchemaVersions(ctx, db)
						require.NoError(t, err)
						assert.Equal(t, versions[:from], applied)
					}
					require.NoError(t, Migrate(ctx, db))
					applied, err := AppliedSchemaVersions(ctx, db)
					require.NoError(t, err)
					assert.Equal(t, versions, applied)
					require.NoError(t, Migrate(ctx, db), "a second Migrate is a no-op")

					got := schemaOf(t, db)
					if want == "" {
						want = got
					} else {
						assert.Equal(t, want, got, "the schema depends on the upgrade path")
					}
					for k := 1; k <= from; k++ {
						if seed, ok := seeds[k]; ok {
							seed.check(t, New(db, nil))
						}
					}
					smoke(t, New(db, nil))
				})
			}
		})
	}
}

// TestMigrateConcurrently starts several Migrate calls on one empty PostgreSQL schema at
// once, as replicas starting together do: the advisory lock makes them take turns.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	db := openPostgresEmpty(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = Migrate(context.Background(), db)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	smoke(t, New(db, nil))
}

// schemaOf describes the tables, columns, indexes and constraints of the database.
func schemaOf(t *testing.T, db *bun.DB) string {
	t.Helper()
	var query string
	if db.Dialect().Name() == dialect.PG {
		query = `SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(collation_name, '') || ' ' || coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = current_schema()
UNION ALL SELECT 'index ' || replace(indexdef, current_schema() || '.', '') FROM pg_indexes WHERE schemaname = current_schema()
UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
WHERE connamespace = current_schema()::regnamespace
ORDER BY 1`
	} else {
		query = `SELECT type || ' ' || name || ' ' || coalesce(sql, '') FROM sqlite_schema ORDER BY 1`
	}
	rows, err := db.QueryContext(context.Background(), query)
	require.NoError(t, err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		if strings.Contains(line, "onboarding_migration") {
			continue // bookkeeping: its contents differ by path
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	require.NoError(t, rows.Err())
	return b.String()
}

// smoke checks that the store works on a migrated database.
func smoke(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	c := testCustomer("smoke", onboarding.NewID("ext"))
	require.NoError(t, s.InsertCustomer(ctx, c))
	got, err := s.GetCustomer(ctx, "smoke", c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, got)
}

// testCustomer builds a valid customer whose ID is cust_<external>.
func testCustomer(partner, external string) *onboarding.Customer {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	return &onboarding.Customer{ID: "cust_" + external, PartnerID: partner, ExternalID: external,
		CPF: "52998224725", CNPJ: "11222333000181", Name: "Maria da Silva", Email: "maria@example.com",
		Phone: "+5511987654321", Status: onboarding.StatusPendingKYC, Version: 1,
		KYC: []onboarding.Requirement{{ID: "req_ccmei", Type: onboarding.RequirementCompanyDocument,
			DocumentType: onboarding.DocCCMEI, Kind: onboarding.KindDocument, Label: "CCMEI", Mandatory: true,
			Status: onboarding.RequirementPending}},
		CreatedAt: now, UpdatedAt: now}
}

// TestMigrateRefusesSQLiteWithoutForeignKeys: a SQLite database opened without the pragma
// would not enforce the schema's foreign keys.
func TestMigrateRefusesSQLiteWithoutForeignKeys(t *testing.T) {
	t.Parallel()
	sqldb, err := sql.Open(sqliteshim.ShimName, "file:"+filepath.Join(t.TempDir(), "nofk.db"))
	require.NoError(t, err)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	defer db.Close()
	err = Migrate(context.Background(), db)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "foreign keys")
}

// TestCheckSchema: an empty database and one a migration behind are outdated; a current
// one is not.
func TestCheckSchema(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			openEmpty := openSQLiteEmpty
			if b.name == "postgres" {
				openEmpty = openPostgresEmpty
			}
			ctx := context.Background()
			db := openEmpty(t)
			assert.Error(t, CheckSchema(ctx, db), "no bookkeeping table yet")
			versions, err := SchemaVersions(db)
			require.NoError(t, err)
			require.NoError(t, migrateTo(ctx, db, len(versions)-1))
			err = CheckSchema(ctx, db)
			require.ErrorIs(t, err, ErrSchemaOutdated)
			assert.Contains(t, err.Error(), versions[len(versions)-1])
			require.NoError(t, Migrate(ctx, db))
			assert.NoError(t, CheckSchema(ctx, db))
		})
	}
}
