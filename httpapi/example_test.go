package httpapi_test

import (
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/sandbox"
	"github.com/onboardkit/onboarding/store/memstore"
)

// A lender mounts the API with its clients, and a partner gets a token and registers a
// customer.
func ExampleNew() {
	svc, err := onboarding.New(memstore.New(), &onboarding.Options{Logger: slog.New(slog.DiscardHandler), Blobs: sandbox.NewMemoryBlobStore()})
	if err != nil {
		log.Fatal(err)
	}
	secret := "cs_example-secret-do-not-use-0123456789abcdef" // from httpapi.NewClientSecret, kept in a vault
	h := httpapi.New(svc, &httpapi.Options{
		Clients:  map[string]httpapi.Client{"acme-1": {PartnerID: "acme", SecretHash: httpapi.HashSecret(secret)}},
		TokenKey: []byte("a 32-byte or longer key shared by all replicas"),
		Logger:   slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("acme-1", secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	fmt.Println("token:", res.StatusCode, tok.ExpiresIn)

	body := `{"external_id":"seller-1001","cpf":"123.456.789-09","cnpj":"12.345.678/0001-95",
		"name":"Maria da Silva","email":"maria@padaria.example","phone":"+5511912345678"}`
	for range 2 {
		req, _ = http.NewRequest("POST", srv.URL+"/v3/customers", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "7f7c2a1e-registration-seller-1001")
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		var c struct {
			Status string `json:"status"`
			KYC    []struct {
				Type string `json:"type"`
			} `json:"kyc"`
		}
		_ = json.NewDecoder(res.Body).Decode(&c)
		res.Body.Close()
		fmt.Println("register:", res.StatusCode, c.Status, len(c.KYC), "kyc items, replayed:", res.Header.Get("Idempotent-Replayed") == "true")
	}
	// Output:
	// token: 200 3600
	// register: 201 pending_kyc 2 kyc items, replayed: false
	// register: 201 pending_kyc 2 kyc items, replayed: true
}
