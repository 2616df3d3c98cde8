package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/scoring"
)

// JobExpireOffer expires a credit offer at its valid_until; enqueued with the offer.
const JobExpireOffer JobKind = "expire_offer"

// JobSweepBlobs removes document blobs no row references (left by a crash between the blob
// and the row). Run enqueues one per SweepInterval; replicas share it by its ID.
const JobSweepBlobs JobKind = "sweep_blobs"

// JobPrune deletes completed jobs older than Options.JobRetention and expired idempotency
// keys. Run enqueues one per hour; replicas share it by its ID.
const JobPrune JobKind = "prune"

// DefaultJobRetention is how long completed jobs are kept.
const DefaultJobRetention = 7 * 24 * time.Hour

// pruneBatch is how many rows one prune statement deletes.
const pruneBatch = 1000

// BlobSweeper is implemented by a BlobStore that can find and delete orphaned documents
// (package blobstore does). Sweep deletes those no row references and older than olderThan.
type BlobSweeper interface {
	Sweep(ctx context.Context, q Queries, olderThan time.Time) (int, error)
}

// Sweeper defaults: how often the orphan sweep runs, and how old an unreferenced blob must
// be to count as an orphan (far longer than an upload takes).
const (
	DefaultSweepInterval = time.Hour
	DefaultSweepGrace    = 24 * time.Hour
)

// Worker defaults.
const (
	DefaultWorkers      = 4
	DefaultPollInterval = time.Second
	DefaultJobLease     = time.Minute
)

// Publisher relays outbox events to a broker (gocloud.dev/pubsub: Kafka, NATS, SQS, Pub/Sub),
// besides the webhook endpoints. It is called at least once per event; consumers
// deduplicate on Event.ID.
type Publisher interface {
	Publish(ctx context.Context, e *Event) error
}

// errPermanent marks a job failure that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

func permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }

// handler works one job. On success it must have completed the job, in the same transaction
// as its writes when it writes (see completeIn), so that a lost lease rolls them back.
type handler func(ctx context.Context, j *Job) error

// handlers returns the job kinds this Service can work, by what it was configured with. Kinds
// without a handler stay queued for a Service that has one.
func (s *Service) handlers() map[JobKind]handler {
	h := map[JobKind]handler{JobExpireOffer: s.expireOffer, JobDeliverWebhook: s.deliver, JobPrune: s.prune}
	if s.publisher != nil {
		h[JobPublishEvent] = s.publish
	}
	if s.scorer != nil {
		h[JobCreditAnalysis] = s.analyse
	}
	if s.reviewer != nil {
		h[JobReviewDocument] = s.runReview
	}
	if s.biometrics != nil {
		h[JobCheckSelfie] = s.runReview
	}
	if _, ok := s.blobs.(BlobSweeper); ok {
		h[JobSweepBlobs] = s.sweep
	}
	return h
}

func (s *Service) handledKinds() []JobKind {
	var kinds []JobKind
	for k := range s.handlers() {
		kinds = append(kinds, k)
	}
	return kinds
}

// notify wakes Run after this process committed new work.
func (s *Service) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func defaultWorkerID() string {
	host, _ := os.Hostname()
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + NewID("w")[2:14]
}

// Run works background jobs (credit analysis, offer expiry, event publishing) until ctx
// ends. Any number of Services, in this process or other replicas, may Run on the same
// store: jobs are leased, and a crashed worker's lease expires so another takes its job.
// Run wakes at once when this Service enqueues work and polls every PollInterval as a
// fallback. When ctx ends it stops claiming, waits for the jobs in flight, and returns nil.
func (s *Service) Run(ctx context.Context) error {
	if sw, ok := s.store.(SingleWriter); ok && sw.SingleWriter() {
		b := newOutcomeBatcher(s)
		defer b.close() // after the workers below: they wait on it
		ctx = context.WithValue(ctx, batcherKey{}, b)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	kinds := s.handledKinds()
	slots := make(chan struct{}, s.workers)
	freed := make(chan struct{}, 1)
	var remote <-chan struct{}
	if l, ok := s.store.(JobListener); ok {
		ch, err := l.ListenJobs(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "onboarding: cannot listen for jobs; polling only", "error", err)
		}
		remote = ch
	}
	for {
		s.schedulePeriodic(ctx)
		if free := s.workers - len(slots); free > 0 {
			jobs, err := s.store.ClaimJobs(ctx, ClaimParams{Kinds: kinds, Worker: s.workerID, Limit: free,
				Now: s.clock(), Lease: s.lease})
			if err != nil && ctx.Err() == nil {
				s.log.ErrorContext(ctx, "onboarding: claim jobs", "error", err)
			}
			for _, j := range jobs {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					s.work(ctx, j)
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
			}
			if err == nil && len(jobs) == free {
				continue // there may be more
			}
		}
		timer := time.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-s.wake:
		case _, ok := <-remote:
			if !ok {
				remote = nil // the listener ended: poll
			}
		case <-freed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Work runs every job that is due now, one at a time, and returns how many it ran. It is
// Run without the waiting, for tests, one-shot commands and cron-style deployments.
func (s *Service) Work(ctx context.Context) (int, error) {
	kinds := s.handledKinds()
	n := 0
	for {
		jobs, err := s.store.ClaimJobs(ctx, ClaimParams{Kinds: kinds, Worker: s.workerID, Limit: 1,
			Now: s.clock(), Lease: s.lease})
		if err != nil || len(jobs) == 0 {
			return n, err
		}
		s.work(ctx, jobs[0])
		n++
	}
}

// work runs one claimed job and records a failure. The job runs on a context that outlives
// ctx by at most the lease, so a shutdown lets it finish.
func (s *Service) work(ctx context.Context, j *Job) {
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.lease)
	defer cancel()
	jctx = context.WithValue(jctx, parentRunAtKey{}, j.RunAt)
	h := s.handlers()[j.Kind]
	var err error
	if h == nil {
		err = permanent(fmt.Errorf("no handler for job kind %q", j.Kind))
	} else {
		err = h(jctx, j)
	}
	if err == nil {
		return
	}
	now := s.clock()
	f := JobFailure{Error: err.Error()}
	dead := errors.Is(err, errPermanent) || scoring.IsPermanent(err) || j.Attempt >= j.MaxAttempts
	if dead {
		f.Dead = true
	} else {
		f.RetryAt = now.Add(retryDelay(j.Attempt))
	}
	s.log.WarnContext(ctx, "onboarding: job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempt,
		"dead", dead, "error", err)
	// A conflict may be a lost lease (then FailJob conflicts too, and the job belongs to
	// another worker) or a race the handler lost (then the job is retried soon).
	if ferr := s.store.FailJob(jctx, j.ID, s.workerID, now, f); ferr != nil && !errors.Is(ferr, ErrConcurrentUpdate) {
		s.log.ErrorContext(ctx, "onboarding: record job failure", "job", j.ID, "error", ferr)
	}
}

// parentRunAtKey carries the RunAt of the job being worked.
type parentRunAtKey struct{}

// followUpRunAt is when a job enqueued now should run: at once, but ordered with the job
// that caused it (its RunAt) rather than behind everything enqueued since. Under a burst,
// a registration's offer webhook then goes out before later registrations are analysed,
// instead of after all of them.
func followUpRunAt(ctx context.Context, now time.Time) time.Time {
	if t, ok := ctx.Value(parentRunAtKey{}).(time.Time); ok && t.Before(now) {
		return t
	}
	return now
}

// retryDelay is exponential backoff from 1 s, doubling to at most an hour, with ±20 %
// jitter so that retries of a burst spread out.
func retryDelay(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 12)
	d = min(d, time.Hour)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// completeIn completes j inside the caller's transaction.
func (s *Service) completeIn(ctx context.Context, q Queries, j *Job, now time.Time) error {
	return q.CompleteJob(ctx, j.ID, s.workerID, now)
}

// ReplayJob makes a dead job run again (after fixing what killed it).
func (s *Service) ReplayJob(ctx context.Context, id string) error {
	if err := s.store.ReplayJob(ctx, id, s.clock()); err != nil {
		return err
	}
	s.notify()
	return nil
}

// analyse runs the scorer for a customer and, on approval, creates the offer, its
// credit_offer.available event and its expiry job in one transaction with the job's
// completion: a worker that lost its lease creates nothing.
func (s *Service) analyse(ctx context.Context, j *Job) error {
	c, err := s.store.GetCustomer(ctx, j.PartnerID, j.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err != nil {
		return err
	}
	if c.Status == StatusDenied {
		return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
	}
	now := s.clock()
	req := scoring.Request{
		CustomerID: c.ID, PartnerID: c.PartnerID, ExternalID: c.ExternalID, CPF: string(c.CPF), CNPJ: string(c.CNPJ),
		Name: c.Name, Email: c.Email, Phone: c.Phone, TradingName: c.TradingName, LegalNature: string(c.LegalNature),
		Attempt: j.Attempt, Now: now,
	}
	if s.registry != nil && c.CNPJ != "" {
		info, err := s.registry.LookupCompany(ctx, c.CNPJ)
		if err != nil {
			return fmt.Errorf("company registry: %w", err)
		}
		if info != nil {
			req.CompanyStatus, req.CompanyOpenedAt, req.CompanyPartners = info.Status, info.OpenedAt, len(info.Partners)
		}
	}
	d, err := s.scorer.Score(ctx, req)
	if err != nil {
		return fmt.Errorf("scorer: %w", err)
	}
	if err := d.Validate(); err != nil {
		return permanent(fmt.Errorf("scorer returned an invalid decision: %w", err))
	}
	for attempt := 0; ; attempt++ {
		err = s.recordDecision(ctx, j, c, d)
		if !errors.Is(err, ErrConcurrentUpdate) || attempt >= maxCASRetries {
			break
		}
	}
	if err == nil {
		s.notify()
	}
	return err
}

// recordDecision writes a decision with the analysis job's completion.
func (s *Service) recordDecision(ctx context.Context, j *Job, c *Customer, d scoring.Decision) error {
	return s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		// Read the status again in this transaction: activation releases held offers in
		// its own, and one of the two must see the other.
		cur, err := q.GetCustomer(ctx, c.PartnerID, c.ID)
		if err != nil {
			return err
		}
		// The clock is read after the customer, so an offer is never older than an
		// activation it saw.
		now := s.clock()
		if cur.Status == StatusDenied || cur.CNPJ != c.CNPJ {
			// Denied, or another company since it was scored: no offer. (A change of
			// company enqueued a new analysis.)
			return s.completeIn(ctx, q, j, now)
		}
		// The decision goes into the customer's audit trail, approved or declined.
		decision := &Transition{ID: NewID(prefixTransition), PartnerID: c.PartnerID, CustomerID: c.ID,
			Event: EventCreditDecision, From: cur.Status, To: cur.Status, Actor: truncate("scorer:"+d.Model, maxNameLen),
			Reason: cleanText(string(d.Outcome)+": "+d.Reason, maxReasonLen), CreatedAt: now}
		if d.Approved() {
			o := &CreditOffer{ID: NewID(prefixOffer), PartnerID: c.PartnerID, CustomerID: c.ID, ExternalID: c.ExternalID,
				Status: OfferAvailable, ApprovedAmount: money.Money(d.ApprovedAmountCents), MinAmount: money.Money(d.MinAmountCents),
				MonthlyInterestRate: d.MonthlyRate, Installments: d.Installments,
				MinInstallments: d.MinInstallments, MaxInstallments: d.MaxInstallments, DueDateRule: d.DueDateRule,
				ValidUntil: now.Add(d.ValidFor), Model: d.Model, Version: 1, CreatedAt: now, UpdatedAt: now}
			hold := s.holdOffers && cur.Status != StatusActive
			if !hold {
				o.ReleasedAt = now
			}
			if err := q.InsertOffer(ctx, o); err != nil {
				return err
			}
			decision.Reason = truncate(decision.Reason+" (offer "+o.ID+")", maxReasonLen)
			// Write the customer (same data, next version) so that a denial, an
			// activation or a change of company racing with this transaction fails its
			// compare-and-set and, retried, sees this offer (to withdraw or release it).
			if err := q.UpdateCustomer(ctx, cur); err != nil {
				return err
			}
			if !hold {
				if err := s.announceOffer(ctx, q, c, o, now); err != nil {
					return err
				}
			}
		}
		if err := q.InsertTransition(ctx, decision); err != nil {
			return err
		}
		return s.completeIn(ctx, q, j, now)
	})
}

// announceOffer writes a released offer's credit_offer.available event and its expiry job.
func (s *Service) announceOffer(ctx context.Context, q Queries, c *Customer, o *CreditOffer, now time.Time) error {
	if err := s.emit(ctx, q, c, EventCreditOfferAvailable, o, now); err != nil {
		return err
	}
	exp := s.newJob(JobExpireOffer, c, now)
	exp.RunAt = o.ValidUntil
	exp.Args, _ = json.Marshal(map[string]string{"offer_id": o.ID})
	return q.InsertJob(ctx, exp)
}

// releaseHeldOffers announces the offers held until the customer became active, in the
// activation's transaction. Their validity counts from now.
func (s *Service) releaseHeldOffers(ctx context.Context, q Queries, c *Customer, now time.Time) error {
	held, err := q.ListOffers(ctx, c.PartnerID, ListOffersParams{CustomerID: c.ID, Status: OfferAvailable, IncludeHeld: true})
	if err != nil {
		return err
	}
	for _, o := range held {
		if !o.ReleasedAt.IsZero() {
			continue
		}
		o.ValidUntil = now.Add(o.ValidUntil.Sub(o.CreatedAt))
		o.ReleasedAt, o.UpdatedAt = now, now
		if err := q.UpdateOffer(ctx, o); err != nil {
			return err
		}
		if err := s.announceOffer(ctx, q, c, o, now); err != nil {
			return err
		}
	}
	return nil
}

// withdrawOffers expires the customer's open offers (released or held), in the caller's
// transaction: the customer was denied, or changed company. Released ones are announced
// with credit_offer.expired.
func (s *Service) withdrawOffers(ctx context.Context, q Queries, c *Customer, now time.Time) error {
	open, err := q.ListOffers(ctx, c.PartnerID, ListOffersParams{CustomerID: c.ID, Status: OfferAvailable, IncludeHeld: true})
	if err != nil {
		return err
	}
	for _, o := range open {
		o.Status, o.UpdatedAt = OfferExpired, now
		if err := q.UpdateOffer(ctx, o); err != nil {
			return err
		}
		if o.ReleasedAt.IsZero() {
			continue
		}
		if err := s.emit(ctx, q, c, EventCreditOfferExpired, o, now); err != nil {
			return err
		}
	}
	return nil
}

// expireOffer expires an available offer whose valid_until has passed.
func (s *Service) expireOffer(ctx context.Context, j *Job) error {
	var args struct {
		OfferID string `json:"offer_id"`
	}
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return permanent(err)
	}
	now := s.clock()
	err := s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		o, err := q.GetOffer(ctx, j.PartnerID, args.OfferID)
		if err != nil {
			return err
		}
		if o.Status == OfferAvailable {
			if now.Before(o.ValidUntil) {
				return fmt.Errorf("offer %s is valid until %s", o.ID, o.ValidUntil.Format(time.RFC3339))
			}
			o.Status, o.UpdatedAt = OfferExpired, now
			if err := q.UpdateOffer(ctx, o); err != nil {
				return err
			}
			c := &Customer{ID: o.CustomerID, PartnerID: o.PartnerID}
			if err := s.emit(ctx, q, c, EventCreditOfferExpired, o, now); err != nil {
				return err
			}
		}
		return s.completeIn(ctx, q, j, now)
	})
	if errors.Is(err, ErrNotFound) {
		return permanent(err)
	}
	if err == nil {
		s.notify()
	}
	return err
}

// schedulePeriodic enqueues, once per hour, the prune job and (when the BlobStore can)
// the orphan sweep. Each job's ID is derived from the hour, so replicas racing to enqueue
// it insert one row.
func (s *Service) schedulePeriodic(ctx context.Context) {
	now := s.clock()
	slot := now.Truncate(DefaultSweepInterval)
	if !s.lastPeriodic.Before(slot) {
		return
	}
	kinds := []JobKind{JobPrune}
	if _, ok := s.blobs.(BlobSweeper); ok {
		kinds = append(kinds, JobSweepBlobs)
	}
	for _, kind := range kinds {
		j := &Job{ID: fmt.Sprintf("%s_%s_%d", prefixJob, kind, slot.Unix()), Kind: kind, Args: json.RawMessage(`{}`),
			State: JobAvailable, MaxAttempts: 3, RunAt: now, CreatedAt: now, UpdatedAt: now}
		if err := s.store.InsertJob(ctx, j); err != nil && !errors.Is(err, ErrConflict) {
			s.log.WarnContext(ctx, "onboarding: schedule periodic job", "kind", kind, "error", err)
			return
		}
	}
	s.lastPeriodic = slot
}

// prune deletes completed jobs past their retention and expired idempotency keys, a batch
// at a time.
func (s *Service) prune(ctx context.Context, j *Job) error {
	now := s.clock()
	total := 0
	for _, step := range []func() (int, error){
		func() (int, error) { return s.store.PruneJobs(ctx, now.Add(-s.retention), pruneBatch) },
		func() (int, error) { return s.store.PruneIdempotencyKeys(ctx, now, pruneBatch) },
	} {
		for {
			n, err := step()
			total += n
			if err != nil {
				return err
			}
			if n < pruneBatch {
				break
			}
		}
	}
	if total > 0 {
		s.log.InfoContext(ctx, "onboarding: pruned old jobs and expired idempotency keys", "deleted", total)
	}
	return s.store.CompleteJob(ctx, j.ID, s.workerID, s.clock())
}

// sweep deletes orphaned document blobs.
func (s *Service) sweep(ctx context.Context, j *Job) error {
	n, err := s.blobs.(BlobSweeper).Sweep(ctx, s.store, s.clock().Add(-DefaultSweepGrace))
	if n > 0 {
		s.log.InfoContext(ctx, "onboarding: swept orphaned document blobs", "deleted", n)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The lease ran out on a large bucket: what was swept stays swept, and the next
		// hour's run (in another order) goes on.
		s.log.InfoContext(ctx, "onboarding: blob sweep cut short by its lease; the next run goes on")
		err = nil
	}
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.store.CompleteJob(cctx, j.ID, s.workerID, s.clock())
}
