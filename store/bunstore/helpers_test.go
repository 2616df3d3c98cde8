package bunstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
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
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(postgresDSNEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (.ci/run starts a server)", postgresDSNEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them", postgresDSNEnv)
	}
	return dsn
}

var (
	adminOnce sync.Once
	adminDB   *bun.DB
	adminErr  error
)

// admin returns a shared connection pool to the test database, for creating and dropping
// the per-test schemas.
func admin(t testing.TB) *bun.DB {
	t.Helper()
	dsn := postgresDSN(t)
	adminOnce.Do(func() { adminDB, adminErr = OpenPostgres(dsn) })
	if adminErr != nil {
		t.Fatalf("open PostgreSQL: %v", adminErr)
	}
	return adminDB
}

// postgresSchemaDSN creates a new, empty schema and returns a DSN whose search_path is
// that schema, so tests run in parallel on one database. The schema is dropped when the
// test ends.
func postgresSchemaDSN(t testing.TB) string {
	t.Helper()
	adm := admin(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	if _, err := adm.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := adm.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	dsn := postgresDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

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
