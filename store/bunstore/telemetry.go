package bunstore

import (
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// TelemetryOptions configures Instrument. The zero value (or nil) uses the global
// OpenTelemetry providers.
type TelemetryOptions struct {
	// TracerProvider receives a span per statement. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider receives bun's go.sql.query_timing histogram. Default
	// otel.GetMeterProvider(). (The connection-pool gauges bunotel adds always go to
	// the global MeterProvider.)
	MeterProvider metric.MeterProvider
	// DBName is the db.name attribute of the spans; empty leaves it out.
	DBName string
}

// Instrument adds bun's OpenTelemetry query hook (bunotel) to db: every statement the
// Store runs becomes a client span under the caller's span (the Service call or the job
// that ran it), named by its operation (SELECT, INSERT, ...), with db.system and the
// statement as written, placeholders and all. The values are never recorded: they hold
// personal data. Call it once, before the database is used.
func Instrument(db *bun.DB, opts *TelemetryOptions) {
	if opts == nil {
		opts = &TelemetryOptions{}
	}
	hookOpts := []bunotel.Option{bunotel.WithFormattedQueries(false)}
	if opts.TracerProvider != nil {
		hookOpts = append(hookOpts, bunotel.WithTracerProvider(opts.TracerProvider))
	}
	if opts.MeterProvider != nil {
		hookOpts = append(hookOpts, bunotel.WithMeterProvider(opts.MeterProvider))
	}
	if opts.DBName != "" {
		hookOpts = append(hookOpts, bunotel.WithDBName(opts.DBName))
	}
	db.AddQueryHook(bunotel.NewQueryHook(hookOpts...))
}
