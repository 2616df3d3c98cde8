package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
)

// keyWrites counts the idempotency-key writes made outside any unit of work.
type keyWrites struct {
	*memstore.Store
	outside atomic.Int32
}

func (s *keyWrites) InsertIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	s.outside.Add(1)
	return s.Store.InsertIdempotencyKey(ctx, k)
}

func (s *keyWrites) CompleteIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	s.outside.Add(1)
	return s.Store.CompleteIdempotencyKey(ctx, k)
}

// TestIdempotencyKeyCompletedWithTheChange: a keyed registration reserves and completes
// its key in the registration's transaction (no key write of its own), and replays as
// before; a keyed request that changes nothing (a stored error) stores its key afterwards.
func TestIdempotencyKeyCompletedWithTheChange(t *testing.T) {
	t.Parallel()
	s := &keyWrites{Store: memstore.New()}
	e := setup(t, s, nil, nil)
	body := newCustomer()
	r1 := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "uow-1")
	require.Equal(t, 201, r1.status, "%s", r1.body)
	assert.Zero(t, s.outside.Load(), "the key was written inside the registration's transaction")
	k, err := s.GetIdempotencyKey(context.Background(), acmePartner, "http:uow-1")
	require.NoError(t, err)
	assert.True(t, k.Completed)
	assert.Equal(t, 201, k.ResponseStatus)

	r2 := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "uow-1")
	require.Equal(t, 201, r2.status)
	assert.Equal(t, "true", r2.header.Get("Idempotent-Replayed"))
	assert.Equal(t, r1.body, r2.body)
	assert.Equal(t, r1.header.Get("Location"), r2.header.Get("Location"))

	bad := newCustomer()
	bad["cpf"] = "000"
	before := s.outside.Load()
	e.do("POST", "/customers", acmeClient, bad, "Idempotency-Key", "uow-2").problem(t, 422, "invalid_cpf")
	assert.EqualValues(t, 1, s.outside.Load()-before, "no unit of work ran: the key is stored afterwards")
	r := e.do("POST", "/customers", acmeClient, bad, "Idempotency-Key", "uow-2")
	r.problem(t, 422, "invalid_cpf")
	assert.Equal(t, "true", r.header.Get("Idempotent-Replayed"))
}

// TestIdempotencyConcurrentInUnitOfWork: on every backend, concurrent registrations under
// one key create one customer; each gets the 201, its replay, or 409 while the first runs.
func TestIdempotencyConcurrentInUnitOfWork(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, be.open(t), nil, nil)
			tok := e.token(acmeClient)
			body := newCustomer()
			raw, err := jsonMarshal(body)
			require.NoError(t, err)
			const n = 8
			results := make(chan *resp, n)
			for range n {
				go func() {
					req, _ := http.NewRequest("POST", e.base+"/customers", bytes.NewReader(raw))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Idempotency-Key", "same")
					res, err := e.client.Do(req)
					if err != nil {
						results <- &resp{status: -1, body: []byte(err.Error())}
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					results <- &resp{status: res.StatusCode, header: res.Header, body: b}
				}()
			}
			var created []byte
			for range n {
				r := <-results
				switch r.status {
				case 201:
					if created == nil {
						created = r.body
					}
					require.Equal(t, created, r.body)
				case 409:
					r.problem(t, 409, "idempotency_key_in_use")
				default:
					t.Fatalf("status %d: %s", r.status, r.body)
				}
			}
			list := e.do("GET", "/customers", acmeClient, nil).json(t)["data"].([]any)
			require.Len(t, list, 1)
		})
	}
}

// TestIdempotencyReplayWithRegistry: with a company registry, CreateCustomer looks for an
// existing customer before calling out and could answer a repeat itself; a keyed repeat
// is still the replay of the first response (201, Idempotent-Replayed), not a 200.
func TestIdempotencyReplayWithRegistry(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &onboarding.Options{Registry: sandbox.Registry{}}, nil)
	body := newCustomer()
	r1 := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "reg-1")
	require.Equal(t, 201, r1.status, "%s", r1.body)
	r2 := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "reg-1")
	require.Equal(t, 201, r2.status, "%s", r2.body)
	assert.Equal(t, "true", r2.header.Get("Idempotent-Replayed"))
	assert.Equal(t, r1.body, r2.body)
	r3 := e.do("POST", "/customers", acmeClient, body)
	assert.Equal(t, 200, r3.status, "without a key the repeat is answered as the existing customer")
}
