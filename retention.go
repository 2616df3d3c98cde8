package onboarding

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RetentionPolicy says how long personal data is kept: what EraseCustomer may erase when,
// and what the hourly prune deletes. The zero value is the documented default of every
// field. A negative period turns that deletion off.
type RetentionPolicy struct {
	// KYCHold is how long the KYC evidence of a customer that became active is held after
	// the relationship's last activity (the anti-money-laundering duty to keep
	// identification records for five years after the relationship ends). Zero: five
	// calendar years. Customers that never became active are not held. It also dates the
	// deletion of superseded documents.
	KYCHold time.Duration
	// Hold, when set, replaces the rule above: it returns until when the customer's data
	// must be kept (the zero time: it may be erased now).
	Hold func(ctx context.Context, c *Customer, a CustomerActivity) time.Time

	// Deliveries is how long delivery attempts and delivered deliveries are kept. Default
	// DefaultDeliveryRetention. Dead and cancelled deliveries stay with their event.
	Deliveries time.Duration
	// Events is how long outbox events are kept, with whatever deliveries and attempts they
	// still have. Default DefaultEventRetention. The history is not events and stays.
	Events time.Duration
	// Abandoned is how long a registration may sit in pending_kyc untouched before the
	// prune erases it. Default DefaultAbandonedAfter.
	Abandoned time.Duration
	// MaxPerRun bounds how many rows of each kind one prune run deletes (erasures of
	// abandoned registrations count a tenth of it); the next run goes on. Default
	// DefaultPruneMaxPerRun.
	MaxPerRun int
}

// The defaults of RetentionPolicy.
const (
	// DefaultDeliveryRetention is how long delivery attempts and delivered deliveries are
	// kept.
	DefaultDeliveryRetention = 30 * 24 * time.Hour
	// DefaultEventRetention is how long outbox events are kept.
	DefaultEventRetention = 90 * 24 * time.Hour
	// DefaultAbandonedAfter is how long a pending_kyc registration may sit untouched.
	DefaultAbandonedAfter = 180 * 24 * time.Hour
	// DefaultPruneMaxPerRun bounds the rows of each kind one prune run deletes.
	DefaultPruneMaxPerRun = 20 * pruneBatch
	// DefaultKYCHoldYears is the default KYCHold, in calendar years.
	DefaultKYCHoldYears = 5
)

// CustomerActivity is what a retention rule knows about a customer's relationship.
type CustomerActivity struct {
	// EverActive says whether the customer ever reached active.
	EverActive bool
	// LastActivity is the latest change to the customer, its history, documents or offers.
	LastActivity time.Time
}

// validate reports negative settings that have no meaning.
func (p *RetentionPolicy) validate() []error {
	var errs []error
	if p.KYCHold < 0 {
		errs = append(errs, fmt.Errorf("%w: Retention.KYCHold must not be negative", ErrInvalidOptions))
	}
	if p.MaxPerRun < 0 {
		errs = append(errs, fmt.Errorf("%w: Retention.MaxPerRun must not be negative", ErrInvalidOptions))
	}
	return errs
}

// withDefaults returns p with every zero field set to its default.
func (p RetentionPolicy) withDefaults() RetentionPolicy {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.Deliveries, DefaultDeliveryRetention)
	def(&p.Events, DefaultEventRetention)
	def(&p.Abandoned, DefaultAbandonedAfter)
	if p.MaxPerRun == 0 {
		p.MaxPerRun = DefaultPruneMaxPerRun
	}
	return p
}

// holdEnd adds the KYC hold to t.
func (p *RetentionPolicy) holdEnd(t time.Time) time.Time {
	if p.KYCHold == 0 {
		return t.AddDate(DefaultKYCHoldYears, 0, 0)
	}
	return t.Add(p.KYCHold)
}

// holdStart is the latest decision whose hold has run out by now.
func (p *RetentionPolicy) holdStart(now time.Time) time.Time {
	if p.KYCHold == 0 {
		return now.AddDate(-DefaultKYCHoldYears, 0, 0)
	}
	return now.Add(-p.KYCHold)
}

// heldUntil is the end of the customer's retention hold; zero when none.
func (p *RetentionPolicy) heldUntil(ctx context.Context, c *Customer, a CustomerActivity) time.Time {
	if p.Hold != nil {
		return p.Hold(ctx, c, a)
	}
	if !a.EverActive {
		return time.Time{}
	}
	return p.holdEnd(a.LastActivity)
}

// errNoLongerAbandoned stops the erasure of a registration touched since it was listed.
var errNoLongerAbandoned = errors.New("onboarding: the registration is no longer abandoned")

// RetentionHoldError is returned by EraseCustomer when the customer's data is held until
// Until. It matches ErrRetentionHold.
type RetentionHoldError struct {
	CustomerID string
	Until      time.Time
}

// Error gives the date the hold ends.
func (e *RetentionHoldError) Error() string {
	return "onboarding: personal data under a retention hold until " + e.Until.UTC().Format(time.DateOnly) +
		" (EraseParams.Override sets it aside, with a reason)"
}

// Is makes errors.Is(err, ErrRetentionHold) true.
func (e *RetentionHoldError) Is(target error) bool { return target == ErrRetentionHold }

// activity gathers what the retention rule weighs, from rows read in the erasure's unit
// of work.
func activity(c *Customer, history []*Transition, docs []*Document, offers []*CreditOffer) CustomerActivity {
	a := CustomerActivity{EverActive: c.Status == StatusActive, LastActivity: c.UpdatedAt}
	later := func(t time.Time) {
		if t.After(a.LastActivity) {
			a.LastActivity = t
		}
	}
	for _, t := range history {
		a.EverActive = a.EverActive || t.To == StatusActive
		later(t.CreatedAt)
	}
	for _, d := range docs {
		later(d.UpdatedAt)
	}
	for _, o := range offers {
		later(o.UpdatedAt)
	}
	return a
}

// pruneRetention is the part of the hourly prune that enforces the RetentionPolicy: old
// delivery logs and events, documents past their hold, abandoned registrations. Each
// kind stops after MaxPerRun rows or when ctx ends (the job's lease); what is left waits
// for the next run, and every step selects its rows afresh, so a run cut short resumes.
func (s *Service) pruneRetention(ctx context.Context, now time.Time) (deleted int, erased int, err error) {
	p := &s.retain
	batched := func(period time.Duration, fn func(q Queries, before time.Time, limit int) (int, error)) error {
		if period < 0 {
			return nil
		}
		before := now.Add(-period)
		for total := 0; total < p.MaxPerRun && ctx.Err() == nil; {
			var n int
			err := s.store.InTx(ctx, func(ctx context.Context, q Queries) (err error) {
				n, err = fn(q, before, min(pruneBatch, p.MaxPerRun-total))
				return err
			})
			total += n
			deleted += n
			if err != nil {
				return err
			}
			if n < pruneBatch {
				return nil
			}
		}
		return nil
	}
	steps := []struct {
		period time.Duration
		fn     func(q Queries, before time.Time, limit int) (int, error)
	}{
		{p.Deliveries, func(q Queries, before time.Time, limit int) (int, error) {
			return q.PruneDeliveries(ctx, before, limit)
		}},
		{p.Deliveries, func(q Queries, before time.Time, limit int) (int, error) {
			return q.PruneDeliveryAttempts(ctx, before, limit)
		}},
		{p.Events, func(q Queries, before time.Time, limit int) (int, error) {
			return q.PruneEvents(ctx, before, limit)
		}},
	}
	for _, st := range steps {
		if err := batched(st.period, st.fn); err != nil {
			return deleted, erased, err
		}
	}
	n, err := s.pruneRetiredDocuments(ctx, now)
	deleted += n
	if err != nil {
		return deleted, erased, err
	}
	erased, err = s.eraseAbandoned(ctx, now)
	return deleted, erased, err
}

// pruneRetiredDocuments deletes the documents that were superseded or rejected once their
// item's final approval is older than the KYC hold: the blob first, then the row, so that a
// crash in between leaves a row whose next prune deletes the (missing) blob again.
func (s *Service) pruneRetiredDocuments(ctx context.Context, now time.Time) (int, error) {
	if s.retain.KYCHold < 0 {
		return 0, nil
	}
	before := s.retain.holdStart(now)
	deleted := 0
	for deleted < s.retain.MaxPerRun && ctx.Err() == nil {
		docs, err := s.store.ListRetiredDocuments(ctx, before, min(pruneBatch, s.retain.MaxPerRun-deleted))
		if err != nil {
			return deleted, err
		}
		for _, d := range docs {
			if err := s.blobs.Delete(ctx, d.Key); err != nil {
				return deleted, fmt.Errorf("onboarding: delete a retired document's blob: %w", err)
			}
			if err := s.store.DeleteDocument(ctx, d.PartnerID, d.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return deleted, err
			}
			deleted++
		}
		if len(docs) < pruneBatch {
			break
		}
	}
	return deleted, nil
}

// eraseAbandoned erases the registrations left in pending_kyc longer than the Abandoned
// period. Such customers never became active, so no hold applies (unless a custom Hold
// says otherwise: then they are skipped until it ends).
func (s *Service) eraseAbandoned(ctx context.Context, now time.Time) (int, error) {
	if s.retain.Abandoned < 0 {
		return 0, nil
	}
	limit := max(1, s.retain.MaxPerRun/10)
	cutoff := now.Add(-s.retain.Abandoned)
	stale, err := s.store.ListStaleCustomers(ctx, StatusPendingKYC, cutoff, limit)
	if err != nil {
		return 0, err
	}
	erased := 0
	for _, c := range stale {
		if ctx.Err() != nil {
			break
		}
		_, err := s.erase(ctx, c.PartnerID, c.ID, EraseParams{Actor: ActorRetention,
			Reason: "abandoned registration: pending_kyc untouched since " + c.UpdatedAt.UTC().Format(time.DateOnly)},
			func(cur *Customer) error {
				if cur.Status != StatusPendingKYC || !cur.UpdatedAt.Before(cutoff) {
					return errNoLongerAbandoned
				}
				return nil
			}, false)
		switch {
		case err == nil:
			erased++
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrRetentionHold), errors.Is(err, errNoLongerAbandoned):
			// Erased or touched meanwhile, or held by a custom rule.
		default:
			return erased, err
		}
	}
	return erased, nil
}
