package bunstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/onboardkit/onboarding"
)

var (
	_ onboarding.PrivacyQueries = (*queries)(nil)
	_ onboarding.Purger         = (*Store)(nil)
)

// ---- erasure ----

// isForeignKeyViolation reports whether err is a foreign key violation of either database.
func isForeignKeyViolation(err error) bool {
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		return pgErr.Field('C') == pgForeignKeyViolation
	}
	return err != nil && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// DeleteCustomer implements onboarding.PrivacyQueries: compare-and-set on the version. A
// row still referencing the customer (inserted by a unit of work that raced the erasure)
// is ErrConcurrentUpdate, so that the erasure runs again and deletes it too.
func (q *queries) DeleteCustomer(ctx context.Context, partnerID, id string, version int64) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM customers WHERE id = ? AND partner_id = ? AND version = ?`, id, partnerID, version)
	if isForeignKeyViolation(err) {
		return fmt.Errorf("%w: rows referencing customer %s appeared meanwhile", onboarding.ErrConcurrentUpdate, id)
	}
	return affectedOne(res, err, func() error {
		var v int64
		err := q.db.QueryRowContext(ctx, `SELECT version FROM customers WHERE id = ? AND partner_id = ?`, id, partnerID).Scan(&v)
		if errors.Is(err, errNoRows) {
			return notFound("customer", id)
		}
		if err != nil {
			return translate(err)
		}
		return fmt.Errorf("%w: customer %s is at version %d, not %d", onboarding.ErrConcurrentUpdate, id, v, version)
	})
}

// exec runs a statement and returns how many rows it touched.
func (q *queries) exec(ctx context.Context, query string, args ...any) (int, error) {
	res, err := q.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}

// DeleteCustomerDocuments implements onboarding.PrivacyQueries.
func (q *queries) DeleteCustomerDocuments(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `DELETE FROM documents WHERE customer_id = ? AND partner_id = ?`, customerID, partnerID)
}

// DeleteCustomerOffers implements onboarding.PrivacyQueries.
func (q *queries) DeleteCustomerOffers(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `DELETE FROM credit_offers WHERE customer_id = ? AND partner_id = ?`, customerID, partnerID)
}

// DeleteCustomerJobs implements onboarding.PrivacyQueries.
func (q *queries) DeleteCustomerJobs(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `DELETE FROM jobs WHERE customer_id = ? AND customer_id <> '' AND partner_id = ?`, customerID, partnerID)
}

// ScrubCustomerEvents implements onboarding.PrivacyQueries.
func (q *queries) ScrubCustomerEvents(ctx context.Context, partnerID, customerID string, data json.RawMessage) (int, error) {
	return q.exec(ctx, `UPDATE events SET data = ? WHERE customer_id = ? AND partner_id = ?`, textArg(data), customerID, partnerID)
}

// customerEventsSQL selects the IDs of a customer's events (customer, partner).
const customerEventsSQL = `SELECT id FROM events WHERE customer_id = ? AND partner_id = ?`

// ScrubCustomerDeliveries implements onboarding.PrivacyQueries. Every SET expression reads
// the row as it was, so the pending ones are told apart in each.
func (q *queries) ScrubCustomerDeliveries(ctx context.Context, partnerID, customerID string, now time.Time) (int, error) {
	return q.exec(ctx, `UPDATE webhook_deliveries SET last_error = '',
status = CASE WHEN status = 'pending' THEN 'cancelled' ELSE status END,
next_attempt_at = CASE WHEN status = 'pending' THEN NULL ELSE next_attempt_at END,
updated_at = CASE WHEN status = 'pending' THEN ? ELSE updated_at END
WHERE partner_id = ? AND event_id IN (`+customerEventsSQL+`)`, q.ts(now), partnerID, customerID, partnerID)
}

// ScrubCustomerDeliveryAttempts implements onboarding.PrivacyQueries.
func (q *queries) ScrubCustomerDeliveryAttempts(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `UPDATE webhook_delivery_attempts SET response = '', error = ''
WHERE partner_id = ? AND delivery_id IN (SELECT id FROM webhook_deliveries WHERE partner_id = ? AND event_id IN (`+customerEventsSQL+`))`,
		partnerID, partnerID, customerID, partnerID)
}

// ScrubCustomerHistory implements onboarding.PrivacyQueries.
func (q *queries) ScrubCustomerHistory(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `UPDATE transitions SET reason = '' WHERE customer_id = ? AND partner_id = ?`, customerID, partnerID)
}

// ScrubCustomerAudit implements onboarding.PrivacyQueries.
func (q *queries) ScrubCustomerAudit(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `UPDATE audit_log SET detail = '' WHERE customer_id = ? AND customer_id <> '' AND partner_id = ? AND detail <> ''`,
		customerID, partnerID)
}

// DeleteIdempotencyKeysMentioning implements onboarding.PrivacyQueries: a scan of the
// partner's keys (which the prune keeps to their TTL), searching the key and the stored
// response's bytes.
func (q *queries) DeleteIdempotencyKeysMentioning(ctx context.Context, partnerID, needle string) (int, error) {
	if needle == "" {
		return 0, nil
	}
	if q.pg {
		return q.exec(ctx, `DELETE FROM idempotency_keys WHERE partner_id = ?
AND (strpos(idempotency_key, ?) > 0 OR position(convert_to(?, 'UTF8') IN response_body) > 0)`, partnerID, needle, needle)
	}
	return q.exec(ctx, `DELETE FROM idempotency_keys WHERE partner_id = ?
AND (instr(idempotency_key, ?) > 0 OR instr(response_body, CAST(? AS BLOB)) > 0)`, partnerID, needle, needle)
}

// ---- retention ----

// PruneDeliveryAttempts implements onboarding.PrivacyQueries.
func (q *queries) PruneDeliveryAttempts(ctx context.Context, before time.Time, limit int) (int, error) {
	return q.exec(ctx, `DELETE FROM webhook_delivery_attempts WHERE seq IN
(SELECT seq FROM webhook_delivery_attempts WHERE created_at < ? ORDER BY created_at LIMIT ?)`, q.ts(before), limit)
}

// ids runs a query selecting one text column.
func (q *queries) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := q.db.QueryContext(ctx, query, args...)
	list, err := collect(rows, err, func(r rowScanner) (*string, error) {
		var id string
		return &id, r.Scan(&id)
	})
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = *p
	}
	return out, err
}

// in returns "(?, ?, …)" and the arguments for a list of IDs.
func in(ids []string) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(" + placeholders(len(ids)) + ")", args
}

// deleteDeliveries deletes the deliveries whose column col is in ids, with their
// attempts.
func (q *queries) deleteDeliveries(ctx context.Context, col string, ids []string) (int, error) {
	set, args := in(ids)
	if _, err := q.exec(ctx, `DELETE FROM webhook_delivery_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE `+col+` IN `+set+`)`, args...); err != nil {
		return 0, err
	}
	return q.exec(ctx, `DELETE FROM webhook_deliveries WHERE `+col+` IN `+set, args...)
}

// PruneDeliveries implements onboarding.PrivacyQueries.
func (q *queries) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	ids, err := q.ids(ctx, `SELECT id FROM webhook_deliveries WHERE status = 'delivered' AND delivered_at < ?
ORDER BY delivered_at LIMIT ?`, q.ts(before), limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return q.deleteDeliveries(ctx, "id", ids)
}

// PruneEvents implements onboarding.PrivacyQueries.
func (q *queries) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	ids, err := q.ids(ctx, `SELECT id FROM events e WHERE created_at < ?
AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
ORDER BY created_at LIMIT ?`, q.ts(before), limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	if _, err := q.deleteDeliveries(ctx, "event_id", ids); err != nil {
		return 0, err
	}
	set, args := in(ids)
	return q.exec(ctx, `DELETE FROM events WHERE id IN `+set, args...)
}

// ListRetiredDocuments implements onboarding.PrivacyQueries.
func (q *queries) ListRetiredDocuments(ctx context.Context, decidedBefore time.Time, limit int) ([]*onboarding.Document, error) {
	const sameItem = `a.customer_id = d.customer_id AND a.partner_id = d.partner_id AND a.requirement_id = d.requirement_id AND a.status = 'approved'`
	s := selectFrom(documentCols, `documents d`).
		where(true, `d.status IN ('superseded', 'rejected')`).
		where(true, `EXISTS (SELECT 1 FROM documents a WHERE `+sameItem+`)`).
		where(true, `NOT EXISTS (SELECT 1 FROM documents a WHERE `+sameItem+` AND a.updated_at >= ?)`, q.ts(decidedBefore))
	return all(ctx, q, s, `d.id`, limit, scanDocument)
}

// DeleteDocument implements onboarding.PrivacyQueries.
func (q *queries) DeleteDocument(ctx context.Context, partnerID, id string) error {
	res, err := q.db.ExecContext(ctx, `DELETE FROM documents WHERE id = ? AND partner_id = ?`, id, partnerID)
	return affectedOne(res, err, func() error { return notFound("document", id) })
}

// ListStaleCustomers implements onboarding.PrivacyQueries.
func (q *queries) ListStaleCustomers(ctx context.Context, status onboarding.Status, updatedBefore time.Time, limit int) ([]*onboarding.Customer, error) {
	s := selectFrom(customerCols, `customers`).
		where(true, `status = ?`, string(status)).
		where(true, `updated_at < ?`, q.ts(updatedBefore))
	return all(ctx, q, s, `updated_at, id`, limit, scanCustomer)
}

// ---- secrets ----

// ---- the bytes on disk ----

// PurgeDeleted implements onboarding.Purger. On SQLite, which the Store's OpenSQLite
// opens with secure_delete (deleted and overwritten content is zeroed in the database
// file), it checkpoints the write-ahead log into the database and truncates it: until
// then the log still holds the old pages. It waits for readers of older snapshots up to
// the busy timeout, and tries a few times. On PostgreSQL it does nothing: dead row
// versions stay in the table files until VACUUM FULL rewrites them (see Vacuum).
func (s *Store) PurgeDeleted(ctx context.Context) error {
	if s.pg || s.inTx {
		return nil
	}
	release, err := s.acquireAlone(ctx)
	if err != nil {
		return err
	}
	defer release()
	var busy, logFrames, checkpointed int
	for attempt := 0; ; attempt++ {
		err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed)
		if err != nil {
			return fmt.Errorf("bunstore: checkpoint: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if attempt == 4 {
			return fmt.Errorf("bunstore: checkpoint: readers kept the write-ahead log busy (%d of %d frames copied)", checkpointed, logFrames)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(50<<attempt) * time.Millisecond):
		}
	}
}

// personalTables are the tables that hold, or held, personal data: what Vacuum rewrites.
var personalTables = []string{"customers", "transitions", "documents", "credit_offers", "events", "jobs",
	"idempotency_keys", "webhook_endpoints", "webhook_deliveries", "webhook_delivery_attempts"}

// Vacuum rewrites the tables that hold personal data so that the bytes of deleted and
// scrubbed rows leave the database files. On PostgreSQL a plain VACUUM only marks dead row
// versions reusable (their bytes stay in the pages until overwritten), so full runs VACUUM
// FULL, which rewrites each table and its indexes into new files and takes an exclusive
// lock on each while it does: run it in a maintenance window. On SQLite full is ignored
// and VACUUM rebuilds the file (needed once for a database created before secure_delete
// was on), then the write-ahead log is truncated.
func (s *Store) Vacuum(ctx context.Context, full bool) error {
	if s.inTx {
		return errors.New("bunstore: Vacuum cannot run inside a transaction")
	}
	if !s.pg {
		release, err := s.acquireAlone(ctx)
		if err != nil {
			return err
		}
		_, err = s.db.ExecContext(ctx, `VACUUM`)
		release()
		if err != nil {
			return fmt.Errorf("bunstore: vacuum: %w", err)
		}
		return s.PurgeDeleted(ctx)
	}
	cmd := "VACUUM "
	if full {
		cmd = "VACUUM FULL "
	}
	if _, err := s.db.ExecContext(ctx, cmd+strings.Join(personalTables, ", ")); err != nil {
		return fmt.Errorf("bunstore: vacuum: %w", err)
	}
	return nil
}

// DeleteCustomerBankAccounts implements onboarding.PrivacyQueries.
func (q *queries) DeleteCustomerBankAccounts(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `DELETE FROM bank_accounts WHERE customer_id = ? AND partner_id = ?`, customerID, partnerID)
}

// DeleteCustomerSimulations implements onboarding.PrivacyQueries.
func (q *queries) DeleteCustomerSimulations(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `DELETE FROM simulations WHERE customer_id = ? AND partner_id = ?`, customerID, partnerID)
}

// DeleteCustomerBiometricsCodes implements onboarding.PrivacyQueries.
func (q *queries) DeleteCustomerBiometricsCodes(ctx context.Context, partnerID, customerID string) (int, error) {
	return q.exec(ctx, `DELETE FROM biometrics_codes WHERE customer_id = ? AND partner_id = ?`, customerID, partnerID)
}

// LockCustomer implements onboarding.PrivacyQueries. SQLite's transactions already hold
// the database's one write lock.
func (q *queries) LockCustomer(ctx context.Context, partnerID, customerID string) error {
	query := `SELECT id FROM customers WHERE id = ? AND partner_id = ?`
	if q.pg {
		query += ` FOR UPDATE`
	}
	var id string
	err := q.db.QueryRowContext(ctx, query, customerID, partnerID).Scan(&id)
	_, err = found(&id, err, "customer", customerID)
	return err
}
