// Package pgtest gives tests a PostgreSQL schema of their own on the server named by
// ONBOARDING_TEST_POSTGRES_DSN, so that tests run in parallel on one database. Without the
// variable a test is skipped, saying so; with CI=true it fails instead, since CI must run
// the PostgreSQL tests (.ci/run starts a server).
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun/driver/pgdriver"
)

// DSNEnv names the variable holding the DSN of a database the tests may create schemas in.
const DSNEnv = "ONBOARDING_TEST_POSTGRES_DSN"

// DSN returns the test DSN, skipping (or failing under CI=true) when it is missing.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must run the PostgreSQL tests (.ci/run starts a server)", DSNEnv)
		}
		t.Skipf("PostgreSQL tests skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them", DSNEnv)
	}
	return dsn
}

var (
	adminOnce sync.Once
	admin     *sql.DB
)

// SchemaDSN creates a new, empty schema named prefix_<random> and returns a DSN whose
// search_path is that schema. The schema is dropped when the test ends (after the
// cleanups the test registers later, such as closing its pools).
func SchemaDSN(t testing.TB, prefix string) string {
	t.Helper()
	dsn := DSN(t)
	adminOnce.Do(func() {
		admin = sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn)))
		admin.SetMaxOpenConns(2)
	})
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := prefix + "_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}
