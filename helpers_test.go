package onboarding_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
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
	clock *onboardingtest.Clock
}

func setup(t *testing.T, opts *onboarding.Options) *bundle {
	t.Helper()
	b := &bundle{store: memstore.New(), blobs: sandbox.NewMemoryBlobStore(),
		clock: onboardingtest.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))}
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

func uploadNamed(t *testing.T, b *bundle, custID string, typ onboarding.DocumentType, name string, body []byte) *onboarding.Document {
	t.Helper()
	d, err := b.svc.UploadDocument(context.Background(), "p1", custID, onboarding.UploadParams{Type: typ, Filename: name, Body: bytes.NewReader(body)})
	require.NoError(t, err)
	return d
}

func offers(t *testing.T, b *bundle, custID string) []*onboarding.CreditOffer {
	t.Helper()
	page, err := b.svc.ListCreditOffers(context.Background(), "p1", onboarding.ListOffersParams{CustomerID: custID})
	require.NoError(t, err)
	return page.Data
}

var seedCounter atomic.Uint64
