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
// With Reserve, the caller has not reserved the key: the unit of work inserts it,
// completed, as its first change, and fails with ErrKeyInUse, changing nothing, when
// another request holds the key (a concurrent one waits on the key's unique index until
// the holder's unit of work ends). An expired record of the key is replaced (where the
// store's DeferredKeyInserter refuses it, as PostgreSQL's travelling insert and SQLite's
// plain insert do, CreateCustomer deletes it and runs its unit of work again). A call
// that completes keys in its unit of work then costs one statement for the key, and no
// round trip of its own where the store can send it with the next statement
// (DeferredKeyInserter).
//
// Today CreateCustomer completes a key when it creates the customer; other calls leave it
// to the caller.
type KeyCompletion struct {
	// Key is the key: PartnerID, Key and the CreatedAt of the reservation (as
	// CompleteIdempotencyKey takes it); with Reserve, the whole record to insert
	// (RequestHash and ExpiresAt too). The response fields are filled in.
	Key IdempotencyKey
	// Reserve: the key is not reserved yet (see above).
	Reserve bool
	// Response renders the response to keep for the result of the call (the *Customer of
	// CreateCustomer, as it will be stored), before the call's unit of work. ok false
	// leaves the key to the caller.
	Response func(result any) (status int, body []byte, ok bool)

	mu     sync.Mutex
	stored *IdempotencyKey
}

// ErrKeyInUse is the error of a unit of work that was to insert an idempotency key
// (KeyCompletion.Reserve) another request already holds: nothing was written.
var ErrKeyInUse = errors.New("onboarding: the idempotency key is held by another request")

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

// reserveKey prepares the unit of work of a change of partnerID for the key ctx carries
// to reserve (KeyCompletion.Reserve), if any. With a response to complete it with (r), it
// inserts the key, completed, first thing: that insert decides. A concurrent request
// holding the key makes it wait on the unique index and then fail with ErrKeyInUse,
// rolling this unit of work back. (A repeat of the same registration finds the key
// stored the same way; CreateCustomer's caller then replays the key's response.) Where
// the Queries can (DeferredKeyInserter), the insert travels with the unit of work's next
// statement. Without a response (r nil: the call's Response declined), the key is only
// checked (checkKey) and left to the caller.
func reserveKey(ctx context.Context, q Queries, partnerID string, r *keyResponse) error {
	if keyToReserve(ctx, partnerID) == nil {
		return nil
	}
	if r == nil {
		return checkKey(ctx, q, partnerID)
	}
	k := r.record()
	var err error
	if d, ok := q.(DeferredKeyInserter); ok {
		err = d.InsertIdempotencyKeyDeferred(ctx, k)
	} else {
		err = q.InsertIdempotencyKey(ctx, k)
	}
	if errors.Is(err, ErrConflict) { // another request holds the key
		return ErrKeyInUse
	}
	return err
}

// clearExpiredKey is called when a unit of work that reserved the key of r failed with
// ErrKeyInUse: a DeferredKeyInserter fails on an expired record too. It deletes that
// record and says whether to run the unit of work again: yes when the key is now free (its
// record had expired, or was deleted meanwhile: forgotten after a failed request, taken
// over or pruned), no when a live request holds it.
func clearExpiredKey(ctx context.Context, q Queries, r *keyResponse) bool {
	if r == nil || !r.kc.Reserve {
		return false
	}
	want := &r.kc.Key
	k, err := q.GetIdempotencyKey(ctx, want.PartnerID, want.Key)
	switch {
	case errors.Is(err, ErrNotFound):
		return true
	case err != nil || k.ExpiresAt.After(want.CreatedAt):
		return false
	}
	return q.DeleteIdempotencyKey(ctx, k.PartnerID, k.Key, k.CreatedAt) == nil
}

// checkKey fails with ErrKeyInUse when the key ctx carries for reservation, if any, is
// stored and not expired: its request (running, or done and to be replayed) owns it. A
// call that may answer without a unit of work (CreateCustomer with a registry finds an
// existing customer first) checks it before anything else too.
func checkKey(ctx context.Context, q Queries, partnerID string) error {
	kc := keyToReserve(ctx, partnerID)
	if kc == nil {
		return nil
	}
	k, err := q.GetIdempotencyKey(ctx, partnerID, kc.Key.Key)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return err
	case k.ExpiresAt.After(kc.Key.CreatedAt):
		return ErrKeyInUse
	}
	return nil // expired: the insert replaces it
}

// keyFor is the KeyCompletion ctx carries for a change of partnerID, or nil.
func keyFor(ctx context.Context, partnerID string) *KeyCompletion {
	kc, _ := ctx.Value(keyCompletionKey{}).(*KeyCompletion)
	if kc == nil || kc.Key.PartnerID != partnerID {
		return nil
	}
	return kc
}

// keyToReserve is the KeyCompletion ctx carries for a unit of work of partnerID to
// reserve, or nil.
func keyToReserve(ctx context.Context, partnerID string) *KeyCompletion {
	if kc := keyFor(ctx, partnerID); kc != nil && kc.Reserve {
		return kc
	}
	return nil
}

// keyResponse is the response to keep with the key carried by a call's context, rendered
// before the call's unit of work (KeyCompletion.Response may take a while; on SQLite the
// transaction holds the only writer).
type keyResponse struct {
	kc     *KeyCompletion
	status int
	body   []byte
}

// renderKey renders the response for result of the key ctx carries, if any, for a change
// of partnerID; nil when there is no key or its Response declines.
func renderKey(ctx context.Context, partnerID string, result any) *keyResponse {
	kc := keyFor(ctx, partnerID)
	if kc == nil || kc.Response == nil {
		return nil
	}
	status, body, ok := kc.Response(result)
	if !ok {
		return nil
	}
	return &keyResponse{kc: kc, status: status, body: body}
}

// record is the key's record completed with r's response.
func (r *keyResponse) record() *IdempotencyKey {
	k := r.kc.Key.Clone()
	k.Completed, k.ResponseStatus, k.ResponseBody = true, r.status, r.body
	return k
}

// completeKey completes the key of r (renderKey), if any, in q: a key to reserve was
// inserted completed by reserveKey; one the caller reserved is completed now. It is called
// by a unit of work right before it commits.
func completeKey(ctx context.Context, q Queries, r *keyResponse) error {
	if r == nil {
		return nil
	}
	kc := r.kc
	k := r.record()
	if !kc.Reserve {
		if err := q.CompleteIdempotencyKey(ctx, k); err != nil {
			// ErrNotFound: the caller's reservation was taken over meanwhile (its request
			// presumed dead): the change goes ahead, and the caller finds the key not
			// completed.
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
	}
	kc.mu.Lock()
	kc.stored = k
	kc.mu.Unlock()
	return nil
}
