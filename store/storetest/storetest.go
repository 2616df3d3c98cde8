// Package storetest is the conformance suite every onboarding.Store must pass, in the
// manner of gocloud's drivertest: a backend's own test file is a few lines calling Run.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) onboarding.Store { return memstore.New() })
//	}
//
// newStore must return an empty store, isolated from the stores of other tests: the suite
// runs its tests in parallel.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/money"
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
		{"ConcurrentClaims", testConcurrentClaims},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"WebhookQueries", testWebhookQueries},
		{"Retention", testRetention},
		{"ServiceFlow", testServiceFlow},
		{"ServiceRegistrationRace", testServiceRegistrationRace},
		{"ServiceConflictRace", testServiceConflictRace},
		{"ServiceConcurrentReviews", testServiceConcurrentReviews},
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

func testCustomerCRUD(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	c := newCustomer(r, "p1")
	msg := "blurred"
	up := base.Add(time.Hour)
	c.KYC[0].Status, c.KYC[0].Message, c.KYC[0].UploadedAt = onboarding.RequirementRejected, &msg, &up
	c.KYC[0].Submitted = &onboarding.Submission{EvidenceType: "ccmei", ReviewStatus: onboarding.ReviewRejected,
		ReviewReason: &msg, DocumentID: "doc_1", Attachments: []onboarding.Attachment{{AttachmentType: "file", Submitted: true}}}
	insertCustomer(t, s, c)

	got, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	assert.EqualValues(t, 1, got.Version)

	byExt, err := s.FindCustomer(ctx, "p1", c.ExternalID, "")
	require.NoError(t, err)
	assert.Equal(t, c.ID, byExt.ID)
	byTax, err := s.FindCustomer(ctx, "p1", "", c.TaxKey())
	require.NoError(t, err)
	assert.Equal(t, c.ID, byTax.ID)
	byEither, err := s.FindCustomer(ctx, "p1", "no-such-external-id", c.TaxKey())
	require.NoError(t, err)
	assert.Equal(t, c.ID, byEither.ID)
	_, err = s.FindCustomer(ctx, "p1", "nope", "cnpj:00000000000000")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	_, err = s.GetCustomer(ctx, "p1", "cust_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	got.Name, got.Email, got.Status = "Maria Souza", "m@example.org", onboarding.StatusUnderReview
	got.UpdatedAt = base.Add(2 * time.Hour)
	got.KYC[1].Status = onboarding.RequirementSubmitted
	require.NoError(t, s.UpdateCustomer(ctx, got))
	assert.EqualValues(t, 2, got.Version)
	again, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, got, again)
}

func testCustomerCopies(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	c.Name = "changed after insert"
	c.KYC[1].Subject.Name = "changed after insert"
	got, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, "Maria da Silva", got.Name)
	assert.Equal(t, "Maria", got.KYC[1].Subject.Name)
	got.KYC[0].Status = onboarding.RequirementApproved
	again, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.RequirementPending, again.KYC[0].Status)
}

func testTimePrecision(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	loc := time.FixedZone("BRT", -3*3600)
	c.CreatedAt = time.Date(2026, 7, 1, 9, 30, 15, 123456000, loc).UTC()
	c.UpdatedAt = c.CreatedAt.Add(999 * time.Microsecond)
	insertCustomer(t, s, c)
	got, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.True(t, got.CreatedAt.Equal(c.CreatedAt), "created_at %v != %v", got.CreatedAt, c.CreatedAt)
	assert.Equal(t, time.UTC, got.CreatedAt.Location())
	assert.Equal(t, c.UpdatedAt, got.UpdatedAt)
}

func testUniqueness(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	a := newCustomer(r, "p1")
	insertCustomer(t, s, a)

	sameExt := newCustomer(r, "p1")
	sameExt.ExternalID = a.ExternalID
	err := s.InsertCustomer(ctx, sameExt)
	var ce *onboarding.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, onboarding.ErrConflict)
	assert.Equal(t, "external_id", ce.Field)

	sameCNPJ := newCustomer(r, "p1")
	sameCNPJ.CNPJ = a.CNPJ
	err = s.InsertCustomer(ctx, sameCNPJ)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "cnpj", ce.Field)

	// A person without a company is unique by CPF.
	p := newCustomer(r, "p1")
	p.CNPJ = ""
	insertCustomer(t, s, p)
	p2 := newCustomer(r, "p1")
	p2.CNPJ, p2.CPF = "", p.CPF
	err = s.InsertCustomer(ctx, p2)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "cpf", ce.Field)
	// The same CPF with a company is another customer.
	withCompany := newCustomer(r, "p1")
	withCompany.CPF = p.CPF
	insertCustomer(t, s, withCompany)

	// Another partner may hold the same identifiers.
	other := newCustomer(r, "p2")
	other.ExternalID, other.CNPJ, other.CPF = a.ExternalID, a.CNPJ, a.CPF
	insertCustomer(t, s, other)

	// An update to a CNPJ already taken is a conflict and changes nothing.
	b := newCustomer(r, "p1")
	insertCustomer(t, s, b)
	b.CNPJ = a.CNPJ
	err = s.UpdateCustomer(ctx, b)
	require.ErrorIs(t, err, onboarding.ErrConflict)
	stored, err := s.GetCustomer(ctx, "p1", b.ID)
	require.NoError(t, err)
	assert.NotEqual(t, a.CNPJ, stored.CNPJ)
	assert.EqualValues(t, 1, stored.Version)

	// After a rejected insert, the failed customer does not exist.
	_, err = s.GetCustomer(ctx, "p1", sameExt.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func testCompareAndSet(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	first, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	second, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)

	first.Status = onboarding.StatusUnderReview
	require.NoError(t, s.UpdateCustomer(ctx, first))
	second.Status = onboarding.StatusDenied
	err = s.UpdateCustomer(ctx, second)
	require.ErrorIs(t, err, onboarding.ErrConcurrentUpdate)
	assert.EqualValues(t, 1, second.Version, "a failed CAS leaves the caller's version alone")

	got, err := s.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusUnderReview, got.Status)

	// Many writers racing on the same version: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp := got.Clone()
			cp.Name = fmt.Sprintf("writer %d", i)
			err := s.UpdateCustomer(ctx, cp)
			if err == nil {
				wins.Add(1)
			} else {
				assert.ErrorIs(t, err, onboarding.ErrConcurrentUpdate)
			}
		}()
	}
	wg.Wait()
	assert.EqualValues(t, 1, wins.Load())

	missing := newCustomer(rng(t), "p1")
	assert.ErrorIs(t, s.UpdateCustomer(ctx, missing), onboarding.ErrNotFound)
}

func testPartnerIsolation(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	c := newCustomer(r, "p1")
	insertCustomer(t, s, c)
	d := newDocument(c)
	require.NoError(t, s.InsertDocument(ctx, d))
	o := newOffer(c)
	require.NoError(t, s.InsertOffer(ctx, o))
	e := newEvent(c, onboarding.EventCustomerCreated)
	require.NoError(t, s.InsertEvent(ctx, e))
	require.NoError(t, s.InsertTransition(ctx, newTransition(c)))

	_, err := s.GetCustomer(ctx, "p2", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.FindCustomer(ctx, "p2", c.ExternalID, c.TaxKey())
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	list, err := s.ListCustomers(ctx, "p2", onboarding.ListCustomersParams{Limit: 10, Sort: "created_at", Order: "desc"})
	require.NoError(t, err)
	assert.Empty(t, list)
	list, err = s.ListCustomers(ctx, "p2", onboarding.ListCustomersParams{Limit: 10, Sort: "created_at", Order: "desc", StartingAfter: c.ID})
	require.NoError(t, err)
	assert.Empty(t, list)
	stolen := c.Clone()
	stolen.PartnerID, stolen.Name = "p2", "hijacked"
	assert.ErrorIs(t, s.UpdateCustomer(ctx, stolen), onboarding.ErrNotFound)

	_, err = s.GetDocument(ctx, "p2", d.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	docs, err := s.ListDocuments(ctx, "p2", c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs)
	dd := *d
	dd.PartnerID, dd.Status = "p2", onboarding.DocumentApproved
	assert.ErrorIs(t, s.UpdateDocument(ctx, &dd), onboarding.ErrNotFound)

	_, err = s.GetOffer(ctx, "p2", o.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	offers, err := s.ListOffers(ctx, "p2", onboarding.ListOffersParams{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, offers)
	oo := o.Clone()
	oo.PartnerID = "p2"
	assert.ErrorIs(t, s.UpdateOffer(ctx, oo), onboarding.ErrNotFound)

	events, err := s.ListEvents(ctx, "p2", onboarding.ListEventsParams{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, events)
	hist, err := s.ListTransitions(ctx, "p2", c.ID)
	require.NoError(t, err)
	assert.Empty(t, hist)

	// A document or offer cannot be attached to another partner's customer.
	foreign := newDocument(c)
	foreign.PartnerID = "p2"
	assert.Error(t, s.InsertDocument(ctx, foreign))
	foreignOffer := newOffer(c)
	foreignOffer.PartnerID = "p2"
	assert.Error(t, s.InsertOffer(ctx, foreignOffer))

	k := &onboarding.IdempotencyKey{PartnerID: "p1", Key: "k1", RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	require.NoError(t, s.InsertIdempotencyKey(ctx, k))
	_, err = s.GetIdempotencyKey(ctx, "p2", "k1")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	k2 := *k
	k2.PartnerID = "p2"
	require.NoError(t, s.InsertIdempotencyKey(ctx, &k2), "keys are scoped by partner")
}

// writeAll writes one of everything in q.
func writeAll(ctx context.Context, q onboarding.Queries, c *onboarding.Customer) error {
	if err := q.InsertCustomer(ctx, c); err != nil {
		return err
	}
	if err := q.InsertTransition(ctx, newTransition(c)); err != nil {
		return err
	}
	if err := q.InsertDocument(ctx, newDocument(c)); err != nil {
		return err
	}
	if err := q.InsertOffer(ctx, newOffer(c)); err != nil {
		return err
	}
	if err := q.InsertEvent(ctx, newEvent(c, onboarding.EventCustomerCreated)); err != nil {
		return err
	}
	if err := q.InsertJob(ctx, newJob(c, base)); err != nil {
		return err
	}
	return q.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: c.PartnerID, Key: c.ID,
		RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
}

// assertNothing checks that nothing of c was left behind.
func assertNothing(t *testing.T, s onboarding.Store, c *onboarding.Customer) {
	t.Helper()
	ctx := context.Background()
	_, err := s.GetCustomer(ctx, c.PartnerID, c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	hist, err := s.ListTransitions(ctx, c.PartnerID, c.ID)
	require.NoError(t, err)
	assert.Empty(t, hist)
	docs, err := s.ListDocuments(ctx, c.PartnerID, c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs)
	offers, err := s.ListOffers(ctx, c.PartnerID, onboarding.ListOffersParams{CustomerID: c.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, offers)
	events, err := s.ListEvents(ctx, c.PartnerID, onboarding.ListEventsParams{CustomerID: c.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, events)
	jobs, err := s.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID, Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, jobs)
	_, err = s.GetIdempotencyKey(ctx, c.PartnerID, c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func testRollback(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	keep := newCustomer(r, "p1")
	insertCustomer(t, s, keep)
	c := newCustomer(r, "p1")
	boom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := writeAll(ctx, q, c); err != nil {
			return err
		}
		k, err := q.GetCustomer(ctx, "p1", keep.ID)
		if err != nil {
			return err
		}
		k.Name = "rolled back"
		if err := q.UpdateCustomer(ctx, k); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	assertNothing(t, s, c)
	got, err := s.GetCustomer(ctx, "p1", keep.ID)
	require.NoError(t, err)
	assert.Equal(t, keep.Name, got.Name)
	assert.EqualValues(t, 1, got.Version)

	// The same IDs can be written after the rollback: nothing is left holding them.
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error { return writeAll(ctx, q, c) }))
}

func testRollbackOnPanic(t *testing.T, s onboarding.Store) {
	c := newCustomer(rng(t), "p1")
	assert.PanicsWithValue(t, "boom", func() {
		_ = s.InTx(context.Background(), func(ctx context.Context, q onboarding.Queries) error {
			if err := writeAll(ctx, q, c); err != nil {
				return err
			}
			panic("boom")
		})
	})
	assertNothing(t, s, c)
	// The store is still usable.
	insertCustomer(t, s, newCustomer(rng(t), "p1"))
}

func testRollbackOnCancel(t *testing.T, s onboarding.Store) {
	c := newCustomer(rng(t), "p1")
	ctx, cancel := context.WithCancel(context.Background())
	err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := writeAll(ctx, q, c); err != nil {
			return err
		}
		cancel() // the caller gave up mid-transaction: nothing may commit
		return nil
	})
	require.Error(t, err)
	assertNothing(t, s, c)
}

func testReadYourWrites(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	err := s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		if err := q.InsertCustomer(ctx, c); err != nil {
			return err
		}
		got, err := q.GetCustomer(ctx, "p1", c.ID)
		if err != nil {
			return err
		}
		got.Status = onboarding.StatusUnderReview
		if err := q.UpdateCustomer(ctx, got); err != nil {
			return err
		}
		again, err := q.FindCustomer(ctx, "p1", c.ExternalID, "")
		if err != nil {
			return err
		}
		assert.Equal(t, onboarding.StatusUnderReview, again.Status)
		assert.EqualValues(t, 2, again.Version)
		return nil
	})
	require.NoError(t, err)
}

func testPagination(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	const n = 33
	var ids []string
	for i := range n {
		c := newCustomer(r, "p1")
		c.CreatedAt = base.Add(time.Duration(i) * time.Second)
		// updated_at order differs from created_at order, with ties.
		c.UpdatedAt = base.Add(time.Duration((i*7)%11) * time.Minute)
		insertCustomer(t, s, c)
		ids = append(ids, c.ID)
	}
	insertCustomer(t, s, newCustomer(r, "p2"))
	for _, sortBy := range []string{"created_at", "updated_at"} {
		for _, order := range []string{"asc", "desc"} {
			t.Run(sortBy+"_"+order, func(t *testing.T) {
				seen := map[string]bool{}
				var walk []*onboarding.Customer
				after := ""
				for pages := 0; ; pages++ {
					require.Less(t, pages, 20)
					list, err := s.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{
						Sort: sortBy, Order: order, Limit: 10, StartingAfter: after})
					require.NoError(t, err)
					if len(list) == 0 {
						break
					}
					for _, c := range list {
						require.False(t, seen[c.ID], "customer %s seen twice", c.ID)
						seen[c.ID] = true
					}
					walk = append(walk, list...)
					after = list[len(list)-1].ID
				}
				require.Len(t, walk, n)
				for i := 1; i < len(walk); i++ {
					a, b := walk[i-1], walk[i]
					var k int
					if sortBy == "updated_at" {
						k = a.UpdatedAt.Compare(b.UpdatedAt)
					}
					if k == 0 {
						k = compare(a.ID, b.ID)
					}
					if order == "asc" {
						assert.Negative(t, k, "out of order at %d", i)
					} else {
						assert.Positive(t, k, "out of order at %d", i)
					}
				}
			})
		}
	}
	// IDs are time-ordered: created_at asc is insertion order.
	list, err := s.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{Sort: "created_at", Order: "asc", Limit: 5})
	require.NoError(t, err)
	for i, c := range list {
		assert.Equal(t, ids[i], c.ID)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testListFilters(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	a, b, c := newCustomer(r, "p1"), newCustomer(r, "p1"), newCustomer(r, "p1")
	b.Status = onboarding.StatusActive
	c.CPF = a.CPF
	for _, x := range []*onboarding.Customer{a, b, c} {
		insertCustomer(t, s, x)
	}
	list := func(f onboarding.ListCustomersParams) []string {
		f.Limit, f.Sort, f.Order = 10, "created_at", "asc"
		l, err := s.ListCustomers(ctx, "p1", f)
		require.NoError(t, err)
		var ids []string
		for _, x := range l {
			ids = append(ids, x.ID)
		}
		return ids
	}
	assert.Equal(t, []string{b.ID}, list(onboarding.ListCustomersParams{Status: onboarding.StatusActive}))
	assert.Equal(t, []string{a.ID, c.ID}, list(onboarding.ListCustomersParams{CPF: string(a.CPF)}))
	assert.Equal(t, []string{c.ID}, list(onboarding.ListCustomersParams{ExternalID: c.ExternalID}))
	assert.Empty(t, list(onboarding.ListCustomersParams{ExternalID: c.ExternalID, Status: onboarding.StatusActive}))
}

func newTransition(c *onboarding.Customer) *onboarding.Transition {
	return &onboarding.Transition{ID: onboarding.NewID("tr"), PartnerID: c.PartnerID, CustomerID: c.ID,
		Event: onboarding.EventRegister, To: onboarding.StatusPendingKYC, Actor: "partner", CreatedAt: base}
}

func testTransitions(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	first := newTransition(c)
	second := &onboarding.Transition{ID: onboarding.NewID("tr"), PartnerID: c.PartnerID, CustomerID: c.ID,
		Event: onboarding.EventDeny, From: onboarding.StatusPendingKYC, To: onboarding.StatusDenied,
		Actor: "back_office", Reason: "sanctions list", CreatedAt: base.Add(time.Minute)}
	require.NoError(t, s.InsertTransition(ctx, first))
	require.NoError(t, s.InsertTransition(ctx, second))
	got, err := s.ListTransitions(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, []*onboarding.Transition{first, second}, got)
}

func newDocument(c *onboarding.Customer) *onboarding.Document {
	id := onboarding.NewID("doc")
	return &onboarding.Document{ID: id, PartnerID: c.PartnerID, CustomerID: c.ID, RequirementID: "req_ccmei",
		Type: onboarding.DocCCMEI, Status: onboarding.DocumentSubmitted, ContentType: onboarding.FormatPDF,
		Size: 1234, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Key: onboarding.DocumentKey(c.PartnerID, c.ID, id), Filename: "../../etc/passwd",
		CreatedAt: base, UpdatedAt: base}
}

func testDocuments(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	d1, d2 := newDocument(c), newDocument(c)
	require.NoError(t, s.InsertDocument(ctx, d1))
	require.NoError(t, s.InsertDocument(ctx, d2))
	got, err := s.GetDocument(ctx, "p1", d1.ID)
	require.NoError(t, err)
	assert.Equal(t, d1, got)
	list, err := s.ListDocuments(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, []*onboarding.Document{d1, d2}, list)

	d1.Status, d1.RejectionReason, d1.UpdatedAt = onboarding.DocumentRejected, "illegible", base.Add(time.Minute)
	require.NoError(t, s.UpdateDocument(ctx, d1))
	got, err = s.GetDocument(ctx, "p1", d1.ID)
	require.NoError(t, err)
	assert.Equal(t, d1, got)

	ok, err := s.DocumentKeyExists(ctx, d2.Key)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.DocumentKeyExists(ctx, d2.Key+"x")
	require.NoError(t, err)
	assert.False(t, ok)

	// A document needs its customer.
	orphan := newDocument(c)
	orphan.CustomerID = "cust_missing"
	assert.Error(t, s.InsertDocument(ctx, orphan))
	_, err = s.GetDocument(ctx, "p1", "doc_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func newOffer(c *onboarding.Customer) *onboarding.CreditOffer {
	return &onboarding.CreditOffer{ID: onboarding.NewID("co"), PartnerID: c.PartnerID, CustomerID: c.ID,
		ExternalID: c.ExternalID, Status: onboarding.OfferAvailable, ApprovedAmount: 5_000_000,
		MinAmount: 100_000, MonthlyInterestRate: 35_000, MinInstallments: 3, MaxInstallments: 24,
		DueDateRule: "monthly", ValidUntil: base.Add(30 * 24 * time.Hour), Model: "sandbox-v1",
		ReleasedAt: base, Version: 1, CreatedAt: base, UpdatedAt: base}
}

func testOffers(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	c, c2 := newCustomer(r, "p1"), newCustomer(r, "p1")
	insertCustomer(t, s, c)
	insertCustomer(t, s, c2)
	var all []*onboarding.CreditOffer
	for i := range 5 {
		o := newOffer(c)
		if i%2 == 1 {
			o = newOffer(c2)
		}
		o.ApprovedAmount = money.Money(999_999_999_999_99 - i)
		require.NoError(t, s.InsertOffer(ctx, o))
		all = append(all, o)
	}
	got, err := s.GetOffer(ctx, "p1", all[0].ID)
	require.NoError(t, err)
	assert.Equal(t, all[0], got)

	list, err := s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 2})
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, all[4].ID, list[0].ID, "newest first")
	assert.Equal(t, all[3].ID, list[1].ID)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, StartingAfter: all[3].ID})
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, all[2].ID, list[0].ID)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID})
	require.NoError(t, err)
	assert.Len(t, list, 2)

	stale := got.Clone()
	got.Status, got.UpdatedAt = onboarding.OfferExpired, base.Add(time.Hour)
	require.NoError(t, s.UpdateOffer(ctx, got))
	assert.EqualValues(t, 2, got.Version)
	stale.Status = onboarding.OfferAccepted
	assert.ErrorIs(t, s.UpdateOffer(ctx, stale), onboarding.ErrConcurrentUpdate)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, Status: onboarding.OfferExpired})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, got, list[0])

	// A held offer (not yet released) is listed only on request, and released by an update.
	held := newOffer(c2)
	held.ReleasedAt = time.Time{}
	require.NoError(t, s.InsertOffer(ctx, held))
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID})
	require.NoError(t, err)
	assert.Len(t, list, 2)
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID, IncludeHeld: true})
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, held.ID, list[0].ID)
	assert.True(t, list[0].ReleasedAt.IsZero())
	held.ReleasedAt = base.Add(2 * time.Hour)
	require.NoError(t, s.UpdateOffer(ctx, held))
	list, err = s.ListOffers(ctx, "p1", onboarding.ListOffersParams{Limit: 10, CustomerID: c2.ID})
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, held.ReleasedAt, list[0].ReleasedAt)
}

func newEvent(c *onboarding.Customer, typ onboarding.EventType) *onboarding.Event {
	data, _ := json.Marshal(map[string]any{"id": c.ID, "status": c.Status})
	return &onboarding.Event{ID: onboarding.NewID("evt"), PartnerID: c.PartnerID, Type: typ,
		CustomerID: c.ID, Data: data, CreatedAt: base}
}

func testEvents(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	var evs []*onboarding.Event
	for _, typ := range []onboarding.EventType{onboarding.EventCustomerCreated, onboarding.EventCustomerKYCUpdated, onboarding.EventCustomerUnderReview} {
		e := newEvent(c, typ)
		require.NoError(t, s.InsertEvent(ctx, e))
		evs = append(evs, e)
	}
	got, err := s.GetEvent(ctx, evs[1].ID)
	require.NoError(t, err)
	assert.Equal(t, evs[1].Type, got.Type)
	assert.JSONEq(t, string(evs[1].Data), string(got.Data))

	list, err := s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 3)
	for i := range list {
		assert.Equal(t, evs[i].ID, list[i].ID, "oldest first")
	}
	list, err = s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 10, Type: onboarding.EventCustomerKYCUpdated})
	require.NoError(t, err)
	require.Len(t, list, 1)
	list, err = s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 1, StartingAfter: evs[0].ID})
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, evs[1].ID, list[0].ID)
	_, err = s.GetEvent(ctx, "evt_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	late := newEvent(c, onboarding.EventCustomerActive)
	late.CreatedAt = base.Add(time.Hour)
	require.NoError(t, s.InsertEvent(ctx, late))
	list, err = s.ListEvents(ctx, "p1", onboarding.ListEventsParams{Limit: 10, CreatedFrom: base.Add(time.Hour)})
	require.NoError(t, err)
	require.Len(t, list, 1, "created_from is inclusive")
	assert.Equal(t, late.ID, list[0].ID)
}

func newJob(c *onboarding.Customer, runAt time.Time) *onboarding.Job {
	return &onboarding.Job{ID: onboarding.NewID("job"), Kind: onboarding.JobCreditAnalysis, PartnerID: c.PartnerID,
		CustomerID: c.ID, Args: json.RawMessage(`{"k":"v"}`), State: onboarding.JobAvailable,
		MaxAttempts: 3, RunAt: runAt, CreatedAt: base, UpdatedAt: base}
}

func testJobs(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	now := base.Add(time.Hour)
	early, late, future := newJob(c, base), newJob(c, base.Add(time.Minute)), newJob(c, now.Add(time.Hour))
	other := newJob(c, base)
	other.Kind = onboarding.JobPublishEvent
	for _, j := range []*onboarding.Job{late, future, early, other} {
		require.NoError(t, s.InsertJob(ctx, j))
	}
	got, err := s.GetJob(ctx, early.ID)
	require.NoError(t, err)
	assert.Equal(t, early, got)

	claimed, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobCreditAnalysis},
		Worker: "w1", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, claimed, 2, "the future job and the other kind are not claimed")
	assert.Equal(t, early.ID, claimed[0].ID, "oldest run_at first")
	assert.Equal(t, late.ID, claimed[1].ID)
	for _, j := range claimed {
		assert.Equal(t, onboarding.JobRunning, j.State)
		assert.Equal(t, "w1", j.LockedBy)
		assert.Equal(t, now.Add(time.Minute), j.LockedUntil)
		assert.Equal(t, 1, j.Attempt)
	}
	// Nothing left to claim for that kind; a claim of any kind takes the other job.
	again, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Kinds: []onboarding.JobKind{onboarding.JobCreditAnalysis},
		Worker: "w2", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, again)
	anyKind, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 10, Now: now, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, anyKind, 1)
	assert.Equal(t, other.ID, anyKind[0].ID)

	// Only the lease holder may finish a job.
	assert.ErrorIs(t, s.CompleteJob(ctx, early.ID, "w2", now), onboarding.ErrConcurrentUpdate)
	require.NoError(t, s.CompleteJob(ctx, early.ID, "w1", now))
	done, err := s.GetJob(ctx, early.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobCompleted, done.State)
	assert.Equal(t, now, done.FinishedAt)
	assert.ErrorIs(t, s.CompleteJob(ctx, early.ID, "w1", now), onboarding.ErrConcurrentUpdate, "completing twice")

	// A failure with a retry time makes it available again then, not before.
	retryAt := now.Add(5 * time.Second)
	require.NoError(t, s.FailJob(ctx, late.ID, "w1", now, onboarding.JobFailure{Error: "scorer timeout", RetryAt: retryAt}))
	failed, err := s.GetJob(ctx, late.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobAvailable, failed.State)
	assert.Equal(t, "scorer timeout", failed.LastError)
	assert.Equal(t, retryAt, failed.RunAt)
	none, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 10, Now: now.Add(time.Second), Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none)
	retried, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w1", Limit: 10, Now: retryAt, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, retried, 1)
	assert.Equal(t, 2, retried[0].Attempt)

	// Dead, then replayed.
	require.NoError(t, s.FailJob(ctx, late.ID, "w1", retryAt, onboarding.JobFailure{Error: "permanent", Dead: true}))
	dead, err := s.ListJobs(ctx, onboarding.ListJobsParams{State: onboarding.JobDead, Limit: 10})
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, late.ID, dead[0].ID)
	assert.ErrorIs(t, s.ReplayJob(ctx, early.ID, retryAt), onboarding.ErrNotFound, "only dead jobs replay")
	require.NoError(t, s.ReplayJob(ctx, late.ID, retryAt))
	replayed, err := s.GetJob(ctx, late.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.JobAvailable, replayed.State)
	assert.Equal(t, 0, replayed.Attempt)
	_, err = s.GetJob(ctx, "job_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
}

func testJobLeaseExpiry(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	j := newJob(c, base)
	require.NoError(t, s.InsertJob(ctx, j))
	first, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "crashed", Limit: 1, Now: base, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, first, 1)
	// Within the lease nobody else gets it.
	none, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: base.Add(59 * time.Second), Lease: time.Minute})
	require.NoError(t, err)
	assert.Empty(t, none)
	// After it, another worker does, and the crashed one can no longer finish it.
	second, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w2", Limit: 1, Now: base.Add(2 * time.Minute), Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, second, 1)
	assert.Equal(t, 2, second[0].Attempt)
	assert.ErrorIs(t, s.CompleteJob(ctx, j.ID, "crashed", base.Add(2*time.Minute)), onboarding.ErrConcurrentUpdate)
	assert.ErrorIs(t, s.FailJob(ctx, j.ID, "crashed", base.Add(2*time.Minute), onboarding.JobFailure{Error: "x", Dead: true}), onboarding.ErrConcurrentUpdate)
	require.NoError(t, s.CompleteJob(ctx, j.ID, "w2", base.Add(2*time.Minute)))
}

func testConcurrentClaims(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	const jobs, workers = 120, 6
	for range jobs {
		require.NoError(t, s.InsertJob(ctx, newJob(c, base)))
	}
	var mu sync.Mutex
	claimedBy := map[string]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := fmt.Sprintf("w%d", w)
			for {
				got, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: worker, Limit: 5, Now: base, Lease: time.Hour})
				if !assert.NoError(t, err) || len(got) == 0 {
					return
				}
				for _, j := range got {
					mu.Lock()
					prev, dup := claimedBy[j.ID]
					claimedBy[j.ID] = worker
					mu.Unlock()
					assert.False(t, dup, "job %s claimed by %s and %s", j.ID, prev, worker)
					assert.NoError(t, s.CompleteJob(ctx, j.ID, worker, base))
				}
			}
		}()
	}
	wg.Wait()
	assert.Len(t, claimedBy, jobs)
}

func testIdempotencyKeys(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	k := &onboarding.IdempotencyKey{PartnerID: "p1", Key: "idem-1", RequestHash: "sha256:abc",
		CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	require.NoError(t, s.InsertIdempotencyKey(ctx, k))
	dup := *k
	dup.RequestHash, dup.CreatedAt = "sha256:other", base.Add(time.Hour)
	assert.ErrorIs(t, s.InsertIdempotencyKey(ctx, &dup), onboarding.ErrConflict)
	got, err := s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	assert.Equal(t, "sha256:abc", got.RequestHash)
	assert.False(t, got.Completed)

	k.Completed, k.ResponseStatus, k.ResponseBody = true, 201, []byte(`{"id":"cust_1"}`)
	require.NoError(t, s.CompleteIdempotencyKey(ctx, k))
	got, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	assert.True(t, got.Completed)
	assert.Equal(t, 201, got.ResponseStatus)
	assert.Equal(t, `{"id":"cust_1"}`, string(got.ResponseBody))
	assert.Equal(t, k.ExpiresAt, got.ExpiresAt)

	// Once expired, the key may be used again for another request.
	reuse := &onboarding.IdempotencyKey{PartnerID: "p1", Key: "idem-1", RequestHash: "sha256:new",
		CreatedAt: base.Add(25 * time.Hour), ExpiresAt: base.Add(49 * time.Hour)}
	require.NoError(t, s.InsertIdempotencyKey(ctx, reuse))
	got, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	assert.Equal(t, "sha256:new", got.RequestHash)
	assert.False(t, got.Completed)

	assert.ErrorIs(t, s.CompleteIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: "p1", Key: "idem-1",
		CreatedAt: base, Completed: true, ResponseStatus: 500}), onboarding.ErrNotFound,
		"a request whose key was taken over cannot complete it")
	require.NoError(t, s.DeleteIdempotencyKey(ctx, "p1", "idem-1", base), "nor delete it")
	_, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	require.NoError(t, err)
	require.NoError(t, s.DeleteIdempotencyKey(ctx, "p1", "idem-1", reuse.CreatedAt))
	_, err = s.GetIdempotencyKey(ctx, "p1", "idem-1")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	require.NoError(t, s.DeleteIdempotencyKey(ctx, "p1", "idem-1", time.Time{}), "deleting a missing key is fine")
	assert.ErrorIs(t, s.CompleteIdempotencyKey(ctx, k), onboarding.ErrNotFound)
}

func testRetention(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	var old, recent, dead *onboarding.Job
	for i, at := range []time.Time{base, base.Add(time.Hour), base} {
		j := newJob(c, base)
		require.NoError(t, s.InsertJob(ctx, j))
		got, err := s.ClaimJobs(ctx, onboarding.ClaimParams{Worker: "w", Limit: 1, Now: base, Lease: time.Hour})
		require.NoError(t, err)
		require.Len(t, got, 1)
		if i == 2 {
			require.NoError(t, s.FailJob(ctx, got[0].ID, "w", at, onboarding.JobFailure{Error: "x", Dead: true}))
			dead = got[0]
			continue
		}
		require.NoError(t, s.CompleteJob(ctx, got[0].ID, "w", at))
		if i == 0 {
			old = got[0]
		} else {
			recent = got[0]
		}
	}
	n, err := s.PruneJobs(ctx, base.Add(time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetJob(ctx, old.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.GetJob(ctx, recent.ID)
	assert.NoError(t, err, "finished after the cutoff")
	_, err = s.GetJob(ctx, dead.ID)
	assert.NoError(t, err, "dead jobs are kept")

	for i := range 3 {
		require.NoError(t, s.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: "p1", Key: fmt.Sprint("k", i),
			RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(time.Duration(i) * time.Hour)}))
	}
	n, err = s.PruneIdempotencyKeys(ctx, base.Add(90*time.Minute), 1)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "limited")
	n, err = s.PruneIdempotencyKeys(ctx, base.Add(90*time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetIdempotencyKey(ctx, "p1", "k2")
	assert.NoError(t, err, "not yet expired")
}
