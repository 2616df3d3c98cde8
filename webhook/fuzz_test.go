package webhook_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// FuzzVerify checks that Verify and Unwrap never panic on any input, and that whatever
// Sign accepts, Verify accepts at the signing time — and refuses once tampered.
// Seeds are in testdata/fuzz/FuzzVerify; run with
// go test -run '^$' -fuzz FuzzVerify -fuzztime 30s ./webhook/
func FuzzVerify(f *testing.F) {
	f.Fuzz(func(t *testing.T, key []byte, msgID string, ts int64, payload []byte, sigHeader, tsHeader string) {
		secret := webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key)
		at := func(unix int64) func() time.Time { return func() time.Time { return time.Unix(unix, 0) } }

		// Arbitrary headers: any outcome but a panic.
		arbitrary := http.Header{
			"Webhook-Id":        {msgID},
			"Webhook-Timestamp": {tsHeader},
			"Webhook-Signature": {sigHeader},
		}
		v := &webhook.Verifier{Secrets: []string{secret}, NowFunc: at(ts)}
		_ = v.Verify(payload, arbitrary)
		_, _ = v.Unwrap(payload, arbitrary)

		sig, err := webhook.Sign(secret, msgID, time.Unix(ts, 0), payload)
		validKey := len(key) >= webhook.MinSecretBytes && len(key) <= webhook.MaxSecretBytes
		if err != nil {
			switch {
			case errors.Is(err, webhook.ErrInvalidSecret):
				if validKey {
					t.Fatalf("Sign refused a %d-byte key: %v", len(key), err)
				}
			case errors.Is(err, webhook.ErrInvalidMessageID):
			default:
				t.Fatalf("Sign: unexpected error %v", err)
			}
			return
		}
		if !validKey {
			t.Fatalf("Sign accepted a %d-byte key", len(key))
		}

		h := http.Header{}
		h.Set(webhook.HeaderID, msgID)
		h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
		h.Set(webhook.HeaderSignature, sig)
		if err := v.Verify(payload, h); err != nil {
			t.Fatalf("Verify refused what Sign produced: %v (id %q ts %d sig %q)", err, msgID, ts, sig)
		}
		if _, err := v.Unwrap(payload, h); err != nil && !errors.Is(err, webhook.ErrInvalidPayload) {
			t.Fatalf("Unwrap: %v", err)
		}

		// Extra signatures of any shape do not hide the good one.
		h.Set(webhook.HeaderSignature, sigHeader+" "+sig+" "+sigHeader)
		if err := v.Verify(payload, h); err != nil {
			t.Fatalf("Verify with extra signatures %q: %v", sigHeader, err)
		}

		// Any change to the payload breaks the signature.
		h.Set(webhook.HeaderSignature, sig)
		tampered := append(append([]byte(nil), payload...), ' ')
		if err := v.Verify(tampered, h); !errors.Is(err, webhook.ErrNoMatchingSignature) {
			t.Fatalf("tampered payload: got %v", err)
		}
	})
}
