package otelx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/onboardkit/onboarding/internal/otelx"
)

// childEnv names the global a child process of TestSettingAGlobal sets.
const childEnv = "OTELX_TEST_SET"

// TestSettingAGlobal: OpenTelemetry's default globals are recognised (a failure here after
// an upgrade means the skip no longer happens, not that telemetry is lost), and setting
// any one of them ends Unset; the tracer provider's case also checks that a Transport
// instruments the requests made after it. Each case runs in a process of its own, since
// a global cannot be unset.
func TestSettingAGlobal(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("the parent's test")
	}
	for _, global := range []string{"tracer", "meter", "propagator"} {
		t.Run(global, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), childEnv+"="+global)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), "--- PASS: TestChild", "%s", out)
		})
	}
}

func TestChild(t *testing.T) {
	global := os.Getenv(childEnv)
	if global == "" {
		t.Skip("run by TestSettingAGlobal")
	}
	ctx := context.Background()
	require.True(t, otelx.Unset(ctx), "OpenTelemetry's default globals are recognised")
	require.True(t, otelx.TelemetryUnset(ctx))

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

	switch global {
	case "tracer":
		spans := tracetest.NewSpanRecorder()
		otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
		assert.False(t, otelx.TelemetryUnset(ctx))
		get()
		require.Len(t, spans.Ended(), 1, "the request after the provider was set has its client span")
		assert.Equal(t, "HTTP GET", spans.Ended()[0].Name())
	case "meter":
		otel.SetMeterProvider(sdkmetric.NewMeterProvider())
		assert.False(t, otelx.TelemetryUnset(ctx))
	case "propagator":
		otel.SetTextMapPropagator(propagation.TraceContext{})
		assert.True(t, otelx.TelemetryUnset(ctx), "the sender propagates nothing: a propagator alone does not matter to it")
	}
	assert.False(t, otelx.Unset(ctx))
}

// TestSpanOfAnotherProvider: a request whose context carries a span of the application's
// own provider is instrumented even while the globals are the defaults (otelhttp traces
// under that span's provider); a span of the default provider changes nothing.
func TestSpanOfAnotherProvider(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("app").Start(context.Background(), "outer")
	defer span.End()
	assert.False(t, otelx.Unset(ctx))
	assert.False(t, otelx.TelemetryUnset(ctx))

	_, global := otel.Tracer("lib").Start(context.Background(), "default")
	assert.True(t, otelx.Unset(trace.ContextWithSpan(context.Background(), global)), "a span of the default provider")
}
