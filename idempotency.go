package onboarding

import (
	"context"
	"errors"
	"sync"
)

// KeyCompletion completes an idempotency key in the same transaction as the change the
// keyed request makes, so that the change and the record of its response commit together
// (a crash between them can no longer leave a change whose key looks in flight), at no
// extra write. An API layer reserves the key (InsertIdempotencyKey), passes a
// KeyCompletion in the context of the Service call (WithKeyCompletion), and afterwards
// completes the key itself only if Completed says no unit of work did.
//
// Today CreateCustomer completes a key when it creates the customer; other calls leave it
// to the caller.
type KeyCompletion struct {
	// Key names the reserved key: PartnerID, Key and the CreatedAt of the reservation (as
	// CompleteIdempotencyKey takes it). The other fields are filled in.
	Key IdempotencyKey
	// Response renders the response to keep for the result of the call (the *Customer of
	// CreateCustomer), inside the transaction: it must not block. ok false leaves the key
	// to the caller.
	Response func(result any) (status int, body []byte, ok bool)

	mu     sync.Mutex
	stored *IdempotencyKey
}

type keyCompletionKey struct{}

// WithKeyCompletion returns ctx carrying kc for the Service call made with it.
func WithKeyCompletion(ctx context.Context, kc *KeyCompletion) context.Context {
	return context.WithValue(ctx, keyCompletionKey{}, kc)
}

// Completed returns the key's record as a unit of work of the call stored it, or nil when
// none did. It is meaningful once the call has returned without error: a unit of work
// that failed after completing the key rolled the completion back with the rest.
func (kc *KeyCompletion) Completed() *IdempotencyKey {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	return kc.stored.Clone()
}

// completeKey completes the key carried by ctx, if any, in q with the response for
// result, for a change of partnerID. It is called by a unit of work right before it
// commits.
func completeKey(ctx context.Context, q Queries, partnerID string, result any) error {
	kc, _ := ctx.Value(keyCompletionKey{}).(*KeyCompletion)
	if kc == nil || kc.Response == nil || kc.Key.PartnerID != partnerID {
		return nil
	}
	status, body, ok := kc.Response(result)
	if !ok {
		return nil
	}
	k := kc.Key.Clone()
	k.Completed, k.ResponseStatus, k.ResponseBody = true, status, body
	// ErrNotFound: the reservation was taken over meanwhile (its request presumed dead):
	// the change goes ahead, and the caller finds the key not completed.
	if err := q.CompleteIdempotencyKey(ctx, k); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	kc.mu.Lock()
	kc.stored = k
	kc.mu.Unlock()
	return nil
}
