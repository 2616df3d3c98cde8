package storeutil

import (
	"context"
	"encoding/json"
	"time"

	"github.com/onboardkit/onboarding"
)

// ---- onboarding.PrivacyQueries ----

// DeleteCustomer implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteCustomer(ctx context.Context, partnerID, id string, version int64) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.DeleteCustomer(ctx, partnerID, id, version) })
}

// count runs a write that says how many rows it touched.
func (ac *AutoCommit) count(ctx context.Context, fn func(q onboarding.Queries) (int, error)) (n int, err error) {
	err = ac.Write(ctx, func(q onboarding.Queries) error {
		n, err = fn(q)
		return err
	})
	return n, err
}

// DeleteCustomerDocuments implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteCustomerDocuments(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.DeleteCustomerDocuments(ctx, partnerID, customerID) })
}

// DeleteCustomerOffers implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteCustomerOffers(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.DeleteCustomerOffers(ctx, partnerID, customerID) })
}

// DeleteCustomerJobs implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteCustomerJobs(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.DeleteCustomerJobs(ctx, partnerID, customerID) })
}

// ScrubCustomerEvents implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) ScrubCustomerEvents(ctx context.Context, partnerID, customerID string, data json.RawMessage) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) {
		return q.ScrubCustomerEvents(ctx, partnerID, customerID, data)
	})
}

// ScrubCustomerDeliveries implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) ScrubCustomerDeliveries(ctx context.Context, partnerID, customerID string, now time.Time) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) {
		return q.ScrubCustomerDeliveries(ctx, partnerID, customerID, now)
	})
}

// ScrubCustomerDeliveryAttempts implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) ScrubCustomerDeliveryAttempts(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) {
		return q.ScrubCustomerDeliveryAttempts(ctx, partnerID, customerID)
	})
}

// ScrubCustomerHistory implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) ScrubCustomerHistory(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.ScrubCustomerHistory(ctx, partnerID, customerID) })
}

// ScrubCustomerAudit implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) ScrubCustomerAudit(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.ScrubCustomerAudit(ctx, partnerID, customerID) })
}

// DeleteIdempotencyKeysMentioning implements onboarding.PrivacyQueries: a write, through
// Write.
func (ac *AutoCommit) DeleteIdempotencyKeysMentioning(ctx context.Context, partnerID, needle string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) {
		return q.DeleteIdempotencyKeysMentioning(ctx, partnerID, needle)
	})
}

// PruneDeliveryAttempts implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) PruneDeliveryAttempts(ctx context.Context, before time.Time, limit int) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.PruneDeliveryAttempts(ctx, before, limit) })
}

// PruneDeliveries implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.PruneDeliveries(ctx, before, limit) })
}

// PruneEvents implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.PruneEvents(ctx, before, limit) })
}

// ListRetiredDocuments implements onboarding.PrivacyQueries: a read, on the Queries of
// Read.
func (ac *AutoCommit) ListRetiredDocuments(ctx context.Context, decidedBefore time.Time, limit int) ([]*onboarding.Document, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListRetiredDocuments(ctx, decidedBefore, limit)
}

// DeleteDocument implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteDocument(ctx context.Context, partnerID, id string) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.DeleteDocument(ctx, partnerID, id) })
}

// ListStaleCustomers implements onboarding.PrivacyQueries: a read, on the Queries of Read.
func (ac *AutoCommit) ListStaleCustomers(ctx context.Context, status onboarding.Status, updatedBefore time.Time, limit int) ([]*onboarding.Customer, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListStaleCustomers(ctx, status, updatedBefore, limit)
}

// DeleteCustomerBankAccounts implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteCustomerBankAccounts(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) {
		return q.DeleteCustomerBankAccounts(ctx, partnerID, customerID)
	})
}

// DeleteCustomerSimulations implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteCustomerSimulations(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) {
		return q.DeleteCustomerSimulations(ctx, partnerID, customerID)
	})
}

// DeleteCustomerBiometricsCodes implements onboarding.PrivacyQueries: a write, through Write.
func (ac *AutoCommit) DeleteCustomerBiometricsCodes(ctx context.Context, partnerID, customerID string) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) {
		return q.DeleteCustomerBiometricsCodes(ctx, partnerID, customerID)
	})
}

// LockCustomer implements onboarding.PrivacyQueries: a write, through Write (a lock
// outside a transaction holds nothing).
func (ac *AutoCommit) LockCustomer(ctx context.Context, partnerID, customerID string) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.LockCustomer(ctx, partnerID, customerID) })
}
