package httpapi_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/store/memstore"
)

// keyWrites counts the idempotency-key completions made outside any unit of work.
type keyWrites struct {
	*memstore.Store
	outside atomic.Int32
}

func (s *keyWrites) CompleteIdempotencyKey(ctx context.Context, k *onboarding.IdempotencyKey) error {
	s.outside.Add(1)
	return s.Store.CompleteIdempotencyKey(ctx, k)
}

// TestIdempotencyKeyCompletedWithTheChange: a keyed registration completes its key in the
// registration's transaction (no completion of its own afterwards), and replays as
// before; a keyed request the Service does not complete (a stored error) is completed
// afterwards.
func TestIdempotencyKeyCompletedWithTheChange(t *testing.T) {
	t.Parallel()
	s := &keyWrites{Store: memstore.New()}
	e := setup(t, s, nil, nil)
	body := newCustomer()
	r1 := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "uow-1")
	require.Equal(t, 201, r1.status, "%s", r1.body)
	assert.Zero(t, s.outside.Load(), "the key was completed inside the registration's transaction")
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
	e.do("POST", "/customers", acmeClient, bad, "Idempotency-Key", "uow-2").problem(t, 422, "invalid_cpf")
	assert.EqualValues(t, 1, s.outside.Load(), "no unit of work ran: the key is completed afterwards")
}
