package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/taxid"
	"github.com/onboardkit/onboarding/webhook"
)

// customerRows is one customer with a row of every kind that refers to it.
type customerRows struct {
	c        *onboarding.Customer
	doc      *onboarding.Document
	offer    *onboarding.CreditOffer
	event    *onboarding.Event
	delivery *onboarding.Delivery
	attempt  *onboarding.DeliveryAttempt
	job      *onboarding.Job
}

// seedCustomer writes a customer and its rows, the delivery still pending.
func seedCustomer(t *testing.T, s onboarding.Store, partner, endpoint string) *customerRows {
	t.Helper()
	ctx := context.Background()
	r := &customerRows{c: newCustomer(rng(t), partner)}
	insertCustomer(t, s, r.c)
	tr := newTransition(r.c)
	tr.Reason = "Maria da Silva asked"
	require.NoError(t, s.InsertTransition(ctx, tr))
	r.doc = newDocument(r.c)
	require.NoError(t, s.InsertDocument(ctx, r.doc))
	r.offer = newOffer(r.c)
	require.NoError(t, s.InsertOffer(ctx, r.offer))
	r.event = newEvent(r.c, onboarding.EventCustomerCreated)
	r.event.Data = json.RawMessage(`{"name":"Maria da Silva"}`)
	require.NoError(t, s.InsertEvent(ctx, r.event))
	r.delivery = &onboarding.Delivery{ID: onboarding.NewID("dlv"), PartnerID: partner, EndpointID: endpoint,
		EventID: r.event.ID, EventType: r.event.Type, Status: onboarding.DeliveryPending, Attempts: 1,
		LastStatusCode: 500, LastError: "echo: Maria da Silva", NextAttemptAt: base.Add(time.Minute), CreatedAt: base, UpdatedAt: base}
	require.NoError(t, s.InsertDelivery(ctx, r.delivery))
	r.attempt = &onboarding.DeliveryAttempt{ID: onboarding.NewID("dla"), PartnerID: partner, DeliveryID: r.delivery.ID,
		Attempt: 1, StatusCode: 500, Latency: time.Millisecond, Error: "status 500", Response: `{"echo":"Maria da Silva"}`, CreatedAt: base}
	require.NoError(t, s.InsertDeliveryAttempt(ctx, r.attempt))
	require.NoError(t, s.InsertAuditEntry(ctx, &onboarding.AuditEntry{ID: onboarding.NewID("aud"), Actor: "operator:ana",
		Action: onboarding.AuditDeny, PartnerID: partner, CustomerID: r.c.ID, Detail: "Maria da Silva is on the list",
		CreatedAt: base}))
	r.job = newJob(r.c, base)
	require.NoError(t, s.InsertJob(ctx, r.job))
	require.NoError(t, s.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: partner, Key: "k-" + r.c.ID[5:],
		RequestHash: "h", Completed: true, ResponseStatus: 201, ResponseBody: []byte(`{"id":"` + r.c.ID + `","name":"Maria"}`),
		CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}))
	require.NoError(t, s.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: partner, Key: "biometrics-session:" + r.c.ID,
		RequestHash: "h", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
	return r
}

// testErasureQueries covers the writes of an erasure: each touches the customer's rows
// only, and the customer row goes last.
func testErasureQueries(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	victim := seedCustomer(t, s, "p1", "we_1")
	control := seedCustomer(t, s, "p1", "we_1")
	other := seedCustomer(t, s, "p2", "we_2") // another partner, same calls with its ID must not reach it

	// Another partner's ID reaches nothing.
	n, err := s.ScrubCustomerHistory(ctx, "p2", victim.c.ID)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.ErrorIs(t, s.DeleteCustomer(ctx, "p2", victim.c.ID, victim.c.Version), onboarding.ErrNotFound)

	// The customer row cannot go while rows refer to it, nor at an old version.
	assert.ErrorIs(t, s.DeleteCustomer(ctx, "p1", victim.c.ID, victim.c.Version), onboarding.ErrConcurrentUpdate)

	now := base.Add(time.Hour)
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		counts := map[string]int{}
		var err error
		step := func(name string, fn func() (int, error)) {
			if err == nil {
				counts[name], err = fn()
			}
		}
		p, id := "p1", victim.c.ID
		step("history", func() (int, error) { return q.ScrubCustomerHistory(ctx, p, id) })
		step("audit", func() (int, error) { return q.ScrubCustomerAudit(ctx, p, id) })
		step("events", func() (int, error) { return q.ScrubCustomerEvents(ctx, p, id, json.RawMessage(`{"erased":true}`)) })
		step("deliveries", func() (int, error) { return q.ScrubCustomerDeliveries(ctx, p, id, now) })
		step("attempts", func() (int, error) { return q.ScrubCustomerDeliveryAttempts(ctx, p, id) })
		step("idempotency", func() (int, error) { return q.DeleteIdempotencyKeysMentioning(ctx, p, id) })
		step("jobs", func() (int, error) { return q.DeleteCustomerJobs(ctx, p, id) })
		step("offers", func() (int, error) { return q.DeleteCustomerOffers(ctx, p, id) })
		step("documents", func() (int, error) { return q.DeleteCustomerDocuments(ctx, p, id) })
		if err != nil {
			return err
		}
		assert.Equal(t, map[string]int{"history": 1, "audit": 1, "events": 1, "deliveries": 1, "attempts": 1, "idempotency": 2,
			"jobs": 1, "offers": 1, "documents": 1}, counts)
		assert.ErrorIs(t, q.DeleteCustomer(ctx, p, id, victim.c.Version+1), onboarding.ErrConcurrentUpdate, "old version")
		return q.DeleteCustomer(ctx, p, id, victim.c.Version)
	})
	require.NoError(t, err)

	_, err = s.GetCustomer(ctx, "p1", victim.c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.FindCustomer(ctx, "p1", victim.c.ExternalID, victim.c.TaxKey())
	assert.ErrorIs(t, err, onboarding.ErrNotFound, "its unique keys are free")
	h, err := s.ListTransitions(ctx, "p1", victim.c.ID)
	require.NoError(t, err)
	require.Len(t, h, 1, "the history stays")
	assert.Empty(t, h[0].Reason)
	assert.Equal(t, "partner", h[0].Actor)
	audit, err := s.ListAuditEntries(ctx, onboarding.ListAuditParams{CustomerID: victim.c.ID})
	require.NoError(t, err)
	require.Len(t, audit, 1, "the audit entry stays")
	assert.Empty(t, audit[0].Detail)
	assert.Equal(t, "operator:ana", audit[0].Actor)
	assert.Equal(t, onboarding.AuditDeny, audit[0].Action)
	e, err := s.GetEvent(ctx, victim.event.ID)
	require.NoError(t, err)
	assert.JSONEq(t, `{"erased":true}`, string(e.Data))
	d, err := s.GetDelivery(ctx, "p1", victim.delivery.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.DeliveryCancelled, d.Status, "a pending delivery is cancelled")
	assert.Empty(t, d.LastError)
	assert.True(t, d.UpdatedAt.Equal(now))
	assert.Equal(t, 500, d.LastStatusCode, "the skeleton stays")
	as, err := s.ListDeliveryAttempts(ctx, "p1", victim.delivery.ID)
	require.NoError(t, err)
	require.Len(t, as, 1)
	assert.Empty(t, as[0].Response)
	assert.Empty(t, as[0].Error)
	assert.Equal(t, 500, as[0].StatusCode)
	_, err = s.GetDocument(ctx, "p1", victim.doc.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.GetOffer(ctx, "p1", victim.offer.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.GetJob(ctx, victim.job.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.GetIdempotencyKey(ctx, "p1", "biometrics-session:"+victim.c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	ok, err := s.DocumentKeyExists(ctx, victim.doc.Key)
	require.NoError(t, err)
	assert.False(t, ok)

	// The control customer and the other partner's are untouched.
	for _, r := range []*customerRows{control, other} {
		p := r.c.PartnerID
		_, err := s.GetCustomer(ctx, p, r.c.ID)
		assert.NoError(t, err)
		h, err := s.ListTransitions(ctx, p, r.c.ID)
		require.NoError(t, err)
		assert.Equal(t, "Maria da Silva asked", h[0].Reason)
		audit, err := s.ListAuditEntries(ctx, onboarding.ListAuditParams{CustomerID: r.c.ID})
		require.NoError(t, err)
		require.Len(t, audit, 1)
		assert.Equal(t, "Maria da Silva is on the list", audit[0].Detail)
		e, err := s.GetEvent(ctx, r.event.ID)
		require.NoError(t, err)
		assert.JSONEq(t, `{"name":"Maria da Silva"}`, string(e.Data))
		d, err := s.GetDelivery(ctx, p, r.delivery.ID)
		require.NoError(t, err)
		assert.Equal(t, onboarding.DeliveryPending, d.Status)
		assert.NotEmpty(t, d.LastError)
		as, err := s.ListDeliveryAttempts(ctx, p, r.delivery.ID)
		require.NoError(t, err)
		assert.NotEmpty(t, as[0].Response)
		_, err = s.GetDocument(ctx, p, r.doc.ID)
		assert.NoError(t, err)
		_, err = s.GetOffer(ctx, p, r.offer.ID)
		assert.NoError(t, err)
		_, err = s.GetJob(ctx, r.job.ID)
		assert.NoError(t, err)
		_, err = s.GetIdempotencyKey(ctx, p, "biometrics-session:"+r.c.ID)
		assert.NoError(t, err)
		_, err = s.GetIdempotencyKey(ctx, p, "k-"+r.c.ID[5:])
		assert.NoError(t, err)
	}
}

// testRetentionQueries covers what the hourly prune deletes, and that nothing younger
// goes.
func testRetentionQueries(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	c := newCustomer(rng(t), "p1")
	insertCustomer(t, s, c)
	day := 24 * time.Hour
	// Events at base-10d (old) and base (young); per event a delivery in each state.
	type fixture struct {
		ev                       *onboarding.Event
		delivered, dead, pending *onboarding.Delivery
	}
	mk := func(at time.Time, withPending bool) *fixture {
		f := &fixture{}
		f.ev = newEvent(c, onboarding.EventCustomerCreated)
		f.ev.CreatedAt = at
		require.NoError(t, s.InsertEvent(ctx, f.ev))
		delivery := func(st onboarding.DeliveryStatus) *onboarding.Delivery {
			d := &onboarding.Delivery{ID: onboarding.NewID("dlv"), PartnerID: "p1", EndpointID: "we_1", EventID: f.ev.ID,
				EventType: f.ev.Type, Status: st, Attempts: 1, CreatedAt: at, UpdatedAt: at.Add(time.Minute)}
			if st == onboarding.DeliveryDelivered {
				d.DeliveredAt = at.Add(time.Minute)
			}
			require.NoError(t, s.InsertDelivery(ctx, d))
			a := &onboarding.DeliveryAttempt{ID: onboarding.NewID("dla"), PartnerID: "p1", DeliveryID: d.ID, Attempt: 1,
				StatusCode: 200, Response: "ok", CreatedAt: at.Add(time.Minute)}
			require.NoError(t, s.InsertDeliveryAttempt(ctx, a))
			return d
		}
		f.delivered = delivery(onboarding.DeliveryDelivered)
		f.dead = delivery(onboarding.DeliveryDead)
		if withPending {
			f.pending = delivery(onboarding.DeliveryPending)
		}
		return f
	}
	old := mk(base.Add(-10*day), false)
	oldPending := mk(base.Add(-10*day), true)
	require.NotNil(t, oldPending.pending)
	young := mk(base, false)

	gone := func(d *onboarding.Delivery) bool {
		_, err := s.GetDelivery(ctx, "p1", d.ID)
		if err != nil {
			require.ErrorIs(t, err, onboarding.ErrNotFound)
		}
		return err != nil
	}
	attempts := func(d *onboarding.Delivery) int {
		as, err := s.ListDeliveryAttempts(ctx, "p1", d.ID)
		require.NoError(t, err)
		return len(as)
	}

	// Delivered deliveries delivered before the cutoff go, with their attempts, a limit at
	// a time.
	cut := base.Add(-5 * day)
	n, err := s.PruneDeliveries(ctx, cut, 1)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = s.PruneDeliveries(ctx, cut, 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.True(t, gone(old.delivered))
	assert.True(t, gone(oldPending.delivered))
	assert.False(t, gone(young.delivered))
	assert.False(t, gone(old.dead), "dead deliveries stay")
	n, err = s.PruneDeliveries(ctx, cut, 10)
	require.NoError(t, err)
	assert.Zero(t, n)

	// Attempts made before the cutoff go, whatever their delivery.
	n, err = s.PruneDeliveryAttempts(ctx, cut, 10)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the old dead ones and the old pending one")
	assert.Zero(t, attempts(old.dead))
	assert.Equal(t, 1, attempts(young.dead))
	assert.Equal(t, 1, attempts(young.delivered))

	// Events created before the cutoff go with their deliveries, unless one is pending.
	n, err = s.PruneEvents(ctx, cut, 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = s.GetEvent(ctx, old.ev.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	assert.True(t, gone(old.dead))
	_, err = s.GetEvent(ctx, oldPending.ev.ID)
	assert.NoError(t, err, "an event with a pending delivery stays")
	_, err = s.GetEvent(ctx, young.ev.ID)
	assert.NoError(t, err)
	assert.False(t, gone(young.dead))

	// Retired documents: superseded and rejected uploads of items approved long enough ago.
	insertDoc := func(cust *onboarding.Customer, req string, st onboarding.DocumentStatus, at time.Time) *onboarding.Document {
		d := newDocument(cust)
		d.RequirementID, d.Status, d.CreatedAt, d.UpdatedAt = req, st, at, at
		require.NoError(t, s.InsertDocument(ctx, d))
		return d
	}
	c2 := newCustomer(rng(t), "p2")
	insertCustomer(t, s, c2)
	oldSup := insertDoc(c, "req_a", onboarding.DocumentSuperseded, base.Add(-20*day))
	oldRej := insertDoc(c, "req_a", onboarding.DocumentRejected, base.Add(-19*day))
	insertDoc(c, "req_a", onboarding.DocumentApproved, base.Add(-18*day))
	insertDoc(c, "req_b", onboarding.DocumentSuperseded, base.Add(-20*day))
	insertDoc(c, "req_b", onboarding.DocumentApproved, base.Add(-1*day)) // approved recently
	insertDoc(c, "req_c", onboarding.DocumentSuperseded, base.Add(-20*day))
	insertDoc(c, "req_c", onboarding.DocumentSubmitted, base.Add(-19*day)) // not decided
	insertDoc(c2, "req_a", onboarding.DocumentSuperseded, base.Add(-20*day))
	insertDoc(c2, "req_a", onboarding.DocumentApproved, base.Add(-18*day))
	insertDoc(c2, "req_a", onboarding.DocumentApproved, base.Add(-1*day)) // the latest decision counts
	retired, err := s.ListRetiredDocuments(ctx, base.Add(-10*day), 10)
	require.NoError(t, err)
	var ids []string
	for _, d := range retired {
		ids = append(ids, d.ID)
	}
	assert.Equal(t, []string{oldSup.ID, oldRej.ID}, ids)
	retired, err = s.ListRetiredDocuments(ctx, base.Add(-10*day), 1)
	require.NoError(t, err)
	assert.Len(t, retired, 1)
	require.NoError(t, s.DeleteDocument(ctx, "p1", oldSup.ID))
	assert.ErrorIs(t, s.DeleteDocument(ctx, "p1", oldSup.ID), onboarding.ErrNotFound)
	assert.ErrorIs(t, s.DeleteDocument(ctx, "p2", oldRej.ID), onboarding.ErrNotFound, "another partner's")

	// Stale customers: by status and last change, oldest first, any partner.
	stale := func(st onboarding.Status, before time.Time, n int) []string {
		list, err := s.ListStaleCustomers(ctx, st, before, n)
		require.NoError(t, err)
		var out []string
		for _, c := range list {
			out = append(out, c.ID)
		}
		return out
	}
	c3 := newCustomer(rng(t), "p3")
	c3.CreatedAt, c3.UpdatedAt = base.Add(-30*day), base.Add(-30*day)
	insertCustomer(t, s, c3)
	assert.Equal(t, []string{c3.ID}, stale(onboarding.StatusPendingKYC, base.Add(-day), 10))
	assert.ElementsMatch(t, []string{c3.ID, c.ID, c2.ID}, stale(onboarding.StatusPendingKYC, base.Add(time.Second), 10))
	assert.Equal(t, []string{c3.ID}, stale(onboarding.StatusPendingKYC, base.Add(time.Second), 1))
	assert.Empty(t, stale(onboarding.StatusActive, base.Add(time.Second), 10))

	// Every partner's endpoints, in ID order.
	for i, p := range []string{"p2", "p1", "p2"} {
		require.NoError(t, s.InsertEndpoint(ctx, &onboarding.WebhookEndpoint{Endpoint: webhook.Endpoint{
			ID: "we_" + string(rune('a'+i)), PartnerID: p, URL: "https://example.com", Events: []string{},
			Status: webhook.EndpointActive, CreatedAt: base, UpdatedAt: base}}))
	}
	eps, err := s.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{Limit: 2})
	require.NoError(t, err)
	require.Len(t, eps, 2)
	assert.Equal(t, []string{"we_a", "we_b"}, []string{eps[0].ID, eps[1].ID})
	eps, err = s.ListAllEndpoints(ctx, onboarding.ListAllEndpointsParams{StartingAfter: "we_b", Limit: 10})
	require.NoError(t, err)
	require.Len(t, eps, 1)
	assert.Equal(t, "p2", eps[0].PartnerID)
}

// testServiceErasureRace erases a customer while uploads and corrections of it run, on
// the store under test: exactly one erasure wins, whatever the database's locking, and no
// row of the customer is left behind.
func testServiceErasureRace(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	blobs := sandbox.NewMemoryBlobStore()
	svc := onboardingtest.NewService(t, s, &onboarding.Options{Blobs: blobs})
	c, _, err := svc.CreateCustomer(ctx, "p1", registration(t))
	require.NoError(t, err)
	var wg sync.WaitGroup
	var erased atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			switch i % 4 {
			case 0:
				_, err := svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "request"})
				if err == nil {
					erased.Add(1)
				} else {
					assert.ErrorIs(t, err, onboarding.ErrNotFound)
				}
			case 1, 3:
				_, err := svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocCCMEI,
					Body: bytes.NewReader(testfiles.PDF(fmt.Sprint(i)))})
				if err != nil {
					assert.ErrorIs(t, err, onboarding.ErrNotFound)
				}
			case 2:
				name := fmt.Sprint("Maria ", i)
				_, err := svc.UpdateCustomer(ctx, "p1", c.ID, onboarding.UpdateCustomerParams{Name: &name})
				if err != nil {
					assert.ErrorIs(t, err, onboarding.ErrNotFound)
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, erased.Load())
	docs, err := s.ListDocuments(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Empty(t, docs)
	assert.Empty(t, blobs.Keys())
	h, err := svc.History(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Equal(t, onboarding.EventErase, h[len(h)-1].Event)
}

// testServiceErasePartnerAPIData: a customer with a bank account, a loan simulation and a
// biometrics code is erased whole (those rows reference the customer).
func testServiceErasePartnerAPIData(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	svc := onboardingtest.NewService(t, s, nil)
	c, _, err := svc.CreateCustomer(ctx, "p1", registration(t))
	require.NoError(t, err)
	other := registration(t)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)) // another company than c's
	other.CPF, other.CNPJ = taxid.GenerateCPF(r).String(), taxid.GenerateCNPJ(r, false).String()
	control, _, err := svc.CreateCustomer(ctx, "p1", other)
	require.NoError(t, err)
	for _, cust := range []*onboarding.Customer{c, control} {
		id := cust.ID
		offer := newOffer(cust)
		require.NoError(t, s.InsertOffer(ctx, offer))
		require.NoError(t, s.InsertBankAccount(ctx, &onboarding.BankAccount{ID: onboarding.NewID("ba"), PartnerID: "p1",
			CustomerID: id, BankID: "001", BankName: "Banco do Brasil S.A.", Branch: "0001", Number: "12345", Digit: "6",
			Kind: "checking", CreatedAt: base}))
		require.NoError(t, s.InsertSimulation(ctx, &onboarding.Simulation{ID: onboarding.NewID("sim"), PartnerID: "p1",
			CustomerID: id, CreditOfferID: offer.ID, CreatedAt: base}))
		require.NoError(t, s.InsertBiometricsCode(ctx, &onboarding.BiometricsCode{Hash: onboarding.NewID("h"), PartnerID: "p1",
			CustomerID: id, ExpiresAt: base.Add(time.Hour), CreatedAt: base}))
	}
	receipt, err := svc.EraseCustomer(ctx, "p1", c.ID, onboarding.EraseParams{Reason: "data subject request 42"})
	require.NoError(t, err)
	raw, err := json.Marshal(receipt)
	require.NoError(t, err)
	for _, table := range []string{"bank_accounts", "simulations", "biometrics_codes"} {
		assert.Contains(t, string(raw), table, "the receipt names what was removed")
	}
	_, err = s.GetBankAccount(ctx, "p1", c.ID)
	assert.ErrorIs(t, err, onboarding.ErrNotFound)
	_, err = s.GetBankAccount(ctx, "p1", control.ID)
	assert.NoError(t, err, "the control customer keeps its account")
	n, err := s.DeleteCustomerSimulations(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Zero(t, n, "no simulation left")
	n, err = s.DeleteCustomerBiometricsCodes(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.Zero(t, n, "no code left")
}
