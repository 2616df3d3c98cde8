package onboarding_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/taxid"
)

func TestValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	good := params(t)
	cases := []struct {
		name  string
		edit  func(p *onboarding.CreateCustomerParams)
		param string
		code  string
	}{
		{"missing cpf", func(p *onboarding.CreateCustomerParams) { p.CPF = "" }, "cpf", onboarding.CodeMissingRequiredField},
		{"bad cpf", func(p *onboarding.CreateCustomerParams) { p.CPF = "123.456.789-00" }, "cpf", onboarding.CodeInvalidCPF},
		{"repeated cpf", func(p *onboarding.CreateCustomerParams) { p.CPF = "111.111.111-11" }, "cpf", onboarding.CodeInvalidCPF},
		{"bad cnpj", func(p *onboarding.CreateCustomerParams) { p.CNPJ = "12.ABC.345/01DE-36" }, "cnpj", onboarding.CodeInvalidCNPJ},
		{"missing name", func(p *onboarding.CreateCustomerParams) { p.Name = "  " }, "name", onboarding.CodeMissingRequiredField},
		{"long name", func(p *onboarding.CreateCustomerParams) { p.Name = strings.Repeat("a", 201) }, "name", onboarding.CodeInvalidValue},
		{"control chars", func(p *onboarding.CreateCustomerParams) { p.Name = "a\x00b" }, "name", onboarding.CodeInvalidValue},
		{"bad email", func(p *onboarding.CreateCustomerParams) { p.Email = "not-an-email" }, "email", onboarding.CodeInvalidEmail},
		{"email with name", func(p *onboarding.CreateCustomerParams) { p.Email = "Bob <bob@example.com>" }, "email", onboarding.CodeInvalidEmail},
		{"email no tld", func(p *onboarding.CreateCustomerParams) { p.Email = "bob@localhost" }, "email", onboarding.CodeInvalidEmail},
		{"missing phone", func(p *onboarding.CreateCustomerParams) { p.Phone = "" }, "phone", onboarding.CodeMissingRequiredField},
		{"phone without country", func(p *onboarding.CreateCustomerParams) { p.Phone = "11987654321" }, "phone", onboarding.CodeInvalidPhone},
		{"phone letters", func(p *onboarding.CreateCustomerParams) { p.Phone = "+55 11 9876-ABCD" }, "phone", onboarding.CodeInvalidPhone},
		{"phone too long", func(p *onboarding.CreateCustomerParams) { p.Phone = "+55119876543210000" }, "phone", onboarding.CodeInvalidPhone},
		{"missing external id", func(p *onboarding.CreateCustomerParams) { p.ExternalID = "" }, "external_id", onboarding.CodeMissingRequiredField},
		{"long external id", func(p *onboarding.CreateCustomerParams) { p.ExternalID = strings.Repeat("x", 129) }, "external_id", onboarding.CodeInvalidValue},
		{"legal nature", func(p *onboarding.CreateCustomerParams) { p.LegalNature = "cooperative" }, "legal_nature", onboarding.CodeInvalidValue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.edit(&p)
			_, _, err := b.svc.CreateCustomer(ctx, "p1", p)
			var ve *onboarding.ValidationError
			require.ErrorAs(t, err, &ve)
			require.ErrorIs(t, err, onboarding.ErrInvalidInput)
			require.Len(t, ve.Fields, 1, ve.Error())
			assert.Equal(t, tc.param, ve.Fields[0].Param)
			assert.Equal(t, tc.code, ve.Fields[0].Code)
			assert.NotContains(t, ve.Error(), "987654", "messages never echo personal data")
		})
	}
	// Several problems are reported together.
	_, _, err := b.svc.CreateCustomer(ctx, "p1", onboarding.CreateCustomerParams{})
	var ve *onboarding.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.GreaterOrEqual(t, len(ve.Fields), 5)
	_, _, err = b.svc.CreateCustomer(ctx, "", good)
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput, "a partner is required")
	_, _, err = b.svc.CreateCustomer(ctx, "p/../2", good)
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)

	list, err := b.store.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, list, "nothing is half-written")
}

func TestNormalisation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := params(t)
	cpf, _ := taxid.ParseCPF(p.CPF)
	p.CPF = cpf.Bare()
	p.CNPJ = "12abc34501de35"
	p.Phone = "+55 (11) 98765-4321"
	p.Email = "Maria@Example.COM"
	p.Name = "  Maria  "
	c, _, err := b.svc.CreateCustomer(context.Background(), "p1", p)
	require.NoError(t, err)
	assert.Equal(t, "12.ABC.345/01DE-35", c.CNPJ.String())
	assert.Equal(t, "+5511987654321", c.Phone)
	assert.Equal(t, "Maria@example.com", c.Email)
	assert.Equal(t, "Maria", c.Name)
	// The formatted form of the same numbers is the same customer.
	p.CPF, p.CNPJ = cpf.String(), "12.ABC.345/01DE-35"
	again, created, err := b.svc.CreateCustomer(context.Background(), "p1", p)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, c.ID, again.ID)
}

func TestIdempotencyConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := params(t)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)

	var ce *onboarding.ConflictError
	sameExt := params(t)
	sameExt.ExternalID = p.ExternalID
	_, _, err = b.svc.CreateCustomer(ctx, "p1", sameExt)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "external_id", ce.Field)
	assert.Equal(t, c.ID, ce.ExistingID)

	otherCPF := p
	otherCPF.CPF = params(t).CPF
	_, _, err = b.svc.CreateCustomer(ctx, "p1", otherCPF)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "cpf", ce.Field)

	// Another partner registers the same company on its own.
	c2, created, err := b.svc.CreateCustomer(ctx, "p2", p)
	require.NoError(t, err)
	assert.True(t, created)
	assert.NotEqual(t, c.ID, c2.ID)
}

func TestPartnerIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	d := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("iso"))
	name := "x"
	calls := map[string]func() error{
		"get": func() error { _, err := b.svc.GetCustomer(ctx, "p2", c.ID); return err },
		"update": func() error {
			_, err := b.svc.UpdateCustomer(ctx, "p2", c.ID, onboarding.UpdateCustomerParams{Name: &name})
			return err
		},
		"upload": func() error {
			_, err := b.svc.UploadDocument(ctx, "p2", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie, Body: bytes.NewReader(testfiles.PNG("x"))})
			return err
		},
		"review": func() error {
			_, err := b.svc.ReviewDocument(ctx, "p2", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
			return err
		},
		"deny":          func() error { _, err := b.svc.DenyCustomer(ctx, "p2", c.ID, "x", ""); return err },
		"history":       func() error { _, err := b.svc.History(ctx, "p2", c.ID); return err },
		"documents":     func() error { _, err := b.svc.ListDocuments(ctx, "p2", c.ID); return err },
		"document":      func() error { _, err := b.svc.GetDocument(ctx, "p2", d.ID); return err },
		"open document": func() error { _, _, err := b.svc.OpenDocument(ctx, "p2", d.ID); return err },
		"offers": func() error {
			_, err := b.svc.ListCreditOffers(ctx, "p2", onboarding.ListOffersParams{CustomerID: c.ID})
			return err
		},
	}
	for name, call := range calls {
		assert.ErrorIs(t, call(), onboarding.ErrNotFound, name)
	}
	page, err := b.svc.ListCustomers(ctx, "p2", onboarding.ListCustomersParams{})
	require.NoError(t, err)
	assert.Empty(t, page.Data)
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusPendingKYC, got.Status)
	assert.Len(t, b.blobs.Keys(), 1)
}

func TestUpdateCustomer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("old company"))
	upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG("me"))
	require.Equal(t, onboarding.StatusUnderReview, status(t, b, c.ID))

	email, phone := "novo@example.com", "+55 21 99999-0000"
	b.clock.Add(time.Hour)
	got, err := b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Email: &email, Phone: &phone})
	require.NoError(t, err)
	assert.Equal(t, "novo@example.com", got.Email)
	assert.Equal(t, "+5521999990000", got.Phone)
	assert.Equal(t, b.clock.Now(), got.UpdatedAt)
	assert.Equal(t, onboarding.StatusUnderReview, got.Status)

	// A new company: its document must be sent again, so the customer goes back.
	newCNPJ := params(t).CNPJ
	got, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{CNPJ: &newCNPJ})
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusPendingKYC, got.Status)
	assert.Equal(t, onboarding.RequirementPending, got.Requirement("req_ccmei").Status)
	assert.Equal(t, onboarding.RequirementSubmitted, got.Requirement("req_selfie_applicant").Status)

	// Unchanged input writes nothing.
	before := got.Version
	got, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Email: &email})
	require.NoError(t, err)
	assert.Equal(t, before, got.Version)

	bad := "nope"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Email: &bad, CNPJ: &bad})
	var ve *onboarding.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Fields, 2)

	// Another customer's CNPJ is a conflict.
	other, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	taken := other.CNPJ.String()
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{CNPJ: &taken})
	assert.ErrorIs(t, err, onboarding.ErrConflict)
}

func TestListCustomers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	var ids []string
	for range 31 {
		c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
		require.NoError(t, err)
		ids = append(ids, c.ID)
	}
	seen := map[string]bool{}
	after := ""
	for {
		page, err := b.svc.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{Limit: 7, StartingAfter: after})
		require.NoError(t, err)
		for _, c := range page.Data {
			assert.False(t, seen[c.ID])
			seen[c.ID] = true
		}
		if !page.HasMore {
			break
		}
		after = page.Data[len(page.Data)-1].ID
	}
	assert.Len(t, seen, 31)
	first, err := b.svc.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{})
	require.NoError(t, err)
	assert.Len(t, first.Data, 25)
	assert.Equal(t, ids[30], first.Data[0].ID, "newest first by default")

	for _, bad := range []onboarding.ListCustomersParams{{Limit: 101}, {Limit: -1}, {Sort: "name"}, {Order: "up"}, {Status: "weird"}, {CPF: "123"}} {
		_, err := b.svc.ListCustomers(ctx, "p1", bad)
		assert.ErrorIs(t, err, onboarding.ErrInvalidInput, "%+v", bad)
	}
	cpfPage, err := b.svc.ListCustomers(ctx, "p1", onboarding.ListCustomersParams{CPF: first.Data[3].CPF.String()})
	require.NoError(t, err)
	require.Len(t, cpfPage.Data, 1)
	assert.Equal(t, first.Data[3].ID, cpfPage.Data[0].ID)
}

func TestReasonsAreValidated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	d := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("r"))
	for _, reason := range []string{"", "bad\x00byte", strings.Repeat("x", 1001)} {
		_, err := b.svc.ReviewDocument(ctx, "p1", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewReject, Reason: reason})
		assert.ErrorIs(t, err, onboarding.ErrInvalidInput, "%q", reason)
		_, err = b.svc.DenyCustomer(ctx, "p1", c.ID, reason, "")
		assert.ErrorIs(t, err, onboarding.ErrInvalidInput, "%q", reason)
	}
	assert.Equal(t, onboarding.StatusPendingKYC, status(t, b, c.ID))
}

// ltdaRegistry answers every CNPJ with an LTDA owned by the applicant and one co-owner,
// whose name the test may change.
type ltdaRegistry struct{ coOwner *string }

func (r ltdaRegistry) LookupCompany(context.Context, taxid.CNPJ) (*onboarding.CompanyInfo, error) {
	return &onboarding.CompanyInfo{LegalNature: onboarding.LegalNatureLTDA, Status: "active",
		Partners: []onboarding.CompanyPartner{{Name: *r.coOwner, CPF: "52998224725"}}}, nil
}

func TestPatchKeepsCoOwnersAndResetsWhoChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	coOwner := "Beatriz Costa"
	b := setup(t, &onboarding.Options{Registry: ltdaRegistry{&coOwner}})
	p := params(t)
	p.LegalNature = "mei" // the registry says LTDA, and wins
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	assert.Equal(t, onboarding.LegalNatureLTDA, c.LegalNature)
	require.Len(t, c.KYC, 5, "articles, identity and selfie of the applicant and co-owner")
	for _, typ := range []onboarding.DocumentType{onboarding.DocArticlesOfAssociation, onboarding.DocSelfie} {
		review(t, b, upload(t, b, "p1", c.ID, typ, testfiles.PNG(string(typ))), onboarding.ReviewApprove, "")
	}
	before := kycStatus(t, b, c.ID)

	email := "outro@example.com"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Email: &email})
	require.NoError(t, err)
	assert.Equal(t, before, kycStatus(t, b, c.ID), "an email change leaves the kyc alone")
	assert.Equal(t, onboarding.StatusPendingKYC, status(t, b, c.ID))

	// The registry now lists another co-owner: their items start over; the applicant's
	// selfie, whose name changed too, as well.
	coOwner = "Carla Dias"
	name := "João da Silva Souza"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Name: &name})
	require.NoError(t, err)
	after := kycStatus(t, b, c.ID)
	assert.Len(t, after, 5)
	assert.Equal(t, onboarding.RequirementApproved, after["req_articles_of_association"])
	assert.Equal(t, onboarding.RequirementPending, after["req_selfie_applicant"], "approved for another name")
	assert.Equal(t, onboarding.RequirementPending, after["req_selfie_co_owner_1"])
}
