package onboarding_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/taxid"
)

// TestKeyReservedByTheUnitOfWork: on every store, CreateCustomer with a key to reserve
// (KeyCompletion.Reserve) stores the key completed with the customer, in one unit of work;
// a live key held by another request fails it with ErrKeyInUse and changes nothing; an
// expired key is replaced. Through DeferredKeyInserter (on PostgreSQL the key's insert
// travels with the customer's, on SQLite it is a plain insert) an expired key fails the
// insert too: CreateCustomer then deletes it and runs again. Concurrent calls under one
// key create one customer.
func TestKeyReservedByTheUnitOfWork(t *testing.T) {
	for name, open := range wakeStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := open(t)
			svc := onboardingtest.NewService(t, store, nil)
			r := rand.New(rand.NewPCG(3, 4))
			params := func(ext string) onboarding.CreateCustomerParams {
				return onboarding.CreateCustomerParams{ExternalID: ext, CPF: taxid.GenerateCPF(r).String(),
					CNPJ: taxid.GenerateCNPJ(r, false).String(), Name: "Maria da Silva", Email: "maria@padaria.example",
					Phone: "+5511912345678", TradingName: "Padaria da Maria"}
			}
			keyed := func(key, hash string) (context.Context, *onboarding.KeyCompletion) {
				now := time.Now().UTC().Truncate(time.Microsecond)
				kc := &onboarding.KeyCompletion{Reserve: true,
					Key: onboarding.IdempotencyKey{PartnerID: "acme", Key: key, RequestHash: hash, CreatedAt: now,
						ExpiresAt: now.Add(time.Hour)},
					Response: func(result any) (int, []byte, bool) {
						return 201, []byte(`{"id":"` + result.(*onboarding.Customer).ID + `"}`), true
					}}
				return onboarding.WithKeyCompletion(ctx, kc), kc
			}
			customers := func() int {
				page, err := svc.ListCustomers(ctx, "acme", onboarding.ListCustomersParams{Limit: 100})
				require.NoError(t, err)
				return len(page.Data)
			}

			// A fresh key is stored completed with the customer.
			kctx, kc := keyed("fresh", "h1")
			c, created, err := svc.CreateCustomer(kctx, "acme", params("e1"))
			require.NoError(t, err)
			require.True(t, created)
			k, err := store.GetIdempotencyKey(ctx, "acme", "fresh")
			require.NoError(t, err)
			assert.True(t, k.Completed)
			assert.Equal(t, 201, k.ResponseStatus)
			assert.Equal(t, `{"id":"`+c.ID+`"}`, string(k.ResponseBody))
			require.NotNil(t, kc.Completed())
			assert.Equal(t, k.ResponseBody, kc.Completed().ResponseBody)

			// A live key held by another request: nothing is written.
			now := time.Now().UTC().Truncate(time.Microsecond)
			require.NoError(t, store.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: "acme", Key: "held",
				RequestHash: "other", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
			kctx, kc = keyed("held", "h2")
			_, _, err = svc.CreateCustomer(kctx, "acme", params("e2"))
			require.ErrorIs(t, err, onboarding.ErrKeyInUse)
			assert.Nil(t, kc.Completed())
			assert.Equal(t, 1, customers(), "the customer of a refused key is not created")
			k, err = store.GetIdempotencyKey(ctx, "acme", "held")
			require.NoError(t, err)
			assert.Equal(t, "other", k.RequestHash, "the holder's record is left alone")

			// An expired key is replaced.
			old := now.Add(-2 * time.Hour)
			require.NoError(t, store.InsertIdempotencyKey(ctx, &onboarding.IdempotencyKey{PartnerID: "acme", Key: "stale",
				RequestHash: "old", Completed: true, ResponseStatus: 201, ResponseBody: []byte("old"), CreatedAt: old,
				ExpiresAt: old.Add(time.Hour)}))
			kctx, kc = keyed("stale", "h3")
			c, created, err = svc.CreateCustomer(kctx, "acme", params("e3"))
			require.NoError(t, err)
			require.True(t, created)
			k, err = store.GetIdempotencyKey(ctx, "acme", "stale")
			require.NoError(t, err)
			assert.Equal(t, "h3", k.RequestHash)
			assert.Equal(t, `{"id":"`+c.ID+`"}`, string(k.ResponseBody))
			require.NotNil(t, kc.Completed())
			assert.Equal(t, 2, customers())

			// Concurrent calls under one key, each a different registration: one wins.
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				p := params(fmt.Sprintf("race-%d", i))
				wg.Add(1)
				go func() {
					defer wg.Done()
					kctx, _ := keyed("race", "h4")
					_, _, errs[i] = svc.CreateCustomer(kctx, "acme", p)
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, onboarding.ErrKeyInUse):
					t.Errorf("unexpected error: %v", err)
				}
			}
			assert.Equal(t, 1, won)
			assert.Equal(t, 3, customers())
		})
	}
}
