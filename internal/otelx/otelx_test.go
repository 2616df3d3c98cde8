package otelx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/onboardkit/onboarding/internal/otelx"
)

// TestUnsetUntilTheApplicationSetsAProvider: the defaults are recognised (a test that
// fails here after an OpenTelemetry upgrade means the skip no longer happens, not that
// telemetry is lost), a Transport skips otelhttp while they stand, and once the
// application sets a provider, later requests are instrumented. The test sets the
// global provider, so it is the only test of this package.
func TestUnsetUntilTheApplicationSetsAProvider(t *testing.T) {
	require.True(t, otelx.Unset(), "OpenTelemetry's default globals are recognised")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	base := srv.Client().Transport
	client := &http.Client{Transport: otelx.Transport{Plain: base,
		Instrumented: otelhttp.NewTransport(base, otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()))}}
	get := func() {
		t.Helper()
		res, err := client.Get(srv.URL)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, http.StatusNoContent, res.StatusCode)
	}
	get()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	assert.False(t, otelx.Unset())
	get()
	require.Len(t, spans.Ended(), 1, "the request after the provider was set has its client span")
	assert.Equal(t, "HTTP GET", spans.Ended()[0].Name())

	// Any provider the application sets counts, a no-op one included.
	otel.SetTracerProvider(noop.NewTracerProvider())
	assert.False(t, otelx.Unset())
}
