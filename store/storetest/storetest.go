// Package storetest is the conformance suite every onboarding.Store must pass, in the
// manner of gocloud's drivertest: a backend's own test file is a few lines calling Run.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) onboarding.Store { return memstore.New() })
//	}
//
// newStore must return an empty store, isolated from the stores of other tests: the suite
// runs its tests in parallel.
//
// The tests are grouped by area, a file each (customers, isolation, transactions,
// documents, offers, events, jobs, idempotency, retention, webhooks, service, privacy
// (erasure and retention queries, an erasure racing uploads), and the
// optional capabilities); this file
// holds Run and the helpers they share.
package storetest

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/taxid"
)

// NewStoreFunc returns a new, empty store for one test.
type NewStoreFunc func(t *testing.T) onboarding.Store

// Run runs the whole conformance suite.
func Run(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s onboarding.Store)
	}{
		{"CustomerCRUD", testCustomerCRUD},
		{"CustomerCopies", testCustomerCopies},
		{"TimePrecision", testTimePrecision},
		{"Uniqueness", testUniqueness},
		{"CompareAndSet", testCompareAndSet},
		{"PartnerIsolation", testPartnerIsolation},
		{"Rollback", testRollback},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"RollbackOnCancel", testRollbackOnCancel},
		{"ReadYourWrites", testReadYourWrites},
		{"Pagination", testPagination},
		{"ListFilters", testListFilters},
		{"Transitions", testTransitions},
		{"Documents", testDocuments},
		{"Offers", testOffers},
		{"Events", testEvents},
		{"Jobs", testJobs},
		{"JobLeaseExpiry", testJobLeaseExpiry},
		{"Heartbeat", testHeartbeat},
		{"ConcurrentClaims", testConcurrentClaims},
		{"JobCounts", testJobCounts},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"DeferredKeyInsert", testDeferredKeyInsert},
		{"WebhookQueries", testWebhookQueries},
		{"PartnerAPIQueries", testPartnerAPIQueries},
		{"BackofficeQueries", testBackofficeQueries},
		{"Retention", testRetention},
		{"ErasureQueries", testErasureQueries},
		{"RetentionQueries", testRetentionQueries},
		{"ServiceErasureRace", testServiceErasureRace},
		{"ServiceFlow", testServiceFlow},
		{"ServiceRegistrationRace", testServiceRegistrationRace},
		{"ServiceConflictRace", testServiceConflictRace},
		{"ServiceConcurrentReviews", testServiceConcurrentReviews},
		{"JobListener", testJobListener},
		{"SingleWriter", testSingleWriter},
		{"PartnerLock", testPartnerLock},
		{"ServiceErasePartnerAPIData", testServiceErasePartnerAPIData},
		{"ServiceEndpointCap", testServiceEndpointCap},
		{"ServiceUploadCap", testServiceUploadCap},
		{"ClaimJobBatch", testClaimJobBatch}, {"FinishDeliveries", testFinishDeliveries}, {"ExtendJobLeases", testExtendJobLeases}, {"ReleaseJobs", testReleaseJobs}, {"NextJobAt", testNextJobAt}, {"ConcurrentBatchClaims", testConcurrentBatchClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

var base = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// rng returns a deterministic random source per test.
func rng(t *testing.T) *rand.Rand {
	var seed uint64
	for _, c := range t.Name() {
		seed = seed*31 + uint64(c)
	}
	return rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
}

// newCustomer builds a valid customer for partner.
func newCustomer(r *rand.Rand, partner string) *onboarding.Customer {
	now := base
	return &onboarding.Customer{
		ID: onboarding.NewID("cust"), PartnerID: partner, ExternalID: onboarding.NewID("ext"),
		CPF: taxid.GenerateCPF(r), CNPJ: taxid.GenerateCNPJ(r, r.IntN(2) == 0),
		Name: "Maria da Silva", Email: "maria@example.com", Phone: "+5511987654321",
		TradingName: "Padaria da Maria", LegalNature: onboarding.LegalNatureMEI,
		Status: onboarding.StatusPendingKYC, Version: 1,
		KYC: []onboarding.Requirement{
			{ID: "req_ccmei", Type: onboarding.RequirementCompanyDocument, DocumentType: onboarding.DocCCMEI,
				Kind: onboarding.KindDocument, Label: "CCMEI", Description: "CCMEI", Mandatory: true,
				Status: onboarding.RequirementPending},
			{ID: "req_selfie_applicant", Type: onboarding.RequirementSelfie, DocumentType: onboarding.DocSelfie,
				Kind: onboarding.KindDocument, Label: "Selfie", Description: "Selfie", Mandatory: true,
				Status:  onboarding.RequirementPending,
				Subject: &onboarding.Subject{ID: "applicant", Name: "Maria", SubjectType: onboarding.SubjectApplicant}},
		},
		CreatedAt: now, UpdatedAt: now,
	}
}

func insertCustomer(t *testing.T, s onboarding.Store, c *onboarding.Customer) {
	t.Helper()
	require.NoError(t, s.InsertCustomer(context.Background(), c))
}
