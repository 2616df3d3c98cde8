package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/onboardkit/onboarding/httpapi"
	"github.com/onboardkit/onboarding/onboardingtest"
	"github.com/onboardkit/onboarding/store/memstore"
)

// TestSpanUnderTheApplicationsOwn: an application that traces its router with its own
// provider, without setting OpenTelemetry's globals, and mounts the API with no
// telemetry options still gets the API's route-named server span under its own (otelhttp
// traces under the provider of the span in the request's context), although the API
// skips otelhttp when nothing could record.
func TestSpanUnderTheApplicationsOwn(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	svc := onboardingtest.NewService(t, memstore.New(), nil)
	api := httpapi.New(svc, &httpapi.Options{Clients: testClients(), TokenKey: testTokenKey})
	srv := httptest.NewServer(otelhttp.NewHandler(api, "app", otelhttp.WithTracerProvider(tp)))
	t.Cleanup(srv.Close)

	res, err := srv.Client().Get(srv.URL + "/v3/customers")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)

	var names []string
	for _, s := range spans.Ended() {
		names = append(names, s.Name())
	}
	assert.Contains(t, names, "GET /v3/customers", "the API's span, under the application's")
	assert.Len(t, names, 2, "%v", names)
}
