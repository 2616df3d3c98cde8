package onboarding_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/money"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
	"github.com/onboardkit/onboarding/taxid"
)

// bundle is what setup returns.
type bundle struct {
	svc   *onboarding.Service
	store *memstore.Store
	blobs *sandbox.MemoryBlobStore
	clock *fakeClock
}

// fakeClock is the Service's clock in tests; HTTP handlers read it from other goroutines.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func setup(t *testing.T, opts *onboarding.Options) *bundle {
	t.Helper()
	b := &bundle{store: memstore.New(), blobs: sandbox.NewMemoryBlobStore(),
		clock: &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}}
	if opts == nil {
		opts = &onboarding.Options{}
	}
	opts.Blobs, opts.NowFunc = b.blobs, b.clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b.svc = onboardingtest.NewService(t, b.store, opts)
	return b
}

var seedCounter atomic.Uint64

func params(t *testing.T) onboarding.CreateCustomerParams {
	r := rand.New(rand.NewPCG(seedCounter.Add(1), uint64(time.Now().UnixNano())))
	return onboarding.CreateCustomerParams{
		ExternalID: onboarding.NewID("ext"), CPF: taxid.GenerateCPF(r).String(), CNPJ: taxid.GenerateCNPJ(r, false).String(),
		Name: "João da Silva", Email: "joao@example.com", Phone: "+5511987654321", TradingName: "Oficina do João",
	}
}

func upload(t *testing.T, b *bundle, partner, custID string, typ onboarding.DocumentType, body []byte) *onboarding.Document {
	t.Helper()
	d, err := b.svc.UploadDocument(context.Background(), partner, custID, onboarding.UploadParams{Type: typ, Filename: "f", Body: bytes.NewReader(body)})
	require.NoError(t, err)
	return d
}

func review(t *testing.T, b *bundle, d *onboarding.Document, decision onboarding.ReviewDecision, reason string) {
	t.Helper()
	_, err := b.svc.ReviewDocument(context.Background(), "p1", d.ID, onboarding.ReviewParams{Decision: decision, Reason: reason, Reviewer: "ana"})
	require.NoError(t, err)
}

func status(t *testing.T, b *bundle, id string) onboarding.Status {
	t.Helper()
	c, err := b.svc.GetCustomer(context.Background(), "p1", id)
	require.NoError(t, err)
	return c.Status
}

func eventTypes(t *testing.T, b *bundle, custID string) []onboarding.EventType {
	t.Helper()
	evs, err := b.svc.ListEvents(context.Background(), "p1", onboarding.ListEventsParams{CustomerID: custID, Limit: 100})
	require.NoError(t, err)
	var out []onboarding.EventType
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestGuideFlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := params(t)
	c, created, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	require.True(t, created)
	assert.Equal(t, onboarding.StatusPendingKYC, c.Status)
	assert.True(t, strings.HasPrefix(c.ID, "cust_") && len(c.ID) == 37, c.ID)
	require.Len(t, c.KYC, 2)
	assert.Equal(t, onboarding.RequirementCompanyDocument, c.KYC[0].Type)
	assert.Equal(t, onboarding.DocCCMEI, c.KYC[0].DocumentType)
	assert.Equal(t, onboarding.RequirementSelfie, c.KYC[1].Type)
	assert.Equal(t, onboarding.SubjectApplicant, c.KYC[1].Subject.SubjectType)
	for _, r := range c.KYC {
		assert.True(t, r.Mandatory)
		assert.Equal(t, onboarding.RequirementPending, r.Status)
	}

	again, created, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, c.ID, again.ID)

	other := p
	other.ExternalID = "somebody-else"
	_, _, err = b.svc.CreateCustomer(ctx, "p1", other)
	var ce *onboarding.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "cnpj", ce.Field)

	b.clock.Add(time.Minute)
	ccmei := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("ccmei"))
	assert.Equal(t, onboarding.DocumentSubmitted, ccmei.Status)
	assert.Equal(t, onboarding.FormatPDF, ccmei.ContentType)
	assert.Equal(t, onboarding.StatusPendingKYC, status(t, b, c.ID))
	selfie := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.PNG("selfie"))
	assert.Equal(t, onboarding.StatusUnderReview, status(t, b, c.ID))

	review(t, b, ccmei, onboarding.ReviewApprove, "")
	assert.Equal(t, onboarding.StatusUnderReview, status(t, b, c.ID))
	review(t, b, selfie, onboarding.ReviewApprove, "")
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusActive, got.Status)
	for _, r := range got.KYC {
		assert.Equal(t, onboarding.RequirementApproved, r.Status)
		assert.Equal(t, onboarding.ReviewAccepted, r.Submitted.ReviewStatus)
	}

	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	require.Len(t, hist, 3)
	assert.Equal(t, onboarding.EventRegister, hist[0].Event)
	assert.Equal(t, onboarding.EventSubmit, hist[1].Event)
	assert.Equal(t, onboarding.StatusPendingKYC, hist[1].From)
	assert.Equal(t, "partner", hist[1].Actor)
	assert.Equal(t, onboarding.EventApprove, hist[2].Event)
	assert.Equal(t, "reviewer:ana", hist[2].Actor)

	assert.Equal(t, []onboarding.EventType{
		onboarding.EventCustomerCreated,
		onboarding.EventCustomerKYCUpdated, // ccmei uploaded
		onboarding.EventCustomerKYCUpdated, // selfie uploaded
		onboarding.EventCustomerUnderReview,
		onboarding.EventCustomerKYCUpdated, // ccmei approved
		onboarding.EventCustomerKYCUpdated, // selfie approved
		onboarding.EventCustomerActive,
	}, eventTypes(t, b, c.ID))

	// Registration enqueued the analysis; with no endpoint and no broker there is nothing
	// to deliver.
	jobs, err := b.store.ListJobs(ctx, onboarding.ListJobsParams{CustomerID: c.ID})
	require.NoError(t, err)
	kinds := map[onboarding.JobKind]int{}
	for _, j := range jobs {
		kinds[j.Kind]++
	}
	assert.Equal(t, map[onboarding.JobKind]int{onboarding.JobCreditAnalysis: 1}, kinds)
}

func TestEventPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	evs, err := b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: c.ID})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	var data map[string]any
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	for _, k := range []string{"id", "external_id", "name", "email", "phone", "cpf", "cnpj", "trading_name", "status", "kyc"} {
		assert.Contains(t, data, k)
	}
	assert.Equal(t, c.CPF.String(), data["cpf"])
	assert.Equal(t, "pending_kyc", data["status"])

	_, err = b.svc.DenyCustomer(ctx, "p1", c.ID, "sanctions list match", "")
	require.NoError(t, err)
	evs, err = b.svc.ListEvents(ctx, "p1", onboarding.ListEventsParams{CustomerID: c.ID, Type: onboarding.EventCustomerDenied})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	data = nil
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	assert.Equal(t, "denied", data["status"])
	assert.NotContains(t, data, "kyc")
}

func TestCustomerJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := params(t)
	p.CNPJ = ""
	c, _, err := b.svc.CreateCustomer(context.Background(), "p1", p)
	require.NoError(t, err)
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Nil(t, m["cnpj"])
	assert.NotContains(t, m, "partner_id")
	assert.NotContains(t, m, "version")
	kyc := m["kyc"].([]any)
	require.Len(t, kyc, 2, "a person owes identity and selfie")
	item := kyc[0].(map[string]any)
	for _, k := range []string{"requirement_id", "requirement_type", "type", "kind", "label", "description", "mandatory", "status", "message", "uploaded_at", "subject"} {
		assert.Contains(t, item, k)
	}
	assert.Equal(t, "identity", item["requirement_type"])
}

func TestRejectionAndReupload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	ccmei := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("a"))
	selfie := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.JPEG("a"))
	review(t, b, ccmei, onboarding.ReviewApprove, "")
	_, err = b.svc.ReviewDocument(ctx, "p1", selfie.ID, onboarding.ReviewParams{Decision: onboarding.ReviewReject})
	require.ErrorIs(t, err, onboarding.ErrInvalidInput, "a rejection needs a reason")
	review(t, b, selfie, onboarding.ReviewReject, "face not visible")

	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusPendingKYC, got.Status)
	r := got.Requirement("req_selfie_applicant")
	assert.Equal(t, onboarding.RequirementRejected, r.Status)
	require.NotNil(t, r.Message)
	assert.Equal(t, "face not visible", *r.Message)
	assert.Equal(t, onboarding.ReviewRejected, r.Submitted.ReviewStatus)
	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	last := hist[len(hist)-1]
	assert.Equal(t, onboarding.EventRequestChanges, last.Event)
	assert.Contains(t, last.Reason, "face not visible")

	// The rejected document cannot be reviewed again; the approved item cannot be re-sent.
	_, err = b.svc.ReviewDocument(ctx, "p1", selfie.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI, Body: bytes.NewReader(testfiles.PDF("b"))})
	assert.ErrorIs(t, err, onboarding.ErrDocumentNotRequired)

	selfie2 := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.JPEG("b"))
	assert.Equal(t, onboarding.StatusUnderReview, status(t, b, c.ID))
	got, err = b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Nil(t, got.Requirement("req_selfie_applicant").Message, "a new upload clears the message")
	review(t, b, selfie2, onboarding.ReviewApprove, "")
	assert.Equal(t, onboarding.StatusActive, status(t, b, c.ID))
}

func TestDeny(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	_, err = b.svc.DenyCustomer(ctx, "p1", c.ID, " ", "")
	require.ErrorIs(t, err, onboarding.ErrInvalidInput)
	denied, err := b.svc.DenyCustomer(ctx, "p1", c.ID, "fraud", "analyst:bob")
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusDenied, denied.Status)
	again, err := b.svc.DenyCustomer(ctx, "p1", c.ID, "fraud", "")
	require.NoError(t, err, "denying twice is a no-op")
	assert.Equal(t, denied.Version, again.Version)

	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI, Body: bytes.NewReader(testfiles.PDF("x"))})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	name := "New"
	_, err = b.svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Name: &name})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	assert.Empty(t, b.blobs.Keys())

	// An active customer cannot be denied through the KYC lifecycle.
	c2, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	review(t, b, upload(t, b, "p1", c2.ID, onboarding.DocCCMEI, testfiles.PDF("c2")), onboarding.ReviewApprove, "")
	review(t, b, upload(t, b, "p1", c2.ID, onboarding.DocSelfie, testfiles.PNG("c2")), onboarding.ReviewApprove, "")
	_, err = b.svc.DenyCustomer(ctx, "p1", c2.ID, "late fraud", "")
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
}

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

func TestUploadRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Uploads: onboarding.UploadRules{MaxSizeByType: map[onboarding.DocumentType]int64{onboarding.DocSelfie: 64}}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	pdf := testfiles.PDF("x")
	cases := []struct {
		name string
		typ  onboarding.DocumentType
		body io.Reader
		want error
	}{
		{"not required", onboarding.DocBylaws, bytes.NewReader(pdf), onboarding.ErrDocumentNotRequired},
		{"unknown type", "passport", bytes.NewReader(pdf), onboarding.ErrDocumentNotRequired},
		{"executable named pdf", onboarding.DocCCMEI, strings.NewReader("\x7fELF\x02\x01\x01" + strings.Repeat("\x00", 100)), onboarding.ErrUnsupportedFormat},
		{"html", onboarding.DocCCMEI, strings.NewReader("<html><script>alert(1)</script></html>"), onboarding.ErrUnsupportedFormat},
		{"gif", onboarding.DocSelfie, strings.NewReader("GIF89a\x01\x00\x01\x00"), onboarding.ErrUnsupportedFormat},
		{"pdf as selfie", onboarding.DocSelfie, bytes.NewReader(pdf), onboarding.ErrUnsupportedFormat},
		{"empty", onboarding.DocCCMEI, strings.NewReader(""), onboarding.ErrEmptyFile},
		{"nil body", onboarding.DocCCMEI, nil, onboarding.ErrEmptyFile},
		{"truncated pdf", onboarding.DocCCMEI, bytes.NewReader(pdf[:len(pdf)-7]), onboarding.ErrTruncatedFile},
		{"truncated jpeg", onboarding.DocSelfie, bytes.NewReader(testfiles.JPEG("x")[:20]), onboarding.ErrTruncatedFile},
		{"truncated png", onboarding.DocSelfie, bytes.NewReader(testfiles.PNG("x")[:40]), onboarding.ErrTruncatedFile},
		{"too large", onboarding.DocSelfie, bytes.NewReader(testfiles.JPEG(strings.Repeat("x", 100))), onboarding.ErrFileTooLarge},
		{"read error", onboarding.DocCCMEI, io.MultiReader(bytes.NewReader(pdf[:20]), errReader{}), errBroken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: tc.typ, Body: tc.body})
			require.ErrorIs(t, err, tc.want)
		})
	}
	docs, err := b.svc.ListDocuments(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs, "no row for a rejected upload")
	assert.Empty(t, b.blobs.Keys(), "no blob for a rejected upload")
	assert.Equal(t, []onboarding.EventType{onboarding.EventCustomerCreated}, eventTypes(t, b, c.ID))

	// Exactly at the limit is fine; the client's file name is data, never a path.
	body := testfiles.JPEG(strings.Repeat("y", 64-26))
	require.Len(t, body, 64)
	d, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie, Filename: "../../etc/passwd\x00", Body: bytes.NewReader(body)})
	require.NoError(t, err)
	assert.Equal(t, "../../etc/passwd", d.Filename)
	assert.Equal(t, onboarding.DocumentKey("p1", c.ID, d.ID), d.Key)
	assert.Equal(t, []string{d.Key}, b.blobs.Keys())
	assert.EqualValues(t, 64, d.Size)

	rc, got, err := b.svc.OpenDocument(ctx, "p1", d.ID)
	require.NoError(t, err)
	defer rc.Close()
	stored, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, body, stored)
	assert.Equal(t, d.SHA256, got.SHA256)
}

var errBroken = errors.New("connection reset")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestUploadIdempotentAndReplace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	first := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("same"))
	second := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("same"))
	assert.Equal(t, first.ID, second.ID, "identical bytes are idempotent")
	assert.Len(t, b.blobs.Keys(), 1)
	third := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("other"))
	assert.NotEqual(t, first.ID, third.ID)
	old, err := b.svc.GetDocument(ctx, "p1", first.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.DocumentSuperseded, old.Status)
	_, err = b.svc.ReviewDocument(ctx, "p1", first.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove})
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition, "a superseded document is not reviewed")
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, third.ID, got.Requirement("req_ccmei").Submitted.DocumentID)
}

func TestUploadByRequirementID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := params(t)
	p.LegalNature = "ltda"
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	var ids []string
	for _, r := range c.KYC {
		ids = append(ids, r.ID)
	}
	assert.Equal(t, []string{"req_articles_of_association", "req_identity_applicant", "req_selfie_applicant"}, ids)
	// The SDK sends an RG in two parts for the identity item.
	for _, part := range []string{"front", "back"} {
		_, err := b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_identity_applicant",
			Type: onboarding.DocRG, EvidenceType: "rg", AttachmentType: part, Body: bytes.NewReader(testfiles.JPEG(part))})
		require.NoError(t, err)
	}
	got, err := b.svc.GetCustomer(ctx, "p1", c.ID)
	require.NoError(t, err)
	sub := got.Requirement("req_identity_applicant").Submitted
	assert.Equal(t, "rg", sub.EvidenceType)
	assert.Equal(t, []onboarding.Attachment{{AttachmentType: "front", Submitted: true}, {AttachmentType: "back", Submitted: true}}, sub.Attachments)
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_selfie_applicant",
		Type: onboarding.DocCNH, Body: bytes.NewReader(testfiles.JPEG("x"))})
	assert.ErrorIs(t, err, onboarding.ErrDocumentNotRequired)
	_, err = b.svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{RequirementID: "req_nope", Body: bytes.NewReader(testfiles.JPEG("x"))})
	assert.ErrorIs(t, err, onboarding.ErrDocumentNotRequired)
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

// registry is a CompanyRegistry answering from a map.
type registry map[taxid.CNPJ]*onboarding.CompanyInfo

func (r registry) LookupCompany(_ context.Context, cnpj taxid.CNPJ) (*onboarding.CompanyInfo, error) {
	if info, ok := r[cnpj]; ok {
		return info, nil
	}
	return nil, errors.New("registry unavailable")
}

func TestRequirementPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := map[onboarding.LegalNature][]onboarding.DocumentType{
		onboarding.LegalNatureMEI:    {onboarding.DocCCMEI, onboarding.DocSelfie},
		onboarding.LegalNatureEI:     {onboarding.DocEIRegistrationRequirement, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureLTDA:   {onboarding.DocArticlesOfAssociation, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureSLU:    {onboarding.DocArticlesOfAssociation, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureSA:     {onboarding.DocBylaws, onboarding.DocCNH, onboarding.DocSelfie},
		onboarding.LegalNatureEIRELI: {onboarding.DocEIRELIIncorporationStatement, onboarding.DocCNH, onboarding.DocSelfie},
	}
	for ln, want := range cases {
		reqs, err := onboarding.DefaultPolicy{}.Requirements(ctx, onboarding.RequirementInput{CPF: "52998224725", CNPJ: "11222333000181", Name: "Ana", LegalNature: ln})
		require.NoError(t, err)
		var got []onboarding.DocumentType
		for _, r := range reqs {
			got = append(got, r.DocumentType)
		}
		assert.Equal(t, want, got, ln)
	}
	reqs, err := onboarding.DefaultPolicy{ProofOfAddress: true, IncomeStatement: true}.Requirements(ctx, onboarding.RequirementInput{CPF: "52998224725", CNPJ: "11222333000181", Name: "Ana"})
	require.NoError(t, err)
	require.Len(t, reqs, 4)
	assert.False(t, reqs[2].Mandatory)
	assert.False(t, reqs[3].Mandatory)

	// A registry decides the legal nature and adds co-owners.
	r := rand.New(rand.NewPCG(1, 2))
	p := params(t)
	cnpj, _ := taxid.ParseCNPJ(p.CNPJ)
	cpf, _ := taxid.ParseCPF(p.CPF)
	reg := registry{cnpj: {LegalNature: onboarding.LegalNatureLTDA, Partners: []onboarding.CompanyPartner{
		{Name: "João da Silva", CPF: cpf}, {Name: "Beatriz Costa", CPF: taxid.GenerateCPF(r)}}}}
	b := setup(t, &onboarding.Options{Registry: reg})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	assert.Equal(t, onboarding.LegalNatureLTDA, c.LegalNature)
	var subjects []string
	for _, r := range c.KYC {
		if r.Subject != nil {
			subjects = append(subjects, string(r.Subject.SubjectType)+":"+string(r.Type))
		}
	}
	assert.Equal(t, []string{"applicant:identity", "applicant:selfie", "co_owner:identity", "co_owner:selfie"}, subjects)

	// A registry failure fails the registration and writes nothing.
	_, _, err = b.svc.CreateCustomer(ctx, "p1", params(t))
	require.ErrorContains(t, err, "registry unavailable")

	// A policy that misbehaves is caught.
	dup := onboarding.RequirementPolicyFunc(func(context.Context, onboarding.RequirementInput) ([]onboarding.Requirement, error) {
		return []onboarding.Requirement{{ID: "a"}, {ID: "a"}}, nil
	})
	_, _, err = setup(t, &onboarding.Options{Policy: dup}).svc.CreateCustomer(ctx, "p1", params(t))
	require.ErrorContains(t, err, "duplicate requirement_id")
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

func TestLifecycleTransitions(t *testing.T) {
	t.Parallel()
	all := []onboarding.Status{onboarding.StatusPendingKYC, onboarding.StatusUnderReview, onboarding.StatusActive, onboarding.StatusDenied}
	events := []onboarding.LifecycleEvent{onboarding.EventSubmit, onboarding.EventApprove, onboarding.EventRequestChanges, onboarding.EventDeny}
	allowed := map[[2]string]onboarding.Status{
		{"pending_kyc", "submit"}:           onboarding.StatusUnderReview,
		{"under_review", "approve"}:         onboarding.StatusActive,
		{"under_review", "request_changes"}: onboarding.StatusPendingKYC,
		{"pending_kyc", "deny"}:             onboarding.StatusDenied,
		{"under_review", "deny"}:            onboarding.StatusDenied,
	}
	for _, from := range all {
		for _, ev := range events {
			to, err := onboarding.NextStatus(context.Background(), from, ev)
			if want, ok := allowed[[2]string{string(from), string(ev)}]; ok {
				require.NoError(t, err, "%s --%s-->", from, ev)
				assert.Equal(t, want, to)
			} else {
				assert.ErrorIs(t, err, onboarding.ErrInvalidTransition, "%s --%s-->", from, ev)
			}
		}
	}
}

func TestOfferJSON(t *testing.T) {
	t.Parallel()
	r := 350 * money.BasisPoint
	o := &onboarding.CreditOffer{ID: "co_1", ApprovedAmount: money.Reais(50000), MinAmount: 500000, MonthlyInterestRate: r, MinInstallments: 3, MaxInstallments: 24}
	raw, err := json.Marshal(o)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, "50000.00", m["approved_amount"])
	assert.Equal(t, "5000.00", m["min_amount"])
	assert.Equal(t, 3.5, m["interest_rate"])
	assert.Equal(t, 3.5, m["monthly_interest_rate"])
	assert.NotContains(t, m, "installments")
}

func TestSandboxRegistry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := sandbox.Registry{}
	cases := map[string]onboarding.LegalNature{
		"11.222.333/0001-81": onboarding.LegalNatureMEI, // raiz ends in 3
		"12.ABC.345/01DE-35": onboarding.LegalNatureMEI, // alphanumeric, raiz ends in 5
		"11.444.777/0001-61": onboarding.LegalNatureSLU, // raiz ends in 7
	}
	for in, want := range cases {
		cnpj, err := taxid.ParseCNPJ(in)
		require.NoError(t, err)
		a, err := reg.LookupCompany(ctx, cnpj)
		require.NoError(t, err)
		b, err := reg.LookupCompany(ctx, cnpj)
		require.NoError(t, err)
		assert.Equal(t, a, b, "deterministic")
		assert.Equal(t, want, a.LegalNature, in)
	}
	b := setup(t, &onboarding.Options{Registry: reg})
	p := params(t)
	p.CNPJ = "12.ABC.345/01DE-35"
	c, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	assert.Equal(t, onboarding.LegalNatureMEI, c.LegalNature)
	assert.Len(t, c.KYC, 2, "the guide's MEI: ccmei and selfie")
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

func TestJSONRoundTrips(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(context.Background(), "p1", params(t))
	require.NoError(t, err)
	raw, err := json.Marshal(c)
	require.NoError(t, err)
	var back onboarding.Customer
	require.NoError(t, json.Unmarshal(raw, &back))
	want := c.Clone()
	want.PartnerID, want.Version = "", 0
	assert.Equal(t, want, &back)
	assert.Error(t, json.Unmarshal([]byte(`{"cpf":"123.456.789-00"}`), &back), "the CPF is checked")

	o := &onboarding.CreditOffer{ID: "co_1", CustomerID: c.ID, ExternalID: "e", Status: onboarding.OfferAvailable,
		ApprovedAmount: 5_000_000, MinAmount: 500_000, MonthlyInterestRate: 34_900, MinInstallments: 3, MaxInstallments: 24,
		DueDateRule: "monthly", ValidUntil: b.clock.Now(), CreatedAt: b.clock.Now(), UpdatedAt: b.clock.Now()}
	raw, err = json.Marshal(o)
	require.NoError(t, err)
	var ob onboarding.CreditOffer
	require.NoError(t, json.Unmarshal(raw, &ob))
	assert.Equal(t, o, &ob)
}
