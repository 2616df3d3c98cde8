package httpapi_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/scoring"
)

// TestGuideFlow runs the registration guide's cURL flow over real HTTP on every backend:
// token, register, read, upload the documents, review, active; the offer from the
// background analysis.
func TestGuideFlow(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, be.open(t), &onboarding.Options{Scorer: scoring.Sandbox{}}, nil)
			ctx := context.Background()

			body := map[string]any{
				"external_id": "seller-1001", "cpf": "123.456.789-09", "cnpj": "12.345.678/0001-95",
				"name": "Maria da Silva", "email": "maria@padaria.example", "phone": "+5511912345678",
				"trading_name": "Padaria da Maria",
			}
			r := e.do("POST", "/customers", acmeClient, body, "Idempotency-Key", "guide-1")
			require.Equal(t, 201, r.status, "%s", r.body)
			c := r.json(t)
			id := c["id"].(string)
			require.True(t, strings.HasPrefix(id, "cust_"))
			require.Equal(t, "/v3/customers/"+id, r.header.Get("Location"))
			require.Equal(t, "pending_kyc", c["status"])
			require.Equal(t, "123.456.789-09", c["cpf"])
			require.Equal(t, "12.345.678/0001-95", c["cnpj"])
			kyc := c["kyc"].([]any)
			require.Len(t, kyc, 2)
			types := []string{kyc[0].(map[string]any)["type"].(string), kyc[1].(map[string]any)["type"].(string)}
			require.Equal(t, []string{"ccmei", "selfie"}, types)

			// The same registration without a key: 200, same customer.
			r = e.do("POST", "/customers", acmeClient, body)
			require.Equal(t, 200, r.status, "%s", r.body)
			require.Equal(t, id, r.json(t)["id"])

			r = e.do("GET", "/customers/"+id, acmeClient, nil)
			require.Equal(t, 200, r.status)
			require.Equal(t, id, r.json(t)["id"])

			r = e.upload("/customers/"+id+"/documents", acmeClient, []part{
				field("type", "ccmei"), filePart("file", "ccmei.pdf", testfiles.PDF("ccmei"))})
			require.Equal(t, 201, r.status, "%s", r.body)
			d := r.json(t)
			require.Equal(t, "ccmei", d["type"])
			require.Equal(t, "submitted", d["status"])
			for _, k := range []string{"id", "uploaded_at", "created_at", "updated_at"} {
				require.NotEmpty(t, d[k], k)
			}

			r = e.upload("/customers/"+id+"/documents", acmeClient, []part{
				field("type", "selfie"), filePart("file", "selfie.jpg", testfiles.JPEG("maria"))})
			require.Equal(t, 201, r.status, "%s", r.body)

			r = e.do("GET", "/customers/"+id, acmeClient, nil)
			require.Equal(t, "under_review", r.json(t)["status"])

			r = e.do("GET", "/customers/"+id+"/documents", acmeClient, nil)
			require.Equal(t, 200, r.status)
			docs := r.json(t)["data"].([]any)
			require.Len(t, docs, 2)
			for _, d := range docs {
				_, err := e.svc.ReviewDocument(ctx, acmePartner, d.(map[string]any)["id"].(string),
					onboarding.ReviewParams{Decision: onboarding.ReviewApprove, Reviewer: "test"})
				require.NoError(t, err)
			}
			r = e.do("GET", "/customers/"+id, acmeClient, nil)
			require.Equal(t, "active", r.json(t)["status"])

			// The credit analysis, in the background (what Run does).
			_, err := e.svc.Work(ctx)
			require.NoError(t, err)
			r = e.do("GET", "/customers/"+id+"/credit-offers", acmeClient, nil)
			require.Equal(t, 200, r.status, "%s", r.body)
			offers := r.json(t)["data"].([]any)
			require.Len(t, offers, 1)
			o := offers[0].(map[string]any)
			require.Equal(t, "available", o["status"])
			require.Equal(t, id, o["customer_id"])
			require.Equal(t, "seller-1001", o["external_id"])
			require.Regexp(t, `^\d+\.\d\d$`, o["approved_amount"])

			r = e.do("GET", "/credit-offers/"+o["id"].(string), acmeClient, nil)
			require.Equal(t, 200, r.status)
			require.Equal(t, o["id"], r.json(t)["id"])
			r = e.do("GET", "/credit-offers?"+uv("customer_id", id, "status", "available"), acmeClient, nil)
			require.Equal(t, 200, r.status)
			require.Len(t, r.json(t)["data"].([]any), 1)
		})
	}
}

// TestSDKFlow uses the SDK's base URL and route: kyc-attachments with a "blob" part of
// type application/octet-stream, on an EI (identity + selfie).
func TestSDKFlow(t *testing.T) {
	t.Parallel()
	e := setup(t, nil, nil, nil)
	body := newCustomer()
	body["legal_nature"] = "ei"
	r := e.do("POST", e.srv.URL+"/api/v3/customers", acmeClient, body, "X-Idempotency-Key", "sdk-1")
	require.Equal(t, 201, r.status, "%s", r.body)
	c := r.json(t)
	id := c["id"].(string)
	require.True(t, strings.HasPrefix(r.header.Get("Location"), "/api/v3/customers/"))
	reqs := map[string]string{}
	for _, k := range c["kyc"].([]any) {
		m := k.(map[string]any)
		reqs[m["requirement_type"].(string)] = m["requirement_id"].(string)
	}
	require.Contains(t, reqs, "ei_mei_documents")
	require.Contains(t, reqs, "identity")
	require.Contains(t, reqs, "selfie")

	post := func(parts ...part) *resp {
		body, ct := multipartBody(t, parts...)
		return e.do("POST", e.srv.URL+"/api/v3/customers/"+id+"/kyc-attachments", acmeClient, body, "Content-Type", ct)
	}
	attach := func(reqID, evidence, attachment string, data []byte) *resp {
		return post(field("requirement_id", reqID), field("evidence_type", evidence), field("attachment_type", attachment),
			filePart("blob", "blob", data))
	}
	r = attach(reqs["ei_mei_documents"], "ei_mei", "ei_registration_requirement", testfiles.PDF("requerimento"))
	require.Equal(t, 201, r.status, "%s", r.body)
	require.Equal(t, map[string]any{"attachment_type": "ei_registration_requirement", "submitted": true}, r.json(t))

	// An RG in two parts.
	r = attach(reqs["identity"], "rg", "front", testfiles.JPEG("rg front"))
	require.Equal(t, 201, r.status, "%s", r.body)
	r = attach(reqs["identity"], "rg", "back", testfiles.JPEG("rg back"))
	require.Equal(t, 201, r.status, "%s", r.body)

	// Pairs outside the SDK's table, evidence for another requirement, email values.
	attach(reqs["selfie"], "selfie", "file", testfiles.JPEG("x")).problem(t, 422, "invalid_value")
	attach(reqs["selfie"], "rg", "front", testfiles.JPEG("x")).problem(t, 422, "document_type_not_required")
	attach(reqs["selfie"], "passport", "file", testfiles.JPEG("x")).problem(t, 422, "invalid_value")
	attach("req_nope", "selfie", "photo", testfiles.JPEG("x")).problem(t, 422, "document_type_not_required")
	post(field("requirement_id", reqs["selfie"]), field("evidence_type", "email"), field("attachment_type", "email"),
		field("value", "maria@padaria.example")).problem(t, 422, "document_type_not_required")
	p := post(filePart("blob", "blob", testfiles.JPEG("x"))).problem(t, 422, "missing_required_field")
	require.Len(t, p.Errors, 3)

	r = attach(reqs["selfie"], "selfie", "photo", testfiles.PNG("selfie"))
	require.Equal(t, 201, r.status, "%s", r.body)

	r = e.do("GET", e.srv.URL+"/api/v3/customers/"+id, acmeClient, nil)
	c = r.json(t)
	require.Equal(t, "under_review", c["status"])
	for _, k := range c["kyc"].([]any) {
		m := k.(map[string]any)
		sub := m["submitted"].(map[string]any)
		if m["requirement_type"] == "identity" {
			require.Equal(t, "rg", sub["evidence_type"])
			require.Len(t, sub["attachments"], 2)
		}
	}
}
