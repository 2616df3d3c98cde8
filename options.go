package onboarding

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"gocloud.dev/secrets"

	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/simulation"
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
	// Blobs stores document bytes: package blobstore on a gocloud.dev/blob bucket (file,
	// S3, GCS, ...). Required: New refuses to keep documents where they would be lost
	// silently. Tests and sandboxes pass sandbox.NewMemoryBlobStore() explicitly.
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
	// for ReviewDocument (the back office). sandbox.Reviewer approves.
	Reviewer Reviewer
	// Biometrics judges selfies in the background (before the Reviewer, which then does
	// not see them). sandbox.Biometrics passes.
	Biometrics Biometrics
	// Publisher relays outbox events to a broker as well as to the webhook endpoints.
	Publisher Publisher
	// WebhookSender delivers webhooks. Default: webhook.NewHTTPSender, refusing private
	// and loopback destinations unless AllowPrivateWebhooks.
	WebhookSender webhook.Sender
	// AllowPrivateWebhooks lets endpoints use http:// and loopback, private and link-local
	// addresses: for sandboxes and tests only. It sets both the check of endpoint URLs at
	// registration and the default sender's guard at dial time; a custom WebhookSender
	// keeps its own guard.
	AllowPrivateWebhooks bool
	// Workers is how many jobs Run works at once. Default DefaultWorkers.
	Workers int
	// PollInterval is the longest Run sleeps. Run sleeps until the next job is due (a
	// retry included) and is woken by work this Service commits and, on a JobListener
	// store, by other replicas' work; the interval bounds the sleep for safety (work
	// nobody announced, a crashed replica's job whose lease ended). Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// JobLease is how long a claimed job stays with its worker without a heartbeat: a
	// running job extends it every third of it, so a replica that dies has its jobs taken
	// over within a lease. Default DefaultJobLease.
	JobLease time.Duration
	// JobTimeout bounds one run of a job (its handler's context). Default
	// DefaultJobTimeout.
	JobTimeout time.Duration
	// JobRetention is how long completed jobs are kept before the hourly prune deletes
	// them. Default DefaultJobRetention.
	JobRetention time.Duration
	// WorkerID names this Service's worker in job leases. Default: host, pid and a random
	// suffix. It must be unique among the Services running Run on the same store (and a
	// Service runs one Run at a time): a lease is known by it.
	WorkerID string
	// Retention says how long personal data is kept: what EraseCustomer may erase when,
	// and what the hourly prune deletes (docs/privacy.md). The zero value is the default
	// policy.
	Retention RetentionPolicy
	// SecretsKeeper, when set, encrypts webhook signing secrets at rest (the same kind of
	// keeper blobstore.Options.Keeper takes: a cloud KMS in production, localsecrets in
	// tests). Secrets stored before it was set stay readable; SealWebhookSecrets encrypts
	// them. The application opens it, with its driver, and keeps it open.
	SecretsKeeper *secrets.Keeper

	// KYCPageURL is the absolute URL of a hosted KYC page, such as
	// "https://lender.example/kyc/". When set, every biometrics session carries a one-time
	// code and its URL is this page with ?code=bsc_… (see ExchangeBiometricsCode); when
	// empty, the session URL is the Biometrics provider's.
	KYCPageURL string
	// Simulation holds the taxes and fee of loan simulations (SimulateOffer). Nil means
	// simulation.DefaultConfig(): the IOF for companies of the current decree, no fee.
	Simulation *simulation.Config

	// TracerProvider receives the spans of Service calls, job runs and webhook deliveries
	// (docs/operations.md, "Observability"). Default: otel.GetTracerProvider(), a no-op
	// until the application sets one.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the Service's metrics. Default: otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// The defaults of Options.
const (
	// DefaultWorkers is how many jobs Run works at once.
	DefaultWorkers = 4
	// DefaultPollInterval is the longest Run sleeps.
	DefaultPollInterval = time.Second
	// DefaultJobLease is how long a claimed job stays with its worker between heartbeats.
	DefaultJobLease = 15 * time.Second
	// DefaultJobTimeout bounds one run of a job.
	DefaultJobTimeout = time.Minute
	// MinJobLease is the shortest lease Options.JobLease may set: the heartbeat renews it
	// every third of it.
	MinJobLease = time.Second
	// DefaultJobRetention is how long completed jobs are kept.
	DefaultJobRetention = 7 * 24 * time.Hour
	// DefaultSweepInterval is how often the orphan-blob sweep and the prune job run.
	DefaultSweepInterval = time.Hour
	// DefaultSweepGrace is how old an unreferenced blob must be to count as an orphan (far
	// longer than an upload takes).
	DefaultSweepGrace = 24 * time.Hour
	// DefaultMaxUploadSize is the size limit of a document unless UploadRules says
	// otherwise.
	DefaultMaxUploadSize int64 = 10 << 20
)

// Validate reports everything wrong with o, if anything, as one error matching
// ErrInvalidOptions. New runs it: a misconfiguration is an error at construction, never a
// panic or a log line later.
func (o *Options) Validate() error {
	if o == nil {
		return fmt.Errorf("%w: Blobs is required (sandbox.NewMemoryBlobStore() keeps documents in memory, for tests)", ErrInvalidOptions)
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.Blobs == nil {
		bad("Blobs is required (sandbox.NewMemoryBlobStore() keeps documents in memory, for tests)")
	}
	if o.Workers < 0 {
		bad("Workers must not be negative")
	}
	if o.PollInterval < 0 {
		bad("PollInterval must not be negative")
	}
	if o.JobLease < 0 || o.JobLease > 0 && o.JobLease < MinJobLease {
		bad("JobLease must be at least %s", MinJobLease)
	}
	if o.JobTimeout < 0 {
		bad("JobTimeout must not be negative")
	}
	if o.JobRetention < 0 {
		bad("JobRetention must not be negative")
	}
	if len(o.WorkerID) > 200 {
		bad("WorkerID must be at most 200 bytes")
	}
	if o.KYCPageURL != "" {
		if u, err := url.Parse(o.KYCPageURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			bad("KYCPageURL must be an absolute http(s) URL without a fragment")
		}
	}
	if err := validateSimulationConfig(o.Simulation); err != nil {
		bad("Simulation: %v", err)
	}
	errs = append(errs, o.Uploads.validate()...)
	errs = append(errs, o.Retention.validate()...)
	return errors.Join(errs...)
}
