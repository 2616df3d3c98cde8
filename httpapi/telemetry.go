package httpapi

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/onboardkit/onboarding/internal/otelx"
)

// Telemetry says where the API's OpenTelemetry signals go: a server span per request
// (otelhttp), named by its method and route pattern ("POST /v3/customers"), the parent of
// the Service's spans; and otelhttp's http.server.request.duration histogram
// (http_server_request_duration_seconds in Prometheus) with the route as http.route. The
// request's trace context is read with the global propagator. With neither provider set
// here, otelhttp is skipped while OpenTelemetry's global providers and propagator are
// still its defaults, which would drop everything; it runs from the first request after
// the application sets one of them.
type Telemetry struct {
	// TracerProvider receives the request spans. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider receives the HTTP server metrics. Default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
}

// instrument wraps the API in otelhttp. The route is looked up before otelhttp starts its
// span (ServeMux sets r.Pattern only on the request it serves, which is a copy of the one
// otelhttp holds), so that the span and the metrics get it even when the request ends
// before routing: rate limited, unauthenticated or a panic.
func (a *api) instrument(t *Telemetry) http.Handler {
	if t == nil {
		t = &Telemetry{}
	}
	var opts []otelhttp.Option
	if t.TracerProvider != nil {
		opts = append(opts, otelhttp.WithTracerProvider(t.TracerProvider))
	}
	if t.MeterProvider != nil {
		opts = append(opts, otelhttp.WithMeterProvider(t.MeterProvider))
	}
	h := otelhttp.NewHandler(a, "httpapi", opts...)
	explicit := t.TracerProvider != nil || t.MeterProvider != nil
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The access log reads the route too, of requests that end before routing.
		if _, pattern := a.mux.Handler(r); pattern != "" && pattern != "/" {
			r = r.WithContext(r.Context())
			r.Pattern = pattern
		}
		if !explicit && otelx.Unset(r.Context()) {
			// Nothing would record or propagate: skip otelhttp's span, metric
			// attributes and body wrappers (asked per request, see otelx.Unset).
			a.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
