package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
)

// queries implements onboarding.Queries on one bun connection, transaction or pool.
type queries struct {
	db bun.IConn
	pg bool
	// asyncJobCommits prefixes the job-state statements with SET LOCAL synchronous_commit
	// = off (see Options.SynchronousJobCommits). Only for autocommit statements on
	// PostgreSQL: the two statements of one simple query form one implicit transaction.
	asyncJobCommits bool
	// claimHints prefixes claims with claimHintsPrefix (PostgreSQL autocommit statements
	// only, like asyncJobCommits).
	claimHints bool
	// notify says how a job change that workers may act on at once is announced on the
	// jobs channel (see Store.ListenJobs).
	notify notifyMode
	// later is set in a unit of work on PostgreSQL (InTx), where it is also db: it sends
	// the statements queued by InsertIdempotencyKeyDeferred with the next one.
	later *deferringConn
	// ready is set (notifyAfter) when the queries made such a change: the Store notifies
	// after the commit.
	ready bool
}

var _ onboarding.Queries = (*queries)(nil)

// ts converts a time to its column value: TIMESTAMPTZ on PostgreSQL, unix microseconds on
// SQLite. Both keep microseconds (truncated) in UTC.
func (q *queries) ts(t time.Time) any {
	if q.pg {
		return t.UTC().Truncate(time.Microsecond)
	}
	return t.UnixMicro()
}

// tsNull is ts with the zero time stored as NULL (nullable columns).
func (q *queries) tsNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return q.ts(t)
}

// timeCol scans a time column of either representation; NULL is the zero time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC().Truncate(time.Microsecond)
	case []byte:
		return c.parse(string(v))
	case string:
		return c.parse(v)
	default:
		return fmt.Errorf("bunstore: cannot scan %T into a time", src)
	}
	return nil
}

func (c timeCol) parse(s string) error {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07"} {
		if t, err := time.Parse(layout, s); err == nil {
			*c.t = t.UTC().Truncate(time.Microsecond)
			return nil
		}
	}
	return fmt.Errorf("bunstore: cannot parse time %q", s)
}

// bytesCol scans a nullable TEXT, json, BLOB or BYTEA column into a fresh slice; NULL and
// empty are nil (what the in-memory store returns for an empty payload).
type bytesCol struct{ b *[]byte }

func (c bytesCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		if len(v) == 0 {
			*c.b = nil
		} else {
			*c.b = append([]byte(nil), v...)
		}
	case string:
		if v == "" {
			*c.b = nil
		} else {
			*c.b = []byte(v)
		}
	default:
		return fmt.Errorf("bunstore: cannot scan %T into bytes", src)
	}
	return nil
}

// freeText prepares a free-text value that no validation upstream restricts (a job's last
// error, a rejection or transition reason, an actor, a file name): a NUL byte cannot be
// stored in PostgreSQL text (and bun refuses to format it), so it becomes U+FFFD, like
// the invalid UTF-8 bun already replaces. A job whose error message held a NUL must still
// be able to fail.
func freeText(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// textArg passes a payload to a TEXT or json column; empty is NULL.
func textArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// blobArg passes bytes to a BLOB or BYTEA column; empty is NULL.
func blobArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// errNoRows is what a single-row query returns when nothing matched.
var errNoRows = sql.ErrNoRows

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// collect scans every row of rows with scan.
func collect[T any](rows *sql.Rows, err error, scan func(rowScanner) (*T, error)) ([]*T, error) {
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	return out, nil
}

// placeholders returns "?, ?, ?" for n values.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, 0, 3*n)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '?')
	}
	return string(b)
}

// selectQuery is a SELECT whose conditions depend on a filter: where adds those that
// apply, all joined with AND, and all runs it.
type selectQuery struct {
	b    strings.Builder
	args []any
}

// selectFrom starts a SELECT of cols from table.
func selectFrom(cols, table string) *selectQuery {
	s := &selectQuery{args: make([]any, 0, 8)}
	s.b.WriteString(`SELECT ` + cols + ` FROM ` + table + ` WHERE TRUE`)
	return s
}

// where adds cond (with a ? per arg) when on.
func (s *selectQuery) where(on bool, cond string, args ...any) *selectQuery {
	if on {
		s.b.WriteString(` AND ` + cond)
		s.args = append(s.args, args...)
	}
	return s
}

// all runs the query ordered by orderBy, at most limit rows (0: no limit), and scans
// every row.
func all[T any](ctx context.Context, q *queries, s *selectQuery, orderBy string, limit int, scan func(rowScanner) (*T, error)) ([]*T, error) {
	s.b.WriteString(` ORDER BY ` + orderBy)
	if limit > 0 {
		s.b.WriteString(` LIMIT ?`)
		s.args = append(s.args, limit)
	}
	rows, err := q.db.QueryContext(ctx, s.b.String(), s.args...)
	return collect(rows, err, scan)
}

// found turns a single-row read's "no rows" into ErrNotFound naming what and id.
func found[T any](v *T, err error, what, id string) (*T, error) {
	if errors.Is(err, errNoRows) {
		return nil, notFound(what, id)
	}
	if err != nil {
		return nil, translate(err)
	}
	return v, nil
}
