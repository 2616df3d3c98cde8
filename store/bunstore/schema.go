package bunstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
)

// ErrSchemaOutdated is matched by the error CheckSchema returns when migrations this
// package knows have not been applied to the database.
var ErrSchemaOutdated = errors.New("bunstore: schema outdated")

// CheckSchema reports whether db can serve this build: nil when every embedded migration
// has been applied, an error matching ErrSchemaOutdated that names the missing ones when
// not, or the error of reaching the database. Unlike AppliedSchemaVersions it only reads
// (one SELECT), so a readiness probe may call it every few seconds.
func CheckSchema(ctx context.Context, db *bun.DB) error {
	ms, err := migrations(db.Dialect().Name(), -1)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, "SELECT name FROM "+migrationsTable)
	if err != nil {
		return fmt.Errorf("bunstore: read applied migrations: %w", err)
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("bunstore: read applied migrations: %w", err)
		}
		applied[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bunstore: read applied migrations: %w", err)
	}
	var missing []string
	for _, m := range ms.Sorted() {
		if !applied[m.Name] {
			missing = append(missing, m.Name+"_"+m.Comment)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s not applied (run Migrate)", ErrSchemaOutdated, strings.Join(missing, ", "))
	}
	return nil
}
