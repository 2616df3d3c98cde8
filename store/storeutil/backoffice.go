package storeutil

import (
	"context"

	"github.com/onboardkit/onboarding"
)

// ---- onboarding.BackofficeQueries ----

// SearchCustomers implements onboarding.BackofficeQueries: a read, on the Queries of Read.
func (ac *AutoCommit) SearchCustomers(ctx context.Context, f onboarding.SearchCustomersParams) ([]*onboarding.Customer, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.SearchCustomers(ctx, f)
}

// CountCustomers implements onboarding.BackofficeQueries: a read, on the Queries of Read.
func (ac *AutoCommit) CountCustomers(ctx context.Context, partnerID string) (map[onboarding.Status]int, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.CountCustomers(ctx, partnerID)
}

// ListAllDeliveries implements onboarding.BackofficeQueries: a read, on the Queries of Read.
func (ac *AutoCommit) ListAllDeliveries(ctx context.Context, f onboarding.ListAllDeliveriesParams) ([]*onboarding.Delivery, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListAllDeliveries(ctx, f)
}

// ListAllEndpoints implements onboarding.BackofficeQueries: a read, on the Queries of Read.
func (ac *AutoCommit) ListAllEndpoints(ctx context.Context, f onboarding.ListAllEndpointsParams) ([]*onboarding.WebhookEndpoint, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListAllEndpoints(ctx, f)
}

// InsertAuditEntry implements onboarding.BackofficeQueries: a write, through Write.
func (ac *AutoCommit) InsertAuditEntry(ctx context.Context, e *onboarding.AuditEntry) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertAuditEntry(ctx, e) })
}

// ListAuditEntries implements onboarding.BackofficeQueries: a read, on the Queries of Read.
func (ac *AutoCommit) ListAuditEntries(ctx context.Context, f onboarding.ListAuditParams) ([]*onboarding.AuditEntry, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListAuditEntries(ctx, f)
}
