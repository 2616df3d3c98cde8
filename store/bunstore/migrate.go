package bunstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// The schema, one directory per dialect. Each version is NNNNNN_name.tx.up.sql and runs in
// a transaction (both databases have transactional DDL). There are no down migrations:
// the schema only moves forward.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Names of the bookkeeping tables of bun/migrate, kept apart from the application's own.
const (
	migrationsTable      = "onboarding_migrations"
	migrationsLocksTable = "onboarding_migration_locks"
)

// pgMigrateLockKey is the PostgreSQL advisory lock that serializes concurrent Migrate
// calls (an arbitrary constant: "onbrdmig" in ASCII).
const pgMigrateLockKey int64 = 0x6f6e6272646d6967

// migrations returns the dialect's migrations, the first upTo of them (all when upTo < 0).
func migrations(name dialect.Name, upTo int) (*migrate.Migrations, error) {
	dir := "migrations/sqlite"
	if name == dialect.PG {
		dir = "migrations/postgres"
	} else if name != dialect.SQLite {
		return nil, fmt.Errorf("bunstore: unsupported dialect %s (want sqlite or pg)", name)
	}
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	all := migrate.NewMigrations()
	if err := all.Discover(sub); err != nil {
		return nil, fmt.Errorf("bunstore: load migrations: %w", err)
	}
	if upTo < 0 {
		return all, nil
	}
	sorted := all.Sorted()
	if upTo > len(sorted) {
		return nil, fmt.Errorf("bunstore: only %d migrations exist", len(sorted))
	}
	some := migrate.NewMigrations()
	for _, m := range sorted[:upTo] {
		some.Add(m)
	}
	return some, nil
}

// SchemaVersions lists the names of the schema versions this package knows for the
// database's dialect, oldest first.
func SchemaVersions(db *bun.DB) ([]string, error) {
	ms, err := migrations(db.Dialect().Name(), -1)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range ms.Sorted() {
		names = append(names, m.Name+"_"+m.Comment)
	}
	return names, nil
}

// Migrate brings the database's schema up to date by applying, in order, the embedded
// migrations it has not applied yet (bun/migrate, recorded in onboarding_migrations). It
// is safe to call at every start: with nothing to apply it only reads the bookkeeping
// table. Each migration runs in its own transaction and is recorded once it has
// committed. On PostgreSQL concurrent calls wait for each other (advisory lock); on SQLite
// call it from one process, and on a database opened with foreign keys on (OpenSQLite
// does): Migrate refuses one without, whose constraints would silently not hold.
func Migrate(ctx context.Context, db *bun.DB) error {
	return migrateTo(ctx, db, -1)
}

func migrateTo(ctx context.Context, db *bun.DB, upTo int) error {
	ms, err := migrations(db.Dialect().Name(), upTo)
	if err != nil {
		return err
	}
	if db.Dialect().Name() == dialect.SQLite {
		// SQLite ignores foreign keys unless each connection turns them on; the schema's
		// guarantees depend on them, so refuse a database opened without.
		var on int
		if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on); err != nil {
			return fmt.Errorf("bunstore: migrate: %w", err)
		}
		if on != 1 {
			return errors.New("bunstore: SQLite foreign keys are off: open the database with OpenSQLite (or _pragma=foreign_keys(1) in the DSN)")
		}
	}
	if db.Dialect().Name() == dialect.PG {
		conn, err := db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("bunstore: migrate: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", pgMigrateLockKey); err != nil {
			return fmt.Errorf("bunstore: migrate: lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", pgMigrateLockKey)
		}()
	}
	m := migrate.NewMigrator(db, ms,
		migrate.WithTableName(migrationsTable),
		migrate.WithLocksTableName(migrationsLocksTable),
		migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("bunstore: migrate: init: %w", err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("bunstore: migrate: %w", err)
	}
	return nil
}

// AppliedSchemaVersions lists the schema versions applied to db, oldest first (empty for a
// database Migrate never ran on). It creates the empty bookkeeping tables if they are
// missing. Compare it with SchemaVersions to refuse to start on an outdated schema.
func AppliedSchemaVersions(ctx context.Context, db *bun.DB) ([]string, error) {
	ms, err := migrations(db.Dialect().Name(), -1)
	if err != nil {
		return nil, err
	}
	m := migrate.NewMigrator(db, ms, migrate.WithTableName(migrationsTable), migrate.WithLocksTableName(migrationsLocksTable))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("bunstore: migrate: init: %w", err)
	}
	status, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("bunstore: migrate: %w", err)
	}
	var names []string
	for _, s := range status.Applied() {
		names = append(names, s.Name+"_"+s.Comment)
	}
	slices.Sort(names)
	return names, nil
}
