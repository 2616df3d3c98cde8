package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/schema"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// TelemetryOptions configures Instrument. The zero value (or nil) uses the global
// OpenTelemetry providers.
type TelemetryOptions struct {
	// TracerProvider receives a span per statement. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider receives the go.sql.query_timing histogram and the connection
	// pool's go.sql.connections_* gauges and counters. Default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// DBName is the db.name attribute of the spans and the histogram; empty leaves it
	// out.
	DBName string
}

// instrumentationName names the tracer and the meter of the statements' telemetry.
const instrumentationName = "github.com/onboardkit/onboarding/store/bunstore"

// The attribute keys of the statements' spans and metric, as OpenTelemetry's database
// semantic conventions (v1.20, the ones bun's own bunotel hook reports) name them.
const (
	attrDBSystem       = attribute.Key("db.system")
	attrDBName         = attribute.Key("db.name")
	attrDBOperation    = attribute.Key("db.operation")
	attrDBStatement    = attribute.Key("db.statement")
	attrDBTable        = attribute.Key("db.sql.table")
	attrDBRowsAffected = attribute.Key("db.rows_affected")
	attrErrorType      = attribute.Key("error.type")
)

// Instrument adds an OpenTelemetry query hook to db: every statement the Store runs
// becomes a client span under the caller's span (the Service call or the job that ran
// it), named by its operation (SELECT, INSERT, ..., BEGIN, COMMIT), with db.system,
// db.operation, db.sql.table, db.rows_affected and the statement as written,
// placeholders and all; and its duration goes to the go.sql.query_timing histogram (in
// milliseconds, by db.operation and db.sql.table), the names bun's bunotel hook uses.
// Values are never recorded, and neither is a driver's error text (PostgreSQL quotes the
// offending values in it): a failed statement's span gets the Error status and
// error.type, the SQLSTATE when the driver gives one. Call it once, before the database
// is used.
//
// A span is a query sent: on PostgreSQL, the insert of a registration's idempotency key
// travels in the customer insert's query (DeferredKeyInserter), so one INSERT span, the
// first statement's, covers both.
//
// The hook is this package's own rather than bunotel because it runs inside the Store's
// transactions, where every microsecond lengthens the time a row (or, on SQLite, the
// database) stays locked: it does not walk the stack for the caller's file and line, and
// its metric attributes are built once per operation and table.
func Instrument(db *bun.DB, opts *TelemetryOptions) {
	if opts == nil {
		opts = &TelemetryOptions{}
	}
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	h := &queryHook{tracer: tp.Tracer(instrumentationName)}
	switch db.Dialect().Name() {
	case dialect.PG:
		h.base = append(h.base, attrDBSystem.String("postgresql"))
	case dialect.SQLite:
		h.base = append(h.base, attrDBSystem.String("sqlite"))
	}
	if opts.DBName != "" {
		h.base = append(h.base, attrDBName.String(opts.DBName))
	}
	h.start = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(h.base...)}
	// The histogram is optional: an error here (a provider refusing the instrument)
	// leaves the spans working.
	meter := mp.Meter(instrumentationName)
	h.timing, _ = meter.Int64Histogram("go.sql.query_timing",
		metric.WithDescription("Timing of processed queries"), metric.WithUnit("ms"))
	_ = reportPoolStats(meter, db.DB, attribute.NewSet(h.base...))
	db.AddQueryHook(h)
}

// reportPoolStats registers the connection pool's gauges and counters, under the names
// bunotel's otelsql gives them (go.sql.connections_*), read from db.Stats at each
// collection.
func reportPoolStats(meter metric.Meter, db *sql.DB, attrs attribute.Set) error {
	gauge := func(name, desc string) metric.Int64ObservableGauge {
		g, _ := meter.Int64ObservableGauge(name, metric.WithDescription(desc))
		return g
	}
	counter := func(name, desc, unit string) metric.Int64ObservableCounter {
		c, _ := meter.Int64ObservableCounter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		return c
	}
	maxOpen := gauge("go.sql.connections_max_open", "Maximum number of open connections to the database")
	open := gauge("go.sql.connections_open", "The number of established connections both in use and idle")
	inUse := gauge("go.sql.connections_in_use", "The number of connections currently in use")
	idle := gauge("go.sql.connections_idle", "The number of idle connections")
	waitCount := counter("go.sql.connections_wait_count", "The total number of connections waited for", "")
	waitDuration := counter("go.sql.connections_wait_duration", "The total time blocked waiting for a new connection", "ns")
	_, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := db.Stats()
		opt := metric.WithAttributeSet(attrs)
		o.ObserveInt64(maxOpen, int64(st.MaxOpenConnections), opt)
		o.ObserveInt64(open, int64(st.OpenConnections), opt)
		o.ObserveInt64(inUse, int64(st.InUse), opt)
		o.ObserveInt64(idle, int64(st.Idle), opt)
		o.ObserveInt64(waitCount, st.WaitCount, opt)
		o.ObserveInt64(waitDuration, int64(st.WaitDuration), opt)
		return nil
	}, maxOpen, open, inUse, idle, waitCount, waitDuration)
	return err
}

// queryHook is Instrument's bun.QueryHook.
type queryHook struct {
	tracer trace.Tracer
	timing metric.Int64Histogram
	base   []attribute.KeyValue // db.system and db.name
	start  []trace.SpanStartOption
	sets   sync.Map // opTable → metric.MeasurementOption
}

type opTable struct{ op, table string }

var _ bun.QueryHook = (*queryHook)(nil)

func (h *queryHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	op := e.Operation()
	ctx, span := h.tracer.Start(ctx, op, h.start...)
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 3)
		attrs = append(attrs, attrDBOperation.String(op), attrDBStatement.String(statement(e)))
		if e.IQuery != nil {
			if table := e.IQuery.GetTableName(); table != "" {
				attrs = append(attrs, attrDBTable.String(table))
			}
		}
		span.SetAttributes(attrs...)
	}
	return ctx
}

func (h *queryHook) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	if h.timing != nil {
		table := ""
		if e.IQuery != nil {
			table = e.IQuery.GetTableName()
		}
		h.timing.Record(ctx, time.Since(e.StartTime).Milliseconds(), h.measurement(e.Operation(), table))
	}
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	defer span.End()
	if e.Result != nil {
		if n, err := e.Result.RowsAffected(); err == nil {
			span.SetAttributes(attrDBRowsAffected.Int64(n))
		}
	}
	if e.Err != nil && !errors.Is(e.Err, sql.ErrNoRows) && !errors.Is(e.Err, sql.ErrTxDone) {
		typ := "error"
		if code := sqlState(e.Err); code != "" {
			typ = code
		}
		span.SetAttributes(attrErrorType.String(typ))
		span.SetStatus(codes.Error, "statement failed: "+typ)
	}
}

// measurement is the histogram's attribute set of an operation on a table, built once.
func (h *queryHook) measurement(op, table string) metric.MeasurementOption {
	key := opTable{op, table}
	if m, ok := h.sets.Load(key); ok {
		return m.(metric.MeasurementOption)
	}
	attrs := append(append(make([]attribute.KeyValue, 0, len(h.base)+2), h.base...), attrDBOperation.String(op))
	if table != "" {
		attrs = append(attrs, attrDBTable.String(table))
	}
	m, _ := h.sets.LoadOrStore(key, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	return m.(metric.MeasurementOption)
}

// maxStatement bounds the db.statement attribute.
const maxStatement = 8000

// statement is the event's statement without its values: the query builder's rendering
// with placeholders, or the raw query as the Store wrote it (with its ? placeholders).
func statement(e *bun.QueryEvent) string {
	q := e.QueryTemplate
	if e.IQuery != nil {
		// A builder's template is its formatted query, values and all: render it again
		// with placeholders, or record nothing.
		q = ""
		if b, err := e.IQuery.AppendQuery(schema.NewNopQueryGen(), nil); err == nil {
			q = string(b)
		}
	}
	if len(q) > maxStatement {
		q = q[:maxStatement]
	}
	return q
}

// sqlState is the SQLSTATE of a PostgreSQL error ("23505"), "" for other errors.
func sqlState(err error) string {
	var pg interface{ Field(byte) string }
	if errors.As(err, &pg) {
		return pg.Field('C')
	}
	return ""
}
