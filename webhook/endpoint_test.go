package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/webhook"
)

var catalogue = webhook.EventTypes()

func TestMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, "customer.created", true},
		{[]string{}, "credit_offer.expired", true},
		{[]string{"*"}, "customer.created", true},
		{[]string{"customer.created"}, "customer.created", true},
		{[]string{"customer.created"}, "customer.active", false},
		{[]string{"customer.*"}, "customer.kyc_updated", true},
		{[]string{"customer.*"}, "credit_offer.available", false},
		{[]string{"customer.*"}, "customer", false},
		{[]string{"customer.*"}, "customer.", false},
		{[]string{"customer.*"}, "customers.created", false},
		{[]string{"customer.*"}, "customer.sub.event", true},
		{[]string{"customer*"}, "customer.created", false},
		{[]string{"Customer.created"}, "customer.created", false},
		{[]string{"credit_offer.available", "customer.active"}, "customer.active", true},
		{[]string{"credit_offer.available", "customer.active"}, "customer.denied", false},
		{[]string{"credit_offer.*", "customer.denied"}, "credit_offer.expired", true},
	}
	for _, tc := range tests {
		e := &webhook.Endpoint{Events: tc.filter}
		assert.Equal(t, tc.want, e.Matches(tc.typ), "%v matches %q", tc.filter, tc.typ)
	}
}

func TestValidateFilter(t *testing.T) {
	t.Parallel()
	for _, ok := range [][]string{
		nil, {}, {"*"}, {"customer.*"}, {"customer.created", "credit_offer.*"}, {"a_b.C9"}, {"x.y.*"},
	} {
		require.NoError(t, webhook.ValidateFilter(ok), "%q", ok)
	}
	for _, bad := range [][]string{
		{""}, {"customer."}, {".created"}, {"customer..created"}, {"customer.*.created"}, {"*.created"},
		{"customer*"}, {"**"}, {"customer.cre ated"}, {"customer.créé"}, {"customer.*", "a-b"},
		{strings.Repeat("a", 129)}, make([]string, 65),
	} {
		require.ErrorIs(t, webhook.ValidateFilter(bad), webhook.ErrInvalidFilter, "%q", bad)
	}

	// Against the catalogue: typos are caught, wildcards must select something.
	require.NoError(t, webhook.ValidateFilter([]string{"*", "customer.*", "credit_offer.expired"}, catalogue...))
	require.ErrorIs(t, webhook.ValidateFilter([]string{"customer.actve"}, catalogue...), webhook.ErrInvalidFilter)
	require.ErrorIs(t, webhook.ValidateFilter([]string{"invoice.*"}, catalogue...), webhook.ErrInvalidFilter)
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	dev := &webhook.URLOptions{AllowInsecure: true, AllowPrivate: true}
	for _, ok := range []string{
		"https://example.com/webhooks",
		"https://example.com:8443/hooks?partner=1&x=%20",
		"https://EXAMPLE.com",
		"https://hooks.example.co.uk./in",
		"https://xn--bcher-kva.example/",
		"https://93.184.216.34/hook",
		"https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
	} {
		require.NoError(t, webhook.ValidateURL(ok, nil), ok)
	}

	for _, bad := range []string{
		"",
		"http://example.com/hook",
		"ftp://example.com/hook",
		"example.com/hook",
		"//example.com/hook",
		"/hook",
		"https://",
		"https:example.com",
		"https://user:pass@example.com/hook",
		"https://user@example.com/hook",
		"https://example.com/hook#frag",
		"https://example.com/hook#",
		"https://example.com:0/",
		"https://example.com:99999/",
		"https://example.com:/",
		"https://exa mple.com/",
		"https://bücher.example/",
		"https://-bad.example/",
		"https://2130706433/",
		"https://127.1/",
		"https://0x7f.0x1/",
		"https://example.com/" + strings.Repeat("a", webhook.MaxURLLength),
	} {
		require.ErrorIs(t, webhook.ValidateURL(bad, nil), webhook.ErrInvalidURL, bad)
	}

	for _, internal := range []string{
		"https://127.0.0.1/hook",
		"https://localhost/hook",
		"https://LOCALHOST./hook",
		"https://api.localhost/hook",
		"https://10.1.2.3/hook",
		"https://169.254.169.254/latest/meta-data/",
		"https://[::1]:8443/hook",
		"https://[::ffff:127.0.0.1]/hook",
		"https://[fd00:ec2::254]/",
		"https://[fe80::1%25eth0]/",
		"https://0.0.0.0/",
		"https://100.100.100.200/",
	} {
		err := webhook.ValidateURL(internal, nil)
		require.ErrorIs(t, err, webhook.ErrInvalidURL, internal)
		require.ErrorIs(t, err, webhook.ErrForbiddenAddress, internal)
		require.NoError(t, webhook.ValidateURL(internal, &webhook.URLOptions{AllowPrivate: true}), internal)
	}

	// The sandbox options: http on loopback.
	require.NoError(t, webhook.ValidateURL("http://127.0.0.1:8080/hook", dev))
	require.NoError(t, webhook.ValidateURL("http://localhost:8080/hook", dev))
	require.ErrorIs(t, webhook.ValidateURL("http://u:p@127.0.0.1/", dev), webhook.ErrInvalidURL)
}

func TestEndpointValidate(t *testing.T) {
	t.Parallel()
	e := webhook.Endpoint{
		ID: "we_1", URL: "https://example.com/hook", Events: []string{"customer.*"},
		Status: webhook.EndpointActive, Secrets: []webhook.Secret{{Value: newSecret(t)}},
	}
	require.NoError(t, e.Validate(nil))

	bad := e
	bad.Status = "paused"
	require.ErrorIs(t, bad.Validate(nil), webhook.ErrInvalidStatus)
	bad = e
	bad.Events = []string{"customer."}
	require.ErrorIs(t, bad.Validate(nil), webhook.ErrInvalidFilter)
	bad = e
	bad.URL = "http://example.com"
	require.ErrorIs(t, bad.Validate(nil), webhook.ErrInvalidURL)
	require.NoError(t, bad.Validate(&webhook.URLOptions{AllowInsecure: true}))
	bad = e
	bad.Secrets = []webhook.Secret{{Value: "whsec_short"}}
	require.ErrorIs(t, bad.Validate(nil), webhook.ErrInvalidSecret)
}

func TestEndpointJSONHidesSecrets(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	now := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	e := webhook.Endpoint{
		ID: "we_1", PartnerID: "partner_1", URL: "https://example.com/hook", Events: []string{"*"},
		Description: "main", Status: webhook.EndpointActive, Secrets: []webhook.Secret{{Value: secret}},
		CreatedAt: now, UpdatedAt: now,
	}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"we_1","url":"https://example.com/hook","events":["*"],"description":"main",
		"status":"active","created_at":"2027-01-15T08:00:00Z","updated_at":"2027-01-15T08:00:00Z"}`, string(b))
	assert.NotContains(t, string(b), "whsec_")
}

func TestRotate(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	first := newSecret(t)
	e := &webhook.Endpoint{Secrets: []webhook.Secret{{Value: first, CreatedAt: t0.Add(-time.Hour)}}}
	assert.Equal(t, []string{first}, e.ActiveSecrets(t0))
	assert.Equal(t, first, e.CurrentSecret())

	second, err := e.Rotate(t0, webhook.DefaultRotationGrace)
	require.NoError(t, err)
	require.NoError(t, webhook.ValidateSecret(second))
	assert.NotEqual(t, first, second)
	assert.Equal(t, second, e.CurrentSecret())
	assert.Equal(t, t0, e.UpdatedAt)
	assert.Equal(t, []string{second, first}, e.ActiveSecrets(t0), "new first")
	assert.Equal(t, []string{second, first}, e.ActiveSecrets(t0.Add(59*time.Minute)))
	assert.Equal(t, []string{second}, e.ActiveSecrets(t0.Add(time.Hour)), "grace over at expiry")

	// Both signatures travel during the grace period; either secret verifies.
	payload := []byte(`{}`)
	sig, err := webhook.SignAll(e.ActiveSecrets(t0), "msg_1", t0, payload)
	require.NoError(t, err)
	for _, s := range []string{first, second} {
		v := webhook.Verifier{Secrets: []string{s}, NowFunc: func() time.Time { return t0 }}
		require.NoError(t, v.Verify(payload, signedHeader("msg_1", t0.Unix(), sig)))
	}

	// A second rotation within the grace keeps both older secrets until their expiry.
	t1 := t0.Add(10 * time.Minute)
	third, err := e.Rotate(t1, 2*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, []string{third, second, first}, e.ActiveSecrets(t1))
	assert.Equal(t, []string{third, second}, e.ActiveSecrets(t0.Add(time.Hour)))
	assert.Equal(t, []string{third}, e.ActiveSecrets(t1.Add(2*time.Hour)))

	// Expired secrets are dropped at the next rotation.
	t2 := t1.Add(3 * time.Hour)
	fourth, err := e.Rotate(t2, 0)
	require.NoError(t, err)
	assert.Equal(t, []string{fourth}, e.ActiveSecrets(t2), "0 retires the old secret at once")
	assert.Len(t, e.Secrets, 1)

	// Bounds.
	_, err = e.Rotate(t2, -time.Second)
	require.ErrorIs(t, err, webhook.ErrInvalidGrace)
	_, err = e.Rotate(t2, webhook.MaxRotationGrace+time.Second)
	require.ErrorIs(t, err, webhook.ErrInvalidGrace)
	assert.Equal(t, fourth, e.CurrentSecret(), "a refused rotation changes nothing")
	_, err = e.Rotate(t2, webhook.MaxRotationGrace)
	require.NoError(t, err)

	// Many rotations in a day keep the signature header bounded.
	for i := range 10 {
		_, err := e.Rotate(t2.Add(time.Duration(i)*time.Minute), webhook.MaxRotationGrace)
		require.NoError(t, err)
	}
	assert.Len(t, e.ActiveSecrets(t2.Add(10*time.Minute)), 5)
}

func TestActiveSecretsOrderIndependentOfStorage(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	e := &webhook.Endpoint{Secrets: []webhook.Secret{
		{Value: "old", CreatedAt: t0.Add(-48 * time.Hour), ExpiresAt: t0.Add(time.Hour)},
		{Value: "older", CreatedAt: t0.Add(-72 * time.Hour), ExpiresAt: t0.Add(time.Minute)},
		{Value: "current", CreatedAt: t0.Add(-time.Hour)},
		{Value: "expired", CreatedAt: t0.Add(-96 * time.Hour), ExpiresAt: t0},
	}}
	assert.Equal(t, []string{"current", "old", "older"}, e.ActiveSecrets(t0))
	assert.Equal(t, "current", e.CurrentSecret())
	assert.Empty(t, (&webhook.Endpoint{}).ActiveSecrets(t0))
	assert.Empty(t, (&webhook.Endpoint{}).CurrentSecret())
}
