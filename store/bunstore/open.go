package bunstore

import (
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// sqlitePragmas are set on every SQLite connection: WAL (readers never block the writer),
// a 10 s busy timeout, foreign keys on, synchronous NORMAL (durable across process
// crashes; a power loss may lose the last transactions, never corrupt the file),
// secure_delete (deleted and overwritten content is zeroed, not left in free space: an
// erasure must not leave the bytes in the file), and BEGIN IMMEDIATE for transactions, so
// a unit of work takes the write lock up front instead of failing with SQLITE_BUSY when it
// first writes.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=secure_delete(1)&_txlock=immediate"

// OpenSQLite opens (creating if needed) the SQLite database file at path through
// driver/sqliteshim (modernc.org/sqlite: pure Go, works with CGO_ENABLED=0), with the
// pragmas every connection needs: WAL, busy_timeout, foreign_keys, synchronous NORMAL,
// secure_delete, immediate transactions. The pool keeps a few connections open so reads run in
// parallel; writes are serialized by the Store (see Options.MaxConcurrentWrites), which is
// the fastest way to share SQLite's single writer. path must not contain '?'; an
// in-memory database is not supported (each connection would see its own). Run Migrate
// before use, and Close the DB when done.
func OpenSQLite(path string) (*bun.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		return nil, fmt.Errorf("bunstore: invalid SQLite path %q", path)
	}
	dsn := "file:" + path + "?" + sqlitePragmas
	sqldb, err := sql.Open(sqliteshim.ShimName, dsn)
	if err != nil {
		return nil, fmt.Errorf("bunstore: open SQLite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n) // reopening a connection re-runs the pragmas: keep them
	sqldb.SetConnMaxLifetime(0)
	sqldb.SetConnMaxIdleTime(0)
	if err := sqldb.Ping(); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("bunstore: open SQLite %s: %w", path, err)
	}
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// OpenPostgres opens a PostgreSQL database through driver/pgdriver. dsn is a URL such as
// postgres://user:password@host:5432/dbname?sslmode=verify-full; extra query parameters
// are sent as run-time parameters (e.g. search_path=onboarding, application_name=lender).
// The pool allows up to 4×GOMAXPROCS connections (at least 8), all kept idle between
// uses. Run Migrate before use, and Close the DB when done.
func OpenPostgres(dsn string) (*bun.DB, error) {
	if dsn == "" {
		return nil, errors.New("bunstore: empty PostgreSQL DSN")
	}
	connector, err := pgConnector(dsn)
	if err != nil {
		return nil, err
	}
	sqldb := sql.OpenDB(connector)
	n := max(8, 4*runtime.GOMAXPROCS(0))
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(n)
	if err := sqldb.Ping(); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("bunstore: open PostgreSQL: %w", err)
	}
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// pgConnector parses dsn; pgdriver.WithDSN panics on a malformed one.
func pgConnector(dsn string) (c *pgdriver.Connector, err error) {
	defer func() {
		if p := recover(); p != nil {
			// Not %v: the parse error quotes the DSN, password included.
			err = errors.New("bunstore: invalid PostgreSQL DSN")
		}
	}()
	return pgdriver.NewConnector(pgdriver.WithDSN(dsn)), nil
}
