package onboarding

import (
	"context"
	"time"
)

// Store persists everything the Service owns. Implementations: store/memstore (tests),
// store/bunstore (SQLite and PostgreSQL). Every implementation must pass the conformance
// suite in store/storetest.
//
// Queries on the Store itself run each in its own implicit transaction; InTx groups several
// into one unit of work.
type Store interface {
	Queries
	// InTx runs fn in a transaction: if fn returns an error (or panics) every write made
	// through q is rolled back; otherwise they commit together. Writes made through q
	// are visible to later reads through q. fn may be called only once; the Service
	// retries ErrConcurrentUpdate itself.
	InTx(ctx context.Context, fn func(ctx context.Context, q Queries) error) error
}

// Queries is the set of reads and writes a Store offers, inside or outside a transaction.
//
// Rules every implementation follows (storetest checks them):
//   - Every read and write of a partner's resource is scoped by partnerID: another
//     partner's row is ErrNotFound.
//   - Inserts violating a uniqueness rule return an error matching ErrConflict; for
//     customers a *ConflictError naming the field ("external_id" or the tax key's "cnpj"/"cpf").
//   - Compare-and-set updates return ErrConcurrentUpdate when the row changed meanwhile.
//   - Returned values are copies: mutating them never changes the stored state.
//   - Times round-trip with microsecond precision in UTC.
type Queries interface {
	WebhookQueries
	PrivacyQueries
	PartnerAPIQueries
	BackofficeQueries
	JobStatsQueries
	BatchQueries

	// InsertCustomer stores a new customer (Version 1). ErrConflict (a *ConflictError) when
	// the partner already has its external_id or tax key.
	InsertCustomer(ctx context.Context, c *Customer) error
	// GetCustomer returns a customer by ID.
	GetCustomer(ctx context.Context, partnerID, id string) (*Customer, error)
	// FindCustomer returns the customer holding the external ID or, if none, the tax key
	// (see Customer.TaxKey). Either may be empty. ErrNotFound when neither matches.
	FindCustomer(ctx context.Context, partnerID, externalID, taxKey string) (*Customer, error)
	// ListCustomers returns up to f.Limit customers after f.StartingAfter in the order f
	// asks for. f.Limit is already validated (1..101).
	ListCustomers(ctx context.Context, partnerID string, f ListCustomersParams) ([]*Customer, error)
	// UpdateCustomer writes c if the stored version is still c.Version, then sets
	// c.Version to the new version. ErrConcurrentUpdate otherwise, ErrConflict when the new
	// tax key is taken.
	UpdateCustomer(ctx context.Context, c *Customer) error

	// InsertTransition appends a history row.
	InsertTransition(ctx context.Context, t *Transition) error
	// ListTransitions returns a customer's history, oldest first.
	ListTransitions(ctx context.Context, partnerID, customerID string) ([]*Transition, error)

	// InsertDocument stores a document's metadata.
	InsertDocument(ctx context.Context, d *Document) error
	// GetDocument returns a document by ID.
	GetDocument(ctx context.Context, partnerID, id string) (*Document, error)
	// ListDocuments returns a customer's documents, oldest first.
	ListDocuments(ctx context.Context, partnerID, customerID string) ([]*Document, error)
	// UpdateDocument writes a document's status, rejection reason and UpdatedAt.
	UpdateDocument(ctx context.Context, d *Document) error
	// DocumentKeyExists reports whether any document row references the blob key (the
	// orphan sweeper asks).
	DocumentKeyExists(ctx context.Context, key string) (bool, error)

	// InsertOffer stores a credit offer (Version 1).
	InsertOffer(ctx context.Context, o *CreditOffer) error
	// GetOffer returns an offer by ID.
	GetOffer(ctx context.Context, partnerID, id string) (*CreditOffer, error)
	// ListOffers returns up to f.Limit offers after f.StartingAfter, newest first; offers
	// with a zero ReleasedAt only when f.IncludeHeld.
	ListOffers(ctx context.Context, partnerID string, f ListOffersParams) ([]*CreditOffer, error)
	// UpdateOffer writes o if the stored version is still o.Version (compare-and-set),
	// then sets o.Version to the new version.
	UpdateOffer(ctx context.Context, o *CreditOffer) error

	// InsertEvent appends an event to the outbox.
	InsertEvent(ctx context.Context, e *Event) error
	// GetEvent returns an event by ID (any partner: workers relay every partner's events).
	GetEvent(ctx context.Context, id string) (*Event, error)
	// ListEvents returns a partner's events, oldest first.
	ListEvents(ctx context.Context, partnerID string, f ListEventsParams) ([]*Event, error)

	// InsertJob enqueues a job.
	InsertJob(ctx context.Context, j *Job) error
	// GetJob returns a job by ID.
	GetJob(ctx context.Context, id string) (*Job, error)
	// ListJobs returns jobs, oldest first.
	ListJobs(ctx context.Context, f ListJobsParams) ([]*Job, error)
	// ClaimJobs leases up to p.Limit jobs that are available with RunAt <= p.Now, or
	// running with an expired lease, oldest RunAt first. Each claimed job is running,
	// locked by p.Worker until p.Now+p.Lease, with Attempt incremented. Concurrent claimers
	// never get the same job.
	ClaimJobs(ctx context.Context, p ClaimParams) ([]*Job, error)
	// CompleteJob marks a job completed if worker still holds its lease; else
	// ErrConcurrentUpdate.
	CompleteJob(ctx context.Context, id, worker string, now time.Time) error
	// FailJob records a failed attempt if worker still holds the lease: available again
	// at f.RetryAt, or dead. ErrConcurrentUpdate when the lease was lost.
	FailJob(ctx context.Context, id, worker string, now time.Time, f JobFailure) error
	// ReplayJob makes a dead job available again at now with its attempts reset.
	// ErrNotFound when no dead job has that ID.
	ReplayJob(ctx context.Context, id string, now time.Time) error

	// LockPartner serializes, until the end of the caller's transaction, the units of work
	// of partnerID that take the same scope: a rule such as "at most N endpoints per
	// partner" counts and inserts under it, and a concurrent unit of work waits instead of
	// counting the same rows. Outside InTx it locks nothing. Stores whose transactions
	// already run one at a time (SQLite's single writer, memstore) may do nothing.
	LockPartner(ctx context.Context, partnerID, scope string) error

	// PruneJobs deletes up to limit completed jobs that finished before `before`, and says
	// how many. Dead jobs are kept for their operator.
	PruneJobs(ctx context.Context, before time.Time, limit int) (int, error)
	// PruneIdempotencyKeys deletes up to limit idempotency keys that expired before
	// `before` (their stored responses hold personal data), and says how many.
	PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (int, error)

	// InsertIdempotencyKey records a new key in flight. When the partner already has the
	// key and it has not expired at k.CreatedAt, it returns ErrConflict and leaves the
	// stored row alone; an expired row is replaced.
	InsertIdempotencyKey(ctx context.Context, k *IdempotencyKey) error
	// GetIdempotencyKey returns a key's record.
	GetIdempotencyKey(ctx context.Context, partnerID, key string) (*IdempotencyKey, error)
	// CompleteIdempotencyKey stores the response of a key in flight. With a non-zero
	// k.CreatedAt only the record created then (by the same request) is completed, so a
	// request whose key was taken over by another cannot overwrite it: ErrNotFound then.
	CompleteIdempotencyKey(ctx context.Context, k *IdempotencyKey) error
	// DeleteIdempotencyKey forgets a key (its request failed in a way worth retrying).
	// With a non-zero createdAt only the record created then is deleted. Deleting a
	// missing key is not an error.
	DeleteIdempotencyKey(ctx context.Context, partnerID, key string, createdAt time.Time) error
}

// DeferredKeyInserter is an optional capability of the Queries a unit of work receives
// (the bunstore Store's have it): an idempotency key's insert that, where the store can
// (a unit of work on PostgreSQL), travels to the database with the unit of work's next
// statement, or with its commit when none follows, saving a round trip. Elsewhere it runs
// at once, either as InsertIdempotencyKey (ErrConflict for a key held, an expired row
// replaced) or as the plain insert it would have sent (ErrKeyInUse for any stored row, as
// on SQLite).
//
// A travelling insert returns nil at once. When the partner already has the key stored,
// expired or not, the statement it travels with fails with ErrKeyInUse instead, and so
// does the unit of work: an expired row is not replaced, and its caller deletes it
// (DeleteIdempotencyKey) and runs the unit of work again. CreateCustomer uses it for the
// key it inserts (KeyCompletion.Reserve).
type DeferredKeyInserter interface {
	InsertIdempotencyKeyDeferred(ctx context.Context, k *IdempotencyKey) error
}

// IdempotencyKey is the record of one Idempotency-Key (docs/http-api.md, "Idempotency"): the request it was first
// used with and, once done, the response to replay.
type IdempotencyKey struct {
	PartnerID string
	Key       string
	// RequestHash identifies the request (method, path, body); a different hash with the
	// same key is a misuse (422).
	RequestHash string
	// Completed is false while the first request is in flight (409 for a concurrent
	// retry).
	Completed      bool
	ResponseStatus int
	ResponseBody   []byte
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// Clone returns a deep copy of k.
func (k *IdempotencyKey) Clone() *IdempotencyKey {
	if k == nil {
		return nil
	}
	c := *k
	c.ResponseBody = append([]byte(nil), k.ResponseBody...)
	return &c
}

// JobListener is implemented by stores that announce jobs committed by any process, such
// as PostgreSQL with LISTEN/NOTIFY. Run listens when its Store has it, so that work
// enqueued by another replica starts at once instead of at the next poll.
type JobListener interface {
	// ListenJobs returns a channel that receives a value soon after jobs are committed
	// (signals may be coalesced). It is closed when ctx ends or the listener fails; Run
	// then falls back to polling.
	ListenJobs(ctx context.Context) (<-chan struct{}, error)
}

// SingleWriter is implemented by stores that say whether they run one write transaction
// at a time (SQLite, memstore) or several (PostgreSQL). Run does not depend on it (it
// writes the outcomes of concurrent webhook deliveries in shared statements on every
// store); it tells an application, or a test, what concurrency to expect of the store.
type SingleWriter interface {
	SingleWriter() bool
}

// WebhookQueries are the reads and writes of webhook endpoints and deliveries.
type WebhookQueries interface {
	// InsertEndpoint stores a webhook endpoint (Version 1).
	InsertEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// GetEndpoint returns an endpoint by ID.
	GetEndpoint(ctx context.Context, partnerID, id string) (*WebhookEndpoint, error)
	// ListEndpoints returns up to f.Limit endpoints after f.StartingAfter, oldest first,
	// with f.Status if set.
	ListEndpoints(ctx context.Context, partnerID string, f ListEndpointsParams) ([]*WebhookEndpoint, error)
	// UpdateEndpoint writes e if the stored version is still e.Version (compare-and-set),
	// then sets e.Version to the new version.
	UpdateEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// DeleteEndpoint removes an endpoint; its deliveries and their log stay.
	DeleteEndpoint(ctx context.Context, partnerID, id string) error

	// InsertDelivery stores a delivery of an event to an endpoint.
	InsertDelivery(ctx context.Context, d *Delivery) error
	// GetDelivery returns a delivery by ID.
	GetDelivery(ctx context.Context, partnerID, id string) (*Delivery, error)
	// UpdateDelivery writes a delivery's status, attempts, last result and times.
	UpdateDelivery(ctx context.Context, d *Delivery) error
	// ListDeliveries returns up to f.Limit deliveries after f.StartingAfter, newest first.
	ListDeliveries(ctx context.Context, partnerID string, f ListDeliveriesParams) ([]*Delivery, error)
	// InsertDeliveryAttempt appends to a delivery's log.
	InsertDeliveryAttempt(ctx context.Context, a *DeliveryAttempt) error
	// ListDeliveryAttempts returns a delivery's log, oldest first.
	ListDeliveryAttempts(ctx context.Context, partnerID, deliveryID string) ([]*DeliveryAttempt, error)
}
