package storetest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/webhook"
)

// "At most N per partner" rules count and insert in one unit of work under LockPartner:
// many concurrent units of work must never all see room for one more.

const (
	limitWorkers = 40
	limitMax     = 20
)

func testPartnerLock(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, limitWorkers)
	for i := range limitWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := onboarding.NewID("we")
			errs <- s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
				if err := q.LockPartner(ctx, "p1", "test"); err != nil {
					return err
				}
				n, err := q.ListEndpoints(ctx, "p1", onboarding.ListEndpointsParams{Limit: limitMax + 1})
				if err != nil {
					return err
				}
				if len(n) >= limitMax {
					return errFull
				}
				return q.InsertEndpoint(ctx, &onboarding.WebhookEndpoint{Endpoint: webhook.Endpoint{ID: id, PartnerID: "p1",
					URL: "https://example.com/" + strconv.Itoa(i), Events: []string{}, Status: webhook.EndpointActive,
					Secrets:   []webhook.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: base}},
					CreatedAt: base, UpdatedAt: base}})
			})
		}()
	}
	wg.Wait()
	close(errs)
	ok, full := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, errFull):
			full++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	assert.Equal(t, limitMax, ok, "exactly the limit got in")
	assert.Equal(t, limitWorkers-limitMax, full)
	all, err := s.ListEndpoints(ctx, "p1", onboarding.ListEndpointsParams{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, all, limitMax)

	// Another partner's lock is another lock, and a lock outside a transaction holds nothing.
	require.NoError(t, s.LockPartner(ctx, "p2", "test"))
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		return q.LockPartner(ctx, "p2", "test")
	}))
}

var (
	errFull     = errors.New("full")
	errRollback = errors.New("roll back")
)

// testServiceEndpointCap: 40 concurrent creations of a partner's webhook endpoints give
// exactly MaxEndpointsPerPartner.
func testServiceEndpointCap(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	svc := onboardingtest.NewService(t, s, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	for i := range limitWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := svc.CreateWebhookEndpoint(ctx, "p1", onboarding.CreateEndpointParams{URL: "https://example.com/hook/" + strconv.Itoa(i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, onboarding.ErrInvalidInput):
				refused++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, onboarding.MaxEndpointsPerPartner, created)
	assert.Equal(t, limitWorkers-onboarding.MaxEndpointsPerPartner, refused)
	page, err := svc.ListWebhookEndpoints(ctx, "p1", onboarding.ListEndpointsParams{Limit: 100})
	require.NoError(t, err)
	assert.Len(t, page.Data, onboarding.MaxEndpointsPerPartner)
}

// testServiceUploadCap: 40 concurrent uploads of different files for one KYC item keep at
// most MaxUploadsPerItem documents: the count runs in the customer's unit of work, whose
// compare-and-set on the customer's version serializes them.
func testServiceUploadCap(t *testing.T, s onboarding.Store) {
	ctx := context.Background()
	svc := onboardingtest.NewService(t, s, nil)
	c, _, err := svc.CreateCustomer(ctx, "p1", registration(t))
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	kept := map[string]bool{}
	for i := range limitWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := svc.UploadDocument(ctx, "p1", c.ID, onboarding.UploadParams{Type: onboarding.DocSelfie,
				Body: bytes.NewReader(testfiles.JPEG("selfie " + strconv.Itoa(i)))})
			if err != nil && !errors.Is(err, onboarding.ErrInvalidInput) && !errors.Is(err, onboarding.ErrConcurrentUpdate) {
				t.Errorf("unexpected: %v", err)
			}
			if err == nil {
				mu.Lock()
				kept[d.ID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	docs, err := svc.ListDocuments(ctx, "p1", c.ID)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(docs), onboarding.MaxUploadsPerItem, "the item's uploads are bounded")
	assert.Equal(t, len(kept), len(docs), "every document accepted is stored, and only those")
}
