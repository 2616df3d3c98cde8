package onboarding

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"gocloud.dev/secrets"
)

// Webhook signing secrets at rest. They sign, so they cannot be hashed like client
// secrets; with Options.SecretsKeeper they are stored encrypted by it, and only the
// Service, holding the keeper, reads them. The Store sees opaque strings.

// sealedPrefix marks a secret stored encrypted: the rest is the keeper's ciphertext in
// base64. A plaintext secret starts with "whsec_" and never with this.
const sealedPrefix = "sealed:v1:"

// maxOpenedSecrets bounds the cache of decrypted secrets.
const maxOpenedSecrets = 4096

// secretSealer encrypts and decrypts the secrets of webhook endpoints. A nil sealer (no
// keeper) stores them as they are and reads either form it can.
type secretSealer struct {
	keeper *secrets.Keeper

	mu sync.Mutex
	// opened caches plaintexts by ciphertext: a delivery reads its endpoint every time,
	// and a KMS keeper would otherwise be asked once per delivery.
	opened map[string]string
}

func newSecretSealer(k *secrets.Keeper) *secretSealer {
	if k == nil {
		return nil
	}
	return &secretSealer{keeper: k, opened: map[string]string{}}
}

// errNoSecretsKeeper is returned when reading a sealed secret without a keeper.
var errNoSecretsKeeper = errors.New("onboarding: the webhook secret is encrypted and Options.SecretsKeeper is not set")

// seal returns a copy of e whose secrets are encrypted: what the Store is given.
func (z *secretSealer) seal(ctx context.Context, e *WebhookEndpoint) (*WebhookEndpoint, error) {
	if z == nil {
		return e, nil
	}
	out := e.Clone()
	for i, sec := range out.Secrets {
		if strings.HasPrefix(sec.Value, sealedPrefix) {
			continue
		}
		ct, err := z.keeper.Encrypt(ctx, []byte(sec.Value))
		if err != nil {
			return nil, fmt.Errorf("onboarding: encrypt a webhook secret: %w", err)
		}
		out.Secrets[i].Value = sealedPrefix + base64.StdEncoding.EncodeToString(ct)
	}
	return out, nil
}

// open decrypts e's secrets in place: what the Service works with.
func (z *secretSealer) open(ctx context.Context, e *WebhookEndpoint) error {
	for i, sec := range e.Secrets {
		if !strings.HasPrefix(sec.Value, sealedPrefix) {
			continue
		}
		if z == nil {
			return errNoSecretsKeeper
		}
		pt, err := z.openValue(ctx, sec.Value)
		if err != nil {
			return err
		}
		e.Secrets[i].Value = pt
	}
	return nil
}

func (z *secretSealer) openValue(ctx context.Context, sealed string) (string, error) {
	z.mu.Lock()
	pt, ok := z.opened[sealed]
	z.mu.Unlock()
	if ok {
		return pt, nil
	}
	ct, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, sealedPrefix))
	if err != nil {
		return "", fmt.Errorf("onboarding: a sealed webhook secret is not base64: %w", err)
	}
	b, err := z.keeper.Decrypt(ctx, ct)
	if err != nil {
		return "", fmt.Errorf("onboarding: decrypt a webhook secret: %w", err)
	}
	z.mu.Lock()
	if len(z.opened) >= maxOpenedSecrets {
		clear(z.opened)
	}
	z.opened[sealed] = string(b)
	z.mu.Unlock()
	return string(b), nil
}

// sealed reports whether every secret of e is stored encrypted.
func sealed(e *WebhookEndpoint) bool {
	for _, sec := range e.Secrets {
		if !strings.HasPrefix(sec.Value, sealedPrefix) {
			return false
		}
	}
	return true
}

// getEndpoint reads an endpoint with its secrets decrypted.
func (s *Service) getEndpoint(ctx context.Context, q Queries, partnerID, id string) (*WebhookEndpoint, error) {
	e, err := q.GetEndpoint(ctx, partnerID, id)
	if err != nil {
		return nil, err
	}
	if err := s.sealer.open(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// openEndpoints decrypts the secrets of endpoints read from the Store.
func (s *Service) openEndpoints(ctx context.Context, eps []*WebhookEndpoint) error {
	for _, e := range eps {
		if err := s.sealer.open(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// SealWebhookSecrets encrypts, with Options.SecretsKeeper, every webhook secret still
// stored in plaintext (those written before the keeper was set), and returns how many
// endpoints it rewrote. Run it once after setting the keeper (SQL migrations cannot call a
// keeper); it is idempotent, and safe while the Service runs. Without a keeper it is
// ErrNotConfigured.
func (s *Service) SealWebhookSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, fmt.Errorf("%w: SealWebhookSecrets needs Options.SecretsKeeper", ErrNotConfigured)
	}
	n, after := 0, ""
	for {
		eps, err := s.store.ListAllEndpoints(ctx, ListAllEndpointsParams{StartingAfter: after, Limit: MaxPageLimit})
		if err != nil {
			return n, err
		}
		for _, e := range eps {
			if sealed(e) {
				continue
			}
			// mutateEndpoint reads, decrypts, and writes back sealed.
			if _, err := s.mutateEndpoint(ctx, e.PartnerID, e.ID, func(*WebhookEndpoint) error { return nil }); err != nil && !errors.Is(err, ErrNotFound) {
				return n, err
			}
			n++
		}
		if len(eps) < MaxPageLimit {
			break
		}
		after = eps[len(eps)-1].ID
	}
	if n > 0 {
		s.purge(ctx) // the plaintext is in the old row versions
	}
	return n, nil
}
