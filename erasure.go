package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The erasure capability: a customer's personal data removed on request (the data
// subject's right to deletion) or at the end of its retention, with the audit skeleton
// kept. docs/privacy.md says what is removed, what is kept and why.

// EventErase is recorded in the history when a customer is erased: the actor, the reason
// and, when a retention hold was set aside, the override. It is not an FSM event; From and
// To are the status the customer had.
const EventErase LifecycleEvent = "erase"

// ActorRetention is the history actor of the erasures the hourly prune makes.
const ActorRetention = "system:retention"

// EraseParams are the who and why of an erasure, recorded in the history.
type EraseParams struct {
	// Actor is who asked (a back-office user, "dpo", ...). Default "back_office".
	Actor string
	// Reason is required: why the data is erased (the data subject's request and its
	// reference, say). It is kept in the history after the erasure, so it must not hold
	// personal data itself.
	Reason string
	// Override erases a customer whose data the RetentionPolicy still holds. The
	// override and the end of the hold it set aside are recorded with the reason.
	Override bool
}

// ErasureAction says what happened to one kind of data.
type ErasureAction string

// The erasure actions.
const (
	// ErasureDeleted: the rows (or blobs) are gone.
	ErasureDeleted ErasureAction = "deleted"
	// ErasureScrubbed: the rows stay for the audit trail or the delivery log, without
	// their personal data.
	ErasureScrubbed ErasureAction = "scrubbed"
)

// ErasedData is one line of an erasure receipt.
type ErasedData struct {
	// What names the data: "customer", "documents", "document_blobs", "credit_offers",
	// "events", "webhook_deliveries", "webhook_delivery_attempts", "idempotency_keys",
	// "jobs", "bank_accounts", "simulations", "biometrics_codes", "history_reasons",
	// "audit_details".
	What   string        `json:"what"`
	Action ErasureAction `json:"action"`
	Count  int           `json:"count"`
}

// Erasure is the receipt of an erasure, for the controller's records.
type Erasure struct {
	PartnerID  string    `json:"partner_id"`
	CustomerID string    `json:"customer_id"`
	Actor      string    `json:"actor"`
	Reason     string    `json:"reason"`
	Override   bool      `json:"override"`
	ErasedAt   time.Time `json:"erased_at"`
	// HeldUntil is the end of the retention hold the erasure overrode; zero when none.
	HeldUntil time.Time `json:"held_until,omitzero"`
	// Removed lists what was deleted or scrubbed, kind by kind.
	Removed []ErasedData `json:"removed"`
	// Documents are the IDs of the documents whose bytes are deleted.
	Documents []string `json:"documents"`
	// BlobJobID is the job that deletes the documents' bytes for good. The bytes were
	// already deleted when BlobsDeleted is true; otherwise the job finishes it when a
	// worker runs (Run or Work), retrying until the BlobStore answers.
	BlobJobID    string `json:"blob_job_id"`
	BlobsDeleted bool   `json:"blobs_deleted"`
}

// erasedEventData replaces the data of an erased customer's events.
var erasedEventData = json.RawMessage(`{"erased":true}`)

// scrubber removes one kind of a customer's personal data, inside the erasure's unit of
// work, and says how many rows it touched.
type scrubber struct {
	what   string
	action ErasureAction
	run    func(ctx context.Context, q Queries, partnerID, customerID string, now time.Time) (int, error)
}

// ignoreTime adapts a scrub that does not need the erasure's time.
func ignoreTime(f func(Queries, context.Context, string, string) (int, error)) func(context.Context, Queries, string, string, time.Time) (int, error) {
	return func(ctx context.Context, q Queries, partnerID, customerID string, _ time.Time) (int, error) {
		return f(q, ctx, partnerID, customerID)
	}
}

// scrubbers are run in order by every erasure, before the customer row is deleted. A
// table that holds a customer's personal data adds its line here (rows that reference
// the customer row by a foreign key must be deleted here, since the customer row goes
// last).
var scrubbers = []scrubber{
	{"history_reasons", ErasureScrubbed, ignoreTime(Queries.ScrubCustomerHistory)},
	{"audit_details", ErasureScrubbed, ignoreTime(Queries.ScrubCustomerAudit)},
	{"events", ErasureScrubbed, func(ctx context.Context, q Queries, p, c string, _ time.Time) (int, error) {
		return q.ScrubCustomerEvents(ctx, p, c, erasedEventData)
	}},
	{"webhook_deliveries", ErasureScrubbed, func(ctx context.Context, q Queries, p, c string, now time.Time) (int, error) {
		return q.ScrubCustomerDeliveries(ctx, p, c, now)
	}},
	{"webhook_delivery_attempts", ErasureScrubbed, ignoreTime(Queries.ScrubCustomerDeliveryAttempts)},
	// Stored API responses about the customer, and its biometrics session reservation
	// (an idempotency key named after it).
	{"idempotency_keys", ErasureDeleted, ignoreTime(Queries.DeleteIdempotencyKeysMentioning)},
	{"jobs", ErasureDeleted, ignoreTime(Queries.DeleteCustomerJobs)},
	{"credit_offers", ErasureDeleted, ignoreTime(Queries.DeleteCustomerOffers)},
	{"documents", ErasureDeleted, ignoreTime(Queries.DeleteCustomerDocuments)},
	{"bank_accounts", ErasureDeleted, ignoreTime(Queries.DeleteCustomerBankAccounts)},
	{"simulations", ErasureDeleted, ignoreTime(Queries.DeleteCustomerSimulations)},
	{"biometrics_codes", ErasureDeleted, ignoreTime(Queries.DeleteCustomerBiometricsCodes)},
}

// registerErasure registers the job that deletes an erased customer's document blobs.
func (s *Service) registerErasure() {
	s.handle(JobEraseDocuments, handle(s.eraseDocuments))
}

// BlobPrefixDeleter is implemented by a BlobStore that can delete every object under a
// key prefix (package blobstore does). An erasure then also deletes whatever else is
// stored under the customer's prefix, such as the blob of an upload that lost the race
// with the erasure.
type BlobPrefixDeleter interface {
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// CustomerBlobPrefix is the key prefix of every blob of a customer (see DocumentKey).
func CustomerBlobPrefix(partnerID, customerID string) string {
	return "partners/" + partnerID + "/customers/" + customerID + "/"
}

// EraseCustomer erases a customer's personal data for good: in one unit of work it
// deletes the customer, its documents' rows and its offers, scrubs its events, their
// webhook deliveries and delivery log, deletes the API responses stored about it and its
// jobs, empties the free-text reasons of its history, and records the erasure in the
// history with a durable job that deletes the documents' bytes (superseded ones too). It
// then deletes those bytes at once when it can; the job finishes it otherwise, after a
// crash included. Afterwards GetCustomer and every read of the customer answer ErrNotFound,
// while History still answers: the audit skeleton (events, statuses, actors, times) stays.
//
// A customer whose data the RetentionPolicy holds (by default an active customer's KYC
// evidence, for five years after the last activity) is not erased: the error is a
// *RetentionHoldError (ErrRetentionHold) with the date, unless p.Override.
func (s *Service) EraseCustomer(ctx context.Context, partnerID, customerID string, p EraseParams) (*Erasure, error) {
	p.Actor, p.Reason = strings.TrimSpace(p.Actor), strings.TrimSpace(p.Reason)
	ve := &ValidationError{}
	checkText(ve, "reason", p.Reason, true, maxReasonLen)
	checkText(ve, "actor", p.Actor, false, maxNameLen)
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	if p.Actor == "" {
		p.Actor = "back_office"
	}
	return s.erase(ctx, partnerID, customerID, p, nil, true)
}

// erase is EraseCustomer after validation. guard, when set, checks the customer read in
// the unit of work (still abandoned, say) and its error stops the erasure; purge says
// whether to purge the store's files at once (the prune purges once per run instead).
func (s *Service) erase(ctx context.Context, partnerID, customerID string, p EraseParams, guard func(*Customer) error, purge bool) (*Erasure, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	var er *Erasure
	var keys []string
	for attempt := 0; ; attempt++ {
		var err error
		er, keys, err = s.eraseRows(ctx, partnerID, customerID, p, guard)
		if errors.Is(err, ErrConcurrentUpdate) && attempt < maxCASRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	s.notify()
	// The bytes at once when the BlobStore answers; the job deletes them again (a missing
	// blob is no error) and is the guarantee.
	er.BlobsDeleted = s.deleteErasedBlobs(ctx, partnerID, customerID, keys) == nil
	if purge {
		s.purge(ctx)
	}
	return er, nil
}

// eraseRows is the erasure's unit of work.
func (s *Service) eraseRows(ctx context.Context, partnerID, customerID string, p EraseParams, guard func(*Customer) error) (*Erasure, []string, error) {
	var er *Erasure
	var keys []string
	err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		now := s.clock()
		// The row lock first, as the delete at the end will take it: a unit of work that
		// inserted a row referencing the customer holds a share of it, and must finish
		// before the erasure takes anything it would wait for.
		if err := q.LockCustomer(ctx, partnerID, customerID); err != nil {
			return err
		}
		c, err := q.GetCustomer(ctx, partnerID, customerID)
		if err != nil {
			return err
		}
		if guard != nil {
			if err := guard(c); err != nil {
				return err
			}
		}
		history, err := q.ListTransitions(ctx, partnerID, customerID)
		if err != nil {
			return err
		}
		docs, err := q.ListDocuments(ctx, partnerID, customerID)
		if err != nil {
			return err
		}
		offers, err := q.ListOffers(ctx, partnerID, ListOffersParams{CustomerID: customerID, IncludeHeld: true})
		if err != nil {
			return err
		}
		er = &Erasure{PartnerID: partnerID, CustomerID: customerID, Actor: p.Actor, Reason: p.Reason,
			ErasedAt: now, Documents: []string{}}
		reason := p.Reason
		if until := s.retain.heldUntil(ctx, c, activity(c, history, docs, offers)); until.After(now) {
			if !p.Override {
				return &RetentionHoldError{CustomerID: customerID, Until: until}
			}
			er.Override, er.HeldUntil = true, until
			reason = "override of the retention hold until " + until.UTC().Format(time.DateOnly) + ": " + reason
		}
		// First, a compare-and-set write of the row: it settles the race with any unit of
		// work on the customer in flight (which then fails or retries and finds nothing),
		// and takes the row lock on PostgreSQL before the rows that reference it go.
		from := c.Status
		c.Name, c.Email, c.Phone, c.TradingName, c.KYC, c.UpdatedAt = "", "", "", "", nil, now
		if err := q.UpdateCustomer(ctx, c); err != nil {
			return err
		}
		for _, sc := range scrubbers {
			n, err := sc.run(ctx, q, partnerID, customerID, now)
			if err != nil {
				return fmt.Errorf("onboarding: erase %s: %w", sc.what, err)
			}
			er.Removed = append(er.Removed, ErasedData{What: sc.what, Action: sc.action, Count: n})
		}
		if err := q.DeleteCustomer(ctx, partnerID, customerID, c.Version); err != nil {
			return err
		}
		er.Removed = append(er.Removed, ErasedData{What: "customer", Action: ErasureDeleted, Count: 1})
		keys = keys[:0]
		for _, d := range docs {
			keys = append(keys, d.Key)
			er.Documents = append(er.Documents, d.ID)
		}
		er.Removed = append(er.Removed, ErasedData{What: "document_blobs", Action: ErasureDeleted, Count: len(keys)})
		if err := q.InsertTransition(ctx, &Transition{ID: NewID(prefixTransition), PartnerID: partnerID,
			CustomerID: customerID, Event: EventErase, From: from, To: from, Actor: p.Actor, Reason: reason,
			CreatedAt: now}); err != nil {
			return err
		}
		j := newJob(eraseDocumentsArgs{Keys: keys}, jobFor{PartnerID: partnerID, CustomerID: customerID}, now)
		er.BlobJobID = j.ID
		return q.InsertJob(ctx, j)
	})
	return er, keys, err
}

// eraseDocuments is the job that deletes an erased customer's blobs: every key it was
// given and, when the BlobStore can, everything left under the customer's prefix.
func (s *Service) eraseDocuments(ctx context.Context, j *Job, a eraseDocumentsArgs) error {
	if err := s.deleteErasedBlobs(ctx, j.PartnerID, j.CustomerID, a.Keys); err != nil {
		return err
	}
	return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
}

// deleteErasedBlobs deletes keys, then the customer's prefix when the BlobStore can.
func (s *Service) deleteErasedBlobs(ctx context.Context, partnerID, customerID string, keys []string) error {
	var errs []error
	for _, k := range keys {
		if err := s.blobs.Delete(ctx, k); err != nil {
			errs = append(errs, err)
		}
	}
	if pd, ok := s.blobs.(BlobPrefixDeleter); ok && partnerID != "" && customerID != "" {
		if _, err := pd.DeletePrefix(ctx, CustomerBlobPrefix(partnerID, customerID)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		s.log.WarnContext(ctx, "onboarding: erased documents' bytes not deleted yet; their job will retry",
			"customer", customerID, "error", err)
		return fmt.Errorf("onboarding: delete erased documents: %w", err)
	}
	return nil
}

// purge asks the Store to push deleted bytes out of its files, when it can.
func (s *Service) purge(ctx context.Context) {
	p, ok := s.store.(Purger)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := p.PurgeDeleted(ctx); err != nil {
		s.log.WarnContext(ctx, "onboarding: could not purge deleted rows from the database files", "error", err)
	}
}

// erasedHistory answers History for a customer that no longer exists: its history if it
// was erased (the audit skeleton), ErrNotFound otherwise.
func (s *Service) erasedHistory(ctx context.Context, partnerID, customerID string) ([]*Transition, error) {
	h, err := s.store.ListTransitions(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	for _, t := range h {
		if t.Event == EventErase {
			return h, nil
		}
	}
	return nil, fmt.Errorf("%w: customer %s", ErrNotFound, customerID)
}
