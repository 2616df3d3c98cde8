package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/onboardkit/onboarding/webhook"
)

// The Standard Webhooks test vector.
func ExampleSign() {
	sig, err := webhook.Sign(
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0),
		[]byte(`{"test": 2432232314}`),
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// A receiver's handler: read the raw body (capped), Unwrap it with the endpoint's
// secret, decode the data by event type.
func ExampleUnwrap() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	handler := func(w http.ResponseWriter, r *http.Request) {
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		ev, err := webhook.Unwrap(payload, r.Header, secret)
		if err != nil {
			http.Error(w, "invalid webhook", http.StatusBadRequest)
			return
		}
		if ev.Type == webhook.EventCreditOfferAvailable {
			var offer struct {
				ID             string `json:"id"`
				ApprovedAmount string `json:"approved_amount"`
			}
			if err := ev.Decode(&offer); err != nil {
				http.Error(w, "bad data", http.StatusBadRequest)
				return
			}
			fmt.Println(ev.Type, offer.ID, offer.ApprovedAmount)
		}
		w.WriteHeader(http.StatusNoContent)
	}

	// What the onboarding service sends.
	payload := []byte(`{"id":"evt_1","type":"credit_offer.available","api_version":"2026-11-01",` +
		`"created_at":"2027-01-15T08:00:00Z","delivery_id":"dlv_1","timestamp":"2027-01-15T08:00:00Z",` +
		`"data":{"id":"co_1","approved_amount":"50000.00"}}`)
	now := time.Now()
	sig, _ := webhook.Sign(secret, "dlv_1", now, payload)
	req := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(payload))
	req.Header.Set("webhook-id", "dlv_1")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)

	rec := httptest.NewRecorder()
	handler(rec, req)
	fmt.Println(rec.Code)

	// A tampered body is refused.
	req = httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(bytes.Replace(payload, []byte("50000"), []byte("90000"), 1)))
	req.Header.Set("webhook-id", "dlv_1")
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	rec = httptest.NewRecorder()
	handler(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// credit_offer.available co_1 50000.00
	// 204
	// 400
}

// A Verifier with the two secrets of a rotation and an explicit clock and tolerance.
func ExampleVerifier_Verify() {
	v := &webhook.Verifier{
		Secrets:   []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		Tolerance: time.Minute,
		NowFunc:   func() time.Time { return time.Unix(1614265330+90, 0) },
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1a,ignored v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")

	err := v.Verify([]byte(`{"test": 2432232314}`), h)
	fmt.Println(errors.Is(err, webhook.ErrMessageTooOld))
	// Output: true
}

// Delivering one message to a receiver (here a loopback test server, so the sandbox
// options are set).
func ExampleHTTPSender_Send() {
	secret, _ := webhook.NewSecret()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := webhook.Unwrap(body, r.Header, secret); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	sender := webhook.NewHTTPSender(&webhook.HTTPOptions{AllowInsecure: true, AllowPrivate: true})
	res := sender.Send(context.Background(), webhook.Delivery{
		URL:     srv.URL,
		Secrets: []string{secret},
		MsgID:   "dlv_1",
		Payload: []byte(`{"id":"evt_1","type":"customer.active","data":{"id":"cust_1","status":"active"}}`),
	})
	fmt.Println(res.Delivered, res.StatusCode, res.Err)

	if !res.Delivered && res.Retryable() {
		wait, ok := webhook.Backoff(1, res.RetryAfter, nil)
		fmt.Println("retry in", wait, ok)
	}
	// Output: true 204 <nil>
}

func ExampleEndpoint_Rotate() {
	now := time.Date(2027, 1, 15, 8, 0, 0, 0, time.UTC)
	first, _ := webhook.NewSecret()
	e := &webhook.Endpoint{ID: "we_1", Secrets: []webhook.Secret{{Value: first, CreatedAt: now}}}

	second, err := e.Rotate(now, webhook.DefaultRotationGrace)
	if err != nil {
		panic(err)
	}
	during := e.ActiveSecrets(now.Add(30 * time.Minute))
	after := e.ActiveSecrets(now.Add(2 * time.Hour))
	fmt.Println(len(during), during[0] == second, during[1] == first)
	fmt.Println(len(after), after[0] == second)
	// Output:
	// 2 true true
	// 1 true
}

func ExampleEndpoint_Matches() {
	e := &webhook.Endpoint{Events: []string{"customer.*", "credit_offer.available"}}
	for _, t := range []string{"customer.active", "credit_offer.available", "credit_offer.expired"} {
		fmt.Println(t, e.Matches(t))
	}
	// Output:
	// customer.active true
	// credit_offer.available true
	// credit_offer.expired false
}
