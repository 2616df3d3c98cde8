package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/taxid"
	"github.com/onboardkit/onboarding/webhook"
)

// testBackofficeQueries covers the cross-partner reads of the back office and its audit
// log.
func testBackofficeQueries(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	r := rng(t)
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	mk := func(partner string, st onboarding.Status, updated int) *onboarding.Customer {
		c := newCustomer(r, partner)
		c.Status, c.UpdatedAt = st, at(updated)
		insertCustomer(t, s, c)
		return c
	}
	// Two partners; the queue interleaves them.
	review1 := mk("p1", onboarding.StatusUnderReview, 30)
	review2 := mk("p2", onboarding.StatusUnderReview, 10)
	pending1 := mk("p1", onboarding.StatusPendingKYC, 5)
	pending2 := mk("p2", onboarding.StatusPendingKYC, 40)
	active := mk("p1", onboarding.StatusActive, 1)
	denied := mk("p2", onboarding.StatusDenied, 2)
	person := mk("p1", onboarding.StatusPendingKYC, 50)
	person.CNPJ = ""
	person.Version = 1
	person.UpdatedAt = at(50)
	require.NoError(t, s.UpdateCustomer(ctx, person))

	ids := func(l []*onboarding.Customer, err error) []string {
		t.Helper()
		require.NoError(t, err)
		out := []string{}
		for _, c := range l {
			out = append(out, c.ID)
		}
		return out
	}
	search := func(f onboarding.SearchCustomersParams) []string {
		t.Helper()
		return ids(s.SearchCustomers(ctx, f))
	}
	waiting := []onboarding.Status{onboarding.StatusUnderReview, onboarding.StatusPendingKYC}
	assert.Equal(t, []string{review2.ID, review1.ID, pending1.ID, pending2.ID, person.ID},
		search(onboarding.SearchCustomersParams{Statuses: waiting, Limit: 10}),
		"under_review first, then pending_kyc; the least recently changed first; every partner")
	assert.Equal(t, []string{review2.ID, review1.ID, pending1.ID, pending2.ID, person.ID, active.ID, denied.ID},
		search(onboarding.SearchCustomersParams{Limit: 10}), "active, then denied, after the waiting ones")
	assert.Equal(t, []string{review1.ID, pending1.ID, person.ID},
		search(onboarding.SearchCustomersParams{PartnerID: "p1", Statuses: waiting, Limit: 10}))
	assert.Equal(t, []string{review1.ID, pending1.ID},
		search(onboarding.SearchCustomersParams{PartnerID: "p1", Statuses: waiting, Limit: 2}))
	assert.Equal(t, []string{pending1.ID, pending2.ID},
		search(onboarding.SearchCustomersParams{Statuses: waiting, Limit: 2, Offset: 2}), "offset paging")
	assert.Equal(t, []string{pending2.ID, person.ID},
		search(onboarding.SearchCustomersParams{Statuses: waiting, Offset: 3}), "an offset without a limit")
	assert.Empty(t, search(onboarding.SearchCustomersParams{Statuses: waiting, Limit: 5, Offset: 50}))
	assert.Equal(t, []string{review2.ID, pending1.ID},
		search(onboarding.SearchCustomersParams{Statuses: waiting, UpdatedBefore: at(30), Limit: 10}),
		"unchanged since before the cut (strictly)")

	// Search: any key, exactly, across partners.
	m := func(m onboarding.CustomerMatch) []string {
		t.Helper()
		return search(onboarding.SearchCustomersParams{Match: m, Limit: 10})
	}
	assert.Equal(t, []string{review1.ID}, m(onboarding.CustomerMatch{ID: review1.ID}))
	assert.Equal(t, []string{pending2.ID}, m(onboarding.CustomerMatch{ExternalID: pending2.ExternalID}))
	assert.Equal(t, []string{denied.ID}, m(onboarding.CustomerMatch{CPF: denied.CPF}))
	assert.Equal(t, []string{active.ID}, m(onboarding.CustomerMatch{CNPJ: active.CNPJ}))
	assert.Equal(t, []string{review1.ID, pending2.ID},
		m(onboarding.CustomerMatch{ID: review1.ID, ExternalID: pending2.ExternalID}), "any key matches")
	assert.Empty(t, m(onboarding.CustomerMatch{ID: "cust_none", CPF: taxid.GenerateCPF(r)}))
	assert.Empty(t, m(onboarding.CustomerMatch{ExternalID: review1.ExternalID[:len(review1.ExternalID)-1]}), "exact, not a prefix")
	assert.Equal(t, []string{person.ID}, m(onboarding.CustomerMatch{CPF: person.CPF, CNPJ: ""}),
		"an empty key matches nothing: not every customer without a company")
	assert.Empty(t, search(onboarding.SearchCustomersParams{PartnerID: "p2", Match: onboarding.CustomerMatch{ID: review1.ID}, Limit: 10}))

	// Copies: changing a result changes nothing stored.
	got, err := s.SearchCustomers(ctx, onboarding.SearchCustomersParams{Match: onboarding.CustomerMatch{ID: review1.ID}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, review1.KYC, got[0].KYC)
	got[0].KYC[0].Status = onboarding.RequirementApproved
	again, err := s.GetCustomer(ctx, "p1", review1.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.RequirementPending, again.KYC[0].Status)

	counts, err := s.CountCustomers(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, map[onboarding.Status]int{onboarding.StatusUnderReview: 2, onboarding.StatusPendingKYC: 3,
		onboarding.StatusActive: 1, onboarding.StatusDenied: 1}, counts)
	counts, err = s.CountCustomers(ctx, "p2")
	require.NoError(t, err)
	assert.Equal(t, map[onboarding.Status]int{onboarding.StatusUnderReview: 1, onboarding.StatusPendingKYC: 1,
		onboarding.StatusDenied: 1}, counts)
	counts, err = s.CountCustomers(ctx, "p9")
	require.NoError(t, err)
	assert.Empty(t, counts)

	// Jobs: live and dead ones are counted per kind and state, completed ones are not.
	jobCounts, err := s.CountJobs(ctx, time.Now())
	require.NoError(t, err)
	assert.Empty(t, jobCounts)
	for i, st := range []onboarding.JobState{onboarding.JobAvailable, onboarding.JobAvailable, onboarding.JobDead, onboarding.JobCompleted} {
		j := newJob(review1, base)
		j.State = st
		if i == 0 {
			j.Kind = onboarding.JobReviewDocument
		}
		require.NoError(t, s.InsertJob(ctx, j))
	}
	jobCounts, err = s.CountJobs(ctx, base)
	require.NoError(t, err)
	assert.ElementsMatch(t, []onboarding.JobCount{
		{Kind: onboarding.JobCreditAnalysis, State: onboarding.JobAvailable, Count: 1, OldestDue: base},
		{Kind: onboarding.JobCreditAnalysis, State: onboarding.JobDead, Count: 1},
		{Kind: onboarding.JobReviewDocument, State: onboarding.JobAvailable, Count: 1, OldestDue: base},
	}, jobCounts)

	// Endpoints and deliveries across partners.
	for _, e := range []struct {
		id, partner string
		st          webhook.EndpointStatus
	}{{"we_a", "p1", webhook.EndpointDisabled}, {"we_b", "p2", webhook.EndpointActive}, {"we_c", "p2", webhook.EndpointDisabled}} {
		require.NoError(t, s.InsertEndpoint(ctx, &onboarding.WebhookEndpoint{Endpoint: webhook.Endpoint{ID: e.id, PartnerID: e.partner,
			URL: "https://example.com/" + e.id, Status: e.st, CreatedAt: base, UpdatedAt: base}}))
	}
	eids := func(l []*onboarding.WebhookEndpoint, err error) []string {
		t.Helper()
		require.NoError(t, err)
		out := []string{}
		for _, e := range l {
			out = append(out, e.ID)
		}
		return out
	}
	assert.Equal(t, []string{"we_a", "we_c"}, eids(s.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{Status: webhook.EndpointDisabled, Limit: 10})))
	assert.Equal(t, []string{"we_c"}, eids(s.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{Status: webhook.EndpointDisabled, Limit: 10, StartingAfter: "we_a"})))
	assert.Equal(t, []string{"we_b", "we_c"}, eids(s.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{PartnerID: "p2", Limit: 10})))
	assert.Equal(t, []string{"we_a"}, eids(s.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{Limit: 1})))

	for _, c := range []*onboarding.Customer{review1, review2} {
		ev := newEvent(c, onboarding.EventCustomerCreated)
		require.NoError(t, s.InsertEvent(ctx, ev))
		for _, st := range []onboarding.DeliveryStatus{onboarding.DeliveryDead, onboarding.DeliveryDelivered} {
			require.NoError(t, s.InsertDelivery(ctx, &onboarding.Delivery{ID: onboarding.NewID("dlv"), PartnerID: c.PartnerID,
				EndpointID: "we_x", EventID: ev.ID, EventType: ev.Type, Status: st, CreatedAt: base, UpdatedAt: base}))
		}
	}
	dead, err := s.ListAllDeliveries(ctx, onboarding.ListAllDeliveriesParams{Status: onboarding.DeliveryDead, Limit: 10})
	require.NoError(t, err)
	require.Len(t, dead, 2)
	assert.Equal(t, "p2", dead[0].PartnerID, "newest first")
	assert.Equal(t, "p1", dead[1].PartnerID)
	next, err := s.ListAllDeliveries(ctx, onboarding.ListAllDeliveriesParams{Status: onboarding.DeliveryDead, Limit: 10, StartingAfter: dead[0].ID})
	require.NoError(t, err)
	require.Len(t, next, 1)
	assert.Equal(t, dead[1].ID, next[0].ID)
	p1, err := s.ListAllDeliveries(ctx, onboarding.ListAllDeliveriesParams{PartnerID: "p1", Limit: 10})
	require.NoError(t, err)
	assert.Len(t, p1, 2)

	// The audit log: newest first, filters, keyset pages, rolled back with its unit of work.
	var entries []*onboarding.AuditEntry
	for i, a := range []struct{ actor, action, customer string }{
		{"operator:ana", onboarding.AuditLogin, ""},
		{"operator:ana", onboarding.AuditApprove, review1.ID},
		{"operator:bia", onboarding.AuditReject, review1.ID},
		{"operator:ana", onboarding.AuditReplayJob, ""},
	} {
		e := &onboarding.AuditEntry{ID: onboarding.NewID("aud"), Actor: a.actor, Action: a.action, CustomerID: a.customer,
			Target: "doc_1", Detail: "because\x00", CreatedAt: at(i).Add(123456 * time.Nanosecond)}
		if a.customer != "" {
			e.PartnerID = "p1"
		}
		require.NoError(t, s.InsertAuditEntry(ctx, e))
		entries = append(entries, e)
	}
	aids := func(f onboarding.ListAuditParams) []string {
		t.Helper()
		l, err := s.ListAuditEntries(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, e := range l {
			out = append(out, e.ID)
		}
		return out
	}
	all, err := s.ListAuditEntries(ctx, onboarding.ListAuditParams{Limit: 10})
	require.NoError(t, err)
	require.Len(t, all, 4)
	assert.Equal(t, entries[3].ID, all[0].ID)
	first := all[3]
	assert.Equal(t, "operator:ana", first.Actor)
	assert.Equal(t, onboarding.AuditLogin, first.Action)
	assert.Equal(t, at(0).Add(123*time.Microsecond), first.CreatedAt, "microseconds in UTC")
	assert.Equal(t, []string{entries[2].ID, entries[1].ID}, aids(onboarding.ListAuditParams{CustomerID: review1.ID, Limit: 10}))
	assert.Equal(t, []string{entries[3].ID, entries[1].ID, entries[0].ID}, aids(onboarding.ListAuditParams{Actor: "operator:ana", Limit: 10}))
	assert.Equal(t, []string{entries[2].ID}, aids(onboarding.ListAuditParams{Action: onboarding.AuditReject, Limit: 10}))
	assert.Equal(t, []string{entries[1].ID, entries[0].ID}, aids(onboarding.ListAuditParams{Before: entries[2].ID, Limit: 10}))
	assert.Equal(t, []string{entries[3].ID}, aids(onboarding.ListAuditParams{Limit: 1}))

	boom := errors.New("boom")
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		require.NoError(t, q.InsertAuditEntry(ctx, &onboarding.AuditEntry{ID: onboarding.NewID("aud"), Actor: "operator:ana",
			Action: onboarding.AuditDeny, CreatedAt: base}))
		inside, err := q.ListAuditEntries(ctx, onboarding.ListAuditParams{Action: onboarding.AuditDeny})
		require.NoError(t, err)
		assert.Len(t, inside, 1, "read your writes")
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Empty(t, aids(onboarding.ListAuditParams{Action: onboarding.AuditDeny, Limit: 10}), "rolled back")
}
