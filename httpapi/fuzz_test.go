package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/internal/testfiles"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
)

// fuzzEnv is an in-process handler with a token and a customer, for the fuzz targets.
type fuzzEnv struct {
	h        http.Handler
	auth     string
	customer string
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	svc := onboardingtest.NewService(f, memstore.New(), &onboarding.Options{Logger: slog.New(slog.DiscardHandler),
		Uploads: onboarding.UploadRules{MaxSize: 64 << 10}, Biometrics: sandbox.Biometrics{}})
	return newFuzzEnvFor(f, svc)
}

// newFuzzEnvFor is the handler, a token and a customer over svc.
func newFuzzEnvFor(tb testing.TB, svc *onboarding.Service) *fuzzEnv {
	h := httpapi.New(svc, &httpapi.Options{Clients: testClients(), TokenKey: testTokenKey,
		Logger: slog.New(slog.DiscardHandler), RateLimit: 1e9, RateBurst: 1e9, MaxUploadSize: 64 << 10})
	req := httptest.NewRequest("POST", "/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(acmeClient, acmeSecret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil {
		tb.Fatal(err)
	}
	c, _, err := svc.CreateCustomer(context.Background(), acmePartner, onboarding.CreateCustomerParams{
		ExternalID: "fuzz", CPF: "123.456.789-09", CNPJ: "12.345.678/0001-95", Name: "Fuzz", Email: "f@z.example",
		Phone: "+5511912345678", LegalNature: "ei"})
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzEnv{h: h, auth: "Bearer " + tok.AccessToken, customer: c.ID}
}

func (fe *fuzzEnv) serve(t *testing.T, req *http.Request) *httptest.ResponseRecorder {
	req.Header.Set("Authorization", fe.auth)
	rec := httptest.NewRecorder()
	fe.h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("status %d for a client's body: %s", rec.Code, rec.Body.Bytes())
	}
	if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d without a problem: %s", rec.Code, rec.Body.Bytes())
	}
	return rec
}

// FuzzCreateCustomer: no body makes POST /customers (or its PATCH) fail with a 5xx or
// panic. Seeds in testdata/fuzz/FuzzCreateCustomer.
func FuzzCreateCustomer(f *testing.F) {
	for _, s := range []string{
		`{"external_id":"e1","cpf":"123.456.789-09","cnpj":"12.345.678/0001-95","name":"Maria","email":"m@x.example","phone":"+5511912345678"}`,
		`{"cpf":null,"cnpj":null}`, `{"cpf":1e400}`, `{"name":"\ud800"}`, `{}`, `[]`, `{"a":{"b":[1,2,{"c":null}]}}`,
	} {
		f.Add([]byte(s), false)
	}
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		method, path := "POST", "/v3/customers"
		if patch {
			method, path = "PATCH", "/v3/customers/"+fe.customer
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		fe.serve(t, req)
	})
}

// fuzzBoundary is the boundary of the multipart fuzz bodies.
const fuzzBoundary = "fuzz-boundary"

// FuzzUpload: no multipart body makes the upload routes fail with a 5xx or panic. Seeds
// in testdata/fuzz/FuzzUpload.
func FuzzUpload(f *testing.F) {
	mp := func(parts ...string) []byte {
		var b bytes.Buffer
		for i := 0; i+1 < len(parts); i += 2 {
			b.WriteString("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"" + parts[i] + "\"")
			if parts[i] == "file" || parts[i] == "blob" {
				b.WriteString("; filename=\"x\"\r\nContent-Type: application/octet-stream")
			}
			b.WriteString("\r\n\r\n" + parts[i+1] + "\r\n")
		}
		b.WriteString("--" + fuzzBoundary + "--\r\n")
		return b.Bytes()
	}
	f.Add(mp("type", "ei_registration_requirement", "file", string(testfiles.PDF("x"))), false)
	f.Add(mp("type", "selfie", "file", string(testfiles.JPEG("x"))), false)
	f.Add(mp("requirement_id", "req_selfie_applicant", "evidence_type", "selfie", "attachment_type", "photo",
		"blob", string(testfiles.PNG("x"))), true)
	f.Add(mp("file", "%PDF-"), false)
	f.Add([]byte("--"+fuzzBoundary+"\r\n"), true)
	fe := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body []byte, sdk bool) {
		path := "/v3/customers/" + fe.customer + "/documents"
		if sdk {
			path = "/v3/customers/" + fe.customer + "/kyc-attachments"
		}
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		if len(body)%2 == 0 { // half the inputs go through the idempotency layer, replays included
			req.Header.Set("Idempotency-Key", "fuzz")
		}
		fe.serve(t, req)
	})
}
