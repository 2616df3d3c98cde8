package onboarding

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/taxid"
	"github.com/onboardkit/onboarding/webhook"
)

// Options configures a Service. The zero value (or nil) gives the documented defaults.
type Options struct {
	// NowFunc is the clock; every timestamp comes from it. Default time.Now.
	NowFunc func() time.Time
	// Logger receives operational logs. Default slog.Default().
	Logger *slog.Logger
	// Policy computes the KYC items. Default DefaultPolicy{}.
	Policy RequirementPolicy
	// Registry, when set, looks up each company at registration (legal nature, co-owners);
	// its legal nature wins over the partner's legal_nature.
	Registry CompanyRegistry
	// Blobs stores document bytes. Default: a MemoryBlobStore (tests and examples only).
	Blobs BlobStore
	// Uploads are the size and format rules for documents.
	Uploads UploadRules

	// Scorer decides credit analyses. When nil, analysis jobs stay queued for a Service
	// that has one: there is deliberately no default that approves credit.
	// scoring.Sandbox{} is the deterministic scorer for sandboxes and tests.
	Scorer scoring.Scorer
	// HoldOffersUntilActive keeps an approved offer unannounced (no credit_offer.available,
	// invisible to partners) until the customer is active; its validity then counts from
	// the release. The default releases offers at once, as the guide does.
	HoldOffersUntilActive bool
	// Reviewer judges uploaded documents in the background. When nil, documents wait
	// for ReviewDocument (the back office). SandboxReviewer approves.
	Reviewer Reviewer
	// Biometrics judges selfies in the background (before the Reviewer, which then does
	// not see them). SandboxBiometrics passes.
	Biometrics Biometrics
	// Publisher relays outbox events to a broker as well as to the webhook endpoints.
	Publisher Publisher
	// WebhookSender delivers webhooks. Default: webhook.NewHTTPSender, refusing private
	// and loopback destinations unless AllowPrivateWebhooks.
	WebhookSender webhook.Sender
	// AllowPrivateWebhooks lets endpoints use http:// and loopback, private and link-local
	// addresses: for sandboxes and tests only.
	AllowPrivateWebhooks bool
	// Workers is how many jobs Run works at once. Default DefaultWorkers.
	Workers int
	// PollInterval is how often Run looks for work it was not woken for (jobs enqueued by
	// other replicas, retries coming due). Default DefaultPollInterval.
	PollInterval time.Duration
	// JobLease is how long a claimed job stays with its worker; a job still running then
	// may be claimed by another. Default DefaultJobLease.
	JobLease time.Duration
	// JobRetention is how long completed jobs are kept before the hourly prune deletes
	// them. Default DefaultJobRetention.
	JobRetention time.Duration
	// WorkerID names this Service's worker in job leases. Default: host, pid and a random
	// suffix.
	WorkerID string
}

// Service is the onboarding engine: registration, KYC and the lifecycle, over a Store.
// It is safe for concurrent use, and several Services (replicas) may share one database.
type Service struct {
	store    Store
	now      func() time.Time
	log      *slog.Logger
	policy   RequirementPolicy
	registry CompanyRegistry
	blobs    BlobStore
	uploads  UploadRules

	scorer     scoring.Scorer
	publisher  Publisher
	reviewer   Reviewer
	biometrics Biometrics
	sender     webhook.Sender
	workers    int
	poll       time.Duration
	lease      time.Duration
	workerID   string
	wake       chan struct{}

	allowPrivateWebhooks bool
	holdOffers           bool
	retention            time.Duration
	lastPeriodic         time.Time // touched only by Run's loop
}

// New returns a Service over store. opts may be nil.
func New(store Store, opts *Options) *Service {
	if store == nil {
		panic("onboarding: New needs a Store")
	}
	if opts == nil {
		opts = &Options{}
	}
	s := &Service{store: store, now: opts.NowFunc, log: opts.Logger, policy: opts.Policy,
		registry: opts.Registry, blobs: opts.Blobs, uploads: opts.Uploads,
		scorer: opts.Scorer, publisher: opts.Publisher, workers: opts.Workers, poll: opts.PollInterval,
		lease: opts.JobLease, workerID: opts.WorkerID, wake: make(chan struct{}, 1),
		sender: opts.WebhookSender, allowPrivateWebhooks: opts.AllowPrivateWebhooks,
		reviewer: opts.Reviewer, biometrics: opts.Biometrics, holdOffers: opts.HoldOffersUntilActive,
		retention: opts.JobRetention}
	if s.retention <= 0 {
		s.retention = DefaultJobRetention
	}
	if s.sender == nil {
		s.sender = webhook.NewHTTPSender(&webhook.HTTPOptions{NowFunc: s.now,
			AllowPrivate: opts.AllowPrivateWebhooks, AllowInsecure: opts.AllowPrivateWebhooks})
	}
	if s.workers <= 0 {
		s.workers = DefaultWorkers
	}
	if s.poll <= 0 {
		s.poll = DefaultPollInterval
	}
	if s.lease <= 0 {
		s.lease = DefaultJobLease
	}
	if s.workerID == "" {
		s.workerID = defaultWorkerID()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.policy == nil {
		s.policy = DefaultPolicy{}
	}
	if s.blobs == nil {
		s.blobs = NewMemoryBlobStore()
		s.log.Warn("onboarding: no Options.Blobs: documents are kept in this process's memory and lost when it exits; use package blobstore outside tests")
	}
	return s
}

// UploadRules returns the size and format rules uploads are held to.
func (s *Service) UploadRules() UploadRules { return s.uploads }

// Store returns the Store the Service runs on.
func (s *Service) Store() Store { return s.store }

// clock returns the current time in UTC at the microsecond precision every store keeps.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// NewID returns prefix + "_" + the 32 hex digits of a new UUIDv7. IDs are time-ordered, so
// ordering by ID is ordering by creation.
func NewID(prefix string) string {
	u, err := uuid.NewV7()
	if err != nil {
		panic("onboarding: cannot read random bytes: " + err.Error())
	}
	var buf [32]byte
	hex.Encode(buf[:], u[:])
	return prefix + "_" + string(buf[:])
}

// ID prefixes.
const (
	prefixCustomer   = "cust"
	prefixDocument   = "doc"
	prefixOffer      = "co"
	prefixEvent      = "evt"
	prefixJob        = "job"
	prefixTransition = "tr"
)

// checkPartner rejects an empty or odd partner ID: it is part of blob keys, and an empty
// one would be a tenancy bug upstream.
func checkPartner(partnerID string) error {
	if partnerID == "" || len(partnerID) > 64 {
		return invalid("partner_id", CodeInvalidValue, "must be 1 to 64 characters")
	}
	for i := 0; i < len(partnerID); i++ {
		c := partnerID[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return invalid("partner_id", CodeInvalidValue, "may hold only letters, digits, '_', '-' and '.'")
		}
	}
	return nil
}

// maxCASRetries bounds the retries of a unit of work that lost a compare-and-set race.
const maxCASRetries = 16

// CreateCustomer registers a customer for partnerID. It is idempotent: when the partner
// already has a customer with the same CPF/CNPJ and external_id, it returns that customer
// and created is false. When only one of them matches it returns a *ConflictError
// (ErrConflict). Invalid input is a *ValidationError (ErrInvalidInput).
//
// In the same transaction it writes the history row, the customer.created event and the
// credit-analysis job, so the analysis starts in parallel with KYC.
func (s *Service) CreateCustomer(ctx context.Context, partnerID string, p CreateCustomerParams) (c *Customer, created bool, err error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, false, err
	}
	n, err := p.normalize()
	if err != nil {
		return nil, false, err
	}
	key := taxKey(n.cpf, n.cnpj)
	if s.registry != nil {
		// Look before calling out, so that a replayed registration does not call the
		// registry again. Without a registry the insert alone decides (one round trip
		// fewer), and a replay is answered after its insert conflicts.
		if existing, err := s.store.FindCustomer(ctx, partnerID, n.externalID, key); err == nil {
			return resolveExisting(existing, n, key)
		} else if !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
	}

	in := RequirementInput{CPF: n.cpf, CNPJ: n.cnpj, Name: n.name, LegalNature: n.legalNature}
	if s.registry != nil && n.cnpj != "" {
		info, err := s.registry.LookupCompany(ctx, n.cnpj)
		if err != nil {
			return nil, false, fmt.Errorf("onboarding: company registry: %w", err)
		}
		in.Company = info
		if info != nil && info.LegalNature != "" {
			// The registry's word wins over the partner's: a partner must not lower the
			// KYC bar by declaring an LTDA a MEI.
			n.legalNature, in.LegalNature = info.LegalNature, info.LegalNature
		}
	}
	reqs, err := s.requirements(ctx, in)
	if err != nil {
		return nil, false, err
	}
	now := s.clock()
	c = &Customer{
		ID: NewID(prefixCustomer), PartnerID: partnerID, ExternalID: n.externalID, CPF: n.cpf, CNPJ: n.cnpj,
		Name: n.name, Email: n.email, Phone: n.phone, TradingName: n.tradingName, LegalNature: n.legalNature,
		Status: StatusPendingKYC, KYC: reqs, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	err = s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		if err := q.InsertCustomer(ctx, c); err != nil {
			return err
		}
		if err := q.InsertTransition(ctx, &Transition{ID: NewID(prefixTransition), PartnerID: partnerID,
			CustomerID: c.ID, Event: EventRegister, To: StatusPendingKYC, Actor: "partner", CreatedAt: now}); err != nil {
			return err
		}
		if err := s.emit(ctx, q, c, EventCustomerCreated, customerEventData(EventCustomerCreated, c), now); err != nil {
			return err
		}
		return q.InsertJob(ctx, s.newJob(JobCreditAnalysis, c, now))
	})
	if errors.Is(err, ErrConflict) {
		// Lost the race to a concurrent registration: the unique index settled it.
		existing, ferr := s.store.FindCustomer(ctx, partnerID, n.externalID, key)
		if ferr == nil {
			return resolveExisting(existing, n, key)
		}
		return nil, false, err
	}
	if err != nil {
		return nil, false, err
	}
	s.notify()
	return c, true, nil
}

// resolveExisting decides between an idempotent replay and a conflict.
func resolveExisting(c *Customer, n normalizedCustomer, key string) (*Customer, bool, error) {
	switch {
	case c.ExternalID != n.externalID:
		field := "cnpj"
		if n.cnpj == "" {
			field = "cpf"
		}
		return nil, false, &ConflictError{Field: field, ExistingID: c.ID}
	case c.TaxKey() != key:
		return nil, false, &ConflictError{Field: "external_id", ExistingID: c.ID}
	case c.CPF != n.cpf:
		return nil, false, &ConflictError{Field: "cpf", ExistingID: c.ID}
	}
	return c, false, nil
}

// requirements runs the policy and checks what it returned.
func (s *Service) requirements(ctx context.Context, in RequirementInput) ([]Requirement, error) {
	reqs, err := s.policy.Requirements(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("onboarding: requirement policy: %w", err)
	}
	seen := make(map[string]bool, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		if r.ID == "" || seen[r.ID] {
			return nil, fmt.Errorf("onboarding: requirement policy returned an empty or duplicate requirement_id %q", r.ID)
		}
		seen[r.ID] = true
		if r.Status == "" {
			r.Status = RequirementPending
		}
		if r.Kind == "" {
			r.Kind = KindDocument
		}
		if r.Description == "" {
			r.Description = r.Label
		}
	}
	return reqs, nil
}

func (s *Service) newJob(kind JobKind, c *Customer, now time.Time) *Job {
	return &Job{ID: NewID(prefixJob), Kind: kind, PartnerID: c.PartnerID, CustomerID: c.ID,
		Args: json.RawMessage(`{}`), State: JobAvailable, MaxAttempts: DefaultJobMaxAttempts,
		RunAt: now, CreatedAt: now, UpdatedAt: now}
}

// emit writes an event to the outbox in the caller's transaction, with its delivery (and
// delivery job) to every active endpoint of the partner whose filter matches, and, when a
// broker Publisher is configured, the job that publishes it there. Fanning out here, not in
// a job, saves a claim and a transaction per event: an event reaches its webhooks in one
// hop.
func (s *Service) emit(ctx context.Context, q Queries, c *Customer, t EventType, data any, now time.Time) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("onboarding: encode %s: %w", t, err)
	}
	e := &Event{ID: NewID(prefixEvent), PartnerID: c.PartnerID, Type: t, CustomerID: c.ID, Data: raw, CreatedAt: now}
	if err := q.InsertEvent(ctx, e); err != nil {
		return err
	}
	if err := s.fanOut(ctx, q, e, now); err != nil {
		return err
	}
	if s.publisher == nil {
		return nil
	}
	j := s.newJob(JobPublishEvent, c, now)
	j.RunAt = followUpRunAt(ctx, now)
	j.Args, _ = json.Marshal(map[string]string{"event_id": e.ID})
	return q.InsertJob(ctx, j)
}

// GetCustomer returns one of the partner's customers.
func (s *Service) GetCustomer(ctx context.Context, partnerID, id string) (*Customer, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	return s.store.GetCustomer(ctx, partnerID, id)
}

// ListCustomers pages through the partner's customers.
func (s *Service) ListCustomers(ctx context.Context, partnerID string, p ListCustomersParams) (*CustomerPage, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	ve := &ValidationError{}
	limit := checkLimit(ve, p.Limit)
	switch p.Sort {
	case "":
		p.Sort = "created_at"
	case "created_at", "updated_at":
	default:
		ve.add("sort", CodeInvalidValue, "must be created_at or updated_at")
	}
	switch p.Order {
	case "":
		p.Order = "desc"
	case "asc", "desc":
	default:
		ve.add("order", CodeInvalidValue, "must be asc or desc")
	}
	if p.Status != "" && !p.Status.Valid() {
		ve.add("status", CodeInvalidValue, "must be pending_kyc, under_review, active or denied")
	}
	if p.CPF != "" {
		cpf, err := taxid.ParseCPF(p.CPF)
		if err != nil {
			ve.add("cpf", CodeInvalidCPF, taxidDetail(err))
		}
		p.CPF = string(cpf)
	}
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	p.Limit = limit + 1
	list, err := s.store.ListCustomers(ctx, partnerID, p)
	if err != nil {
		return nil, err
	}
	page := &CustomerPage{}
	page.Data, page.HasMore = trimPage(list, limit)
	return page, nil
}

// DefaultPageLimit and MaxPageLimit bound list calls.
const (
	DefaultPageLimit = 25
	MaxPageLimit     = 100
)

// trimPage cuts a list fetched with limit+1 rows to limit, and says whether more remain.
// An empty page is an empty slice, never nil (JSON [] rather than null).
func trimPage[T any](list []T, limit int) ([]T, bool) {
	if len(list) > limit {
		return list[:limit], true
	}
	if list == nil {
		list = []T{}
	}
	return list, false
}

func checkLimit(ve *ValidationError, limit int) int {
	switch {
	case limit == 0:
		return DefaultPageLimit
	case limit < 1 || limit > MaxPageLimit:
		ve.add("limit", CodeInvalidValue, "must be between 1 and 100")
		return DefaultPageLimit
	}
	return limit
}

// History returns the customer's audit trail, oldest first.
func (s *Service) History(ctx context.Context, partnerID, customerID string) ([]*Transition, error) {
	if _, err := s.GetCustomer(ctx, partnerID, customerID); err != nil {
		return nil, err
	}
	return s.store.ListTransitions(ctx, partnerID, customerID)
}

// ListEvents returns the partner's outbox events, oldest first.
func (s *Service) ListEvents(ctx context.Context, partnerID string, p ListEventsParams) ([]*Event, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	ve := &ValidationError{}
	p.Limit = checkLimit(ve, p.Limit)
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	return s.store.ListEvents(ctx, partnerID, p)
}

// GetCreditOffer returns one of the partner's offers.
func (s *Service) GetCreditOffer(ctx context.Context, partnerID, id string) (*CreditOffer, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	o, err := s.store.GetOffer(ctx, partnerID, id)
	if err == nil && o.ReleasedAt.IsZero() {
		return nil, fmt.Errorf("%w: credit offer %s", ErrNotFound, id)
	}
	return o, err
}

// ListCreditOffers pages through the partner's offers, newest first.
func (s *Service) ListCreditOffers(ctx context.Context, partnerID string, p ListOffersParams) (*OfferPage, error) {
	if err := checkPartner(partnerID); err != nil {
		return nil, err
	}
	ve := &ValidationError{}
	limit := checkLimit(ve, p.Limit)
	switch p.Status {
	case "", OfferAvailable, OfferAccepted, OfferExpired:
	default:
		ve.add("status", CodeInvalidValue, "must be available, accepted or expired")
	}
	if err := ve.orNil(); err != nil {
		return nil, err
	}
	if p.CustomerID != "" {
		if _, err := s.store.GetCustomer(ctx, partnerID, p.CustomerID); err != nil {
			return nil, err
		}
	}
	p.Limit, p.IncludeHeld = limit+1, false
	list, err := s.store.ListOffers(ctx, partnerID, p)
	if err != nil {
		return nil, err
	}
	page := &OfferPage{}
	page.Data, page.HasMore = trimPage(list, limit)
	return page, nil
}
