package onboarding

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// TraceLogHandler is a slog.Handler that adds the trace_id and span_id of the context's
// span to every record logged with a context that has one (the LogAttrs, InfoContext, ...
// calls), so that a log line leads to its trace and back. Records without a span pass
// through unchanged. Wrap the application's handler with NewTraceLogHandler and give the
// logger to Options.Logger and httpapi.Options.Logger.
type TraceLogHandler struct {
	next slog.Handler
}

// NewTraceLogHandler returns a TraceLogHandler in front of next.
func NewTraceLogHandler(next slog.Handler) *TraceLogHandler { return &TraceLogHandler{next: next} }

// Enabled implements slog.Handler.
func (h *TraceLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler: it adds trace_id and span_id when ctx has a valid span
// context.
func (h *TraceLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone() // the caller's record may share its attributes with others
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *TraceLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &TraceLogHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler. The trace IDs of a grouped logger's records land in
// the group.
func (h *TraceLogHandler) WithGroup(name string) slog.Handler {
	return &TraceLogHandler{next: h.next.WithGroup(name)}
}
