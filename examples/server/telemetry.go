package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// telemetry is the server's OpenTelemetry setup: providers for the Service, the API and
// the database, the /metrics handler when Prometheus is on, and what to flush at exit.
type telemetry struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	metrics  http.Handler // nil without -metrics-addr
	shutdown []func(context.Context) error
}

// setupTelemetry builds the providers from the standard OTEL_* variables (through the
// contrib autoexport package: OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER pick otlp,
// console or none; OTEL_EXPORTER_OTLP_* configure OTLP; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES the resource) and, with prometheus, a Prometheus exporter for
// -metrics-addr. An unset exporter variable means none here (the specification's default
// is otlp), so that the server runs without a collector. With neither traces nor metrics
// the providers are no-ops: they record nothing, but the library's HTTP instrumentation
// (otelhttp) still runs, so that a request's traceparent reaches the logs' trace_id; pass
// no providers and set no globals to skip it too.
func setupTelemetry(ctx context.Context, getenv func(string) string, prometheusOn bool) (*telemetry, error) {
	t := &telemetry{tp: tracenoop.NewTracerProvider(), mp: metricnoop.NewMeterProvider()}
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(serviceName(getenv))),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, err
	}
	if v := getenv("OTEL_TRACES_EXPORTER"); v != "" && v != "none" {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, err
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		t.tp = tp
		t.shutdown = append(t.shutdown, tp.Shutdown)
	}
	var readers []sdkmetric.Option
	if v := getenv("OTEL_METRICS_EXPORTER"); v != "" && v != "none" {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(r))
	}
	if prometheusOn {
		reg := prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return nil, err
		}
		readers = append(readers, sdkmetric.WithReader(exp))
		t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if len(readers) > 0 {
		mp := sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		t.mp = mp
		t.shutdown = append(t.shutdown, mp.Shutdown)
	}
	// The globals too, for what is instrumented without options (bun's pool gauges); W3C
	// trace context from a traced gateway in front of the API is continued.
	otel.SetTracerProvider(t.tp)
	otel.SetMeterProvider(t.mp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return t, nil
}

func serviceName(getenv func(string) string) string {
	if v := getenv("OTEL_SERVICE_NAME"); v != "" {
		return v
	}
	return "onboarding"
}

// close flushes and stops the exporters.
func (t *telemetry) close(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// untraced returns ctx under an unsampled span context, so that the database statements of
// a readiness probe do not each start a trace.
func untraced(ctx context.Context) context.Context {
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x72, 0x65, 0x61, 0x64, 0x79}, SpanID: trace.SpanID{0x72, 0x65, 0x61, 0x64, 0x79}}))
}
