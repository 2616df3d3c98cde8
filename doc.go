// Package onboarding onboards Brazilian business customers for credit: a partner registers
// a customer, the customer goes through KYC (company documents, identity documents, a
// selfie), and in parallel a credit analysis produces an offer that the partner learns of
// through signed webhooks.
//
// The package holds the domain (customers, KYC requirements, documents, offers, events,
// jobs), the Store interface its backends implement, and the Service that runs it all.
//
// # Getting started
//
//	store := memstore.New()                       // or bunstore on SQLite / PostgreSQL
//	docs, err := blobstore.Open(ctx, "file:///var/lib/onboarding/documents?create_dir=1", nil)
//	svc, err := onboarding.New(store, &onboarding.Options{Blobs: docs}) // other fields: defaults
//	c, created, err := svc.CreateCustomer(ctx, partnerID, onboarding.CreateCustomerParams{...})
//
// In tests, onboardingtest.NewService(t, store, opts) does the same with documents in
// memory, and package sandbox has deterministic plugins.
//
// Every call takes the partner (tenant) as its first argument after the context; another
// partner's resources are ErrNotFound, never forbidden. Single-tenant users pass
// DefaultPartnerID.
//
// # Lifecycle
//
// A customer's status follows this state machine (built on github.com/looplab/fsm; see
// LifecycleDiagram):
//
//	[*] ──register──▶ pending_kyc ──submit──▶ under_review ──approve──▶ active
//	                      ▲                        │
//	                      └────request_changes─────┘
//	pending_kyc, under_review ──deny──▶ denied (terminal)
//
// The transitions are automatic: the last mandatory upload submits, approving every
// mandatory item activates, a rejection requests changes with the reason as the item's
// message. DenyCustomer is the back-office call. The stored status is the source of
// truth: every transition is a compare-and-set write together with a history row (see
// Service.History) and its event in the outbox, in one transaction.
//
// # KYC requirements
//
// A RequirementPolicy computes what a customer owes from its legal nature (DefaultPolicy:
// the table of docs/kyc.md; MEI when unknown). A CompanyRegistry may supply the legal
// nature and co-owners. Documents are judged by their bytes (PDF, JPEG, PNG), streamed
// once, hashed with SHA-256, bounded in size, and stored under keys the library generates.
//
// # Errors
//
// Errors wrap one sentinel: ErrNotFound, ErrConflict (a *ConflictError), ErrInvalidInput
// (a *ValidationError with field errors), ErrInvalidTransition, ErrDocumentNotRequired,
// ErrUnsupportedFormat, ErrFileTooLarge, ErrEmptyFile, ErrTruncatedFile; New returns
// ErrInvalidOptions for a configuration that cannot work. Branch with
// errors.Is and errors.As; the HTTP layer maps each to the status and code listed in docs/http-api.md.
//
// # Transactions, outbox and jobs
//
// Everything that must happen after a call returns (credit analysis, webhook publishing)
// is a Job row written in the same transaction as the change, with the Event it publishes.
// A rolled-back change leaves neither. Stores lease jobs to workers (ClaimJobs) so that
// any number of replicas share the work.
//
// # Backends
//
//   - store/memstore: in memory, with real rollback; for tests and examples.
//   - store/bunstore: SQLite (embedded default) and PostgreSQL through Bun.
//   - store/storetest: the conformance suite every Store passes.
//
// Money is exact (package money: Money in centavos, Rate in 0.0001 percentage points); all
// time comes from Options.NowFunc.
//
// # Where things live
//
// Data types and pure rules (customer.go, kyc.go, doctypes.go, document.go, offer.go,
// event.go, fsm.go, job.go) sit below the unit of work (lifecycle.go), which sits below
// the capabilities, one file each (registration.go, upload.go, review.go, biometrics.go,
// credit.go, webhooks.go, delivery.go, maintenance.go). docs/architecture.md in the
// repository walks through them and shows what adding a document type or a job kind
// touches.
package onboarding
