package onboarding

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/simulation"
	"github.com/onboardkit/onboarding/webhook"
)

// Service is the onboarding engine: registration, KYC and the lifecycle, over a Store.
// It is safe for concurrent use, and several Services (replicas) may share one database.
//
// Its methods live in the file of their capability: registration.go (create, update,
// deny, reads), upload.go, review.go, biometrics.go, credit.go (analysis and offers),
// webhooks.go and delivery.go; lifecycle.go is the unit of work they share and worker.go
// runs the background jobs.
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
	jobTimeout time.Duration
	workerID   string
	wake       chan struct{}
	retryDelay func(attempt int) time.Duration // retryDelay, but for tests

	allowPrivateWebhooks bool
	holdOffers           bool
	retention            time.Duration
	retain               RetentionPolicy
	sealer               *secretSealer
	lastPeriodic         time.Time // touched only by Run's loop
	kycPageURL           string
	simulation           simulation.Config

	// Set by the capabilities in New, read-only afterwards.
	jobs       map[JobKind]handler // the kinds this Service works
	kinds      []JobKind           // the keys of jobs, for claims
	reactions  map[trigger][]reaction
	eventHooks []eventHook

	tel *telemetry // traces and metrics (telemetry.go)
}

// New returns a Service over store. opts holds the plugins and settings; it is required
// because Options.Blobs is (see Options.Validate). A configuration that cannot work is an
// error matching ErrInvalidOptions.
func New(store Store, opts *Options) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: New needs a Store", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Service{store: store, now: opts.NowFunc, log: opts.Logger, policy: opts.Policy,
		registry: opts.Registry, blobs: opts.Blobs, uploads: opts.Uploads,
		scorer: opts.Scorer, publisher: opts.Publisher, workers: opts.Workers, poll: opts.PollInterval,
		lease: opts.JobLease, jobTimeout: opts.JobTimeout, workerID: opts.WorkerID, wake: make(chan struct{}, 1),
		sender: opts.WebhookSender, allowPrivateWebhooks: opts.AllowPrivateWebhooks,
		reviewer: opts.Reviewer, biometrics: opts.Biometrics, holdOffers: opts.HoldOffersUntilActive,
		retention: opts.JobRetention, retain: opts.Retention.withDefaults(),
		sealer: newSecretSealer(opts.SecretsKeeper), jobs: map[JobKind]handler{}, retryDelay: retryDelay,
		kycPageURL: opts.KYCPageURL, simulation: simulationConfig(opts.Simulation)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.policy == nil {
		s.policy = DefaultPolicy{}
	}
	if s.sender == nil {
		s.sender = webhook.NewHTTPSender(&webhook.HTTPOptions{NowFunc: s.now,
			AllowPrivate: opts.AllowPrivateWebhooks, AllowInsecure: opts.AllowPrivateWebhooks,
			WrapTransport: instrumentTransport(opts.TracerProvider, opts.MeterProvider)})
	}
	if s.workers == 0 {
		s.workers = DefaultWorkers
	}
	if s.poll == 0 {
		s.poll = DefaultPollInterval
	}
	if s.lease == 0 {
		s.lease = DefaultJobLease
	}
	if s.jobTimeout == 0 {
		s.jobTimeout = DefaultJobTimeout
	}
	if s.retention == 0 {
		s.retention = DefaultJobRetention
	}
	if s.workerID == "" {
		s.workerID = defaultWorkerID()
	}
	// Each capability registers its jobs, reactions and event hooks.
	s.registerCredit()
	s.registerReview()
	s.registerWebhooks()
	s.registerMaintenance()
	s.registerErasure()
	for k := range s.jobs {
		s.kinds = append(s.kinds, k)
	}
	slices.Sort(s.kinds)
	tel, err := newTelemetry(s, opts.TracerProvider, opts.MeterProvider)
	if err != nil {
		return nil, fmt.Errorf("onboarding: telemetry: %w", err)
	}
	s.tel = tel
	return s, nil
}

// handle registers the handler of a job kind; New only.
func (s *Service) handle(k JobKind, h handler) { s.jobs[k] = h }

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

// DefaultPageLimit and MaxPageLimit bound list calls.
const (
	DefaultPageLimit = 25
	MaxPageLimit     = 100
)

// Page is one page of a list: Data, and whether more follow (ask again with
// StartingAfter set to the last ID).
type Page[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// listPage is every paged list call: it checks the partner, the limit and what check
// adds, fetches one row more than the limit to learn whether more remain, and trims. An
// empty page is an empty slice, never nil (JSON [] rather than null).
func listPage[T any](partnerID string, limit int, check func(ve *ValidationError), fetch func(limit int) ([]T, error)) (*Page[T], error) {
	limit, err := checkList(partnerID, limit, check)
	if err != nil {
		return nil, err
	}
	list, err := fetch(limit + 1)
	if err != nil {
		return nil, err
	}
	page := &Page[T]{Data: list, HasMore: len(list) > limit}
	if page.HasMore {
		page.Data = list[:limit]
	}
	if page.Data == nil {
		page.Data = []T{}
	}
	return page, nil
}

// checkList checks the partner, the page size (0: DefaultPageLimit) and what check adds
// of a list call, and returns the page size.
func checkList(partnerID string, limit int, check func(ve *ValidationError)) (int, error) {
	if err := checkPartner(partnerID); err != nil {
		return 0, err
	}
	ve := &ValidationError{}
	limit = checkLimit(ve, limit)
	if check != nil {
		check(ve)
	}
	return limit, ve.orNil()
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
