package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
)

// sdk sends a request under /api/v3 and checks the answer against the SDK's wire types.
func (e *env) sdk(method, path, client string, body any, headers ...string) *resp {
	e.t.Helper()
	r := e.do(method, e.srv.URL+httpapi.SDKPrefix+path, client, body, headers...)
	for _, msg := range checkSDKAnswer(method, httpapi.SDKPrefix+path, r.status, r.body) {
		e.t.Errorf("%s %s %d: %s (%s)", method, path, r.status, msg, r.body)
	}
	return r
}

// bearer sends a request with a raw token.
func (e *env) bearer(method, path, token string, body []byte, contentType string) *resp {
	e.t.Helper()
	var rd *strings.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.srv.URL+httpapi.SDKPrefix+path, rd)
	require.NoError(e.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return e.send(req)
}

// partnerAPIEnv is a sandbox server: reviewer, biometrics on a hosted KYC page, scorer.
func partnerAPIEnv(t *testing.T, store onboarding.Store) *env {
	return setup(t, store, &onboarding.Options{Reviewer: sandbox.Reviewer{}, Biometrics: sandbox.Biometrics{},
		Registry: sandbox.Registry{}, Scorer: scoring.Sandbox{}, KYCPageURL: "https://lender.example/kyc/",
		AllowPrivateWebhooks: true}, nil)
}

// sdkCustomer registers a customer through /api/v3 without name and external_id.
func (e *env) sdkCustomer(client string) map[string]any {
	e.t.Helper()
	b := newCustomer()
	for strings.Contains("66 77 88 99", b["cnpj"].(string)[:2]) { // a MEI in the sandbox registry
		b = newCustomer()
	}
	delete(b, "name")
	delete(b, "external_id")
	delete(b, "trading_name")
	r := e.sdk("POST", "/customers", client, b)
	require.Equal(e.t, 201, r.status, "%s", r.body)
	return r.json(e.t)
}

// TestPartnerAPIRoutes runs every route the SDK added on each Store, in the SDK's format,
// with another partner's view of each resource.
func TestPartnerAPIRoutes(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := partnerAPIEnv(t, be.open(t))
			ctx := context.Background()

			// Customers without name and external_id: null in the SDK's format.
			c := e.sdkCustomer(acmeClient)
			id := c["id"].(string)
			assert.Nil(t, c["name"])
			assert.Nil(t, c["external_id"])
			var reqIDs []string
			for _, k := range c["kyc"].([]any) {
				reqIDs = append(reqIDs, k.(map[string]any)["requirement_id"].(string))
			}
			assert.Equal(t, []string{"company_document", "selfie_applicant"}, reqIDs)
			g := e.do("GET", "/customers/"+id, acmeClient, nil).json(t)
			assert.Equal(t, "", g["external_id"], "the guide's format keeps strings")
			assert.Equal(t, "req_ccmei", g["kyc"].([]any)[0].(map[string]any)["requirement_id"])
			e.do("POST", "/customers", acmeClient, map[string]any{"cpf": c["cpf"], "cnpj": c["cnpj"],
				"email": "a@b.example", "phone": "+5511912345678"}).problem(t, 422, "missing_required_field")

			// kyc-review: incomplete, then submitted.
			e.sdk("POST", "/customers/"+id+"/kyc-review", globexClient, nil).problem(t, 404, "not_found")
			p := e.sdk("POST", "/customers/"+id+"/kyc-review", acmeClient, nil).problem(t, 422, "kyc_incomplete")
			assert.Equal(t, []string{"company_document", "selfie_applicant"}, p.Missing)
			gp := e.do("POST", "/customers/"+id+"/kyc-review", acmeClient, nil).problem(t, 422, "kyc_incomplete")
			assert.Equal(t, []string{"req_ccmei", "req_selfie_applicant"}, gp.Missing, "each format names items its way")
			r := e.upload(strings.Replace("/customers/ID/kyc-attachments", "ID", id, 1), acmeClient, []part{
				field("requirement_id", "company_document"), field("evidence_type", "ccmei"), field("attachment_type", "file"),
				filePart("file", "ccmei.pdf", testfiles.PDF("ccmei"))}, "X-Request-Id", "sdk-ids-on-the-guide-prefix")
			r.problem(t, 422, "document_type_not_required") // /v3 names items req_…

			// Biometrics: a hosted session with a one-time code.
			s := e.sdk("POST", "/customers/"+id+"/biometrics", acmeClient, nil)
			require.Equal(t, 200, s.status, "%s", s.body)
			u, err := url.Parse(s.json(t)["session_url"].(string))
			require.NoError(t, err)
			assert.Equal(t, "lender.example", u.Host)
			assert.Equal(t, "/kyc/", u.Path)
			code := u.Query().Get("code")
			require.True(t, strings.HasPrefix(code, "bsc_"))

			// The exchange needs biometrics:exchange, works once and for the code's partner.
			cred := e.sdk("POST", "/auth/credentials", acmeClient, map[string]any{"name": "kyc-app", "scopes": []string{"biometrics:exchange"}})
			require.Equal(t, 201, cred.status, "%s", cred.body)
			kycApp := cred.json(t)
			kycTok := e.clientToken(kycApp["client_id"].(string), kycApp["client_secret"].(string))
			e.bearer("GET", "/customers", kycTok, nil, "").problem(t, 403, "forbidden")
			globexCred := e.sdk("POST", "/auth/credentials", globexClient, map[string]any{"name": "x", "scopes": []string{"biometrics:exchange"}}).json(t)
			globexTok := e.clientToken(globexCred["client_id"].(string), globexCred["client_secret"].(string))
			e.bearer("POST", "/biometrics/session-exchange", globexTok, []byte(`{"code":"`+code+`"}`), "application/json").
				problem(t, 400, "invalid_code")
			e.sdk("POST", "/biometrics/session-exchange", acmeClient, map[string]any{"code": code}) // all scopes: allowed
			ex := e.bearer("POST", "/biometrics/session-exchange", kycTok, []byte(`{"code":"`+code+`"}`), "application/json")
			ex.problem(t, 400, "invalid_code") // the code worked once, just above

			s2 := e.sdk("POST", "/customers/"+e.sdkCustomer(acmeClient)["id"].(string)+"/biometrics", acmeClient, nil)
			u2, _ := url.Parse(s2.json(t)["session_url"].(string))
			ex = e.bearer("POST", "/biometrics/session-exchange", kycTok, []byte(`{"code":"`+u2.Query().Get("code")+`"}`), "application/json")
			require.Equal(t, 200, ex.status, "%s", ex.body)
			for _, msg := range checkSDKAnswer("POST", "/api/v3/biometrics/session-exchange", ex.status, ex.body) {
				t.Error(msg)
			}
			custTok := ex.json(t)["access_token"].(string)
			otherID := ex.json(t)["customer_id"].(string)

			// The customer token: its own customer and KYC, nothing else.
			assert.Equal(t, 200, e.bearer("GET", "/customers/"+otherID, custTok, nil, "").status)
			e.bearer("GET", "/customers/"+id, custTok, nil, "").problem(t, 403, "forbidden")
			e.bearer("GET", "/customers", custTok, nil, "").problem(t, 403, "forbidden")
			e.bearer("GET", "/customers/"+otherID+"/bank-account", custTok, nil, "").problem(t, 403, "forbidden")
			e.bearer("GET", "/banks", custTok, nil, "").problem(t, 403, "forbidden")
			selfie, ct := multipartBody(t, field("requirement_id", "selfie_applicant"), filePart("file", "s.png", testfiles.PNG("selfie")))
			e.bearer("POST", "/customers/"+id+"/kyc-attachments/selfie", custTok, selfie, ct).problem(t, 403, "forbidden")
			r = e.bearer("POST", "/customers/"+otherID+"/kyc-attachments/selfie", custTok, selfie, ct)
			require.Equal(t, 201, r.status, "%s", r.body)
			// A partner token may not use the selfie route.
			r = e.do("POST", e.srv.URL+httpapi.SDKPrefix+"/customers/"+otherID+"/kyc-attachments/selfie", acmeClient, selfie, "Content-Type", ct)
			r.problem(t, 403, "forbidden")

			// Banks and bank accounts, history kept, isolated.
			banks := e.sdk("GET", "/banks", acmeClient, nil)
			require.Equal(t, 200, banks.status)
			assert.Greater(t, len(banks.json(t)["data"].([]any)), 500)
			e.sdk("GET", "/customers/"+id+"/bank-account", acmeClient, nil).problem(t, 404, "not_found")
			e.sdk("POST", "/customers/"+id+"/bank-account", acmeClient, map[string]any{"bank_account": map[string]any{
				"bank_id": "999", "branch": "1", "number": "1", "digit": "1", "kind": "checking"}}).problem(t, 422, "invalid_value")
			e.sdk("POST", "/customers/"+id+"/bank-account", acmeClient, map[string]any{"bank_account": map[string]any{
				"bank_id": "001", "branch": "12345", "number": "1", "digit": "1", "kind": "checking"}}).problem(t, 422, "invalid_value")
			a1 := e.sdk("POST", "/customers/"+id+"/bank-account", acmeClient, map[string]any{"bank_account": map[string]any{
				"bank_id": "1", "branch": "1", "number": "123", "digit": "x", "kind": "checking"}})
			require.Equal(t, 200, a1.status, "%s", a1.body)
			assert.Equal(t, "0001", a1.json(t)["branch"])
			a2 := e.do("POST", "/customers/"+id+"/bank-account", acmeClient, map[string]any{
				"bank_id": "341", "branch": "2", "number": "456", "digit": "7", "kind": "saving"})
			require.Equal(t, 200, a2.status, "the guide's prefix takes the account unwrapped: %s", a2.body)
			cur := e.sdk("GET", "/customers/"+id+"/bank-account", acmeClient, nil).json(t)
			assert.Equal(t, "341", cur["bank_id"])
			hist, err := e.svc.BankAccountHistory(ctx, acmePartner, id)
			require.NoError(t, err)
			assert.Len(t, hist, 2)
			e.sdk("GET", "/customers/"+id+"/bank-account", globexClient, nil).problem(t, 404, "not_found")
			e.sdk("POST", "/customers/"+id+"/bank-account", globexClient, map[string]any{"bank_id": "1", "branch": "1",
				"number": "1", "digit": "1", "kind": "checking"}).problem(t, 404, "not_found")

			// Credentials: created, listed, isolated, revoked.
			created := e.sdk("POST", "/auth/credentials", acmeClient, map[string]any{"name": "ci", "expires_at": e.clock.Now().Add(time.Hour).Unix()})
			require.Equal(t, 201, created.status, "%s", created.body)
			cj := created.json(t)
			ciID := cj["client_id"].(string)
			tok := e.clientToken(ciID, cj["client_secret"].(string))
			assert.Equal(t, 200, e.bearer("GET", "/customers", tok, nil, "").status)
			list := e.sdk("GET", "/auth/credentials", acmeClient, nil).json(t)
			assert.Len(t, list["data"], 2) // kyc-app and ci
			for _, item := range list["data"].([]any) {
				assert.NotContains(t, item, "client_secret")
			}
			assert.Len(t, e.sdk("GET", "/auth/credentials", globexClient, nil).json(t)["data"], 1)
			e.sdk("DELETE", "/auth/credentials/"+ciID, globexClient, nil).problem(t, 404, "not_found")
			assert.Equal(t, 200, e.bearer("GET", "/customers", tok, nil, "").status, "globex could not revoke it")
			assert.Equal(t, 204, e.sdk("DELETE", "/auth/credentials/"+ciID, acmeClient, nil).status)
			e.bearer("GET", "/customers", tok, nil, "").problem(t, 401, "invalid_token")
			e.tokenProblem(ciID, cj["client_secret"].(string)).problem(t, 401, "invalid_client")
			e.sdk("POST", "/auth/credentials", acmeClient, map[string]any{"name": "x", "scopes": []string{"root"}}).problem(t, 422, "invalid_value")
			e.sdk("POST", "/auth/credentials", acmeClient, map[string]any{"name": "x", "expires_at": 1}).problem(t, 422, "invalid_value")

			// Simulations: 201 in range, stored, 422 outside, 404 for another partner.
			_, err = e.svc.Work(ctx)
			require.NoError(t, err)
			offers := e.sdk("GET", "/credit-offers?customer_id="+id, acmeClient, nil).json(t)["data"].([]any)
			require.NotEmpty(t, offers)
			o := offers[0].(map[string]any)
			oid := o["id"].(string)
			n := o["min_installments"]
			if n == nil {
				n = o["installments"]
			}
			sim := e.sdk("POST", "/credit-offers/"+oid+"/simulations", acmeClient, map[string]any{
				"installment_count": n, "requested_amount": o["min_amount"]})
			require.Equal(t, 201, sim.status, "%s", sim.body)
			sj := sim.json(t)
			got := e.sdk("GET", "/credit-offers/"+oid+"/simulations/"+sj["id"].(string), acmeClient, nil)
			require.Equal(t, 200, got.status)
			assert.JSONEq(t, string(sim.body), string(got.body), "stored, readable later")
			gs := e.do("GET", "/credit-offers/"+oid+"/simulations/"+sj["id"].(string), acmeClient, nil).json(t)
			assert.IsType(t, "", gs["total_amount"], "the guide's format: decimal strings")
			p = e.sdk("POST", "/credit-offers/"+oid+"/simulations", acmeClient, map[string]any{
				"installment_count": n, "requested_amount": o["approved_amount"].(float64) + 1}).problem(t, 422, "invalid_value")
			assert.Equal(t, "requested_amount", p.Param)
			p = e.sdk("POST", "/credit-offers/"+oid+"/simulations", acmeClient, map[string]any{
				"installment_count": 1000, "requested_amount": o["min_amount"]}).problem(t, 422, "invalid_value")
			assert.Equal(t, "installment_count", p.Param)
			e.sdk("POST", "/credit-offers/"+oid+"/simulations", globexClient, map[string]any{
				"installment_count": n, "requested_amount": o["min_amount"]}).problem(t, 404, "not_found")
			e.sdk("GET", "/credit-offers/"+oid+"/simulations/"+sj["id"].(string), globexClient, nil).problem(t, 404, "not_found")

			// Review once every mandatory item is in: 202, idempotent.
			r = e.upload("/customers/"+id+"/documents", acmeClient, []part{field("type", "ccmei"), filePart("file", "c.pdf", testfiles.PDF("c"))})
			require.Equal(t, 201, r.status, "%s", r.body)
			selfieSess := e.sdk("POST", "/customers/"+id+"/biometrics", acmeClient, nil)
			assert.Equal(t, 409, selfieSess.status, "the first session is still open")
			r = e.upload("/customers/"+id+"/documents", acmeClient, []part{field("type", "selfie"), filePart("file", "s.png", testfiles.PNG("s"))})
			require.Equal(t, 201, r.status, "%s", r.body)
			for range 2 {
				rv := e.sdk("POST", "/customers/"+id+"/kyc-review", acmeClient, nil)
				require.Equal(t, 202, rv.status, "%s", rv.body)
				assert.Equal(t, "under_review", rv.json(t)["status"])
			}
		})
	}
}

// clientToken gets a token for a stored credential.
func (e *env) clientToken(id, secret string) string {
	e.t.Helper()
	r := e.tokenProblem(id, secret)
	require.Equal(e.t, 200, r.status, "%s", r.body)
	return r.json(e.t)["access_token"].(string)
}

// tokenProblem asks the token endpoint of /api/v3.
func (e *env) tokenProblem(id, secret string) *resp {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+httpapi.SDKPrefix+"/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	return e.send(req)
}

// TestRevocationAcrossReplicas: two Services and handlers on one PostgreSQL. A token
// issued by replica A before the credential is revoked through A is refused by B too:
// at once when B has not cached the credential, and once CredentialCacheTTL has passed
// when it has.
func TestRevocationAcrossReplicas(t *testing.T) {
	t.Parallel()
	db := openPostgres(t)
	a := setup(t, bunstoreOn(db), nil, nil)
	b := setup(t, bunstoreOn(db), nil, &httpapi.Options{NowFunc: a.clock.Now})
	b.clock = a.clock

	cred := a.sdk("POST", "/auth/credentials", acmeClient, map[string]any{"name": "replicated"}).json(t)
	id, secret := cred["client_id"].(string), cred["client_secret"].(string)
	warm := a.clientToken(id, secret) // issued by A
	cold := a.clientToken(id, secret)
	require.Equal(t, 200, b.bearer("GET", "/customers", warm, nil, "").status, "B accepts A's token (and caches the credential)")
	require.Equal(t, 200, a.bearer("GET", "/customers", cold, nil, "").status)

	require.Equal(t, 204, a.sdk("DELETE", "/auth/credentials/"+id, acmeClient, nil).status)
	a.bearer("GET", "/customers", cold, nil, "").problem(t, 401, "invalid_token")

	// B never saw the credential with a fresh cache for another replica's request.
	c := setup(t, bunstoreOn(db), nil, nil)
	c.bearer("GET", "/customers", cold, nil, "").problem(t, 401, "invalid_token")

	// B cached it before the revocation: refused once the cache entry is older than the TTL.
	a.clock.Add(httpapi.DefaultCredentialCacheTTL)
	b.bearer("GET", "/customers", warm, nil, "").problem(t, 401, "invalid_token")
	b.tokenProblem(id, secret).problem(t, 401, "invalid_client")
}

// TestStaticClientScopes: -clients style clients keep every scope unless they name some.
func TestStaticClientScopes(t *testing.T) {
	t.Parallel()
	clients := testClients()
	cl := clients[globexClient]
	cl.Scopes = []onboarding.Scope{onboarding.ScopeCustomersRead}
	clients[globexClient] = cl
	e := setup(t, nil, nil, &httpapi.Options{Clients: clients})
	assert.Equal(t, 200, e.do("GET", "/customers", globexClient, nil).status)
	e.do("POST", "/customers", globexClient, newCustomer()).problem(t, 403, "forbidden")
	e.do("GET", "/webhooks/endpoints", globexClient, nil).problem(t, 403, "forbidden")
	assert.Equal(t, 201, e.do("POST", "/customers", acmeClient, newCustomer()).status)
	require.Error(t, (&httpapi.Options{Clients: map[string]httpapi.Client{"x": {PartnerID: "x",
		SecretHash: httpapi.HashSecret("s"), Scopes: []onboarding.Scope{"root"}}}}).Validate())
}

// TestSDKWebhookFormat: an endpoint created under /api/v3 gets its deliveries in the SDK's
// format, one created under /v3 in the guide's; the opt-in bank-account event reaches only
// an endpoint that lists it.
func TestSDKWebhookFormat(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	e := partnerAPIEnv(t, nil)
	for _, x := range []struct {
		prefix string
		events []string
	}{{httpapi.SDKPrefix, []string{"*"}}, {"/v3", nil}, {"/v3", []string{"customer.bank_account_updated"}}} {
		r := e.do("POST", e.srv.URL+x.prefix+"/webhooks/endpoints", acmeClient, map[string]any{"url": rcv.URL() + x.prefix, "events": x.events})
		require.Equal(t, 201, r.status, "%s", r.body)
	}
	c := e.sdkCustomer(acmeClient)
	require.Equal(t, 200, e.sdk("POST", "/customers/"+c["id"].(string)+"/bank-account", acmeClient, map[string]any{
		"bank_id": "1", "branch": "1", "number": "1", "digit": "1", "kind": "checking"}).status)
	ctx := context.Background()
	_, err := e.svc.Work(ctx)
	require.NoError(t, err)
	bodies := rcv.Bodies()
	var sdkTypes, guideTypes []string
	for _, b := range bodies {
		var ev struct {
			Type      string          `json:"type"`
			CreatedAt json.RawMessage `json:"created_at"`
		}
		require.NoError(t, json.Unmarshal(b.Body, &ev))
		if b.Path == httpapi.SDKPrefix {
			sdkTypes = append(sdkTypes, ev.Type)
			for _, msg := range checkSDKWebhook(b.Body) {
				t.Errorf("%s: %s", ev.Type, msg)
			}
		} else {
			guideTypes = append(guideTypes, ev.Type)
			assert.True(t, strings.HasPrefix(string(ev.CreatedAt), `"`), "the guide's envelope: RFC 3339")
		}
	}
	assert.Contains(t, sdkTypes, "customer.created")
	assert.NotContains(t, sdkTypes, "customer.bank_account_updated", `"*" does not select an opt-in type`)
	assert.Contains(t, guideTypes, "customer.created", "an empty filter: every catalogue type but the opt-in ones")
	assert.Equal(t, 1, count(guideTypes, "customer.bank_account_updated"), "only the endpoint that lists it")
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func bunstoreOn(db *bun.DB) onboarding.Store { return bunstore.New(db, nil) }

// receiver records the deliveries it gets, with the path they were sent to.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []delivered
}

type delivered struct {
	Path string
	Body []byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, delivered{Path: r.URL.Path, Body: b})
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL }

func (rc *receiver) Bodies() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivered(nil), rc.bodies...)
}
