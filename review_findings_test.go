package onboarding_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/taxid"
)

// ltdaRegistry answers every CNPJ with an LTDA owned by the applicant and one co-owner,
// whose name the test may change.
type ltdaRegistry struct{ coOwner *string }

func (r ltdaRegistry) LookupCompany(context.Context, taxid.CNPJ) (*onboarding.CompanyInfo, error) {
	return &onboarding.CompanyInfo{LegalNature: onboarding.LegalNatureLTDA, Status: "active",
		Partners: []onboarding.CompanyPartner{{Name: *r.coOwner, CPF: "52998224725"}}}, nil
}

func kycStatus(t *testing.T, b *bundle, id string) map[string]onboarding.RequirementStatus {
	t.Helper()
	c, err := b.svc.GetCustomer(context.Background(), "p1", id)
	require.NoError(t, err)
	out := map[string]onboarding.RequirementStatus{}
	for _, r := range c.KYC {
		out[r.ID] = r.Status
	}
	return out
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

func TestActiveCustomerKeepsItsIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("a")), onboarding.ReviewApprove, "")
	review(t, b, upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG("a")), onboarding.ReviewApprove, "")
	name := "Someone Else"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Name: &name})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	phone := "+5521912345678"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Phone: &phone})
	require.NoError(t, err, "contact data may change")
}

func TestDenialWithdrawsOffers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}})

	// Denied before the analysis ran: no offer.
	early, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.DenyCustomer(ctx, "p1", early.ID, "fraud", "")
	require.NoError(t, err)

	// Denied after: the offer expires and the partner hears of it.
	late, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.Empty(t, offers(t, b, early.ID))
	require.Len(t, offers(t, b, late.ID), 1)
	_, err = b.svc.DenyCustomer(ctx, "p1", late.ID, "sanctions", "")
	require.NoError(t, err)
	o := offers(t, b, late.ID)[0]
	assert.Equal(t, onboarding.OfferExpired, o.Status)
	assert.Contains(t, eventTypes(t, b, late.ID), onboarding.EventCreditOfferExpired)
}

func TestNewCompanyGetsANewAnalysis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Scorer: scoring.Sandbox{}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	first := offers(t, b, c.ID)
	require.Len(t, first, 1)

	other := params(t).CNPJ
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{CNPJ: &other})
	require.NoError(t, err)
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	list := offers(t, b, c.ID)
	require.Len(t, list, 2)
	assert.Equal(t, onboarding.OfferAvailable, list[0].Status, "the new company's offer")
	assert.Equal(t, onboarding.OfferExpired, list[1].Status, "the old company's offer is withdrawn")
}

func TestEndpointLimitsAndRecoveryWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	var first *onboarding.WebhookEndpoint
	for i := range onboarding.MaxEndpointsPerPartner {
		ep, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://hooks.example.com/" + strconv.Itoa(i)})
		require.NoError(t, err)
		if first == nil {
			first = ep
		}
	}
	_, _, err := b.svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://hooks.example.com/one-too-many"})
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	_, _, err = b.svc.CreateWebhookEndpoint(ctx, "p2", onboarding.CreateEndpointParams{URL: "https://hooks.example.com/other-partner"})
	require.NoError(t, err, "the limit is per partner")

	_, err = b.svc.RecoverWebhookEndpoint(ctx, "p1", first.ID, b.clock.Now().Add(-31*24*time.Hour))
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	n, err := b.svc.RecoverWebhookEndpoint(ctx, "p1", first.ID, b.clock.Now().Add(-24*time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n)
}

// partsReviewer records the parts it was shown and approves.
type partsReviewer struct {
	mu    sync.Mutex
	parts []string
}

func (p *partsReviewer) Review(ctx context.Context, in onboarding.ReviewInput) (onboarding.Verdict, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range in.Parts {
		rc, err := in.OpenPart(ctx, d.ID)
		if err != nil {
			return onboarding.Verdict{}, err
		}
		rc.Close()
		p.parts = append(p.parts, d.Filename)
	}
	return onboarding.Verdict{Decision: onboarding.VerdictApprove, Provider: "parts"}, nil
}

func TestTwoPartIdentityIsReviewedWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rev := &partsReviewer{}
	b := setup(t, &onboarding.Options{Reviewer: rev})
	p := params(t)
	p.LegalNature = "ltda"
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	var ids []string
	for _, part := range []string{"front", "back"} {
		d, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_identity_applicant",
			Type: onboarding.DocCNH, EvidenceType: "cnh", AttachmentType: part, Filename: part + ".jpg",
			Body: bytes.NewReader(testfiles.JPEG(part))})
		require.NoError(t, err)
		ids = append(ids, d.ID)
	}
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	rev.mu.Lock()
	assert.Contains(t, rev.parts, "front.jpg", "the reviewer saw the front too")
	assert.Contains(t, rev.parts, "back.jpg")
	rev.mu.Unlock()
	for _, id := range ids {
		d, err := b.svc.GetDocument(ctx, "p1", id)
		require.NoError(t, err)
		assert.Equal(t, onboarding.DocumentApproved, d.Status, d.Filename)
	}
}

func TestUploadsPerItemAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	for i := range onboarding.MaxUploadsPerItem {
		upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG(strconv.Itoa(i)))
	}
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie,
		Body: bytes.NewReader(testfiles.PNG("one too many"))})
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	assert.Len(t, b.blobs.Keys(), onboarding.MaxUploadsPerItem, "the refused upload left no blob")
}
