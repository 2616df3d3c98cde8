package bunstore

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
)

// templates is a query hook that records the template of every query sent, and the
// query as sent (values in place).
type templates struct {
	mu        sync.Mutex
	sent      []string
	formatted []string
}

func (h *templates) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *templates) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent = append(h.sent, e.QueryTemplate)
	h.formatted = append(h.formatted, e.Query)
}

// matching returns the queries sent, values in place, that contain s.
func (h *templates) matching(s string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, q := range h.formatted {
		if strings.Contains(q, s) {
			out = append(out, q)
		}
	}
	return out
}

func (h *templates) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sent)
}

func (h *templates) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent[len(h.sent)-1]
}

// TestDeferredKeyInsert: in a unit of work on PostgreSQL, InsertIdempotencyKeyDeferred
// sends nothing; the key's insert goes with the next statement, in the same query. A unit
// of work that carried it and ignored the carrier's error (the key held) is not
// committed: InTx returns ErrKeyInUse.
func TestDeferredKeyInsert(t *testing.T) {
	db := openPostgresTest(t)
	hook := &templates{}
	db.AddQueryHook(hook)
	s := New(db, nil)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	key := func(hash string) *onboarding.IdempotencyKey {
		return &onboarding.IdempotencyKey{PartnerID: "p1", Key: "k", RequestHash: hash, Completed: true,
			ResponseStatus: 201, ResponseBody: []byte("{}"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}

	c := testCustomer("p1", "e1")
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		before := hook.count()
		require.NoError(t, q.(onboarding.DeferredKeyInserter).InsertIdempotencyKeyDeferred(ctx, key("first")))
		assert.Equal(t, before, hook.count(), "nothing sent yet")
		require.NoError(t, q.InsertCustomer(ctx, c))
		assert.Equal(t, before+1, hook.count(), "one query for both")
		sent := hook.last()
		assert.True(t, strings.HasPrefix(sent, deferredKeySQL+";\n"), sent)
		assert.Contains(t, sent, "INSERT INTO customers")
		return nil
	}))
	got, err := s.GetIdempotencyKey(ctx, "p1", "k")
	require.NoError(t, err)
	assert.Equal(t, "first", got.RequestHash)

	c2 := testCustomer("p1", "e2")
	c2.CPF, c2.CNPJ = "39053344705", "11444777000161" // free: only the key stands in the way
	err = s.InTx(ctx, func(ctx context.Context, q onboarding.Queries) error {
		require.NoError(t, q.(onboarding.DeferredKeyInserter).InsertIdempotencyKeyDeferred(ctx, key("second")))
		assert.ErrorIs(t, q.InsertCustomer(ctx, c2), onboarding.ErrKeyInUse)
		return nil // ignores it
	})
	require.ErrorIs(t, err, onboarding.ErrKeyInUse)
	_, err = s.GetCustomer(ctx, "p1", c2.ID)
	require.ErrorIs(t, err, onboarding.ErrNotFound)
	got, err = s.GetIdempotencyKey(ctx, "p1", "k")
	require.NoError(t, err)
	assert.Equal(t, "first", got.RequestHash)
}
