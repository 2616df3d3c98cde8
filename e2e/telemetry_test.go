package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/onboardkit/onboarding"
	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/scoring"
	"github.com/onboardkit/onboarding/store/bunstore"
)

// TestOneRegistrationOneTrace registers a customer through the HTTP API on SQLite and
// lets Run analyse it and deliver its credit_offer.available webhook. Everything between
// is one trace: the HTTP request, the Service call, the store's statements (bunstore.Instrument), the
// credit_analysis job, the delivery job, its attempt and the POST to the receiver. The
// HTTP server metric comes from otelhttp with the route; no span or metric holds the
// customer's personal data.
func TestOneRegistrationOneTrace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = tp.Shutdown(ctx); _ = mp.Shutdown(ctx) })

	db := newDatabase(t, "sqlite").open(t)
	bunstore.Instrument(db, &bunstore.TelemetryOptions{TracerProvider: tp, MeterProvider: mp})
	svc := newService(t, db, onboarding.Options{Scorer: scoring.Sandbox{}, TracerProvider: tp, MeterProvider: mp})
	api := httpapi.New(svc, &httpapi.Options{Clients: map[string]httpapi.Client{
		"acme": {PartnerID: partner, SecretHash: httpapi.HashSecret("acme-secret")}},
		TokenKey: bytes.Repeat([]byte("k"), 32), Logger: discard,
		Telemetry: &httpapi.Telemetry{TracerProvider: tp, MeterProvider: mp}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)

	delivered := make(chan []byte, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		assert.Empty(t, r.Header.Get("traceparent"), "no trace context goes to a receiver")
		w.WriteHeader(http.StatusNoContent)
		delivered <- body
	}))
	t.Cleanup(rcv.Close)
	_, _, err := svc.CreateWebhookEndpoint(ctx, partner, onboarding.CreateEndpointParams{URL: rcv.URL,
		Events: []string{"credit_offer.available"}})
	require.NoError(t, err)
	spans.Reset()

	token := func() string {
		req, _ := http.NewRequest("POST", srv.URL+"/v3/auth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("acme", "acme-secret")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
		return tok.AccessToken
	}()
	p := newPeople(t).next("")
	p.Name, p.Email, p.Phone = "Rastreada da Silva Marcada", "rastreada.marcada@pessoal.example", "+5511976543210"
	body, _ := json.Marshal(map[string]string{"external_id": p.ExternalID, "cpf": p.CPF, "cnpj": p.CNPJ,
		"name": p.Name, "email": p.Email, "phone": p.Phone, "trading_name": p.TradingName})
	req, _ := http.NewRequest("POST", srv.URL+"/v3/customers", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)

	run(t, svc)
	select {
	case b := <-delivered:
		assert.Contains(t, string(b), `"credit_offer.available"`)
	case <-time.After(30 * time.Second):
		t.Fatal("no credit_offer.available delivery within 30 s")
	}
	// The delivery's job span ends once its outcome is written; wait for it.
	require.Eventually(t, func() bool {
		for _, s := range spans.Ended() {
			if s.Name() == "job deliver_webhook" {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)

	all := spans.Ended()
	var server sdktrace.ReadOnlySpan
	for _, s := range all {
		if s.Name() == "POST /v3/customers" {
			server = s
		}
	}
	require.NotNil(t, server, "the request's span is named by its route")
	assert.Equal(t, trace.SpanKindServer, server.SpanKind())
	id := server.SpanContext().TraceID()
	inTrace := map[string]int{}
	var statements int
	for _, s := range all {
		if s.SpanContext().TraceID() != id {
			continue
		}
		inTrace[s.Name()]++
		for _, kv := range s.Attributes() {
			if kv.Key == "db.system" && kv.Value.AsString() == "sqlite" {
				statements++
			}
		}
	}
	for _, name := range []string{"onboarding.CreateCustomer", "job credit_analysis", "job deliver_webhook", "webhook.deliver", "HTTP POST"} {
		assert.Equal(t, 1, inTrace[name], "one %q span in the registration's trace (%v)", name, inTrace)
	}
	t.Logf("trace: %v (%d statements)", inTrace, statements)
	assert.GreaterOrEqual(t, statements, 10, "the store's statements are in the trace: %v", inTrace)
	var jobsSeen []string
	for _, s := range all {
		periodic := s.Name() == "job prune" || s.Name() == "job sweep_blobs" // Run's own, a trace each
		if strings.HasPrefix(s.Name(), "job ") && !periodic && s.SpanContext().TraceID() != id {
			jobsSeen = append(jobsSeen, s.Name())
		}
	}
	assert.Empty(t, jobsSeen, "every job of the registration continues its trace")

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(ctx, &rm))
	var routed bool
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				if v, ok := dp.Attributes.Value("http.route"); ok && v.AsString() == "/v3/customers" {
					routed = true
				}
			}
		}
	}
	assert.True(t, routed, "http.server.request.duration carries the route")

	needles := []string{p.CPF, strings.NewReplacer(".", "", "-", "").Replace(p.CPF), p.Name, p.Email, p.Phone, p.Phone[3:]}
	check := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			for _, n := range needles {
				assert.NotContains(t, kv.Value.Emit(), n, "personal data in %s %s", where, kv.Key)
			}
		}
	}
	for _, s := range all {
		check("span "+s.Name(), s.Attributes())
		for _, e := range s.Events() {
			check("event of "+s.Name(), e.Attributes)
		}
		for _, n := range needles {
			assert.NotContains(t, s.Status().Description, n)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					check("metric "+m.Name, dp.Attributes.ToSlice())
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					check("metric "+m.Name, dp.Attributes.ToSlice())
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					check("metric "+m.Name, dp.Attributes.ToSlice())
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					check("metric "+m.Name, dp.Attributes.ToSlice())
				}
			}
		}
	}
}
