package bunstore

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding/internal/pgtest"
)

// postgresDSNEnv names the variable holding the DSN of a PostgreSQL database the tests may
// create schemas in. .ci/run always sets it.
const postgresDSNEnv = "ONBOARDING_TEST_POSTGRES_DSN"

// backend opens a fresh, migrated database for one test.
type backend struct {
	name string
	open func(t testing.TB) *bun.DB
}

// backends lists SQLite and, when configured, PostgreSQL. Without the DSN the PostgreSQL
// runs are skipped, loudly; with CI=true a missing DSN is a failure.
func backends() []backend {
	return []backend{{"sqlite", openSQLiteTest}, {"postgres", openPostgresTest}}
}

// openSQLiteTest returns a migrated SQLite database in a file of t.TempDir().
func openSQLiteTest(t testing.TB) *bun.DB {
	t.Helper()
	db := openSQLiteEmpty(t)
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// openSQLiteEmpty returns an unmigrated SQLite database in t.TempDir().
func openSQLiteEmpty(t testing.TB) *bun.DB {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "onboarding.db"))
	if err != nil {
		t.Fatalf("open SQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// postgresDSN returns the test DSN, skipping (or failing under CI) when it is missing.
func postgresDSN(t testing.TB) string { return pgtest.DSN(t) }

var (
	adminOnce sync.Once
	adminDB   *bun.DB
	adminErr  error
)

// admin returns a shared connection pool to the test database, for statements such as
// pg_terminate_backend.
func admin(t testing.TB) *bun.DB {
	t.Helper()
	dsn := postgresDSN(t)
	adminOnce.Do(func() { adminDB, adminErr = OpenPostgres(dsn) })
	if adminErr != nil {
		t.Fatalf("open PostgreSQL: %v", adminErr)
	}
	return adminDB
}

// postgresSchemaDSN returns a DSN on a new, empty schema of the test's own.
func postgresSchemaDSN(t testing.TB) string { return pgtest.SchemaDSN(t, "test") }

// openPostgresEmpty returns a pool on a new, empty schema of its own.
func openPostgresEmpty(t testing.TB) *bun.DB {
	t.Helper()
	dsn := postgresSchemaDSN(t)
	db, err := OpenPostgres(dsn)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { _ = db.Close() }) // runs before the schema is dropped
	return db
}

// openPostgresTest returns a migrated PostgreSQL database in a schema of its own.
func openPostgresTest(t testing.TB) *bun.DB {
	t.Helper()
	db := openPostgresEmpty(t)
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}
