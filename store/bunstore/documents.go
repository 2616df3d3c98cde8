package bunstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/money"
)

// ---- documents ----

const documentCols = `id, partner_id, customer_id, requirement_id, type, status, content_type, size, sha256, blob_key, filename, rejection_reason, created_at, updated_at`

func scanDocument(r rowScanner) (*onboarding.Document, error) {
	d := &onboarding.Document{}
	var typ, status, ct string
	if err := r.Scan(&d.ID, &d.PartnerID, &d.CustomerID, &d.RequirementID, &typ, &status, &ct, &d.Size, &d.SHA256,
		&d.Key, &d.Filename, &d.RejectionReason, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt}); err != nil {
		return nil, err
	}
	d.Type, d.Status, d.ContentType = onboarding.DocumentType(typ), onboarding.DocumentStatus(status), onboarding.Format(ct)
	return d, nil
}

const insertDocumentSQL = `INSERT INTO documents (` + documentCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// InsertDocument implements onboarding.Queries. The foreign key to the partner's customer
// makes a document of a missing (or another partner's) customer ErrNotFound.
func (q *queries) InsertDocument(ctx context.Context, d *onboarding.Document) error {
	_, err := q.db.ExecContext(ctx, insertDocumentSQL, d.ID, d.PartnerID, d.CustomerID, d.RequirementID, string(d.Type),
		string(d.Status), string(d.ContentType), d.Size, d.SHA256, d.Key, freeText(d.Filename), freeText(d.RejectionReason),
		q.ts(d.CreatedAt), q.ts(d.UpdatedAt))
	return translate(err)
}

// GetDocument implements onboarding.Queries.
func (q *queries) GetDocument(ctx context.Context, partnerID, id string) (*onboarding.Document, error) {
	v, err := scanDocument(q.db.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents WHERE id = ? AND partner_id = ?`, id, partnerID))
	return found(v, err, "document", id)
}

// ListDocuments implements onboarding.Queries: oldest (lowest ID) first.
func (q *queries) ListDocuments(ctx context.Context, partnerID, customerID string) ([]*onboarding.Document, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT `+documentCols+` FROM documents WHERE customer_id = ? AND partner_id = ? ORDER BY id`, customerID, partnerID)
	return collect(rows, err, scanDocument)
}

// UpdateDocument implements onboarding.Queries.
func (q *queries) UpdateDocument(ctx context.Context, d *onboarding.Document) error {
	res, err := q.db.ExecContext(ctx, `UPDATE documents SET status = ?, rejection_reason = ?, updated_at = ? WHERE id = ? AND partner_id = ?`,
		string(d.Status), freeText(d.RejectionReason), q.ts(d.UpdatedAt), d.ID, d.PartnerID)
	return affectedOne(res, err, func() error { return notFound("document", d.ID) })
}

// DocumentKeyExists implements onboarding.Queries.
func (q *queries) DocumentKeyExists(ctx context.Context, key string) (bool, error) {
	var ok bool
	err := q.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM documents WHERE blob_key = ?)`, key).Scan(&ok)
	return ok, translate(err)
}

// affectedOne checks that an UPDATE or DELETE hit a row; otherwise it returns none().
func affectedOne(res interface{ RowsAffected() (int64, error) }, err error, none func() error) error {
	if err != nil {
		return translate(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return none()
	}
	return nil
}

// ---- offers ----

const offerCols = `id, partner_id, customer_id, external_id, status, approved_amount, min_amount, monthly_interest_rate, installments, min_installments, max_installments, due_date_rule, valid_until, model, version, created_at, updated_at, released_at`

func scanOffer(r rowScanner) (*onboarding.CreditOffer, error) {
	o := &onboarding.CreditOffer{}
	var status string
	var approved, minAmount, rate int64
	if err := r.Scan(&o.ID, &o.PartnerID, &o.CustomerID, &o.ExternalID, &status, &approved, &minAmount, &rate,
		&o.Installments, &o.MinInstallments, &o.MaxInstallments, &o.DueDateRule, timeCol{&o.ValidUntil}, &o.Model,
		&o.Version, timeCol{&o.CreatedAt}, timeCol{&o.UpdatedAt}, timeCol{&o.ReleasedAt}); err != nil {
		return nil, err
	}
	o.Status, o.ApprovedAmount, o.MinAmount, o.MonthlyInterestRate = onboarding.OfferStatus(status),
		money.Money(approved), money.Money(minAmount), money.Rate(rate)
	return o, nil
}

const insertOfferSQL = `INSERT INTO credit_offers (` + offerCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`

// InsertOffer implements onboarding.Queries. Money and rates are exact integers.
func (q *queries) InsertOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	_, err := q.db.ExecContext(ctx, insertOfferSQL, o.ID, o.PartnerID, o.CustomerID, o.ExternalID, string(o.Status),
		int64(o.ApprovedAmount), int64(o.MinAmount), int64(o.MonthlyInterestRate), o.Installments, o.MinInstallments,
		o.MaxInstallments, o.DueDateRule, q.ts(o.ValidUntil), o.Model, q.ts(o.CreatedAt), q.ts(o.UpdatedAt),
		q.tsNull(o.ReleasedAt))
	if err != nil {
		return translate(err)
	}
	o.Version = 1
	return nil
}

// GetOffer implements onboarding.Queries.
func (q *queries) GetOffer(ctx context.Context, partnerID, id string) (*onboarding.CreditOffer, error) {
	v, err := scanOffer(q.db.QueryRowContext(ctx, `SELECT `+offerCols+` FROM credit_offers WHERE id = ? AND partner_id = ?`, id, partnerID))
	return found(v, err, "credit offer", id)
}

// ListOffers implements onboarding.Queries: newest (highest ID) first, keyset on the ID.
func (q *queries) ListOffers(ctx context.Context, partnerID string, f onboarding.ListOffersParams) ([]*onboarding.CreditOffer, error) {
	s := selectFrom(offerCols, `credit_offers`).
		where(true, `partner_id = ?`, partnerID).
		where(f.CustomerID != "", `customer_id = ?`, f.CustomerID).
		where(f.Status != "", `status = ?`, string(f.Status)).
		where(!f.IncludeHeld, `released_at IS NOT NULL`).
		where(f.StartingAfter != "", `id < ?`, f.StartingAfter)
	return all(ctx, q, s, `id DESC`, f.Limit, scanOffer)
}

const updateOfferSQL = `UPDATE credit_offers SET external_id = ?, status = ?, approved_amount = ?, min_amount = ?,
monthly_interest_rate = ?, installments = ?, min_installments = ?, max_installments = ?, due_date_rule = ?,
valid_until = ?, model = ?, released_at = ?, version = version + 1, updated_at = ?
WHERE id = ? AND partner_id = ? AND version = ?`

// UpdateOffer implements onboarding.Queries: compare-and-set on the version column. The
// customer and creation time never change.
func (q *queries) UpdateOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	res, err := q.db.ExecContext(ctx, updateOfferSQL, o.ExternalID, string(o.Status), int64(o.ApprovedAmount),
		int64(o.MinAmount), int64(o.MonthlyInterestRate), o.Installments, o.MinInstallments, o.MaxInstallments,
		o.DueDateRule, q.ts(o.ValidUntil), o.Model, q.tsNull(o.ReleasedAt), q.ts(o.UpdatedAt), o.ID, o.PartnerID, o.Version)
	err = affectedOne(res, err, func() error {
		var version int64
		err := q.db.QueryRowContext(ctx, `SELECT version FROM credit_offers WHERE id = ? AND partner_id = ?`, o.ID, o.PartnerID).Scan(&version)
		if errors.Is(err, errNoRows) {
			return notFound("credit offer", o.ID)
		}
		if err != nil {
			return translate(err)
		}
		return fmt.Errorf("%w: credit offer %s is at version %d, not %d", onboarding.ErrConcurrentUpdate, o.ID, version, o.Version)
	})
	if err != nil {
		return err
	}
	o.Version++
	return nil
}

// ---- outbox ----

const eventCols = `id, partner_id, type, customer_id, data, created_at`

func scanEvent(r rowScanner) (*onboarding.Event, error) {
	e := &onboarding.Event{}
	var typ string
	var data []byte
	if err := r.Scan(&e.ID, &e.PartnerID, &typ, &e.CustomerID, bytesCol{&data}, timeCol{&e.CreatedAt}); err != nil {
		return nil, err
	}
	e.Type, e.Data = onboarding.EventType(typ), data
	return e, nil
}

const insertEventSQL = `INSERT INTO events (` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?)`

// InsertEvent implements onboarding.Queries. Data is stored byte for byte.
func (q *queries) InsertEvent(ctx context.Context, e *onboarding.Event) error {
	_, err := q.db.ExecContext(ctx, insertEventSQL, e.ID, e.PartnerID, string(e.Type), e.CustomerID, textArg(e.Data), q.ts(e.CreatedAt))
	return translate(err)
}

// GetEvent implements onboarding.Queries (any partner).
func (q *queries) GetEvent(ctx context.Context, id string) (*onboarding.Event, error) {
	v, err := scanEvent(q.db.QueryRowContext(ctx, `SELECT `+eventCols+` FROM events WHERE id = ?`, id))
	return found(v, err, "event", id)
}

// ListEvents implements onboarding.Queries: oldest (lowest ID) first, keyset on the ID.
func (q *queries) ListEvents(ctx context.Context, partnerID string, f onboarding.ListEventsParams) ([]*onboarding.Event, error) {
	s := selectFrom(eventCols, `events`).
		where(true, `partner_id = ?`, partnerID).
		where(f.CustomerID != "", `customer_id = ?`, f.CustomerID).
		where(f.Type != "", `type = ?`, string(f.Type)).
		where(!f.CreatedFrom.IsZero(), `created_at >= ?`, q.ts(f.CreatedFrom)).
		where(f.StartingAfter != "", `id > ?`, f.StartingAfter)
	return all(ctx, q, s, `id`, f.Limit, scanEvent)
}

// ---- idempotency keys ----

const idemCols = `partner_id, idempotency_key, request_hash, completed, response_status, response_body, created_at, expires_at`

const insertIdemSQL = `INSERT INTO idempotency_keys (` + idemCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (partner_id, idempotency_key) DO UPDATE SET request_hash = excluded.request_hash,
completed = excluded.completed, response_status = excluded.response_status, response_body = excluded.response_body,
created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE idempotency_keys.expires_at <= excluded.created_at`

// InsertIdempotencyKey implements onboarding.Queries in one statement: an upsert that
// replaces the stored row only when it has expired at k.CreatedAt.
func (q *queries) InsertIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	res, err := q.db.ExecContext(ctx, insertIdemSQL, q.idemArgs(k)...)
	return affectedOne(res, err, func() error { return &onboarding.ConflictError{Field: "idempotency_key"} })
}

// idemArgs are the values of idemCols for k.
func (q *queries) idemArgs(k *onboarding.IdempotencyKey) []any {
	return []any{k.PartnerID, k.Key, k.RequestHash, k.Completed, k.ResponseStatus, blobArg(k.ResponseBody),
		q.ts(k.CreatedAt), q.ts(k.ExpiresAt)}
}

// deferredKeySQL inserts a key as a plain insert, which a stored key fails: on PostgreSQL
// it travels with another statement, its result unread, and deferringConn turns that
// failure into onboarding.ErrKeyInUse; on SQLite it runs at once
// (InsertIdempotencyKeyDeferred).
const deferredKeySQL = `INSERT INTO idempotency_keys (` + idemCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// InsertIdempotencyKeyDeferred implements onboarding.DeferredKeyInserter. In a unit of
// work on PostgreSQL (InTx) the insert is queued and sent with the unit of work's next
// statement, or before its commit. On SQLite there is no round trip to save: the same
// plain insert runs at once, which SQLite compiles faster than InsertIdempotencyKey's
// upsert (BenchmarkKeyReservation), and a stored key, expired or not, fails it with
// onboarding.ErrKeyInUse. Elsewhere (PostgreSQL in a caller's transaction) it is
// InsertIdempotencyKey.
func (q *queries) InsertIdempotencyKeyDeferred(ctx context.Context, k *onboarding.IdempotencyKey) error {
	args := q.idemArgs(k)
	switch {
	case q.later != nil:
		q.later.queue(deferredKeySQL, args...)
		return nil
	case q.pg:
		return q.InsertIdempotencyKey(ctx, k)
	}
	_, err := q.db.ExecContext(ctx, deferredKeySQL, args...)
	if err = translate(err); errors.Is(err, onboarding.ErrConflict) {
		return onboarding.ErrKeyInUse
	}
	return err
}

// GetIdempotencyKey implements onboarding.Queries.
func (q *queries) GetIdempotencyKey(ctx context.Context, partnerID, key string) (*onboarding.IdempotencyKey, error) {
	k := &onboarding.IdempotencyKey{}
	err := q.db.QueryRowContext(ctx, `SELECT `+idemCols+` FROM idempotency_keys WHERE partner_id = ? AND idempotency_key = ?`, partnerID, key).
		Scan(&k.PartnerID, &k.Key, &k.RequestHash, &k.Completed, &k.ResponseStatus, bytesCol{&k.ResponseBody},
			timeCol{&k.CreatedAt}, timeCol{&k.ExpiresAt})
	if errors.Is(err, errNoRows) {
		return nil, notFound("idempotency key", key)
	}
	if err != nil {
		return nil, translate(err)
	}
	return k, nil
}

// CompleteIdempotencyKey implements onboarding.Queries.
func (q *queries) CompleteIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	query := `UPDATE idempotency_keys SET completed = TRUE, response_status = ?, response_body = ?
WHERE partner_id = ? AND idempotency_key = ?`
	args := []any{k.ResponseStatus, blobArg(k.ResponseBody), k.PartnerID, k.Key}
	if !k.CreatedAt.IsZero() {
		query += ` AND created_at = ?`
		args = append(args, q.ts(k.CreatedAt))
	}
	res, err := q.db.ExecContext(ctx, query, args...)
	return affectedOne(res, err, func() error { return notFound("idempotency key", k.Key) })
}

// DeleteIdempotencyKey implements onboarding.Queries. Deleting a missing key is not an
// error.
func (q *queries) DeleteIdempotencyKey(ctx context.Context, partnerID, key string, createdAt time.Time) error {
	query := `DELETE FROM idempotency_keys WHERE partner_id = ? AND idempotency_key = ?`
	args := []any{partnerID, key}
	if !createdAt.IsZero() {
		query += ` AND created_at = ?`
		args = append(args, q.ts(createdAt))
	}
	_, err := q.db.ExecContext(ctx, query, args...)
	return translate(err)
}
