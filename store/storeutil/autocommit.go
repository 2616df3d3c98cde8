// Package storeutil holds building blocks for writing an onboarding.Store, shared by the
// stores of this module (store/memstore, store/bunstore) and meant for a lender writing a
// Store of their own.
package storeutil

import (
	"context"
	"time"

	"github.com/onboardkit/onboarding"
)

// ReadFunc returns the Queries that serve one read made outside any unit of work, and a
// function to call once that read is done (to release a lock, for instance; it must not
// be nil). It must not start a transaction: each read is one statement on its own.
//
// It returns a Queries instead of running a callback so that a read costs no closure: on
// a Store whose reads need no setup, ReadFrom makes one that allocates nothing.
type ReadFunc func(ctx context.Context) (q onboarding.Queries, done func())

// WriteFunc runs fn as one write made outside any unit of work, and returns its error.
// fn calls exactly one write method of q, once. WriteFunc does whatever the Store needs
// around such a write: wait for its turn on a single-writer database, commit it (if q is
// not already autocommitting), announce a job it enqueued once it has committed (see
// onboarding.JobListener). It may also run fn in a unit of work of its own: see WriteInTx.
type WriteFunc func(ctx context.Context, fn func(q onboarding.Queries) error) error

// AutoCommit implements onboarding.Queries (including onboarding.WebhookQueries) for the
// methods a Store offers outside InTx, where each read or write stands alone. It forwards
// every read to the Queries of Read and every write to Write, so that a Store writes only
// its queries (the Queries its InTx hands out) and those two functions, not one forwarding
// method per query. A Store embeds it, or a pointer to it, to gain those methods:
//
//	type Store struct {
//		storeutil.AutoCommit
//		db *sql.DB
//	}
//
//	func New(db *sql.DB) *Store {
//		s := &Store{db: db}
//		s.AutoCommit = storeutil.AutoCommit{
//			Read:  storeutil.ReadFrom(&queries{db: db}), // each read autocommits
//			Write: storeutil.WriteInTx(s.InTx),          // each write a unit of work
//		}
//		return s
//	}
//
// The reads are the Get, Find, List, Search and Count methods, DocumentKeyExists and NextJobAt; they go straight to
// the Queries of Read, without a closure or a transaction. Every other method changes the
// store (ClaimJobs and the Prune methods included) and goes through Write. Both fields
// must be set before use; an AutoCommit is safe for concurrent use when they are.
type AutoCommit struct {
	Read  ReadFunc
	Write WriteFunc
}

// AutoCommit implements onboarding.Queries: a new Queries method breaks the build here
// until it has its forwarder below.
var _ onboarding.Queries = (*AutoCommit)(nil)

// ReadFrom returns a ReadFunc serving every read on q, with nothing to release: for a q
// whose methods each run one statement outside any transaction (an autocommitting
// connection pool, say). It allocates nothing per read.
func ReadFrom(q onboarding.Queries) ReadFunc {
	return func(context.Context) (onboarding.Queries, func()) { return q, noop }
}

func noop() {}

// WriteInTx returns a WriteFunc running each write as a unit of work of its own through
// inTx, which is typically the Store's InTx method: the simplest write path, for a Store
// with nothing cheaper than a transaction for a single statement.
func WriteInTx(inTx func(ctx context.Context, fn func(ctx context.Context, q onboarding.Queries) error) error) WriteFunc {
	return func(ctx context.Context, fn func(q onboarding.Queries) error) error {
		return inTx(ctx, func(_ context.Context, q onboarding.Queries) error { return fn(q) })
	}
}

// ---- onboarding.Queries ----

// InsertCustomer implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertCustomer(ctx context.Context, c *onboarding.Customer) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertCustomer(ctx, c) })
}

// GetCustomer implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetCustomer(ctx context.Context, partnerID, id string) (*onboarding.Customer, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetCustomer(ctx, partnerID, id)
}

// FindCustomer implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) FindCustomer(ctx context.Context, partnerID, externalID, taxKey string) (*onboarding.Customer, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.FindCustomer(ctx, partnerID, externalID, taxKey)
}

// ListCustomers implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListCustomers(ctx context.Context, partnerID string, f onboarding.ListCustomersParams) ([]*onboarding.Customer, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListCustomers(ctx, partnerID, f)
}

// UpdateCustomer implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) UpdateCustomer(ctx context.Context, c *onboarding.Customer) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.UpdateCustomer(ctx, c) })
}

// InsertTransition implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertTransition(ctx context.Context, t *onboarding.Transition) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertTransition(ctx, t) })
}

// ListTransitions implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListTransitions(ctx context.Context, partnerID, customerID string) ([]*onboarding.Transition, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListTransitions(ctx, partnerID, customerID)
}

// InsertDocument implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertDocument(ctx context.Context, d *onboarding.Document) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertDocument(ctx, d) })
}

// GetDocument implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetDocument(ctx context.Context, partnerID, id string) (*onboarding.Document, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetDocument(ctx, partnerID, id)
}

// ListDocuments implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListDocuments(ctx context.Context, partnerID, customerID string) ([]*onboarding.Document, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListDocuments(ctx, partnerID, customerID)
}

// UpdateDocument implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) UpdateDocument(ctx context.Context, d *onboarding.Document) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.UpdateDocument(ctx, d) })
}

// DocumentKeyExists implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) DocumentKeyExists(ctx context.Context, key string) (bool, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.DocumentKeyExists(ctx, key)
}

// InsertOffer implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertOffer(ctx, o) })
}

// GetOffer implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetOffer(ctx context.Context, partnerID, id string) (*onboarding.CreditOffer, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetOffer(ctx, partnerID, id)
}

// ListOffers implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListOffers(ctx context.Context, partnerID string, f onboarding.ListOffersParams) ([]*onboarding.CreditOffer, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListOffers(ctx, partnerID, f)
}

// UpdateOffer implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) UpdateOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.UpdateOffer(ctx, o) })
}

// InsertEvent implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertEvent(ctx context.Context, e *onboarding.Event) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertEvent(ctx, e) })
}

// GetEvent implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetEvent(ctx context.Context, id string) (*onboarding.Event, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetEvent(ctx, id)
}

// ListEvents implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListEvents(ctx context.Context, partnerID string, f onboarding.ListEventsParams) ([]*onboarding.Event, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListEvents(ctx, partnerID, f)
}

// InsertJob implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertJob(ctx context.Context, j *onboarding.Job) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertJob(ctx, j) })
}

// GetJob implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetJob(ctx context.Context, id string) (*onboarding.Job, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetJob(ctx, id)
}

// ListJobs implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) ListJobs(ctx context.Context, f onboarding.ListJobsParams) ([]*onboarding.Job, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListJobs(ctx, f)
}

// ClaimJobs implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) ClaimJobs(ctx context.Context, p onboarding.ClaimParams) (jobs []*onboarding.Job, err error) {
	err = ac.Write(ctx, func(q onboarding.Queries) error { jobs, err = q.ClaimJobs(ctx, p); return err })
	return jobs, err
}

// CompleteJob implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) CompleteJob(ctx context.Context, id, worker string, now time.Time) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.CompleteJob(ctx, id, worker, now) })
}

// FailJob implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) FailJob(ctx context.Context, id, worker string, now time.Time, f onboarding.JobFailure) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.FailJob(ctx, id, worker, now, f) })
}

// ReplayJob implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) ReplayJob(ctx context.Context, id string, now time.Time) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.ReplayJob(ctx, id, now) })
}

// PruneJobs implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) PruneJobs(ctx context.Context, before time.Time, limit int) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.PruneJobs(ctx, before, limit) })
}

// PruneIdempotencyKeys implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error) {
	return ac.count(ctx, func(q onboarding.Queries) (int, error) { return q.PruneIdempotencyKeys(ctx, before, limit) })
}

// InsertIdempotencyKey implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) InsertIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertIdempotencyKey(ctx, k) })
}

// GetIdempotencyKey implements onboarding.Queries: a read, on the Queries of Read.
func (ac *AutoCommit) GetIdempotencyKey(ctx context.Context, partnerID, key string) (*onboarding.IdempotencyKey, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetIdempotencyKey(ctx, partnerID, key)
}

// CompleteIdempotencyKey implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) CompleteIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.CompleteIdempotencyKey(ctx, k) })
}

// DeleteIdempotencyKey implements onboarding.Queries: a write, through Write.
func (ac *AutoCommit) DeleteIdempotencyKey(ctx context.Context, partnerID, key string, createdAt time.Time) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.DeleteIdempotencyKey(ctx, partnerID, key, createdAt) })
}

// ---- onboarding.WebhookQueries ----

// InsertEndpoint implements onboarding.WebhookQueries: a write, through Write.
func (ac *AutoCommit) InsertEndpoint(ctx context.Context, e *onboarding.WebhookEndpoint) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertEndpoint(ctx, e) })
}

// GetEndpoint implements onboarding.WebhookQueries: a read, on the Queries of Read.
func (ac *AutoCommit) GetEndpoint(ctx context.Context, partnerID, id string) (*onboarding.WebhookEndpoint, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetEndpoint(ctx, partnerID, id)
}

// ListEndpoints implements onboarding.WebhookQueries: a read, on the Queries of Read.
func (ac *AutoCommit) ListEndpoints(ctx context.Context, partnerID string, f onboarding.ListEndpointsParams) ([]*onboarding.WebhookEndpoint, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListEndpoints(ctx, partnerID, f)
}

// UpdateEndpoint implements onboarding.WebhookQueries: a write, through Write.
func (ac *AutoCommit) UpdateEndpoint(ctx context.Context, e *onboarding.WebhookEndpoint) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.UpdateEndpoint(ctx, e) })
}

// DeleteEndpoint implements onboarding.WebhookQueries: a write, through Write.
func (ac *AutoCommit) DeleteEndpoint(ctx context.Context, partnerID, id string) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.DeleteEndpoint(ctx, partnerID, id) })
}

// InsertDelivery implements onboarding.WebhookQueries: a write, through Write.
func (ac *AutoCommit) InsertDelivery(ctx context.Context, d *onboarding.Delivery) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertDelivery(ctx, d) })
}

// GetDelivery implements onboarding.WebhookQueries: a read, on the Queries of Read.
func (ac *AutoCommit) GetDelivery(ctx context.Context, partnerID, id string) (*onboarding.Delivery, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.GetDelivery(ctx, partnerID, id)
}

// UpdateDelivery implements onboarding.WebhookQueries: a write, through Write.
func (ac *AutoCommit) UpdateDelivery(ctx context.Context, d *onboarding.Delivery) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.UpdateDelivery(ctx, d) })
}

// ListDeliveries implements onboarding.WebhookQueries: a read, on the Queries of Read.
func (ac *AutoCommit) ListDeliveries(ctx context.Context, partnerID string, f onboarding.ListDeliveriesParams) ([]*onboarding.Delivery, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListDeliveries(ctx, partnerID, f)
}

// InsertDeliveryAttempt implements onboarding.WebhookQueries: a write, through Write.
func (ac *AutoCommit) InsertDeliveryAttempt(ctx context.Context, a *onboarding.DeliveryAttempt) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.InsertDeliveryAttempt(ctx, a) })
}

// ListDeliveryAttempts implements onboarding.WebhookQueries: a read, on the Queries of Read.
func (ac *AutoCommit) ListDeliveryAttempts(ctx context.Context, partnerID, deliveryID string) ([]*onboarding.DeliveryAttempt, error) {
	q, done := ac.Read(ctx)
	defer done()
	return q.ListDeliveryAttempts(ctx, partnerID, deliveryID)
}

// LockPartner implements onboarding.Queries: a write (a lock outside a transaction holds
// nothing, but the write path is where a store's transactions are).
func (ac *AutoCommit) LockPartner(ctx context.Context, partnerID, scope string) error {
	return ac.Write(ctx, func(q onboarding.Queries) error { return q.LockPartner(ctx, partnerID, scope) })
}
