package bunstore

import (
	"context"
	"time"

	"github.com/onboardkit/onboarding"
)

// The Store's own methods run each as one statement outside any unit of work (autocommit,
// or directly in the caller's transaction). On SQLite, writes take the write slot first.

// writeJobs is write for a job change that may have to be announced after it commits.
func (s *Store) writeJobs(ctx context.Context, f func(q *queries) error) error {
	if s.auto.notify != notifyAfter {
		return s.write(ctx, f)
	}
	q := *s.auto // ready is per statement: s.auto is shared
	if err := s.write(ctx, func(*queries) error { return f(&q) }); err != nil {
		return err
	}
	if q.ready {
		s.announcer.request()
	}
	return nil
}

// InsertCustomer implements onboarding.Queries.
func (s *Store) InsertCustomer(ctx context.Context, c *onboarding.Customer) error {
	return s.write(ctx, func(q *queries) error { return q.InsertCustomer(ctx, c) })
}

// GetCustomer implements onboarding.Queries.
func (s *Store) GetCustomer(ctx context.Context, partnerID, id string) (*onboarding.Customer, error) {
	return s.auto.GetCustomer(ctx, partnerID, id)
}

// FindCustomer implements onboarding.Queries.
func (s *Store) FindCustomer(ctx context.Context, partnerID, externalID, taxKey string) (*onboarding.Customer, error) {
	return s.auto.FindCustomer(ctx, partnerID, externalID, taxKey)
}

// ListCustomers implements onboarding.Queries.
func (s *Store) ListCustomers(ctx context.Context, partnerID string, f onboarding.ListCustomersParams) ([]*onboarding.Customer, error) {
	return s.auto.ListCustomers(ctx, partnerID, f)
}

// UpdateCustomer implements onboarding.Queries.
func (s *Store) UpdateCustomer(ctx context.Context, c *onboarding.Customer) error {
	return s.write(ctx, func(q *queries) error { return q.UpdateCustomer(ctx, c) })
}

// InsertTransition implements onboarding.Queries.
func (s *Store) InsertTransition(ctx context.Context, t *onboarding.Transition) error {
	return s.write(ctx, func(q *queries) error { return q.InsertTransition(ctx, t) })
}

// ListTransitions implements onboarding.Queries.
func (s *Store) ListTransitions(ctx context.Context, partnerID, customerID string) ([]*onboarding.Transition, error) {
	return s.auto.ListTransitions(ctx, partnerID, customerID)
}

// InsertDocument implements onboarding.Queries.
func (s *Store) InsertDocument(ctx context.Context, d *onboarding.Document) error {
	return s.write(ctx, func(q *queries) error { return q.InsertDocument(ctx, d) })
}

// GetDocument implements onboarding.Queries.
func (s *Store) GetDocument(ctx context.Context, partnerID, id string) (*onboarding.Document, error) {
	return s.auto.GetDocument(ctx, partnerID, id)
}

// ListDocuments implements onboarding.Queries.
func (s *Store) ListDocuments(ctx context.Context, partnerID, customerID string) ([]*onboarding.Document, error) {
	return s.auto.ListDocuments(ctx, partnerID, customerID)
}

// UpdateDocument implements onboarding.Queries.
func (s *Store) UpdateDocument(ctx context.Context, d *onboarding.Document) error {
	return s.write(ctx, func(q *queries) error { return q.UpdateDocument(ctx, d) })
}

// DocumentKeyExists implements onboarding.Queries.
func (s *Store) DocumentKeyExists(ctx context.Context, key string) (bool, error) {
	return s.auto.DocumentKeyExists(ctx, key)
}

// InsertOffer implements onboarding.Queries.
func (s *Store) InsertOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	return s.write(ctx, func(q *queries) error { return q.InsertOffer(ctx, o) })
}

// GetOffer implements onboarding.Queries.
func (s *Store) GetOffer(ctx context.Context, partnerID, id string) (*onboarding.CreditOffer, error) {
	return s.auto.GetOffer(ctx, partnerID, id)
}

// ListOffers implements onboarding.Queries.
func (s *Store) ListOffers(ctx context.Context, partnerID string, f onboarding.ListOffersParams) ([]*onboarding.CreditOffer, error) {
	return s.auto.ListOffers(ctx, partnerID, f)
}

// UpdateOffer implements onboarding.Queries.
func (s *Store) UpdateOffer(ctx context.Context, o *onboarding.CreditOffer) error {
	return s.write(ctx, func(q *queries) error { return q.UpdateOffer(ctx, o) })
}

// InsertEvent implements onboarding.Queries.
func (s *Store) InsertEvent(ctx context.Context, e *onboarding.Event) error {
	return s.write(ctx, func(q *queries) error { return q.InsertEvent(ctx, e) })
}

// GetEvent implements onboarding.Queries.
func (s *Store) GetEvent(ctx context.Context, id string) (*onboarding.Event, error) {
	return s.auto.GetEvent(ctx, id)
}

// ListEvents implements onboarding.Queries.
func (s *Store) ListEvents(ctx context.Context, partnerID string, f onboarding.ListEventsParams) ([]*onboarding.Event, error) {
	return s.auto.ListEvents(ctx, partnerID, f)
}

// InsertJob implements onboarding.Queries.
func (s *Store) InsertJob(ctx context.Context, j *onboarding.Job) error {
	return s.writeJobs(ctx, func(q *queries) error { return q.InsertJob(ctx, j) })
}

// GetJob implements onboarding.Queries.
func (s *Store) GetJob(ctx context.Context, id string) (*onboarding.Job, error) {
	return s.auto.GetJob(ctx, id)
}

// ListJobs implements onboarding.Queries.
func (s *Store) ListJobs(ctx context.Context, f onboarding.ListJobsParams) ([]*onboarding.Job, error) {
	return s.auto.ListJobs(ctx, f)
}

// ClaimJobs implements onboarding.Queries.
func (s *Store) ClaimJobs(ctx context.Context, p onboarding.ClaimParams) (jobs []*onboarding.Job, err error) {
	err = s.write(ctx, func(q *queries) error { jobs, err = q.ClaimJobs(ctx, p); return err })
	return jobs, err
}

// CompleteJob implements onboarding.Queries.
func (s *Store) CompleteJob(ctx context.Context, id, worker string, now time.Time) error {
	return s.write(ctx, func(q *queries) error { return q.CompleteJob(ctx, id, worker, now) })
}

// FailJob implements onboarding.Queries.
func (s *Store) FailJob(ctx context.Context, id, worker string, now time.Time, f onboarding.JobFailure) error {
	return s.writeJobs(ctx, func(q *queries) error { return q.FailJob(ctx, id, worker, now, f) })
}

// ReplayJob implements onboarding.Queries.
func (s *Store) ReplayJob(ctx context.Context, id string, now time.Time) error {
	return s.writeJobs(ctx, func(q *queries) error { return q.ReplayJob(ctx, id, now) })
}

// InsertIdempotencyKey implements onboarding.Queries.
func (s *Store) InsertIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	return s.write(ctx, func(q *queries) error { return q.InsertIdempotencyKey(ctx, k) })
}

// GetIdempotencyKey implements onboarding.Queries.
func (s *Store) GetIdempotencyKey(ctx context.Context, partnerID, key string) (*onboarding.IdempotencyKey, error) {
	return s.auto.GetIdempotencyKey(ctx, partnerID, key)
}

// CompleteIdempotencyKey implements onboarding.Queries.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	return s.write(ctx, func(q *queries) error { return q.CompleteIdempotencyKey(ctx, k) })
}

// DeleteIdempotencyKey implements onboarding.Queries.
func (s *Store) DeleteIdempotencyKey(ctx context.Context, partnerID, key string, createdAt time.Time) error {
	return s.write(ctx, func(q *queries) error { return q.DeleteIdempotencyKey(ctx, partnerID, key, createdAt) })
}

// PruneJobs implements onboarding.Queries.
func (s *Store) PruneJobs(ctx context.Context, before time.Time, limit int) (n int, err error) {
	err = s.write(ctx, func(q *queries) error { n, err = q.PruneJobs(ctx, before, limit); return err })
	return n, err
}

// PruneIdempotencyKeys implements onboarding.Queries.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time, limit int) (n int, err error) {
	err = s.write(ctx, func(q *queries) error { n, err = q.PruneIdempotencyKeys(ctx, before, limit); return err })
	return n, err
}
