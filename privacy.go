package onboarding

import (
	"context"
	"encoding/json"
	"time"
)

// PrivacyQueries are the reads and writes of the personal-data lifecycle: a customer's
// erasure (erasure.go), the retention periods the hourly prune enforces (retention.go) and
// the sealing of webhook secrets at rest (secrets.go). docs/privacy.md says what each
// removes and why.
//
// The erasure methods take the partner first like every other query and touch only that
// partner's rows. They run inside the erasure's unit of work; each returns how many rows
// it deleted or scrubbed, for the receipt.
type PrivacyQueries interface {
	// DeleteCustomer deletes the customer row if it is still at version: ErrNotFound when
	// there is no such customer, ErrConcurrentUpdate when its version moved on or a row
	// that references it (a document, an offer) appeared meanwhile. The rows that reference
	// it must be deleted first.
	DeleteCustomer(ctx context.Context, partnerID, id string, version int64) error
	// DeleteCustomerDocuments deletes the metadata rows of every document of the customer
	// (the blobs are the caller's to delete).
	DeleteCustomerDocuments(ctx context.Context, partnerID, customerID string) (int, error)
	// DeleteCustomerOffers deletes every credit offer of the customer, held ones too.
	DeleteCustomerOffers(ctx context.Context, partnerID, customerID string) (int, error)
	// DeleteCustomerJobs deletes every job about the customer (Job.CustomerID), whatever
	// its state.
	DeleteCustomerJobs(ctx context.Context, partnerID, customerID string) (int, error)
	// LockCustomer takes the customer's row for the rest of the transaction as a delete
	// would (SELECT … FOR UPDATE on PostgreSQL): units of work that already reference it
	// (an upload inserting a document) finish first, later ones wait and then find it
	// gone. Without it, an erasure and such a unit of work each hold a lock the other
	// needs. ErrNotFound when there is no such customer.
	LockCustomer(ctx context.Context, partnerID, customerID string) error
	// DeleteCustomerBankAccounts deletes the customer's bank account and its history.
	DeleteCustomerBankAccounts(ctx context.Context, partnerID, customerID string) (int, error)
	// DeleteCustomerSimulations deletes the customer's loan simulations.
	DeleteCustomerSimulations(ctx context.Context, partnerID, customerID string) (int, error)
	// DeleteCustomerBiometricsCodes deletes the customer's biometrics session codes.
	DeleteCustomerBiometricsCodes(ctx context.Context, partnerID, customerID string) (int, error)
	// ScrubCustomerEvents replaces the data of every event about the customer with data.
	ScrubCustomerEvents(ctx context.Context, partnerID, customerID string, data json.RawMessage) (int, error)
	// ScrubCustomerDeliveries clears the last error of every delivery of an event about
	// the customer and cancels those still pending (UpdatedAt = now).
	ScrubCustomerDeliveries(ctx context.Context, partnerID, customerID string, now time.Time) (int, error)
	// ScrubCustomerDeliveryAttempts clears the response and the error of every attempt at
	// delivering an event about the customer (a receiver may echo what it was sent).
	ScrubCustomerDeliveryAttempts(ctx context.Context, partnerID, customerID string) (int, error)
	// ScrubCustomerHistory empties the free-text reason of the customer's history rows,
	// keeping their event, statuses, actor and time.
	ScrubCustomerHistory(ctx context.Context, partnerID, customerID string) (int, error)
	// ScrubCustomerAudit empties the detail of the back-office audit entries about the
	// customer (a reviewer's or a denial's reason, a refusal's message), keeping their
	// actor, action, target and time.
	ScrubCustomerAudit(ctx context.Context, partnerID, customerID string) (int, error)
	// DeleteIdempotencyKeysMentioning deletes the partner's idempotency keys whose key or
	// stored response contains needle (a customer ID), whether expired or not.
	DeleteIdempotencyKeysMentioning(ctx context.Context, partnerID, needle string) (int, error)

	// PruneDeliveryAttempts deletes up to limit delivery attempts made before `before`
	// (any partner), and says how many.
	PruneDeliveryAttempts(ctx context.Context, before time.Time, limit int) (int, error)
	// PruneDeliveries deletes up to limit delivered deliveries delivered before `before`,
	// with their attempts, and says how many deliveries.
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
	// PruneEvents deletes up to limit events created before `before` that have no pending
	// delivery, with their deliveries and those deliveries' attempts, and says how many
	// events. History rows are not events and stay.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
	// ListRetiredDocuments returns up to limit documents (any partner) that no longer
	// stand for their KYC item and whose item was settled before decidedBefore: documents
	// superseded or rejected whose item has an approved document, the latest approved one
	// approved (UpdatedAt) before decidedBefore. Oldest first.
	ListRetiredDocuments(ctx context.Context, decidedBefore time.Time, limit int) ([]*Document, error)
	// DeleteDocument deletes one document row. ErrNotFound when there is none.
	DeleteDocument(ctx context.Context, partnerID, id string) error
	// ListStaleCustomers returns up to limit customers (any partner) in status whose last
	// change (UpdatedAt) is before updatedBefore, least recently changed first.
	ListStaleCustomers(ctx context.Context, status Status, updatedBefore time.Time, limit int) ([]*Customer, error)
}

// Purger is implemented by stores that can push the bytes of deleted rows out of their
// files once an erasure has committed. bunstore on SQLite, which runs with secure_delete
// on, checkpoints and truncates its write-ahead log, which still holds the old pages. The
// Service calls it after every erasure and after a run of the prune that erased; a failure
// is logged, not returned (the data is already deleted as far as every read can tell).
type Purger interface {
	PurgeDeleted(ctx context.Context) error
}
