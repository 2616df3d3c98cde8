package onboarding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StartBiometricsSession opens a liveness session for a customer who owes a selfie. One
// session at a time: until it expires, another call is ErrSessionActive. The open session is
// recorded in the Store (as a reserved idempotency key), so every replica agrees.
func (s *Service) StartBiometricsSession(ctx context.Context, partnerID, customerID string) (_ *BiometricsSession, err error) {
	ctx, span := s.start(ctx, "StartBiometricsSession", partnerID)
	defer span.end(&err)
	if s.biometrics == nil {
		return nil, fmt.Errorf("%w: no Biometrics provider", ErrNotConfigured)
	}
	c, err := s.GetCustomer(ctx, partnerID, customerID)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusDenied {
		return nil, fmt.Errorf("%w: the customer is denied", ErrInvalidTransition)
	}
	// Reserve the slot first, so a refused call never opens (and pays for) a session.
	now := s.clock()
	key := &IdempotencyKey{PartnerID: partnerID, Key: "biometrics-session:" + c.ID, RequestHash: "biometrics-session",
		CreatedAt: now, ExpiresAt: now.Add(biometricsReservation)}
	if err := s.store.InsertIdempotencyKey(ctx, key); errors.Is(err, ErrConflict) {
		return nil, ErrSessionActive
	} else if err != nil {
		return nil, err
	}
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.store.DeleteIdempotencyKey(rctx, partnerID, key.Key, key.CreatedAt)
	}
	sess, err := s.biometrics.StartSession(ctx, c)
	if err != nil {
		release()
		return nil, fmt.Errorf("onboarding: biometrics: %w", err)
	}
	if !sess.ExpiresAt.After(s.clock()) {
		release()
		return nil, fmt.Errorf("onboarding: biometrics: the provider returned an expired session")
	}
	// Hold the slot until the session expires.
	body, _ := json.Marshal(sess)
	key.ExpiresAt = sess.ExpiresAt.UTC().Truncate(time.Microsecond)
	key.Completed, key.ResponseStatus, key.ResponseBody = true, 200, body
	err = s.store.InTx(ctx, func(ctx context.Context, q Queries) error {
		if s.kycPageURL != "" {
			if err := s.hostedSession(ctx, q, c, &sess); err != nil {
				return err
			}
			body, _ = json.Marshal(sess)
			key.ResponseBody = body
		}
		if err := q.DeleteIdempotencyKey(ctx, partnerID, key.Key, time.Time{}); err != nil {
			return err
		}
		return q.InsertIdempotencyKey(ctx, key)
	})
	if err != nil {
		return nil, err
	}
	return &sess, nil
}

// biometricsReservation is how long a session slot is held while the provider answers.
const biometricsReservation = time.Minute
