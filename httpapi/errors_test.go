package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
)

func tokenRequest(e *env, body, contentType string, basic ...string) *resp {
	req, _ := http.NewRequest("POST", e.base+"/auth/token", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	return e.send(req)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	form := "application/x-www-form-urlencoded"

	r := tokenRequest(e, "grant_type=client_credentials", form, acmeClient, acmeSecret)
	require.Equal(t, 200, r.status, "%s", r.body)
	tok := r.json(t)
	require.Equal(t, "bearer", tok["token_type"])
	require.EqualValues(t, 3600, tok["expires_in"])
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))

	// client_secret_post works too.
	r = tokenRequest(e, "grant_type=client_credentials&client_id="+globexClient+"&client_secret="+globexSecret, form)
	require.Equal(t, 200, r.status, "%s", r.body)

	p := tokenRequest(e, "grant_type=client_credentials", form, acmeClient, "wrong").problem(t, 401, "invalid_client")
	require.Equal(t, "invalid_client", p.Error)
	tokenRequest(e, "grant_type=client_credentials", form, "nobody", acmeSecret).problem(t, 401, "invalid_client")
	tokenRequest(e, "grant_type=client_credentials", form).problem(t, 401, "invalid_client")
	tokenRequest(e, "grant_type=password", form, acmeClient, acmeSecret).problem(t, 400, "unsupported_grant_type")
	tokenRequest(e, "", form, acmeClient, acmeSecret).problem(t, 400, "missing_required_field")
	tokenRequest(e, `{"grant_type":"client_credentials"}`, "application/json", acmeClient, acmeSecret).problem(t, 400, "invalid_content_type")
	tokenRequest(e, "grant_type=%zz", form, acmeClient, acmeSecret).problem(t, 400, "malformed_body")

	// Protected routes.
	e.do("GET", "/customers", "", nil).problem(t, 401, "missing_token")
	r = e.do("GET", "/customers", "", nil, "Authorization", "Basic "+acmeSecret)
	r.problem(t, 401, "missing_token")
	require.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
	for _, bad := range []string{"garbage", "v1.", "v1.e30.AAAA", tok["access_token"].(string) + "x",
		strings.Replace(tok["access_token"].(string), "v1.", "v2.", 1), strings.Repeat("v", 5000)} {
		e.do("GET", "/customers", "", nil, "Authorization", "Bearer "+bad).problem(t, 401, "invalid_token")
	}
	good := "Bearer " + tok["access_token"].(string)
	r = e.do("GET", "/customers", "", nil, "Authorization", good)
	require.Equal(t, 200, r.status, "%s", r.body)
	r = e.do("GET", "/customers", "", nil, "Authorization", "bearer "+tok["access_token"].(string))
	require.Equal(t, 200, r.status, "the scheme is case-insensitive")

	// A token signed under another key, or for a client since removed, is invalid; a
	// previous key still verifies.
	other := setup(t, nil, nil, &httpapi.Options{TokenKey: []byte(strings.Repeat("k", 32))})
	e.do("GET", "/customers", "", nil, "Authorization", "Bearer "+other.token(acmeClient)).problem(t, 401, "invalid_token")
	rotated := setup(t, nil, nil, &httpapi.Options{TokenKey: []byte(strings.Repeat("n", 32)), PreviousTokenKeys: [][]byte{testTokenKey}})
	require.Equal(t, 200, rotated.do("GET", "/customers", "", nil, "Authorization", good).status)
	removed := setup(t, nil, nil, &httpapi.Options{Clients: map[string]httpapi.Client{
		globexClient: {PartnerID: globexPartner, SecretHash: httpapi.HashSecret(globexSecret)}}})
	removed.do("GET", "/customers", "", nil, "Authorization", good).problem(t, 401, "invalid_token")
	// A client whose secret changed: the tokens issued under the old secret end at once,
	// the new secret's work.
	newSecret := "cs_acme-new-secret-0123456789abcdefghijklmnopq"
	changed := setup(t, nil, nil, &httpapi.Options{Clients: map[string]httpapi.Client{
		acmeClient: {PartnerID: acmePartner, SecretHash: httpapi.HashSecret(newSecret)}}})
	changed.do("GET", "/customers", "", nil, "Authorization", good).problem(t, 401, "invalid_token")
	fresh := changed.tokenWith(t, acmeClient, newSecret)
	require.Equal(t, 200, changed.do("GET", "/customers", "", nil, "Authorization", "Bearer "+fresh).status)

	// Expiry on the injected clock.
	e.clock.Add(59 * time.Minute)
	require.Equal(t, 200, e.do("GET", "/customers", "", nil, "Authorization", good).status)
	e.clock.Add(time.Minute)
	e.do("GET", "/customers", "", nil, "Authorization", good).problem(t, 401, "token_expired")
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, (&httpapi.Options{Clients: testClients()}).Validate())
	for _, o := range []*httpapi.Options{
		{TokenKey: []byte("short")},
		{Clients: map[string]httpapi.Client{"a:b": {PartnerID: "p", SecretHash: httpapi.HashSecret("s")}}},
		{Clients: map[string]httpapi.Client{"a": {PartnerID: "bad partner", SecretHash: httpapi.HashSecret("s")}}},
		{Clients: map[string]httpapi.Client{"a": {PartnerID: "p", SecretHash: "plaintext"}}},
		{TokenTTL: time.Minute},
	} {
		require.Error(t, o.Validate())
		require.Panics(t, func() { httpapi.New(onboardingtest.NewService(t, nilStore(), nil), o) })
	}
}

func TestCreateCustomerErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)

	body := newCustomer()
	r := e.do("POST", "/customers", acmeClient, body)
	require.Equal(t, 201, r.status)
	id := r.json(t)["id"].(string)

	// Same CNPJ, another external_id: 409.
	other := newCustomer()
	other["cnpj"] = body["cnpj"]
	p := e.do("POST", "/customers", acmeClient, other).problem(t, 409, "customer_already_exists")
	require.Equal(t, "cnpj", p.Param)
	require.Equal(t, id, p.ExistingCustomerID)
	// The other partner may register the same company.
	require.Equal(t, 201, e.do("POST", "/customers", globexClient, other).status)

	bad := newCustomer()
	bad["cpf"] = "123.456.789-00"
	p = e.do("POST", "/customers", acmeClient, bad).problem(t, 422, "invalid_cpf")
	require.Equal(t, "cpf", p.Param)
	require.NotContains(t, string(e.do("POST", "/customers", acmeClient, bad).body), "123.456.789")

	bad = newCustomer()
	bad["cnpj"] = "12.345.678/0001-00"
	e.do("POST", "/customers", acmeClient, bad).problem(t, 422, "invalid_cnpj")

	bad = newCustomer()
	bad["email"] = "not-an-email"
	e.do("POST", "/customers", acmeClient, bad).problem(t, 422, "invalid_email")
	bad = newCustomer()
	bad["phone"] = "11 9123"
	e.do("POST", "/customers", acmeClient, bad).problem(t, 422, "invalid_phone")

	p = e.do("POST", "/customers", acmeClient, map[string]any{"name": "x"}).problem(t, 422, "missing_required_field")
	params := map[string]string{}
	for _, f := range p.Errors {
		params[f.Param] = f.Code
	}
	require.Equal(t, "missing_required_field", params["cpf"])
	require.Equal(t, "missing_required_field", params["external_id"])
	require.Equal(t, "missing_required_field", params["email"])
	require.Equal(t, "missing_required_field", params["phone"])

	// Several field errors at once.
	bad = newCustomer()
	bad["cpf"], bad["email"] = "1", "x"
	p = e.do("POST", "/customers", acmeClient, bad).problem(t, 422, "invalid_cpf")
	require.Len(t, p.Errors, 2)

	// Wrong JSON types: 422 on the field.
	bad = newCustomer()
	bad["cpf"] = 12345678909
	p = e.do("POST", "/customers", acmeClient, bad).problem(t, 422, "invalid_cpf")
	require.Equal(t, "cpf", p.Param)
	bad = newCustomer()
	bad["name"] = []string{"a"}
	e.do("POST", "/customers", acmeClient, bad).problem(t, 422, "invalid_value")

	// Unknown fields are ignored.
	ok := newCustomer()
	ok["favourite_colour"] = "blue"
	require.Equal(t, 201, e.do("POST", "/customers", acmeClient, ok).status)
}

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	for _, b := range []string{`{`, `{"cpf": }`, `[]`, `"x"`, `null`, `{"a":1} {"b":2}`, `{"a":1} x`, "\xff\xfe", `{"cpf":"1"`} {
		e.do("POST", "/customers", acmeClient, b).problem(t, 400, "malformed_body")
	}
	e.do("POST", "/customers", acmeClient, " ").problem(t, 400, "malformed_body")
	e.do("POST", "/customers", acmeClient, `{"cpf":"1"}`, "Content-Type", "text/plain").problem(t, 400, "invalid_content_type")
	e.do("POST", "/customers", acmeClient, `{"cpf":"1"}`, "Content-Type", "").problem(t, 400, "invalid_content_type")
	r := e.do("POST", "/customers", acmeClient, `{"cpf":"1"}`, "Content-Type", "application/merge-patch+json")
	require.Equal(t, 422, r.status, "+json media types are JSON")
	e.do("POST", "/customers", acmeClient, `{"name":"`+strings.Repeat("a", 1<<20)+`"}`).problem(t, 413, "body_too_large")
	e.do("PATCH", "/customers/cust_x", acmeClient, `[1]`).problem(t, 400, "malformed_body")
	e.do("POST", "/webhooks/endpoints", acmeClient, `{"url": 3}`).problem(t, 422, "invalid_value")
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	e.do("GET", "/nope", acmeClient, nil).problem(t, 404, "not_found")
	e.do("GET", e.srv.URL+"/", "", nil).problem(t, 404, "not_found")
	r := e.do("PUT", "/customers", acmeClient, "{}")
	r.problem(t, 405, "method_not_allowed")
	require.Equal(t, "GET, POST", r.header.Get("Allow"))
	e.do("DELETE", "/customers/cust_123", acmeClient, nil).problem(t, 405, "method_not_allowed")
	e.do("GET", "/customers/cust_123", acmeClient, nil).problem(t, 404, "not_found")
	e.do("GET", "/auth/token", "", nil).problem(t, 405, "method_not_allowed")
	// Both prefixes serve the same data.
	c := e.createCustomer(acmeClient)
	for _, prefix := range []string{"/v3", "/api/v3"} {
		r := e.do("GET", e.srv.URL+prefix+"/customers/"+c["id"].(string), acmeClient, nil)
		require.Equal(t, 200, r.status)
		require.Equal(t, c["id"], r.json(t)["id"])
	}
	e.do("GET", e.srv.URL+"/v2/customers", acmeClient, nil).problem(t, 404, "not_found")
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	r := e.do("GET", "/customers", acmeClient, nil, "X-Request-Id", "client-req-123")
	require.Equal(t, "client-req-123", r.header.Get("X-Request-Id"))
	r = e.do("GET", "/customers", acmeClient, nil, "X-Request-Id", "bad id\twith spaces")
	require.True(t, strings.HasPrefix(r.header.Get("X-Request-Id"), "req_"))
	r = e.do("GET", "/customers", acmeClient, nil)
	require.Len(t, r.header.Get("X-Request-Id"), 36)
}

// TestTenancy: another partner's customers, documents, offers and endpoints are 404.
func TestTenancy(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &onboarding.Options{Scorer: scoring.Sandbox{}, Biometrics: sandbox.Biometrics{}}, nil)
	c := e.createCustomer(acmeClient)
	id := c["id"].(string)
	r := e.upload("/customers/"+id+"/documents", acmeClient, []part{field("type", "ccmei"), filePart("file", "c.pdf", testfiles.PDF("c"))})
	require.Equal(t, 201, r.status)
	_, err := e.svc.Work(t.Context())
	require.NoError(t, err)
	offers := e.do("GET", "/credit-offers", acmeClient, nil).json(t)["data"].([]any)
	require.Len(t, offers, 1)
	offerID := offers[0].(map[string]any)["id"].(string)
	r = e.do("POST", "/webhooks/endpoints", acmeClient, map[string]any{"url": "https://partner.example/hooks"})
	require.Equal(t, 201, r.status, "%s", r.body)
	we := r.json(t)["id"].(string)

	// The other credential of the same partner sees everything.
	require.Equal(t, 200, e.do("GET", "/customers/"+id, acmeClient2, nil).status)

	g := globexClient
	e.do("GET", "/customers/"+id, g, nil).problem(t, 404, "not_found")
	e.do("PATCH", "/customers/"+id, g, map[string]any{"name": "x"}).problem(t, 404, "not_found")
	e.do("GET", "/customers/"+id+"/documents", g, nil).problem(t, 404, "not_found")
	e.upload("/customers/"+id+"/documents", g, []part{field("type", "selfie"), filePart("file", "s.jpg", testfiles.JPEG("s"))}).
		problem(t, 404, "not_found")
	e.upload("/customers/"+id+"/kyc-attachments", g, []part{field("requirement_id", "req_selfie_applicant"),
		field("evidence_type", "selfie"), field("attachment_type", "photo"), filePart("blob", "b", testfiles.JPEG("s"))}).
		problem(t, 404, "not_found")
	e.do("POST", "/customers/"+id+"/biometrics", g, nil).problem(t, 404, "not_found")
	e.do("GET", "/customers/"+id+"/credit-offers", g, nil).problem(t, 404, "not_found")
	e.do("GET", "/credit-offers?customer_id="+id, g, nil).problem(t, 404, "not_found")
	e.do("GET", "/credit-offers/"+offerID, g, nil).problem(t, 404, "not_found")
	require.Empty(t, e.do("GET", "/credit-offers", g, nil).json(t)["data"])
	require.Empty(t, e.do("GET", "/customers", g, nil).json(t)["data"])
	e.do("GET", "/webhooks/endpoints/"+we, g, nil).problem(t, 404, "not_found")
	e.do("PATCH", "/webhooks/endpoints/"+we, g, map[string]any{"description": "x"}).problem(t, 404, "not_found")
	e.do("POST", "/webhooks/endpoints/"+we+"/rotate-secret", g, nil).problem(t, 404, "not_found")
	e.do("DELETE", "/webhooks/endpoints/"+we, g, nil).problem(t, 404, "not_found")
	require.Empty(t, e.do("GET", "/webhooks/endpoints", g, nil).json(t)["data"])
	require.Equal(t, 200, e.do("GET", "/webhooks/endpoints/"+we, acmeClient, nil).status)
}

func TestPatchCustomer(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	c := e.createCustomer(acmeClient)
	path := "/customers/" + c["id"].(string)

	r := e.do("PATCH", path, acmeClient, map[string]any{"email": "nova@padaria.example", "unknown": 1}, "Idempotency-Key", "p1")
	require.Equal(t, 200, r.status, "%s", r.body)
	require.Equal(t, "nova@padaria.example", r.json(t)["email"])
	require.Equal(t, c["phone"], r.json(t)["phone"])

	p := e.do("PATCH", path, acmeClient, map[string]any{"cpf": "123.456.789-09", "external_id": "x"}).problem(t, 422, "invalid_value")
	require.Len(t, p.Errors, 2)
	e.do("PATCH", path, acmeClient, map[string]any{"email": "nope"}).problem(t, 422, "invalid_email")
	e.do("PATCH", path, acmeClient, map[string]any{"email": 3}).problem(t, 422, "invalid_email")
	e.do("PATCH", path, acmeClient, map[string]any{"name": nil}).problem(t, 422, "missing_required_field")
	e.do("PATCH", path, acmeClient, map[string]any{"cnpj": "1"}).problem(t, 422, "invalid_cnpj")
	r = e.do("PATCH", path, acmeClient, map[string]any{"trading_name": nil})
	require.Equal(t, 200, r.status, "%s", r.body)
	require.Equal(t, "", r.json(t)["trading_name"])
}

func TestBiometrics(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, &onboarding.Options{Biometrics: sandbox.Biometrics{}}, nil)
	c := e.createCustomer(acmeClient)
	r := e.do("POST", "/customers/"+c["id"].(string)+"/biometrics", acmeClient, nil)
	require.Equal(t, 200, r.status, "%s", r.body)
	s := r.json(t)
	require.NotEmpty(t, s["session_url"])
	require.NotEmpty(t, s["expires_at"])
	e.do("POST", "/customers/"+c["id"].(string)+"/biometrics", acmeClient, nil).problem(t, 409, "session_already_active")

	plain := setup(t, nil, nil, nil)
	c = plain.createCustomer(acmeClient)
	plain.do("POST", "/customers/"+c["id"].(string)+"/biometrics", acmeClient, nil).problem(t, 501, "not_implemented")
}

func TestListValidation(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "sort=name", "order=up", "status=happy", "cpf=123"} {
		r := e.do("GET", "/customers?"+q, acmeClient, nil)
		require.Equal(t, 422, r.status, "%s: %s", q, r.body)
	}
	e.do("GET", "/credit-offers?status=maybe", acmeClient, nil).problem(t, 422, "invalid_value")
	e.do("GET", "/webhooks/endpoints?status=maybe", acmeClient, nil).problem(t, 422, "invalid_value")
}

// TestNoLeaks: a 500 says nothing of its cause.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	fs := &failingStore{Store: nilStore()}
	e := setup(t, fs, nil, nil)
	fs.fail.Store(true)
	r := e.do("POST", "/customers", acmeClient, newCustomer())
	p := r.problem(t, 500, "internal")
	require.NotContains(t, string(r.body), "disk on fire")
	require.NotContains(t, p.Detail, "disk")
	require.Contains(t, e.logs.String(), "disk on fire")
}
