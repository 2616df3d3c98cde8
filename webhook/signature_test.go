package webhook_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/webhook"
)

// The vector of the Standard Webhooks libraries' tests (libraries/go/webhook_test.go,
// TestWebhookSign).
const (
	vecSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTimestamp = 1614265330
	vecPayload   = `{"test": 2432232314}`
	vecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func fixedClock(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

func signedHeader(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(webhook.HeaderID, id)
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(webhook.HeaderSignature, sig)
	return h
}

func vecHeader() http.Header { return signedHeader(vecMsgID, vecTimestamp, vecSignature) }

func vecVerifier(secrets ...string) *webhook.Verifier {
	if len(secrets) == 0 {
		secrets = []string{vecSecret}
	}
	return &webhook.Verifier{Secrets: secrets, NowFunc: fixedClock(vecTimestamp)}
}

func newSecret(t testing.TB) string {
	t.Helper()
	s, err := webhook.NewSecret()
	require.NoError(t, err)
	return s
}

func TestSignSpecVector(t *testing.T) {
	t.Parallel()
	sig, err := webhook.Sign(vecSecret, vecMsgID, time.Unix(vecTimestamp, 0), []byte(vecPayload))
	require.NoError(t, err)
	assert.Equal(t, vecSignature, sig)

	// The reference library also accepts the key without its prefix.
	sig, err = webhook.Sign(strings.TrimPrefix(vecSecret, webhook.SecretPrefix), vecMsgID, time.Unix(vecTimestamp, 0), []byte(vecPayload))
	require.NoError(t, err)
	assert.Equal(t, vecSignature, sig)

	// Sub-second precision is not signed: the header carries whole seconds.
	sig, err = webhook.Sign(vecSecret, vecMsgID, time.Unix(vecTimestamp, 999_999_999), []byte(vecPayload))
	require.NoError(t, err)
	assert.Equal(t, vecSignature, sig)
}

func TestVerifySpecVector(t *testing.T) {
	t.Parallel()
	require.NoError(t, vecVerifier().Verify([]byte(vecPayload), vecHeader()))
	require.NoError(t, vecVerifier(strings.TrimPrefix(vecSecret, webhook.SecretPrefix)).Verify([]byte(vecPayload), vecHeader()))
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	now := time.Now()
	payload := []byte(`{"id":"evt_1","type":"customer.created","data":{"id":"cust_1"}}`)
	sig, err := webhook.Sign(secret, "evt_0193", now, payload)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(sig, "v1,"))
	h := signedHeader("evt_0193", now.Unix(), sig)
	require.NoError(t, webhook.Verify(payload, h, secret))

	ev, err := webhook.Unwrap(payload, h, secret)
	require.NoError(t, err)
	assert.Equal(t, "evt_1", ev.ID)
	assert.Equal(t, webhook.EventCustomerCreated, ev.Type)

	// Another secret does not verify it.
	require.ErrorIs(t, webhook.Verify(payload, h, newSecret(t)), webhook.ErrNoMatchingSignature)
}

func TestVerifyTampered(t *testing.T) {
	t.Parallel()
	v := vecVerifier()
	payload := []byte(vecPayload)

	tests := map[string]struct {
		payload []byte
		header  http.Header
	}{
		"payload":          {[]byte(`{"test": 2432232315}`), vecHeader()},
		"payload reformed": {[]byte(`{"test":2432232314}`), vecHeader()},
		"payload empty":    {nil, vecHeader()},
		"id":               {payload, signedHeader("msg_p5jXN8AQM9LWM0D4loKWxJeK", vecTimestamp, vecSignature)},
		"timestamp":        {payload, signedHeader(vecMsgID, vecTimestamp+1, vecSignature)},
		"signature":        {payload, signedHeader(vecMsgID, vecTimestamp, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")},
		"signature bit":    {payload, signedHeader(vecMsgID, vecTimestamp, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=")},
		"signature cut":    {payload, signedHeader(vecMsgID, vecTimestamp, vecSignature[:len(vecSignature)-1])},
		"signature extra":  {payload, signedHeader(vecMsgID, vecTimestamp, vecSignature+"A")},
		"no version":       {payload, signedHeader(vecMsgID, vecTimestamp, strings.TrimPrefix(vecSignature, "v1,"))},
		"other version":    {payload, signedHeader(vecMsgID, vecTimestamp, "v2"+strings.TrimPrefix(vecSignature, "v1"))},
		"v1a version":      {payload, signedHeader(vecMsgID, vecTimestamp, "v1a"+strings.TrimPrefix(vecSignature, "v1"))},
		"upper version":    {payload, signedHeader(vecMsgID, vecTimestamp, "V1"+strings.TrimPrefix(vecSignature, "v1"))},
		"raw bytes sig":    {payload, signedHeader(vecMsgID, vecTimestamp, "v1,"+string(mustDecode(t, vecSignature[3:])))},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, v.Verify(tc.payload, tc.header), webhook.ErrNoMatchingSignature)
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestVerifyTimestampTolerance(t *testing.T) {
	t.Parallel()
	payload := []byte(vecPayload)
	tests := []struct {
		name      string
		now       int64
		tolerance time.Duration
		want      error
	}{
		{"same second", vecTimestamp, 0, nil},
		{"5 min behind", vecTimestamp + 300, 0, nil},
		{"5 min ahead", vecTimestamp - 300, 0, nil},
		{"too old", vecTimestamp + 301, 0, webhook.ErrMessageTooOld},
		{"too new", vecTimestamp - 301, 0, webhook.ErrMessageTooNew},
		{"much too old", vecTimestamp + 86400*365, 0, webhook.ErrMessageTooOld},
		{"custom tolerance ok", vecTimestamp + 30, 30 * time.Second, nil},
		{"custom tolerance old", vecTimestamp + 31, 30 * time.Second, webhook.ErrMessageTooOld},
		{"custom tolerance new", vecTimestamp - 31, 30 * time.Second, webhook.ErrMessageTooNew},
		{"negative tolerance is default", vecTimestamp + 299, -time.Second, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &webhook.Verifier{Secrets: []string{vecSecret}, Tolerance: tc.tolerance, NowFunc: fixedClock(tc.now)}
			err := v.Verify(payload, vecHeader())
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}
}

func TestVerifyExtremeTimestamps(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	payload := []byte(`{}`)
	for _, ts := range []int64{-1 << 63, -1, 0, 1 << 62, 1<<63 - 1} {
		sig, err := webhook.Sign(secret, "msg_1", time.Unix(ts, 0), payload)
		require.NoError(t, err)
		h := signedHeader("msg_1", ts, sig)
		v := &webhook.Verifier{Secrets: []string{secret}, NowFunc: fixedClock(vecTimestamp)}
		err = v.Verify(payload, h)
		if ts < vecTimestamp {
			require.ErrorIs(t, err, webhook.ErrMessageTooOld, "ts %d", ts)
		} else {
			require.ErrorIs(t, err, webhook.ErrMessageTooNew, "ts %d", ts)
		}
		// And at its own time it is fine: no overflow in the arithmetic.
		v.NowFunc = fixedClock(ts)
		require.NoError(t, v.Verify(payload, h), "ts %d", ts)
	}
}

func TestVerifyStaleIsCheckedAfterSignature(t *testing.T) {
	t.Parallel()
	// A forged old message is reported as forged, not as old.
	v := &webhook.Verifier{Secrets: []string{vecSecret}, NowFunc: fixedClock(vecTimestamp + 3600)}
	err := v.Verify([]byte(`{"forged":true}`), vecHeader())
	require.ErrorIs(t, err, webhook.ErrNoMatchingSignature)
	err = v.Verify([]byte(vecPayload), vecHeader())
	require.ErrorIs(t, err, webhook.ErrMessageTooOld)
}

func TestVerifyRotation(t *testing.T) {
	t.Parallel()
	oldSecret, newSec, other := newSecret(t), newSecret(t), newSecret(t)
	ts := time.Unix(vecTimestamp, 0)
	payload := []byte(`{"type":"customer.active"}`)

	both, err := webhook.SignAll([]string{newSec, oldSecret}, "msg_rot", ts, payload)
	require.NoError(t, err)
	parts := strings.Split(both, " ")
	require.Len(t, parts, 2)
	onlyNew, err := webhook.Sign(newSec, "msg_rot", ts, payload)
	require.NoError(t, err)
	assert.Equal(t, onlyNew, parts[0], "new secret first, in the order given")

	h := signedHeader("msg_rot", vecTimestamp, both)
	for name, secrets := range map[string][]string{
		"receiver has old":         {oldSecret},
		"receiver has new":         {newSec},
		"receiver has both":        {oldSecret, newSec},
		"receiver has other + old": {other, oldSecret},
	} {
		v := &webhook.Verifier{Secrets: secrets, NowFunc: fixedClock(vecTimestamp)}
		require.NoError(t, v.Verify(payload, h), name)
	}
	v := &webhook.Verifier{Secrets: []string{other}, NowFunc: fixedClock(vecTimestamp)}
	require.ErrorIs(t, v.Verify(payload, h), webhook.ErrNoMatchingSignature)

	// A receiver that switched to the new secret still accepts messages signed only
	// with the old one, as long as it lists both.
	onlyOld, err := webhook.Sign(oldSecret, "msg_rot", ts, payload)
	require.NoError(t, err)
	v = &webhook.Verifier{Secrets: []string{newSec, oldSecret}, NowFunc: fixedClock(vecTimestamp)}
	require.NoError(t, v.Verify(payload, signedHeader("msg_rot", vecTimestamp, onlyOld)))
}

func TestVerifyMultipleSignaturesAndUnknownVersions(t *testing.T) {
	t.Parallel()
	v := vecVerifier()
	payload := []byte(vecPayload)
	for name, sig := range map[string]string{
		// From the reference library's "valid multi sig is valid" case.
		"mixed": strings.Join([]string{
			"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
			"v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
			vecSignature,
			"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
		}, " "),
		"asymmetric first": "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== " + vecSignature,
		"garbage around":   "nonsense ,,, v9 " + vecSignature + " v1,",
		"extra spaces":     "  " + vecSignature + "   ",
	} {
		require.NoError(t, v.Verify(payload, signedHeader(vecMsgID, vecTimestamp, sig)), name)
	}
	// Only unknown versions: nothing matches.
	err := v.Verify(payload, signedHeader(vecMsgID, vecTimestamp, "v2"+vecSignature[2:]+" v1a,abc"))
	require.ErrorIs(t, err, webhook.ErrNoMatchingSignature)
}

func TestVerifyMalformedHeaders(t *testing.T) {
	t.Parallel()
	v := vecVerifier()
	payload := []byte(vecPayload)
	missing := func(name string) http.Header {
		h := vecHeader()
		h.Del(name)
		return h
	}
	tests := map[string]struct {
		header http.Header
		want   error
	}{
		"no headers":        {http.Header{}, webhook.ErrMissingHeaders},
		"nil headers":       {nil, webhook.ErrMissingHeaders},
		"no id":             {missing(webhook.HeaderID), webhook.ErrMissingHeaders},
		"no timestamp":      {missing(webhook.HeaderTimestamp), webhook.ErrMissingHeaders},
		"no signature":      {missing(webhook.HeaderSignature), webhook.ErrMissingHeaders},
		"empty id":          {signedHeader("", vecTimestamp, vecSignature), webhook.ErrMissingHeaders},
		"empty signature":   {signedHeader(vecMsgID, vecTimestamp, ""), webhook.ErrMissingHeaders},
		"text timestamp":    {withHeader(vecHeader(), webhook.HeaderTimestamp, "yesterday"), webhook.ErrInvalidHeaders},
		"float timestamp":   {withHeader(vecHeader(), webhook.HeaderTimestamp, "1614265330.5"), webhook.ErrInvalidHeaders},
		"ms timestamp":      {withHeader(vecHeader(), webhook.HeaderTimestamp, "1614265330000"), webhook.ErrNoMatchingSignature},
		"huge timestamp":    {withHeader(vecHeader(), webhook.HeaderTimestamp, "99999999999999999999999"), webhook.ErrInvalidHeaders},
		"blank signature":   {signedHeader(vecMsgID, vecTimestamp, "   "), webhook.ErrNoMatchingSignature},
		"comma only":        {signedHeader(vecMsgID, vecTimestamp, ","), webhook.ErrNoMatchingSignature},
		"unknown name only": {http.Header{"X-Webhook-Signature": {vecSignature}}, webhook.ErrMissingHeaders},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, v.Verify(payload, tc.header), tc.want)
		})
	}
}

func withHeader(h http.Header, k, v string) http.Header {
	h.Set(k, v)
	return h
}

func TestVerifyHeaderCaseAndSvixAliases(t *testing.T) {
	t.Parallel()
	v := vecVerifier()
	payload := []byte(vecPayload)

	// Headers as parsed off the wire are canonicalised; as set by hand they may not be.
	raw := http.Header{"webhook-id": {vecMsgID}, "webhook-timestamp": {strconv.Itoa(vecTimestamp)}, "webhook-signature": {vecSignature}}
	require.NoError(t, v.Verify(payload, raw))
	canon := http.Header{}
	for k, vs := range raw {
		canon[http.CanonicalHeaderKey(k)] = vs
	}
	require.NoError(t, v.Verify(payload, canon))

	svix := http.Header{}
	svix.Set("svix-id", vecMsgID)
	svix.Set("svix-timestamp", strconv.Itoa(vecTimestamp))
	svix.Set("svix-signature", vecSignature)
	require.NoError(t, v.Verify(payload, svix))

	// The webhook-* set wins; sets are never mixed.
	mixed := svix.Clone()
	mixed.Set(webhook.HeaderID, vecMsgID)
	require.ErrorIs(t, v.Verify(payload, mixed), webhook.ErrMissingHeaders)
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	s := newSecret(t)
	require.True(t, strings.HasPrefix(s, "whsec_"))
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	require.NoError(t, err)
	assert.Len(t, key, 32)
	assert.NotEqual(t, s, newSecret(t))
	require.NoError(t, webhook.ValidateSecret(s))

	enc := base64.StdEncoding.EncodeToString
	for name, bad := range map[string]string{
		"empty":         "",
		"prefix only":   "whsec_",
		"not base64":    "whsec_not base64!",
		"url base64":    "whsec_" + base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xff", 24))),
		"too short":     "whsec_" + enc(make([]byte, 23)),
		"too long":      "whsec_" + enc(make([]byte, 65)),
		"other prefix":  "whsk_" + enc(make([]byte, 32)),
		"double prefix": "whsec_whsec_" + enc(make([]byte, 32)),
	} {
		require.ErrorIs(t, webhook.ValidateSecret(bad), webhook.ErrInvalidSecret, name)
		_, err := webhook.Sign(bad, "msg_1", time.Now(), nil)
		require.ErrorIs(t, err, webhook.ErrInvalidSecret, name)
	}
	require.NoError(t, webhook.ValidateSecret("whsec_"+enc(make([]byte, 24))))
	require.NoError(t, webhook.ValidateSecret("whsec_"+enc(make([]byte, 64))))

	// A verifier with no secret, or a bad one, is misconfigured: it says so rather
	// than reporting every message as forged.
	require.ErrorIs(t, webhook.Verify([]byte(vecPayload), vecHeader()), webhook.ErrInvalidSecret)
	require.ErrorIs(t, vecVerifier(vecSecret, "whsec_???").Verify([]byte(vecPayload), vecHeader()), webhook.ErrInvalidSecret)
	_, err = webhook.SignAll(nil, "msg_1", time.Now(), nil)
	require.ErrorIs(t, err, webhook.ErrInvalidSecret)
}

func TestSignRejectsBadMessageIDs(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "msg.1", "msg 1", "msg\n1", "msg\r\nX-Evil: 1", "msg\x00", "msg\x7f", "méssage", strings.Repeat("a", 257)} {
		_, err := webhook.Sign(vecSecret, id, time.Now(), nil)
		require.ErrorIs(t, err, webhook.ErrInvalidMessageID, "%q", id)
	}
	_, err := webhook.Sign(vecSecret, strings.Repeat("a", 256), time.Now(), nil)
	require.NoError(t, err)
}

func TestUnwrap(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	now := time.Unix(1_800_000_000, 0).UTC()
	v := &webhook.Verifier{Secrets: []string{secret}, NowFunc: func() time.Time { return now }}
	sign := func(payload string) http.Header {
		sig, err := webhook.Sign(secret, "dlv_1", now, []byte(payload))
		require.NoError(t, err)
		return signedHeader("dlv_1", now.Unix(), sig)
	}

	payload := `{"id":"evt_0193","type":"credit_offer.available","api_version":"2026-11-01",` +
		`"created_at":"2027-01-15T08:00:00Z","delivery_id":"dlv_0193","timestamp":"2027-01-15T08:00:00Z",` +
		`"data":{"id":"co_1","approved_amount":"50000.00","monthly_interest_rate":3.5},"extra":true}`
	ev, err := v.Unwrap([]byte(payload), sign(payload))
	require.NoError(t, err)
	assert.Equal(t, "evt_0193", ev.ID)
	assert.Equal(t, webhook.EventCreditOfferAvailable, ev.Type)
	assert.Equal(t, "2026-11-01", ev.APIVersion)
	assert.Equal(t, "dlv_0193", ev.DeliveryID)
	assert.True(t, ev.CreatedAt.Equal(time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)))
	assert.True(t, ev.Timestamp.Equal(ev.CreatedAt))

	var offer struct {
		ID             string  `json:"id"`
		ApprovedAmount string  `json:"approved_amount"`
		Rate           float64 `json:"monthly_interest_rate"`
	}
	require.NoError(t, ev.Decode(&offer))
	assert.Equal(t, "co_1", offer.ID)
	assert.Equal(t, "50000.00", offer.ApprovedAmount)
	assert.InDelta(t, 3.5, offer.Rate, 0)
	var wrong []int
	require.ErrorIs(t, ev.Decode(&wrong), webhook.ErrInvalidPayload)
	require.ErrorIs(t, webhook.Event{}.Decode(&offer), webhook.ErrInvalidPayload)

	// Authentic but not an envelope.
	for _, bad := range []string{``, `not json`, `[]`, `{"id":"evt_1"}`, `{"type":1}`} {
		_, err := v.Unwrap([]byte(bad), sign(bad))
		require.ErrorIs(t, err, webhook.ErrInvalidPayload, "%q", bad)
	}
	// Forged: the signature error, before any decoding.
	_, err = v.Unwrap([]byte(`{"type":"customer.active"}`), sign(payload))
	require.ErrorIs(t, err, webhook.ErrNoMatchingSignature)
}
