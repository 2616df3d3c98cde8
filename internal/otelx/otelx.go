// Package otelx tells whether OpenTelemetry can record or propagate anything in this
// process, so that HTTP instrumentation fed only by the global providers is skipped while
// they are still OpenTelemetry's defaults, which drop everything.
package otelx

import (
	"net/http"
	"reflect"

	"go.opentelemetry.io/otel"
)

// globalPkg is where OpenTelemetry keeps its default global providers and propagator:
// delegates that record and propagate nothing until the application sets its own
// (otel.SetTracerProvider and friends), after which the getters return the
// application's.
const globalPkg = "go.opentelemetry.io/otel/internal/global"

// Unset reports whether the global tracer provider, meter provider and text-map
// propagator are all still OpenTelemetry's defaults. Callers ask it per request, so an
// application that sets them later is served from then on. Should OpenTelemetry move its
// defaults, Unset reports false: the instrumentation then always runs, as before.
func Unset() bool {
	return isDefault(otel.GetTracerProvider()) && isDefault(otel.GetMeterProvider()) &&
		isDefault(otel.GetTextMapPropagator())
}

func isDefault(v any) bool {
	t := reflect.TypeOf(v)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == globalPkg
}

// Transport sends through Instrumented, an otelhttp transport fed by the global providers,
// or straight through Plain while those are Unset: otelhttp costs a request its span,
// metric attributes and body wrappers even when all of them are dropped.
type Transport struct {
	Plain, Instrumented http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if Unset() {
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
