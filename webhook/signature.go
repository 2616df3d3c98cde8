package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Legacy header names sent by Svix, whose scheme Standard Webhooks grew from. The
// signature scheme is identical, so a Verifier accepts them when the webhook-* headers
// are absent.
const (
	svixHeaderID        = "svix-id"
	svixHeaderTimestamp = "svix-timestamp"
	svixHeaderSignature = "svix-signature"
)

// SecretPrefix starts the text form of every signing secret: "whsec_" + base64(key).
const SecretPrefix = "whsec_"

// Secret key sizes. The specification asks for 24 to 64 random bytes; NewSecret uses 32.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
	secretBytes    = 32
)

// DefaultTolerance is how far a webhook-timestamp may be from the verifier's clock, in
// either direction, before the message is refused as a possible replay.
const DefaultTolerance = 5 * time.Minute

// maxMsgIDLen bounds a message id accepted by Sign.
const maxMsgIDLen = 256

// signatureVersion is the Standard Webhooks identifier of HMAC-SHA256 signatures.
const signatureVersion = "v1"

// Sentinel errors. Names follow the Standard Webhooks Go library where it has one.
var (
	// ErrMissingHeaders is returned when webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing required headers")

	// ErrInvalidHeaders is returned when a header is present but malformed (a
	// webhook-timestamp that is not an integer).
	ErrInvalidHeaders = errors.New("webhook: invalid signature headers")

	// ErrNoMatchingSignature is returned when no v1 signature of the webhook-signature
	// header matches the payload under any of the verifier's secrets: the message was
	// tampered with, or signed with another secret.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature found")

	// ErrMessageTooOld is returned when a correctly signed message carries a timestamp
	// older than the tolerance (a replay, or a receiver clock running fast).
	ErrMessageTooOld = errors.New("webhook: message timestamp too old")

	// ErrMessageTooNew is returned when a correctly signed message carries a timestamp
	// further in the future than the tolerance (a sender clock running fast).
	ErrMessageTooNew = errors.New("webhook: message timestamp too new")

	// ErrInvalidSecret is returned for a secret that is not base64 (after an optional
	// "whsec_" prefix) of 24 to 64 bytes, and when no secret is given at all.
	ErrInvalidSecret = errors.New("webhook: invalid secret")

	// ErrInvalidMessageID is returned by Sign for an empty message id, or one holding a
	// full stop, white space, a control or a non-ASCII character: the id is part of the
	// signed content "id.timestamp.payload" and of an HTTP header.
	ErrInvalidMessageID = errors.New("webhook: invalid message id")

	// ErrInvalidPayload is returned by Unwrap and Event.Decode when the (authentic)
	// payload is not the JSON envelope or the data does not decode into the target.
	ErrInvalidPayload = errors.New("webhook: invalid payload")
)

var b64 = base64.StdEncoding

// NewSecret returns a new signing secret: "whsec_" followed by the base64 of 32 bytes
// from crypto/rand. Show it to the endpoint's owner once; store it like a password
// that must stay recoverable (it signs, so it cannot be hashed).
func NewSecret() (string, error) {
	var key [secretBytes]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", fmt.Errorf("webhook: generate secret: %w", err)
	}
	return SecretPrefix + b64.EncodeToString(key[:]), nil
}

// ValidateSecret reports whether secret is usable by Sign and Verify; it returns an error
// wrapping ErrInvalidSecret otherwise.
func ValidateSecret(secret string) error {
	_, err := decodeSecret(secret)
	return err
}

// decodeSecret returns the HMAC key of a secret. Like the reference library it accepts
// the base64 key with or without the "whsec_" prefix, so a secret copied without its
// prefix still works; it is stricter on the length, which the specification bounds.
func decodeSecret(secret string) ([]byte, error) {
	key, err := b64.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 after the %q prefix", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d to %d", ErrInvalidSecret, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return key, nil
}

func decodeSecrets(secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := decodeSecret(s)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	return keys, nil
}

func validMsgID(id string) bool {
	if id == "" || len(id) > maxMsgIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '.' {
			return false
		}
	}
	return true
}

// appendSignature appends the base64 HMAC-SHA256 of "msgID.ts.payload" under key.
func appendSignature(dst, key []byte, msgID string, ts int64, payload []byte) []byte {
	mac := hmac.New(sha256.New, key)
	var buf [64]byte
	head := append(buf[:0], msgID...)
	head = append(head, '.')
	head = strconv.AppendInt(head, ts, 10)
	head = append(head, '.')
	mac.Write(head)
	mac.Write(payload)
	var sum [sha256.Size]byte
	return b64.AppendEncode(dst, mac.Sum(sum[:0]))
}

// Sign returns the webhook-signature header value for one message:
// "v1," followed by the base64 HMAC-SHA256 of "msgID.unixSeconds.payload" under secret.
// The payload must be the exact bytes sent as the body.
//
// secret is "whsec_<base64>" (the prefix is optional, as in the reference library).
// msgID must be non-empty visible ASCII without '.'; errors wrap ErrInvalidSecret or
// ErrInvalidMessageID.
func Sign(secret, msgID string, ts time.Time, payload []byte) (string, error) {
	return SignAll([]string{secret}, msgID, ts, payload)
}

// SignAll is Sign under several secrets: it returns their signatures space-separated, in
// the order given, which is how a sender signs during a secret rotation (new and old
// secret) so that receivers holding either one accept the message.
func SignAll(secrets []string, msgID string, ts time.Time, payload []byte) (string, error) {
	keys, err := decodeSecrets(secrets)
	if err != nil {
		return "", err
	}
	if !validMsgID(msgID) {
		return "", fmt.Errorf("%w: %q", ErrInvalidMessageID, msgID)
	}
	unix := ts.Unix()
	out := make([]byte, 0, len(keys)*48)
	for i, k := range keys {
		if i > 0 {
			out = append(out, ' ')
		}
		out = append(out, signatureVersion+","...)
		out = appendSignature(out, k, msgID, unix, payload)
	}
	return string(out), nil
}

// Verifier checks Standard Webhooks signatures. The zero value is not usable: set at
// least Secrets. A Verifier is safe for concurrent use if its fields are not changed.
type Verifier struct {
	// Secrets are the endpoint's signing secrets ("whsec_<base64>"). A message is
	// authentic when any v1 signature it carries matches under any of them, so during a
	// rotation list both the new and the old secret.
	Secrets []string

	// Tolerance is how far the webhook-timestamp may differ from NowFunc() in either
	// direction. Zero or negative means DefaultTolerance (5 minutes).
	Tolerance time.Duration

	// NowFunc is the clock; nil means time.Now.
	NowFunc func() time.Time
}

// readHeaders returns the message id, timestamp and signature headers, preferring the
// webhook-* names and falling back to the svix-* ones only when webhook-id is absent.
func readHeaders(h http.Header) (id, ts, sig string) {
	id, ts, sig = headerValue(h, HeaderID), headerValue(h, HeaderTimestamp), headerValue(h, HeaderSignature)
	if id == "" && ts == "" && sig == "" {
		id, ts, sig = headerValue(h, svixHeaderID), headerValue(h, svixHeaderTimestamp), headerValue(h, svixHeaderSignature)
	}
	return id, ts, sig
}

// headerValue is h.Get(name) that also finds keys that were not canonicalised, as in a
// header map built by hand from a serverless platform's lower-case event.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			return vs[0]
		}
	}
	return ""
}

// Verify checks that payload and header form an authentic, fresh message: the headers
// are present and well formed, one of the space-separated v1 signatures matches under
// one of v.Secrets (compared in constant time; other versions such as v1a are ignored),
// and the timestamp is within ±Tolerance of now. The signature is checked before the
// timestamp, so ErrMessageTooOld and ErrMessageTooNew mean "authentic but stale" (a
// replay or a skewed clock), never "forged".
//
// The errors wrap ErrMissingHeaders, ErrInvalidHeaders, ErrInvalidSecret (a
// configuration error), ErrNoMatchingSignature, ErrMessageTooOld or ErrMessageTooNew.
func (v *Verifier) Verify(payload []byte, header http.Header) error {
	msgID, tsText, sigs := readHeaders(header)
	if msgID == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(tsText), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not a unix timestamp", ErrInvalidHeaders, HeaderTimestamp)
	}
	keys, err := decodeSecrets(v.Secrets)
	if err != nil {
		return err
	}

	var stack [4][44]byte // the base64 of a SHA-256 is 44 bytes
	expected := make([][]byte, len(keys))
	for i, k := range keys {
		var dst []byte
		if i < len(stack) {
			dst = stack[i][:0]
		}
		expected[i] = appendSignature(dst, k, msgID, ts, payload)
	}

	matched := false
	for _, versioned := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(versioned, ",")
		if !ok || version != signatureVersion {
			continue
		}
		for _, e := range expected {
			// Every pair is compared, without an early exit, so the time taken does
			// not reveal which secret or which signature matched.
			if hmac.Equal([]byte(sig), e) {
				matched = true
			}
		}
	}
	if !matched {
		return ErrNoMatchingSignature
	}

	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	now := time.Now
	if v.NowFunc != nil {
		now = v.NowFunc
	}
	n := now().Unix()
	// Compare whole seconds, the timestamp's own precision. The differences are taken
	// unsigned, so an absurd timestamp cannot overflow into "fresh".
	tolSec := int64(tol / time.Second)
	switch {
	case ts < n && uint64(n)-uint64(ts) > uint64(tolSec):
		return fmt.Errorf("%w: %d seconds behind", ErrMessageTooOld, uint64(n)-uint64(ts))
	case ts > n && uint64(ts)-uint64(n) > uint64(tolSec):
		return fmt.Errorf("%w: %d seconds ahead", ErrMessageTooNew, uint64(ts)-uint64(n))
	}
	return nil
}

// Unwrap verifies the message like Verify and decodes its body into an Event. A payload
// that is authentic but not a JSON envelope with a type gives an error wrapping
// ErrInvalidPayload.
func (v *Verifier) Unwrap(payload []byte, header http.Header) (Event, error) {
	if err := v.Verify(payload, header); err != nil {
		return Event{}, err
	}
	var ev Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	if ev.Type == "" {
		return Event{}, fmt.Errorf("%w: envelope has no type", ErrInvalidPayload)
	}
	return ev, nil
}

// Verify checks a message with the given secrets, the real clock and DefaultTolerance.
// See Verifier.Verify.
func Verify(payload []byte, header http.Header, secrets ...string) error {
	v := Verifier{Secrets: secrets}
	return v.Verify(payload, header)
}

// Unwrap verifies a message with the given secrets (any may match), the real clock and
// DefaultTolerance, and decodes its envelope. It is what a receiver calls with the raw
// request body and headers; see the package documentation for a complete handler.
func Unwrap(payload []byte, header http.Header, secrets ...string) (Event, error) {
	v := Verifier{Secrets: secrets}
	return v.Unwrap(payload, header)
}
