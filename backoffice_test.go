package onboarding_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/taxid"
)

// decisions returns the item_decision rows of a customer's history as "actor: reason".
func decisions(t *testing.T, b *bundle, custID string) []string {
	t.Helper()
	hist, err := b.svc.History(context.Background(), "p1", custID)
	require.NoError(t, err)
	var out []string
	for _, h := range hist {
		if h.Event == onboarding.EventItemDecision {
			assert.Equal(t, h.From, h.To, "a decision row moves no status")
			out = append(out, h.Actor+": "+h.Reason)
		}
	}
	return out
}

func TestItemDecisionsAreRecordedWithTheirActor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	ccmei := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("a"))

	// An approval while the customer is still pending_kyc changes no status: still
	// recorded, with the operator.
	_, err = b.svc.ReviewDocumentAs(ctx, "p1", ccmei.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove}, "operator:ana")
	require.NoError(t, err)
	assert.Equal(t, onboarding.StatusPendingKYC, status(t, b, c.ID))
	assert.Equal(t, []string{"operator:ana: req_ccmei approved"}, decisions(t, b, c.ID))

	selfie := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.JPEG("a"))
	_, err = b.svc.ReviewDocumentAs(ctx, "p1", selfie.ID, onboarding.ReviewParams{Decision: onboarding.ReviewReject,
		Reason: " blurry "}, "operator:bia")
	require.NoError(t, err)
	assert.Equal(t, []string{"operator:ana: req_ccmei approved", "operator:bia: req_selfie_applicant rejected: blurry"},
		decisions(t, b, c.ID))
	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	last := hist[len(hist)-1]
	assert.Equal(t, onboarding.EventRequestChanges, last.Event, "the decision's row comes before the transition it causes")
	assert.Equal(t, "operator:bia", last.Actor)
	assert.Equal(t, onboarding.EventItemDecision, hist[len(hist)-2].Event)

	// The public call keeps its "reviewer:" actors.
	selfie2 := upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.JPEG("b"))
	review(t, b, selfie2, onboarding.ReviewApprove, "")
	assert.Equal(t, onboarding.StatusActive, status(t, b, c.ID))
	got := decisions(t, b, c.ID)
	assert.Equal(t, "reviewer:ana: req_selfie_applicant approved", got[len(got)-1])

	// A refused decision writes nothing.
	n := len(decisions(t, b, c.ID))
	_, err = b.svc.ReviewDocumentAs(ctx, "p1", selfie2.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove}, "operator:ana")
	assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
	assert.Len(t, decisions(t, b, c.ID), n)
}

func TestReviewDocumentAsChecksItsInput(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	d := upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("a"))
	for name, call := range map[string]func() error{
		"no actor": func() error {
			_, err := b.svc.ReviewDocumentAs(ctx, "p1", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove}, "")
			return err
		},
		"control characters": func() error {
			_, err := b.svc.ReviewDocumentAs(ctx, "p1", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove}, "operator:a\nb")
			return err
		},
		"reject without a reason": func() error {
			_, err := b.svc.ReviewDocumentAs(ctx, "p1", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewReject}, "operator:ana")
			return err
		},
	} {
		assert.ErrorIs(t, call(), onboarding.ErrInvalidInput, name)
	}
	_, err = b.svc.ReviewDocumentAs(ctx, "p2", d.ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove}, "operator:ana")
	assert.ErrorIs(t, err, onboarding.ErrNotFound, "another partner's document")
	assert.Empty(t, decisions(t, b, c.ID))
}

func TestAutomatedDecisionsAreRecorded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, &onboarding.Options{Reviewer: sandbox.Reviewer{}, Biometrics: sandbox.Biometrics{}})
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	uploadNamed(t, b, c.ID, onboarding.DocCCMEI, "ccmei.pdf", testfiles.PDF("a"))
	uploadNamed(t, b, c.ID, onboarding.DocSelfie, "me.jpg", testfiles.JPEG("a"))
	_, err = b.svc.Work(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"reviewer:sandbox: req_ccmei approved", "reviewer:sandbox: req_selfie_applicant approved"},
		decisions(t, b, c.ID))
}

// Many operators deciding the same customer's items at once: each decision that took
// effect has exactly one row, and the customer ends active once.
func TestConcurrentDecisionsEachRecordedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	docs := []*onboarding.Document{
		upload(t, b, "p1", c.ID, onboarding.DocCCMEI, testfiles.PDF("a")),
		upload(t, b, "p1", c.ID, onboarding.DocSelfie, testfiles.JPEG("a")),
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.svc.ReviewDocumentAs(ctx, "p1", docs[i%2].ID, onboarding.ReviewParams{Decision: onboarding.ReviewApprove},
				fmt.Sprintf("operator:op%d", i))
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else {
				assert.ErrorIs(t, err, onboarding.ErrInvalidTransition)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 2, won, "one decision per item takes effect")
	assert.Len(t, decisions(t, b, c.ID), 2)
	hist, err := b.svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	approvals := 0
	for _, h := range hist {
		if h.Event == onboarding.EventApprove {
			approvals++
			assert.True(t, strings.HasPrefix(h.Actor, "operator:op"))
		}
	}
	assert.Equal(t, 1, approvals)
}

func TestParseCustomerQuery(t *testing.T) {
	t.Parallel()
	assert.True(t, onboarding.ParseCustomerQuery("  ").IsZero())
	m := onboarding.ParseCustomerQuery(" 529.982.247-25 ")
	assert.Equal(t, taxid.CPF("52998224725"), m.CPF)
	assert.Empty(t, m.CNPJ)
	assert.Equal(t, "529.982.247-25", m.ExternalID, "the text is also tried as an external ID")
	m = onboarding.ParseCustomerQuery("11.222.333/0001-81")
	assert.Equal(t, taxid.CNPJ("11222333000181"), m.CNPJ)
	assert.Empty(t, m.CPF)
	m = onboarding.ParseCustomerQuery("cust_0193")
	assert.Equal(t, onboarding.CustomerMatch{ID: "cust_0193", ExternalID: "cust_0193"}, m)
	assert.Empty(t, onboarding.ParseCustomerQuery("529.982.247-26").CPF, "a wrong check digit is no CPF")
}

func TestSearchCustomersAcrossPartners(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	p := params(t)
	a, _, err := b.svc.CreateCustomer(ctx, "p1", p)
	require.NoError(t, err)
	b.clock.Add(time.Hour)
	other, _, err := b.svc.CreateCustomer(ctx, "p2", params(t))
	require.NoError(t, err)

	page, err := b.svc.SearchCustomers(ctx, onboarding.QueueParams{})
	require.NoError(t, err)
	require.Len(t, page.Data, 2)
	assert.Equal(t, a.ID, page.Data[0].ID, "oldest first")
	assert.False(t, page.HasMore)
	page, err = b.svc.SearchCustomers(ctx, onboarding.QueueParams{Limit: 1})
	require.NoError(t, err)
	assert.True(t, page.HasMore)
	page, err = b.svc.SearchCustomers(ctx, onboarding.QueueParams{Limit: 1, Offset: 1})
	require.NoError(t, err)
	assert.Equal(t, other.ID, page.Data[0].ID)
	assert.False(t, page.HasMore)

	page, err = b.svc.SearchCustomers(ctx, onboarding.QueueParams{Query: p.CPF})
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	assert.Equal(t, a.ID, page.Data[0].ID, "by the formatted CPF")
	digits := strings.NewReplacer(".", "", "/", "", "-", "").Replace(p.CNPJ)
	page, err = b.svc.SearchCustomers(ctx, onboarding.QueueParams{Query: digits})
	require.NoError(t, err)
	require.Len(t, page.Data, 1, "by the bare CNPJ")
	page, err = b.svc.SearchCustomers(ctx, onboarding.QueueParams{WaitingAtLeast: 30 * time.Minute})
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	assert.Equal(t, a.ID, page.Data[0].ID)
	page, err = b.svc.SearchCustomers(ctx, onboarding.QueueParams{Statuses: []onboarding.Status{onboarding.StatusActive}})
	require.NoError(t, err)
	assert.Empty(t, page.Data)

	located, err := b.svc.LocateCustomer(ctx, other.ID)
	require.NoError(t, err)
	assert.Equal(t, "p2", located.PartnerID)
	_, err = b.svc.LocateCustomer(ctx, "cust_missing")
	assert.ErrorIs(t, err, onboarding.ErrNotFound)

	for _, bad := range []onboarding.QueueParams{{Limit: 101}, {Offset: -1}, {Statuses: []onboarding.Status{"nope"}},
		{PartnerID: "a b"}, {WaitingAtLeast: -time.Second}} {
		_, err := b.svc.SearchCustomers(ctx, bad)
		assert.ErrorIs(t, err, onboarding.ErrInvalidInput, "%+v", bad)
	}
}

func TestRecordAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	e, err := b.svc.RecordAudit(ctx, onboarding.AuditEntry{Actor: "operator:ana", Action: onboarding.AuditLogin,
		Detail: "from\x00 there" + strings.Repeat("x", 2000)})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(e.ID, "aud_"))
	assert.LessOrEqual(t, len(e.Detail), 1000)
	assert.NotContains(t, e.Detail, "\x00")
	_, err = b.svc.RecordAudit(ctx, onboarding.AuditEntry{Action: onboarding.AuditLogin})
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput)
	page, err := b.svc.ListAudit(ctx, onboarding.ListAuditParams{})
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	assert.Equal(t, e.ID, page.Data[0].ID)
}

// TestRecordCustomerAudit: an entry that may quote its customer keeps its detail while
// the customer exists, and the erasure empties it; written after the erasure, it gets its
// redacted detail instead; RecordAudit writes an entry as given. Entries racing an
// erasure are never left with the reason.
func TestRecordCustomerAudit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, nil)
	c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
	require.NoError(t, err)
	reason := "the photo is not " + c.Name
	decision := onboarding.AuditEntry{Actor: "operator:ana", Action: onboarding.AuditReject, PartnerID: "p1",
		CustomerID: c.ID, Target: "doc_1", Detail: reason}
	before, err := b.svc.RecordCustomerAudit(ctx, decision, "")
	require.NoError(t, err)
	assert.Equal(t, reason, before.Detail)
	_, err = b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "request"})
	require.NoError(t, err)
	after, err := b.svc.RecordCustomerAudit(ctx, decision, "refused: not found")
	require.NoError(t, err)
	assert.Equal(t, "refused: not found", after.Detail)
	plain, err := b.svc.RecordAudit(ctx, onboarding.AuditEntry{Actor: "operator:ana", Action: onboarding.AuditErase,
		PartnerID: "p1", CustomerID: c.ID, Detail: "request"})
	require.NoError(t, err)
	assert.Equal(t, "request", plain.Detail)
	_, err = b.svc.RecordCustomerAudit(ctx, onboarding.AuditEntry{Action: onboarding.AuditDeny}, "")
	assert.ErrorIs(t, err, onboarding.ErrInvalidInput, "no actor")
	page, err := b.svc.ListAudit(ctx, onboarding.ListAuditParams{CustomerID: c.ID})
	require.NoError(t, err)
	details := map[string]string{}
	for _, e := range page.Data {
		details[e.ID] = e.Detail
	}
	assert.Equal(t, map[string]string{before.ID: "", after.ID: "refused: not found", plain.ID: "request"}, details)

	for range 5 {
		c, _, err := b.svc.CreateCustomer(ctx, "p1", params(t))
		require.NoError(t, err)
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				if i == 8 {
					_, err := b.svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "request"})
					assert.NoError(t, err)
					return
				}
				_, err := b.svc.RecordCustomerAudit(ctx, onboarding.AuditEntry{Actor: "operator:ana",
					Action: onboarding.AuditDeny, PartnerID: "p1", CustomerID: c.ID, Detail: "denied: " + c.Name}, "")
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		page, err := b.svc.ListAudit(ctx, onboarding.ListAuditParams{CustomerID: c.ID})
		require.NoError(t, err)
		require.Len(t, page.Data, 15)
		for _, e := range page.Data {
			assert.NotContains(t, e.Detail, c.Name)
		}
	}
}

// FuzzParseCustomerQuery: a search box's text never panics the parser, its CPF and CNPJ
// are set only when valid, and the IDs it looks for are bounded.
func FuzzParseCustomerQuery(f *testing.F) {
	for _, s := range []string{"", "123.456.789-09", "12.345.678/0001-95", "cust_0123", "seller-1", strings.Repeat("x", 500), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := onboarding.ParseCustomerQuery(s)
		if m.CPF != "" {
			if _, err := taxid.ParseCPF(string(m.CPF)); err != nil {
				t.Fatalf("%q: CPF %q is not valid", s, m.CPF)
			}
		}
		if m.CNPJ != "" {
			if _, err := taxid.ParseCNPJ(string(m.CNPJ)); err != nil {
				t.Fatalf("%q: CNPJ %q is not valid", s, m.CNPJ)
			}
		}
		if len(m.ID) > 256 || len(m.ExternalID) > 256 {
			t.Fatalf("%q: unbounded keys", s)
		}
	})
}
