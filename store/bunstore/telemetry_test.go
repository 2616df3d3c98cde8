package bunstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestInstrument: every statement of an instrumented database is a client span under the
// caller's span, named by its operation, with the statement as written and none of its
// values; its duration is in go.sql.query_timing by operation and table; a failed
// statement's span has the Error status and the SQLSTATE, never the driver's text (which
// on PostgreSQL quotes the offending value).
func TestInstrument(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			db := b.open(t)
			Instrument(db, &TelemetryOptions{TracerProvider: tp, MeterProvider: mp, DBName: "onboarding"})
			s := New(db, nil)

			ctx, parent := tp.Tracer("test").Start(ctx, "caller")
			c := testCustomer("p1", "telemetry")
			require.NoError(t, s.InsertCustomer(ctx, c))
			_, err := s.GetCustomer(ctx, "p1", c.ID)
			require.NoError(t, err)
			// PostgreSQL's error quotes the value it could not cast; SQLite has none for it.
			failing := map[string]string{"postgres": "SELECT CAST(? AS INTEGER)", "sqlite": "SELECT ? FROM no_such_table"}
			_, err = db.ExecContext(ctx, failing[b.name], c.Email)
			require.Error(t, err)
			parent.End()

			personal := []string{string(c.CPF), string(c.CNPJ), c.Name, c.Email, c.Phone}
			ops := map[string]int{}
			var failed sdktrace.ReadOnlySpan
			for _, sp := range spans.Ended() {
				if sp.Name() == "caller" {
					continue
				}
				ops[sp.Name()]++
				assert.Equal(t, parent.SpanContext().SpanID(), sp.Parent().SpanID(), "%s is the caller's child", sp.Name())
				attrs := attribute.NewSet(sp.Attributes()...)
				sys, _ := attrs.Value(attrDBSystem)
				assert.Equal(t, map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[b.name], sys.AsString())
				if b.name == "sqlite" { // PostgreSQL's driver sets the database's own name
					name, _ := attrs.Value(attrDBName)
					assert.Equal(t, "onboarding", name.AsString())
				}
				stmt, _ := attrs.Value(attrDBStatement)
				assert.NotEmpty(t, stmt.AsString(), sp.Name())
				for _, kv := range sp.Attributes() {
					for _, p := range personal {
						assert.NotContains(t, kv.Value.Emit(), p, "%s: %s", sp.Name(), kv.Key)
					}
				}
				for _, p := range personal {
					assert.NotContains(t, sp.Status().Description, p)
				}
				if sp.Status().Code == codes.Error {
					failed = sp
				}
			}
			assert.Positive(t, ops["INSERT"], "spans: %v", ops)
			assert.Positive(t, ops["SELECT"], "spans: %v", ops)
			require.NotNil(t, failed, "the failed statement's span has the Error status")
			failedAttrs := attribute.NewSet(failed.Attributes()...)
			typ, _ := failedAttrs.Value(attrErrorType)
			if b.name == "postgres" {
				assert.Contains(t, err.Error(), c.Email, "the driver's text quotes the value")
				assert.Equal(t, "22P02", typ.AsString(), "invalid_text_representation")
			} else {
				assert.Equal(t, "error", typ.AsString())
			}

			var rm metricdata.ResourceMetrics
			require.NoError(t, reader.Collect(ctx, &rm))
			var inserts bool
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if m.Name != "go.sql.query_timing" {
						continue
					}
					for _, dp := range m.Data.(metricdata.Histogram[int64]).DataPoints {
						op, _ := dp.Attributes.Value(attrDBOperation)
						inserts = inserts || op.AsString() == "INSERT" && dp.Count > 0
						for _, kv := range dp.Attributes.ToSlice() {
							assert.NotContains(t, []attribute.Key{attrDBStatement}, kv.Key, "no statement in a metric label")
						}
					}
				}
			}
			assert.True(t, inserts, "go.sql.query_timing has the INSERT")
			pool := map[string]bool{}
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					if g, ok := m.Data.(metricdata.Gauge[int64]); ok && len(g.DataPoints) > 0 {
						pool[m.Name] = true
						if m.Name == "go.sql.connections_max_open" {
							assert.Positive(t, g.DataPoints[0].Value)
						}
					}
				}
			}
			for _, name := range []string{"go.sql.connections_max_open", "go.sql.connections_open", "go.sql.connections_in_use", "go.sql.connections_idle"} {
				assert.True(t, pool[name], "%s reported", name)
			}
		})
	}
}
