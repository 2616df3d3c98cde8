package onboarding

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/onboardkit/onboarding/internal/otelx"
	"github.com/onboardkit/onboarding/webhook"
)

// Telemetry: OpenTelemetry traces and metrics of the Service (docs/operations.md,
// "Observability"). Every exported call that does work opens a span (start/end below,
// one line at the top of each method); every job run is a span that continues the trace
// of the request that enqueued it (the W3C traceparent stored with the job); every
// webhook delivery attempt is a span with the HTTP client's span under it. Attributes
// and metric labels hold IDs, kinds and outcomes, never personal data: no CPF, name,
// email or phone, and error texts are redacted.

// InstrumentationName names the tracer and the meter of the Service.
const InstrumentationName = "github.com/onboardkit/onboarding"

// Attribute keys of the Service's spans and metrics.
const (
	attrPartnerID    = attribute.Key("onboarding.partner_id")
	attrCustomerID   = attribute.Key("onboarding.customer_id")
	attrJobID        = attribute.Key("onboarding.job.id")
	attrJobKind      = attribute.Key("onboarding.job.kind")
	attrJobAttempt   = attribute.Key("onboarding.job.attempt")
	attrJobOutcome   = attribute.Key("onboarding.job.outcome")
	attrDeliveryID   = attribute.Key("onboarding.webhook.delivery_id")
	attrEndpointID   = attribute.Key("onboarding.webhook.endpoint_id")
	attrEventType    = attribute.Key("onboarding.event.type")
	attrDeliveryTry  = attribute.Key("onboarding.webhook.attempt")
	attrOutcome      = attribute.Key("outcome")
	attrDecision     = attribute.Key("decision")
	attrReviewerKind = attribute.Key("reviewer_kind")
	attrKind         = attribute.Key("kind")
	attrState        = attribute.Key("state")
	attrErrorType    = attribute.Key("error.type")
)

// The outcomes of a job run (onboarding.job.outcome, and the outcome label of
// onboarding.job.duration).
const (
	jobOutcomeCompleted = "completed"
	jobOutcomeRetried   = "retried"
	jobOutcomeDead      = "dead"
)

// The outcomes of a webhook delivery attempt (the outcome label of
// onboarding.webhook.deliveries).
const (
	deliveryOutcomeDelivered = "delivered" // 2xx
	deliveryOutcomeFailed    = "failed"    // retried: another status, a timeout, a refused address
	deliveryOutcomeGone      = "gone"      // 410: the endpoint is disabled
	deliveryOutcomeRejected  = "rejected"  // not sent and never will be: a bad URL or secret
)

// durationBuckets are the histogram boundaries of job and delivery durations, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60}

// telemetry holds the Service's tracer and instruments.
type telemetry struct {
	tracer trace.Tracer

	registered       metric.Int64Counter
	creditDecisions  metric.Int64Counter
	kycReviews       metric.Int64Counter
	jobDuration      metric.Float64Histogram
	deliveries       metric.Int64Counter
	deliveryDuration metric.Float64Histogram
}

// newTelemetry builds the tracer and instruments from the providers (the global ones when
// nil) and registers the queue gauges, observed from s's Store at each collection.
func newTelemetry(s *Service, tp trace.TracerProvider, mp metric.MeterProvider) (*telemetry, error) {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(InstrumentationName)
	t := &telemetry{tracer: tp.Tracer(InstrumentationName)}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	t.registered, err = m.Int64Counter("onboarding.customers.registered", metric.WithUnit("{customer}"),
		metric.WithDescription("Customers registered (idempotent replays not counted)."))
	check(err)
	t.creditDecisions, err = m.Int64Counter("onboarding.credit.decisions", metric.WithUnit("{decision}"),
		metric.WithDescription("Credit decisions recorded, by the scorer's outcome (approve, decline)."))
	check(err)
	t.kycReviews, err = m.Int64Counter("onboarding.kyc.reviews", metric.WithUnit("{review}"),
		metric.WithDescription("KYC document reviews applied, by decision and reviewer kind (manual, reviewer, biometrics)."))
	check(err)
	t.jobDuration, err = m.Float64Histogram("onboarding.job.duration", metric.WithUnit("s"),
		metric.WithDescription("Run time of background jobs, by kind and outcome (completed, retried, dead)."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	t.deliveries, err = m.Int64Counter("onboarding.webhook.deliveries", metric.WithUnit("{attempt}"),
		metric.WithDescription("Webhook delivery attempts, by outcome (delivered, failed, gone, rejected)."))
	check(err)
	t.deliveryDuration, err = m.Float64Histogram("onboarding.webhook.delivery.duration", metric.WithUnit("s"),
		metric.WithDescription("Latency of webhook delivery attempts that reached the network, by outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	jobs, err := m.Int64ObservableGauge("onboarding.jobs", metric.WithUnit("{job}"),
		metric.WithDescription("Jobs in the store by kind and state (available, running, dead); completed jobs are not counted."))
	check(err)
	oldest, err := m.Float64ObservableGauge("onboarding.jobs.oldest_due_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest due job waiting for a worker, by kind (0 when none waits)."))
	check(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if _, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		return s.observeJobs(ctx, o, jobs, oldest)
	}, jobs, oldest); err != nil {
		return nil, err
	}
	return t, nil
}

// jobGaugeStates are the states onboarding.jobs reports, zero included.
var jobGaugeStates = []JobState{JobAvailable, JobRunning, JobDead}

// observeJobs reports the queue from the Store: every kind this Service works (and any
// other kind the store holds) in every live or dead state, zero included, so that series
// do not vanish when a queue drains.
func (s *Service) observeJobs(ctx context.Context, o metric.Observer, jobs metric.Int64ObservableGauge, oldest metric.Float64ObservableGauge) error {
	ctx, cancel := context.WithTimeout(untraced(ctx), 10*time.Second)
	defer cancel()
	now := s.clock()
	counts, err := s.store.CountJobs(ctx, now)
	if err != nil {
		return err
	}
	type group struct {
		kind  JobKind
		state JobState
	}
	byGroup := make(map[group]JobCount, len(counts))
	kinds := append([]JobKind(nil), s.kinds...)
	for _, c := range counts {
		if !containsKind(kinds, c.Kind) {
			kinds = append(kinds, c.Kind)
		}
		byGroup[group{c.Kind, c.State}] = c
	}
	for _, k := range kinds {
		kind := attrKind.String(string(k))
		for _, st := range jobGaugeStates {
			c := byGroup[group{k, st}]
			o.ObserveInt64(jobs, int64(c.Count), metric.WithAttributes(kind, attrState.String(string(st))))
		}
		age := 0.0
		if c := byGroup[group{k, JobAvailable}]; !c.OldestDue.IsZero() {
			age = max(now.Sub(c.OldestDue).Seconds(), 0)
		}
		o.ObserveFloat64(oldest, age, metric.WithAttributes(kind))
	}
	return nil
}

func containsKind(kinds []JobKind, k JobKind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// untraced returns ctx under a valid but unsampled span context, so that the store
// queries of a metric collection (a scrape every few seconds) do not each start a trace.
func untraced(ctx context.Context) context.Context {
	return trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x6f, 0x6e, 0x62}, SpanID: trace.SpanID{0x6f, 0x6e, 0x62}}))
}

// call is the span of one exported Service call.
type call struct{ span trace.Span }

// start opens the span of the Service call named method ("onboarding.<method>"). Every
// exported method that does work begins with
//
//	ctx, span := s.start(ctx, "Method", partnerID)
//	defer span.end(&err)
//
// with err its named error result.
func (s *Service) start(ctx context.Context, method, partnerID string) (context.Context, call) {
	ctx, sp := s.tel.tracer.Start(ctx, "onboarding."+method, trace.WithAttributes(attrPartnerID.String(partnerID)))
	return ctx, call{sp}
}

// end records *err (when not nil) and ends the span.
func (c call) end(err *error) {
	if err != nil && *err != nil {
		recordError(c.span, *err)
	}
	c.span.End()
}

// clientErrors are the errors that are the caller's business (a 4xx): recorded as the
// span's error.type, without marking the span failed.
var clientErrors = []struct {
	err  error
	name string
}{
	{ErrNotFound, "not_found"},
	{ErrInvalidInput, "invalid_input"},
	{ErrConflict, "conflict"},
	{ErrInvalidTransition, "invalid_transition"},
	{ErrDocumentNotRequired, "document_not_required"},
	{ErrUnsupportedFormat, "unsupported_format"},
	{ErrFileTooLarge, "file_too_large"},
	{ErrEmptyFile, "empty_file"},
	{ErrTruncatedFile, "truncated_file"},
}

// recordError sets error.type on sp and, for a failure of ours (anything but a client
// error), the Error status with the error's text, redacted (errors of drivers and
// plugins may quote values).
func recordError(sp trace.Span, err error) {
	for _, c := range clientErrors {
		if errors.Is(err, c.err) {
			sp.SetAttributes(attrErrorType.String(c.name))
			return
		}
	}
	typ := "internal"
	switch {
	case errors.Is(err, ErrConcurrentUpdate):
		typ = "concurrent_update"
	case errors.Is(err, context.Canceled):
		typ = "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		typ = "deadline_exceeded"
	}
	sp.SetAttributes(attrErrorType.String(typ))
	sp.SetStatus(codes.Error, redactPersonal(err.Error()))
}

var (
	// cpfLike matches what may be a CPF (11 digits, bare or formatted) or a CNPJ.
	cpfLike   = regexp.MustCompile(`\d{2,3}\.?\d{3}\.?\d{3}[-/]?\d{2,4}(-?\d{2})?`)
	emailLike = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+`)
	phoneLike = regexp.MustCompile(`\+\d[\d ()-]{7,}\d`)
)

// redactPersonal masks what may be a CPF, a CNPJ, an email address or a phone number in a
// text headed for a span. (A name cannot be recognised: plugins must keep them out of
// their errors, as docs/operations.md asks.)
func redactPersonal(s string) string {
	s = cpfLike.ReplaceAllString(s, "***")
	s = emailLike.ReplaceAllString(s, "***@***")
	return phoneLike.ReplaceAllString(s, "+***")
}

// ---- jobs ----

// jobRun is one run of a job: its span, its start and how it ended.
type jobRun struct {
	span    trace.Span
	kind    JobKind
	start   time.Time
	outcome string
}

type jobRunKey struct{}

// traceContext is the propagator of the trace context stored with jobs: W3C traceparent,
// whatever the application's global propagator is.
var traceContext propagation.TraceContext

// traceParent returns the W3C traceparent of ctx's span, or "" when it has none.
func traceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c["traceparent"]
}

// startJob opens the span of a job's run: a child of the span that enqueued the job when
// it has a trace context, so that a registration and its follow-up work are one trace.
func (s *Service) startJob(ctx context.Context, j *Job) (context.Context, *jobRun) {
	if j.TraceParent != "" {
		ctx = traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": j.TraceParent})
	}
	r := &jobRun{kind: j.Kind, start: time.Now(), outcome: jobOutcomeCompleted}
	attrs := []attribute.KeyValue{attrJobKind.String(string(j.Kind)), attrJobID.String(j.ID), attrJobAttempt.Int(j.Attempt)}
	if j.PartnerID != "" {
		attrs = append(attrs, attrPartnerID.String(j.PartnerID))
	}
	if j.CustomerID != "" {
		attrs = append(attrs, attrCustomerID.String(j.CustomerID))
	}
	ctx, r.span = s.tel.tracer.Start(ctx, "job "+string(j.Kind), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attrs...))
	return context.WithValue(ctx, jobRunKey{}, r), r
}

// setJobOutcome tells the run of ctx's job how it ended, when its handler rescheduled or
// killed the job itself (a webhook delivery does) instead of returning an error.
func setJobOutcome(ctx context.Context, outcome string) {
	if r, ok := ctx.Value(jobRunKey{}).(*jobRun); ok {
		r.outcome = outcome
	}
}

// end records the run's outcome (err is the handler's error, dead whether it killed the
// job) on its span and in onboarding.job.duration.
func (s *Service) endJob(ctx context.Context, r *jobRun, err error, dead bool) {
	if err != nil {
		r.outcome = jobOutcomeRetried
		if dead {
			r.outcome = jobOutcomeDead
		}
		recordError(r.span, err)
	}
	outcome := attrOutcome.String(r.outcome)
	r.span.SetAttributes(attrJobOutcome.String(r.outcome))
	r.span.End()
	s.tel.jobDuration.Record(ctx, time.Since(r.start).Seconds(), metric.WithAttributes(attrKind.String(string(r.kind)), outcome))
}

// ---- webhook deliveries ----

// startDelivery opens the span of one delivery attempt.
func (s *Service) startDelivery(ctx context.Context, d *Delivery, e *Event) (context.Context, trace.Span) {
	return s.tel.tracer.Start(ctx, "webhook.deliver", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attrPartnerID.String(d.PartnerID), attrDeliveryID.String(d.ID),
			attrEndpointID.String(d.EndpointID), attrEventType.String(string(e.Type)), attrDeliveryTry.Int(d.Attempts+1)))
}

// endDelivery records the attempt's outcome on sp and in the delivery metrics.
func (s *Service) endDelivery(ctx context.Context, sp trace.Span, res webhook.Result) {
	outcome := deliveryOutcomeFailed
	switch {
	case res.Delivered:
		outcome = deliveryOutcomeDelivered
	case res.Disable:
		outcome = deliveryOutcomeGone
	case res.Permanent:
		outcome = deliveryOutcomeRejected
	}
	attr := attrOutcome.String(outcome)
	sp.SetAttributes(attr)
	if res.StatusCode != 0 {
		sp.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	}
	if res.Err != nil {
		sp.SetStatus(codes.Error, redactPersonal(res.Err.Error()))
	}
	sp.End()
	opt := metric.WithAttributes(attr)
	s.tel.deliveries.Add(ctx, 1, opt)
	if res.StatusCode != 0 || res.Latency > 0 {
		s.tel.deliveryDuration.Record(ctx, res.Latency.Seconds(), opt)
	}
}

// instrumentTransport wraps the default webhook sender's transport with otelhttp: a client
// span per POST under the delivery's span, and the http.client metrics. No trace context
// is sent to receivers: they are other companies. Without providers in the Options,
// otelhttp is skipped while OpenTelemetry's global providers are still its defaults,
// which would drop all of it (otelx.Unset, asked per request): it cost webhook dispatch
// about 8 % of its rate for nothing.
func instrumentTransport(tp trace.TracerProvider, mp metric.MeterProvider) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		opts := []otelhttp.Option{otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator())}
		if tp != nil {
			opts = append(opts, otelhttp.WithTracerProvider(tp))
		}
		if mp != nil {
			opts = append(opts, otelhttp.WithMeterProvider(mp))
		}
		instrumented := otelhttp.NewTransport(rt, opts...)
		if tp != nil || mp != nil {
			return instrumented
		}
		return otelx.Transport{Plain: rt, Instrumented: instrumented}
	}
}

// ---- business metrics ----

// customerRegistered counts a registration.
func (s *Service) customerRegistered(ctx context.Context) { s.tel.registered.Add(ctx, 1) }

// creditDecided counts a recorded credit decision.
func (s *Service) creditDecided(ctx context.Context, outcome string) {
	s.tel.creditDecisions.Add(ctx, 1, metric.WithAttributes(attrOutcome.String(outcome)))
}

// The reviewer kinds of onboarding.kyc.reviews.
const (
	reviewerManual     = "manual"
	reviewerAutomated  = "reviewer"
	reviewerBiometrics = "biometrics"
)

// reviewerKind is the reviewer_kind of an automated review job.
func reviewerKind(k JobKind) string {
	if k == JobCheckSelfie {
		return reviewerBiometrics
	}
	return reviewerAutomated
}

// kycReviewed counts a review decision applied to a document.
func (s *Service) kycReviewed(ctx context.Context, decision, reviewerKind string) {
	s.tel.kycReviews.Add(ctx, 1, metric.WithAttributes(attrDecision.String(decision), attrReviewerKind.String(reviewerKind)))
}
