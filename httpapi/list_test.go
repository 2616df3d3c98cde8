package httpapi_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding/httpapi"
)

// TestPagination walks 35 customers in pages of 10, both orders, on every backend: each
// exactly once, has_more false on the last page.
func TestPagination(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, be.open(t), nil, nil)
			var ids []string
			for range 35 {
				ids = append(ids, e.createCustomer(acmeClient)["id"].(string))
				e.clock.Add(time.Millisecond)
			}
			e.createCustomer(globexClient) // another partner's: never listed

			for _, order := range []string{"desc", "asc"} {
				seen := map[string]int{}
				var got []string
				after := ""
				pages := 0
				for {
					q := "limit=10&order=" + order
					if after != "" {
						q += "&starting_after=" + after
					}
					r := e.do("GET", "/customers?"+q, acmeClient, nil)
					require.Equal(t, 200, r.status, "%s", r.body)
					page := r.json(t)
					data := page["data"].([]any)
					pages++
					for _, c := range data {
						id := c.(map[string]any)["id"].(string)
						seen[id]++
						got = append(got, id)
						after = id
					}
					if !page["has_more"].(bool) {
						break
					}
					require.Len(t, data, 10)
					require.Less(t, pages, 10)
				}
				require.Equal(t, 4, pages)
				require.Len(t, seen, 35)
				for id, n := range seen {
					require.Equal(t, 1, n, id)
				}
				if order == "asc" {
					require.Equal(t, ids, got)
				}
			}

			// Filters.
			one := e.do("GET", "/customers/"+ids[7], acmeClient, nil).json(t)
			r := e.do("GET", "/customers?"+uv("external_id", one["external_id"].(string)), acmeClient, nil)
			require.Len(t, r.json(t)["data"], 1)
			r = e.do("GET", "/customers?"+uv("cpf", one["cpf"].(string), "status", "pending_kyc", "sort", "updated_at"), acmeClient, nil)
			require.Equal(t, 200, r.status, "%s", r.body)
			require.NotEmpty(t, r.json(t)["data"])
			r = e.do("GET", "/customers?status=active", acmeClient, nil)
			require.Empty(t, r.json(t)["data"])
			r = e.do("GET", "/customers", acmeClient, nil)
			require.Len(t, r.json(t)["data"], 25, "the default limit")
		})
	}
}

// TestRateLimit: a partner's bucket with headers on every response, 429 with
// Retry-After, per partner, refilled by the clock; unauthenticated requests are
// limited by address.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, &httpapi.Options{RateLimit: 1, RateBurst: 3})
	tokA := "Bearer " + e.token(acmeClient) // each token request costs a token of the address bucket
	tokG := "Bearer " + e.token(globexClient)
	e.clock.Add(10 * time.Second)

	for i := range 3 {
		r := e.do("GET", "/customers", "", nil, "Authorization", tokA)
		require.Equal(t, 200, r.status)
		require.Equal(t, "3", r.header.Get("X-RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(2-i), r.header.Get("X-RateLimit-Remaining"))
		reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
		require.NoError(t, err)
		require.Equal(t, e.clock.Now().Unix()+int64(i+1), reset)
	}
	r := e.do("GET", "/customers", "", nil, "Authorization", tokA)
	r.problem(t, 429, "rate_limit_exceeded")
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))

	// Another credential of the same partner shares the bucket; another partner does not.
	e.do("GET", "/customers", acmeClient2, nil).problem(t, 429, "rate_limit_exceeded")
	require.Equal(t, 200, e.do("GET", "/customers", "", nil, "Authorization", tokG).status)

	e.clock.Add(time.Second)
	require.Equal(t, 200, e.do("GET", "/customers", "", nil, "Authorization", tokA).status)

	// Unauthenticated requests: by address, with headers, also on 401 and 404.
	for range 3 {
		r := e.do("GET", "/customers", "", nil)
		require.Equal(t, 401, r.status)
		require.NotEmpty(t, r.header.Get("X-RateLimit-Remaining"))
	}
	e.do("GET", "/customers", "", nil).problem(t, 429, "rate_limit_exceeded")
	e.do("GET", "/nope", "", nil).problem(t, 429, "rate_limit_exceeded")
}

func TestWebhookEndpoints(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	r := e.do("POST", "/webhooks/endpoints", acmeClient, map[string]any{"url": "https://partner.example/hooks",
		"events": []string{"customer.*", "credit_offer.available"}, "description": "main"}, "Idempotency-Key", "we-1")
	require.Equal(t, 201, r.status, "%s", r.body)
	we := r.json(t)
	id := we["id"].(string)
	require.True(t, strings.HasPrefix(id, "we_"))
	require.True(t, strings.HasPrefix(we["secret"].(string), "whsec_"))
	require.Equal(t, "active", we["status"])
	require.Equal(t, "/v3/webhooks/endpoints/"+id, r.header.Get("Location"))

	r = e.do("GET", "/webhooks/endpoints/"+id, acmeClient, nil)
	require.Equal(t, 200, r.status)
	require.NotContains(t, r.json(t), "secret")
	require.NotContains(t, string(r.body), we["secret"].(string))

	r = e.do("PATCH", "/webhooks/endpoints/"+id, acmeClient, map[string]any{"status": "disabled", "events": nil, "description": nil})
	require.Equal(t, 200, r.status, "%s", r.body)
	got := r.json(t)
	require.Equal(t, "disabled", got["status"])
	require.Empty(t, got["events"])
	require.Equal(t, "", got["description"])
	e.do("PATCH", "/webhooks/endpoints/"+id, acmeClient, map[string]any{"status": "paused"}).problem(t, 422, "invalid_value")
	e.do("PATCH", "/webhooks/endpoints/"+id, acmeClient, map[string]any{"url": "ftp://x"}).problem(t, 422, "invalid_value")
	e.do("PATCH", "/webhooks/endpoints/"+id, acmeClient, map[string]any{"events": []string{"nothing.real"}}).problem(t, 422, "invalid_value")
	e.do("POST", "/webhooks/endpoints", acmeClient, map[string]any{"url": "http://127.0.0.1/x"}).problem(t, 422, "invalid_value")

	for _, p := range []string{"/secret/rotate", "/rotate-secret"} {
		r = e.do("POST", "/webhooks/endpoints/"+id+p, acmeClient, nil)
		require.Equal(t, 200, r.status, "%s", r.body)
		rot := r.json(t)
		require.Equal(t, id, rot["id"])
		require.True(t, strings.HasPrefix(rot["secret"].(string), "whsec_"))
		exp, err := time.Parse(time.RFC3339, rot["previous_secret_expires_at"].(string))
		require.NoError(t, err)
		require.Equal(t, e.clock.Now().Add(time.Hour), exp)
	}
	r = e.do("POST", "/webhooks/endpoints/"+id+"/rotate-secret", acmeClient, map[string]any{"expire_current_in": 60})
	require.Equal(t, 200, r.status, "%s", r.body)
	exp, _ := time.Parse(time.RFC3339, r.json(t)["previous_secret_expires_at"].(string))
	require.Equal(t, e.clock.Now().Add(time.Minute), exp)
	e.do("POST", "/webhooks/endpoints/"+id+"/rotate-secret", acmeClient, map[string]any{"expire_current_in": 86401}).problem(t, 422, "invalid_value")
	e.do("POST", "/webhooks/endpoints/"+id+"/rotate-secret", acmeClient, map[string]any{"expire_current_in": "soon"}).problem(t, 422, "invalid_value")

	for range 3 {
		require.Equal(t, 201, e.do("POST", "/webhooks/endpoints", acmeClient, map[string]any{"url": "https://partner.example/more"}).status)
	}
	r = e.do("GET", "/webhooks/endpoints?limit=2", acmeClient, nil)
	page := r.json(t)
	require.Len(t, page["data"], 2)
	require.True(t, page["has_more"].(bool))
	last := page["data"].([]any)[1].(map[string]any)["id"].(string)
	page = e.do("GET", "/webhooks/endpoints?limit=2&starting_after="+last, acmeClient, nil).json(t)
	require.Len(t, page["data"], 2)
	require.False(t, page["has_more"].(bool))
	require.Len(t, e.do("GET", "/webhooks/endpoints?status=disabled", acmeClient, nil).json(t)["data"], 1)

	r = e.do("POST", "/webhooks/endpoints/"+id+"/recover", acmeClient, map[string]any{"since": e.clock.Now().Add(-time.Hour)})
	require.Equal(t, 200, r.status, "%s", r.body)
	require.Equal(t, "active", r.json(t)["status"], "recovering enables the endpoint")
	e.do("POST", "/webhooks/endpoints/"+id+"/recover", acmeClient, map[string]any{}).problem(t, 422, "missing_required_field")

	r = e.do("DELETE", "/webhooks/endpoints/"+id, acmeClient, nil)
	require.Equal(t, 204, r.status)
	require.Empty(t, r.body)
	e.do("GET", "/webhooks/endpoints/"+id, acmeClient, nil).problem(t, 404, "not_found")
	e.do("DELETE", "/webhooks/endpoints/"+id, acmeClient, nil).problem(t, 404, "not_found")
}

// TestLogs: one access record per request, with no CPF, secret, token or Authorization.
func TestLogs(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	body := newCustomer()
	c := e.do("POST", "/customers", acmeClient, body).json(t)
	cpf := strings.NewReplacer(".", "", "-", "").Replace(c["cpf"].(string))
	e.do("GET", "/customers?"+uv("cpf", c["cpf"].(string)), acmeClient, nil)
	e.do("GET", "/customers?"+uv("cpf", cpf, "client_secret", acmeSecret), acmeClient, nil)
	we := e.do("POST", "/webhooks/endpoints", acmeClient, map[string]any{"url": "https://partner.example/h"}).json(t)
	tokenRequest(e, "grant_type=client_credentials", "application/x-www-form-urlencoded", acmeClient, "wrong-"+acmeSecret)
	e.do("GET", "/webhooks/endpoints", "", nil).problem(t, 401, "missing_token")

	logs := e.logs.String()
	require.Contains(t, logs, `"route":"GET /v3/webhooks/endpoints"`, "an unauthenticated request is logged with its route")
	require.Contains(t, logs, `"msg":"http request"`)
	require.Contains(t, logs, `"partner":"acme"`)
	require.Contains(t, logs, `"route":"POST /v3/customers"`)
	require.Contains(t, logs, "***")
	for _, secret := range []string{cpf, c["cpf"].(string), acmeSecret, e.token(acmeClient), we["secret"].(string), "Bearer", "Basic"} {
		require.NotContains(t, logs, secret)
	}
}
