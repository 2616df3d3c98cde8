// Package otelx tells whether OpenTelemetry can record or propagate anything for a
// request, so that HTTP instrumentation fed only by the global providers is skipped while
// they are still OpenTelemetry's defaults, which drop everything.
package otelx

import (
	"context"
	"net/http"
	"reflect"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// globalPkg is where OpenTelemetry keeps its default global providers and propagator:
// delegates that record and propagate nothing until the application sets its own
// (otel.SetTracerProvider and friends), after which the getters return the
// application's.
const globalPkg = "go.opentelemetry.io/otel/internal/global"

// Unset reports whether nothing would record or propagate a request with context ctx:
// the global tracer provider, meter provider and text-map propagator are all still
// OpenTelemetry's defaults, and ctx carries no span of another provider (otelhttp traces
// under the provider of the span it finds in the request's context). It is asked per
// request, so an application that sets the globals later is served from then on. Should
// OpenTelemetry move its defaults, Unset reports false: the instrumentation then always
// runs, as before.
//
// OpenTelemetry's eBPF auto-instrumentation (go.opentelemetry.io/auto) records through
// the default tracer: under it, pass providers explicitly to keep otelhttp's spans.
func Unset(ctx context.Context) bool {
	return TelemetryUnset(ctx) && isDefault(otel.GetTextMapPropagator())
}

// TelemetryUnset is Unset without the propagator: for instrumentation that propagates
// nothing (the webhook sender sends no trace context to other companies).
func TelemetryUnset(ctx context.Context) bool {
	if sp := trace.SpanFromContext(ctx); sp.SpanContext().IsValid() && !isDefault(sp.TracerProvider()) {
		return false
	}
	return isDefault(otel.GetTracerProvider()) && isDefault(otel.GetMeterProvider())
}

func isDefault(v any) bool {
	t := reflect.TypeOf(v)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == globalPkg
}

// Transport sends through Instrumented, an otelhttp transport fed by the global providers
// that propagates nothing, or straight through Plain while TelemetryUnset: otelhttp costs
// a request its span, metric attributes and body wrappers even when all of them are
// dropped.
type Transport struct {
	Plain, Instrumented http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if TelemetryUnset(r.Context()) {
		return t.Plain.RoundTrip(r)
	}
	return t.Instrumented.RoundTrip(r)
}

// CloseIdleConnections closes Plain's idle connections (Instrumented wraps Plain).
func (t Transport) CloseIdleConnections() {
	if c, ok := t.Plain.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
