package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
)

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
